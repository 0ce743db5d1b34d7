package localcache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

// A Lock that waits says after a second whom it waits for (the process
// ID and command line the holder wrote), and gives up at its timeout with
// ErrLocked naming the holder; without a timeout only ctx ends the wait.
func TestLockWaitSaysWhoAndGivesUp(t *testing.T) {
	dir := t.TempDir()
	holder := openCache(t, dir)
	unlock, err := holder.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	var (
		mu   sync.Mutex
		seen []LockHolder
		at   time.Duration
	)
	start := time.Now()
	waiter, err := OpenWithOptions(dir, Options{
		LockTimeout: 1500 * time.Millisecond,
		LockWaiting: func(h LockHolder) {
			mu.Lock()
			defer mu.Unlock()
			seen = append(seen, h)
			at = time.Since(start)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer waiter.Close()
	_, err = waiter.Lock(context.Background())
	elapsed := time.Since(start)
	if !errors.Is(err, client.ErrLocked) {
		t.Fatalf("Lock while held, with a timeout: %v, want ErrLocked", err)
	}
	if elapsed < 1500*time.Millisecond || elapsed > 5*time.Second {
		t.Errorf("gave up after %v, want about 1.5s", elapsed)
	}
	pid := fmt.Sprintf("process %d (", os.Getpid())
	if !strings.Contains(err.Error(), pid) {
		t.Errorf("error does not name the holder (%s...): %v", pid, err)
	}
	mu.Lock()
	if len(seen) != 1 || seen[0].PID != os.Getpid() || !strings.Contains(seen[0].Command, "localcache.test") {
		t.Errorf("told of the wait %d times, holder %+v; want once, this test (pid %d)", len(seen), seen, os.Getpid())
	}
	if at < time.Second {
		t.Errorf("told of the wait after %v, want a second", at)
	}
	mu.Unlock()

	// No timeout: the context decides.
	forever, err := OpenWithOptions(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer forever.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 1200*time.Millisecond)
	defer cancel()
	if _, err := forever.Lock(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Lock without a timeout: %v, want the context's deadline", err)
	}

	// Once let go, the waiter takes it.
	unlock()
	u, err := waiter.Lock(context.Background())
	if err != nil {
		t.Fatalf("Lock after release: %v", err)
	}
	u()
}
