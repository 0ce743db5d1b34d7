package main

import (
	"context"
	"fmt"
	"sync"

	"github.com/duomail/duomail/client/mailcheck"
	"github.com/duomail/duomail/client/termtext"
	"github.com/spf13/cobra"
)

type checkOptions struct {
	app        *app
	All        bool   // every configured account
	Folder     string // "" is INBOX
	AllFolders bool
}

func newCheckCmd(a *app, runF func(context.Context, *checkOptions) error) *cobra.Command {
	opts := &checkOptions{app: a}
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Count new mail, for scripts and status bars (exit 0: new mail, 1: none)",
		Long: `Count the messages of a folder: total, unseen, and new since the last
check. Nothing is downloaded: IMAP asks for the folder's STATUS (and, when
mail arrived, the UIDs above the last one seen); POP3 compares the UIDL
list with the previous check and the local cache. What each check saw is
remembered in <cache_dir>/<account>/check-state.json; on the first check
of a folder its unseen mail counts as new.

--all checks every configured account at the same time. -f checks one
folder (default INBOX); --folders checks every folder (POP3 has only
INBOX).

Exit status, as fetchmail and "neomutt -Z": 0 when there is new mail, 1
when there is none, 2 usage error, 3 login refused, 4 network or TLS
failure, 5 not supported by the protocol, 6 any other error. With --all
an account that fails sets the status (the first one, in the order
"accounts" lists them), and the others are still checked and shown.`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			if opts.All && (a.accountFlag || a.flags.url != "") {
				return usageErrorf("--all checks every configured account: give no -a or --url")
			}
			if opts.Folder != "" && opts.AllFolders {
				return usageErrorf("-f and --folders exclude each other")
			}
			if runF != nil {
				return runF(ctx, opts)
			}
			return runCheck(ctx, opts)
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&opts.All, "all", false, "check every configured account, at the same time")
	f.StringVarP(&opts.Folder, "folder", "f", "", "`folder` to check (default INBOX)")
	f.BoolVar(&opts.AllFolders, "folders", false, "check every folder")
	return cmd
}

func runCheck(ctx context.Context, opts *checkOptions) error {
	a := opts.app
	targets, cfg, err := a.checkTargets(opts.All)
	if err != nil {
		return checkStatus(err)
	}
	results := make([]mailcheck.Result, len(targets))
	var wg sync.WaitGroup
	for i, ac := range targets {
		s, err := a.openSession(ac, cfg, opts.All)
		if err != nil {
			results[i] = mailcheck.Result{Errors: []mailcheck.FolderError{{Err: err}}}
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = mailcheck.Account(ctx, s.mb, mailcheck.Options{Folder: opts.Folder, AllFolders: opts.AllFolders, Warn: a.warn})
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return ctx.Err()
	}

	res := &checkResult{}
	var first error
	anyNew := false
	for i, r := range results {
		name := targets[i].Name
		res.Checks = append(res.Checks, r.Checks...)
		for _, c := range r.Checks {
			anyNew = anyNew || c.New > 0
		}
		for _, fe := range r.Errors {
			msg := errorMessage(fe.Err)
			res.Errors = append(res.Errors, checkError{Account: name, Folder: fe.Folder, Error: msg})
			a.errMu.Lock()
			fmt.Fprintf(a.io.err, "duomail: %s: %s\n", termtext.Field(name), msg)
			a.errMu.Unlock()
			if first == nil {
				first = fe.Err
			}
		}
	}
	if err := a.out.print(res); err != nil {
		return err
	}
	switch {
	case first != nil:
		return &exitStatus{code: checkStatus(first).code}
	case !anyNew:
		return &exitStatus{code: 1}
	}
	return nil
}

// checkStatus gives an error check's exit status: 1 means "no new mail"
// there, so an error other commands exit 1 with exits 6.
func checkStatus(err error) *exitStatus {
	code := exitCode(err)
	if code == exitError {
		code = exitOther
	}
	return &exitStatus{code: code, err: err}
}

// checkTargets are the accounts to check: every configured one, or the
// one chosen as for any command.
func (a *app) checkTargets(all bool) ([]*AccountConfig, *Config, error) {
	if !all {
		ac, cfg, err := a.accountConfig()
		if err != nil {
			return nil, nil, err
		}
		return []*AccountConfig{ac}, cfg, nil
	}
	cfg, err := a.config()
	if err != nil {
		return nil, nil, err
	}
	if len(cfg.Accounts) == 0 {
		return nil, nil, usageErrorf("%s", noAccountHint(a, cfg))
	}
	var out []*AccountConfig
	for _, name := range cfg.Names() {
		out = append(out, cfg.Accounts[name])
	}
	return out, cfg, nil
}
