package main

import (
	"bufio"
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rivo/uniseg"
)

func TestBinaryDemo(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	binary(t) // built before the clock starts
	start := time.Now()
	r := c.ok("demo")
	d := time.Since(start)
	t.Logf("demo took %v", d)
	if d > 30*time.Second {
		t.Errorf("demo took %v", d)
	}
	for _, want := range []string{
		"== 6. Folders on the IMAP server",
		// compare --with-delete removed "Welcome" (seen) over IMAP
		"INBOX\tinbox\t10\t7",
		"Subject: Grüße aus Köln",
		"viele Grüße aus Köln",
		"expenses.csv",
		"Moved 1 message from INBOX to Trash: ",
		"uid00000011",
		"== Try it yourself",
		"export DUOMAIL_PASSWORD=demo",
		// capabilities of both (piped: key and value lines)
		"-a imap capabilities\n\naccount\timap\n",
		"\npush\ttrue\tIDLE\n",
		"\npartial_fetch\tfalse\tPOP3 downloads whole messages\n",
		// check: new mail, exit 0; then none, exit 1
		"check --all\n\nimap\tINBOX\t10\t7\t7\n",
		// and "Grüße aus Köln" over POP3
		"\npop3\tINBOX\t10\t10\t10\n",
		"\npop3\tINBOX\t10\t10\t0\n(exit status 1)\n",
		// the compare table comes first, as on a terminal even through a pipe
		"== 1. The same mailbox over IMAP and over POP3, side by side",
		"compare imap pop3 --with-delete\n\nSCENARIO ",
		"imap (IMAP)",
		"pop3 (POP3)",
		"not possible: POP3 has no folders",
		"=> deleted ",
		"\ntotal ",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("demo output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "duomail: move: POP3 has no folders") {
		t.Errorf("demo stderr %q", r.stderr)
	}
	if strings.ContainsRune(r.stdout, 0x1b) {
		t.Errorf("control sequence in the demo output")
	}
	// The compare table fits the terminal width it assumes, and its read
	// row shows the protocols' difference: the text alone against the
	// whole message.
	table := r.stdout[strings.Index(r.stdout, "\nSCENARIO "):strings.Index(r.stdout, "== 2. ")]
	for _, line := range strings.Split(table, "\n") {
		if w := uniseg.StringWidth(line); w > defaultWidth {
			t.Errorf("compare line of %d columns: %q", w, line)
		}
	}
	if n := strings.Count(table, "=> 11 envelopes"); n != 2 {
		t.Errorf("the two servers do not list the same 11 messages:\n%s", table)
	}
	if !regexp.MustCompile(`\nread the text of the +\d+ B in, .* 145 KB in, `).MatchString(table) {
		t.Errorf("read row does not show IMAP's bytes against POP3's whole message:\n%s", table)
	}
	// It leaves nothing behind: not in the user's data directory, and its
	// temporary directory (where attachments were saved) is gone.
	if _, err := os.Stat(c.data); err == nil {
		t.Errorf("demo wrote into XDG_DATA_HOME")
	}
	if m := regexp.MustCompile(`(/\S+duomail-demo-\d+)/attachments/expenses.csv`).FindStringSubmatch(r.stdout); m == nil {
		t.Errorf("no saved attachment path in the output")
	} else if _, err := os.Stat(m[1]); err == nil {
		t.Errorf("demo left %s behind", m[1])
	}
}

func TestBinaryDemoKeepRunning(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	cmd := c.command("demo", "--keep-running")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	lines := make(chan string)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	// Wait for the printed commands, then try one by hand.
	var imapLine, dataDir, cfgFile string
	timeout := time.After(30 * time.Second)
	for imapLine == "" || cfgFile == "" {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("demo ended early: %s", stderr.String())
			}
			if m := regexp.MustCompile(`duomail --config (\S+) accounts$`).FindStringSubmatch(l); m != nil {
				cfgFile = m[1]
			}
			if m := regexp.MustCompile(`export XDG_DATA_HOME=(\S+)`).FindStringSubmatch(l); m != nil {
				dataDir = m[1]
			}
			if strings.HasPrefix(l, "  duomail --url 'imap://") && strings.HasSuffix(l, " list") {
				imapLine = l
			}
		case <-timeout:
			t.Fatal("demo did not print the commands to try")
		}
	}
	url := regexp.MustCompile(`'(imap://[^']+)'`).FindStringSubmatch(imapLine)[1]
	if dataDir == "" {
		t.Fatal("no XDG_DATA_HOME line")
	}
	c.env["DUOMAIL_PASSWORD"] = "demo"
	c.data = dataDir
	r := c.ok("--url", url, "list", "--limit", "2")
	if len(tsv(r.stdout)) != 2 {
		t.Errorf("list against the running demo: %v", r)
	}
	// The configuration file it wrote works from another process.
	if cfgFile == "" {
		t.Fatal("no --config line")
	}
	r = c.quietExit(1, "--config", cfgFile, "check", "--all") // the demo checked already: nothing new
	if rows := tsv(r.stdout); len(rows) != 2 || rows[0][0] != "imap" || rows[1][0] != "pop3" {
		t.Errorf("check --all with the demo's configuration: %v", r)
	}
	cmd.Process.Signal(os.Interrupt)
	done := make(chan error, 1)
	go func() {
		for range lines {
		}
		done <- cmd.Wait()
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("demo after Ctrl-C: %v\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("demo did not stop on Ctrl-C")
	}
	if _, err := os.Stat(dataDir); err == nil {
		t.Errorf("demo left %s behind", dataDir)
	}
}
