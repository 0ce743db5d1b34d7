package mailcheck

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
)

func TestStateRoundTrip(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, StateFile)
	if st, err := LoadState(path); err != nil || len(st) != 0 {
		t.Fatalf("missing file: %v %v", st, err)
	}
	want := map[string]client.CheckState{
		"INBOX":   {Checked: true, Known: []string{"a", "b"}},
		"Archive": {Checked: true, UIDValidity: 7, UIDNext: 12},
	}
	if err := SaveState(path, want); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v %v", fi.Mode(), err)
	}
	got, err := LoadState(path)
	if err != nil || fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("loaded %v, %v", got, err)
	}
	// Saving again replaces the file; no temporary file stays behind.
	want["INBOX"] = client.CheckState{Checked: true}
	if err := SaveState(path, want); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("directory holds %v", entries)
	}
	os.WriteFile(path, []byte("{broken"), 0o600)
	if _, err := LoadState(path); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("damaged file: %v", err)
	}
}
