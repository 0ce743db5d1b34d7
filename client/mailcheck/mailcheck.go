// Package mailcheck counts new mail in an account's folders and remembers,
// between runs, what each check saw, so the next one can say what is new.
package mailcheck

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/duomail/duomail/client"
)

// StateFile is the file, in the account's cache directory, that holds what
// the last check of each folder saw.
const StateFile = "check-state.json"

// Options say which folders Account checks.
type Options struct {
	Folder     string // the folder to check; "" is INBOX
	AllFolders bool   // every folder of the account instead
	// Warn is told about a state file that could not be read (the check
	// then starts afresh). May be nil.
	Warn func(string)
}

// FolderError is a folder that could not be checked; Folder is "" when the
// error concerns the whole account (its folders could not be listed, its
// state not saved).
type FolderError struct {
	Folder string
	Err    error
}

// Result is what checking one account gave: a count per folder checked,
// and what failed.
type Result struct {
	Checks []client.FolderCheck
	Errors []FolderError
}

// Account checks the folders of one account and records what it saw in
// StateFile. A folder that fails does not stop the others, unless the
// failure (network, login, cancellation) would fail them alike.
func Account(ctx context.Context, mb *client.Mailbox, opts Options) Result {
	var out Result
	fail := func(folder string, err error) Result {
		out.Errors = append(out.Errors, FolderError{Folder: folder, Err: err})
		return out
	}
	path := filepath.Join(mb.Account.CacheDir, StateFile)
	state, err := LoadState(path)
	if err != nil {
		if opts.Warn != nil {
			opts.Warn(fmt.Sprintf("account %s: %v; starting afresh", mb.Account.Name, err))
		}
		state = map[string]client.CheckState{}
	}
	names := []string{opts.Folder}
	if opts.AllFolders {
		names, err = folders(ctx, mb)
		if err != nil {
			return fail("", err)
		}
	}
	changed := false
	for _, name := range names {
		name = client.FolderName(name)
		// Decided without connecting where the protocol has no folders.
		if f, known := mb.Driver.Baseline.Features[client.FeatureFolders]; known && !f.Supported && name != client.Inbox {
			out.Errors = append(out.Errors, FolderError{Folder: name, Err: client.Unsupported("check "+name, f.How)})
			continue
		}
		fc, next, err := mb.Check(ctx, name, state[name])
		if err != nil {
			out.Errors = append(out.Errors, FolderError{Folder: name, Err: err})
			if errors.Is(err, client.ErrNetwork) || errors.Is(err, client.ErrAuth) || ctx.Err() != nil {
				break // the other folders would fail alike
			}
			continue
		}
		out.Checks = append(out.Checks, fc)
		state[fc.Folder] = next
		changed = true
	}
	if changed {
		if err := SaveState(path, state); err != nil {
			return fail("", err)
		}
	}
	return out
}

// folders lists every folder of the account, or only INBOX where the
// protocol has no others (without asking the server).
func folders(ctx context.Context, mb *client.Mailbox) ([]string, error) {
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

// stateJSON is the form of StateFile.
type stateJSON struct {
	Folders map[string]client.CheckState `json:"folders"`
}

// LoadState reads what the last checks saw, by folder; a missing file is
// an empty state.
func LoadState(path string) (map[string]client.CheckState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]client.CheckState{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read check state: %w", err)
	}
	var st stateJSON
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, fmt.Errorf("check state %s is damaged (%v)", path, err)
	}
	if st.Folders == nil {
		st.Folders = map[string]client.CheckState{}
	}
	return st.Folders, nil
}

// SaveState replaces the file atomically: a crash leaves the old state or
// the new, never half of one. The file is private (0600), as the message
// IDs in it say something about the mailbox.
func SaveState(path string, folders map[string]client.CheckState) error {
	b, err := json.Marshal(stateJSON{Folders: folders})
	if err != nil {
		return fmt.Errorf("save check state: %w", err)
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
