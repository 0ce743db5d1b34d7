//go:build unix

package fetch

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func writer(content string) func(io.Writer) (int64, error) {
	return func(w io.Writer) (int64, error) {
		n, err := io.WriteString(w, content)
		return int64(n), err
	}
}

// A part is saved under its name; again with the same bytes it is found
// identical; a different file under that name is kept and the part goes
// to "name (2).ext", or with force replaces it; a link at the name is
// refused; no temporary file stays behind.
func TestSaveFileOutcomes(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	steps := []struct {
		name, content string
		force         bool
		wantStatus    string
		wantFile      string
	}{
		{"photo.png", "one", false, StatusSaved, "photo.png"},
		{"photo.png", "one", false, StatusIdentical, "photo.png"},
		{"photo.png", "two", false, StatusRenamed, "photo (2).png"},
		{"photo.png", "two", false, StatusIdentical, "photo (2).png"},
		{"photo.png", "three", false, StatusRenamed, "photo (3).png"},
		{"photo.png", "four", true, StatusReplaced, "photo.png"},
		{"README", "x", false, StatusSaved, "README"},
		{"README", "y", false, StatusRenamed, "README (2)"},
	}
	for i, s := range steps {
		path, status, size, err := saveFile(dir, s.name, s.force, writer(s.content))
		if err != nil || status != s.wantStatus || path != filepath.Join(dir, s.wantFile) || size != int64(len(s.content)) {
			t.Fatalf("step %d: %s %s %d %v, want %s %s", i, path, status, size, err, s.wantStatus, s.wantFile)
		}
		if got, _ := os.ReadFile(path); string(got) != s.content {
			t.Errorf("step %d: %s holds %q", i, path, got)
		}
	}
	fi, err := os.Stat(filepath.Join(dir, "photo.png"))
	if err != nil || fi.Mode().Perm() != 0o644 {
		t.Errorf("mode under umask 022: %v %v", fi.Mode(), err)
	}
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "passwd")); err != nil {
		t.Fatal(err)
	}
	for _, force := range []bool{false, true} {
		if _, status, _, err := saveFile(dir, "passwd", force, writer("x")); err == nil || status != StatusFailed {
			t.Errorf("force=%v: a symlink at the name was not refused: %s", force, status)
		}
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
