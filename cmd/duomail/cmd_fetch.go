package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/duomail/duomail/client"
	"github.com/spf13/cobra"
)

type fetchOptions struct {
	folder  string
	headers bool
	raw     bool
	part    string
	saveDir string
	force   bool
	peek    bool
}

func newFetchCmd(a *app) *cobra.Command {
	var o fetchOptions
	cmd := &cobra.Command{
		Use:   "fetch ID",
		Short: "Show a message, one of its parts, or save its attachments",
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
                         kept unless --force)`,
		Args: exactArgs(1, "the message ID (from duomail list)"),
		RunE: a.runE(func(ctx context.Context, args []string) error {
			return a.fetch(ctx, args[0], o)
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&o.folder, "folder", "f", "", "`folder` of the message (default INBOX)")
	f.BoolVar(&o.headers, "headers", false, "show the full header block")
	f.BoolVar(&o.raw, "raw", false, "write the message byte-exact, without cleaning")
	f.StringVar(&o.part, "part", "", "show one MIME part, decoded, numbered like `1.2`")
	f.StringVar(&o.saveDir, "save-attachments", "", "save the attachments into `DIR`")
	f.BoolVar(&o.force, "force", false, "with --save-attachments: overwrite existing files")
	f.BoolVar(&o.peek, "peek", false, "do not mark the message seen")
	return cmd
}

func (a *app) fetch(ctx context.Context, id string, o fetchOptions) error {
	modes := 0
	for _, set := range []bool{o.headers, o.part != "", o.saveDir != ""} {
		if set {
			modes++
		}
	}
	switch {
	case modes > 1:
		return usageErrorf("choose one of --headers, --part and --save-attachments")
	case o.force && o.saveDir == "":
		return usageErrorf("--force goes with --save-attachments")
	case o.raw && o.saveDir != "":
		return usageErrorf("--raw does not apply to --save-attachments (files are always written as decoded bytes)")
	case a.flags.json && o.raw:
		return usageErrorf("--raw writes bytes; it cannot be combined with --json")
	case a.flags.json && o.part != "":
		return usageErrorf("--part writes the part itself; it cannot be combined with --json (see \"parts\" for the tree)")
	}
	if o.part != "" {
		if _, ok := client.ParsePartPath(o.part); !ok {
			return usageErrorf("--part %q: a part is numbered like 1 or 1.2", o.part)
		}
	}

	mb, err := a.mailbox(ctx)
	if err != nil {
		return err
	}
	msg, err := mb.Message(ctx, o.folder, id)
	if err != nil {
		return err
	}
	var warnings []string
	switch {
	case o.headers:
		err = a.fetchHeaders(ctx, msg, o)
	case o.part != "":
		warnings, err = a.fetchPart(ctx, msg, o)
	case o.saveDir != "":
		err = a.saveAttachments(ctx, msg, o)
	case o.raw:
		err = msg.WriteRaw(ctx, a.out.rawWriter())
	default:
		warnings, err = a.fetchText(ctx, msg)
	}
	for _, w := range warnings {
		a.warn(w)
	}
	if err != nil {
		return err
	}
	if !o.peek && !o.headers {
		// The message was shown; failing to record that is worth a
		// warning, not a failed command.
		if err := msg.MarkSeen(ctx); err != nil {
			a.warn("could not mark the message seen: " + errorMessage(err))
		}
	}
	return nil
}

func (a *app) fetchText(ctx context.Context, msg *client.Message) ([]string, error) {
	env, tree, err := msg.Info(ctx)
	if err != nil {
		return nil, err
	}
	if a.flags.json {
		buf := &cappedBuffer{max: maxJSONText}
		warnings, err := msg.WriteText(ctx, buf)
		if err != nil {
			return warnings, err
		}
		if buf.cut {
			warnings = append(warnings, fmt.Sprintf("the text is longer than %s: --json shows its first %[1]s (fetch without --json shows all of it)", humanSize(maxJSONText, false)))
		}
		text := buf.String()
		return warnings, a.out.print(&fetchResult{Envelope: env, Parts: tree, Text: &text})
	}
	if err := a.out.messageHeader(env); err != nil {
		return nil, err
	}
	w := a.out.textWriter()
	nl := &endsWithNewline{w: w}
	warnings, err := msg.WriteText(ctx, nl)
	if err == nil {
		err = nl.finish()
	}
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return warnings, err
}

func (a *app) fetchHeaders(ctx context.Context, msg *client.Message, o fetchOptions) error {
	if a.flags.json {
		env, tree, err := msg.Info(ctx)
		if err != nil {
			return err
		}
		buf := &cappedBuffer{max: maxJSONHeader}
		if err := msg.WriteHeader(ctx, buf); err != nil {
			return err
		}
		if buf.cut {
			a.warn(fmt.Sprintf("the header is longer than %s: --json shows its first %[1]s (--headers without --json shows all of it)", humanSize(maxJSONHeader, false)))
		}
		header := buf.String()
		return a.out.print(&fetchResult{Envelope: env, Parts: tree, Header: &header})
	}
	if o.raw {
		return msg.WriteHeader(ctx, a.out.rawWriter())
	}
	w := a.out.textWriter()
	err := msg.WriteHeader(ctx, w)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	return err
}

func (a *app) fetchPart(ctx context.Context, msg *client.Message, o fetchOptions) ([]string, error) {
	_, tree, err := msg.Info(ctx)
	if err != nil {
		return nil, err
	}
	p := tree.Find(o.part)
	if p == nil {
		return nil, fmt.Errorf("fetch %s: part %s: %w (the message has parts %s)", msg.ID, o.part, client.ErrNotFound, partList(tree))
	}
	var w io.Writer = a.out.rawWriter()
	var sw *sanitizeWriter
	switch {
	case o.raw:
	case strings.HasPrefix(p.Type, "text/") || p.Type == "message/rfc822":
		sw = a.out.textWriter()
		w = sw
	case a.out.tty:
		return nil, usageErrorf("part %s is %s, which is not shown on a terminal: redirect it to a file, add --raw, or use --save-attachments", o.part, sanitizeField(p.Type))
	}
	_, warnings, err := msg.WritePart(ctx, o.part, w)
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
	return sanitizeField(strings.Join(paths, ", "))
}

func (a *app) saveAttachments(ctx context.Context, msg *client.Message, o fetchOptions) error {
	saved, err := msg.SaveAttachments(ctx, o.saveDir, o.force)
	for _, s := range saved {
		if s.Error != "" && err != nil && s.Error != err.Error() {
			a.warn(s.Error) // the first failure is the command's error
		}
	}
	if a.flags.json {
		env, tree, ierr := msg.Info(ctx)
		if ierr != nil {
			return ierr
		}
		if saved == nil {
			saved = []client.SavedAttachment{}
		}
		if perr := a.out.print(&fetchResult{Envelope: env, Parts: tree, Saved: &saved}); perr != nil {
			return perr
		}
		return err
	}
	if perr := a.out.print(&savedResult{Saved: saved}); perr != nil {
		return perr
	}
	return err
}

// --json holds the text or header it prints in memory, several times over
// while encoding, so a hostile message's 100 MB header or body is cut to
// these sizes (with a warning); without --json both are streamed whole.
const (
	maxJSONHeader = client.MaxHeaderBytes // what the parser reads of a header, too
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
