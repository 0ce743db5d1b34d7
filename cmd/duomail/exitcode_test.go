package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/config"
	"github.com/duomail/duomail/client/wire"
)

func TestExitCodes(t *testing.T) {
	tests := []struct {
		err  error
		code int
	}{
		{nil, 0},
		{errors.New("disk full"), 1},
		{fmt.Errorf("fetch 3: %w", client.ErrNotFound), 1},
		{fmt.Errorf("list: %w", client.ErrStaleIDs), 1},
		{&config.Error{File: "f", Key: "k", Msg: "bad"}, 1},
		{&config.Error{Env: "DUOMAIL_ACCOUNTS_WORK_PORT", Key: "accounts.work.port", Msg: "bad"}, 1},
		{&config.Error{URL: "imap://u@h:0", Key: "port", Msg: "bad"}, 2},
		{&client.ServerError{Op: "select", Text: "no such mailbox"}, 1},
		{&usageError{errors.New("unknown flag: --x")}, 2},
		{fmt.Errorf("sync INBOX: lock cache: %w: process 1 held it for all of 1m0s", client.ErrLocked), 7},
		{fmt.Errorf("fetch: %w: empty message ID", client.ErrUsage), 2},
		{&client.ServerError{Op: "login", Text: "bad password", Auth: true}, 3},
		{fmt.Errorf("login: %w", client.ErrAuth), 3},
		{wire.NetError("connect h:993", io.EOF), 4},
		{fmt.Errorf("connect: %w: connection refused", client.ErrNetwork), 4},
		{fmt.Errorf("handshake: %w: unknown authority", client.ErrTLS), 4},
		{client.Unsupported("move", "POP3 has no folders"), 5},
		{fmt.Errorf("list: %w", client.Unsupported("list --headers-only", "server lacks TOP")), 5},
	}
	for _, tc := range tests {
		if got := exitCode(tc.err); got != tc.code {
			t.Errorf("exitCode(%v) = %d, want %d", tc.err, got, tc.code)
		}
	}
}

func TestErrorMessage(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{client.Unsupported("move", "POP3 has no folders"), "move: POP3 has no folders"},
		{fmt.Errorf("read: %w", io.EOF), "read: connection closed unexpectedly"},
		{io.EOF, "connection closed unexpectedly"},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), "read: connection closed unexpectedly"},
		{context.Canceled, "interrupted"},
		{&client.ServerError{Op: "select", Text: "No\x1b[31m such\r\nfolder\u202e"}, "select: server said: No such folder"},
		{errors.New("unknown command \"x\"\n\nDid you mean this?\n\tlist\n"), "unknown command \"x\" Did you mean this? list"},
	}
	for _, tc := range tests {
		got := errorMessage(tc.err)
		if got != tc.want {
			t.Errorf("errorMessage(%q) = %q, want %q", tc.err, got, tc.want)
		}
		if strings.ContainsAny(got, "\x1b\r\n") {
			t.Errorf("control characters in %q", got)
		}
	}
}
