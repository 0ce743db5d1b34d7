package client

import (
	"errors"
	"testing"
)

// Dovecot appends its timing to replies; users see the reason alone.
func TestServerTextDropsTiming(t *testing.T) {
	for text, want := range map[string]string{
		"Mailbox doesn't exist: Foo (0.001 + 0.000 secs).":        "Mailbox doesn't exist: Foo",
		"Fetch completed (0.001 + 0.000 + 0.001 secs).":           "Fetch completed",
		"[NONEXISTENT] Unknown Mailbox: x (0.000 + 0.000 secs)":   "[NONEXISTENT] Unknown Mailbox: x",
		"Quota exceeded (2 secs is not a timing)":                 "Quota exceeded (2 secs is not a timing)",
		"-ERR mailbox locked by another session, try again later": "-ERR mailbox locked by another session, try again later",
	} {
		e := &ServerError{Op: "select Foo", Text: text}
		if got := e.Error(); got != "select Foo: server said: "+want {
			t.Errorf("%q: %q", text, got)
		}
	}
}

// A missing message is not found either way; the words tell the two apart.
func TestMissingErrorWording(t *testing.T) {
	e := &MissingError{Folder: "INBOX", Never: []string{"9999"}, Gone: []string{"4", "7"}}
	if !errors.Is(e, ErrNotFound) || e.Error() != "no message 9999 in INBOX; messages 4, 7 in INBOX: no longer on the server" {
		t.Errorf("%v", e)
	}
}
