package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The demo's commands see the demo's environment, given to them, and not
// the process's: a broken configuration and a chosen account in the
// environment do not reach the tour, nothing lands in the process's data
// directory, and the process's environment is as it was.
func TestDemoKeepsToItsOwnEnvironment(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.toml")
	if err := os.WriteFile(broken, []byte("[accounts.x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	env := map[string]string{
		"DUOMAIL_CONFIG":   broken,
		"DUOMAIL_ACCOUNT":  "nope",
		"DUOMAIL_PASSWORD": "wrong",
		"XDG_DATA_HOME":    data,
		"XDG_CONFIG_HOME":  filepath.Join(dir, "config"),
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	var out, errs strings.Builder
	a := newApp(streams{in: strings.NewReader(""), inFd: -1, out: &out, err: &errs}, os.LookupEnv)
	if code := a.execute(context.Background(), []string{"demo"}); code != 0 {
		t.Fatalf("demo exit %d\nstderr:\n%s", code, errs.String())
	}
	if !strings.Contains(out.String(), "== Try it yourself") {
		t.Errorf("demo did not finish:\n%s", out.String())
	}
	for k, v := range env {
		if got := os.Getenv(k); got != v {
			t.Errorf("%s = %q after the demo, want %q", k, got, v)
		}
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("the demo wrote into the process's data directory: %v", err)
	}
}
