package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/imapsrc/imaptest"
	"github.com/duomail/duomail/popsrc/pop3test"
)

// Hostile mail through every command that prints for a human, over IMAP
// (imaptest) and POP3 (pop3test): nothing a terminal would obey may reach
// stdout or stderr, nothing may crash, and the readable text must still
// show.

// hostileServers starts both in-process servers with the corpus delivered.
func hostileServers(t *testing.T, corpus []sourcetest.HostileMessage) (imapURLs, popURLs string) {
	t.Helper()
	isrv, err := imaptest.Start(imaptest.Options{InsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { isrv.Close() })
	psrv, err := pop3test.Start(pop3test.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { psrv.Close() })
	psrv.AddUser("alice", "secret")
	date := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i, m := range corpus {
		psrv.Add("alice", m.Raw)
		if why := imaptestCannot[m.Name]; why != "" {
			t.Logf("%s: not served by imaptest: %s", m.Name, why)
			continue
		}
		if err := isrv.Append("alice", client.Inbox, m.Raw, nil, date.Add(time.Duration(i)*time.Minute)); err != nil {
			t.Fatalf("imaptest refuses %s: %v", m.Name, err)
		}
	}
	return imapURL(isrv.Port()), popURL(psrv.Port())
}

// imaptestCannot lists corpus messages the in-process IMAP server cannot
// serve, with the reason. They still go through POP3, and through IMAP in
// TestBinaryHostileMailDovecot.
var imaptestCannot = map[string]string{
	"no-boundary": "imapmemserver panics computing the BODYSTRUCTURE of a multipart without boundary",
}

// fetchJSON is the --json shape of fetch.
type fetchJSON struct {
	client.Envelope
	Parts  *client.Part `json:"parts"`
	Text   *string      `json:"text"`
	Header *string      `json:"header"`
}

// subcommands reports which of the named commands this binary has.
func subcommands(t *testing.T, names ...string) []string {
	var out []string
	for _, n := range names {
		if exec.Command(binary(t), n, "--help").Run() == nil {
			out = append(out, n)
		}
	}
	return out
}

func TestBinaryHostileMail(t *testing.T) {
	t.Parallel()
	corpus := sourcetest.HostileMessages()
	imapU, popU := hostileServers(t, corpus)
	tally := &hostileTally{}
	extra := subcommands(t, "check", "capabilities", "compare")
	t.Logf("optional commands present: %v", extra)
	if slices.Contains(extra, "compare") {
		t.Run("compare", func(t *testing.T) {
			c := newCLI(t)
			c.env["DUOMAIL_PASSWORD"] = "secret"
			for _, tty := range []bool{false, true} {
				tally.clean(t, c.runChecked(runOptions{tty: tty}, "compare", imapU, popU))
			}
			tally.clean(t, c.runChecked(runOptions{}, "--json", "compare", imapU, popU))
		})
	}
	for _, proto := range []struct {
		name, url string
		skip      map[string]string
	}{{"imap", imapU, imaptestCannot}, {"pop3", popU, nil}} {
		t.Run(proto.name, func(t *testing.T) {
			t.Parallel()
			c := newCLI(t)
			c.env["DUOMAIL_PASSWORD"] = "secret"
			hostileCorpusThroughCommands(t, c, tally, []string{"--url", proto.url}, proto.name == "pop3", corpus, proto.skip, extra)
		})
	}
	t.Cleanup(func() {
		t.Logf("FIGURES hostile: messages=%d rendered=%d control_bytes_leaked=%d", 2*len(corpus)-len(imaptestCannot), tally.rendered, tally.leaked)
	})
}

// The corpus through a real server too: Dovecot computes ENVELOPE and
// BODYSTRUCTURE its own way (control bytes in literals, its own MIME
// parser), and serves what imapmemserver cannot.
func TestBinaryHostileMailDovecot(t *testing.T) {
	t.Parallel()
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	corpus := sourcetest.HostileMessages()
	for _, m := range corpus {
		d.Deliver(t, "alice", client.Inbox, m.Raw)
	}
	tally := &hostileTally{}
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = sourcetest.Password
	hostileCorpusThroughCommands(t, c, tally, []string{"--url", fmt.Sprintf("imap://alice@%s:%d?tls=none", d.Host, d.IMAPPort)}, false, corpus, nil, nil)
	t.Logf("FIGURES hostile dovecot: messages=%d rendered=%d control_bytes_leaked=%d", len(corpus), tally.rendered, tally.leaked)
}

// hostileCorpusThroughCommands runs every printing command over the corpus
// on one account (given by account, e.g. --url ...).
func hostileCorpusThroughCommands(t *testing.T, c *cli, tally *hostileTally, account []string, pop3 bool, corpus []sourcetest.HostileMessage, skip map[string]string, extra []string) {
	run := func(o runOptions, allowed []int, args ...string) hostileRun {
		t.Helper()
		r := c.runChecked(o, append(append([]string(nil), account...), args...)...)
		tally.clean(t, r, allowed...)
		return r
	}
	ok := []int{0}
	for _, tty := range []bool{false, true} {
		o := runOptions{tty: tty}
		run(o, ok, "list", "--limit", "0")
		run(o, ok, "folders")
		run(o, ok, "sync")
		run(o, ok, "list", "--limit", "0", "--offline")
		run(o, ok, "list", "--limit", "0", "--json")
		for _, cmd := range extra {
			switch cmd {
			case "check": // exit 1: no new mail
				run(o, []int{0, 1}, cmd)
				run(o, []int{0, 1}, cmd, "--json")
			case "capabilities":
				run(o, ok, cmd)
				run(o, ok, cmd, "--json")
			}
		}
	}
	run(runOptions{}, ok, "--debug", "list", "--limit", "0")
	if pop3 {
		run(runOptions{}, ok, "list", "--headers-only", "--limit", "0")
	} else {
		run(runOptions{}, ok, "sync", "--bodies")
	}
	list := jsonOf[listJSON](t, runResult{stdout: run(runOptions{}, ok, "list", "--limit", "0", "--json").stdout.String()})
	var delivered []sourcetest.HostileMessage
	for _, m := range corpus {
		if skip[m.Name] == "" {
			delivered = append(delivered, m)
		}
	}
	if len(list.Messages) != len(delivered) {
		t.Fatalf("listed %d messages, delivered %d", len(list.Messages), len(delivered))
	}
	// IDs grow in delivery order (IMAP UIDs, pop3test's UIDLs), which
	// names each message even where a server could not parse its subject.
	seq := func(id string) int {
		n, _ := strconv.Atoi(strings.TrimLeft(strings.SplitN(id, ".", 2)[0], "uid"))
		return n
	}
	slices.SortFunc(list.Messages, func(a, b client.Envelope) int { return seq(a.ID) - seq(b.ID) })
	for i, m := range delivered {
		e := list.Messages[i]
		t.Run(m.Name, func(t *testing.T) {
			id := e.ID
			if !strings.HasPrefix(e.Subject, "hostile "+m.Name) {
				t.Logf("%s listed with subject %q", m.Name, e.Subject)
			}
			for _, tty := range []bool{false, true} {
				r := run(runOptions{tty: tty}, ok, "fetch", "--peek", id)
				if m.Marker != "" && !strings.Contains(r.stdout.String(), m.Marker) {
					t.Errorf("readable text lost: %q not shown\n%v", m.Marker, r)
				}
				run(runOptions{tty: tty}, ok, "fetch", "--headers", id)
			}
			run(runOptions{}, ok, "--debug", "fetch", "--peek", id)
			r := run(runOptions{}, ok, "fetch", "--peek", "--json", id)
			var f fetchJSON
			if err := json.Unmarshal([]byte(r.stdout.String()), &f); err != nil {
				t.Fatalf("fetch --json: %v\n%v", err, r)
			}
			if m.Marker != "" && (f.Text == nil || !strings.Contains(*f.Text, m.Marker)) {
				t.Errorf("fetch --json text lacks %q", m.Marker)
			}
			run(runOptions{}, ok, "fetch", "--headers", "--json", id)
			leaves := 0
			f.Parts.Walk(func(p *client.Part) bool {
				if p.IsMultipart() || p.Path == "" || leaves >= 8 {
					return true
				}
				leaves++
				if strings.HasPrefix(p.Type, "text/") || p.Type == "message/rfc822" {
					// A part that cannot be decoded fails, naming itself.
					r := run(runOptions{}, []int{0, 1}, "fetch", "--peek", "--part", p.Path, id)
					if r.code == 1 && !strings.HasPrefix(r.stderr.String(), "duomail: fetch "+id+": part "+p.Path+": ") {
						t.Errorf("part error without context: %v", r)
					}
				} else {
					// On a terminal a binary part is refused, with a clean message.
					run(runOptions{tty: true}, []int{2}, "fetch", "--peek", "--part", p.Path, id)
				}
				return true
			})
			if len(m.Attachments) > 0 || f.Parts.HasAttachments() {
				run(runOptions{dir: t.TempDir()}, []int{0, 1}, "fetch", "--peek", "--save-attachments", filepath.Join(t.TempDir(), "att"), id)
				run(runOptions{tty: true, dir: t.TempDir()}, []int{0, 1}, "fetch", "--peek", "--save-attachments", filepath.Join(t.TempDir(), "att"), id)
			}
		})
	}
}

// hostileFolderNames are IMAP folder names carrying control sequences,
// path tricks and names the cache reserves.
var hostileFolderNames = []string{
	"Evil \x1b[2J\x1b]0;title\x07 box",
	"C1 \u009b31m \u009d0;t\u009c box",
	"Bidi \u202exob\u202c",
	"../../escape",
	"..",
	".hidden",
	"cur",
	"index.sqlite",
	"a\\b",
	"%41 percent",
}

func TestBinaryHostileFolders(t *testing.T) {
	t.Parallel()
	srv, err := imaptest.Start(imaptest.Options{InsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	marker := "MARKER-folder"
	raw := []byte("From: x@example.org\r\nSubject: hostile in folder \x1b[2J\r\nContent-Type: text/plain\r\n\r\n" + marker + " \x1b]0;t\x07\r\n")
	var names []string
	for _, n := range hostileFolderNames {
		if err := srv.CreateFolder("alice", n, ""); err != nil {
			t.Logf("imaptest cannot create %q: %v", n, err)
			continue
		}
		if err := srv.Append("alice", n, raw, nil, time.Now()); err != nil {
			t.Fatalf("append to %q: %v", n, err)
		}
		names = append(names, n)
	}
	if len(names) < 5 {
		t.Fatalf("only %d hostile folders could be made", len(names))
	}
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	u := imapURL(srv.Port())
	var tally hostileTally
	before := snapshot(t, c.home)

	for _, tty := range []bool{false, true} {
		tally.clean(t, c.runChecked(runOptions{tty: tty}, "--url", u, "folders"))
	}
	r := c.runChecked(runOptions{}, "--url", u, "folders", "--json")
	tally.clean(t, r)
	var fl struct {
		Folders []client.Folder `json:"folders"`
	}
	if err := json.Unmarshal([]byte(r.stdout.String()), &fl); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, f := range fl.Folders {
		got[f.Name] = true
	}
	for _, n := range names {
		if !got[n] {
			t.Errorf("folder %q missing from --json (names must round-trip exactly): %v", n, fl.Folders)
		}
	}
	for _, n := range names {
		t.Run(fmt.Sprintf("%q", n), func(t *testing.T) {
			for _, tty := range []bool{false, true} {
				tally.clean(t, c.runChecked(runOptions{tty: tty}, "--url", u, "sync", "--bodies", "-f", n))
				tally.clean(t, c.runChecked(runOptions{tty: tty}, "--url", u, "list", "-f", n))
			}
			r := c.runChecked(runOptions{}, "--url", u, "list", "-f", n, "--json")
			tally.clean(t, r)
			l := jsonOf[listJSON](t, runResult{stdout: r.stdout.String()})
			if len(l.Messages) != 1 || l.Folder != n {
				t.Fatalf("list -f %q: %+v", n, l)
			}
			id := l.Messages[0].ID
			r = c.runChecked(runOptions{}, "--url", u, "fetch", "-f", n, id)
			tally.clean(t, r)
			if !strings.Contains(r.stdout.String(), marker) {
				t.Errorf("text lost: %v", r)
			}
			tally.clean(t, c.runChecked(runOptions{}, "--url", u, "list", "-f", n, "--offline"))
			// A folder that does not exist, named with controls: the error is clean.
			tally.clean(t, c.runChecked(runOptions{}, "--url", u, "list", "-f", n+"\x1b[2Jmissing"), 1)
		})
	}
	// The cache stays inside the data directory whatever the names.
	if out := changedOutside(before, snapshot(t, c.home), c.data); len(out) > 0 {
		t.Errorf("files changed outside the data directory: %q", out)
	}
	t.Logf("FIGURES hostile folders: folders=%d rendered=%d control_bytes_leaked=%d", len(names), tally.rendered, tally.leaked)
}

// TestBinaryHostileAttachments saves attachments with hostile names and
// checks the file system around the target folder: nothing new outside it,
// nothing existing overwritten without --force, a planted symlink never
// followed, even with --force.
func TestBinaryHostileAttachments(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	victim := filepath.Join(root, "victim")
	os.WriteFile(victim, []byte("victim content"), 0o600)
	names := append([]string{filepath.Join(root, "abs-escape.txt"), filepath.Join(root, "att", "..", "dotdot.txt")}, sourcetest.AttachmentNames...)
	marker := "MARKER-attachments"
	raw := sourcetest.AttachmentNamesMessage("hostile attachments", marker, names)

	isrv, err := imaptest.Start(imaptest.Options{InsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer isrv.Close()
	isrv.Append("alice", client.Inbox, raw, nil, time.Now())
	psrv, err := pop3test.Start(pop3test.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer psrv.Close()
	psrv.AddUser("alice", "secret")
	psrv.Add("alice", raw)

	var mu sync.Mutex
	tried, outside := 0, 0
	var tally hostileTally
	for _, proto := range []struct{ name, url string }{{"imap", imapURL(isrv.Port())}, {"pop3", popURL(psrv.Port())}} {
		t.Run(proto.name, func(t *testing.T) {
			c := newCLI(t)
			c.env["DUOMAIL_PASSWORD"] = "secret"
			list := jsonOf[listJSON](t, c.ok("--url", proto.url, "list", "--json"))
			if len(list.Messages) != 1 {
				t.Fatalf("list: %+v", list)
			}
			id := list.Messages[0].ID
			cwd := filepath.Join(root, proto.name+"-cwd")
			os.Mkdir(cwd, 0o700)
			att := filepath.Join(root, proto.name+"-att")
			os.Mkdir(att, 0o700)
			// Planted: a symlink where "passwd" (from /etc/passwd) will be
			// written, pointing at a file outside, and a file of the user's
			// own under a name the message also uses.
			if err := os.Symlink(victim, filepath.Join(att, "passwd")); err != nil {
				t.Fatal(err)
			}
			os.WriteFile(filepath.Join(att, "same.txt"), []byte("mine"), 0o600)
			before := snapshot(t, root)
			passwdBefore, _ := os.Stat("/etc/passwd")

			for _, force := range []bool{false, true} {
				args := []string{"--url", proto.url, "fetch", "--peek", "--save-attachments", att, id}
				if force {
					args = append(args, "--force")
				}
				r := c.runChecked(runOptions{dir: cwd, umask0: true}, args...)
				// The planted symlink is refused either way: exit 1.
				tally.clean(t, r, 1)
				if !strings.Contains(r.stderr.String(), "passwd") {
					t.Errorf("refusal of the planted link not reported: %v", r)
				}
				mu.Lock()
				tried += len(names)
				mu.Unlock()
				after := snapshot(t, root)
				changed := changedOutside(before, after, att)
				if len(changed) > 0 {
					t.Errorf("force=%v: written outside %s: %q", force, att, changed)
					mu.Lock()
					outside += len(changed)
					mu.Unlock()
				}
				if b, _ := os.ReadFile(victim); string(b) != "victim content" {
					t.Errorf("force=%v: the symlink target was written: %q", force, b)
				}
				if fi, err := os.Lstat(filepath.Join(att, "passwd")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
					t.Errorf("force=%v: the planted symlink was replaced: %v %v", force, fi, err)
				}
				same, _ := os.ReadFile(filepath.Join(att, "same.txt"))
				if !force && string(same) != "mine" {
					t.Errorf("existing file overwritten without --force: %q", same)
				}
				if force && string(same) != "attachment 23\n" && string(same) != "attachment 24\n" {
					t.Errorf("--force did not replace same.txt: %q", same)
				}
				// Every file written is a private, visible, plain file
				// directly in the folder, with a name free of controls.
				entries, _ := os.ReadDir(att)
				written := 0
				for _, e := range entries {
					fi, _ := e.Info()
					name := e.Name()
					if name == "passwd" {
						continue
					}
					written++
					if !fi.Mode().IsRegular() || strings.HasPrefix(name, ".") || strings.ContainsFunc(name, isForbiddenRune) || !utf8Valid(name) {
						t.Errorf("odd file %q (%v)", name, fi.Mode())
					}
					// Saved files follow the umask (000 here), as files a
					// user saves from any program do.
					if name != "same.txt" && fi.Mode().Perm() != 0o666 {
						t.Errorf("%s has mode %v, want 0666 under umask 000", name, fi.Mode().Perm())
					}
				}
				if written < len(names)-3 {
					t.Errorf("force=%v: only %d of %d attachments written: %v", force, written, len(names), r)
				}
				if _, err := os.Lstat("/tmp/duomail-escape"); err == nil {
					t.Errorf("/tmp/duomail-escape was created")
				}
				if fi, _ := os.Stat("/etc/passwd"); passwdBefore != nil && (fi == nil || !fi.ModTime().Equal(passwdBefore.ModTime()) || fi.Size() != passwdBefore.Size()) {
					t.Errorf("/etc/passwd changed")
				}
			}
		})
	}
	t.Logf("FIGURES attachments: names_tried=%d written_outside=%d", tried, outside)
	if tally.leaked > 0 {
		t.Errorf("control bytes leaked: %d", tally.leaked)
	}
}

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\ufffd") == s }

// watch prints new mail as it arrives, and runs --exec with the message in
// the environment: hostile mail arriving during a watch is shown clean on
// stdout, and the values handed to the hook are clean too (the hook echoes
// them to stderr, which is checked like stdout).
func TestBinaryHostileWatch(t *testing.T) {
	t.Parallel()
	if len(subcommands(t, "watch")) == 0 {
		t.Skip("this duomail has no watch command")
	}
	var msgs []sourcetest.HostileMessage
	for _, m := range sourcetest.HostileMessages() {
		switch m.Name {
		case "raw-escapes", "encoded-words", "bidi", "raw-c1", "latin1-c1", "html", "malformed-header":
			msgs = append(msgs, m)
		}
	}
	var tally hostileTally
	hook := `printf 'hook: %s | %s | %s | %s\n' "$DUOMAIL_SUBJECT" "$DUOMAIL_FROM" "$DUOMAIL_TO" "$DUOMAIL_MESSAGE_ID" >&2`
	for _, proto := range []string{"imap", "pop3"} {
		for _, asJSON := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s json=%v", proto, asJSON), func(t *testing.T) {
				t.Parallel()
				var (
					u       string
					ready   func() bool
					deliver func(raw []byte)
				)
				switch proto {
				case "imap":
					var trace syncWriter
					srv, err := imaptest.Start(imaptest.Options{InsecureAuth: true, DebugWriter: &trace})
					if err != nil {
						t.Fatal(err)
					}
					defer srv.Close()
					u = imapURL(srv.Port())
					// The client's IDLE command, not the word in a capability list.
					idle := regexp.MustCompile(`(?m)^[A-Za-z0-9]+ IDLE\r?$`)
					ready = func() bool { return idle.MatchString(trace.String()) }
					deliver = func(raw []byte) { srv.Append("alice", client.Inbox, raw, nil, time.Now()) }
				case "pop3":
					srv, err := pop3test.Start(pop3test.Options{})
					if err != nil {
						t.Fatal(err)
					}
					defer srv.Close()
					srv.AddUser("alice", "secret")
					u = popURL(srv.Port())
					ready = func() bool { // a first look at the maildrop is complete
						for _, s := range srv.Sessions() {
							if slices.Contains(s, "QUIT") {
								return true
							}
						}
						return false
					}
					deliver = func(raw []byte) { srv.Add("alice", raw) }
				}
				c := newCLI(t)
				c.env["DUOMAIL_PASSWORD"] = "secret"
				args := []string{"--url", u, "watch", "--interval", "1s", "--exec", hook}
				if asJSON {
					args = append(args, "--json")
				}
				var r hostileRun
				var stdout *outputCheck
				onStart := func(pid int) {
					go func() {
						defer func() {
							if p, err := os.FindProcess(pid); err == nil {
								p.Signal(syscall.SIGTERM)
							}
						}()
						deadline := time.Now().Add(20 * time.Second)
						for !ready() && time.Now().Before(deadline) {
							time.Sleep(20 * time.Millisecond)
						}
						for _, m := range msgs {
							deliver(m.Raw)
						}
						for time.Now().Before(deadline) {
							if stdout != nil && strings.Count(stdout.String(), "\n") >= len(msgs) {
								time.Sleep(300 * time.Millisecond) // let the last hook run
								return
							}
							time.Sleep(20 * time.Millisecond)
						}
					}()
				}
				r = c.runChecked(runOptions{timeout: 40 * time.Second, onStart: onStart, stdoutHook: func(o *outputCheck) { stdout = o }}, args...)
				tally.clean(t, r)
				if n := strings.Count(r.stdout.String(), "\n"); n != len(msgs) {
					t.Errorf("%d lines for %d new messages: %v", n, len(msgs), r)
				}
				if n := strings.Count(r.stderr.String(), "hook: "); n != len(msgs) {
					t.Errorf("the hook ran %d times for %d messages: %v", n, len(msgs), r)
				}
				if !strings.Contains(r.stderr.String(), "hostile raw-escapes") {
					t.Errorf("hook did not get the subject: %v", r)
				}
			})
		}
	}
}
