package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/termtext"
	"github.com/duomail/duomail/localcache"
)

// session is one opened account: its mailbox (dialled on first use), its
// cache and what it cost on the wire. app.execute closes every session
// when the command ends and reports their statistics with --stats.
type session struct {
	name  string
	ac    *AccountConfig
	mb    *client.Mailbox
	cache io.Closer
	stats *client.WireStats
}

// mailbox opens the chosen account: its cache now, its server on first
// use. app.execute closes both when the command ends.
func (a *app) mailbox(ctx context.Context) (*client.Mailbox, error) {
	if a.mb != nil {
		return a.mb, nil
	}
	ac, cfg, err := a.accountConfig()
	if err != nil {
		return nil, err
	}
	s, err := a.openSession(ac, cfg, false)
	if err != nil {
		return nil, err
	}
	a.mb = s.mb
	return a.mb, nil
}

// openSession prepares one account for a command that may use several
// (compare, check --all). With labelled set, the --debug trace of each
// account is prefixed with its name, as several may talk at once.
func (a *app) openSession(ac *AccountConfig, cfg *Config, labelled bool) (*session, error) {
	drv, ok := drivers[ac.Protocol]
	if !ok {
		return nil, fmt.Errorf("account %s: no driver for protocol %q", ac.Name, ac.Protocol)
	}
	acct := a.clientAccount(ac, cfg)
	cache, err := localcache.OpenWithOptions(acct.CacheDir, localcache.Options{
		LockTimeout: a.flags.lockTimeout,
		LockWaiting: func(h localcache.LockHolder) {
			wait := "for as long as it takes"
			if a.flags.lockTimeout > 0 {
				wait = "up to " + a.flags.lockTimeout.String() + ", see --lock-timeout"
			}
			a.notice(fmt.Sprintf("duomail: account %s: waiting for %s, which is using the account's cache (%s)", ac.Name, h, wait))
		},
		IndexProgress: a.indexProgress(),
	})
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", ac.Name, err)
	}
	s := &session{name: ac.Name, ac: ac, cache: cache, stats: client.NewWireStats(ac.Protocol)}
	opts := client.DialOptions{Stats: s.stats, Warn: a.warn}
	if a.flags.debug {
		// Sources redact credentials; the sanitiser keeps the server's
		// words from driving the terminal.
		var w io.Writer = a.io.err
		if labelled {
			w = &prefixWriter{mu: &a.errMu, w: a.io.err, prefix: "[" + ac.Name + "] "}
		}
		opts.Debug = termtext.NewWriter(w, false)
	}
	s.mb = client.NewMailbox(acct, drv, cache, opts)
	a.sessionMu.Lock()
	if len(a.sessions) == 0 {
		a.sessionsStart = time.Now()
	}
	a.sessions = append(a.sessions, s)
	a.sessionMu.Unlock()
	return s, nil
}

// indexProgress draws a bar while the search index is filled from bodies
// cached before it existed (once per cache; see localcache.IndexText).
func (a *app) indexProgress() func(done, total int) {
	var p *progress
	return func(done, total int) {
		if p == nil {
			p = a.newProgress()
		}
		if update := p.callback(); update != nil {
			update(client.Progress{Folder: "search index", Messages: done, TotalMessages: total})
		}
		if done >= total {
			p.done()
			p = nil
		}
	}
}

// closeMailbox ends every server session and closes the caches.
func (a *app) closeMailbox() error {
	a.sessionMu.Lock()
	sessions := a.sessions
	a.sessionMu.Unlock()
	var errs []error
	for _, s := range sessions {
		if s.mb != nil {
			if err := s.mb.Close(); err != nil {
				what := "close connection"
				if len(sessions) > 1 {
					what = "account " + s.name + ": close connection"
				}
				errs = append(errs, fmt.Errorf("%s: %w", what, err))
			}
			s.mb = nil
		}
		if s.cache != nil {
			if err := s.cache.Close(); err != nil {
				errs = append(errs, fmt.Errorf("account %s: close cache: %w", s.name, err))
			}
			s.cache = nil
		}
	}
	a.mb = nil
	return errors.Join(errs...)
}

// statsJSON is the "stats" object of --json output with --stats: the one
// account's figures, or for a command that used several accounts their
// sum, with each account's own figures under "accounts".
func (a *app) statsJSON() *statsJSON {
	a.sessionMu.Lock()
	sessions := append([]*session(nil), a.sessions...)
	start := a.sessionsStart
	a.sessionMu.Unlock()
	switch len(sessions) {
	case 0:
		return nil
	case 1:
		st := newStatsJSON(sessions[0].stats)
		st.Account = sessions[0].name
		return st
	}
	all := &statsJSON{Ops: []client.OpCounts{}}
	var protocols []string
	seen := map[string]bool{}
	for _, s := range sessions {
		one := newStatsJSON(s.stats)
		one.Account = s.name
		all.Accounts = append(all.Accounts, one)
		all.Commands += one.Commands
		all.Sent += one.Sent
		all.Received += one.Received
		if !seen[one.Protocol] {
			seen[one.Protocol] = true
			protocols = append(protocols, one.Protocol)
		}
	}
	// The accounts may have worked at the same time: the time is the
	// command's, not the sum of theirs.
	all.Elapsed = time.Since(start)
	for i, p := range protocols {
		if i > 0 {
			all.Protocol += "+"
		}
		all.Protocol += p
	}
	return all
}

// statsLines are the --stats summary lines on stderr, one per account.
func (a *app) statsLines() []string {
	a.sessionMu.Lock()
	sessions := append([]*session(nil), a.sessions...)
	a.sessionMu.Unlock()
	var lines []string
	for _, s := range sessions {
		line := statsLine(s.stats)
		if len(sessions) > 1 {
			line = fmt.Sprintf("%s (%s)%s", line[:len(s.stats.Protocol)], termtext.Field(s.name), line[len(s.stats.Protocol):])
		}
		lines = append(lines, line)
	}
	return lines
}

// prefixWriter writes whole lines, each with a prefix, so the traces of
// accounts working at once stay apart. Lines of all its instances that
// share mu never interleave.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	i := bytes.LastIndexByte(p.buf, '\n')
	if i < 0 {
		return len(b), nil
	}
	var out bytes.Buffer
	for _, line := range bytes.SplitAfter(p.buf[:i+1], []byte("\n")) {
		if len(line) > 0 {
			out.WriteString(p.prefix)
			out.Write(line)
		}
	}
	p.buf = append(p.buf[:0], p.buf[i+1:]...)
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err := p.w.Write(out.Bytes())
	return len(b), err
}
