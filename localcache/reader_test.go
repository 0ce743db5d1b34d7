package localcache

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/duomail/duomail/client"
)

// OpenReader reads what a normal Open wrote, refuses writes, and on a
// missing cache creates nothing.
func TestOpenReaderReadsWithoutSideEffects(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := openCache(t, dir)
	envs := []client.Envelope{{ID: "3", UIDValidity: 9, Subject: "three"}, {ID: "12", UIDValidity: 9, Subject: "twelve"}}
	if err := c.PutEnvelopes(ctx, "Archive", envs); err != nil {
		t.Fatal(err)
	}

	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	folders, err := r.Folders(ctx)
	if err != nil || !slices.Equal(folders, []string{"Archive"}) {
		t.Errorf("Folders = %q, %v", folders, err)
	}
	if got := listIDs(t, r, "Archive", client.ListOptions{}); !slices.Equal(got, []string{"12", "3"}) {
		t.Errorf("List = %q", got)
	}
	if err := r.PutEnvelopes(ctx, "Archive", envs); !errors.Is(err, ErrReadOnly) {
		t.Errorf("write through a reader: %v, want ErrReadOnly", err)
	}

	missing := filepath.Join(t.TempDir(), "none")
	if _, err := OpenReader(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing cache: %v, want fs.ErrNotExist", err)
	}
	if _, err := os.Stat(missing); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenReader created %s", missing)
	}
}
