package client

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"unicode"
	"unicode/utf8"
)

// maxFilenameBytes keeps names under every common filesystem's limit (255)
// with room for a de-duplicating suffix.
const maxFilenameBytes = 200

// SafeFilename turns the file name a sender chose into one that can only
// name a plain file directly inside the target folder: the last element of
// any path (either slash), no control or bidi-formatting characters, no
// leading dot (no hidden files, no "." or ".."), characters Windows forbids
// replaced, bounded length. An empty result becomes "attachment-<part>"
// with an extension from the part's type.
func SafeFilename(name string, p *Part) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 && i < 2 {
		name = name[i+1:] // "C:x" drive-relative names
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
			continue
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimSpace(b.String())
	name = strings.TrimLeft(name, ". ")
	name = strings.TrimRight(name, ". ")
	if len(name) > maxFilenameBytes {
		ext := filepath.Ext(name)
		if len(ext) > 20 || !utf8.ValidString(ext) {
			ext = ""
		}
		cut := maxFilenameBytes - len(ext)
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + ext
	}
	if name == "" {
		name = "attachment"
		if p != nil && p.Path != "" {
			name += "-" + strings.ReplaceAll(p.Path, ".", "-")
		}
		if p != nil {
			if exts, _ := mime.ExtensionsByType(p.Type); len(exts) > 0 {
				name += exts[0]
			}
		}
	}
	return name
}

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

// WriteFileIn writes r to dir/name and returns the path and bytes written.
// See CreateFileIn for the rules.
func WriteFileIn(dir, name string, r io.Reader, force bool) (string, int64, error) {
	pf, err := CreateFileIn(dir, name, force)
	if err != nil {
		return filepath.Join(dir, name), 0, err
	}
	n, err := io.Copy(pf, r)
	return pf.Path, n, pf.Finish(err)
}

// PendingFile is a file being written by CreateFileIn; Finish puts it in
// place or removes it.
type PendingFile struct {
	*os.File
	Path   string // final path
	target string // where it is written: Path, or a temporary beside it with force
}

// CreateFileIn creates dir/name for writing. name must be a plain file name
// (SafeFilename's output); anything that would resolve outside dir is
// refused. The file is created with O_EXCL and without following symlinks,
// so an existing file, or a link planted where the file would go, is never
// written through. With force an existing regular file is replaced
// atomically (written beside it, renamed over it by Finish).
func CreateFileIn(dir, name string, force bool) (*PendingFile, error) {
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
	f, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, os.ErrExist) {
		return nil, fmt.Errorf("%s already exists (use --force to overwrite)", path)
	}
	if err != nil {
		return nil, err
	}
	return &PendingFile{File: f, Path: path, target: target}, nil
}

// Finish closes the file and, if writeErr is nil, puts it in place; on any
// error the partial file is removed and the error returned.
func (p *PendingFile) Finish(writeErr error) error {
	err := writeErr
	if cerr := p.File.Close(); err == nil {
		err = cerr
	}
	if err == nil && p.target != p.Path {
		err = os.Rename(p.target, p.Path)
	}
	if err != nil {
		os.Remove(p.target)
	}
	return err
}
