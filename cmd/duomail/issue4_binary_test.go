package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/mailcheck"
	"github.com/duomail/duomail/client/sourcetest"
)

// capabilities, compare, check and watch, run as the binary against one
// Dovecot user's mailbox configured twice: as an IMAP and as a POP3
// account.

// i4CompareJSON is compare --json --stats.
type i4CompareJSON struct {
	client.CompareReport
	Stats statsJSON `json:"stats"`
}

type i4CheckJSON struct {
	Checks []client.FolderCheck `json:"checks"`
	Errors []checkError         `json:"errors"`
	Stats  *statsJSON           `json:"stats"`
}

// i4Dovecot starts a Dovecot with the sample mailbox delivered to a user
// and a configuration naming it over IMAPS ("imap") and POP3S ("pop"),
// plus accounts that cannot work: a wrong password and a closed port.
func i4Dovecot(t *testing.T) (*sourcetest.Dovecot, *cli, string, sampleIndex) {
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{Extra: "auth_failure_delay = 0\n"})
	idx := sampleIndex{mail: sampleMail()}
	user := d.AddUser(t)
	for _, m := range idx.mail {
		d.Deliver(t, user, m.Folder, m.Raw)
	}
	closed := i4ClosedPort(t)
	c := newCLI(t)
	c.env["DOVECOT_PW"] = sourcetest.Password
	c.writeConfig(fmt.Sprintf(`
[accounts.imap]
protocol = "imap"
host = "%[1]s"
port = %[2]d
username = "%[5]s"
password_env = "DOVECOT_PW"
ca_file = "%[4]s"

[accounts.pop]
protocol = "pop3"
host = "%[1]s"
port = %[3]d
username = "%[5]s"
password_env = "DOVECOT_PW"
ca_file = "%[4]s"

[accounts.wrongpw]
protocol = "imap"
host = "%[1]s"
port = %[2]d
username = "%[5]s"
password = "not-the-password"
ca_file = "%[4]s"

[accounts.refused]
protocol = "pop3"
host = "127.0.0.1"
port = %[6]d
tls = "none"
username = "%[5]s"
password = "x"
`, d.Host, d.IMAPSPort, d.POP3SPort, d.CAFile, user, closed))
	return d, c, user, idx
}

// i4ClosedPort is a loopback port nothing listens on.
func i4ClosedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

func TestBinaryCapabilitiesCompareCheckDovecot(t *testing.T) {
	t.Parallel()
	d, c, user, idx := i4Dovecot(t)

	t.Run("capabilities", func(t *testing.T) {
		for _, acct := range []string{"imap", "pop"} {
			r := c.ok("-a", acct, "capabilities", "--json")
			got := jsonOf[capabilitiesResult](t, r)
			var names []client.Feature
			for _, f := range got.Features {
				names = append(names, f.Name)
				if f.How == "" {
					t.Errorf("%s: feature %s without how", acct, f.Name)
				}
			}
			if !slices.Equal(names, client.AllFeatures) {
				t.Errorf("%s: features %v, want AllFeatures order", acct, names)
			}
			if len(got.Announced) == 0 || len(got.Auth) == 0 || !strings.HasPrefix(got.TLS, "TLS 1.") || !strings.Contains(got.TLS, "implicit") {
				t.Errorf("%s: announced %v auth %v tls %q", acct, got.Announced, got.Auth, got.TLS)
			}
			feature := func(f client.Feature) featureJSON {
				i := slices.Index(names, f)
				if i < 0 {
					t.Fatalf("no %s", f)
				}
				return got.Features[i]
			}
			switch acct {
			case "imap":
				if got.Protocol != "imap" || !slices.Contains(got.Announced, "IDLE") {
					t.Errorf("imap: %+v", got)
				}
				if f := feature(client.FeaturePush); !f.Supported || f.How != "IDLE" {
					t.Errorf("imap push: %+v", f)
				}
				if f := feature(client.FeaturePartialFetch); !f.Supported {
					t.Errorf("imap partial fetch: %+v", f)
				}
			case "pop":
				if got.Protocol != "pop3" || !slices.Contains(got.Announced, "UIDL") {
					t.Errorf("pop: %+v", got)
				}
				if f := feature(client.FeaturePartialFetch); f.Supported || f.How != "POP3 downloads whole messages" {
					t.Errorf("pop partial fetch: %+v", f)
				}
				if f := feature(client.FeatureDeleteNoDownload); !f.Supported {
					t.Errorf("pop delete without download: %+v", f)
				}
			}

			// Piped: key/value lines, then a line per feature.
			rows := tsv(c.ok("-a", acct, "capabilities").stdout)
			byKey := map[string][]string{}
			for _, row := range rows {
				byKey[row[0]] = row
			}
			if r := byKey["protocol"]; len(r) != 2 || r[1] != got.Protocol {
				t.Errorf("%s: protocol line %q", acct, r)
			}
			if r := byKey["announced"]; len(r) != 2 || r[1] != strings.Join(got.Announced, " ") {
				t.Errorf("%s: announced line %q", acct, r)
			}
			for _, f := range got.Features {
				if r := byKey[string(f.Name)]; len(r) != 3 || r[1] != fmt.Sprint(f.Supported) || r[2] != f.How {
					t.Errorf("%s: feature line %q, want %+v", acct, r, f)
				}
			}
		}
	})

	t.Run("compare", func(t *testing.T) {
		holiday := idx.bySubject(t, "Holiday picture")
		before := len(d.Files(user, client.Inbox))
		seenBefore := i4SeenSubjects(t, c)

		// Read-only without --with-delete. The flag IMAP sets to show a
		// second device is restored; but Dovecot marks what POP3 hands out
		// as seen (pop3_no_flag_updates = no), so the message the POP3
		// side downloaded is seen afterwards, and only that one.
		r := c.ok("compare", "imap", "pop", "--json", "--stats")
		rep := jsonOf[i4CompareJSON](t, r)
		if n := len(d.Files(user, client.Inbox)); n != before {
			t.Errorf("compare without --with-delete: %d messages on the server, want %d", n, before)
		}
		wantSeen := append(slices.Clone(seenBefore), sampleSubject(holiday))
		slices.Sort(wantSeen)
		if after := i4SeenSubjects(t, c); !slices.Equal(after, wantSeen) {
			t.Errorf("seen after compare: %v, want %v", after, wantSeen)
		}
		if rep.Accounts[0].Name != "imap" || rep.Accounts[0].Protocol != "imap" || rep.Accounts[1].Protocol != "pop3" {
			t.Fatalf("accounts %+v", rep.Accounts)
		}
		if len(rep.Rows) != 8 {
			t.Fatalf("%d rows: %s", len(rep.Rows), r.stdout)
		}
		// Each side's rows cost no more than its account's wire totals.
		if len(rep.Stats.Accounts) != 2 {
			t.Fatalf("stats %+v", rep.Stats)
		}
		for i := range 2 {
			var sum client.Counts
			for _, row := range rep.Rows {
				s := row.Sides[i]
				if s.Error != "" {
					t.Errorf("%s on %s: %s", row.Scenario, rep.Accounts[i].Name, s.Error)
				}
				sum.Commands += s.Commands
				sum.Sent += s.Sent
				sum.Received += s.Received
			}
			st := rep.Stats.Accounts[i]
			if st.Account != rep.Accounts[i].Name || st.Protocol != rep.Accounts[i].Protocol {
				t.Errorf("stats %d is %s/%s", i, st.Account, st.Protocol)
			}
			if sum.Commands == 0 || sum.Commands > st.Commands || sum.Sent > st.Sent || sum.Received > st.Received {
				t.Errorf("%s: rows sum to %+v, more than the account's stats %+v", rep.Accounts[i].Name, sum, st.Counts)
			}
		}
		if rep.Stats.Commands != rep.Stats.Accounts[0].Commands+rep.Stats.Accounts[1].Commands {
			t.Errorf("stats total %d", rep.Stats.Commands)
		}
		if !strings.Contains(r.stderr, "IMAP (imap): ") || !strings.Contains(r.stderr, "POP3 (pop): ") {
			t.Errorf("--stats lines: %q", r.stderr)
		}
		// The protocol difference: IMAP reads the text alone, POP3 the
		// whole message.
		read := i4Row(t, rep.CompareReport, client.ScenarioReadText)
		imapSide, popSide := read.Sides[0], read.Sides[1]
		size := int64(len(holiday.Raw))
		if !strings.Contains(imapSide.Result, "Holiday picture") || !strings.Contains(popSide.Result, "Holiday picture") {
			t.Errorf("read text chose another message: %q / %q", imapSide.Result, popSide.Result)
		}
		if imapSide.Received*20 > size {
			t.Errorf("IMAP received %d bytes to read the text of a %d-byte message", imapSide.Received, size)
		}
		if popSide.Received < size {
			t.Errorf("POP3 received %d bytes, less than the %d-byte message it must download", popSide.Received, size)
		}
		folders := i4Row(t, rep.CompareReport, client.ScenarioFolders)
		if folders.Sides[1].Supported || !strings.Contains(folders.Sides[1].Did, "POP3 has no folders") || !folders.Sides[0].Supported {
			t.Errorf("folders row %+v", folders)
		}
		del := i4Row(t, rep.CompareReport, client.ScenarioDelete)
		for _, s := range del.Sides {
			if !strings.HasPrefix(s.Did, "would send: ") || s.Commands != 0 {
				t.Errorf("delete without --with-delete: %+v", s)
			}
		}

		// Piped: one line per scenario and side.
		rows := tsv(c.ok("compare", "imap", "pop").stdout)
		if len(rows) != 16 {
			t.Fatalf("%d TSV lines", len(rows))
		}
		for _, row := range rows {
			if len(row) != 11 || (row[1] != "imap" && row[1] != "pop") {
				t.Errorf("TSV line %q", row)
			}
		}

		// --with-delete deletes one message on each side: two different
		// messages of the one mailbox.
		rep = jsonOf[i4CompareJSON](t, c.ok("compare", "imap", "pop", "--with-delete", "--json"))
		del = i4Row(t, rep.CompareReport, client.ScenarioDelete)
		for _, s := range del.Sides {
			if s.Error != "" || !strings.HasPrefix(s.Result, "deleted ") || s.Commands == 0 {
				t.Errorf("delete: %+v", s)
			}
		}
		if del.Sides[0].Result == del.Sides[1].Result {
			t.Errorf("both sides deleted the same message: %s", del.Sides[0].Result)
		}
		if n := len(d.Files(user, client.Inbox)); n != before-2 {
			t.Errorf("after --with-delete the server has %d messages, want %d", n, before-2)
		}

		// A side that cannot connect: the table still comes, exit 1.
		r = c.fails(1, "compare", "imap", "refused")
		if !strings.Contains(r.stderr, "could not connect to account refused") || len(tsv(r.stdout)) != 16 {
			t.Errorf("compare with a closed port: %v", r)
		}
		rep = jsonOf[i4CompareJSON](t, c.fails(1, "compare", "refused", "imap", "--json"))
		if rep.Rows[0].Sides[0].Error == "" || rep.Rows[0].Sides[1].Error != "" {
			t.Errorf("connect row %+v", rep.Rows[0])
		}
		c.fails(2, "compare", "imap")
		c.fails(2, "compare", "imap", "IMAP")
		c.fails(2, "compare", "imap", "nosuch")
	})

	t.Run("check", func(t *testing.T) {
		// The first check counts unseen mail as new; the second finds none.
		r := c.ok("-a", "imap", "check", "--json")
		first := jsonOf[i4CheckJSON](t, r)
		if len(first.Checks) != 1 || first.Checks[0].New == 0 || first.Checks[0].New != first.Checks[0].Unseen || len(first.Errors) != 0 {
			t.Fatalf("first check: %s", r.stdout)
		}
		r = c.run("-a", "imap", "check")
		if r.code != 1 || r.stderr != "" {
			t.Fatalf("second check: want exit 1 and nothing on stderr: %v", r)
		}
		row := tsv(r.stdout)
		if len(row) != 1 || row[0][0] != "imap" || row[0][1] != "INBOX" || row[0][2] != fmt.Sprint(first.Checks[0].Total) || row[0][4] != "0" {
			t.Errorf("second check: %q", row)
		}
		st, err := os.Stat(filepath.Join(c.data, "duomail", "imap", mailcheck.StateFile))
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("state file: %v %v", st, err)
		}

		// POP3: the first check sees every message as new (nothing is
		// cached), then none.
		pop := jsonOf[i4CheckJSON](t, c.ok("-a", "pop", "check", "--json"))
		if len(pop.Checks) != 1 || pop.Checks[0].New != pop.Checks[0].Total || pop.Checks[0].Total == 0 {
			t.Fatalf("first POP3 check: %+v", pop)
		}
		c.i4Exit(1, "-a", "pop", "check") // no new message: exit 1, and nothing to complain about

		// New mail arrives: both accounts, checked at once, see it.
		d.Deliver(t, user, client.Inbox, i4Message("Fresh news", "check me"))
		r = c.ok("--config", i4Config(t, c, "imap", "pop"), "check", "--all", "--json", "--stats")
		all := jsonOf[i4CheckJSON](t, r)
		if len(all.Checks) != 2 || all.Checks[0].Account != "imap" || all.Checks[1].Account != "pop" {
			t.Fatalf("check --all: %s", r.stdout)
		}
		for _, ch := range all.Checks {
			if ch.New != 1 || ch.Total != pop.Checks[0].Total+1 {
				t.Errorf("after one delivery: %+v", ch)
			}
		}
		if all.Stats == nil || len(all.Stats.Accounts) != 2 || all.Stats.Protocol != "imap+pop3" {
			t.Errorf("stats %+v", all.Stats)
		}
		c.i4Exit(1, "--config", i4Config(t, c, "imap", "pop"), "check", "--all")

		c.fails(2, "check", "--all", "-a", "imap")
		c.fails(2, "check", "-f", "INBOX", "--folders")
	})

	t.Run("check folders", func(t *testing.T) {
		// Archive was never checked: its 3 messages are unseen, so new.
		r := c.ok("-a", "imap", "check", "-f", "Archive", "--json")
		if res := jsonOf[i4CheckJSON](t, r); len(res.Checks) != 1 || res.Checks[0].Folder != "Archive" || res.Checks[0].New != 3 {
			t.Errorf("-f Archive: %s", r.stdout)
		}
		// Every folder: INBOX and Archive are known by now, Sent and Trash
		// are empty: nothing new.
		r = c.i4Exit(1, "-a", "imap", "check", "--folders", "--json")
		res := jsonOf[i4CheckJSON](t, r)
		var names []string
		for _, ch := range res.Checks {
			names = append(names, ch.Folder)
			if ch.New != 0 {
				t.Errorf("--folders: %+v", ch)
			}
		}
		for _, want := range []string{"INBOX", "Archive", "Trash", "Sent"} {
			if !slices.Contains(names, want) {
				t.Errorf("--folders checked %v", names)
			}
		}
		pop := jsonOf[i4CheckJSON](t, c.i4Exit(1, "-a", "pop", "check", "--folders", "--json"))
		if len(pop.Checks) != 1 || pop.Checks[0].Folder != "INBOX" {
			t.Errorf("POP3 --folders: %+v", pop)
		}
		r = c.fails(5, "-a", "pop", "check", "-f", "Archive")
		if !strings.Contains(r.stderr, "POP3 has no folders") {
			t.Errorf("POP3 -f Archive: %s", r.stderr)
		}
	})

	// Last: after a refused login Dovecot delays every login from the
	// address for a few seconds, which would slow the subtests above.
	t.Run("refused login and closed port", func(t *testing.T) {
		c.fails(4, "-a", "refused", "capabilities")
		c.fails(4, "-a", "refused", "check")
		r := c.fails(3, "-a", "wrongpw", "check")
		if strings.Contains(r.stderr, "not-the-password") {
			t.Errorf("password in stderr: %s", r.stderr)
		}
		// With --all the others are still checked and shown.
		r = c.fails(4, "check", "--all", "--json")
		all := jsonOf[i4CheckJSON](t, r)
		if len(all.Checks) != 2 || len(all.Errors) != 2 {
			t.Fatalf("check --all with two failing accounts: %v", r)
		}
		// Accounts in the order "accounts" lists them (by name): imap,
		// pop, refused, wrongpw; the first error (refused: 4, not the 3 of
		// wrongpw) decides the status.
		if all.Errors[0].Account != "refused" || all.Errors[1].Account != "wrongpw" {
			t.Errorf("errors %+v", all.Errors)
		}
	})
}

// i4Exit runs and requires an exit status without an error message: how
// check says "no new mail".
func (c *cli) i4Exit(code int, args ...string) runResult {
	c.t.Helper()
	r := c.run(args...)
	if r.code != code || r.stderr != "" {
		c.t.Fatalf("want exit %d and an empty stderr: %v", code, r)
	}
	return r
}

// i4Config writes a configuration with only some of the accounts of the
// main one, for check --all.
func i4Config(t *testing.T, c *cli, names ...string) string {
	t.Helper()
	main, err := os.ReadFile(filepath.Join(c.config, "duomail", "config.toml"))
	if err != nil {
		t.Fatal(err)
	}
	var keep []string
	for _, block := range strings.Split(string(main), "[accounts.") {
		name, _, _ := strings.Cut(block, "]")
		if slices.Contains(names, name) {
			keep = append(keep, "[accounts."+block)
		}
	}
	path := filepath.Join(c.home, strings.Join(names, "-")+".toml")
	if err := os.WriteFile(path, []byte(strings.Join(keep, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func i4Row(t *testing.T, rep client.CompareReport, scenario string) client.CompareRow {
	t.Helper()
	for _, row := range rep.Rows {
		if row.Scenario == scenario {
			return row
		}
	}
	t.Fatalf("no row %q", scenario)
	return client.CompareRow{}
}

// i4SeenSubjects lists the subjects of the seen messages, over IMAP.
func i4SeenSubjects(t *testing.T, c *cli) []string {
	t.Helper()
	l := jsonOf[listJSON](t, c.ok("-a", "imap", "list", "--json", "--limit", "0"))
	var out []string
	for _, e := range l.Messages {
		if client.HasFlag(e.Flags, client.FlagSeen) {
			out = append(out, e.Subject)
		}
	}
	slices.Sort(out)
	return out
}

// i4Message is a small message with the given subject, as written (it may
// carry encoded words or control characters).
func i4Message(subject, body string) []byte {
	return []byte("From: Watcher Test <watch@example.org>\r\nTo: someone@example.org\r\nSubject: " + subject +
		"\r\nDate: Tue, 04 Mar 2025 10:00:00 +0000\r\nMessage-ID: <" + fmt.Sprint(time.Now().UnixNano()) + "@example.org>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\n" + body + "\r\n")
}

// The POP3 check reads UIDL against the cache: no message is downloaded,
// not even its headers.
func TestBinaryCheckPOP3DownloadsNothing(t *testing.T) {
	t.Parallel()
	srv, _, _ := startPOP3Test(t)
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	url := popURL(srv.Port())
	c.ok("--url", url, "check")
	c.i4Exit(1, "--url", url, "check")
	srv.Add("alice", i4Message("one more", "hello"))
	r := c.ok("--url", url, "check", "--json")
	if got := jsonOf[i4CheckJSON](t, r); len(got.Checks) != 1 || got.Checks[0].New != 1 {
		t.Errorf("after one delivery: %s", r.stdout)
	}
	sessions := srv.Sessions()
	if len(sessions) != 3 {
		t.Errorf("%d sessions for 3 checks", len(sessions))
	}
	for i, s := range sessions {
		for _, cmd := range s {
			verb, _, _ := strings.Cut(cmd, " ")
			if verb = strings.ToUpper(verb); verb == "RETR" || verb == "TOP" {
				t.Errorf("session %d sent %q: %q", i, cmd, s)
			}
		}
		if !slices.ContainsFunc(s, func(cmd string) bool { return strings.EqualFold(cmd, "UIDL") }) {
			t.Errorf("session %d did not compare UIDLs: %q", i, s)
		}
	}
}

// check --all works on every account at once: two servers that never
// answer cost one timeout, not two.
func TestBinaryCheckAllConcurrent(t *testing.T) {
	t.Parallel()
	silent := func() int {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				t.Cleanup(func() { conn.Close() })
			}
		}()
		return ln.Addr().(*net.TCPAddr).Port
	}
	srv, _, _ := startPOP3Test(t)
	c := newCLI(t)
	c.writeConfig(fmt.Sprintf(`
[accounts.a-silent]
protocol = "pop3"
host = "127.0.0.1"
port = %d
tls = "none"
username = "alice"
password = "secret"
timeout = "3s"

[accounts.b-silent]
protocol = "imap"
host = "127.0.0.1"
port = %d
tls = "none"
username = "alice"
password = "secret"
timeout = "3s"

[accounts.c-good]
protocol = "pop3"
host = "127.0.0.1"
port = %d
tls = "none"
username = "alice"
password = "secret"
`, silent(), silent(), srv.Port()))
	binary(t) // built before the clock starts
	start := time.Now()
	r := c.fails(4, "check", "--all")
	elapsed := time.Since(start)
	t.Logf("check --all with two silent servers (3 s timeout each): %v", elapsed)
	if elapsed > 5500*time.Millisecond {
		t.Errorf("took %v: the accounts were not checked at once", elapsed)
	}
	if rows := tsv(r.stdout); len(rows) != 1 || rows[0][0] != "c-good" {
		t.Errorf("the good account is not shown: %v", r)
	}
	for _, name := range []string{"a-silent", "b-silent"} {
		if !strings.Contains(r.stderr, "duomail: "+name+": ") || !strings.Contains(r.stderr, "timed out") {
			t.Errorf("stderr lacks the timeout of %s: %q", name, r.stderr)
		}
	}
}

// i4Process is a long-running duomail (watch) whose stdout lines are read
// as they come.
type i4Process struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
}

func (c *cli) i4Start(args ...string) *i4Process {
	c.t.Helper()
	cmd := exec.Command(binary(c.t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + c.home, "XDG_CONFIG_HOME=" + c.config, "XDG_DATA_HOME=" + c.data, "TZ=UTC"}
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &i4Process{t: c.t, cmd: cmd, lines: make(chan string, 100), done: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		c.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.lines <- sc.Text()
		}
		close(p.lines)
	}()
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := stderr.Read(buf)
			p.mu.Lock()
			p.stderr.Write(buf[:n])
			p.mu.Unlock()
			if err != nil {
				close(p.done)
				return
			}
		}
	}()
	c.t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return p
}

func (p *i4Process) errText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// waitErr waits until stderr satisfies cond.
func (p *i4Process) waitErr(limit time.Duration, cond func(string) bool) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond(p.errText()) {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond(p.errText())
}

// next returns the next stdout line, or fails after limit.
func (p *i4Process) next(limit time.Duration, what string) string {
	p.t.Helper()
	select {
	case l, ok := <-p.lines:
		if !ok {
			p.t.Fatalf("%s: watch ended early; stderr:\n%s", what, p.errText())
		}
		return l
	case <-time.After(limit):
		p.t.Fatalf("%s: nothing within %v; stderr:\n%s", what, limit, p.errText())
	}
	return ""
}

// stop sends SIGTERM and requires a clean exit 0.
func (p *i4Process) stop() {
	p.t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() {
		for range p.lines {
		}
		<-p.done
		exited <- p.cmd.Wait()
	}()
	select {
	case err := <-exited:
		if err != nil {
			p.t.Errorf("watch after SIGTERM: %v; stderr:\n%s", err, p.errText())
		}
	case <-time.After(15 * time.Second):
		p.t.Fatalf("watch did not stop on SIGTERM; stderr:\n%s", p.errText())
	}
}

// idling reports whether the --debug trace shows an IDLE the server
// accepted and that was not ended yet.
func i4Idling(trace string) bool {
	i := strings.LastIndex(trace, " IDLE\n")
	return i >= 0 && strings.Contains(trace[i:], "S: + ") && !strings.Contains(trace[i:], "C: DONE")
}

func TestBinaryWatchDovecot(t *testing.T) {
	t.Parallel()
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	user := d.AddUser(t)
	d.Deliver(t, user, client.Inbox, i4Message("Already there", "not reported"))
	proxy := sourcetest.StartProxy(t, net.JoinHostPort(d.Host, fmt.Sprint(d.IMAPPort)))
	_, proxyPort, _ := net.SplitHostPort(proxy.Addr())
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = sourcetest.Password
	hookOut := filepath.Join(c.home, "hook-env")
	pwned := filepath.Join(c.home, "pwned")
	c.env["HOOK_OUT"] = hookOut

	t.Run("imap idle, reconnect, exec", func(t *testing.T) {
		url := fmt.Sprintf("imap://%s@127.0.0.1:%s?tls=none", user, proxyPort)
		p := c.i4Start("--url", url, "--debug", "watch", "--json",
			"--exec", `{ env; echo ---end---; } >> "$HOOK_OUT"`)
		if !p.waitErr(10*time.Second, i4Idling) {
			t.Fatalf("watch is not idling:\n%s", p.errText())
		}
		// A subject that would run commands if it reached a shell as code,
		// with a terminal escape and an encoded newline.
		hostile := "$(touch " + pwned + "); touch " + pwned + "2 `touch " + pwned + "3` \x1b]0;title\x07=?utf-8?q?line=0Abreak?="
		start := time.Now()
		d.Deliver(t, user, client.Inbox, i4Message(hostile, "hello"))
		line := p.next(10*time.Second, "new message over IDLE")
		took := time.Since(start)
		t.Logf("IMAP watch reported new mail %v after delivery", took)
		if took > 2*time.Second {
			t.Errorf("IDLE took %v to report new mail (want about a second at most)", took)
		}
		var got struct {
			Account string `json:"account"`
			client.Envelope
		}
		if err := json.Unmarshal([]byte(line), &got); err != nil {
			t.Fatalf("not a JSON line: %q", line)
		}
		if !strings.HasPrefix(got.Subject, "$(touch ") || got.Folder != "INBOX" || got.ID == "" || got.From != "Watcher Test <watch@example.org>" {
			t.Errorf("watch line %q", line)
		}
		if got.Account == "" {
			t.Errorf("no account in %q", line)
		}

		// The server drops the connection; mail that arrives meanwhile is
		// reported after the reconnection.
		proxy.CutAll()
		d.Deliver(t, user, client.Inbox, i4Message("After the cut", "still seen"))
		line = p.next(20*time.Second, "new message after the connection was cut")
		if !strings.Contains(line, `"subject":"After the cut"`) {
			t.Errorf("after the cut: %q", line)
		}
		if !strings.Contains(p.errText(), "trying again in 1s") {
			t.Errorf("no retry notice on stderr:\n%s", p.errText())
		}
		p.stop()

		env, err := os.ReadFile(hookOut)
		if err != nil {
			t.Fatal(err)
		}
		runs := strings.Split(strings.TrimSuffix(string(env), "---end---\n"), "---end---\n")
		if len(runs) != 2 {
			t.Fatalf("--exec ran %d times, want 2:\n%s", len(runs), env)
		}
		vars := map[string]string{}
		for _, l := range strings.Split(runs[0], "\n") {
			if k, v, ok := strings.Cut(l, "="); ok && strings.HasPrefix(k, "DUOMAIL_") {
				vars[k] = v
			}
		}
		want := map[string]string{
			"DUOMAIL_ACCOUNT": got.Account,
			"DUOMAIL_FOLDER":  "INBOX",
			"DUOMAIL_ID":      got.ID,
			"DUOMAIL_FROM":    "Watcher Test <watch@example.org>",
			"DUOMAIL_TO":      "someone@example.org",
			"DUOMAIL_DATE":    "2025-03-04T10:00:00Z",
			"DUOMAIL_SIZE":    fmt.Sprint(got.Size),
			"DUOMAIL_FLAGS":   "",
			"DUOMAIL_SUBJECT": "$(touch " + pwned + "); touch " + pwned + "2 `touch " + pwned + "3` line break",
		}
		for k, v := range want {
			if vars[k] != v {
				t.Errorf("%s = %q, want %q", k, vars[k], v)
			}
		}
		if strings.ContainsAny(runs[0], "\x1b\x07") {
			t.Errorf("control characters reached the hook's environment")
		}
		for _, f := range []string{pwned, pwned + "2", pwned + "3"} {
			if _, err := os.Stat(f); err == nil {
				t.Errorf("the subject was executed: %s exists", f)
			}
		}
	})

	t.Run("pop3 polling", func(t *testing.T) {
		url := fmt.Sprintf("pop3s://%s@%s:%d?ca_file=%s", user, d.Host, d.POP3SPort, d.CAFile)
		p := c.i4Start("--url", url, "--stats", "watch", "--interval", "1s")
		// The first look learns what is there; wait for it (its QUIT).
		time.Sleep(1500 * time.Millisecond)
		start := time.Now()
		d.Deliver(t, user, client.Inbox, i4Message("Polled news", "by UIDL"))
		line := p.next(5*time.Second, "new message by polling")
		t.Logf("POP3 watch (--interval 1s) reported new mail %v after delivery", time.Since(start))
		fields := strings.Split(line, "\t")
		if len(fields) != 6 || fields[3] != "Polled news" || fields[2] != "Watcher Test <watch@example.org>" || fields[1] != "2025-03-04T10:00:00Z" {
			t.Errorf("POP3 watch line %q", line)
		}
		p.stop()
		if !strings.Contains(p.errText(), "POP3: ") {
			t.Errorf("--stats line missing: %q", p.errText())
		}
	})

	t.Run("exec reaches the same account", func(t *testing.T) {
		c2 := newCLI(t)
		c2.env["DUOMAIL_PASSWORD"] = sourcetest.Password
		c2.env["I4_BIN"] = binary(t)
		c2.env["HOOK_OUT"] = filepath.Join(c2.home, "fetched")
		cfg := filepath.Join(c2.home, "elsewhere.toml")
		os.WriteFile(cfg, []byte(fmt.Sprintf("[accounts.direct]\nprotocol = \"imap\"\nhost = \"%s\"\nport = %d\ntls = \"none\"\nusername = \"%s\"\n",
			d.Host, d.IMAPPort, user)), 0o600)
		// The configuration is not in the default place: the hook's own
		// duomail finds it, and the account, through DUOMAIL_CONFIG and
		// DUOMAIL_ACCOUNT.
		p := c2.i4Start("--config", cfg, "-a", "direct", "--debug", "watch",
			"--exec", `"$I4_BIN" fetch --peek --raw "$DUOMAIL_ID" > "$HOOK_OUT"`)
		if !p.waitErr(10*time.Second, i4Idling) {
			t.Fatalf("watch is not idling:\n%s", p.errText())
		}
		raw := i4Message("Fetch me from the hook", "the body the hook fetched")
		d.Deliver(t, user, client.Inbox, raw)
		p.next(10*time.Second, "new message")
		var got []byte
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if got, _ = os.ReadFile(c2.env["HOOK_OUT"]); bytes.Equal(got, raw) {
				break
			}
		}
		if !bytes.Equal(got, raw) {
			t.Errorf("the hook's duomail fetched %q; stderr:\n%s", got, p.errText())
		}
		p.stop()
	})

	t.Run("refused login ends the watch", func(t *testing.T) {
		c2 := newCLI(t)
		c2.env["DUOMAIL_PASSWORD"] = "wrong"
		r := c2.fails(3, "--url", fmt.Sprintf("imap://%s@127.0.0.1:%s?tls=none", user, proxyPort), "watch")
		if strings.Contains(r.stderr, "trying again") {
			t.Errorf("a refused login was retried: %s", r.stderr)
		}
		c2.fails(2, "--url", fmt.Sprintf("imap://%s@127.0.0.1:%s?tls=none", user, proxyPort), "watch", "--interval", "10ms")
	})
}

var _ = io.Discard
