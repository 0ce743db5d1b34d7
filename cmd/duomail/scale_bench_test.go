//go:build scalebench

package main

// The scale run: how the cost of each command grows with the mailbox. It
// starts a Dovecot, fills INBOXes of 1,000, 10,000 and 50,000 small plain
// messages, times the binary on them and prints a table with the 50k/1k
// ratios and the first sync against the server's own floor (one raw
// pipelined FETCH of the same envelopes). Not a pass/fail test: a
// benchmark, one run on one machine.
//
//	go test -tags scalebench -run TestScaleTable -v -timeout 60m ./cmd/duomail
//
// DUOMAIL_SCALE_SIZES=1000,50000 chooses the sizes; DUOMAIL_SCALE_OUT=FILE
// also writes the table there; DUOMAIL_SCALE_NAMES=bulk names the message
// files as ../shared/bench/bulk.py does (see maildirName).

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/duomail/duomail/client/sourcetest"
)

// fillMaildir writes n small plain messages numbered from start, in the
// form of the scale runs the issue tracker used: about 1.5 KB each, one in
// three unseen, 53 senders and 97 topics.
func fillMaildir(t *testing.T, dir string, start, n int) {
	t.Helper()
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	body := strings.Repeat("scaling run line of ordinary text for a plain message body\r\n", 20)
	uid, gid := -1, -1
	if os.Geteuid() == 0 {
		if u, err := user.Lookup("dovecot"); err == nil {
			uid, _ = strconv.Atoi(u.Uid)
			gid, _ = strconv.Atoi(u.Gid)
		}
	}
	for i := start; i < start+n; i++ {
		date := time.Unix(int64(1600000000+i*60), 0).UTC().Format(time.RFC1123Z)
		msg := fmt.Sprintf("From: Sender %d <s%d@example.org>\r\nTo: Alice <alice@example.com>\r\n"+
			"Subject: Scale message %d on topic %d\r\nDate: %s\r\nMessage-ID: <scale%d@example.org>\r\n"+
			"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s",
			i%53, i%53, i, i%97, date, i, body)
		name := maildirName(i)
		if i%3 != 0 {
			name += "S"
		}
		p := filepath.Join(dir, "cur", name)
		if err := os.WriteFile(p, []byte(msg), 0o600); err != nil {
			t.Fatal(err)
		}
		if uid >= 0 {
			os.Lchown(p, uid, gid)
		}
	}
	if uid >= 0 {
		for _, sub := range []string{"", "cur", "new", "tmp"} {
			os.Lchown(filepath.Join(dir, sub), uid, gid)
		}
	}
}

// maildirName names message i's file as delivery agents do, after the
// Maildir convention ("time.MusecPpid.host"), or, with
// DUOMAIL_SCALE_NAMES=bulk, as bulk.py does ("1600000000.0.bulk"). The
// content is the same; the names are not a detail: on Dovecot 2.3.19 at
// 50,000 messages, bulk.py's names make every session that reads message
// files spend seconds of CPU (measured in raw sessions on this machine:
// first SELECT 10.9 s against 0.13 s, FETCH of the newest 50 envelopes
// 13 s against 0.22 s, BODY.PEEK[] of 10 messages 8.9 s against 0.11 s),
// which hides the client's own cost under the server's.
func maildirName(i int) string {
	if os.Getenv("DUOMAIL_SCALE_NAMES") == "bulk" {
		return fmt.Sprintf("%d.%d.bulk:2,", 1600000000+i, i)
	}
	return fmt.Sprintf("%d.M%dP%d.scalehost:2,", 1600000000+i, i*7919%1000000, 1000+i*104729%90000)
}

// settle lets Dovecot take in a Maildir just written: it rescans a
// directory changed in the last seconds on every open, so wait, then open
// it once read-write.
func settle(t *testing.T, d *sourcetest.Dovecot, user string) {
	t.Helper()
	time.Sleep(3 * time.Second)
	c, err := imapclient.DialInsecure(net.JoinHostPort(d.Host, strconv.Itoa(d.IMAPPort)), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Login(user, sourcetest.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select("INBOX", nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := c.Logout().Wait(); err != nil {
		t.Fatal(err)
	}
}

// rawFetch is the floor of a first sync: one pipelined FETCH of every
// envelope, read and thrown away.
func rawFetch(t *testing.T, d *sourcetest.Dovecot, user string) time.Duration {
	t.Helper()
	return rawFetchItems(t, d, user, "1:*", "UID FLAGS ENVELOPE RFC822.SIZE")
}

// rawFetchItems times one FETCH of the given messages and items in a
// session of its own, login included.
func rawFetchItems(t *testing.T, d *sourcetest.Dovecot, user, set, items string) time.Duration {
	t.Helper()
	start := time.Now()
	conn, err := net.Dial("tcp", net.JoinHostPort(d.Host, strconv.Itoa(d.IMAPPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReaderSize(conn, 1<<16)
	if _, err := r.ReadString('\n'); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "a LOGIN %s %s\r\nb EXAMINE INBOX\r\nc FETCH %s (%s)\r\nd LOGOUT\r\n", user, sourcetest.Password, set, items)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("raw fetch: %v", err)
		}
		if strings.HasPrefix(line, "c ") {
			if !strings.HasPrefix(line, "c OK") {
				t.Fatalf("raw fetch: %s", line)
			}
			break
		}
	}
	return time.Since(start)
}

type scaleRun struct {
	t      *testing.T
	config string
}

// run times one duomail command in its own data directory (empty when
// fresh) and returns wall time and peak RSS.
func (s *scaleRun) run(data string, args ...string) (time.Duration, int64) {
	s.t.Helper()
	cmd := exec.Command(binary(s.t), append([]string{"--config", s.config, "-q"}, args...)...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + data, "XDG_DATA_HOME=" + data, "XDG_CONFIG_HOME=" + data, "TZ=UTC"}
	var stderr strings.Builder
	cmd.Stdout, cmd.Stderr = nil, &stderr
	start := time.Now()
	err := cmd.Run()
	el := time.Since(start)
	if code := cmd.ProcessState.ExitCode(); err != nil && !(args[0] == "check" && code == 1) {
		s.t.Fatalf("duomail %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return el, rusageMaxRSS(cmd.ProcessState)
}

// median3 runs f three times and returns the median.
func median3(f func() time.Duration) time.Duration {
	d := []time.Duration{f(), f(), f()}
	slices.Sort(d)
	return d[1]
}

type scaleRow struct {
	name  string
	cells []float64 // per size
	unit  string    // "s" or "MB"
}

func TestScaleTable(t *testing.T) {
	sizes := []int{1000, 10000, 50000}
	if v := os.Getenv("DUOMAIL_SCALE_SIZES"); v != "" {
		sizes = nil
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				t.Fatal(err)
			}
			sizes = append(sizes, n)
		}
	}
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	binary(t)
	rows := map[string]*scaleRow{}
	var order []string
	set := func(name, unit string, i int, v float64) {
		t.Logf("%d: %s: %.3f %s", sizes[i], name, v, unit)
		r := rows[name]
		if r == nil {
			r = &scaleRow{name: name, unit: unit, cells: make([]float64, len(sizes))}
			rows[name] = r
			order = append(order, name)
		}
		r.cells[i] = v
	}
	for i, n := range sizes {
		user := d.AddUser(t)
		md := d.Maildir(user, "INBOX")
		fillMaildir(t, md, 0, n)
		settle(t, d, user)
		dir := t.TempDir()
		config := filepath.Join(dir, "config.toml")
		toml := fmt.Sprintf("[accounts.s]\nprotocol = \"imap\"\nhost = %q\nport = %d\ntls = \"none\"\nusername = %q\npassword = %q\ntimeout = \"10m\"\n",
			d.Host, d.IMAPPort, user, sourcetest.Password)
		if err := os.WriteFile(config, []byte(toml), 0o600); err != nil {
			t.Fatal(err)
		}
		s := &scaleRun{t: t, config: config}
		fresh := func(name string) string {
			p := filepath.Join(dir, name)
			os.RemoveAll(p)
			os.MkdirAll(p, 0o700)
			return p
		}
		secs := func(d time.Duration) float64 { return d.Seconds() }
		mb := func(b int64) float64 { return float64(b) / 1e6 }

		raw := median3(func() time.Duration { return rawFetch(t, d, user) })
		set("raw pipelined FETCH of every envelope (floor)", "s", i, secs(raw))
		// What the attachment marker costs the server: the first FETCH of
		// BODYSTRUCTURE parses every message, later ones read Dovecot's cache.
		set("raw FETCH adding BODYSTRUCTURE INTERNALDATE, first time", "s", i,
			secs(rawFetchItems(t, d, user, "1:*", "UID FLAGS ENVELOPE RFC822.SIZE BODYSTRUCTURE INTERNALDATE")))
		set("raw FETCH adding BODYSTRUCTURE INTERNALDATE, again", "s", i,
			secs(median3(func() time.Duration {
				return rawFetchItems(t, d, user, "1:*", "UID FLAGS ENVELOPE RFC822.SIZE BODYSTRUCTURE INTERNALDATE")
			})))
		first, _ := s.run(fresh("envelopes"), "sync")
		set("first sync (envelopes), empty cache", "s", i, secs(first))
		cold, coldRSS := s.run(fresh("cold"), "list", "--limit", "0", "--json")
		set("cold list --limit 0 --json", "s", i, secs(cold))
		set("first sync / raw FETCH", "x", i, first.Seconds()/raw.Seconds())
		set("cold list --limit 0 --json / raw FETCH", "x", i, cold.Seconds()/raw.Seconds())
		_ = coldRSS

		data := filepath.Join(dir, "envelopes")
		set("sync, nothing changed", "s", i, secs(median3(func() time.Duration { el, _ := s.run(data, "sync"); return el })))
		set("check", "s", i, secs(median3(func() time.Duration { el, _ := s.run(data, "check"); return el })))
		set("list --limit 50", "s", i, secs(median3(func() time.Duration { el, _ := s.run(data, "list", "--limit", "50"); return el })))
		set("list --limit 50, empty cache", "s", i, secs(median3(func() time.Duration {
			el, _ := s.run(fresh("page"), "list", "--limit", "50")
			return el
		})))
		// The empty-cache page's floor: the same FETCH of the newest 50 in a
		// session of its own (on a Maildir, RFC822.SIZE makes Dovecot read
		// its whole UID list once per session).
		page := fmt.Sprintf("%d:%d", max(1, n-49), n)
		set("raw FETCH of the newest 50 envelopes (floor of the empty-cache page)", "s", i, secs(median3(func() time.Duration {
			return rawFetchItems(t, d, user, page, "UID FLAGS ENVELOPE RFC822.SIZE BODYSTRUCTURE INTERNALDATE")
		})))
		_, online := s.run(data, "list", "--limit", "0", "--json")
		set("list --limit 0 --json, peak RSS", "MB", i, mb(online))
		_, offline := s.run(data, "list", "--offline", "--limit", "0", "--json")
		set("list --offline --limit 0 --json, peak RSS", "MB", i, mb(offline))

		s.run(data, "sync", "--bodies")
		// Within 2 s of a write the cache cannot trust its directories'
		// times (a coarse clock), so every command compares the Maildir
		// with the index; afterwards it need not.
		set("sync --bodies, nothing changed, within 2 s of the last write", "s", i, secs(median3(func() time.Duration { el, _ := s.run(data, "sync", "--bodies"); return el })))
		time.Sleep(3 * time.Second)
		set("sync --bodies, nothing changed", "s", i, secs(median3(func() time.Duration { el, _ := s.run(data, "sync", "--bodies"); return el })))
		fillMaildir(t, md, n, 10)
		settle(t, d, user)
		el, _ := s.run(data, "sync", "--bodies")
		set("sync --bodies of 10 new messages", "s", i, secs(el))
		// Its floor, measured after it so as not to warm the server for it:
		// the same bodies in a session of their own.
		set("raw FETCH of the 10 new bodies (floor)", "s", i,
			secs(rawFetchItems(t, d, user, fmt.Sprintf("%d:%d", n+1, n+10), "UID FLAGS RFC822.SIZE BODY.PEEK[]")))
	}

	var b strings.Builder
	fmt.Fprintf(&b, "| measure |")
	for _, n := range sizes {
		fmt.Fprintf(&b, " %s |", count(n))
	}
	fmt.Fprintf(&b, " %s / %s |\n|---|", count(sizes[len(sizes)-1]), count(sizes[0]))
	for range sizes {
		b.WriteString("---:|")
	}
	b.WriteString("---:|\n")
	for _, name := range order {
		r := rows[name]
		fmt.Fprintf(&b, "| %s |", r.name)
		for _, v := range r.cells {
			switch r.unit {
			case "s":
				fmt.Fprintf(&b, " %.3f s |", v)
			case "MB":
				fmt.Fprintf(&b, " %.1f MB |", v)
			default:
				fmt.Fprintf(&b, " %.2f× |", v)
			}
		}
		if r.unit == "x" {
			b.WriteString(" |\n")
			continue
		}
		fmt.Fprintf(&b, " %.2f× |\n", r.cells[len(r.cells)-1]/r.cells[0])
	}
	load, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(&b, "\nDovecot on loopback, plain IMAP, account timeout 10 minutes (a loaded machine makes the server's first answers slow); medians of 3 where fast, single runs otherwise; load average at the end: %s\n", strings.Join(strings.Fields(string(load))[:3], " "))
	fmt.Print(b.String())
	if out := os.Getenv("DUOMAIL_SCALE_OUT"); out != "" {
		if err := os.WriteFile(out, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func count(n int) string {
	if n%1000 == 0 {
		return strconv.Itoa(n/1000) + "k"
	}
	return strconv.Itoa(n)
}
