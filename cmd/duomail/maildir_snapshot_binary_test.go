package main

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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

// mailCorpus is a set of delivered messages, each findable by the exact
// bytes it has where it is stored.
type mailCorpus struct {
	msgs  []sourcetest.Message
	forms map[storedForm]map[[32]byte]int // form -> digest -> index
}

// storedForm is where a message's bytes are found: as delivered (the server's
// Maildir), as Dovecot sends it over IMAP (bare LF made CRLF), or over
// POP3 (also ending in CRLF). A cache file must be its protocol's form
// exactly: a message without a final newline, cut before the CRLF that
// POP3 adds, would otherwise pass for whole.
type storedForm int

const (
	formDelivered storedForm = iota
	formIMAP
	formPOP3
)

// cacheFormOf is the form a protocol's cache stores.
func cacheFormOf(proto string) storedForm {
	if proto == client.POP3 {
		return formPOP3
	}
	return formIMAP
}

func newMailCorpus() *mailCorpus {
	return &mailCorpus{forms: map[storedForm]map[[32]byte]int{formDelivered: {}, formIMAP: {}, formPOP3: {}}}
}

// add records a message; its Message-ID must be unique in the corpus.
func (c *mailCorpus) add(m sourcetest.Message) int {
	i := len(c.msgs)
	c.msgs = append(c.msgs, m)
	c.forms[formDelivered][sha256.Sum256(m.Raw)] = i
	c.forms[formIMAP][sha256.Sum256(sourcetest.WireForm(m.Raw))] = i
	c.forms[formPOP3][sha256.Sum256(sourcetest.POP3WireForm(m.Raw))] = i
	return i
}

// identify says which message data is, byte for byte, in the given form.
func (c *mailCorpus) identify(data []byte, form storedForm) (int, bool) {
	i, ok := c.forms[form][sha256.Sum256(data)]
	return i, ok
}

// crashCorpus is mail for the crash tests: the tricky messages, a few
// large ones (so that kills land in the middle of a message), and small
// ones up to n in all. prefix keeps Message-IDs unique between corpora.
func crashCorpus(prefix string, n int, largeSizes []int) *mailCorpus {
	c := newMailCorpus()
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
func (c *mailCorpus) more(prefix string, n int) []int {
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
func (c *mailCorpus) deliver(t testing.TB, d *sourcetest.Dovecot, user, folder string, idx ...int) {
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

// maildirSnapshot is what one Maildir holds: how many files carry each message,
// and what else was found.
type maildirSnapshot struct {
	count   map[int]int       // corpus index -> files
	files   map[string]int    // file name (in cur/ or new/) -> corpus index
	flags   map[int]string    // corpus index -> Maildir info letters of its (last) file
	unknown []string          // files that are no corpus message (partial, corrupt)
	tmp     []string          // anything left in tmp/
	raw     map[string][]byte // unknown files' first bytes, for failure reports
}

func (s maildirSnapshot) String() string {
	return fmt.Sprintf("%d messages in %d files, %d unknown %q, tmp %q", len(s.count), len(s.files), len(s.unknown), s.unknown, s.tmp)
}

// scanMaildir reads every file of a Maildir. A file that another process
// renames while it is read (Dovecot moving new/ to cur/, a flag change) is
// read again: a rename is not a loss.
func scanMaildir(c *mailCorpus, dir string, form storedForm) (maildirSnapshot, error) {
	var lastErr error
	for try := 0; try < 20; try++ {
		s, err := scanMaildirOnce(c, dir, form)
		if err == nil {
			return s, nil
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	return maildirSnapshot{}, lastErr
}

func scanMaildirOnce(c *mailCorpus, dir string, form storedForm) (maildirSnapshot, error) {
	s := maildirSnapshot{count: map[int]int{}, files: map[string]int{}, flags: map[int]string{}, raw: map[string][]byte{}}
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

// serverState scans a user's folder on the Dovecot server. Dovecot keeps
// its own index files next to the Maildir; only cur/ and new/ are read.
func serverState(t testing.TB, c *mailCorpus, d *sourcetest.Dovecot, user, folder string) maildirSnapshot {
	t.Helper()
	s, err := scanMaildir(c, d.Maildir(user, folder), formDelivered)
	if err != nil {
		t.Fatalf("scan server Maildir: %v", err)
	}
	if len(s.unknown) > 0 {
		t.Fatalf("server holds files that are no delivered message: %v", s)
	}
	return s
}

// cacheMaildir is where a cli's cache keeps a folder of an account.
func (c *cli) cacheMaildir(account, folder string) string {
	return filepath.Join(c.data, "duomail", account, folder)
}

// cacheState scans the cache's Maildir of a folder of an account of
// the given protocol.
func (c *cli) cacheState(t testing.TB, mail *mailCorpus, proto, account, folder string) maildirSnapshot {
	t.Helper()
	s, err := scanMaildir(mail, c.cacheMaildir(account, folder), cacheFormOf(proto))
	if err != nil {
		t.Fatalf("scan cache Maildir: %v", err)
	}
	return s
}

// indexEntries lists what the cache's index holds, without connecting.
func (c *cli) indexEntries(t *testing.T, account, folder string) []client.Envelope {
	t.Helper()
	r := c.ok("-a", account, "list", "--offline", "--json", "--limit", "0", "-f", folder)
	return jsonOf[listJSON](t, r).Messages
}

// countDuplicates counts extra copies: files beyond one per message in a
// snapshot, and index entries beyond one per Message-ID or ID.
func countDuplicates(s maildirSnapshot, entries []client.Envelope) (files, index int) {
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

// headerMessageID returns the Message-ID header's value of a corpus message
// as the index stores it (without angle brackets when client parsing
// strips them; both forms are compared).
func headerMessageID(raw []byte) string {
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
