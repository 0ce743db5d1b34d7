package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
)

// watchProcess is a long-running duomail (watch) whose stdout lines are read
// as they come.
type watchProcess struct {
	t      *testing.T
	cmd    *exec.Cmd
	lines  chan string
	mu     sync.Mutex
	stderr bytes.Buffer
	done   chan struct{}
}

func (c *cli) startWatch(args ...string) *watchProcess {
	c.t.Helper()
	cmd := c.command(args...)
	p := &watchProcess{t: c.t, cmd: cmd, lines: make(chan string, 100), done: make(chan struct{})}
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

func (p *watchProcess) errText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// waitErr waits until stderr satisfies cond.
func (p *watchProcess) waitErr(limit time.Duration, cond func(string) bool) bool {
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
func (p *watchProcess) next(limit time.Duration, what string) string {
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
func (p *watchProcess) stop() {
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
func idling(trace string) bool {
	i := strings.LastIndex(trace, " IDLE\n")
	return i >= 0 && strings.Contains(trace[i:], "S: + ") && !strings.Contains(trace[i:], "C: DONE")
}

func TestBinaryWatchDovecot(t *testing.T) {
	t.Parallel()
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	user := d.AddUser(t)
	d.Deliver(t, user, client.Inbox, plainMessage("Already there", "not reported"))
	proxy := sourcetest.StartProxy(t, net.JoinHostPort(d.Host, fmt.Sprint(d.IMAPPort)))
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = sourcetest.Password
	hookOut := filepath.Join(c.home, "hook-env")
	pwned := filepath.Join(c.home, "pwned")
	c.env["HOOK_OUT"] = hookOut

	t.Run("imap idle, reconnect, exec", func(t *testing.T) {
		url := fmt.Sprintf("imap://%s@127.0.0.1:%d?tls=none", user, proxy.Port())
		p := c.startWatch("--url", url, "--debug", "watch", "--json",
			"--exec", `{ env; echo ---end---; } >> "$HOOK_OUT"`)
		if !p.waitErr(10*time.Second, idling) {
			t.Fatalf("watch is not idling:\n%s", p.errText())
		}
		// A subject that would run commands if it reached a shell as code,
		// with a terminal escape and an encoded newline.
		hostile := "$(touch " + pwned + "); touch " + pwned + "2 `touch " + pwned + "3` \x1b]0;title\x07=?utf-8?q?line=0Abreak?="
		start := time.Now()
		d.Deliver(t, user, client.Inbox, plainMessage(hostile, "hello"))
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
		d.Deliver(t, user, client.Inbox, plainMessage("After the cut", "still seen"))
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
		p := c.startWatch("--url", url, "--stats", "watch", "--interval", "1s")
		// The first look learns what is there; wait for it (its QUIT).
		time.Sleep(1500 * time.Millisecond)
		start := time.Now()
		d.Deliver(t, user, client.Inbox, plainMessage("Polled news", "by UIDL"))
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
		c2.env["HOOK_BIN"] = binary(t)
		c2.env["HOOK_OUT"] = filepath.Join(c2.home, "fetched")
		cfg := filepath.Join(c2.home, "elsewhere.toml")
		os.WriteFile(cfg, []byte(accountsTOML(tomlAccount{Name: "direct", Protocol: "imap", Host: d.Host, Port: d.IMAPPort, TLS: "none", Username: user})), 0o600)
		// The configuration is not in the default place: the hook's own
		// duomail finds it, and the account, through DUOMAIL_CONFIG and
		// DUOMAIL_ACCOUNT.
		p := c2.startWatch("--config", cfg, "-a", "direct", "--debug", "watch",
			"--exec", `"$HOOK_BIN" fetch --peek --raw "$DUOMAIL_ID" > "$HOOK_OUT"`)
		if !p.waitErr(10*time.Second, idling) {
			t.Fatalf("watch is not idling:\n%s", p.errText())
		}
		raw := plainMessage("Fetch me from the hook", "the body the hook fetched")
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
		r := c2.fails(3, "--url", fmt.Sprintf("imap://%s@127.0.0.1:%d?tls=none", user, proxy.Port()), "watch")
		if strings.Contains(r.stderr, "trying again") {
			t.Errorf("a refused login was retried: %s", r.stderr)
		}
		c2.fails(2, "--url", fmt.Sprintf("imap://%s@127.0.0.1:%d?tls=none", user, proxy.Port()), "watch", "--interval", "10ms")
	})
}
