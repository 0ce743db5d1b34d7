package imapsrc

import (
	"fmt"
	"strings"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/mimepart"
)

// envelopeFrom builds list's envelope and the MIME tree from FETCH data.
func envelopeFrom(buf *imapclient.FetchMessageBuffer, folder string, uidValidity uint32) (client.Envelope, *client.Part) {
	env := client.Envelope{
		ID:          uidString(buf.UID),
		Folder:      folder,
		Size:        buf.RFC822Size,
		Flags:       flagsFrom(buf.Flags),
		UIDValidity: uidValidity,
		To:          []string{},
	}
	if e := buf.Envelope; e != nil {
		env.Date = e.Date
		env.Subject = e.Subject
		if from := formatAddresses(e.From); len(from) > 0 {
			env.From = from[0]
		}
		if to := formatAddresses(e.To); len(to) > 0 {
			env.To = to
		}
		env.Cc = formatAddresses(e.Cc)
		env.ReplyTo = formatAddresses(e.ReplyTo)
		env.NormalizeReplyTo()
		env.MessageID = e.MessageID
		if n := len(e.InReplyTo); n > 0 {
			env.InReplyTo = e.InReplyTo[n-1]
		}
	}
	// Date stays the header's (zero when missing, like POP3's); arrival
	// is its own field.
	env.Received = buf.InternalDate
	var root *client.Part
	if buf.BodyStructure != nil {
		root = convertPart(buf.BodyStructure, nil, false, 0)
		env.HasAttachments = root.HasAttachments()
	}
	return env, root
}

// headerEnvelope is an embedded message's header fields, as
// mimepart.EnvelopeFromHeader gives them from the raw header.
func headerEnvelope(e *imap.Envelope) *client.Envelope {
	env := &client.Envelope{Date: e.Date, Subject: e.Subject, MessageID: e.MessageID}
	if from := formatAddresses(e.From); len(from) > 0 {
		env.From = from[0]
	}
	env.To = formatAddresses(e.To)
	env.Cc = formatAddresses(e.Cc)
	env.ReplyTo = formatAddresses(e.ReplyTo)
	env.NormalizeReplyTo()
	return env
}

func formatAddresses(list []imap.Address) []string {
	var out []string
	for _, a := range list {
		if a.IsGroupStart() || a.IsGroupEnd() {
			continue
		}
		out = append(out, mimepart.FormatAddress(a.Name, a.Addr()))
	}
	return out
}

// flagsFrom maps IMAP flags to duomail's spelling: system flags lose the
// backslash and are lower case, keywords stay as they are, \Recent (a
// per-session fact) is dropped. Never nil, so "no flags" differs from
// "flags not reported".
func flagsFrom(flags []imap.Flag) []client.Flag {
	out := make([]client.Flag, 0, len(flags))
	for _, f := range flags {
		if !strings.HasPrefix(string(f), `\`) {
			out = append(out, client.Flag(f))
			continue
		}
		name := strings.ToLower(strings.TrimPrefix(string(f), `\`))
		if name == "recent" {
			continue
		}
		if pf, ok := client.ParseFlag(name); ok {
			out = append(out, pf)
		} else {
			out = append(out, client.Flag(f))
		}
	}
	return out
}

// imapFlags maps duomail flags to IMAP ones for STORE.
func imapFlags(op string, flags []client.Flag) ([]imap.Flag, error) {
	out := make([]imap.Flag, 0, len(flags))
	for _, f := range flags {
		if pf, ok := client.ParseFlag(string(f)); ok {
			out = append(out, imap.Flag(`\`+strings.ToUpper(string(pf[:1]))+string(pf[1:])))
			continue
		}
		if !validKeyword(string(f)) {
			return nil, fmt.Errorf("%s: %w: %q is not a flag (seen, answered, flagged, draft, deleted) or a keyword", op, client.ErrUsage, f)
		}
		out = append(out, imap.Flag(f))
	}
	return out, nil
}

// validKeyword reports whether s can be sent as an IMAP keyword (an atom).
func validKeyword(s string) bool {
	if s == "" || strings.HasPrefix(s, `\`) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`(){%*"\]`, c) >= 0 {
			return false
		}
	}
	return true
}

// convertPart turns a BODYSTRUCTURE into the tree mimepart.ParseMessage builds
// from the raw message, numbered the same way: a single-part message is one
// part "1"; a multipart root has path ""; the body of a message/rfc822 part
// at "3" is its only child, a multipart with path "3" whose parts are
// "3.1"..., or a single part "3.1". go-imap's Walk does not descend into
// message/rfc822, hence the recursion here.
func convertPart(bs imap.BodyStructure, path []int, inner bool, depth int) *client.Part {
	switch b := bs.(type) {
	case *imap.BodyStructureMultiPart:
		p := &client.Part{Type: "multipart/" + strings.ToLower(b.Subtype), Params: map[string]string{}}
		if path != nil {
			p.Path = client.FormatPartPath(path)
		}
		if b.Extended != nil {
			p.Params = mimepart.DecodeParams(b.Extended.Params)
			setDisposition(p, b.Extended.Disposition)
		}
		if depth >= mimepart.MaxMIMEDepth {
			p.Type = "application/octet-stream"
			return p
		}
		for i, child := range b.Children {
			p.Children = append(p.Children, convertPart(child, client.ChildPartPath(path, i+1), false, depth+1))
		}
		return p
	case *imap.BodyStructureSinglePart:
		if path == nil {
			path = []int{1}
		} else if inner {
			path = client.ChildPartPath(path, 1)
		}
		p := &client.Part{
			Path:     client.FormatPartPath(path),
			Type:     strings.ToLower(b.Type + "/" + b.Subtype),
			Params:   mimepart.DecodeParams(b.Params),
			Encoding: strings.ToLower(b.Encoding),
			Size:     int64(b.Size),
		}
		if b.Extended != nil {
			setDisposition(p, b.Extended.Disposition)
		}
		if p.Filename == "" {
			p.Filename = p.Params["name"]
		}
		if b.MessageRFC822 != nil && b.MessageRFC822.BodyStructure != nil && depth < mimepart.MaxMIMEDepth &&
			p.Type == "message/rfc822" {
			p.Children = []*client.Part{convertPart(b.MessageRFC822.BodyStructure, path, true, depth+1)}
			if e := b.MessageRFC822.Envelope; e != nil {
				p.Envelope = headerEnvelope(e)
				p.Envelope.Size = p.Size
			}
		}
		return p
	}
	return &client.Part{Path: client.FormatPartPath(path), Type: "application/octet-stream"}
}

func setDisposition(p *client.Part, d *imap.BodyStructureDisposition) {
	if d == nil {
		return
	}
	p.Disposition = strings.ToLower(d.Value)
	p.Filename = mimepart.DecodeParams(d.Params)["filename"]
}
