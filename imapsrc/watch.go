package imapsrc

import (
	"context"
	"fmt"
	"time"

	"github.com/emersion/go-imap/v2"

	"github.com/duomail/duomail/client"
)

const (
	// idleRestart re-issues IDLE well before the 29 minutes of RFC 2177 and
	// before NAT boxes forget a quiet connection; each restart is also a
	// round trip proving the server is alive.
	idleRestart = 4 * time.Minute
	// idleTimeout bounds silence while idling: Dovecot says "* OK Still
	// here" every two minutes, and a restart happens before this expires.
	idleTimeout = 5 * time.Minute
)

// Watch waits with IDLE until the server reports a change in the folder
// (EXISTS, EXPUNGE, FETCH) and returns nil, or until ctx ends, when IDLE is
// ended cleanly (DONE, then the server's OK) and ctx's error returned.
func (s *Source) Watch(ctx context.Context, folder string) error {
	op := "watch " + folder
	if !s.caps.Has(imap.CapIdle) {
		return client.Unsupported(op, "server lacks IDLE: poll instead")
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	// Selecting goes through run so a cancelled ctx cannot hang it; the
	// IDLE itself must survive ctx ending, to be stopped politely.
	err := s.run(ctx, op, func() error {
		if s.sel.name == folder && s.c.Mailbox() != nil {
			return nil
		}
		if err := s.reselect(folder); err != nil {
			return err
		}
		// Changes reported for the folder selected before are not news
		// about this one.
		s.drainEvents()
		return nil
	})
	if err != nil {
		return err
	}
	for {
		select {
		case <-s.events:
			return nil
		default:
		}
		changed, err := s.idleOnce(ctx, op)
		if err != nil || changed {
			return err
		}
		if ctx.Err() != nil {
			return fmt.Errorf("%s: %w", op, ctx.Err())
		}
	}
}

func (s *Source) drainEvents() {
	for {
		select {
		case <-s.events:
		default:
			return
		}
	}
}

// idleOnce runs one IDLE command until a change, ctx's end or the restart
// interval, and ends it.
func (s *Source) idleOnce(ctx context.Context, op string) (changed bool, err error) {
	s.wire.arm(s.timeout)
	defer s.wire.disarm()
	idle, err := s.c.Idle()
	if err != nil {
		return false, s.translate(op, err)
	}
	s.wire.arm(max(idleTimeout, s.timeout))
	timer := time.NewTimer(idleRestart)
	defer timer.Stop()
	select {
	case <-s.events:
		changed = true
	case <-ctx.Done():
	case <-timer.C:
	case <-s.c.Closed():
	}
	// DONE, then wait for the server's OK, bounded by the normal timeout.
	s.wire.arm(s.timeout)
	if err := idle.Close(); err != nil {
		return false, s.translate(op, err)
	}
	if err := idle.Wait(); err != nil {
		return false, s.translate(op, err)
	}
	return changed, nil
}
