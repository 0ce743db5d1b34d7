package fetch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// What happened to one saved part (SavedAttachment.Status).
const (
	StatusSaved     = "saved"     // written under its own name
	StatusRenamed   = "renamed"   // another file had the name: written under a free one, "photo (2).png"
	StatusIdentical = "identical" // a file with the same name and content was already there
	StatusReplaced  = "replaced"  // --force: a different file with the name was replaced
	StatusFailed    = "failed"    // see Error
)

// maxCandidates bounds the search for a free name ("photo (2).png" ...).
const maxCandidates = 1000

// candidateName is the i-th name tried for name: name itself, then
// "stem (2).ext", "stem (3).ext" as file managers do.
func candidateName(name string, i int) string {
	if i == 1 {
		return name
	}
	ext := filepath.Ext(name)
	if ext == name {
		ext = ""
	}
	return fmt.Sprintf("%s (%d)%s", strings.TrimSuffix(name, ext), i, ext)
}

// saveFile writes what write produces into dir under name, or under the
// first free "name (n)" when a different file holds the name, or not at
// all when a file with the same name holds the same bytes; with force a
// different regular file at name is replaced instead. name must be a plain
// file name (mimepart.SafeFilename's output).
//
// The content is first written to a temporary file beside the target
// (created with O_EXCL, without following links, mode 0666 less the
// umask), because whether it is already there can only be told from the
// bytes. It is then linked to the free name, which fails rather than
// replace a file created meanwhile; a symbolic link or other non-regular
// file at name is refused, never written through.
func saveFile(dir, name string, force bool, write func(io.Writer) (int64, error)) (path, status string, size int64, err error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return "", StatusFailed, 0, fmt.Errorf("refusing file name %q", name)
	}
	dir = filepath.Clean(dir)
	path = filepath.Join(dir, name)
	if filepath.Dir(path) != dir {
		return path, StatusFailed, 0, fmt.Errorf("refusing file name %q: outside %s", name, dir)
	}
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		// Checked before the download, so nothing is fetched for it.
		return path, StatusFailed, 0, fmt.Errorf("%s exists and is not a regular file", path)
	}
	tmp, err := createTemp(dir, name)
	if err != nil {
		return path, StatusFailed, 0, err
	}
	tmpPath := tmp.Name()
	defer func() {
		if rerr := os.Remove(tmpPath); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && err == nil {
			err = fmt.Errorf("remove temporary file: %w", rerr)
			status = StatusFailed
		}
	}()
	size, err = write(tmp)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return path, StatusFailed, size, err
	}
	for i := 1; i <= maxCandidates; i++ {
		cand := filepath.Join(dir, candidateName(name, i))
		fi, err := os.Lstat(cand)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := linkNew(tmpPath, cand); errors.Is(err, fs.ErrExist) {
				i-- // created meanwhile: look at it again
				continue
			} else if err != nil {
				return cand, StatusFailed, size, err
			}
			if i == 1 {
				return cand, StatusSaved, size, nil
			}
			return cand, StatusRenamed, size, nil
		case err != nil:
			return cand, StatusFailed, size, err
		case !fi.Mode().IsRegular():
			if i == 1 {
				return cand, StatusFailed, size, fmt.Errorf("%s exists and is not a regular file", cand)
			}
			continue
		}
		same, err := sameContent(tmpPath, cand, size, fi.Size())
		if err != nil {
			return cand, StatusFailed, size, err
		}
		switch {
		case same:
			return cand, StatusIdentical, size, nil
		case force && i == 1:
			if err := os.Rename(tmpPath, cand); err != nil {
				return cand, StatusFailed, size, err
			}
			return cand, StatusReplaced, size, nil
		}
	}
	return path, StatusFailed, size, fmt.Errorf("%s and %d other names like it are taken", path, maxCandidates-1)
}

// createTemp creates a hidden temporary file in dir for name.
func createTemp(dir, name string) (*os.File, error) {
	for i := 0; ; i++ {
		p := filepath.Join(dir, fmt.Sprintf(".%s.duomail-%d-%d.tmp", truncateName(name, 120), os.Getpid(), i))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o666)
		if errors.Is(err, fs.ErrExist) && i < 100 {
			continue
		}
		return f, err
	}
}

func truncateName(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n]
}

// linkNew gives the file at tmp the name path, failing with fs.ErrExist
// if path exists. Where the file system has no hard links, the bytes are
// copied into a file created with O_EXCL instead.
func linkNew(tmp, path string) error {
	err := os.Link(tmp, path)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return err
	}
	src, oerr := os.Open(tmp)
	if oerr != nil {
		return oerr
	}
	defer src.Close()
	dst, cerr := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|oNoFollow, 0o666)
	if cerr != nil {
		return cerr
	}
	_, err = io.Copy(dst, src)
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
	}
	return err
}

// sameContent compares two files byte for byte.
func sameContent(a, b string, sizeA, sizeB int64) (bool, error) {
	if sizeA != sizeB {
		return false, nil
	}
	fa, err := os.Open(a)
	if err != nil {
		return false, err
	}
	defer fa.Close()
	fb, err := os.Open(b)
	if err != nil {
		return false, err
	}
	defer fb.Close()
	bufA, bufB := make([]byte, 32<<10), make([]byte, 32<<10)
	for {
		na, errA := io.ReadFull(fa, bufA)
		nb, errB := io.ReadFull(fb, bufB)
		if na != nb || !bytes.Equal(bufA[:na], bufB[:nb]) {
			return false, nil
		}
		endA := errA == io.EOF || errA == io.ErrUnexpectedEOF
		endB := errB == io.EOF || errB == io.ErrUnexpectedEOF
		switch {
		case errA != nil && !endA:
			return false, errA
		case errB != nil && !endB:
			return false, errB
		case endA || endB:
			return endA && endB, nil
		}
	}
}
