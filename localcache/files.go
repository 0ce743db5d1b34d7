package localcache

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/emersion/go-maildir"

	"github.com/duomail/duomail/client"
)

// fileRef names a message file: its key parts and where the index last
// saw it.
type fileRef struct {
	uidValidity uint32
	id          string
	path        string // relative to the Maildir; a hint
}

func (r fileRef) key() string { return fileKey(r.uidValidity, r.id) }

// locate finds a message file, relative to the Maildir, or "" if there is
// none: first where the index last put it, then in new/, then with the
// usual flags in cur/ and finally by scanning cur/ (another tool changed its
// flags).
func locate(mdir string, r fileRef) (string, error) {
	return locateFlags(mdir, r, nil, true)
}

// locateFlags is locate that also tries the name for flags, and scans cur/
// only when scan is set: storing a new message must not read a large
// directory for every file.
func locateFlags(mdir string, r fileRef, flags []client.Flag, scan bool) (string, error) {
	key := r.key()
	candidates := []string{r.path, "new/" + key, "cur/" + key + ":2,", bodyPath(key, flags, "")}
	for i, p := range candidates {
		if p == "" || slices.Contains(candidates[:i], p) {
			continue
		}
		if _, err := os.Lstat(filepath.Join(mdir, p)); err == nil {
			return p, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return "", err
		}
	}
	if !scan {
		return "", nil
	}
	msg, err := maildir.Dir(mdir).MessageByKey(key)
	var keyErr *maildir.KeyError
	switch {
	case errors.As(err, &keyErr), errors.Is(err, fs.ErrNotExist):
		return "", nil
	case err != nil:
		return "", err
	}
	return "cur/" + filepath.Base(msg.Filename()), nil
}

// removeMessageFile deletes a message file wherever it is now.
func removeMessageFile(mdir string, r fileRef) error {
	for try := 0; try < 2; try++ {
		p, err := locate(mdir, r)
		if err != nil || p == "" {
			return err
		}
		err = os.Remove(filepath.Join(mdir, p))
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		r.path = ""
	}
	return nil
}
