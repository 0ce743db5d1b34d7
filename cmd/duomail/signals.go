package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"syscall"
)

// signalled is the cause of a context ended by a signal, so that the exit
// status can say which one, as a shell does (130 for SIGINT, 143 for
// SIGTERM) instead of passing for an ordinary failure.
type signalled struct{ sig os.Signal }

func (s *signalled) Error() string {
	if s.sig == syscall.SIGTERM {
		return "terminated"
	}
	return "interrupted"
}

// code is the exit status for the signal.
func (s *signalled) code() int {
	switch s.sig {
	case os.Interrupt:
		return exitInterrupted
	case syscall.SIGTERM:
		return exitTerminated
	}
	return exitError
}

// signalContext is signal.NotifyContext that keeps the signal as the
// context's cause.
func signalContext(parent context.Context, sigs ...os.Signal) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(parent)
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, sigs...)
	done := make(chan struct{})
	go func() {
		select {
		case s := <-ch:
			cancel(&signalled{s})
		case <-done:
		}
	}()
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		cancel(nil)
	}
}

// signalledBy reports the signal that ended ctx, if one did.
func signalledBy(ctx context.Context) *signalled {
	var s *signalled
	if errors.As(context.Cause(ctx), &s) {
		return s
	}
	return nil
}
