package query

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Error is a query the parser refused. Column counts characters (runes)
// from 1, so a terminal can put a caret under the place.
type Error struct {
	Input  string
	Column int
	Msg    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("column %d: %s", e.Column, e.Msg)
}

// Caret renders the query with a caret under the column the error points
// at, for a terminal (two lines, no trailing newline).
func (e *Error) Caret() string {
	col := e.Column
	if col < 1 {
		col = 1
	}
	return e.Input + "\n" + strings.Repeat(" ", col-1) + "^"
}

// Keys are the keys a term can carry before its colon; after:, since: and
// before: take a date, larger: and smaller: a size.
var Keys = []string{"from", "to", "cc", "subject", "body", "is", "has", "after", "since", "before", "date", "larger", "smaller"}

// IsValues are what is: accepts.
var IsValues = []string{"unread", "read", "flagged", "unflagged", "answered", "unanswered", "draft"}

// HasValues are what has: accepts.
var HasValues = []string{"attachment"}

var textKeys = map[string]Field{"from": From, "to": To, "cc": Cc, "subject": Subject, "body": Body}

var isFlags = map[string]Flag{
	"unread":     {Name: "seen", Set: false},
	"read":       {Name: "seen", Set: true},
	"flagged":    {Name: "flagged", Set: true},
	"unflagged":  {Name: "flagged", Set: false},
	"answered":   {Name: "answered", Set: true},
	"unanswered": {Name: "answered", Set: false},
	"draft":      {Name: "draft", Set: true},
}

// Parse reads a query in duomail's search language. Relative dates
// ("today", "7d") count back from now; every date is midnight in loc.
//
// Terms side by side must all match; OR binds tighter than that, so
// "from:ann OR from:bob report" is (from:ann OR from:bob) AND report, as in
// web search engines; "-" or NOT binds tightest. Parentheses group.
func Parse(input string, now time.Time, loc *time.Location) (Node, error) {
	if loc == nil {
		loc = time.Local
	}
	toks, err := lex(input)
	if err != nil {
		return nil, err
	}
	if len(toks) == 0 {
		return nil, &Error{Input: input, Column: 1, Msg: "empty query: give at least one word or key:value"}
	}
	p := &parser{input: input, toks: toks, now: now.In(loc), loc: loc}
	n, err := p.and()
	if err != nil {
		return nil, err
	}
	if p.pos < len(p.toks) {
		t := p.toks[p.pos]
		return nil, p.errf(t.col, "unexpected %q: no ( to close", t.text)
	}
	return n, nil
}

type tokKind int

const (
	tWord   tokKind = iota // a bare word or key:value, maybe with a quoted value
	tLParen                // (
	tRParen                // )
	tOr                    // OR
	tAnd                   // AND
	tNot                   // NOT or a leading -
)

type token struct {
	kind tokKind
	col  int    // 1-based rune column of the token's first character
	text string // as typed, for messages

	key      string // lower-cased key before the colon, "" for a bare word
	keyText  string // the key as typed
	value    string // the word or the phrase without quotes
	phrase   bool   // the value was quoted
	valueCol int    // where the value starts
}

// lex splits the input into tokens. A quote starts a phrase only at the
// start of a word or right after "key:"; elsewhere it is part of the word.
// Parentheses always stand alone.
func lex(input string) ([]token, error) {
	rs := []rune(input)
	var toks []token
	i := 0
	for i < len(rs) {
		r := rs[i]
		switch {
		case unicode.IsSpace(r):
			i++
		case r == '(':
			toks = append(toks, token{kind: tLParen, col: i + 1, text: "("})
			i++
		case r == ')':
			toks = append(toks, token{kind: tRParen, col: i + 1, text: ")"})
			i++
		case r == '-':
			if i+1 >= len(rs) || unicode.IsSpace(rs[i+1]) || rs[i+1] == ')' {
				return nil, &Error{Input: input, Column: i + 1, Msg: `"-" needs a term right after it (as in -from:bob)`}
			}
			toks = append(toks, token{kind: tNot, col: i + 1, text: "-"})
			i++
		default:
			t, next, err := lexWord(input, rs, i)
			if err != nil {
				return nil, err
			}
			toks = append(toks, t)
			i = next
		}
	}
	return toks, nil
}

func lexWord(input string, rs []rune, start int) (token, int, error) {
	t := token{kind: tWord, col: start + 1}
	i := start
	if rs[i] == '"' {
		v, next, err := lexPhrase(input, rs, i)
		if err != nil {
			return t, 0, err
		}
		t.value, t.phrase, t.valueCol = v, true, i+1
		t.text = string(rs[start:next])
		return t, next, nil
	}
	// The key is letters only, so "10:30" and "a-b:c" stay words.
	j := i
	for j < len(rs) && unicode.IsLetter(rs[j]) {
		j++
	}
	if j > i && j < len(rs) && rs[j] == ':' {
		t.keyText = string(rs[i:j])
		t.key = strings.ToLower(t.keyText)
		i = j + 1
		t.valueCol = i + 1
		if i < len(rs) && rs[i] == '"' {
			v, next, err := lexPhrase(input, rs, i)
			if err != nil {
				return t, 0, err
			}
			t.value, t.phrase = v, true
			t.text = string(rs[start:next])
			return t, next, nil
		}
	} else {
		t.valueCol = start + 1
	}
	k := i
	for k < len(rs) && !unicode.IsSpace(rs[k]) && rs[k] != '(' && rs[k] != ')' {
		k++
	}
	t.value = string(rs[i:k])
	t.text = string(rs[start:k])
	if t.key == "" {
		switch t.value {
		case "OR":
			t.kind = tOr
		case "AND":
			t.kind = tAnd
		case "NOT":
			t.kind = tNot
		}
	}
	return t, k, nil
}

// lexPhrase reads a quoted phrase starting at rs[i] == '"'. Inside, \" is
// a quote and \\ a backslash; any other backslash is itself.
func lexPhrase(input string, rs []rune, i int) (string, int, error) {
	var b strings.Builder
	for j := i + 1; j < len(rs); j++ {
		switch {
		case rs[j] == '\\' && j+1 < len(rs) && (rs[j+1] == '"' || rs[j+1] == '\\'):
			b.WriteRune(rs[j+1])
			j++
		case rs[j] == '"':
			return b.String(), j + 1, nil
		default:
			b.WriteRune(rs[j])
		}
	}
	return "", 0, &Error{Input: input, Column: i + 1, Msg: "unterminated quote: this \" has no closing \""}
}

type parser struct {
	input string
	toks  []token
	pos   int
	now   time.Time
	loc   *time.Location
	depth int
}

// maxDepth bounds nesting so a hostile query cannot exhaust the stack.
const maxDepth = 100

func (p *parser) errf(col int, format string, args ...any) error {
	return &Error{Input: p.input, Column: col, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) peek() *token {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func (p *parser) endCol() int { return utf8.RuneCountInString(p.input) + 1 }

// and reads terms side by side until the end or a closing parenthesis.
func (p *parser) and() (Node, error) {
	var terms []Node
	for {
		t := p.peek()
		if t == nil || t.kind == tRParen {
			break
		}
		if t.kind == tAnd {
			if len(terms) == 0 {
				return nil, p.errf(t.col, "AND needs a term on each side")
			}
			p.pos++
			if n := p.peek(); n == nil || n.kind == tRParen || n.kind == tOr || n.kind == tAnd {
				return nil, p.errf(t.col, "AND needs a term on each side")
			}
			continue
		}
		n, err := p.or()
		if err != nil {
			return nil, err
		}
		terms = append(terms, n)
	}
	if len(terms) == 0 {
		col := p.endCol()
		if t := p.peek(); t != nil {
			col = t.col
		}
		return nil, p.errf(col, "expected a term")
	}
	return flatten(And{Terms: terms}), nil
}

func (p *parser) or() (Node, error) {
	t := p.peek()
	if t.kind == tOr {
		return nil, p.errf(t.col, "OR needs a term on each side")
	}
	first, err := p.unary()
	if err != nil {
		return nil, err
	}
	terms := []Node{first}
	for {
		t := p.peek()
		if t == nil || t.kind != tOr {
			break
		}
		p.pos++
		n := p.peek()
		if n == nil || n.kind == tRParen || n.kind == tOr || n.kind == tAnd {
			return nil, p.errf(t.col, "OR needs a term on each side")
		}
		next, err := p.unary()
		if err != nil {
			return nil, err
		}
		terms = append(terms, next)
	}
	return flatten(Or{Terms: terms}), nil
}

func (p *parser) unary() (Node, error) {
	t := p.peek()
	switch t.kind {
	case tNot:
		p.pos++
		if n := p.peek(); n == nil || n.kind == tRParen || n.kind == tOr || n.kind == tAnd {
			return nil, p.errf(t.col, "%s needs a term after it", t.text)
		}
		if p.depth++; p.depth > maxDepth {
			return nil, p.errf(t.col, "query nested too deeply")
		}
		inner, err := p.unary()
		p.depth--
		if err != nil {
			return nil, err
		}
		if n, ok := inner.(Not); ok {
			return n.Term, nil
		}
		return Not{Term: inner}, nil
	case tLParen:
		p.pos++
		if p.depth++; p.depth > maxDepth {
			return nil, p.errf(t.col, "query nested too deeply")
		}
		if n := p.peek(); n != nil && n.kind == tRParen {
			return nil, p.errf(t.col, "empty parentheses")
		}
		inner, err := p.and()
		p.depth--
		if err != nil {
			return nil, err
		}
		if n := p.peek(); n == nil || n.kind != tRParen {
			return nil, p.errf(t.col, "this ( is never closed")
		}
		p.pos++
		return inner, nil
	case tRParen:
		return nil, p.errf(t.col, "unexpected ): no ( to close")
	case tOr, tAnd:
		return nil, p.errf(t.col, "%s needs a term on each side", t.text)
	}
	p.pos++
	return p.term(t)
}

func (p *parser) term(t *token) (Node, error) {
	if t.key == "" {
		if t.value == "" {
			return nil, p.errf(t.col, "empty phrase")
		}
		return Text{Field: Anywhere, Value: t.value, Phrase: t.phrase}, nil
	}
	if t.value == "" && !t.phrase {
		return nil, p.errf(t.valueCol, "%s: needs a value", t.keyText)
	}
	if f, ok := textKeys[t.key]; ok {
		if t.value == "" {
			return nil, p.errf(t.valueCol, "empty phrase")
		}
		return Text{Field: f, Value: t.value, Phrase: t.phrase}, nil
	}
	val := strings.ToLower(t.value)
	switch t.key {
	case "is":
		if f, ok := isFlags[val]; ok {
			return f, nil
		}
		return nil, p.errf(t.valueCol, "is: does not know %q%s (is: takes %s)", t.value, didYouMean("is:", val, IsValues), strings.Join(IsValues, ", "))
	case "has":
		if val == "attachment" || val == "attachments" {
			return HasAttachment{}, nil
		}
		return nil, p.errf(t.valueCol, "has: does not know %q%s (has: takes attachment)", t.value, didYouMean("has:", val, HasValues))
	case "after", "since":
		d, err := p.date(t.value, t.valueCol)
		if err != nil {
			return nil, err
		}
		return Date{Since: d}, nil
	case "before":
		d, err := p.date(t.value, t.valueCol)
		if err != nil {
			return nil, err
		}
		return Date{Before: d}, nil
	case "date":
		return p.dateRange(t.value, t.valueCol)
	case "larger", "smaller":
		n, err := parseSize(t.value)
		if err != nil {
			return nil, p.errf(t.valueCol, "%s: %v", t.keyText, err)
		}
		if t.key == "larger" {
			return Size{Larger: n}, nil
		}
		if n == 0 {
			return nil, p.errf(t.valueCol, "smaller:0 matches nothing")
		}
		return Size{Smaller: n}, nil
	}
	msg := fmt.Sprintf("unknown key %q", t.keyText+":")
	if s := didYouMean("", t.key, Keys); s != "" {
		msg += s
	} else if contains(IsValues, t.key) {
		msg += fmt.Sprintf("; did you mean is:%s?", t.key)
	} else if t.key == "attachment" || t.key == "attachments" {
		msg += "; did you mean has:attachment?"
	} else {
		msg += fmt.Sprintf(" (keys: %s; quote the word to search for it as text)", strings.Join(Keys, ", "))
	}
	return nil, p.errf(t.col, "%s", msg)
}

// date reads an ISO date (2026-03-01) or a relative one: today,
// yesterday, Nd (days), Nw (weeks), Nm (months), Ny (years) ago, each at
// midnight in the user's zone.
func (p *parser) date(s string, col int) (time.Time, error) {
	today := time.Date(p.now.Year(), p.now.Month(), p.now.Day(), 0, 0, 0, 0, p.loc)
	switch strings.ToLower(s) {
	case "today":
		return today, nil
	case "yesterday":
		return today.AddDate(0, 0, -1), nil
	}
	if n := len(s); n >= 2 && isDigits(s[:n-1]) {
		if n-1 > 5 {
			return time.Time{}, p.errf(col, "%q is too far back", s)
		}
		k, _ := strconv.Atoi(s[:n-1])
		switch unicode.ToLower(rune(s[n-1])) {
		case 'd':
			return today.AddDate(0, 0, -k), nil
		case 'w':
			return today.AddDate(0, 0, -7*k), nil
		case 'm':
			return today.AddDate(0, -k, 0), nil
		case 'y':
			return today.AddDate(-k, 0, 0), nil
		}
	}
	parts := strings.Split(s, "-")
	if len(parts) == 3 && len(parts[0]) == 4 && isDigits(parts[0]) &&
		len(parts[1]) >= 1 && len(parts[1]) <= 2 && isDigits(parts[1]) &&
		len(parts[2]) >= 1 && len(parts[2]) <= 2 && isDigits(parts[2]) {
		y, _ := strconv.Atoi(parts[0])
		m, _ := strconv.Atoi(parts[1])
		d, _ := strconv.Atoi(parts[2])
		t := time.Date(y, time.Month(m), d, 0, 0, 0, 0, p.loc)
		if y < 1 || t.Year() != y || int(t.Month()) != m || t.Day() != d {
			return time.Time{}, p.errf(col, "%s is not a date on the calendar", s)
		}
		return t, nil
	}
	return time.Time{}, p.errf(col, "%q is not a date: use YYYY-MM-DD, today, yesterday, or a count back like 7d, 2w, 3m, 1y", s)
}

// dateRange reads date:A..B (both days included; either end may be left
// out) or date:A (that one day).
func (p *parser) dateRange(s string, col int) (Node, error) {
	a, b, isRange := strings.Cut(s, "..")
	if !isRange {
		d, err := p.date(s, col)
		if err != nil {
			return nil, err
		}
		return Date{Since: d, Before: d.AddDate(0, 0, 1)}, nil
	}
	if a == "" && b == "" {
		return nil, p.errf(col, "date:.. needs at least one end")
	}
	var r Date
	if a != "" {
		d, err := p.date(a, col)
		if err != nil {
			return nil, err
		}
		r.Since = d
	}
	if b != "" {
		bcol := col + utf8.RuneCountInString(a) + 2
		d, err := p.date(b, bcol)
		if err != nil {
			return nil, err
		}
		r.Before = d.AddDate(0, 0, 1)
		if a != "" && r.Before.Before(r.Since.AddDate(0, 0, 1)) {
			return nil, p.errf(bcol, "the range ends (%s) before it starts (%s)", b, a)
		}
	}
	return r, nil
}

// parseSize reads 1234, 500k, 2M, 1G (binary units, as duomail shows
// sizes), with an optional trailing B.
func parseSize(s string) (int64, error) {
	t := strings.TrimSuffix(strings.TrimSuffix(s, "B"), "b")
	mult := int64(1)
	if n := len(t); n > 0 {
		switch t[n-1] {
		case 'k', 'K':
			mult, t = 1<<10, t[:n-1]
		case 'm', 'M':
			mult, t = 1<<20, t[:n-1]
		case 'g', 'G':
			mult, t = 1<<30, t[:n-1]
		}
	}
	if t == "" || !isDigits(t) {
		return 0, fmt.Errorf("%q is not a size: use bytes or a number with k, M or G (500k, 2M)", s)
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n > (1<<50)/mult {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return n * mult, nil
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// didYouMean suggests the candidate closest to a typo: within two edits
// (one for short words), or one the typo starts (subj → subject).
func didYouMean(prefix, typed string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		d := editDistance(typed, c)
		limit := 2
		if len([]rune(typed)) <= 3 {
			limit = 1
		}
		if d <= limit && d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" && len(typed) >= 3 {
		for _, c := range candidates {
			if strings.HasPrefix(c, typed) {
				best = c
				break
			}
		}
	}
	if best == "" {
		return ""
	}
	if prefix == "" {
		return fmt.Sprintf("; did you mean %s:?", best)
	}
	return fmt.Sprintf("; did you mean %s%s?", prefix, best)
}

// editDistance is the Damerau (optimal string alignment) distance, so a
// swap of two letters (form → from) counts as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// flatten merges nested And/Or of the same kind and unwraps one-term
// groups, so every engine sees the smallest tree.
func flatten(n Node) Node {
	switch v := n.(type) {
	case And:
		var out []Node
		for _, t := range v.Terms {
			if a, ok := t.(And); ok {
				out = append(out, a.Terms...)
			} else {
				out = append(out, t)
			}
		}
		if len(out) == 1 {
			return out[0]
		}
		return And{Terms: out}
	case Or:
		var out []Node
		for _, t := range v.Terms {
			if o, ok := t.(Or); ok {
				out = append(out, o.Terms...)
			} else {
				out = append(out, t)
			}
		}
		if len(out) == 1 {
			return out[0]
		}
		return Or{Terms: out}
	}
	return n
}

// JoinArgs turns command-line arguments back into one query. The shell
// has already removed the quotes of `subject:"a b"`, leaving one argument
// with a space in it; such an argument is quoted again (after its key, if
// it has one) so it stays one phrase.
func JoinArgs(args []string) string {
	out := make([]string, 0, len(args))
	for _, a := range args {
		if !strings.ContainsFunc(a, unicode.IsSpace) || strings.Contains(a, `"`) || strings.ContainsAny(a, "()") || looksLikeQuery(a) {
			out = append(out, a)
			continue
		}
		key, val := "", a
		rs := []rune(a)
		j := 0
		for j < len(rs) && unicode.IsLetter(rs[j]) {
			j++
		}
		if j > 0 && j < len(rs) && rs[j] == ':' {
			key, val = string(rs[:j+1]), string(rs[j+1:])
		}
		neg := ""
		if key == "" && strings.HasPrefix(val, "-") {
			neg, val = "-", val[1:]
		}
		out = append(out, neg+key+quote(val))
	}
	return strings.Join(out, " ")
}

// looksLikeQuery tells an argument that is a whole query typed in one pair
// of quotes ('from:ann OR from:bob') from a phrase: it has an operator or a
// second key among its words.
func looksLikeQuery(a string) bool {
	for i, w := range strings.Fields(a) {
		if w == "OR" || w == "AND" || w == "NOT" {
			return true
		}
		if i == 0 {
			continue
		}
		w = strings.TrimPrefix(w, "-")
		if k, _, ok := strings.Cut(w, ":"); ok && contains(Keys, strings.ToLower(k)) {
			return true
		}
	}
	return false
}

func quote(s string) string {
	return `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(s) + `"`
}
