package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/rivo/uniseg"
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
//     the wire statistics (--stats) can join it.
//
// Every string from a server is sanitised on the way (sanitize.go); JSON is
// escaped instead (jsonout.go).
type printer struct {
	out   io.Writer
	tty   bool // stdout is a terminal
	width int  // terminal columns; 0 when unknown
	json  bool
	loc   *time.Location

	notice func(string) // informational line on stderr (silenced by --quiet)

	pending   any // the JSON result, held until finish
	hasResult bool
}

// A result is what a command hands to the printer.
type result interface {
	// jsonObject is the value --json prints: always an object, so "stats"
	// can be added without changing the shape.
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
func (f *format) text(s string) string { return sanitizeField(s) }

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
		return humanSize(n, false)
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
		names = append(names, sanitizeField(string(fl)))
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

// humanSize renders a byte count in binary units. With decimals every unit
// above bytes shows one decimal ("48.0 KB"); without, only values under 10
// do ("1.2 KB", "12 KB").
func humanSize(n int64, decimals bool) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	units := []string{"KB", "MB", "GB", "TB"}
	var unit string
	for _, unit = range units {
		v /= 1024
		if v < 1024 {
			break
		}
	}
	if decimals || v < 9.95 {
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}

// cell is one table field, rendered for the current form.
type cell func(f *format) string

func textCell(s string) cell    { return func(f *format) string { return f.text(s) } }
func numCell(n int) cell        { return func(*format) string { return fmt.Sprint(n) } }
func sizeCell(n int64) cell     { return func(f *format) string { return f.size(n) } }
func dateCell(t time.Time) cell { return func(f *format) string { return f.date(t) } }
func boolCell(b bool) cell      { return func(f *format) string { return f.yes(b) } }
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
}

func (p *printer) format() *format { return &format{tty: p.tty, loc: p.loc} }

// print shows a result now, or keeps it for finish with --json.
func (p *printer) print(r result) error {
	if p.json {
		p.pending, p.hasResult = r.jsonObject(), true
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
	fitWidth(t.cols, header, rendered, p.width)
	_, err := io.WriteString(p.out, alignColumns(append([][]string{header}, rendered...)))
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

// fitWidth shortens the flexible columns, widest first, until the table
// fits the terminal (or they reach a minimum width). Widths are display
// columns: CJK characters and most emoji take two.
func fitWidth(cols []column, header []string, rows [][]string, width int) {
	if width <= 0 {
		return
	}
	widths := make([]int, len(cols))
	for i := range cols {
		widths[i] = uniseg.StringWidth(header[i])
		for _, row := range rows {
			widths[i] = max(widths[i], uniseg.StringWidth(row[i]))
		}
	}
	total := columnGap * (len(cols) - 1)
	for _, w := range widths {
		total += w
	}
	for total > width {
		widest := -1
		for i, c := range cols {
			if c.flex && widths[i] > minFlexWidth && (widest < 0 || widths[i] > widths[widest]) {
				widest = i
			}
		}
		if widest < 0 {
			break
		}
		widths[widest]--
		total--
	}
	for i, c := range cols {
		if !c.flex {
			continue
		}
		for _, row := range rows {
			row[i] = truncate(row[i], widths[i])
		}
	}
}

// truncate shortens s to n display columns, marking the cut with an
// ellipsis.
func truncate(s string, n int) string {
	if uniseg.StringWidth(s) <= n {
		return s
	}
	if n <= 1 {
		return "…"
	}
	var b strings.Builder
	w := 0
	g := uniseg.NewGraphemes(s)
	for g.Next() {
		if w+g.Width() > n-1 {
			break
		}
		w += g.Width()
		b.WriteString(g.Str())
	}
	return strings.TrimRight(b.String(), " ") + "…"
}

// alignColumns lays rows out in columns padded to the widest cell. It
// measures display columns, not runes as text/tabwriter does, so cells with
// CJK characters or emoji (two columns each) line up too.
func alignColumns(rows [][]string) string {
	var widths []int
	for _, row := range rows {
		for i, c := range row {
			if i == len(widths) {
				widths = append(widths, 0)
			}
			widths[i] = max(widths[i], uniseg.StringWidth(c))
		}
	}
	var b strings.Builder
	for _, row := range rows {
		var line strings.Builder
		for i, c := range row {
			line.WriteString(c)
			if i < len(row)-1 {
				line.WriteString(strings.Repeat(" ", widths[i]-uniseg.StringWidth(c)+columnGap))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteByte('\n')
	}
	return b.String()
}

// wrap breaks s into lines of at most width display columns, at spaces
// where it can, inside a word where it must.
func wrap(s string, width int) (lines []string) {
	width = max(width, 1)
	// A figure and its unit stay together ("426 B", "0.7 ms").
	s = unitSpace.ReplaceAllString(s, "$1\u00a0$2")
	defer func() {
		for i, l := range lines {
			lines[i] = strings.ReplaceAll(l, "\u00a0", " ")
		}
	}()
	var line strings.Builder
	lineW := 0
	flush := func() {
		lines = append(lines, strings.TrimRight(line.String(), " "))
		line.Reset()
		lineW = 0
	}
	for _, word := range strings.Split(s, " ") {
		if word == "" {
			continue
		}
		w := uniseg.StringWidth(word)
		if lineW > 0 && lineW+1+w > width {
			flush()
		}
		if lineW > 0 {
			line.WriteByte(' ')
			lineW++
		}
		for w > width-lineW {
			// A word longer than the line: cut it at the width.
			g := uniseg.NewGraphemes(word)
			var head strings.Builder
			hw := 0
			for g.Next() && hw+g.Width() <= width-lineW {
				head.WriteString(g.Str())
				hw += g.Width()
			}
			if hw == 0 {
				if lineW > 0 {
					flush()
					continue
				}
				break // one grapheme wider than the line: let it overflow
			}
			line.WriteString(head.String())
			flush()
			word = word[head.Len():]
			w = uniseg.StringWidth(word)
		}
		line.WriteString(word)
		lineW += w
	}
	if lineW > 0 || len(lines) == 0 {
		flush()
	}
	return lines
}

var unitSpace = regexp.MustCompile(`(\d) (B|KB|MB|GB|TB|ms|s)\b`)

// padRight pads s with spaces to width display columns.
func padRight(s string, width int) string {
	return s + strings.Repeat(" ", max(0, width-uniseg.StringWidth(s)))
}

// messageHeader shows the short header block fetch prints before the text.
func (p *printer) messageHeader(env client.Envelope) error {
	f := p.format()
	var b strings.Builder
	fmt.Fprintf(&b, "From:    %s\n", f.text(env.From))
	if len(env.To) > 0 {
		fmt.Fprintf(&b, "To:      %s\n", f.text(strings.Join(env.To, ", ")))
	}
	fmt.Fprintf(&b, "Date:    %s\n", f.date(env.Date))
	fmt.Fprintf(&b, "Subject: %s\n\n", f.text(env.Subject))
	_, err := io.WriteString(p.out, b.String())
	return err
}

// textWriter returns a writer that sanitises multi-line text (bodies,
// header blocks) on its way to stdout. Close it to flush.
func (p *printer) textWriter() *sanitizeWriter { return newSanitizeWriter(p.out, false) }

// rawWriter is stdout itself, for --raw.
func (p *printer) rawWriter() io.Writer { return p.out }

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
		strings.ToUpper(s.Protocol), t.Commands, cmds, humanSize(t.Sent, true), humanSize(t.Received, true), t.Elapsed.Seconds())
}

// finish writes the held JSON result, with "stats" added when given.
func (p *printer) finish(stats *statsJSON) error {
	if !p.json || !p.hasResult {
		return nil
	}
	body, err := encodeCompact(p.pending)
	if err != nil {
		return err
	}
	if stats != nil {
		sb, err := encodeCompact(stats)
		if err != nil {
			return err
		}
		if len(body) < 2 || body[0] != '{' {
			return fmt.Errorf("printer: JSON result is not an object")
		}
		sep := ","
		if string(body) == "{}" {
			sep = ""
		}
		body = append(append(append(body[:len(body)-1:len(body)-1], sep+`"stats":`...), sb...), '}')
	}
	if p.tty {
		var ind bytes.Buffer
		if err := json.Indent(&ind, body, "", "  "); err != nil {
			return err
		}
		body = ind.Bytes()
	}
	body = append(jsonSafe(body), '\n')
	_, err = p.out.Write(body)
	return err
}

func encodeCompact(v any) ([]byte, error) {
	b, err := marshalJSON(v, false)
	if err != nil {
		return nil, err
	}
	return bytes.TrimRight(b, "\n"), nil
}

// envelopeLine shows one message as soon as it is known (watch): a line
// with the fields of list, or with --json one JSON object on one line
// (JSON Lines) carrying the account too. Each line is written whole, at
// once.
func (p *printer) envelopeLine(account string, e client.Envelope) error {
	if p.json {
		env, err := marshalPlain(stableEnvelope(e))
		if err != nil {
			return err
		}
		acct, err := marshalPlain(account)
		if err != nil {
			return err
		}
		line := append([]byte(`{"account":`), acct...)
		if len(env) > 2 {
			line = append(line, ',')
		}
		line = append(append(line, env[1:]...), '\n')
		_, err = p.out.Write(jsonSafe(line))
		return err
	}
	f := p.format()
	fields := []string{f.text(e.ID), f.date(e.Date), f.text(e.From), f.text(e.Subject), f.size(e.Size), f.flags(e.Flags, e.HasAttachments)}
	if !p.tty {
		return p.writeTSV([][]string{fields})
	}
	// No table to align with: From gets a fixed share, the subject what
	// the terminal has left.
	fields[2] = truncate(fields[2], 30)
	width := p.width
	if width <= 0 {
		width = defaultWidth
	}
	others := 0
	for i, s := range fields {
		if i != 3 {
			others += uniseg.StringWidth(s) + columnGap
		}
	}
	fields[3] = truncate(fields[3], max(minFlexWidth, width-others))
	_, err := io.WriteString(p.out, strings.Join(fields, strings.Repeat(" ", columnGap))+"\n")
	return err
}
