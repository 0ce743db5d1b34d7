package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
)

// largeReaderMessage is a 50 MB message: a 20 MB UTF-8 text, a forwarded
// message, and a 30 MB base64 attachment. It returns the attachment's
// decoded bytes too.
func largeReaderMessage() (raw, attachment []byte) {
	var b bytes.Buffer
	b.WriteString("From: Big <big@example.org>\r\nTo: Alice <alice@example.com>\r\nSubject: Fifty megabytes\r\n" +
		"Date: Mon, 02 Jan 2023 15:04:05 +0000\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"big\"\r\n\r\n" +
		"--big\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	line := "Grüße, line of a very long text that goes on and on – with “quotes” and €\r\n"
	for b.Len() < 20<<20 {
		b.WriteString(line)
	}
	b.WriteString("LAST LINE OF THE TEXT\r\n--big\r\nContent-Type: message/rfc822\r\n\r\n" +
		"From: Inner <inner@example.org>\r\nSubject: Inside\r\nContent-Type: text/plain\r\n\r\nforwarded text\r\n")
	b.WriteString("--big\r\nContent-Type: application/octet-stream; name=\"big.bin\"\r\n" +
		"Content-Disposition: attachment; filename=\"big.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	attachment = make([]byte, 30<<20/78*57)
	rand.New(rand.NewSource(50)).Read(attachment)
	sourcetest.WriteBase64Lines(&b, bytes.NewReader(attachment))
	b.WriteString("--big--\r\n")
	return b.Bytes(), attachment
}

// Showing a 50 MB message, and saving its attachment, stays under 64 MB
// of memory on both protocols: the text streams from the server (IMAP
// fetches only that part) or from the cache (POP3) through the cleaning,
// the charset conversion and the pager to the screen, never held whole.
func TestBinaryLargeMessageMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("moves a 50 MB message")
	}
	t.Parallel()
	const limit = 64 << 20
	raw, attachment := largeReaderMessage()
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	d.Deliver(t, "alice", client.Inbox, raw)
	c := newCLI(t)
	c.env["DOVECOT_PW"] = sourcetest.Password
	c.timeout = 3 * time.Minute
	imap := tomlAccount{Name: "imap", Protocol: "imap", Host: d.Host, Port: d.IMAPSPort, Username: "alice", PasswordEnv: "DOVECOT_PW", CAFile: d.CAFile}
	pop := tomlAccount{Name: "pop", Protocol: "pop3", Host: d.Host, Port: d.POP3SPort, Username: "alice", PasswordEnv: "DOVECOT_PW", CAFile: d.CAFile}
	c.writeConfig(accountsTOML(imap, pop))
	sum := sha256.Sum256(attachment)

	measure := func(o runOptions, args ...string) hostileRun {
		t.Helper()
		o.keep = 1 << 20
		r := c.runChecked(o, args...)
		if r.code != 0 {
			t.Fatalf("exit %d: %v", r.code, r)
		}
		if r.maxRSS == 0 {
			t.Fatalf("no memory figure for %q", args)
		}
		if r.maxRSS > limit {
			t.Errorf("peak RSS %d MB, limit %d MB: %v", r.maxRSS>>20, limit>>20, r)
		}
		t.Logf("FIGURES large message: cmd=%q tty=%v rss_mb=%.1f stdout_bytes=%d seconds=%.1f", strings.Join(args, " "), o.tty, float64(r.maxRSS)/(1<<20), r.stdout.n, r.elapsed.Seconds())
		return r
	}
	for _, acct := range []string{"imap", "pop"} {
		// POP3 downloads the message into the cache first (list syncs).
		lr := measure(runOptions{}, "-a", acct, "list", "--json")
		list := jsonOf[listJSON](t, runResult{stdout: lr.stdout.String()})
		id := list.id(t, "Fifty megabytes")
		r := measure(runOptions{}, "-a", acct, "fetch", "--peek", id)
		if r.stdout.n < 19<<20 || !strings.Contains(r.stdout.String(), "Grüße, line") {
			t.Errorf("%s: the text was not shown whole: %d bytes", acct, r.stdout.n)
		}
		// On a terminal: through a pager, converted to Latin-1.
		o := runOptions{tty: true}
		c.env["PAGER"] = "tail -c 200; printf PAGER-DONE"
		c.env["DUOMAIL_PAGER"] = envUnset
		c.env["LC_ALL"] = "de_DE.ISO-8859-1"
		r = measure(o, "-a", acct, "fetch", "--peek", id)
		delete(c.env, "LC_ALL")
		delete(c.env, "PAGER")
		delete(c.env, "DUOMAIL_PAGER")
		if got := r.stdout.String(); !strings.Contains(got, "PAGER-DONE") || !strings.Contains(got, "big.bin") {
			t.Errorf("%s: the pager did not get the end of the output: %q", acct, got)
		}
		dir := filepath.Join(t.TempDir(), acct)
		measure(runOptions{}, "-a", acct, "fetch", "--peek", "--save-attachments", dir, id)
		f, err := os.Open(filepath.Join(dir, "big.bin"))
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		io.Copy(h, f)
		f.Close()
		if fmt.Sprintf("%x", h.Sum(nil)) != fmt.Sprintf("%x", sum) {
			t.Errorf("%s: the saved attachment differs", acct)
		}
	}
}
