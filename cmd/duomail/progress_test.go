package main

import (
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

func TestProgressOnlyAfterDelay(t *testing.T) {
	var out strings.Builder
	now := time.Unix(1000, 0)
	p := &progress{w: &out, enabled: true, start: now, now: func() time.Time { return now }}
	cb := p.callback()
	cb(client.Progress{Folder: "INBOX", Messages: 1, TotalMessages: 10, Bytes: 100, TotalBytes: 1000})
	if out.Len() != 0 {
		t.Fatalf("bar drawn before %v: %q", progressDelay, out.String())
	}
	now = now.Add(progressDelay + time.Millisecond)
	cb(client.Progress{Folder: "INBOX", Messages: 3, TotalMessages: 10, Bytes: 300, TotalBytes: 1000})
	p.done()
	if !strings.Contains(out.String(), "INBOX 3/10") {
		t.Errorf("bar output %q", out.String())
	}

	quiet := &progress{w: &out, enabled: false}
	if quiet.callback() != nil {
		t.Errorf("a disabled bar still wants progress")
	}
}
