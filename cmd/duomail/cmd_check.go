package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/duomail/duomail/client"
	"github.com/spf13/cobra"
)

func newCheckCmd(a *app) *cobra.Command {
	var (
		all     bool
		folder  string
		folders bool
	)
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
			if all && (a.accountFlag || a.flags.url != "") {
				return usageErrorf("--all checks every configured account: give no -a or --url")
			}
			if folder != "" && folders {
				return usageErrorf("-f and --folders exclude each other")
			}
			targets, cfg, err := a.checkTargets(all)
			if err != nil {
				return checkStatus(err)
			}
			results := make([]accountCheck, len(targets))
			var wg sync.WaitGroup
			for i, ac := range targets {
				s, err := a.openSession(ac, cfg, all)
				if err != nil {
					results[i] = accountCheck{errs: []folderError{{folder: "", err: err}}}
					continue
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					results[i] = a.checkAccount(ctx, s, folder, folders)
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
				res.Checks = append(res.Checks, r.checks...)
				for _, c := range r.checks {
					anyNew = anyNew || c.New > 0
				}
				for _, fe := range r.errs {
					msg := errorMessage(fe.err)
					res.Errors = append(res.Errors, checkError{Account: name, Folder: fe.folder, Error: msg})
					a.errMu.Lock()
					fmt.Fprintf(a.io.err, "duomail: %s: %s\n", sanitizeField(name), msg)
					a.errMu.Unlock()
					if first == nil {
						first = fe.err
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
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&all, "all", false, "check every configured account, at the same time")
	f.StringVarP(&folder, "folder", "f", "", "`folder` to check (default INBOX)")
	f.BoolVar(&folders, "folders", false, "check every folder")
	return cmd
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
		where := defaultPaths(a.getenv).ConfigFile
		if cfg.File != "" {
			where = cfg.File
		}
		return nil, nil, usageErrorf("no account configured: add one to %s", where)
	}
	var out []*AccountConfig
	for _, name := range cfg.Names() {
		out = append(out, cfg.Accounts[name])
	}
	return out, cfg, nil
}

// accountCheck is what checking one account gave.
type accountCheck struct {
	checks []client.FolderCheck
	errs   []folderError
}

type folderError struct {
	folder string
	err    error
}

// checkAccount checks the folders of one account and records what it saw.
func (a *app) checkAccount(ctx context.Context, s *session, folder string, every bool) accountCheck {
	var out accountCheck
	fail := func(folder string, err error) accountCheck {
		out.errs = append(out.errs, folderError{folder: folder, err: err})
		return out
	}
	path := filepath.Join(s.mb.Account.CacheDir, checkStateFile)
	state, err := loadCheckState(path)
	if err != nil {
		a.warn(fmt.Sprintf("account %s: %v; starting afresh", s.name, err))
		state = map[string]client.CheckState{}
	}
	names := []string{folder}
	if every {
		names, err = checkFolders(ctx, s.mb)
		if err != nil {
			return fail("", err)
		}
	}
	changed := false
	for _, name := range names {
		name = canonicalFolder(name)
		// Decided without connecting where the protocol has no folders.
		if f, known := s.mb.Driver.Baseline.Features[client.FeatureFolders]; known && !f.Supported && name != client.Inbox {
			out.errs = append(out.errs, folderError{folder: name, err: client.Unsupported("check "+name, f.How)})
			continue
		}
		fc, next, err := s.mb.Check(ctx, name, state[name])
		if err != nil {
			out.errs = append(out.errs, folderError{folder: name, err: err})
			if errors.Is(err, client.ErrNetwork) || errors.Is(err, client.ErrAuth) || ctx.Err() != nil {
				break // the other folders would fail alike
			}
			continue
		}
		out.checks = append(out.checks, fc)
		state[fc.Folder] = next
		changed = true
	}
	if changed {
		if err := saveCheckState(path, state); err != nil {
			return fail("", err)
		}
	}
	return out
}

// checkFolders lists every folder of the account, or only INBOX where the
// protocol has no others (without asking the server).
func checkFolders(ctx context.Context, mb *client.Mailbox) ([]string, error) {
	caps, err := mb.Capabilities(ctx)
	if err != nil {
		return nil, err
	}
	if !caps.Has(client.FeatureFolders) {
		return []string{client.Inbox}, nil
	}
	src, err := mb.Source(ctx)
	if err != nil {
		return nil, err
	}
	end := mb.Opts.Stats.Begin("check folders")
	fs, err := src.Folders(ctx)
	end()
	if err != nil {
		return nil, fmt.Errorf("check: list folders: %w", err)
	}
	names := make([]string, len(fs))
	for i, f := range fs {
		names[i] = f.Name
	}
	return names, nil
}

// canonicalFolder spells the inbox INBOX however it was given (RFC 3501
// 5.1), as the library does, so its state is found under one key.
func canonicalFolder(name string) string {
	if name == "" || strings.EqualFold(name, client.Inbox) {
		return client.Inbox
	}
	return name
}

const checkStateFile = "check-state.json"

// checkStateJSON is the file check remembers folders in.
type checkStateJSON struct {
	Folders map[string]client.CheckState `json:"folders"`
}

func loadCheckState(path string) (map[string]client.CheckState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]client.CheckState{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read check state: %w", err)
	}
	var st checkStateJSON
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("check state %s is damaged (%v)", path, err)
	}
	if st.Folders == nil {
		st.Folders = map[string]client.CheckState{}
	}
	return st.Folders, nil
}

// saveCheckState replaces the file atomically: a crash leaves the old
// state or the new, never half of one. The file is private (0600), as
// the message IDs in it say something about the mailbox.
func saveCheckState(path string, folders map[string]client.CheckState) error {
	b, err := json.Marshal(checkStateJSON{Folders: folders})
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".check-state-*.tmp")
	if err != nil {
		return fmt.Errorf("save check state: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("save check state: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save check state: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save check state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save check state: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("save check state: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}
