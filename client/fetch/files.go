package fetch

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// uniqueName gives two attachments of one message with the same name
// different files ("a.pdf", "a-2.pdf") instead of one failing.
func uniqueName(name string, used map[string]bool) string {
	candidate := name
	ext := filepath.Ext(name)
	stem := strings.TrimSuffix(name, ext)
	for i := 2; used[candidate]; i++ {
		candidate = fmt.Sprintf("%s-%d%s", stem, i, ext)
	}
	used[candidate] = true
	return candidate
}

// pendingFile is a file being written by createFileIn; Finish puts it in
// place or removes it.
type pendingFile struct {
	*os.File
	Path   string // final path
	target string // where it is written: Path, or a temporary beside it with force
}

// createFileIn creates dir/name for writing. name must be a plain file name
// (mimepart.SafeFilename's output); anything that would resolve outside dir is
// refused. The file is created with O_EXCL and without following symlinks,
// so an existing file, or a link planted where the file would go, is never
// written through. With force an existing regular file is replaced
// atomically (written beside it, renamed over it by Finish).
func createFileIn(dir, name string, force bool) (*pendingFile, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return nil, fmt.Errorf("refusing file name %q", name)
	}
	dir = filepath.Clean(dir)
	path := filepath.Join(dir, name)
	if filepath.Dir(path) != dir {
		return nil, fmt.Errorf("refusing file name %q: outside %s", name, dir)
	}
	target := path
	if force {
		if fi, err := os.Lstat(path); err == nil {
			if !fi.Mode().IsRegular() {
				return nil, fmt.Errorf("%s exists and is not a regular file", path)
			}
			target = filepath.Join(dir, fmt.Sprintf(".%s.duomail-%d.tmp", name, os.Getpid()))
		}
	}
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("%s already exists (use --force to overwrite)", path)
	}
	if err != nil {
		return nil, err
	}
	return &pendingFile{File: f, Path: path, target: target}, nil
}

// Finish closes the file and, if writeErr is nil, puts it in place; on any
// error the partial file is removed and the error returned.
func (p *pendingFile) Finish(writeErr error) error {
	err := writeErr
	if cerr := p.File.Close(); err == nil {
		err = cerr
	}
	if err == nil && p.target != p.Path {
		err = os.Rename(p.target, p.Path)
	}
	if err != nil {
		if rerr := os.Remove(p.target); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, fmt.Errorf("remove partial file: %w", rerr))
		}
	}
	return err
}
