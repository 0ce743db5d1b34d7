package mimepart_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/mimepart"
	"github.com/duomail/duomail/client/sourcetest"
)

// The nested message is the one every package's tests share.

func TestParseMessageTree(t *testing.T) {
	env, root, err := mimepart.ParseMessage(strings.NewReader(sourcetest.NestedMessage))
	if err != nil {
		t.Fatal(err)
	}
	if env.Subject != "Grüße" || env.From != "Jörg <jorg@example.org>" || len(env.To) != 2 || env.To[1] != "bob@example.com" {
		t.Errorf("envelope = %+v", env)
	}
	if env.Size != int64(len(sourcetest.NestedMessage)) || !env.HasAttachments || env.MessageID != "mixed@example.org" {
		t.Errorf("size %d has_attachments %v id %q", env.Size, env.HasAttachments, env.MessageID)
	}
	var paths []string
	root.Walk(func(p *client.Part) bool { paths = append(paths, p.Path+"="+p.Type); return true })
	want := "=multipart/mixed 1=multipart/alternative 1.1=text/plain 1.2=text/html 2=application/pdf 3=message/rfc822 3.1=text/plain"
	if got := strings.Join(paths, " "); got != want {
		t.Errorf("tree\n got %s\nwant %s", got, want)
	}
	if tp := root.TextPart(); tp == nil || tp.Path != "1.1" {
		t.Errorf("text part = %+v", tp)
	}
	att := root.Attachments()
	if len(att) != 1 || att[0].Filename != "réport.pdf" || att[0].Path != "2" {
		t.Errorf("attachments = %+v", att)
	}
}

func TestCopyPartAndDecode(t *testing.T) {
	var buf bytes.Buffer
	p, err := mimepart.CopyPart(strings.NewReader(sourcetest.NestedMessage), "1.1", &buf)
	if err != nil {
		t.Fatal(err)
	}
	if buf.String() != "Sch=F6ne Gr=FC=DFe" {
		t.Fatalf("raw part = %q", buf.String())
	}
	var text bytes.Buffer
	if warn, err := mimepart.WriteText(p, &buf, &text); err != nil || warn != nil {
		t.Fatal(warn, err)
	}
	if text.String() != "Schöne Grüße" {
		t.Errorf("text = %q", text.String())
	}
	buf.Reset()
	_, err = mimepart.CopyPart(strings.NewReader(sourcetest.NestedMessage), "2", &buf)
	if err != nil || buf.String() != "aGVsbG8gd29ybGQ=" {
		t.Fatalf("part 2 = %q, %v", buf.String(), err)
	}
	buf.Reset()
	if _, err := mimepart.CopyPart(strings.NewReader(sourcetest.NestedMessage), "3.1", &buf); err != nil || buf.String() != "inner body" {
		t.Fatalf("part 3.1 = %q, %v", buf.String(), err)
	}
	if _, err := mimepart.CopyPart(strings.NewReader(sourcetest.NestedMessage), "9", &buf); err == nil {
		t.Error("missing part: no error")
	}
}
