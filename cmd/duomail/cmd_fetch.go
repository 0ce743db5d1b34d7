package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/bytesize"
	"github.com/duomail/duomail/client/fetch"
	"github.com/duomail/duomail/client/mimepart"
	"github.com/duomail/duomail/client/termtext"
	"github.com/spf13/cobra"
)

type fetchOptions struct {
	app     *app
	ID      string
	Folder  string
	Headers bool
	Raw     bool
	Part    string
	SaveDir string
	Force   bool
	Peek    bool
	HTML    bool // --html: the HTML part where there is a plain one too
	JSON    bool // --json: the result as one JSON object
}

func newFetchCmd(a *app, runF func(context.Context, *fetchOptions) error) *cobra.Command {
	opts := &fetchOptions{app: a}
	var cmd *cobra.Command
	cmd = &cobra.Command{
		Use:         "fetch ID",
		Annotations: map[string]string{pagerAnnotation: "yes"},
		Short:       "Show a message, one of its parts, or save its attachments",
		Long: `Show a message: a short header block (From, To, Date, Subject) and its
readable text (the plain part, or the HTML part rendered as text). Only the
parts needed are fetched where the server allows (IMAP); a POP3 message is
downloaded whole into the local cache once.

Everything shown is cleaned of terminal control sequences; --raw writes
bytes exactly as stored instead. Reading marks the message seen unless
--peek (or --headers) is given.

  --headers              the full header block
  --raw                  the whole message, byte-exact (with --headers or
                         --part: that output, not cleaned)
  --part 1.2             one MIME part, decoded (numbering as IMAP; see the
                         "parts" tree of --json)
  --save-attachments DIR write every attachment into DIR (existing files are
                         kept unless --force)
  --html                 show the HTML part even where there is a plain one

HTML is rendered by the built-in renderer (tables as columns, links as
numbered references), or by the command html_filter names in the config
(e.g. "w3m -T text/html -dump"), fed the HTML on stdin.`,
		Args: exactArgs(1, "the message ID (from duomail list)"),
		RunE: a.runE(func(ctx context.Context, args []string) error {
			opts.ID, opts.JSON = args[0], a.flags.json
			modes := 0
			for _, set := range []bool{opts.Headers, opts.Part != "", opts.SaveDir != ""} {
				if set {
					modes++
				}
			}
			switch {
			case opts.SaveDir == "" && cmd.Flags().Changed("save-attachments"):
				// Empty (an unset variable in a script) would otherwise silently show the message instead of saving.
				return usageErrorf("--save-attachments needs a directory (got an empty one)")
			case modes > 1:
				return usageErrorf("choose one of --headers, --part and --save-attachments")
			case opts.Force && opts.SaveDir == "":
				return usageErrorf("--force goes with --save-attachments")
			case opts.Raw && opts.SaveDir != "":
				return usageErrorf("--raw does not apply to --save-attachments (files are always written as decoded bytes)")
			case opts.JSON && opts.Raw:
				return usageErrorf("--raw writes bytes; it cannot be combined with --json")
			case opts.HTML && (modes > 0 || opts.Raw):
				return usageErrorf("--html chooses the text shown; it does not go with --headers, --part, --save-attachments or --raw")
			case opts.JSON && opts.Part != "":
				return usageErrorf("--part writes the part itself; it cannot be combined with --json (see \"parts\" for the tree)")
			}
			if opts.Part != "" {
				if _, ok := client.ParsePartPath(opts.Part); !ok {
					return usageErrorf("--part %q: a part is numbered like 1 or 1.2", opts.Part)
				}
			}
			if runF != nil {
				return runF(ctx, opts)
			}
			return runFetch(ctx, opts)
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Folder, "folder", "f", "", "`folder` of the message (default INBOX)")
	f.BoolVar(&opts.Headers, "headers", false, "show the full header block")
	f.BoolVar(&opts.Raw, "raw", false, "write the message byte-exact, without cleaning")
	f.StringVar(&opts.Part, "part", "", "show one MIME part, decoded, numbered like `1.2`")
	f.StringVar(&opts.SaveDir, "save-attachments", "", "save the attachments into `DIR`")
	f.BoolVar(&opts.Force, "force", false, "with --save-attachments: overwrite existing files")
	f.BoolVar(&opts.Peek, "peek", false, "do not mark the message seen")
	f.BoolVar(&opts.HTML, "html", false, "show the HTML part where the message also has a plain one")
	return cmd
}

func runFetch(ctx context.Context, opts *fetchOptions) error {
	a := opts.app
	mb, err := a.mailbox(ctx)
	if err != nil {
		return err
	}
	msg, err := fetch.Open(ctx, mb, opts.Folder, opts.ID)
	if err != nil {
		return err
	}
	var warnings []string
	switch {
	case opts.Headers:
		err = fetchHeaders(ctx, opts, msg)
	case opts.Part != "":
		warnings, err = fetchPart(ctx, opts, msg)
	case opts.SaveDir != "":
		err = saveAttachments(ctx, opts, msg)
	case opts.Raw:
		err = msg.WriteRaw(ctx, a.out.rawWriter())
	default:
		warnings, err = fetchText(ctx, opts, msg)
	}
	for _, w := range warnings {
		a.warn(w)
	}
	if err != nil {
		return err
	}
	if !opts.Peek && !opts.Headers {
		// The message was shown; failing to record that is worth a
		// warning, not a failed command.
		if err := msg.MarkSeen(ctx); err != nil {
			a.warn("could not mark the message seen: " + errorMessage(err))
		}
	}
	return nil
}

func fetchText(ctx context.Context, opts *fetchOptions, msg *fetch.Message) ([]string, error) {
	a := opts.app
	env, tree, err := msg.Info(ctx)
	if err != nil {
		return nil, err
	}
	if msg.RenderHTML, err = a.htmlRenderer(); err != nil {
		return nil, err
	}
	msg.PreferHTML = opts.HTML
	outline := msg.Outline(tree)
	others := outline.OtherParts(tree)
	if opts.JSON {
		buf := &cappedBuffer{max: maxJSONText}
		warnings, err := msg.WriteText(ctx, buf)
		if err != nil {
			return warnings, err
		}
		if buf.cut {
			warnings = append(warnings, fmt.Sprintf("the text is longer than %s: --json shows its first %[1]s (fetch without --json shows all of it)", bytesize.Format(maxJSONText)))
		}
		text := buf.String()
		if others == nil {
			others = []fetch.ListedPart{}
		}
		return warnings, a.out.print(&fetchResult{EnvelopeJSON: env.JSON(), Parts: tree, Text: &text, Contents: &others})
	}
	if outline.Text == nil && len(outline.Forwarded) == 0 {
		return []string{"message has no text part; see its parts with --json or save attachments with --save-attachments"}, nil
	}
	if err := a.out.messageHeader(env); err != nil {
		return nil, err
	}
	w := a.out.textWriter()
	var warnings []string
	err = showOutline(ctx, a.out.format(), msg, outline, w, &warnings)
	if err == nil && len(others) > 0 {
		_, err = io.WriteString(w, "\n"+partsListing(others, a.out.width))
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return warnings, err
}

// showOutline writes a message's text and, fenced after it, each message
// forwarded in it with its own header block and text, recursively.
func showOutline(ctx context.Context, f *format, msg *fetch.Message, o fetch.Outline, w io.Writer, warnings *[]string) error {
	if o.Text != nil {
		nl := &endsWithNewline{w: w}
		warn, err := msg.WritePartText(ctx, o.Text, nl)
		*warnings = append(*warnings, warn...)
		if err == nil {
			err = nl.finish()
		}
		if err != nil {
			return err
		}
	}
	for _, fw := range o.Forwarded {
		path := termtext.Field(fw.Part.Path)
		if _, err := fmt.Fprintf(w, "\n---------- Forwarded message (part %s) ----------\n", path); err != nil {
			return err
		}
		if env := fw.Part.Envelope; env != nil {
			if _, err := io.WriteString(w, headerBlock(f, *env)+"\n"); err != nil {
				return err
			}
		}
		if fw.Text == nil && len(fw.Forwarded) == 0 {
			if _, err := io.WriteString(w, "(no text part)\n"); err != nil {
				return err
			}
		}
		if err := showOutline(ctx, f, msg, fw.Outline, w, warnings); err != nil {
			return err
		}
		if _, err := fmt.Fprintf(w, "---------- End of forwarded message (part %s) ----------\n", path); err != nil {
			return err
		}
	}
	return nil
}

func fetchHeaders(ctx context.Context, opts *fetchOptions, msg *fetch.Message) error {
	a := opts.app
	if opts.JSON {
		env, tree, err := msg.Info(ctx)
		if err != nil {
			return err
		}
		buf := &cappedBuffer{max: maxJSONHeader}
		if err := msg.WriteHeader(ctx, buf); err != nil {
			return err
		}
		if buf.cut {
			a.warn(fmt.Sprintf("the header is longer than %s: --json shows its first %[1]s (--headers without --json shows all of it)", bytesize.Format(maxJSONHeader)))
		}
		header := buf.String()
		return a.out.print(&fetchResult{EnvelopeJSON: env.JSON(), Parts: tree, Header: &header})
	}
	if opts.Raw {
		return msg.WriteHeader(ctx, a.out.rawWriter())
	}
	// Encoded words are decoded for a human; --raw keeps them.
	w := a.out.textWriter()
	hw := &mimepart.HeaderWordsWriter{W: w}
	err := msg.WriteHeader(ctx, hw)
	if cerr := hw.Close(); err == nil {
		err = cerr
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

func fetchPart(ctx context.Context, opts *fetchOptions, msg *fetch.Message) ([]string, error) {
	a := opts.app
	_, tree, err := msg.Info(ctx)
	if err != nil {
		return nil, err
	}
	p := tree.Find(opts.Part)
	if p == nil {
		return nil, fmt.Errorf("fetch %s: part %s: %w (the message has parts %s)", msg.ID, opts.Part, client.ErrNotFound, partList(tree))
	}
	var w io.Writer = a.out.rawWriter()
	var sw *termtext.Writer
	switch {
	case opts.Raw:
	case strings.HasPrefix(p.Type, "text/") || p.Type == "message/rfc822":
		sw = a.out.textWriter()
		w = sw
	case a.out.tty:
		return nil, usageErrorf("part %s is %s, which is not shown on a terminal: redirect it to a file, add --raw, or use --save-attachments", opts.Part, termtext.Field(p.Type))
	}
	var nl *endsWithNewline
	if sw != nil && a.out.tty {
		// The shell prompt must not follow the last word; piped, the
		// part's bytes stay exactly its own.
		nl = &endsWithNewline{w: w}
		w = nl
	}
	_, warnings, err := msg.WritePart(ctx, opts.Part, w)
	if nl != nil && err == nil {
		err = nl.finish()
	}
	if sw != nil {
		if cerr := sw.Close(); err == nil {
			err = cerr
		}
	}
	return warnings, err
}

// partList names the leaf parts of a tree, for a "no such part" message.
func partList(tree *client.Part) string {
	var paths []string
	tree.Walk(func(p *client.Part) bool {
		if !p.IsMultipart() && p.Path != "" {
			paths = append(paths, p.Path+" ("+p.Type+")")
		}
		return true
	})
	return termtext.Field(strings.Join(paths, ", "))
}

func saveAttachments(ctx context.Context, opts *fetchOptions, msg *fetch.Message) error {
	a := opts.app
	saved, err := msg.SaveAttachments(ctx, opts.SaveDir, opts.Force)
	if saved == nil && err != nil {
		return err // nothing was tried: the message or the folder failed
	}
	for _, s := range saved {
		if s.Error != "" && err != nil && s.Error != err.Error() {
			a.warn(s.Error) // the first failure is the command's error
		}
	}
	var result result = &savedResult{Saved: saved}
	if opts.JSON {
		env, tree, ierr := msg.Info(ctx)
		if ierr != nil {
			return ierr
		}
		if saved == nil {
			saved = []fetch.SavedAttachment{}
		}
		result = &fetchResult{EnvelopeJSON: env.JSON(), Parts: tree, Saved: &saved}
	}
	if perr := a.out.print(result); perr != nil {
		return perr
	}
	if err != nil {
		// What was saved is printed all the same, with the failures.
		return &exitStatus{code: exitCode(err), err: err}
	}
	return nil
}

// --json holds the text or header it prints in memory, several times over
// while encoding, so a hostile message's 100 MB header or body is cut to
// these sizes (with a warning); without --json both are streamed whole.
const (
	maxJSONHeader = mimepart.MaxHeaderBytes // what the parser reads of a header, too
	maxJSONText   = 4 << 20
)

// cappedBuffer keeps the first max bytes written and notes whether more came.
type cappedBuffer struct {
	bytes.Buffer
	max int
	cut bool
}

func (c *cappedBuffer) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); len(p) > room {
		c.cut = true
		c.Buffer.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return c.Buffer.Write(p)
}

// endsWithNewline passes text through and adds a final newline when the
// text lacked one, so the shell prompt does not follow the last word.
type endsWithNewline struct {
	w    io.Writer
	last byte
}

func (e *endsWithNewline) Write(p []byte) (int, error) {
	if len(p) > 0 {
		e.last = p[len(p)-1]
	}
	return e.w.Write(p)
}

func (e *endsWithNewline) finish() error {
	if e.last != 0 && e.last != '\n' {
		_, err := e.w.Write([]byte{'\n'})
		return err
	}
	return nil
}
