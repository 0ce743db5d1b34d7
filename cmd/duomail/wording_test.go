package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// inproc runs duomail commands in this process with their own XDG
// directories, as a user would type them.
type inproc struct {
	t   *testing.T
	env map[string]string
}

func newInproc(t *testing.T) *inproc {
	dir := t.TempDir()
	return &inproc{t: t, env: map[string]string{
		"HOME": dir, "XDG_CONFIG_HOME": filepath.Join(dir, "config"), "XDG_CACHE_HOME": filepath.Join(dir, "cache"),
		"XDG_DATA_HOME": filepath.Join(dir, "data"), "XDG_STATE_HOME": filepath.Join(dir, "state"),
		"DUOMAIL_PASSWORD": "secret",
	}}
}

func (p *inproc) run(args ...string) (code int, stdout, stderr string) {
	var out, errs strings.Builder
	a := newApp(streams{in: strings.NewReader(""), inFd: -1, out: &out, err: &errs}, func(k string) (string, bool) {
		v, ok := p.env[k]
		return v, ok
	})
	code = a.execute(context.Background(), args)
	return code, out.String(), errs.String()
}

func (p *inproc) config(text string) string {
	path := filepath.Join(p.env["HOME"], "config.toml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		p.t.Fatal(err)
	}
	return path
}

// An ID the folder never had is told apart from a message that was there
// and is gone, and no layer repeats what the one above already said.
func TestMissingMessageWording(t *testing.T) {
	srv, _ := startIMAPTest(t)
	p := newInproc(t)
	url := imapURL(srv.Port())
	code, _, errs := p.run("--url", url, "fetch", "9999")
	if code != 1 || !strings.Contains(errs, "fetch 9999: no message 9999 in INBOX\n") || strings.Contains(errs, "no longer") {
		t.Errorf("fetch of an ID never used: exit %d, %q", code, errs)
	}
	code, _, errs = p.run("--url", url, "flag", "9999", "--add", "seen")
	if code != 1 || !strings.Contains(errs, "duomail: flag: no message 9999 in INBOX\n") {
		t.Errorf("flag of an ID never used: exit %d, %q", code, errs)
	}
	code, out, errs := p.run("--url", url, "list", "--json")
	var l listJSON
	if err := json.Unmarshal([]byte(out), &l); code != 0 || err != nil || len(l.Messages) == 0 {
		t.Fatalf("list: exit %d, %v, %s", code, err, errs)
	}
	id := l.Messages[0].ID
	if code, _, errs := p.run("--url", url, "delete", "--expunge", id); code != 0 {
		t.Fatalf("delete: exit %d, %s", code, errs)
	}
	code, _, errs = p.run("--url", url, "fetch", id)
	if want := fmt.Sprintf("fetch %s: message %s in INBOX: no longer on the server\n", id, id); code != 1 || !strings.Contains(errs, want) {
		t.Errorf("fetch of a deleted message: exit %d, %q, want %q", code, errs, want)
	}
}

// A folder name in the wrong case is answered with the right one.
func TestUnknownFolderOffersOtherCase(t *testing.T) {
	srv, _ := startIMAPTest(t)
	p := newInproc(t)
	code, _, errs := p.run("--url", imapURL(srv.Port()), "list", "-f", "archive")
	if code != 1 || !strings.Contains(errs, `no folder "archive" on the server (did you mean Archive?)`) || strings.Contains(errs, "examine") {
		t.Errorf("exit %d, %q", code, errs)
	}
	code, _, errs = p.run("--url", imapURL(srv.Port()), "list", "-f", "Nowhere")
	if code != 1 || !strings.Contains(errs, `no folder "Nowhere" on the server`) || strings.Contains(errs, "did you mean") {
		t.Errorf("exit %d, %q", code, errs)
	}
}

// list --offline before any sync says the cache is empty and how to fill
// it, rather than suggesting the mailbox is.
func TestOfflineListBeforeAnySync(t *testing.T) {
	srv, _, _ := startPOP3Test(t)
	p := newInproc(t)
	cfg := p.config(fmt.Sprintf(`cache_dir = %q
[accounts.work]
protocol = "pop3"
host = "127.0.0.1"
port = %d
tls = "none"
username = "alice"
password = "secret"
`, filepath.Join(p.env["HOME"], "cache"), srv.Port()))
	code, out, errs := p.run("--config", cfg, "list", "--offline")
	if code != 0 || out != "" || !strings.Contains(errs, "never synced") || !strings.Contains(errs, "duomail sync -a work") {
		t.Errorf("before sync: exit %d, %q, %q", code, out, errs)
	}
	if code, _, errs := p.run("--config", cfg, "sync"); code != 0 {
		t.Fatalf("sync: exit %d, %s", code, errs)
	}
	code, out, errs = p.run("--config", cfg, "list", "--offline")
	if code != 0 || len(tsv(out)) == 0 || strings.Contains(errs, "never synced") {
		t.Errorf("after sync: exit %d, %q, %q", code, out, errs)
	}
}

// An empty --save-attachments (an unset variable in a script) is a usage
// error, not a silent display of the message.
func TestSaveAttachmentsEmptyDirectory(t *testing.T) {
	p := newInproc(t)
	code, out, errs := p.run("--url", "imap://alice@127.0.0.1:1?tls=none", "fetch", "1", "--save-attachments", "")
	if code != 2 || out != "" || !strings.Contains(errs, "--save-attachments needs a directory") {
		t.Errorf("exit %d, %q, %q", code, out, errs)
	}
}

// Account names become cache directories: one that climbs out is refused,
// and the message says why.
func TestAccountNameCannotLeaveCacheDirectory(t *testing.T) {
	p := newInproc(t)
	cfg := p.config(`[accounts."a/../b"]
protocol = "imap"
host = "127.0.0.1"
username = "alice"
password = "secret"
`)
	code, _, errs := p.run("--config", cfg, "accounts")
	if code == 0 || !strings.Contains(errs, "cannot contain '/'") || !strings.Contains(errs, "cache directory") {
		t.Errorf("exit %d, %q", code, errs)
	}
}

// compare says what encryption the connection used once, not "TLS TLS 1.3"
// or "TLS none".
func TestCompareNamesTLSOnce(t *testing.T) {
	isrv, _ := startIMAPTest(t)
	psrv, _, _ := startPOP3Test(t)
	p := newInproc(t)
	code, out, errs := p.run("compare", imapURL(isrv.Port()), popURL(psrv.Port()), "--json")
	var rep struct {
		Rows []struct {
			Scenario string `json:"scenario"`
			Sides    []struct {
				Did string `json:"did"`
			} `json:"sides"`
		} `json:"rows"`
	}
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || len(rep.Rows) == 0 || len(rep.Rows[0].Sides) == 0 {
		t.Fatalf("exit %d, %v\n%s\n%s", code, err, out, errs)
	}
	if did := rep.Rows[0].Sides[0].Did; did != "greeting, no TLS, login" {
		t.Errorf("connect: %q", did)
	}
}

// A watch that loses its server names the operation and folder once.
func TestWatchErrorSaysWatchOnce(t *testing.T) {
	srv, _ := startIMAPTest(t)
	p := newInproc(t)
	var errs syncWriter
	a := newApp(streams{in: strings.NewReader(""), inFd: -1, out: &syncWriter{}, err: &errs}, func(k string) (string, bool) {
		v, ok := p.env[k]
		return v, ok
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int)
	go func() { done <- a.execute(ctx, []string{"--url", imapURL(srv.Port()), "watch"}) }()
	time.Sleep(time.Second) // watching: IDLE
	srv.Close()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(errs.String(), "watch INBOX") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	<-done
	got := errs.String()
	if !strings.Contains(got, "watch INBOX") {
		t.Fatalf("no error after the server went away: %q", got)
	}
	if strings.Contains(got, "watch INBOX: watch INBOX") || strings.Contains(got, "watch: watch") {
		t.Errorf("stutter: %q", got)
	}
}

// delete and move say which messages they acted on (subject and sender),
// and move where each went, so an ID meant for another folder is noticed.
func TestDeleteAndMoveNameTheMessages(t *testing.T) {
	srv, _ := startIMAPTest(t)
	p := newInproc(t)
	url := imapURL(srv.Port())
	code, out, errs := p.run("--url", url, "list", "--json")
	var l listJSON
	if err := json.Unmarshal([]byte(out), &l); code != 0 || err != nil || len(l.Messages) < 5 {
		t.Fatalf("list: exit %d, %v, %s", code, err, errs)
	}
	first, second := l.Messages[0], l.Messages[1]

	code, out, errs = p.run("--url", url, "delete", first.ID)
	if want := fmt.Sprintf("Moved 1 message from INBOX to Trash: %s %q from %s", first.ID, first.Subject, first.From); code != 0 || !strings.HasPrefix(out, want) {
		t.Errorf("delete: exit %d, %q, want %q (%s)", code, out, want, errs)
	}

	code, out, errs = p.run("--url", url, "move", second.ID, "--to", "Archive", "--json")
	var moved struct {
		IDs      []string `json:"ids"`
		Messages []struct {
			ID, Subject, From string
			NewID             string `json:"new_id"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(out), &moved); code != 0 || err != nil || len(moved.Messages) != 1 {
		t.Fatalf("move --json: exit %d, %v, %s %s", code, err, out, errs)
	}
	m := moved.Messages[0]
	if m.ID != second.ID || m.Subject != second.Subject || m.From != second.From || m.NewID == "" {
		t.Errorf("move --json: %+v", m)
	}
	code, out, _ = p.run("--url", url, "list", "-f", "Archive", "--json")
	var archive listJSON
	if err := json.Unmarshal([]byte(out), &archive); code != 0 || err != nil || archive.id(t, second.Subject) != m.NewID {
		t.Errorf("Archive listing does not hold %s as %s: %s", second.Subject, m.NewID, out)
	}

	// Several messages: the count and the first few.
	var ids []string
	for _, e := range l.Messages[2:] {
		ids = append(ids, e.ID)
	}
	code, out, errs = p.run(append([]string{"--url", url, "move", "--to", "Archive"}, ids...)...)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("%q from", l.Messages[2].Subject)) ||
		(len(ids) > 3 && !strings.Contains(out, fmt.Sprintf("and %d more.", len(ids)-3))) || !strings.Contains(out, " in Archive)") {
		t.Errorf("move of %d: exit %d, %q %s", len(ids), code, out, errs)
	}
}
