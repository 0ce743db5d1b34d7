package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/imapsrc/imaptest"
)

// A server without UIDPLUS (GNU Mailutils imap4d): capabilities names the
// guarded path, delete works while no other message carries \Deleted, is
// refused with the count while one does, and --expunge-others lets it go.
func TestBinaryDeleteWithoutUIDPlus(t *testing.T) {
	t.Parallel()
	caps := slices.DeleteFunc(slices.Clone(imaptest.DefaultCaps), func(c string) bool { return c == "UIDPLUS" || c == "MOVE" })
	srv, err := imaptest.Start(imaptest.Options{InsecureAuth: true, Caps: caps})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for i, flags := range [][]string{nil, {`\Deleted`}, nil, nil} {
		raw := fmt.Sprintf("From: a@example.org\r\nSubject: m%d\r\n\r\nbody\r\n", i+1)
		if err := srv.Append("alice", "INBOX", []byte(raw), flags, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	url := fmt.Sprintf("imap://alice@127.0.0.1:%d?tls=none", srv.Port())

	if r := c.ok("--url", url, "list", "--json"); strings.Count(r.stdout, `"id"`) != 4 {
		t.Fatalf("list before: %s", r.stdout)
	}
	r := c.ok("--url", url, "capabilities")
	if !strings.Contains(r.stdout, "expunge\ttrue\tSTORE \\Deleted + EXPUNGE, refused while other messages carry \\Deleted") {
		t.Errorf("capabilities:\n%s", r.stdout)
	}

	r = c.fails(exitUnsupported, "--url", url, "delete", "--expunge", "1")
	want := "duomail: delete: delete from INBOX: 1 other message in INBOX carries \\Deleted (uid 2, flagged by another client?) and the server lacks UIDPLUS, " +
		"so EXPUNGE would remove them too; nothing was changed (--expunge-others removes them as well)\n"
	if r.stderr != want {
		t.Errorf("refusal:\n got %q\nwant %q", r.stderr, want)
	}

	r = c.ok("--url", url, "delete", "--expunge", "--expunge-others", "1")
	if want := "Deleted 1 message from INBOX for good (expunged): 1 \"m1\" from a@example.org. 1 other message already flagged \\Deleted went too.\n"; r.stdout != want {
		t.Errorf("delete --expunge-others: %q", r.stdout)
	}
	c.ok("--url", url, "delete", "--expunge", "3")
	c.ok("--url", url, "move", "4", "--to", "Archive")
	if r := c.ok("--url", url, "list", "--json"); strings.Contains(r.stdout, `"id"`) {
		t.Errorf("INBOX not empty: %s", r.stdout)
	}
	if r := c.ok("--url", url, "list", "--json", "-f", "Archive"); strings.Count(r.stdout, `"id"`) != 1 {
		t.Errorf("Archive: %s", r.stdout)
	}
}
