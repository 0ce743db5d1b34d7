package main

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/bytesize"
	"github.com/duomail/duomail/client/fetch"
	"github.com/duomail/duomail/client/termtext"
	"github.com/duomail/duomail/client/textlayout"
)

// printer is the one place that turns results into output. Commands build
// a result (views.go) and hand it over; they never format by hand.
//
// Three forms:
//   - stdout is a terminal: an aligned table with a header, local dates
//     ("2006-01-02 15:04"), human sizes ("12 KB"), compact flags.
//   - stdout is not a terminal: tab-separated values, one record per line,
//     no header, RFC 3339 dates, sizes in bytes, flags by name.
//   - --json: one JSON object per run, written when the command ends, so
//     the wire statistics (--stats) can join it as its "stats" field.
//
// Every string from a server is sanitised on the way (client/termtext);
// JSON is escaped instead (writeJSON).
type printer struct {
	out io.Writer
	raw io.Writer // for --raw, when out converts text for the terminal; nil: out
	tty bool      // stdout is a terminal
	// bold: the terminal shows bold (a colour terminal, no NO_COLOR).
	bold  bool
	width int // terminal columns; 0 when unknown
	json  bool
	loc   *time.Location

	notice func(string) // informational line on stderr (silenced by --quiet)

	pending result // the JSON result, held until finish
}

// A result is what a command hands to the printer.
type result interface {
	// jsonObject is the value --json prints: always an object, with a
	// "stats" field (see jsonStats) for --stats.
	jsonObject() any
}

// A tableResult is shown as rows.
type tableResult interface {
	result
	table() table
}

// A sentenceResult is shown as one line saying what was done.
type sentenceResult interface {
	result
	sentence(f *format) string
}

// A layoutResult lays itself out on a terminal, where a plain table does
// not suit it (cells of several lines, a header block), and gives its
// records for the piped form.
type layoutResult interface {
	result
	// layout is the terminal form for a terminal width columns wide.
	layout(f *format, width int) string
	// records are the piped form: one TSV line each.
	records(f *format) [][]string
}

// format renders values for the current output form.
type format struct {
	tty bool
	loc *time.Location
}

// text is a server string for one field or line.
func (f *format) text(s string) string { return termtext.Field(s) }

func (f *format) date(t time.Time) string {
	if t.IsZero() {
		if f.tty {
			return "-"
		}
		return ""
	}
	if f.tty {
		return t.In(f.loc).Format("2006-01-02 15:04")
	}
	return t.Format(time.RFC3339)
}

func (f *format) size(n int64) string {
	if f.tty {
		return bytesize.Format(n)
	}
	return fmt.Sprint(n)
}

// flags renders message flags: on a terminal one letter each (N not seen,
// A answered, F flagged, D draft, X deleted, @ has attachments), piped the
// flag names joined by commas with "attachment" added.
func (f *format) flags(flags []client.Flag, attachments bool) string {
	if f.tty {
		var b strings.Builder
		if !client.HasFlag(flags, client.FlagSeen) {
			b.WriteByte('N')
		}
		for _, c := range []struct {
			flag   client.Flag
			letter byte
		}{{client.FlagAnswered, 'A'}, {client.FlagFlagged, 'F'}, {client.FlagDraft, 'D'}, {client.FlagDeleted, 'X'}} {
			if client.HasFlag(flags, c.flag) {
				b.WriteByte(c.letter)
			}
		}
		if attachments {
			b.WriteByte('@')
		}
		return b.String()
	}
	names := make([]string, 0, len(flags)+1)
	for _, fl := range flags {
		names = append(names, termtext.Field(string(fl)))
	}
	if attachments {
		names = append(names, "attachment")
	}
	return strings.Join(names, ",")
}

func (f *format) yes(b bool) string {
	switch {
	case f.tty && b:
		return "yes"
	case f.tty:
		return ""
	}
	return fmt.Sprint(b)
}

// cell is one table field, rendered for the current form.
type cell func(f *format) string

func textCell(s string) cell    { return func(f *format) string { return f.text(s) } }
func numCell(n int) cell        { return func(*format) string { return fmt.Sprint(n) } }
func sizeCell(n int64) cell     { return func(f *format) string { return f.size(n) } }
func dateCell(t time.Time) cell { return func(f *format) string { return f.date(t) } }
func boolCell(b bool) cell      { return func(f *format) string { return f.yes(b) } }

// subjectCell shows a missing subject to a person as "(no subject)"; piped
// output keeps it empty, as the message has none.
func subjectCell(s string) cell {
	return func(f *format) string {
		if f.tty && strings.TrimSpace(s) == "" {
			return "(no subject)"
		}
		return f.text(s)
	}
}
func flagsCell(fl []client.Flag, att bool) cell {
	return func(f *format) string { return f.flags(fl, att) }
}

// column describes one table column. Flexible columns are shortened to fit
// the terminal; the others never are.
type column struct {
	title string
	flex  bool
}

type table struct {
	cols  []column
	rows  [][]cell
	empty string // said on stderr, on a terminal, when there are no rows
	// strong marks rows shown in bold on a terminal that can (unseen mail).
	strong []bool
}

func (p *printer) format() *format { return &format{tty: p.tty, loc: p.loc} }

// print shows a result now, or keeps it for finish with --json.
func (p *printer) print(r result) error {
	if p.json {
		p.pending = r
		return nil
	}
	switch r := r.(type) {
	case layoutResult:
		f := p.format()
		if !p.tty {
			return p.writeTSV(r.records(f))
		}
		width := p.width
		if width <= 0 {
			width = defaultWidth
		}
		_, err := io.WriteString(p.out, r.layout(f, width))
		return err
	case tableResult:
		return p.writeTable(r.table())
	case sentenceResult:
		_, err := fmt.Fprintln(p.out, r.sentence(p.format()))
		return err
	}
	return fmt.Errorf("printer: cannot show %T", r)
}

func (p *printer) writeTable(t table) error {
	f := p.format()
	rendered := make([][]string, len(t.rows))
	for i, row := range t.rows {
		rendered[i] = make([]string, len(row))
		for j, c := range row {
			rendered[i][j] = c(f)
		}
	}
	if !p.tty {
		return p.writeTSV(rendered)
	}
	if len(rendered) == 0 {
		if t.empty != "" && p.notice != nil {
			p.notice(t.empty)
		}
		return nil
	}
	header := make([]string, len(t.cols))
	for i, c := range t.cols {
		header[i] = c.title
	}
	flex := make([]bool, len(t.cols))
	for i, c := range t.cols {
		flex[i] = c.flex
	}
	textlayout.Fit(header, rendered, flex, columnGap, minFlexWidth, p.width)
	out := textlayout.Align(append([][]string{header}, rendered...), columnGap)
	if p.bold && slices.Contains(t.strong, true) {
		// Cells are clean of escapes; these are added after aligning,
		// so they take no width.
		lines := strings.SplitAfter(out, "\n")
		for i, strong := range t.strong {
			if strong && i+1 < len(lines) {
				lines[i+1] = "\x1b[1m" + strings.TrimSuffix(lines[i+1], "\n") + "\x1b[0m\n"
			}
		}
		out = strings.Join(lines, "")
	}
	_, err := io.WriteString(p.out, out)
	return err
}

// writeTSV writes records as tab-separated lines. Fields are already
// sanitised for one line, so they hold no tab or newline.
func (p *printer) writeTSV(rows [][]string) error {
	var b bytes.Buffer
	for _, row := range rows {
		b.WriteString(strings.Join(row, "\t"))
		b.WriteByte('\n')
	}
	_, err := p.out.Write(b.Bytes())
	return err
}

// defaultWidth is assumed for a terminal whose width is unknown.
const defaultWidth = 100

const (
	columnGap    = 2
	minFlexWidth = 10
)

// messageHeader shows the short header block fetch prints before the text.
func (p *printer) messageHeader(env client.Envelope) error {
	_, err := io.WriteString(p.out, headerBlock(p.format(), env)+"\n")
	return err
}

// headerBlock is a message's short header: From, To, Cc, Reply-To (only
// where it differs from From), Date and Subject, one line each, cleaned.
func headerBlock(f *format, env client.Envelope) string {
	var b strings.Builder
	line := func(name, value string) {
		fmt.Fprintf(&b, "%-8s %s\n", name+":", f.text(value))
	}
	line("From", env.From)
	if len(env.To) > 0 {
		line("To", strings.Join(env.To, ", "))
	}
	if len(env.Cc) > 0 {
		line("Cc", strings.Join(env.Cc, ", "))
	}
	if len(env.ReplyTo) > 0 {
		line("Reply-To", strings.Join(env.ReplyTo, ", "))
	}
	b.WriteString("Date:    " + f.date(env.Date) + "\n")
	line("Subject", env.Subject)
	return b.String()
}

// partsListing lists the parts fetch does not show as text, one line
// each: "[2]  résumé.pdf  application/pdf  ~120 KB  attachment", the name
// shortened to fit width. "~" marks a size estimated from the encoded one.
func partsListing(parts []fetch.ListedPart, width int) string {
	rows := make([][]string, 0, len(parts))
	for _, lp := range parts {
		name := lp.Filename
		if name == "" && lp.Subject != "" {
			name = "\"" + lp.Subject + "\""
		}
		if name == "" {
			name = "(no name)"
		}
		size := bytesize.Format(lp.Size)
		if lp.SizeEstimated {
			size = "~" + size
		}
		rows = append(rows, []string{"[" + termtext.Field(lp.Part) + "]", termtext.Field(name), termtext.Field(lp.Type), size, lp.Disposition})
	}
	if width <= 0 {
		width = defaultWidth
	}
	header := make([]string, 5)
	textlayout.Fit(header, rows, []bool{false, true, true, false, false}, columnGap, minFlexWidth, width)
	return textlayout.Align(rows, columnGap)
}

// textWriter returns a writer that sanitises multi-line text (bodies,
// header blocks) on its way to stdout. Close it to flush.
func (p *printer) textWriter() *termtext.Writer { return termtext.NewWriter(p.out, false) }

// rawWriter is stdout itself, for --raw.
func (p *printer) rawWriter() io.Writer {
	if p.raw != nil {
		return p.raw
	}
	return p.out
}

// jsonStats is embedded, last, in every --json result: its "stats" field,
// set with --stats.
type jsonStats struct {
	Stats *statsJSON `json:"stats,omitempty"`
}

func (j *jsonStats) setStats(s *statsJSON) { j.Stats = s }

// statsHolder is a JSON result that embeds jsonStats.
type statsHolder interface{ setStats(*statsJSON) }

// watchLineJSON is one line of watch --json: the account, then the
// envelope's fields.
type watchLineJSON struct {
	Account string `json:"account"`
	client.EnvelopeJSON
}

func newWatchLine(account string, e client.Envelope) *watchLineJSON {
	return &watchLineJSON{Account: account, EnvelopeJSON: e.JSON()}
}

// statsJSON is the "stats" object of --json output with --stats.
type statsJSON struct {
	Account  string `json:"account,omitempty"`
	Protocol string `json:"protocol"` // "imap+pop3" for a command that used both
	client.Counts
	Ops []client.OpCounts `json:"ops"`
	// Accounts holds each account's figures when the command used several
	// (compare, check --all); the counts above are then their sum and the
	// time is the command's.
	Accounts []*statsJSON `json:"accounts,omitempty"`
}

func newStatsJSON(s *client.WireStats) *statsJSON {
	ops := s.Ops()
	if ops == nil {
		ops = []client.OpCounts{}
	}
	return &statsJSON{Protocol: s.Protocol, Counts: s.Total(), Ops: ops}
}

// statsLine is the --stats summary on stderr.
func statsLine(s *client.WireStats) string {
	t := s.Total()
	cmds := "commands"
	if t.Commands == 1 {
		cmds = "command"
	}
	return fmt.Sprintf("%s: %d %s, %s sent, %s received, %.2f s",
		strings.ToUpper(s.Protocol), t.Commands, cmds, bytesize.Format(t.Sent), bytesize.Format(t.Received), t.Elapsed.Seconds())
}

// finish writes the held JSON result, with its "stats" field set when
// stats is given.
func (p *printer) finish(stats *statsJSON) error {
	if !p.json || p.pending == nil {
		return nil
	}
	if t, ok := p.pending.(*jsonTail); ok {
		p.pending = nil
		return t.close(p, stats)
	}
	v := p.pending.jsonObject()
	if stats != nil {
		h, ok := v.(statsHolder)
		if !ok {
			return fmt.Errorf("printer: JSON result %T has no stats field", v)
		}
		h.setStats(stats)
	}
	return writeJSON(p.out, v, p.tty)
}

// abandon ends the output of a command that failed: a JSON document
// already streamed in part is closed, so stdout still holds one valid
// document (the error is on stderr and in the exit status).
func (p *printer) abandon() {
	if t, ok := p.pending.(*jsonTail); ok {
		p.pending = nil
		t.close(p, nil)
	}
}

// envelopeLine shows one message as soon as it is known (watch): a line
// with the fields of list, or with --json one JSON object on one line
// (JSON Lines) carrying the account too. Each line is written whole, at
// once.
func (p *printer) envelopeLine(account string, e client.Envelope) error {
	if p.json {
		return writeJSON(p.out, newWatchLine(account, e), false)
	}
	f := p.format()
	fields := []string{f.text(e.ID), f.date(e.ListDate()), f.text(e.From), f.text(e.Subject), f.size(e.Size), f.flags(e.Flags, e.HasAttachments)}
	if !p.tty {
		return p.writeTSV([][]string{fields})
	}
	// No table to align with: From gets a fixed share, the subject what
	// the terminal has left.
	fields[2] = textlayout.Truncate(fields[2], 30)
	width := p.width
	if width <= 0 {
		width = defaultWidth
	}
	others := 0
	for i, s := range fields {
		if i != 3 {
			others += textlayout.Width(s) + columnGap
		}
	}
	fields[3] = textlayout.Truncate(fields[3], max(minFlexWidth, width-others))
	_, err := io.WriteString(p.out, strings.Join(fields, strings.Repeat(" ", columnGap))+"\n")
	return err
}
