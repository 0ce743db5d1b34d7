package mimepart

import (
	"bytes"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/emersion/go-message/charset"
)

// DecodeParams applies RFC 2231 to MIME parameters as they appear raw in a
// header or in an IMAP BODYSTRUCTURE: continuations (name*0, name*1) are
// joined, extended values (name*=charset'lang'%XX) are unescaped and
// converted from any charset go-message knows to UTF-8. Keys come out lower
// case. Go's mime package drops such values in charsets other than UTF-8;
// duomail must not, or the same attachment would be named differently by
// the two protocols.
func DecodeParams(params map[string]string) map[string]string {
	out := make(map[string]string, len(params))
	type segment struct {
		n     int
		value string
		ext   bool
	}
	split := make(map[string][]segment)
	for k, v := range params {
		k = strings.ToLower(k)
		star := strings.IndexByte(k, '*')
		if star < 0 {
			out[k] = v
			continue
		}
		base, rest := k[:star], k[star+1:]
		ext := strings.HasSuffix(rest, "*") || rest == ""
		rest = strings.TrimSuffix(rest, "*")
		n := 0
		if rest != "" {
			var err error
			if n, err = strconv.Atoi(rest); err != nil {
				out[k] = v
				continue
			}
		}
		split[base] = append(split[base], segment{n: n, value: v, ext: ext})
	}
	for base, segs := range split {
		sort.Slice(segs, func(i, j int) bool { return segs[i].n < segs[j].n })
		var raw bytes.Buffer
		cs := ""
		for i, s := range segs {
			v := s.value
			if s.ext {
				if i == 0 {
					if parts := strings.SplitN(v, "'", 3); len(parts) == 3 {
						cs, v = parts[0], parts[2]
					}
				}
				if dec, err := url.PathUnescape(v); err == nil {
					v = dec
				}
			}
			raw.WriteString(v)
		}
		out[base] = toUTF8(cs, raw.Bytes())
	}
	return out
}

func toUTF8(cs string, b []byte) string {
	if cs == "" || strings.EqualFold(cs, "utf-8") || strings.EqualFold(cs, "us-ascii") {
		return string(b)
	}
	r, err := charset.Reader(cs, bytes.NewReader(b))
	if err != nil {
		return string(b)
	}
	dec, err := io.ReadAll(r)
	if err != nil {
		return string(b)
	}
	return string(dec)
}

// parseHeaderParams splits a structured header value such as
// `attachment; filename="a b.pdf"; size=3` into its lower-case value and
// raw parameters (quoted strings unquoted, RFC 2231 left to DecodeParams).
// It is lenient: a malformed parameter is skipped, not fatal.
func parseHeaderParams(s string) (string, map[string]string) {
	value, rest, _ := strings.Cut(s, ";")
	params := make(map[string]string)
	for rest != "" {
		rest = strings.TrimLeft(rest, " \t;")
		eq := strings.IndexByte(rest, '=')
		semi := strings.IndexByte(rest, ';')
		if eq < 0 || semi >= 0 && semi < eq {
			if semi < 0 {
				break
			}
			rest = rest[semi+1:]
			continue
		}
		key := strings.ToLower(strings.TrimSpace(rest[:eq]))
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				b.WriteByte(rest[i])
			}
			val = b.String()
			rest = rest[min(i+1, len(rest)):]
			if j := strings.IndexByte(rest, ';'); j >= 0 {
				rest = rest[j:]
			} else {
				rest = ""
			}
		} else {
			end := strings.IndexByte(rest, ';')
			if end < 0 {
				end = len(rest)
			}
			val = strings.TrimSpace(rest[:end])
			rest = rest[end:]
		}
		if key != "" {
			params[key] = val
		}
	}
	return strings.ToLower(strings.TrimSpace(value)), params
}
