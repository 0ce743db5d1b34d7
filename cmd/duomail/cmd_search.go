package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/query"
	"github.com/duomail/duomail/client/thread"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

type searchOptions struct {
	app        *app
	Query      query.Node
	QueryText  string
	Folder     string
	AllFolders bool
	Offline    bool
	Limit      int
	Offset     int
	Sort       string
	Reverse    bool
	Thread     bool
	limitSet   bool
}

const searchHelp = `Find messages with a query; print them as list does.

An IMAP server searches itself: the query becomes one UID SEARCH and only
the envelopes of the hits are fetched. POP3 mail is synced into the local
cache first and searched there, in its full-text index; --offline searches
the cache of either protocol without connecting.

Query language (terms side by side must all match):
  carol  "quarterly report"   a word or phrase anywhere (headers or text)
  from:  to:  cc:  subject:  body:   a word or "a phrase" in that place
  is:unread  is:read  is:flagged  is:unflagged  is:answered  is:draft
  has:attachment
  after:DATE  since:DATE   on or after that day
  before:DATE              before that day
  date:A..B                from A to B, both days included (date:A..  date:..B  date:DAY)
                           DATE is 2026-03-01, today, yesterday, or a count
                           back: 7d (days) 2w (weeks) 3m (months) 1y; in the
                           local time zone
  larger:SIZE  smaller:SIZE   500k, 2M, 1G, or bytes
  a OR b                   either (binds tighter than side by side)
  -term  NOT term          negation
  ( ... )                  grouping
Matching ignores case; accents are ignored where the engine allows (the
local index always, IMAP servers differ: see the README).

Flags go before the query; after the first query word a "-word" is a
negation, so is a "-word" that is not one of search's flags.`

const searchExamples = `  duomail search carol
  duomail search from:alice subject:"big news"
  duomail search 'from:ann OR from:bob' after:7d
  duomail search has:attachment larger:2M -is:read
  duomail search date:2026-03-01..2026-03-31 --all-folders --sort size
  duomail search --offline body:März --json`

func newSearchCmd(a *app, runF func(context.Context, *searchOptions) error) *cobra.Command {
	opts := &searchOptions{app: a}
	var cmd *cobra.Command
	cmd = &cobra.Command{
		Use:     "search QUERY...",
		Short:   "Find messages (one query language for IMAP and POP3)",
		Long:    searchHelp,
		Example: searchExamples,
		Args:    needArgs(1, "query (try: duomail search from:alice)"),
		RunE: a.runE(func(ctx context.Context, args []string) error {
			if opts.Limit < 0 {
				return usageErrorf("--limit must be 0 (all) or more")
			}
			if opts.Offset < 0 {
				return usageErrorf("--offset must be 0 or more")
			}
			if opts.AllFolders && opts.Folder != "" {
				return usageErrorf("--folder and --all-folders exclude each other")
			}
			if err := checkSort(opts.Sort); err != nil {
				return err
			}
			opts.QueryText = query.JoinArgs(args)
			q, err := query.Parse(opts.QueryText, time.Now(), time.Local)
			if err != nil {
				return queryUsageError(err)
			}
			opts.Query = q
			opts.limitSet = cmd.Flags().Changed("limit")
			if runF != nil {
				return runF(ctx, opts)
			}
			return runSearch(ctx, opts)
		}),
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Folder, "folder", "f", "", "`folder` to search (default INBOX)")
	f.BoolVar(&opts.AllFolders, "all-folders", false, "search every folder")
	f.BoolVar(&opts.Offline, "offline", false, "search the local cache, without connecting")
	f.IntVar(&opts.Limit, "limit", 50, "show at most `N` messages; 0 shows all")
	f.IntVar(&opts.Offset, "offset", 0, "skip the first `N` matches")
	f.StringVar(&opts.Sort, "sort", "", "order by `KEY`: date (default), arrival, from, subject or size")
	f.BoolVar(&opts.Reverse, "reverse", false, "reverse the order")
	f.BoolVar(&opts.Thread, "thread", false, "group the hits shown into conversations (by Message-ID, In-Reply-To, References)")
	return cmd
}

// threadCell indents a subject under its parent for a person; piped
// output keeps the subject as it is (--json has the depth).
func threadCell(c cell, depth int) cell {
	if depth == 0 {
		return c
	}
	return func(f *format) string {
		if !f.tty {
			return c(f)
		}
		return strings.Repeat("  ", depth-1) + "└ " + c(f)
	}
}

// queryError is a query that could not be read: a usage error whose
// message is followed by the query with a caret under the place.
type queryError struct {
	usageError
	caret string
}

func queryUsageError(err error) error {
	qe := &queryError{usageError: usageError{fmt.Errorf("query: %w", err)}}
	var pe *query.Error
	if errors.As(err, &pe) {
		qe.caret = pe.Caret()
	}
	return qe
}

func checkSort(key string) error {
	switch client.SortKey(key) {
	case "", client.SortDate, client.SortArrival, client.SortFrom, client.SortSubject, client.SortSize:
		return nil
	}
	return usageErrorf("--sort %q: want date, arrival, from, subject or size", key)
}

func runSearch(ctx context.Context, opts *searchOptions) error {
	mb, err := opts.app.mailbox(ctx)
	if err != nil {
		return err
	}
	bar := opts.app.newProgress()
	page, err := mb.Search(ctx, client.SearchRequest{
		Query:      opts.Query,
		Folder:     opts.Folder,
		AllFolders: opts.AllFolders,
		Offline:    opts.Offline,
		Limit:      opts.Limit,
		Offset:     opts.Offset,
		Sort:       client.SortKey(opts.Sort),
		Reverse:    opts.Reverse,
		Progress:   bar.callback(),
	})
	bar.done()
	if err != nil {
		return err
	}
	res := &searchResult{Query: query.Format(opts.Query), Total: page.Total, allFolders: opts.AllFolders}
	if opts.Thread {
		for _, n := range thread.Build(page.Envelopes) {
			d := n.Depth
			res.Messages = append(res.Messages, searchHit{EnvelopeJSON: n.Envelope.JSON(), Thread: n.Thread, Depth: &d})
			res.envs = append(res.envs, n.Envelope)
			res.depths = append(res.depths, d)
		}
	} else {
		for _, e := range page.Envelopes {
			res.Messages = append(res.Messages, searchHit{EnvelopeJSON: e.JSON()})
		}
		res.envs = page.Envelopes
	}
	if !opts.AllFolders {
		res.Folder = client.FolderName(opts.Folder)
	}
	opts.app.cutNotice(len(page.Envelopes), page.Total, opts.Offset, opts.limitSet, opts.Limit)
	return opts.app.out.print(res)
}

// cutNotice tells a terminal user that the default limit cut the output
// short, and how to see everything.
func (a *app) cutNotice(shown, total, offset int, limitSet bool, limit int) {
	if limitSet || limit == 0 || a.flags.json || !a.io.outTTY || total < 0 || offset+shown >= total || shown < limit {
		return
	}
	a.notice(fmt.Sprintf("%d of %d shown; --limit 0 for all", shown, total))
}

// searchResult: duomail search. The messages carry their folder, so
// --all-folders hits say where they are.
type searchResult struct {
	Query    string      `json:"query"`
	Folder   string      `json:"folder,omitempty"` // absent with --all-folders
	Total    int         `json:"total"`            // matches before --offset and --limit; -1 unknown
	Messages []searchHit `json:"messages"`
	jsonStats
	allFolders bool
	envs       []client.Envelope
	depths     []int // with --thread: each row's depth in its conversation
}

// searchHit is an envelope as list writes it, and with --thread the
// conversation it belongs to and how deep in it.
type searchHit struct {
	client.EnvelopeJSON
	Thread string `json:"thread,omitempty"`
	Depth  *int   `json:"depth,omitempty"`
}

func (r *searchResult) jsonObject() any {
	if r.Messages == nil {
		r.Messages = []searchHit{}
	}
	return r
}

func (r *searchResult) table() table {
	empty := "no messages match " + r.Query
	if r.Folder != "" {
		empty += " in " + r.Folder
	}
	t := envelopeTable(r.envs, r.allFolders, empty)
	if r.depths != nil {
		col := 3 // SUBJECT
		if r.allFolders {
			col++
		}
		for i, row := range t.rows {
			row[col] = threadCell(row[col], r.depths[i])
		}
	}
	return t
}

// searchNegations lets a query say "-from:bob" on the command line: for the
// search command, an argument with one dash and more than one letter after
// it is a negated term, not a cluster of short flags (which would read
// "-from:bob" as -f "rom:bob"). It becomes the two arguments NOT, from:bob.
// A value after a flag that takes one is left alone.
func searchNegations(root *cobra.Command, args []string) []string {
	c, _, err := root.Find(args)
	if err != nil || c.Name() != "search" {
		return args
	}
	start := -1
	for i, a := range args {
		if a == "search" {
			start = i
			break
		}
	}
	if start < 0 {
		return args
	}
	out := append([]string(nil), args[:start+1]...)
	for i := start + 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			out = append(out, args[i:]...)
			break
		}
		if takesValue(c, a) && i+1 < len(args) {
			out = append(out, a, args[i+1])
			i++
			continue
		}
		if len(a) > 2 && a[0] == '-' && a[1] != '-' {
			out = append(out, "NOT", a[1:])
			continue
		}
		out = append(out, a)
	}
	return out
}

// takesValue reports whether arg is a flag of c given without "=" whose
// value is the next argument.
func takesValue(c *cobra.Command, arg string) bool {
	var fl *pflag.Flag
	switch {
	case strings.HasPrefix(arg, "--") && !strings.Contains(arg, "="):
		fl = c.Flags().Lookup(arg[2:])
		if fl == nil {
			fl = c.InheritedFlags().Lookup(arg[2:])
		}
	case len(arg) == 2 && arg[0] == '-':
		fl = c.Flags().ShorthandLookup(arg[1:])
		if fl == nil {
			fl = c.InheritedFlags().ShorthandLookup(arg[1:])
		}
	}
	return fl != nil && fl.NoOptDefVal == ""
}
