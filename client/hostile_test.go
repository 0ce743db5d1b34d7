package client_test

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/fetch"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/popsrc/pop3test"
)

// A part whose transfer encoding is corrupt: the text shows with a warning;
// writing the part itself fails naming the message and part, never with the
// decoder's bare words.
func TestCorruptPartThroughMailbox(t *testing.T) {
	var raw []byte
	for _, m := range sourcetest.HostileMessages() {
		if m.Name == "bad-base64" {
			raw = m.Raw
		}
	}
	srv := startPOP(t, pop3test.Options{})
	srv.Add("alice", raw)
	mb := newMailbox(t, popAccount(srv), popDriver, nil)
	envs, err := mb.List(ctxT(t), client.ListRequest{})
	if err != nil || len(envs) != 1 {
		t.Fatalf("list: %v %v", envs, err)
	}
	msg, err := fetch.Open(ctxT(t), mb, "", envs[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var text bytes.Buffer
	warnings, err := msg.WriteText(ctxT(t), &text)
	if err != nil || len(warnings) != 1 || !strings.Contains(text.String(), "MARKER-bad-base64") {
		t.Errorf("text %q, warnings %q, err %v", text.String(), warnings, err)
	}
	_, _, err = msg.WritePart(ctxT(t), "1", io.Discard)
	if err == nil || !strings.HasPrefix(err.Error(), "fetch "+envs[0].ID+": part 1: ") {
		t.Errorf("part 1: %v", err)
	}
}
