package main

import (
	"errors"
	"fmt"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/config"
)

func TestCheckExitStatus(t *testing.T) {
	tests := []struct {
		err  error
		code int
	}{
		{errors.New("disk full"), exitOther},
		{&config.Error{File: "f", Msg: "bad"}, exitOther},
		{fmt.Errorf("login: %w", client.ErrAuth), exitAuth},
		{fmt.Errorf("connect: %w", client.ErrNetwork), exitNetwork},
		{client.Unsupported("check Archive", "POP3 has no folders"), exitUnsupported},
		{usageErrorf("-f and --folders exclude each other"), exitUsage},
	}
	for _, tc := range tests {
		if got := exitCode(checkStatus(tc.err)); got != tc.code {
			t.Errorf("check exit for %v = %d, want %d", tc.err, got, tc.code)
		}
	}
	if exitCode(&exitStatus{code: 1}) != 1 || exitCode(fmt.Errorf("x: %w", &exitStatus{code: 4})) != 4 {
		t.Errorf("exitStatus codes")
	}
}
