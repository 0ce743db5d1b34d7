package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duomail/duomail/popsrc/pop3test"
)

// bgRun is a duomail process the test lets run while it does something
// else (sends a signal, starts another).
type bgRun struct {
	t      *testing.T
	args   []string
	cmd    *exec.Cmd
	mu     sync.Mutex
	stdout bytes.Buffer
	stderr bytes.Buffer
	done   chan struct{}
}

type bgWriter struct {
	mu  *sync.Mutex
	buf *bytes.Buffer
}

func (w bgWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

// start runs the binary as run does, without waiting for it.
func (c *cli) start(args ...string) *bgRun {
	c.t.Helper()
	p := &bgRun{t: c.t, args: args, done: make(chan struct{})}
	p.cmd = exec.Command(binary(c.t), args...)
	p.cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + c.home,
		"XDG_CONFIG_HOME=" + c.config,
		"XDG_DATA_HOME=" + c.data,
		"TZ=UTC",
	}
	for k, v := range c.env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout = bgWriter{&p.mu, &p.stdout}
	p.cmd.Stderr = bgWriter{&p.mu, &p.stderr}
	// A child duomail left behind must not keep the test waiting for EOF.
	p.cmd.WaitDelay = 2 * time.Second
	if err := p.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	c.t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

func (p *bgRun) errText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stderr.String()
}

// wait waits up to limit for the process to end and returns its result.
func (p *bgRun) wait(limit time.Duration) runResult {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(limit):
		p.cmd.Process.Kill()
		<-p.done
		p.t.Fatalf("duomail %s: did not end within %v\nstderr: %s", strings.Join(p.args, " "), limit, p.errText())
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return runResult{args: p.args, stdout: p.stdout.String(), stderr: p.stderr.String(), code: p.cmd.ProcessState.ExitCode()}
}

// waitFor polls cond until it holds or limit passes.
func waitFor(limit time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return cond()
}

func waitingMessage(n int) []byte {
	return []byte(fmt.Sprintf("From: a@example.org\r\nTo: b@example.org\r\nSubject: message %d\r\nDate: Mon, 2 Jan 2006 15:04:05 +0000\r\nMessage-ID: <m%d@example.org>\r\n\r\nbody %d\r\n", n, n, n))
}

// popAccount configures account "p" on a POP3 server at port.
func popAccount(c *cli, port int, extra string) {
	c.writeConfig(fmt.Sprintf(`
[accounts.p]
protocol = "pop3"
host = "127.0.0.1"
port = %d
tls = "none"
username = "alice"
password = "secret"
%s`, port, extra))
}

// sawCommand reports whether the server's latest session sent verb.
func sawCommand(srv *pop3test.Server, verb string) bool {
	for _, cmd := range srv.Commands() {
		if strings.HasPrefix(cmd, verb) {
			return true
		}
	}
	return false
}

// A sync stuck on a server that stopped answering, ended by Ctrl-C or by
// SIGTERM, exits as a shell reports the signal (not 1, which says a
// message was not found), and what the cache held is still there.
func TestBinarySignalExitStatus(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sig  syscall.Signal
		code int
		word string
	}{
		{syscall.SIGINT, 130, "interrupted"},
		{syscall.SIGTERM, 143, "terminated"},
	} {
		t.Run(tc.sig.String(), func(t *testing.T) {
			t.Parallel()
			good, err := pop3test.Start(pop3test.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { good.Close() })
			stalling, err := pop3test.Start(pop3test.Options{StallOn: "RETR"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { stalling.Close() })
			for _, srv := range []*pop3test.Server{good, stalling} {
				srv.AddUser("alice", "secret")
				for i := 1; i <= 3; i++ {
					srv.Add("alice", waitingMessage(i))
				}
			}
			stalling.Add("alice", waitingMessage(4)) // the one it will stall on

			c := newCLI(t)
			popAccount(c, good.Port(), "")
			c.ok("sync")
			before := c.ok("list", "--offline").stdout
			if len(tsv(before)) != 3 {
				t.Fatalf("cache after the first sync: %q", before)
			}

			popAccount(c, stalling.Port(), `timeout = "60s"`)
			p := c.start("sync")
			if !waitFor(30*time.Second, func() bool { return sawCommand(stalling, "RETR") }) {
				t.Fatalf("sync never asked for the new message: %v\n%s", stalling.Commands(), p.errText())
			}
			sent := time.Now()
			p.cmd.Process.Signal(tc.sig)
			r := p.wait(20 * time.Second)
			t.Logf("ended %v after the signal: %v", time.Since(sent), r)
			if r.code != tc.code {
				t.Errorf("exit %d after %v, want %d: %v", r.code, tc.sig, tc.code, r)
			}
			if !strings.Contains(r.stderr, "duomail: "+tc.word) {
				t.Errorf("stderr does not say %q: %q", tc.word, r.stderr)
			}
			if after := c.ok("list", "--offline").stdout; after != before {
				t.Errorf("cache changed by the interrupted sync:\nbefore:\n%s\nafter:\n%s", before, after)
			}
			// The lock was let go: the next sync takes it and completes.
			popAccount(c, good.Port(), "")
			c.ok("sync")
		})
	}
}

// startStderrTerminal is start with stderr on a terminal.
func (c *cli) startStderrTerminal(args ...string) *bgRun {
	c.t.Helper()
	master, slave, err := openPTY(120, 50)
	if err != nil {
		c.t.Fatalf("terminal for stderr: %v", err)
	}
	p := &bgRun{t: c.t, args: args, done: make(chan struct{})}
	p.cmd = exec.Command(binary(c.t), args...)
	p.cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + c.home,
		"XDG_CONFIG_HOME=" + c.config,
		"XDG_DATA_HOME=" + c.data,
		"TZ=UTC",
	}
	for k, v := range c.env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	p.cmd.Stdout = bgWriter{&p.mu, &p.stdout}
	p.cmd.Stderr = slave
	if err := p.cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	slave.Close()
	copied := make(chan struct{})
	go func() {
		io.Copy(bgWriter{&p.mu, &p.stderr}, master) // ends with EIO once the child's side is closed
		close(copied)
	}()
	go func() {
		p.cmd.Wait()
		select {
		case <-copied:
		case <-time.After(2 * time.Second): // a child duomail left behind holds the terminal
		}
		master.Close()
		close(p.done)
	}()
	c.t.Cleanup(func() { p.cmd.Process.Kill(); <-p.done })
	return p
}

// running reports whether the process whose ID the file holds still
// runs (a zombie nobody reaped does not count).
func running(t *testing.T, pidFile string) bool {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatalf("password_cmd did not record its child: %v", err)
	}
	stat, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(stat), ") ")
	return !strings.HasPrefix(rest, "Z")
}

// A password_cmd that never prints, or prints the password and goes on
// running, is bounded by the account's timeout: the first finds exit 3
// with the reason (and a word on the terminal while it waits), the second
// logs in at once; neither leaves the command or its children running.
func TestBinaryPasswordCmdBounded(t *testing.T) {
	t.Parallel()
	srv, err := pop3test.Start(pop3test.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.AddUser("alice", "secret")
	srv.Add("alice", waitingMessage(1))

	config := func(c *cli, cmd string) {
		c.writeConfig(fmt.Sprintf(`
[accounts.p]
protocol = "pop3"
host = "127.0.0.1"
port = %d
tls = "none"
username = "alice"
password_cmd = %q
timeout = "3s"
`, srv.Port(), cmd))
	}

	t.Run("never prints", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t)
		pidFile := filepath.Join(c.home, "child")
		config(c, "sleep 1000 & echo $! > "+pidFile+"; wait")
		binary(t)
		start := time.Now()
		r := c.startStderrTerminal("sync").wait(20 * time.Second)
		elapsed := time.Since(start)
		t.Logf("after %v: %v", elapsed, r)
		if r.code != exitAuth {
			t.Errorf("exit %d, want %d: %v", r.code, exitAuth, r)
		}
		if !strings.Contains(r.stderr, "duomail: account p: waiting for password_cmd (up to 3s)") {
			t.Errorf("the terminal was not told of the wait: %q", r.stderr)
		}
		if !strings.Contains(r.stderr, "account p: authentication failed: password_cmd printed no password within 3s (the account's timeout); stopped it") {
			t.Errorf("stderr lacks the reason: %q", r.stderr)
		}
		if elapsed > 10*time.Second {
			t.Errorf("took %v with a 3s timeout", elapsed)
		}
		if running(t, pidFile) {
			t.Errorf("password_cmd's child still runs")
		}
		// Off a terminal, the wait is not announced.
		r = c.fails(exitAuth, "sync")
		if strings.Contains(r.stderr, "waiting for") {
			t.Errorf("waiting announced off a terminal: %q", r.stderr)
		}
	})

	t.Run("prints and keeps running", func(t *testing.T) {
		t.Parallel()
		c := newCLI(t)
		pidFile := filepath.Join(c.home, "child")
		config(c, "echo secret; sleep 1000 & echo $! > "+pidFile+"; wait")
		binary(t)
		start := time.Now()
		r := c.start("sync").wait(20 * time.Second)
		elapsed := time.Since(start)
		if r.code != 0 {
			t.Errorf("want exit 0: %v", r)
		}
		if elapsed > 8*time.Second {
			t.Errorf("took %v", elapsed)
		}
		if rows := tsv(c.ok("list", "--offline").stdout); len(rows) != 1 {
			t.Errorf("synced %d messages, want 1", len(rows))
		}
		if running(t, pidFile) {
			t.Errorf("password_cmd's child still runs")
		}
	})
}

// A sync that finds another duomail process using the account's cache
// says after a second which process it waits for, and gives up at
// --lock-timeout with its own exit status; reading the cache offline does
// not wait at all.
func TestBinaryLockWaitBounded(t *testing.T) {
	t.Parallel()
	stalling, err := pop3test.Start(pop3test.Options{StallOn: "RETR"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stalling.Close() })
	stalling.AddUser("alice", "secret")
	stalling.Add("alice", waitingMessage(1))
	c := newCLI(t)
	popAccount(c, stalling.Port(), `timeout = "60s"`)
	holder := c.start("sync")
	if !waitFor(30*time.Second, func() bool { return sawCommand(stalling, "RETR") }) {
		t.Fatalf("the first sync never got to RETR: %s", holder.errText())
	}

	start := time.Now()
	r := c.run("--lock-timeout", "2s", "sync")
	elapsed := time.Since(start)
	t.Logf("after %v: %v", elapsed, r)
	if r.code != exitLocked {
		t.Errorf("exit %d, want %d: %v", r.code, exitLocked, r)
	}
	who := fmt.Sprintf("process %d (duomail sync)", holder.cmd.Process.Pid)
	if !strings.Contains(r.stderr, "duomail: account p: waiting for "+who+", which is using the account's cache (up to 2s, see --lock-timeout)") {
		t.Errorf("stderr does not say whom it waits for (%s): %q", who, r.stderr)
	}
	if !strings.Contains(r.stderr, "in use by another duomail process: "+who+" held it for all of 2s") {
		t.Errorf("stderr lacks the reason: %q", r.stderr)
	}
	if elapsed > 10*time.Second {
		t.Errorf("took %v with --lock-timeout 2s", elapsed)
	}

	start = time.Now()
	c.ok("list", "--offline")
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("list --offline took %v while a sync held the lock", d)
	}

	holder.cmd.Process.Signal(syscall.SIGINT)
	if r := holder.wait(20 * time.Second); r.code != 130 {
		t.Errorf("first sync after Ctrl-C: %v", r)
	}
}
