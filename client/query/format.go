package query

import (
	"strconv"
	"strings"
	"unicode"
)

// Format writes a tree back in the search language, so --debug and error
// messages can show what was understood. Parsing the result (in the same
// time zone) gives the same tree back.
func Format(n Node) string {
	var b strings.Builder
	format(&b, n, false)
	return b.String()
}

func format(b *strings.Builder, n Node, nested bool) {
	switch v := n.(type) {
	case And:
		formatTerms(b, v.Terms, " ", nested)
	case Or:
		formatTerms(b, v.Terms, " OR ", nested)
	case Not:
		b.WriteByte('-')
		format(b, v.Term, true)
	case Text:
		if v.Field != Anywhere {
			b.WriteString(string(v.Field))
			b.WriteByte(':')
		}
		if v.Phrase || needsQuotes(v.Value, v.Field == Anywhere) {
			b.WriteString(quote(v.Value))
		} else {
			b.WriteString(v.Value)
		}
	case Flag:
		for name, f := range isFlags {
			if f == v {
				b.WriteString("is:" + name)
				return
			}
		}
		b.WriteString("is:" + v.Name + "?")
	case HasAttachment:
		b.WriteString("has:attachment")
	case Date:
		const iso = "2006-01-02"
		switch {
		case !v.Since.IsZero() && !v.Before.IsZero():
			b.WriteString("date:" + v.Since.Format(iso) + ".." + v.Before.AddDate(0, 0, -1).Format(iso))
		case !v.Since.IsZero():
			b.WriteString("after:" + v.Since.Format(iso))
		case !v.Before.IsZero():
			b.WriteString("before:" + v.Before.Format(iso))
		default:
			b.WriteString("date:..")
		}
	case Size:
		var parts []string
		if v.Larger > 0 {
			parts = append(parts, "larger:"+strconv.FormatInt(v.Larger, 10))
		}
		if v.Smaller > 0 {
			parts = append(parts, "smaller:"+strconv.FormatInt(v.Smaller, 10))
		}
		if len(parts) == 0 {
			parts = append(parts, "larger:0")
		}
		if len(parts) > 1 && nested {
			b.WriteString("(" + strings.Join(parts, " ") + ")")
		} else {
			b.WriteString(strings.Join(parts, " "))
		}
	}
}

// needsQuotes says whether a word would be read back as something else.
func needsQuotes(s string, bare bool) bool {
	if s == "" || strings.HasPrefix(s, `"`) || strings.ContainsFunc(s, func(r rune) bool {
		return unicode.IsSpace(r) || r == '(' || r == ')'
	}) {
		return true
	}
	if !bare {
		return false
	}
	if s == "OR" || s == "AND" || s == "NOT" || strings.HasPrefix(s, "-") {
		return true
	}
	i := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	return i > 0 && s[i] == ':'
}

// formatTerms writes the terms of an And or Or joined by sep, in
// parentheses when they sit inside another term.
func formatTerms(b *strings.Builder, terms []Node, sep string, nested bool) {
	if nested {
		b.WriteByte('(')
	}
	for i, t := range terms {
		if i > 0 {
			b.WriteString(sep)
		}
		format(b, t, true)
	}
	if nested {
		b.WriteByte(')')
	}
}
