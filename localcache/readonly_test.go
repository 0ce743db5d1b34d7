//go:build linux

// These tests mount a small tmpfs, or remount read-only, in a private Linux
// mount namespace; no other platform offers that to an unprivileged test.

package localcache

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/query"
)

const (
	nsTestEnv = "DUOMAIL_TEST_IN_NAMESPACE" // the test to run inside
	nsDirEnv  = "DUOMAIL_TEST_DIR"
)

// namespaceDir returns, in the run that runInMountNamespace started for
// this test, the directory it prepared.
func namespaceDir(t *testing.T) (dir string, inside bool) {
	t.Helper()
	if os.Getenv(nsTestEnv) != t.Name() {
		return "", false
	}
	dir = os.Getenv(nsDirEnv)
	if !filepath.IsAbs(dir) {
		t.Fatalf("no directory prepared: %q", dir)
	}
	return dir, true
}

// runInMountNamespace runs the calling test again, in a private mount
// namespace prepared by the shell commands in setup (which see dir as
// $DIR); that run (see namespaceDir) does the checks. Tests run as root,
// for whom file permissions stop nothing: a read-only mount or a full file
// system is the honest way to show what a user meets. Where mount
// namespaces are not available the test is skipped, saying so.
func runInMountNamespace(t *testing.T, dir, setup string) {
	t.Helper()
	if err := exec.Command("unshare", "-m", "true").Run(); err != nil {
		t.Skipf("cannot make a mount namespace here (needs root and unshare): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script := "set -e\n" + setup + "\nexec \"$0\" -test.run \"^$1\\$\" -test.count=1 -test.v"
	cmd := exec.CommandContext(ctx, "unshare", "-m", "--propagation", "private", "sh", "-c", script, os.Args[0], t.Name())
	cmd.Env = append(os.Environ(), nsTestEnv+"="+t.Name(), nsDirEnv+"="+dir, "DIR="+dir)
	out, err := cmd.CombinedOutput()
	t.Logf("run in a mount namespace:\n%s", out)
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("the run in a mount namespace failed: %v", err)
	}
}

func storeSample(t *testing.T, dir string) {
	t.Helper()
	c := openCache(t, dir)
	store(t, c, client.Inbox, 0, nil, []string{"a", "b"}, func(id string) []byte { return testMessage(id, 2000) })
	if err := c.ChangeFlags(context.Background(), client.Inbox, []string{"a"}, client.FlagAdd, []client.Flag{client.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// checkReadable reads everything a reading command needs.
func checkReadable(t *testing.T, c *Cache) {
	t.Helper()
	ctx := context.Background()
	if got := listIDs(t, c, client.Inbox, client.ListOptions{}); !slices.Equal(got, []string{"b", "a"}) {
		t.Errorf("List = %v", got)
	}
	if got := listIDs(t, c, client.Inbox, client.ListOptions{Unseen: true}); !slices.Equal(got, []string{"b"}) {
		t.Errorf("List --unseen = %v", got)
	}
	if got := readBody(t, c, client.Inbox, "a"); !bytes.Equal(got, testMessage("a", 2000)) {
		t.Error("body differs")
	}
	if folders, err := c.Folders(ctx); err != nil || !slices.Equal(folders, []string{client.Inbox}) {
		t.Errorf("Folders = %v, %v", folders, err)
	}
	if total, unseen, err := c.Counts(ctx, client.Inbox); err != nil || total != 2 || unseen != 1 {
		t.Errorf("Counts = %d, %d, %v", total, unseen, err)
	}
}

// TestReadOnlyCacheCanBeRead: a cache on a read-only mount opens for
// reading (before, Open failed and nothing could be read); writes fail
// saying why.
func TestReadOnlyCacheCanBeRead(t *testing.T) {
	dir, inside := namespaceDir(t)
	if !inside {
		dir = t.TempDir()
		storeSample(t, dir)
		runInMountNamespace(t, dir, `mount --bind "$DIR" "$DIR"; mount -o remount,ro,bind "$DIR" "$DIR"`)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, "probe"), nil, 0o600); !errors.Is(err, unix.EROFS) {
		t.Fatalf("the mount is not read-only: %v", err)
	}
	c, err := Open(dir)
	if err != nil {
		t.Fatalf("Open of a read-only cache: %v", err)
	}
	defer c.Close()
	if !errors.Is(c.ReadOnly(), unix.EROFS) {
		t.Errorf("ReadOnly() = %v, want the read-only file system", c.ReadOnly())
	}
	checkReadable(t, c)
	err = c.ChangeFlags(context.Background(), client.Inbox, []string{"b"}, client.FlagAdd, []client.Flag{client.FlagSeen})
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "read-only file system") {
		t.Errorf("ChangeFlags on a read-only cache: %v", err)
	}
	if _, err := c.Lock(context.Background()); !errors.Is(err, ErrReadOnly) {
		t.Errorf("Lock on a read-only cache: %v", err)
	}
	// Messages stored since the last search wait for it to enter the
	// header index; a cache that cannot take them says so rather than
	// searching without them.
	err = c.Search(context.Background(), client.Inbox, query.Text{Field: query.Subject, Value: "message"}, client.ListOptions{}, func(client.Envelope) error { return nil })
	if !errors.Is(err, ErrReadOnly) || !strings.Contains(err.Error(), "stored since the last search") {
		t.Errorf("Search on a read-only cache with unindexed headers: %v", err)
	}
}

// TestFullDiskCacheCanBeReadAndSaysSo: on a full file system SQLite
// cannot even make its shared-memory file, and said "disk I/O error
// (4874)"; the cache now opens for reading, and writes say "no space left
// on device".
func TestFullDiskCacheCanBeReadAndSaysSo(t *testing.T) {
	dir, inside := namespaceDir(t)
	if !inside {
		runInMountNamespace(t, t.TempDir(), `mount -t tmpfs -o size=1m,mode=0700 tmpfs "$DIR"`)
		return
	}
	// Only ever fill the small file system made for this test.
	var fsInfo unix.Statfs_t
	if err := unix.Statfs(dir, &fsInfo); err != nil || fsInfo.Type != unix.TMPFS_MAGIC || uint64(fsInfo.Blocks)*uint64(fsInfo.Bsize) > 4<<20 {
		t.Fatalf("%s is not the 1 MB tmpfs made for this test: %+v, %v", dir, fsInfo, err)
	}
	cacheDir := filepath.Join(dir, "cache")
	storeSample(t, cacheDir)
	open := openCache(t, cacheDir) // opened before the disk fills up
	fill, err := os.Create(filepath.Join(dir, "fill"))
	if err != nil {
		t.Fatal(err)
	}
	defer fill.Close()
	fillUp := func() {
		chunk := make([]byte, 4096)
		for {
			if _, err := fill.Write(chunk); err != nil {
				if !errors.Is(err, unix.ENOSPC) {
					t.Fatal(err)
				}
				return
			}
		}
	}
	fillUp()

	env := client.Envelope{ID: "new", Subject: strings.Repeat("x", 64<<10)}
	err = open.PutEnvelopes(context.Background(), client.Inbox, []client.Envelope{env})
	if err == nil || !strings.Contains(err.Error(), "no space left on device") {
		t.Errorf("writing to a full disk: %v, want it to say no space left on device", err)
	}
	open.Close()
	fillUp() // closing removed the -wal and -shm files

	c, err := Open(cacheDir)
	if err != nil {
		t.Fatalf("Open on a full disk: %v", err)
	}
	defer c.Close()
	if !errors.Is(c.ReadOnly(), unix.ENOSPC) || !strings.Contains(c.ReadOnly().Error(), "no space left on device") {
		t.Errorf("ReadOnly() = %v, want no space left on device", c.ReadOnly())
	}
	checkReadable(t, c)
	err = c.ChangeFlags(context.Background(), client.Inbox, []string{"b"}, client.FlagAdd, []client.Flag{client.FlagSeen})
	if !strings.Contains(fmtErr(err), "no space left on device") {
		t.Errorf("ChangeFlags on a full disk: %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}
