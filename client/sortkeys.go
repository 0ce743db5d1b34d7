package client

import "strings"

// SortFromKey is what --sort from orders by: the mailbox (local part) of
// the sender's address, lower case, as IMAP SORT FROM does (RFC 5256), so
// that a listing sorts alike on both protocols. from is an envelope's From
// as list prints it ("Ann <ann@example.org>" or a bare address).
func SortFromKey(from string) string {
	addr := from
	if i := strings.LastIndexByte(from, '<'); i >= 0 {
		addr = from[i+1:]
		if j := strings.IndexByte(addr, '>'); j >= 0 {
			addr = addr[:j]
		}
	}
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		addr = addr[:i]
	}
	return strings.ToLower(strings.TrimSpace(addr))
}

// BaseSubject is what --sort subject orders by: the subject without the
// "Re:", "Fwd:", "Fw:" (and German "Aw:", "Wg:") and "[list]" prefixes and
// "(fwd)" suffixes replies and forwards add, lower case (a simplified
// RFC 5256 base subject).
func BaseSubject(s string) string {
	s = strings.ToLower(strings.Join(strings.Fields(s), " "))
	for {
		before := s
		for strings.HasSuffix(s, "(fwd)") {
			s = strings.TrimSpace(strings.TrimSuffix(s, "(fwd)"))
		}
		if strings.HasPrefix(s, "[") {
			if i := strings.IndexByte(s, ']'); i > 0 && i < len(s)-1 {
				s = strings.TrimSpace(s[i+1:])
			}
		}
		for _, p := range []string{"re:", "fwd:", "fw:", "aw:", "wg:", "re :", "fwd :", "fw :"} {
			if strings.HasPrefix(s, p) {
				s = strings.TrimSpace(s[len(p):])
			}
		}
		if s == before {
			return s
		}
	}
}
