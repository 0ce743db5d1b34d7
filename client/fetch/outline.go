package fetch

import "github.com/duomail/duomail/client"

// Outline is what fetch shows of a message, or of a message forwarded in
// it: the text part, then each forwarded message (message/rfc822 part)
// with its own outline, in tree order.
type Outline struct {
	Text      *client.Part // nil when the message has no text part
	Forwarded []Forwarded
}

// Forwarded is a message/rfc822 part shown inline.
type Forwarded struct {
	Part *client.Part // the message/rfc822 part; Part.Envelope is its header
	Outline
}

// OutlineOf works out what to show of the message whose tree is root. It
// needs only the tree, so on IMAP nothing is fetched to decide it.
func OutlineOf(root *client.Part) Outline { return outlineOf(root, false) }

// Outline is OutlineOf, showing the HTML parts where msg.PreferHTML says.
func (msg *Message) Outline(root *client.Part) Outline { return outlineOf(root, msg.PreferHTML) }

func outlineOf(root *client.Part, preferHTML bool) Outline {
	o := Outline{Text: root.TextPart()}
	if h := root.HTMLPart(); preferHTML && h != nil {
		o.Text = h
	}
	root.Walk(func(q *client.Part) bool {
		if q.Type != "message/rfc822" {
			return true
		}
		f := Forwarded{Part: q}
		if len(q.Children) > 0 {
			f.Outline = outlineOf(q.Children[0], preferHTML)
		}
		o.Forwarded = append(o.Forwarded, f)
		return false
	})
	return o
}

// shown collects the text parts of o and of everything forwarded in it.
func (o Outline) shown(into map[*client.Part]bool) {
	if o.Text != nil {
		into[o.Text] = true
	}
	for _, f := range o.Forwarded {
		f.shown(into)
	}
}

// ListedPart is one part listed after the text: what a reader would want
// to know before asking for it with --part or --save-attachments.
type ListedPart struct {
	Part     string `json:"part"`
	Filename string `json:"filename"` // as the sender named it; "" for none
	Type     string `json:"type"`
	// Size is the decoded size, worked out from the encoded size the
	// structure gives (see client.Part.DecodedSize), so listing costs no
	// download; SizeEstimated says it is not exact.
	Size          int64  `json:"size"`
	SizeEstimated bool   `json:"size_estimated"`
	Disposition   string `json:"disposition"` // "attachment" or "inline"
	// Subject is a forwarded message's subject.
	Subject string `json:"subject,omitempty"`
}

// OtherParts lists every part of root that o does not show as text, in
// tree order: attachments, inline images, text parts beyond the first,
// and forwarded messages (shown, but also parts to save). The other
// versions of a shown part (the HTML of a multipart/alternative whose
// plain part is shown) are the same content and are left out.
func (o Outline) OtherParts(root *client.Part) []ListedPart {
	shown := map[*client.Part]bool{}
	o.shown(shown)
	contains := func(p *client.Part) bool {
		found := false
		p.Walk(func(q *client.Part) bool {
			found = found || shown[q]
			return !found
		})
		return found
	}
	var out []ListedPart
	var walk func(p *client.Part)
	walk = func(p *client.Part) {
		switch {
		case p == nil || shown[p]:
			return
		case p.Type == "multipart/alternative" && contains(p):
			for _, c := range p.Children {
				if contains(c) {
					walk(c)
				}
			}
			return
		case p.IsMultipart():
			for _, c := range p.Children {
				walk(c)
			}
			return
		}
		size, est := p.DecodedSize()
		lp := ListedPart{Part: p.Path, Filename: p.Filename, Type: p.Type, Size: size, SizeEstimated: est, Disposition: p.Disposition}
		if lp.Disposition != "inline" && lp.Disposition != "attachment" {
			lp.Disposition = "inline"
			if p.IsAttachment() {
				lp.Disposition = "attachment"
			}
		}
		if p.Type == "message/rfc822" && p.Envelope != nil {
			lp.Subject = p.Envelope.Subject
		}
		out = append(out, lp)
		for _, c := range p.Children { // a forwarded message's own parts
			walk(c)
		}
	}
	walk(root)
	return out
}
