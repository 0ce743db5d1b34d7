package localcache

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/duomail/duomail/client"
)

// LockHolder is what the process holding the sync lock wrote into the
// lock file: its process ID and command line. PID is 0 when unknown (an
// older duomail, or a holder that has not written yet).
type LockHolder struct {
	PID     int
	Command string
}

func (h LockHolder) String() string {
	if h.PID == 0 {
		return "another duomail process"
	}
	if h.Command == "" {
		return fmt.Sprintf("process %d", h.PID)
	}
	return fmt.Sprintf("process %d (%s)", h.PID, h.Command)
}

// lockWaitNotice is how long Lock waits before calling LockWaiting.
const lockWaitNotice = time.Second

// maxHolderCommand bounds the command line kept in the lock file.
const maxHolderCommand = 200

// Lock implements client.Cache with an exclusive lock (see lockFile) on dir/lock,
// polled so that ctx or Options.LockTimeout can end the wait. Once the
// lock is held, it recovers from any run that was interrupted while
// holding it. unlock is safe to call more than once.
func (c *Cache) Lock(ctx context.Context) (unlock func(), err error) {
	if err := c.checkWritable(); err != nil {
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	f, err := c.tryLock(ctx, true)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	marker := filepath.Join(c.dir, uncleanName)
	// closing the descriptor releases the flock; the marker goes first,
	// so a holder that dies leaves it behind
	unlock = func() { once.Do(func() { os.Remove(marker); f.Close() }) }
	// A full comparison of every Maildir with the index costs a walk over
	// every message (BenchmarkRecovery): only after a holder stopped
	// uncleanly. Otherwise the signs an interrupted write or another
	// program leaves (files in tmp/, changed cur/ and new/) decide.
	if err := c.recover(ctx, unclean(marker), true); err != nil {
		once.Do(func() { f.Close() }) // still unclean: keep the marker
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	if err := os.WriteFile(marker, nil, filePerm); err != nil {
		once.Do(func() { f.Close() })
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	return unlock, nil
}

// unclean reports whether the marker of a lock holder is there; one that
// cannot be checked counts as there.
func unclean(marker string) bool {
	_, err := os.Lstat(marker)
	return !errors.Is(err, fs.ErrNotExist)
}

// tryLock takes the sync lock, waiting for it until ctx ends or the lock
// timeout passes when wait is set; without wait it returns (nil, nil)
// when someone else holds it. The holder writes its process ID and
// command line into the file, for those who wait to say whom.
func (c *Cache) tryLock(ctx context.Context, wait bool) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(c.dir, lockName), os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	const poll = 25 * time.Millisecond
	start := time.Now()
	noticed := c.lockOpts.LockWaiting == nil
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		held, err := lockFile(f)
		if held {
			writeHolder(f)
			return f, nil
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock cache: %w", err)
		}
		if !wait {
			f.Close()
			return nil, nil
		}
		waited := time.Since(start)
		if limit := c.lockOpts.LockTimeout; limit > 0 && waited >= limit {
			h := readHolder(f)
			f.Close()
			return nil, fmt.Errorf("lock cache: %w: %s held it for all of %v", client.ErrLocked, h, limit)
		}
		if !noticed && waited >= lockWaitNotice {
			noticed = true
			c.lockOpts.LockWaiting(readHolder(f))
		}
		t.Reset(poll)
		select {
		case <-ctx.Done():
			h := readHolder(f)
			f.Close()
			return nil, fmt.Errorf("lock cache: waiting for %s, which holds it: %w", h, ctx.Err())
		case <-t.C:
		}
	}
}

// writeHolder records this process in the lock file. It is a courtesy
// to those who wait, so a failure to write is no reason to fail.
func writeHolder(f *os.File) {
	args := append([]string(nil), os.Args...)
	if len(args) > 0 {
		// The program's name without its directory says enough.
		args[0] = filepath.Base(args[0])
	}
	cmd := strings.Join(args, " ")
	if len(cmd) > maxHolderCommand {
		cmd = cmd[:maxHolderCommand] + "..."
	}
	if f.Truncate(0) == nil {
		f.WriteAt([]byte(fmt.Sprintf("%d\n%s\n", os.Getpid(), cmd)), 0)
	}
}

// readHolder reads what the holder wrote; the zero LockHolder when the
// file says nothing usable.
func readHolder(f *os.File) LockHolder {
	buf := make([]byte, 64+maxHolderCommand*2)
	n, _ := f.ReadAt(buf, 0)
	pid, cmd, _ := strings.Cut(string(buf[:n]), "\n")
	p, err := strconv.Atoi(pid)
	if err != nil || p <= 0 {
		return LockHolder{}
	}
	return LockHolder{PID: p, Command: strings.TrimSuffix(cmd, "\n")}
}

func (c *Cache) recoverIfUnlocked(ctx context.Context) error {
	f, err := c.tryLock(ctx, false)
	if err != nil || f == nil {
		return err
	}
	defer f.Close()
	marker := filepath.Join(c.dir, uncleanName)
	if !unclean(marker) {
		return c.recover(ctx, false, false)
	}
	if err := c.recover(ctx, true, false); err != nil {
		return err
	}
	return os.Remove(marker)
}
