package localcache

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Lock implements client.Cache with an exclusive flock(2) on dir/lock,
// polled so that ctx can end the wait. Once the lock is held, it recovers
// from any run that was interrupted while holding it. unlock is safe to
// call more than once.
func (c *Cache) Lock(ctx context.Context) (unlock func(), err error) {
	if err := c.checkWritable(); err != nil {
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	f, err := c.tryLock(ctx, true)
	if err != nil {
		return nil, err
	}
	var once sync.Once
	unlock = func() { once.Do(func() { f.Close() }) } // closing the descriptor releases the flock
	if err := c.recover(ctx, true); err != nil {
		unlock()
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	return unlock, nil
}

// tryLock takes the sync lock, waiting for it until ctx ends when wait is
// set; without wait it returns (nil, nil) when someone else holds it.
func (c *Cache) tryLock(ctx context.Context, wait bool) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(c.dir, lockName), os.O_RDWR|os.O_CREATE, filePerm)
	if err != nil {
		return nil, fmt.Errorf("lock cache: %w", err)
	}
	const poll = 25 * time.Millisecond
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock cache: %w", err)
		}
		if !wait {
			f.Close()
			return nil, nil
		}
		t.Reset(poll)
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("lock cache: another duomail process is syncing this account: %w", ctx.Err())
		case <-t.C:
		}
	}
}

func (c *Cache) recoverIfUnlocked(ctx context.Context) error {
	f, err := c.tryLock(ctx, false)
	if err != nil || f == nil {
		return err
	}
	defer f.Close()
	return c.recover(ctx, false)
}
