package client

import (
	"strconv"
	"strings"
)

// Part is one node of a message's MIME tree. Paths follow IMAP section
// numbering (RFC 3501 6.4.5) for both protocols, so "fetch --part 1.2" names
// the same bytes whether the tree came from BODYSTRUCTURE or from parsing a
// downloaded message.
type Part struct {
	Path        string            `json:"path"` // "1", "1.2"; "" for a multipart root
	Type        string            `json:"type"` // lower case "text/plain"
	Params      map[string]string `json:"params,omitempty"`
	Disposition string            `json:"disposition,omitempty"` // lower case "attachment" or "inline"
	Filename    string            `json:"filename,omitempty"`    // decoded, as the sender wrote it: never trust as a path
	Encoding    string            `json:"encoding,omitempty"`    // lower case Content-Transfer-Encoding
	Size        int64             `json:"size"`                  // encoded size in bytes
	Children    []*Part           `json:"children,omitempty"`
	// Envelope is the header of the message a message/rfc822 part holds
	// (IMAP: BODYSTRUCTURE's ENVELOPE; POP3: parsed), so a forwarded
	// message can be introduced without fetching its header.
	Envelope *Envelope `json:"envelope,omitempty"`
}

// DecodedSize is the size of p's content once its transfer encoding is
// undone, worked out from the encoded size so that nothing needs to be
// downloaded: exact for 7bit, 8bit and binary, estimated for base64 (3
// bytes per 4, less the line breaks of 76-character lines) and
// quoted-printable (taken as it is, as mostly-text parts barely grow).
func (p *Part) DecodedSize() (n int64, estimated bool) {
	switch p.Encoding {
	case "base64":
		// 76 characters and CRLF carry 57 bytes.
		return p.Size * 57 / 78, true
	case "quoted-printable":
		return p.Size, true
	}
	return p.Size, false
}

// Charset returns the declared charset, lower case, or "".
func (p *Part) Charset() string { return strings.ToLower(p.Params["charset"]) }

// IsMultipart reports whether p only groups other parts.
func (p *Part) IsMultipart() bool { return strings.HasPrefix(p.Type, "multipart/") }

// IsAttachment reports whether p is meant to be saved rather than read:
// an explicit attachment disposition, or a named non-text part.
func (p *Part) IsAttachment() bool {
	if p.IsMultipart() || p.Type == "message/rfc822" && p.Filename == "" {
		return false
	}
	if p.Disposition == "attachment" {
		return true
	}
	if p.Filename != "" || p.Params["name"] != "" {
		return !strings.HasPrefix(p.Type, "text/") || p.Disposition != "inline"
	}
	return false
}

// Walk visits p and its descendants depth first; fn returning false skips a
// node's children.
func (p *Part) Walk(fn func(*Part) bool) {
	if p == nil || !fn(p) {
		return
	}
	for _, c := range p.Children {
		c.Walk(fn)
	}
}

// Find returns the part with the given path, or nil.
func (p *Part) Find(path string) *Part {
	var found *Part
	p.Walk(func(q *Part) bool {
		if found != nil {
			return false
		}
		if q.Path == path {
			found = q
			return false
		}
		return true
	})
	return found
}

// Attachments lists the parts IsAttachment accepts, in tree order.
func (p *Part) Attachments() []*Part {
	var out []*Part
	p.Walk(func(q *Part) bool {
		if q.IsAttachment() {
			out = append(out, q)
			return false
		}
		return true
	})
	return out
}

// HasAttachments reports whether any part is an attachment.
func (p *Part) HasAttachments() bool { return len(p.Attachments()) > 0 }

// TextPart picks what "fetch" shows: the first text/plain part that is not an
// attachment, else the first such text/html part (rendered to text by the
// caller), else nil. Inside multipart/alternative the plain part wins wherever
// it sits.
func (p *Part) TextPart() *Part {
	var plain, html *Part
	p.Walk(func(q *Part) bool {
		if q.IsAttachment() || q.Type == "message/rfc822" {
			return false
		}
		switch q.Type {
		case "text/plain":
			if plain == nil {
				plain = q
			}
		case "text/html":
			if html == nil {
				html = q
			}
		}
		return plain == nil
	})
	if plain != nil {
		return plain
	}
	return html
}

// HTMLPart is the first text/html part that is not an attachment (nor
// inside a forwarded message), or nil: what "fetch --html" shows where a
// message has both a plain and an HTML part.
func (p *Part) HTMLPart() *Part {
	var html *Part
	p.Walk(func(q *Part) bool {
		if html != nil || q.IsAttachment() || q.Type == "message/rfc822" {
			return false
		}
		if q.Type == "text/html" {
			html = q
		}
		return html == nil
	})
	return html
}

// ParsePartPath checks a user-supplied section path such as "1.2" and
// returns its numbers.
func ParsePartPath(s string) ([]int, bool) {
	if s == "" {
		return nil, false
	}
	fields := strings.Split(s, ".")
	out := make([]int, 0, len(fields))
	for _, f := range fields {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 || strconv.Itoa(n) != f {
			return nil, false
		}
		out = append(out, n)
	}
	return out, true
}

// FormatPartPath is the inverse of ParsePartPath.
func FormatPartPath(nums []int) string {
	s := make([]string, len(nums))
	for i, n := range nums {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ".")
}

// ChildPartPath returns the path of the n-th child of the part at parent,
// in a new slice, so siblings built from one parent never share storage.
func ChildPartPath(parent []int, n int) []int {
	out := make([]int, len(parent), len(parent)+1)
	copy(out, parent)
	return append(out, n)
}
