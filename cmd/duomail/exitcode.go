package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/termtext"
)

// Exit codes. Every error a command returns is mapped here, in one place,
// from the error kinds in package client.
const (
	exitOK          = 0
	exitError       = 1 // anything else, including a broken config file
	exitUsage       = 2 // bad flags or arguments, unknown account, client.ErrUsage
	exitAuth        = 3 // client.ErrAuth: the server refused the credentials, or there are none
	exitNetwork     = 4 // client.ErrNetwork (and client.ErrTLS): connect, timeout, certificate
	exitUnsupported = 5 // client.ErrUnsupported: the protocol cannot do it
	exitLocked      = 7 // client.ErrLocked: another process kept the cache past --lock-timeout
	// A signal that ended the command exits as a shell reports it: 128 + its
	// number, 130 for SIGINT (Ctrl-C), 143 for SIGTERM.
	exitInterrupted = 130
	exitTerminated  = 143
)

// exitMeaning documents a status for users: the manual pages' EXIT STATUS
// sections are generated from these tables.
type exitMeaning struct {
	code    int
	meaning string
}

var exitMeanings = []exitMeaning{
	{exitOK, "success"},
	{exitError, "any other error: a broken configuration file, a message or part not found, a server refusal other than login, a file that already exists, stale IDs"},
	{exitUsage, "usage: unknown command or option, bad arguments, bad --url, unknown account"},
	{exitAuth, "authentication failed, or no password could be obtained"},
	{exitNetwork, "network or TLS: refused, reset, timed out, certificate not trusted, a wrong port or tls mode"},
	{exitUnsupported, "not supported by this protocol (the message says why)"},
	{exitLocked, "the account's cache stayed in use by another duomail process for all of --lock-timeout"},
	{exitInterrupted, "interrupted by SIGINT (Ctrl-C); the cache keeps what was stored"},
	{exitTerminated, "ended by SIGTERM; the cache keeps what was stored"},
}

// checkExitMeanings are check's statuses: 0 and 1 as fetchmail gives
// them, so "any other error" moves to exitOther.
func checkExitMeanings() []exitMeaning {
	out := []exitMeaning{{exitOK, "new mail"}, {exitError, "no new mail"}}
	for _, m := range exitMeanings[2:] {
		out = append(out, m)
		if m.code == exitUnsupported {
			out = append(out, exitMeaning{exitOther, "any other error; with --all, the first failing account decides"})
		}
	}
	return out
}

// usageError marks a mistake on the command line. It matches
// client.ErrUsage, so library usage errors and ours exit alike.
type usageError struct{ err error }

func (e *usageError) Error() string        { return e.err.Error() }
func (e *usageError) Unwrap() error        { return e.err }
func (e *usageError) Is(target error) bool { return target == client.ErrUsage }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// exitCode maps an error to the process exit status.
func exitCode(err error) int {
	var status *exitStatus
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &status):
		return status.code
	case errors.Is(err, client.ErrAuth):
		return exitAuth
	case errors.Is(err, client.ErrNetwork):
		return exitNetwork
	case errors.Is(err, client.ErrUnsupported):
		return exitUnsupported
	case errors.Is(err, client.ErrLocked):
		return exitLocked
	case errors.Is(err, client.ErrUsage):
		return exitUsage
	}
	return exitError
}

// errorMessage is the one line printed after "duomail: ". Server texts in
// it are sanitised; a bare EOF (a library's way of saying the peer went
// away) is said in words.
func errorMessage(err error) string {
	switch {
	case errors.Is(err, context.Canceled):
		return "interrupted"
	case errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, client.ErrNetwork):
		return "timed out"
	}
	msg := err.Error()
	if msg == "EOF" || strings.HasSuffix(msg, ": EOF") {
		msg = strings.TrimSuffix(msg, "EOF") + "connection closed unexpectedly"
	} else if msg == "unexpected EOF" || strings.HasSuffix(msg, ": unexpected EOF") {
		msg = strings.TrimSuffix(msg, "unexpected EOF") + "connection closed unexpectedly"
	}
	// One line: a server's multi-line text or cobra's suggestions fold.
	return strings.Join(strings.Fields(termtext.Field(msg)), " ")
}

// exitOther is what check exits with for an error other commands report
// with 1, as check gives 1 its fetchmail meaning: no new mail.
const exitOther = 6

// exitStatus ends a command with a given status after its result was
// printed: check found no new mail (1), or one account of several failed.
// err, when set, is printed as any error is; nil means the command has
// already said what there was to say.
type exitStatus struct {
	code int
	err  error
}

func (e *exitStatus) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitStatus) Unwrap() error { return e.err }
