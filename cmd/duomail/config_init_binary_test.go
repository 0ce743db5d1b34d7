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
	"testing"
	"time"

	"github.com/duomail/duomail/client/sourcetest"
)

// terminalRun is duomail with stdin, stdout and stderr on one terminal,
// answered as its questions appear.
type terminalRun struct {
	t      *testing.T
	master *os.File
	mu     sync.Mutex
	screen bytes.Buffer
	done   chan error
	// answered is how much of the screen the answered prompts take: the
	// next prompt is looked for after it, so the terminal's echo of an
	// answer, whenever it arrives, is never mistaken for a prompt or
	// hides one.
	answered int
}

func (c *cli) startOnTerminal(args ...string) *terminalRun {
	c.t.Helper()
	master, slave, err := openPTY(120, 50)
	if err != nil {
		c.t.Fatalf("terminal: %v", err)
	}
	cmd := exec.Command(binary(c.t), args...)
	cmd.Env = c.environ()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = slave, slave, slave
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	slave.Close()
	r := &terminalRun{t: c.t, master: master, done: make(chan error, 1)}
	copied := make(chan struct{})
	go func() {
		io.Copy(bgWriter{&r.mu, &r.screen}, master) // ends with EIO once the child is gone
		close(copied)
	}()
	go func() {
		err := cmd.Wait()
		// What the child wrote just before it exited may still sit in the
		// terminal; done is reported once it is on the screen.
		select {
		case <-copied:
		case <-time.After(5 * time.Second):
		}
		r.done <- err
	}()
	c.t.Cleanup(func() { cmd.Process.Kill(); master.Close() })
	return r
}

func (r *terminalRun) text() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.screen.String()
}

// answer waits for prompt to appear after the previous answer's prompt,
// then types the answer and Enter.
func (r *terminalRun) answer(prompt, answer string) {
	r.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		screen := r.text()
		if i := strings.Index(screen[r.answered:], prompt); i >= 0 {
			r.answered += i + len(prompt)
			break
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("no prompt %q; the screen:\n%s", prompt, screen)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := io.WriteString(r.master, answer+"\n"); err != nil {
		r.t.Fatal(err)
	}
}

// TestBinaryConfigInitOnTerminal: the whole conversation on a real
// terminal against Dovecot's POP3, with the password asked (without
// echo) for the login test and not written; then a command finds the
// account. Before, a command on that terminal with no configuration
// says to run config init and asks nothing.
func TestBinaryConfigInitOnTerminal(t *testing.T) {
	t.Parallel()
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	d.Deliver(t, "alice", "INBOX", plainMessage("Welcome aboard", "hello"))
	c := newCLI(t)
	file := filepath.Join(c.config, "duomail", "config.toml")

	r := c.startOnTerminal("list")
	select {
	case err := <-r.done:
		if err == nil || !strings.Contains(r.text(), `run "duomail config init" to set one up`) {
			t.Errorf("list without a configuration: %v\n%s", err, r.text())
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("list without a configuration waits on the terminal:\n%s", r.text())
	}

	// The test's own CA signs Dovecot's certificate; config init does not
	// ask for a ca_file, so it comes from the environment, which
	// overrides the account's keys as for every command.
	c.env["DUOMAIL_ACCOUNTS_DOVE_CA_FILE"] = d.CAFile
	r = c.startOnTerminal("config", "init")
	r.answer("Email address: ", "alice@example.org")
	r.answer("Choose [1]: ", "2") // POP3
	r.answer("POP3 server [pop.example.org]: ", d.Host)
	r.answer("Choose [1]: ", "") // implicit TLS
	r.answer("Port [995]: ", fmt.Sprint(d.POP3SPort))
	r.answer("User name [alice@example.org]: ", "alice")
	r.answer("Choose [1]: ", "") // asked each time
	r.answer("Account name [example]: ", "dove")
	r.answer("Password for alice@"+d.Host+": ", sourcetest.Password)
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("config init: %v\n%s", err, r.text())
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("config init did not end:\n%s", r.text())
	}
	screen := r.text()
	for _, want := range []string{pop3Means, "Logged in.", "Wrote " + file} {
		if !strings.Contains(screen, want) {
			t.Errorf("the screen lacks %q:\n%s", want, screen)
		}
	}
	if strings.Contains(screen, sourcetest.Password) {
		t.Errorf("the password was echoed:\n%s", screen)
	}
	written, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(written), sourcetest.Password) || !strings.Contains(string(written), "No password here") {
		t.Errorf("the file:\n%s", written)
	}
	// The account works; off a terminal the password comes from the
	// environment, as nothing is stored.
	c.env["DUOMAIL_PASSWORD"] = sourcetest.Password
	if out := c.ok("list").stdout; !strings.Contains(out, "Welcome aboard") {
		t.Errorf("list with the written account:\n%s", out)
	}
}
