package main

import (
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

func TestHookEnv(t *testing.T) {
	e := client.Envelope{
		ID: "42", Folder: "INBOX", From: "Eve <eve@example.org>", To: []string{"a@example.org", "b@example.org"},
		Subject: "$(rm -rf ~); `id` \x1b]52;c;cHduZWQ=\x07line\nbreak\x00", Size: 1234,
		Date:  time.Date(2025, 3, 4, 10, 5, 0, 0, time.FixedZone("CET", 3600)),
		Flags: []client.Flag{client.FlagSeen}, HasAttachments: true,
	}
	env := hookEnv([]string{"PATH=/bin", "DUOMAIL_SUBJECT=stale", "HOME=/h"}, "work", e)
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := got[k]; dup {
			t.Errorf("%s twice", k)
		}
		got[k] = v
	}
	want := map[string]string{
		"PATH": "/bin", "HOME": "/h",
		"DUOMAIL_ACCOUNT": "work", "DUOMAIL_FOLDER": "INBOX", "DUOMAIL_ID": "42",
		"DUOMAIL_FROM": "Eve <eve@example.org>", "DUOMAIL_TO": "a@example.org, b@example.org",
		"DUOMAIL_SUBJECT": "$(rm -rf ~); `id` line break", "DUOMAIL_DATE": "2025-03-04T10:05:00+01:00",
		"DUOMAIL_SIZE": "1234", "DUOMAIL_FLAGS": "seen,attachment", "DUOMAIL_MESSAGE_ID": "",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("environment %q", env)
	}
	if env := hookEnv(nil, "w", client.Envelope{}); !strings.Contains(strings.Join(env, "\n"), "DUOMAIL_DATE=\n") {
		t.Errorf("unknown date: %q", env)
	}
}
