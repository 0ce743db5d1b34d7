package main

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
)

// Helpers for the crash and network-fault tests (crash_binary_test.go,
// faults_binary_test.go): a corpus of messages whose every stored form
// (as delivered, as IMAP sends it, as POP3 sends it) is known, and
// snapshots of the server's and the cache's Maildirs that say, file by
// file, which message each one holds.

// evCorpus is a set of delivered messages, each findable by the exact
// bytes it has where it is stored.
type evCorpus struct {
	msgs  []sourcetest.Message
	forms map[evForm]map[[32]byte]int // form -> digest -> index
}

// evForm is where a message's bytes are found: as delivered (the server's
// Maildir), as Dovecot sends it over IMAP (bare LF made CRLF), or over
// POP3 (also ending in CRLF). A cache file must be its protocol's form
// exactly: a message without a final newline, cut before the CRLF that
// POP3 adds, would otherwise pass for whole.
type evForm int

const (
	evDelivered evForm = iota
	evIMAP
	evPOP3
)

// evFormOf is the form a protocol's cache stores.
func evFormOf(proto string) evForm {
	if proto == client.POP3 {
		return evPOP3
	}
	return evIMAP
}

func newEvCorpus() *evCorpus {
	return &evCorpus{forms: map[evForm]map[[32]byte]int{evDelivered: {}, evIMAP: {}, evPOP3: {}}}
}

// add records a message; its Message-ID must be unique in the corpus.
func (c *evCorpus) add(m sourcetest.Message) int {
	i := len(c.msgs)
	c.msgs = append(c.msgs, m)
	c.forms[evDelivered][sha256.Sum256(m.Raw)] = i
	c.forms[evIMAP][sha256.Sum256(sourcetest.WireForm(m.Raw))] = i
	c.forms[evPOP3][sha256.Sum256(sourcetest.POP3WireForm(m.Raw))] = i
	return i
}

// identify says which message data is, byte for byte, in the given form.
func (c *evCorpus) identify(data []byte, form evForm) (int, bool) {
	i, ok := c.forms[form][sha256.Sum256(data)]
	return i, ok
}

// crashCorpus is mail for the crash tests: the tricky messages, a few
// large ones (so that kills land in the middle of a message), and small
// ones up to n in all. prefix keeps Message-IDs unique between corpora.
func crashCorpus(prefix string, n int, largeSizes []int) *evCorpus {
	c := newEvCorpus()
	for _, m := range sourcetest.TrickyMessages() {
		c.add(m)
	}
	for i, size := range largeSizes {
		subject := fmt.Sprintf("%s large %d", prefix, i)
		c.add(sourcetest.Message{Name: subject, Raw: sourcetest.AttachmentMessage(subject, fmt.Sprintf("file%d.pdf", i), size)})
	}
	base := time.Date(2024, 3, 1, 8, 0, 0, 0, time.UTC)
	if len(prefix) > 0 {
		base = base.Add(time.Duration(prefix[0]) * 24 * time.Hour)
	}
	for i := 0; len(c.msgs) < n; i++ {
		subject := fmt.Sprintf("%s small %d", prefix, i)
		c.add(sourcetest.Message{Name: subject, Raw: sourcetest.SimpleMessage(subject, base.Add(time.Duration(i)*time.Second))})
	}
	return c
}

// more adds n further small messages to c (a later delivery) and returns
// their indexes.
func (c *evCorpus) more(prefix string, n int) []int {
	var out []int
	base := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC).Add(time.Duration(len(c.msgs)) * time.Hour)
	for i := 0; i < n; i++ {
		subject := fmt.Sprintf("%s later %d-%d", prefix, len(c.msgs), i)
		out = append(out, c.add(sourcetest.Message{Name: subject, Raw: sourcetest.SimpleMessage(subject, base.Add(time.Duration(i)*time.Second))}))
	}
	return out
}

// deliver puts the messages with the given indexes (all when none given)
// into a user's folder on the server.
func (c *evCorpus) deliver(t testing.TB, d *sourcetest.Dovecot, user, folder string, idx ...int) {
	t.Helper()
	if len(idx) == 0 {
		for i := range c.msgs {
			idx = append(idx, i)
		}
	}
	for _, i := range idx {
		d.Deliver(t, user, folder, c.msgs[i].Raw)
	}
}

// evSnapshot is what one Maildir holds: how many files carry each message,
// and what else was found.
type evSnapshot struct {
	count   map[int]int       // corpus index -> files
	files   map[string]int    // file name (in cur/ or new/) -> corpus index
	flags   map[int]string    // corpus index -> Maildir info letters of its (last) file
	unknown []string          // files that are no corpus message (partial, corrupt)
	tmp     []string          // anything left in tmp/
	raw     map[string][]byte // unknown files' first bytes, for failure reports
}

func (s evSnapshot) String() string {
	return fmt.Sprintf("%d messages in %d files, %d unknown %q, tmp %q", len(s.count), len(s.files), len(s.unknown), s.unknown, s.tmp)
}

// evScanMaildir reads every file of a Maildir. A file that another process
// renames while it is read (Dovecot moving new/ to cur/, a flag change) is
// read again: a rename is not a loss.
func evScanMaildir(c *evCorpus, dir string, form evForm) (evSnapshot, error) {
	var lastErr error
	for try := 0; try < 20; try++ {
		s, err := evScanMaildirOnce(c, dir, form)
		if err == nil {
			return s, nil
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	return evSnapshot{}, lastErr
}

func evScanMaildirOnce(c *evCorpus, dir string, form evForm) (evSnapshot, error) {
	s := evSnapshot{count: map[int]int{}, files: map[string]int{}, flags: map[int]string{}, raw: map[string][]byte{}}
	for _, sub := range []string{"new", "cur"} {
		entries, err := os.ReadDir(filepath.Join(dir, sub))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return s, err
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, sub, e.Name()))
			if err != nil {
				return s, err // renamed under us: scan again
			}
			name := sub + "/" + e.Name()
			i, ok := c.identify(data, form)
			if !ok {
				s.unknown = append(s.unknown, name)
				s.raw[name] = data[:min(len(data), 200)]
				continue
			}
			s.count[i]++
			s.files[name] = i
			_, info, _ := strings.Cut(e.Name(), ":2,")
			s.flags[i] = info
		}
	}
	if entries, err := os.ReadDir(filepath.Join(dir, "tmp")); err == nil {
		for _, e := range entries {
			s.tmp = append(s.tmp, e.Name())
		}
	}
	return s, nil
}

// evServerState scans a user's folder on the Dovecot server. Dovecot keeps
// its own index files next to the Maildir; only cur/ and new/ are read.
func evServerState(t testing.TB, c *evCorpus, d *sourcetest.Dovecot, user, folder string) evSnapshot {
	t.Helper()
	s, err := evScanMaildir(c, d.Maildir(user, folder), evDelivered)
	if err != nil {
		t.Fatalf("scan server Maildir: %v", err)
	}
	if len(s.unknown) > 0 {
		t.Fatalf("server holds files that are no delivered message: %v", s)
	}
	return s
}

// evCacheMaildir is where a cli's cache keeps a folder of an account.
func (c *cli) evCacheMaildir(account, folder string) string {
	return filepath.Join(c.data, "duomail", account, folder)
}

// evCacheState scans the cache's Maildir of a folder of an account of
// the given protocol.
func (c *cli) evCacheState(t testing.TB, mail *evCorpus, proto, account, folder string) evSnapshot {
	t.Helper()
	s, err := evScanMaildir(mail, c.evCacheMaildir(account, folder), evFormOf(proto))
	if err != nil {
		t.Fatalf("scan cache Maildir: %v", err)
	}
	return s
}

// command prepares the binary with this cli's environment (as run does),
// for tests that start, time and kill it themselves.
func (c *cli) evCommand(args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(binary(c.t), args...)
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + c.home,
		"XDG_CONFIG_HOME=" + c.config,
		"XDG_DATA_HOME=" + c.data,
		"TZ=UTC",
	}
	for k, v := range c.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	return cmd, &stdout, &stderr
}

// evRunBounded runs the binary and kills it if it runs longer than limit.
// It never calls t.Fatal, so it may run on any goroutine.
func (c *cli) evRunBounded(limit time.Duration, args ...string) (runResult, time.Duration, error) {
	cmd, stdout, stderr := c.evCommand(args...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return runResult{args: args}, 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var hung error
	select {
	case <-done:
	case <-time.After(limit):
		cmd.Process.Kill()
		<-done
		hung = fmt.Errorf("did not finish within %v (killed)", limit)
	}
	elapsed := time.Since(start)
	return runResult{args: args, stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}, elapsed, hung
}

// evRunKilled starts the binary and sends it SIGKILL after delay. landed
// says whether the process was still running when killed; when it was
// not, r is its normal result and elapsed how long it ran.
func (c *cli) evRunKilled(delay time.Duration, args ...string) (r runResult, landed bool, elapsed time.Duration) {
	c.t.Helper()
	cmd, stdout, stderr := c.evCommand(args...)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	defer func() { elapsed = time.Since(start) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(delay):
		landed = cmd.Process.Signal(syscall.SIGKILL) == nil
		<-done
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && !(ws.Signaled() && ws.Signal() == syscall.SIGKILL) {
			landed = false // it exited on its own just before
		}
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		<-done
		c.t.Fatalf("duomail %s: did not finish within 60 s", strings.Join(args, " "))
	}
	return runResult{args: args, stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}, landed, 0
}

// evIndexEntries lists what the cache's index holds, without connecting.
func (c *cli) evIndexEntries(t *testing.T, account, folder string) []client.Envelope {
	t.Helper()
	r := c.ok("-a", account, "list", "--offline", "--json", "--limit", "0", "-f", folder)
	return jsonOf[listJSON](t, r).Messages
}

// evDuplicates counts extra copies: files beyond one per message in a
// snapshot, and index entries beyond one per Message-ID or ID.
func evDuplicates(s evSnapshot, entries []client.Envelope) (files, index int) {
	for _, n := range s.count {
		if n > 1 {
			files += n - 1
		}
	}
	byMsgID, byID := map[string]int{}, map[string]int{}
	for _, e := range entries {
		if byMsgID[e.MessageID]++; byMsgID[e.MessageID] > 1 {
			index++
		}
		if byID[e.ID]++; byID[e.ID] > 1 {
			index++
		}
	}
	return files, index
}

// evMessageID returns the Message-ID header's value of a corpus message
// as the index stores it (without angle brackets when client parsing
// strips them; both forms are compared).
func evMessageID(raw []byte) string {
	for _, line := range strings.Split(string(raw), "\n") {
		line = strings.TrimRight(line, "\r")
		if line == "" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Message-ID") {
			return strings.Trim(strings.TrimSpace(v), "<>")
		}
	}
	return ""
}

// evOneLineError checks what a failed run printed: one "duomail: " line
// (after any warnings), no Go stack, no bare EOF. It returns the error
// line, or a description of what is wrong.
func evOneLineError(r runResult) (string, error) {
	var errLines []string
	for _, l := range strings.Split(strings.TrimRight(r.stderr, "\n"), "\n") {
		switch {
		case strings.HasPrefix(l, "duomail: warning: "):
		case strings.HasPrefix(l, "duomail: "):
			errLines = append(errLines, l)
		case l == "":
		default:
			return "", fmt.Errorf("unexpected stderr line %q", l)
		}
	}
	if len(errLines) != 1 {
		return "", fmt.Errorf("want one error line on stderr, got %d: %q", len(errLines), r.stderr)
	}
	line := errLines[0]
	for _, bad := range []string{"goroutine ", "panic", "runtime error"} {
		if strings.Contains(r.stderr, bad) {
			return line, fmt.Errorf("Go stack or panic on stderr: %q", r.stderr)
		}
	}
	if strings.HasSuffix(line, "EOF") || strings.Contains(line, ": EOF") {
		return line, fmt.Errorf("bare EOF in %q", line)
	}
	return line, nil
}
