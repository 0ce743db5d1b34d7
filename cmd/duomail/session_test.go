package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/compare"
)

// With several accounts --stats sums them and keeps each one's figures.
func TestStatsSeveralAccounts(t *testing.T) {
	a := newApp(streams{}, func(string) (string, bool) { return "", false })
	for i, proto := range []string{client.IMAP, client.POP3} {
		st := client.NewWireStats(proto)
		end := st.Begin("check")
		for range i + 2 {
			st.Command()
		}
		end()
		a.sessions = append(a.sessions, &session{name: fmt.Sprint("acct", i), stats: st})
	}
	a.sessionsStart = time.Now().Add(-time.Second)
	js := a.statsJSON()
	if js.Protocol != "imap+pop3" || js.Commands != 5 || len(js.Accounts) != 2 || js.Accounts[1].Account != "acct1" || js.Accounts[1].Commands != 3 || js.Elapsed < time.Second {
		t.Errorf("stats %+v", js)
	}
	lines := a.statsLines()
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "IMAP (acct0): 2 commands") || !strings.HasPrefix(lines[1], "POP3 (acct1): 3 commands") {
		t.Errorf("lines %q", lines)
	}
	a.sessions = a.sessions[:1]
	if js := a.statsJSON(); js.Account != "acct0" || js.Protocol != "imap" || js.Accounts != nil {
		t.Errorf("one account: %+v", js)
	}
	if l := a.statsLines(); !strings.HasPrefix(l[0], "IMAP: 2 commands") {
		t.Errorf("one account line %q", l)
	}
}

func TestPrefixWriter(t *testing.T) {
	var out strings.Builder
	w := &prefixWriter{mu: new(sync.Mutex), w: &out, prefix: "[a] "}
	fmt.Fprint(w, "C: 1 LOG")
	fmt.Fprint(w, "IN\nS: 1 OK\nC: 2 ")
	if out.String() != "[a] C: 1 LOGIN\n[a] S: 1 OK\n" {
		t.Errorf("%q", out.String())
	}
}

// check --all and compare run in this process (for the race detector),
// against the in-process servers: several accounts at once share the app.
func TestSeveralAccountsInProcess(t *testing.T) {
	isrv, _ := startIMAPTest(t)
	psrv, _, _ := startPOP3Test(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("cache_dir = %q\n", filepath.Join(dir, "cache"))+accountsTOML(
		tomlAccount{Name: "i", Protocol: "imap", Host: "127.0.0.1", Port: isrv.Port(), TLS: "none", Username: "alice", Password: "secret"},
		tomlAccount{Name: "p", Protocol: "pop3", Host: "127.0.0.1", Port: psrv.Port(), TLS: "none", Username: "alice", Password: "secret"},
	)), 0o600)
	run := func(args ...string) (int, string, string) {
		var out, errs strings.Builder
		a := newApp(streams{in: strings.NewReader(""), inFd: -1, out: &out, err: &errs}, func(string) (string, bool) { return "", false })
		code := a.execute(context.Background(), append([]string{"--config", cfg}, args...))
		return code, out.String(), errs.String()
	}
	for i, want := range []int{0, 1} {
		code, out, errs := run("check", "--all", "--debug", "--stats")
		if code != want || len(tsv(out)) != 2 {
			t.Fatalf("check --all #%d: exit %d\n%s\n%s", i+1, code, out, errs)
		}
		for _, prefix := range []string{"[i] C: ", "[p] C: ", "IMAP (i): ", "POP3 (p): "} {
			if !strings.Contains(errs, "\n"+prefix) && !strings.HasPrefix(errs, prefix) {
				t.Errorf("stderr lacks %q:\n%s", prefix, errs)
			}
		}
	}
	code, out, errs := run("compare", "i", "p", "--json")
	var rep compare.Report
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || len(rep.Rows) != 8 {
		t.Fatalf("compare: exit %d, %v\n%s\n%s", code, err, out, errs)
	}
}
