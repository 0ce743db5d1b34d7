package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/config"
	"github.com/rivo/uniseg"
)

func i4Report() client.CompareReport {
	side := func(did, result string, cmds int, sent, recv int64, ms int) client.ScenarioSide {
		return client.ScenarioSide{Supported: true, Did: did, Result: result,
			Counts: client.Counts{Commands: cmds, Sent: sent, Received: recv, Elapsed: time.Duration(ms) * time.Millisecond}}
	}
	return client.CompareReport{
		Accounts: [2]client.CompareAccount{
			{Name: "work-imap", Protocol: "imap", Server: "imap.example.com:993"},
			{Name: "work-pop", Protocol: "pop3", Server: "pop.example.com:995"},
		},
		Rows: []client.CompareRow{
			{Scenario: client.ScenarioConnect, Sides: [2]client.ScenarioSide{
				side("greeting, TLS TLS 1.3 (implicit), login", "", 2, 77, 4397, 31),
				side("greeting, TLS TLS 1.3 (implicit), login", "", 3, 41, 3274, 28)}},
			{Scenario: client.ScenarioReadText, Sides: [2]client.ScenarioSide{
				side("BODYSTRUCTURE, then BODY.PEEK[section] of the text part", "45 B of text from \"Holiday \x1b]0;pwned\x07picture 🌴\" (144.7 KB)", 2, 112, 776, 3),
				side("the whole message (POP3 downloads whole messages)", "45 B of text from \"Holiday picture 🌴\" (144.7 KB)", 1, 8, 148172, 12)}},
			{Scenario: client.ScenarioFolders, Sides: [2]client.ScenarioSide{
				side("LIST, with STATUS counts (LIST-STATUS where offered)", "4 folders: INBOX, Archive, Sent, Trash", 1, 63, 293, 1),
				{Supported: false, Did: "not possible: POP3 has no folders"}}},
			{Scenario: client.ScenarioDelete, Sides: [2]client.ScenarioSide{
				side("UID STORE +FLAGS.SILENT (\\Deleted) + UID EXPUNGE", "deleted \"Welcome\" (426 B)", 3, 96, 133, 1),
				{Supported: true, Did: "DELE", Error: "delete: server said: -ERR mailbox locked by another session, try again later please"}}},
		},
	}
}

// The side-by-side table fits the terminal at the usual widths, keeps the
// two sides' costs on the same lines and shows no control character.
func TestCompareLayout(t *testing.T) {
	r := &compareResult{CompareReport: i4Report()}
	f := &format{tty: true, loc: time.UTC}
	for _, width := range []int{60, 80, 100, 160, 200} {
		out := r.layout(f, width)
		lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		for _, l := range lines {
			if w := uniseg.StringWidth(l); w > width {
				t.Errorf("width %d: line of %d columns: %q", width, w, l)
			}
		}
		if strings.ContainsAny(out, "\x1b\x07") {
			t.Errorf("width %d: control characters in the table", width)
		}
		for _, want := range []string{"work-imap (IMAP)", "work-pop (POP3)", "imap.example.com:993", "not possible: POP3 has no folders",
			"ERROR: delete:", "\ntotal "} {
			if width >= 100 && !strings.Contains(out, want) {
				t.Errorf("width %d: %q missing:\n%s", width, want, out)
			}
		}
		// Each row's received bytes of both sides face each other.
		for _, pair := range [][2]string{{"776 B in", "145 KB in"}, {"4.3 KB in", "3.2 KB in"}, {"8 commands", "4 commands"}} {
			found := false
			for _, l := range lines {
				found = found || strings.Contains(l, pair[0]) && strings.Contains(l, pair[1])
			}
			if !found {
				t.Errorf("width %d: %q and %q not on one line:\n%s", width, pair[0], pair[1], out)
			}
		}
		// Figures keep their unit on the same line.
		for _, l := range lines {
			if strings.HasPrefix(strings.TrimSpace(l), "B)") || strings.HasSuffix(l, " 426") {
				t.Errorf("width %d: unit split from its figure: %q", width, l)
			}
		}
		if width == 160 && strings.Count(out, "\n") > strings.Count(r.layout(f, 100), "\n") {
			t.Errorf("wider terminal, longer table")
		}
	}
	// Piped: one record per scenario and side, eleven fields.
	recs := r.records(&format{})
	if len(recs) != 8 {
		t.Fatalf("%d records", len(recs))
	}
	want := []string{client.ScenarioReadText, "work-pop", "pop3", "true", "the whole message (POP3 downloads whole messages)",
		"45 B of text from \"Holiday picture 🌴\" (144.7 KB)", "1", "8", "148172", "0.012", ""}
	if got := recs[3]; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("record %q\nwant   %q", got, want)
	}
	if recs[2][5] != "45 B of text from \"Holiday picture 🌴\" (144.7 KB)" {
		t.Errorf("server text not cleaned in TSV: %q", recs[2][5])
	}
}

func TestCapabilitiesView(t *testing.T) {
	var caps client.Capabilities
	caps.Protocol = client.POP3
	caps.TLS = "TLS 1.3 (implicit)"
	caps.Announced = []string{"TOP", "UIDL", "SASL PLAIN"}
	caps.Set(client.FeaturePartialFetch, false, "POP3 downloads whole messages")
	caps.Set(client.FeatureDeleteNoDownload, true, "DELE (committed at QUIT)")
	caps.Set("x-future", true, "something new")
	acct := &client.Account{Name: "home", Protocol: client.POP3, Host: "pop.example.net", TLS: client.TLSImplicit}
	r := newCapabilitiesResult(acct, caps)
	if len(r.Features) != len(client.AllFeatures)+1 || r.Features[len(r.Features)-1].Name != "x-future" {
		t.Fatalf("features %+v", r.Features)
	}
	for i, f := range client.AllFeatures {
		if r.Features[i].Name != f {
			t.Errorf("feature %d is %s, want %s", i, r.Features[i].Name, f)
		}
	}
	b, _ := json.Marshal(r)
	if !strings.Contains(string(b), `"auth_mechanisms":[]`) || !strings.Contains(string(b), `{"name":"partial_fetch","supported":false,"how":"POP3 downloads whole messages"}`) {
		t.Errorf("JSON %s", b)
	}
	out := r.layout(&format{tty: true}, 100)
	for _, want := range []string{
		"Account:   home (POP3, pop.example.net:995)",
		"partial fetch (one MIME part)     no         POP3 downloads whole messages",
		"delete without download           yes        DELE (committed at QUIT)",
		"several folders                   no         not reported by the POP3 driver",
		"Auth:      (none)",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("layout lacks %q:\n%s", want, out)
		}
	}
	recs := r.records(&format{})
	if strings.Join(recs[4], "|") != "announced|TOP UIDL SASL PLAIN" || strings.Join(recs[9], "|") != "partial_fetch|false|POP3 downloads whole messages" {
		t.Errorf("records %q", recs)
	}
}

func TestHookEnv(t *testing.T) {
	e := client.Envelope{
		ID: "42", Folder: "INBOX", From: "Eve <eve@example.org>", To: []string{"a@example.org", "b@example.org"},
		Subject: "$(rm -rf ~); `id` \x1b]52;c;cHduZWQ=\x07line\nbreak\x00", Size: 1234,
		Date:  time.Date(2025, 3, 4, 10, 5, 0, 0, time.FixedZone("CET", 3600)),
		Flags: []client.Flag{client.FlagSeen}, HasAttachments: true,
	}
	env := hookEnv([]string{"PATH=/bin", "DUOMAIL_SUBJECT=stale", "HOME=/h"}, "work", e)
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := got[k]; dup {
			t.Errorf("%s twice", k)
		}
		got[k] = v
	}
	want := map[string]string{
		"PATH": "/bin", "HOME": "/h",
		"DUOMAIL_ACCOUNT": "work", "DUOMAIL_FOLDER": "INBOX", "DUOMAIL_ID": "42",
		"DUOMAIL_FROM": "Eve <eve@example.org>", "DUOMAIL_TO": "a@example.org, b@example.org",
		"DUOMAIL_SUBJECT": "$(rm -rf ~); `id` line break", "DUOMAIL_DATE": "2025-03-04T10:05:00+01:00",
		"DUOMAIL_SIZE": "1234", "DUOMAIL_FLAGS": "seen,attachment", "DUOMAIL_MESSAGE_ID": "",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("environment %q", env)
	}
	if env := hookEnv(nil, "w", client.Envelope{}); !strings.Contains(strings.Join(env, "\n"), "DUOMAIL_DATE=\n") {
		t.Errorf("unknown date: %q", env)
	}
}

func TestEnvelopeLine(t *testing.T) {
	e := client.Envelope{ID: "7", Folder: "INBOX", From: "A <a@b>", Subject: "hi\x1b[2J there \u202e", Size: 2048,
		Date: time.Date(2025, 3, 4, 10, 5, 0, 0, time.UTC), Flags: []client.Flag{client.FlagFlagged}}
	p, out := testPrinter(false, true, 0)
	if err := p.envelopeLine("work", e); err != nil {
		t.Fatal(err)
	}
	line := out.String()
	if strings.Count(line, "\n") != 1 || !strings.HasSuffix(line, "\n") || strings.ContainsAny(line, "\x1b\u202e") {
		t.Errorf("JSON line %q", line)
	}
	var got struct {
		Account string `json:"account"`
		client.Envelope
	}
	if err := json.Unmarshal([]byte(line), &got); err != nil || got.Account != "work" || got.Subject != e.Subject || got.ID != "7" || got.Size != 2048 {
		t.Errorf("decoded %+v, %v", got, err)
	}
	p, out = testPrinter(false, false, 0)
	p.envelopeLine("work", e)
	if out.String() != "7\t2025-03-04T10:05:00Z\tA <a@b>\thi there \t2048\tflagged\n" {
		t.Errorf("TSV %q", out.String())
	}
	p, out = testPrinter(true, false, 60)
	e.Subject = strings.Repeat("long subject ", 10)
	p.envelopeLine("work", e)
	if w := uniseg.StringWidth(strings.TrimSuffix(out.String(), "\n")); w > 60 || !strings.Contains(out.String(), "…") {
		t.Errorf("terminal line of %d columns: %q", w, out.String())
	}
}

func TestCheckExitStatus(t *testing.T) {
	tests := []struct {
		err  error
		code int
	}{
		{errors.New("disk full"), exitOther},
		{&config.Error{File: "f", Msg: "bad"}, exitOther},
		{fmt.Errorf("login: %w", client.ErrAuth), exitAuth},
		{fmt.Errorf("connect: %w", client.ErrNetwork), exitNetwork},
		{client.Unsupported("check Archive", "POP3 has no folders"), exitUnsupported},
		{usageErrorf("-f and --folders exclude each other"), exitUsage},
	}
	for _, tc := range tests {
		if got := exitCode(checkStatus(tc.err)); got != tc.code {
			t.Errorf("check exit for %v = %d, want %d", tc.err, got, tc.code)
		}
	}
	if exitCode(&exitStatus{code: 1}) != 1 || exitCode(fmt.Errorf("x: %w", &exitStatus{code: 4})) != 4 {
		t.Errorf("exitStatus codes")
	}
}

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
	os.WriteFile(cfg, []byte(fmt.Sprintf(`cache_dir = %q
[accounts.i]
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "none"
username = "alice"
password = "secret"

[accounts.p]
protocol = "pop3"
host = "127.0.0.1"
port = %d
tls = "none"
username = "alice"
password = "secret"
`, filepath.Join(dir, "cache"), isrv.Port(), psrv.Port())), 0o600)
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
	var rep client.CompareReport
	if err := json.Unmarshal([]byte(out), &rep); code != 0 || err != nil || len(rep.Rows) != 8 {
		t.Fatalf("compare: exit %d, %v\n%s\n%s", code, err, out, errs)
	}
}
