package main

import (
	"context"
	"fmt"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/localcache"
)

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
	drv, ok := drivers[ac.Protocol]
	if !ok {
		return nil, fmt.Errorf("account %s: no driver for protocol %q", ac.Name, ac.Protocol)
	}
	acct := a.clientAccount(ac, cfg)
	cache, err := localcache.Open(acct.CacheDir)
	if err != nil {
		return nil, fmt.Errorf("account %s: %w", ac.Name, err)
	}
	a.cache = cache
	a.stats = client.NewWireStats(ac.Protocol)
	opts := client.DialOptions{Stats: a.stats, Warn: a.warn}
	if a.flags.debug {
		// Sources redact credentials; the sanitiser keeps the server's
		// words from driving the terminal.
		opts.Debug = newSanitizeWriter(a.io.err, false)
	}
	a.mb = client.NewMailbox(acct, drv, cache, opts)
	return a.mb, nil
}
