package imapsrc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

func init() {
	suite = append(suite, struct {
		name string
		f    func(*testing.T, *backend)
	}{"Watch", testWatch})
}

// waitFor polls until cond holds or the limit passes.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

// idling reports whether the trace shows an IDLE the server accepted and
// that was not ended yet.
func idling(trace string) bool {
	i := strings.LastIndex(trace, " IDLE\n")
	return i >= 0 && strings.Contains(trace[i:], "S: + ") && !strings.Contains(trace[i:], "C: DONE")
}

func testWatch(t *testing.T, b *backend) {
	var trace syncBuffer
	s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
	// Stops a Watch left running by a failure, before s is closed.
	ctx, cancel := context.WithCancel(bg)
	t.Cleanup(cancel)
	done := make(chan error, 1)
	go func() { done <- s.Watch(ctx, b.box) }()
	if !waitFor(5*time.Second, func() bool { return idling(trace.String()) }) {
		t.Fatalf("not idling:\n%s", trace.String())
	}

	// Another client delivers.
	other := b.raw(t, "alice")
	msg := []byte(msgPlain)
	start := time.Now()
	app := other.Append(b.box, int64(len(msg)), nil)
	app.Write(msg)
	app.Close()
	if _, err := app.Wait(); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("watch: %v", err)
		}
		t.Logf("watch returned %v after the append", time.Since(start))
		if d := time.Since(start); d > 6*time.Second {
			t.Errorf("watch took %v to notice new mail", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("watch did not return after new mail:\n%s", trace.String())
	}
	if !strings.Contains(trace.String(), "C: DONE") {
		t.Errorf("IDLE not ended with DONE:\n%s", trace.String())
	}

	// Cancelling ends IDLE politely and keeps the session usable.
	ctx, cancel = context.WithCancel(bg)
	go func() { done <- s.Watch(ctx, b.box) }()
	if !waitFor(5*time.Second, func() bool { return idling(trace.String()) }) {
		t.Fatalf("not idling again:\n%s", trace.String())
	}
	start = time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || time.Since(start) > 6*time.Second {
			t.Errorf("cancelled watch: %v after %v", err, time.Since(start))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("watch ignored cancellation")
	}
	st, err := s.Status(bg, b.box)
	if err != nil || st.Messages != 1 {
		t.Errorf("after watch: %+v %v", st, err)
	}
}
