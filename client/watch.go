package client

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// WatchOptions control Watch.
type WatchOptions struct {
	Folder string
	// Interval is how often to look where the server cannot announce new
	// mail (POP3). Default 5 minutes.
	Interval time.Duration
	// OnMessage is called once per new message, oldest first. An error
	// stops the watch.
	OnMessage func(Envelope) error
	// OnRetry is told about a lost connection and the wait before the
	// next attempt.
	OnRetry func(err error, wait time.Duration)
	// MaxBackoff caps the wait between reconnection attempts. Default 5 minutes.
	MaxBackoff time.Duration
}

// Watch reports new mail as it arrives until ctx ends (then it returns nil).
// Where the server pushes (IMAP IDLE) it waits for the server; elsewhere it
// polls every Interval, each time with a new session because a POP3 session
// sees only the mail present when it began. Mail present when the watch
// starts is not reported. A dropped connection is retried with exponential
// backoff, and mail that arrived meanwhile is reported after reconnecting;
// a refused login ends the watch with the error.
func (m *Mailbox) Watch(ctx context.Context, opts WatchOptions) error {
	folder := FolderName(opts.Folder)
	if opts.Interval <= 0 {
		opts.Interval = 5 * time.Minute
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	defer m.Close()
	var seen watchState
	backoff := time.Second
	for {
		err := m.watchOnce(ctx, folder, &seen, opts)
		if ctx.Err() != nil {
			return nil
		}
		if err == nil {
			backoff = time.Second
			continue
		}
		if errors.Is(err, ErrAuth) || errors.Is(err, ErrUnsupported) || errors.Is(err, errStopWatch) {
			return err
		}
		m.Close()
		if opts.OnRetry != nil {
			opts.OnRetry(err, backoff)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, opts.MaxBackoff)
	}
}

var errStopWatch = errors.New("watch stopped by handler")

// watchState is what a watch has already seen: IDs, and the UIDVALIDITY
// they belong to.
type watchState struct {
	known       map[string]bool
	uidValidity uint32
}

// watchOnce compares the folder with what is known, reports what is new,
// then waits for the next change (push) or interval (poll).
func (m *Mailbox) watchOnce(ctx context.Context, folder string, seen *watchState, opts WatchOptions) error {
	src, err := m.Source(ctx)
	if err != nil {
		return err
	}
	st, items, err := src.Inventory(ctx, FolderRef{Name: folder}, InventoryOptions{})
	if err != nil {
		return fmt.Errorf("watch %s: %w", folder, err)
	}
	// A new UIDVALIDITY renames every message: take the folder as it is
	// now rather than announce all of it as new.
	if seen.known == nil || st.UIDValidity != seen.uidValidity {
		seen.known = make(map[string]bool, len(items))
		seen.uidValidity = st.UIDValidity
		for _, it := range items {
			seen.known[it.ID] = true
		}
	} else if err := m.reportNew(ctx, src, folder, items, seen.known, opts); err != nil {
		return err
	}

	if w, ok := src.(Watcher); ok && m.caps.Has(FeaturePush) {
		// The Watcher names the operation and folder itself.
		if err := w.Watch(ctx, folder); err != nil && ctx.Err() == nil {
			return err
		}
		return nil
	}
	// Polling: end this session so the next one sees new mail.
	if err := m.Close(); err != nil {
		return err
	}
	select {
	case <-ctx.Done():
	case <-time.After(opts.Interval):
	}
	return nil
}

func (m *Mailbox) reportNew(ctx context.Context, src Source, folder string, items []Item, known map[string]bool, opts WatchOptions) error {
	var fresh []string
	sizes := make(map[string]int64)
	for _, it := range items {
		if !known[it.ID] {
			fresh = append(fresh, it.ID)
			sizes[it.ID] = it.Size
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	envs := make(map[string]Envelope, len(fresh))
	_, err := src.List(ctx, FolderRef{Name: folder}, ListOptions{IDs: fresh}, func(e Envelope) error {
		envs[e.ID] = e
		return nil
	})
	if err != nil && !errors.Is(err, ErrUnsupported) {
		return fmt.Errorf("watch %s: %w", folder, err)
	}
	for _, id := range fresh {
		e, ok := envs[id]
		if !ok {
			// No headers without downloading: report what is known.
			e = Envelope{ID: id, Folder: folder, Size: sizes[id]}
		}
		if e.Folder == "" {
			e.Folder = folder
		}
		known[id] = true
		if opts.OnMessage != nil {
			if err := opts.OnMessage(e); err != nil {
				return fmt.Errorf("%w: %w", errStopWatch, err)
			}
		}
	}
	return nil
}
