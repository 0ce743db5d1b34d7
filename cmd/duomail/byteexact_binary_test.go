package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os/exec"
	"testing"

	"github.com/duomail/duomail/client/sourcetest"
)

// fetch --raw over IMAP and over POP3 gives exactly the message the server
// holds (as it puts it on the wire: Dovecot sends bare LF as CRLF, and POP3
// ends the last line), for the messages careless clients change and for a
// 50 MB attachment, whose download must not hold the message in memory.
func TestBinaryByteExactRaw(t *testing.T) {
	t.Parallel()
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	user := d.AddUser(t)
	msgs := sourcetest.TrickyMessages()
	big := sourcetest.BigMessage(50 << 20)
	msgs = append(msgs, sourcetest.Message{Name: "50MB", Raw: big})
	for _, m := range msgs {
		d.Deliver(t, user, "INBOX", m.Raw)
	}

	c := newCLI(t)
	c.timeout = 180e9
	c.env["PW"] = sourcetest.Password
	c.writeConfig(accountsTOML(
		tomlAccount{Name: "imap", Protocol: "imap", Host: d.Host, Port: d.IMAPPort, TLS: "starttls", Username: user, PasswordEnv: "PW", CAFile: d.CAFile},
		tomlAccount{Name: "pop", Protocol: "pop3", Host: d.Host, Port: d.POP3Port, TLS: "starttls", Username: user, PasswordEnv: "PW", CAFile: d.CAFile},
	))

	// The server's own order is the delivery order, so the newest-first
	// list maps back to msgs by position.
	for _, proto := range []string{"imap", "pop"} {
		t.Run(proto, func(t *testing.T) {
			if proto == "pop" {
				// POP3 downloads whole messages: sync first, measuring the
				// peak memory of the process that streams 50 MB through.
				rss := c.maxRSS(t, "-a", "pop", "sync", "--quiet")
				t.Logf("FIGURES pop3-sync-peak-rss-kb=%d (messages=%d, largest 50 MB)", rss, len(msgs))
				if rss > 100<<10 {
					t.Errorf("POP3 sync peaked at %d KB RSS with a 50 MB message: not streaming", rss)
				}
			}
			list := jsonOf[struct {
				Messages []struct {
					ID   string `json:"id"`
					Size int64  `json:"size"`
				} `json:"messages"`
			}](t, c.ok("-a", proto, "list", "--limit", "0", "--json"))
			if len(list.Messages) != len(msgs) {
				t.Fatalf("listed %d messages, delivered %d", len(list.Messages), len(msgs))
			}
			for i, e := range list.Messages {
				m := msgs[len(msgs)-1-i]
				want := sourcetest.WireForm(m.Raw)
				if proto == "pop" {
					want = sourcetest.POP3WireForm(m.Raw)
				}
				if m.Name == "50MB" {
					got, rss := c.rawDigest(t, "-a", proto, "fetch", "--raw", "--peek", e.ID)
					t.Logf("FIGURES %s-fetch-raw-50MB-peak-rss-kb=%d", proto, rss)
					if sum := sha256.Sum256(want); got != hex.EncodeToString(sum[:]) {
						t.Errorf("%s: 50 MB message differs from the server's", proto)
					}
					if rss > 100<<10 {
						t.Errorf("fetch --raw of 50 MB peaked at %d KB RSS", rss)
					}
					continue
				}
				got := c.ok("-a", proto, "fetch", "--raw", "--peek", e.ID).stdout
				if !bytes.Equal([]byte(got), want) {
					t.Errorf("%s %s: fetch --raw gave %d bytes, the server holds %d:\n got %q\nwant %q",
						proto, m.Name, len(got), len(want), clipBytes([]byte(got)), clipBytes(want))
				}
			}
		})
	}
}

func clipBytes(b []byte) []byte {
	if len(b) > 200 {
		return append(append(b[:100:100], "..."...), b[len(b)-100:]...)
	}
	return b
}

// maxRSS runs the binary and returns its peak resident memory in KB.
func (c *cli) maxRSS(t *testing.T, args ...string) int64 {
	t.Helper()
	cmd := c.command(args...)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &stderr
	rss, err := runMeasured(cmd)
	if err != nil {
		t.Fatalf("duomail %v: %v\n%s", args, err, stderr.String())
	}
	return rss
}

// rawDigest runs the binary and returns the SHA-256 of its stdout and its
// peak resident memory in KB, without holding the output.
func (c *cli) rawDigest(t *testing.T, args ...string) (string, int64) {
	t.Helper()
	cmd := c.command(args...)
	h := sha256.New()
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = h, &stderr
	rss, err := runMeasured(cmd)
	if err != nil {
		t.Fatalf("duomail %v: %v\n%s", args, err, stderr.String())
	}
	return hex.EncodeToString(h.Sum(nil)), rss
}

// runMeasured runs cmd and returns the child's peak resident set (VmHWM)
// in KB, read from /proc while it runs. (getrusage's maxrss is no use
// here: Linux carries the parent's high-water mark across the exec.)
func runMeasured(cmd *exec.Cmd) (int64, error) {
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	stop := make(chan struct{})
	peak := make(chan int64, 1)
	go func() { peak <- pollHWM(cmd.Process.Pid, stop) }()
	err := cmd.Wait()
	close(stop)
	return <-peak >> 10, err
}
