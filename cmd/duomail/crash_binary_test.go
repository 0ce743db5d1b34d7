package main

import (
	"database/sql"
	"fmt"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
)

// Crash safety of the real binary against a real Dovecot: duomail is
// killed with SIGKILL at random moments of a sync (or a flag change), over
// and over, and after every kill the server's and the cache's Maildirs
// are read file by file. A message may be on the server, in the cache, or
// both, but never nowhere (lost), never twice in the cache (duplicate) and
// never cut short in the cache's cur/ or new/ (partial). After the kills,
// one run without interruption must complete and leave a correct cache.
//
// Run with
//
//	go test ./cmd/duomail -run 'TestBinaryCrash' -v | grep FIGURES
//
// The seed of the random delays is logged; DUOMAIL_CRASH_SEED repeats one.

// crashFigures adds up what the scenarios saw.
type crashFigures struct {
	mu         sync.Mutex
	kills      map[string]int
	lost       int
	duplicates int
	partial    int
	wrong      int // a flag or a retention decision not as the commands said
}

func (f *crashFigures) add(scenario string, kills, lost, dups, partial, wrong int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.kills == nil {
		f.kills = map[string]int{}
	}
	f.kills[scenario] += kills
	f.lost += lost
	f.duplicates += dups
	f.partial += partial
	f.wrong += wrong
}

func (f *crashFigures) String() string {
	total := 0
	var parts []string
	for name, n := range f.kills {
		total += n
		parts = append(parts, fmt.Sprintf("%s=%d", name, n))
	}
	sort.Strings(parts)
	return fmt.Sprintf("kills=%d lost=%d duplicates=%d partial=%d wrong_state=%d (%s)", total, f.lost, f.duplicates, f.partial, f.wrong, strings.Join(parts, " "))
}

// crashRand returns the random source of a scenario and logs its seed.
func crashRand(t *testing.T) *rand.Rand {
	seed := time.Now().UnixNano()
	if s := strings.TrimSpace(os.Getenv("DUOMAIL_CRASH_SEED")); s != "" {
		fmt.Sscan(s, &seed)
	}
	t.Logf("random seed %d (DUOMAIL_CRASH_SEED=%d repeats the delays)", seed, seed)
	return rand.New(rand.NewSource(seed))
}

// crashConfig writes a config with the given accounts of a Dovecot
// user, over plaintext (so that cuts land in protocol bytes).
func crashConfig(c *cli, d *sourcetest.Dovecot, user string, accounts ...tomlAccount) {
	for i := range accounts {
		a := &accounts[i]
		a.Host, a.Username, a.Password, a.TLS = d.Host, user, sourcetest.Password, "none"
	}
	c.writeConfig(accountsTOML(accounts...))
}

func TestBinaryCrash(t *testing.T) {
	t.Parallel()
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	binary(t)
	var figs crashFigures
	// 100 kills in all; -short kills a fifth as often.
	kills := func(n int) int {
		if testing.Short() {
			return n / 5
		}
		return n
	}
	t.Run("scenarios", func(t *testing.T) {
		t.Run("pop3 delete after download", func(t *testing.T) {
			t.Parallel()
			crashPOP3Delete(t, d, &figs, kills(30))
		})
		t.Run("imap sync --bodies", func(t *testing.T) {
			t.Parallel()
			crashIMAPBodies(t, d, &figs, kills(30))
		})
		t.Run("imap flag", func(t *testing.T) {
			t.Parallel()
			crashIMAPFlags(t, d, &figs, kills(20))
		})
		t.Run("pop3 keep_days", func(t *testing.T) {
			t.Parallel()
			crashPOP3KeepDays(t, d, &figs, kills(20))
		})
		t.Run("pop3 delete after download, connection cut", func(t *testing.T) {
			t.Parallel()
			cutPOP3Delete(t, d)
		})
	})
	t.Logf("FIGURES crash: %v", &figs)
	if figs.lost+figs.duplicates+figs.partial+figs.wrong > 0 {
		t.Errorf("crash safety broken: %v", &figs)
	}
}

// crashCheck compares the server and the cache after a kill: every
// message that must still exist is on the server or in the cache, no
// message is twice in the cache, no file in the cache's cur/ or new/ is
// cut short. It reports the counts and fails the test on any.
func crashCheck(t *testing.T, mail *mailCorpus, server, cache maildirSnapshot, mustExist []int, when string) (lost, dups, partial int) {
	t.Helper()
	for _, i := range mustExist {
		if server.count[i]+cache.count[i] == 0 {
			lost++
			t.Errorf("%s: message %q is neither on the server nor in the cache", when, mail.msgs[i].Name)
		}
	}
	for i, n := range cache.count {
		if n > 1 {
			dups += n - 1
			t.Errorf("%s: message %q is %d times in the cache", when, mail.msgs[i].Name, n)
		}
	}
	if partial = len(cache.unknown); partial > 0 {
		for _, name := range cache.unknown {
			t.Errorf("%s: cache file %s is no complete message (starts %q)", when, name, cache.raw[name])
		}
	}
	return lost, dups, partial
}

// timeRun measures how long a run takes, as the bound for random kill delays.
func timeRun(t *testing.T, c *cli, args ...string) time.Duration {
	t.Helper()
	start := time.Now()
	c.ok(args...)
	return time.Since(start)
}

// crashPOP3Delete: POP3 sync with keep_on_server = false. A message may be
// deleted on the server only once it is durably in the cache.
func crashPOP3Delete(t *testing.T, d *sourcetest.Dovecot, figs *crashFigures, wantKills int) {
	rng := crashRand(t)
	user := d.AddUser(t)
	mail := crashCorpus("p", 200, []int{100_000, 300_000, 600_000, 1_000_000})
	mail.deliver(t, d, user, client.Inbox)
	c := newCLI(t)
	crashConfig(c, d, user,
		tomlAccount{Name: "pop", Protocol: "pop3", Port: d.POP3Port, Extra: "keep_on_server = false\n"},
		tomlAccount{Name: "probe", Protocol: "pop3", Port: d.POP3Port})
	// A full download into a cache of its own (mail stays) is the time a
	// full sync takes.
	full := timeRun(t, c, "-a", "probe", "sync")
	t.Logf("a full sync of %d messages takes %v", len(mail.msgs), full)

	kills, lost, dups, partial, completed := 0, 0, 0, 0, 0
	plan := &killPlanner{rng: rng, span: full}
	phases := map[string]int{}
	prevServer, prevCache := serverState(t, mail, d, user, client.Inbox), c.cacheState(t, mail, client.POP3, "pop", client.Inbox)
	for attempt := 0; kills < wantKills && attempt < 4*wantKills; attempt++ {
		delay := plan.next()
		r, landed, elapsed := c.runKilled(delay, "-a", "pop", "sync")
		server := serverState(t, mail, d, user, client.Inbox)
		cache := c.cacheState(t, mail, client.POP3, "pop", client.Inbox)
		l, du, p := crashCheck(t, mail, server, cache, allIndexes(mail), fmt.Sprintf("after run %d (killed %v after %v)", attempt, landed, delay))
		lost, dups, partial = lost+l, dups+du, partial+p
		changed := changedState(prevServer, prevCache, server, cache)
		prevServer, prevCache = server, cache
		if landed {
			kills++
			phases[popPhase(server, cache, changed)]++
			plan.killed(delay, changed)
			continue
		}
		plan.completed(elapsed)
		if r.code != 0 {
			t.Fatalf("an uninterrupted run failed: %v", r)
		}
		completed++
		// Everything is downloaded and deleted: new mail, so that the
		// next kills have a download to interrupt.
		mail.deliver(t, d, user, client.Inbox, mail.more("p", 40)...)
		mail.deliver(t, d, user, client.Inbox, mail.add(sourcetest.Message{Name: fmt.Sprintf("p late large %d", attempt),
			Raw: sourcetest.AttachmentMessage(fmt.Sprintf("p late large %d", attempt), "late.pdf", 400_000+attempt)}))
		prevServer = serverState(t, mail, d, user, client.Inbox)
	}
	t.Logf("%d kills landed, %d runs completed before their kill; state left by the kills: %v", kills, completed, phases)
	if kills < wantKills {
		t.Errorf("only %d kills landed during a run, want %d", kills, wantKills)
	}

	// One run to the end: all mail in the cache, once, and none on the server.
	c.ok("-a", "pop", "sync")
	server := serverState(t, mail, d, user, client.Inbox)
	cache := c.cacheState(t, mail, client.POP3, "pop", client.Inbox)
	l, du, p := crashCheck(t, mail, server, cache, allIndexes(mail), "after the final run")
	lost, dups, partial = lost+l, dups+du, partial+p
	if len(server.count) != 0 {
		t.Errorf("keep_on_server = false, yet %d messages stay on the server", len(server.count))
	}
	if len(cache.count) != len(mail.msgs) {
		t.Errorf("cache holds %d of %d messages", len(cache.count), len(mail.msgs))
	}
	if len(cache.tmp) != 0 {
		t.Errorf("leftovers in the cache's tmp/: %q", cache.tmp)
	}
	entries := c.indexEntries(t, "pop", client.Inbox)
	_, indexDups := countDuplicates(cache, entries)
	dups += indexDups
	checkIndexMatches(t, mail, entries, cache)
	figs.add("pop3-delete", kills, lost, dups, partial, 0)
}

// killPlanner picks when to kill a run. A run spends its first part
// starting, opening the cache, logging in and listing; how long depends on
// the machine's load. Uniform delays would then often kill before any
// message moved, so the planner learns the latest delay that still found
// nothing begun and aims three kills in four past it, up to a little
// beyond the run's length (so that some runs complete, which brings new
// mail for the next kills). One kill in four may land anywhere.
type killPlanner struct {
	rng   *rand.Rand
	span  time.Duration // how long a whole run takes, as last seen
	quiet time.Duration // latest kill after which nothing had changed
}

func (p *killPlanner) next() time.Duration {
	end := p.span * 6 / 5
	if p.quiet >= end || p.rng.Intn(4) == 0 {
		return time.Duration(p.rng.Int63n(int64(end)))
	}
	return p.quiet + time.Duration(p.rng.Int63n(int64(end-p.quiet)))
}

// killed records a kill after delay; changed says whether the run had
// done anything that shows on disk or on the server.
func (p *killPlanner) killed(delay time.Duration, changed bool) {
	if !changed && delay > p.quiet {
		p.quiet = delay
	}
	if delay > p.span*9/10 {
		p.span = p.span * 5 / 4 // still running: runs take longer now
	}
}

// completed records a run that ended before its kill.
func (p *killPlanner) completed(elapsed time.Duration) { p.span = elapsed }

// changedState reports whether anything differs between two scans of the
// server and the cache (or a download is under way in tmp/).
func changedState(server0, cache0, server, cache maildirSnapshot) bool {
	same := func(a, b maildirSnapshot) bool { return fmt.Sprint(a.count) == fmt.Sprint(b.count) }
	return len(cache.tmp) > 0 || !same(server0, server) || !same(cache0, cache)
}

// popPhase names what a killed POP3 sync left: which step it was in.
func popPhase(server, cache maildirSnapshot, changed bool) string {
	both := 0
	for i := range cache.count {
		if server.count[i] > 0 {
			both++
		}
	}
	switch {
	case len(cache.tmp) > 0:
		return "downloading (files in tmp/)"
	case !changed:
		return "before any download"
	case both > 0:
		return "stored, not yet deleted on the server"
	}
	return "after QUIT"
}

func allIndexes(mail *mailCorpus) []int {
	out := make([]int, len(mail.msgs))
	for i := range out {
		out[i] = i
	}
	return out
}

// checkIndexMatches requires the index to list exactly the messages whose
// files are in the cache, each once.
func checkIndexMatches(t *testing.T, mail *mailCorpus, entries []client.Envelope, cache maildirSnapshot) {
	t.Helper()
	byMsgID := map[string]int{}
	for _, e := range entries {
		byMsgID[e.MessageID]++
	}
	for i := range cache.count {
		if id := headerMessageID(mail.msgs[i].Raw); byMsgID[id] != 1 {
			t.Errorf("message %q (Message-ID %q) is %d times in the index", mail.msgs[i].Name, id, byMsgID[id])
		}
	}
	if len(entries) != len(cache.count) {
		t.Errorf("index lists %d messages, the cache's Maildir holds %d", len(entries), len(cache.count))
	}
}

// crashIMAPBodies: IMAP sync --bodies, while the server keeps the mail and
// changes under it (new mail, mail expunged by another client).
func crashIMAPBodies(t *testing.T, d *sourcetest.Dovecot, figs *crashFigures, wantKills int) {
	rng := crashRand(t)
	user := d.AddUser(t)
	mail := crashCorpus("i", 150, []int{150_000, 500_000, 900_000})
	mail.deliver(t, d, user, client.Inbox)
	c := newCLI(t)
	crashConfig(c, d, user,
		tomlAccount{Name: "imap", Protocol: "imap", Port: d.IMAPPort},
		tomlAccount{Name: "probe", Protocol: "imap", Port: d.IMAPPort})
	full := timeRun(t, c, "-a", "probe", "sync", "--bodies")
	t.Logf("a full sync --bodies of %d messages takes %v", len(mail.msgs), full)

	removed := map[int]bool{} // expunged by "another client": may leave the cache
	kills, lost, dups, partial, completed := 0, 0, 0, 0, 0
	plan := &killPlanner{rng: rng, span: full}
	phases := map[string]int{}
	prevServer, prevCache := serverState(t, mail, d, user, client.Inbox), c.cacheState(t, mail, client.IMAP, "imap", client.Inbox)
	for attempt := 0; kills < wantKills && attempt < 4*wantKills; attempt++ {
		delay := plan.next()
		r, landed, elapsed := c.runKilled(delay, "-a", "imap", "sync", "--bodies")
		server := serverState(t, mail, d, user, client.Inbox)
		cache := c.cacheState(t, mail, client.IMAP, "imap", client.Inbox)
		for i := range mail.msgs {
			if !removed[i] {
				if server.count[i] != 1 {
					lost++
					t.Errorf("run %d: message %q is %d times on the server; sync must not change the server", attempt, mail.msgs[i].Name, server.count[i])
				}
			}
		}
		_, du, p := crashCheck(t, mail, server, cache, nil, fmt.Sprintf("after run %d (killed %v after %v)", attempt, landed, delay))
		dups, partial = dups+du, partial+p
		changed := changedState(prevServer, prevCache, server, cache)
		prevServer, prevCache = server, cache
		if landed {
			kills++
			phases[imapPhase(server, cache, changed)]++
			plan.killed(delay, changed)
			continue
		}
		plan.completed(elapsed)
		if r.code != 0 {
			t.Fatalf("an uninterrupted run failed: %v", r)
		}
		completed++
		checkMirror(t, mail, server, cache, fmt.Sprintf("after completed run %d", attempt))
		// The server changes: new mail arrives, another client expunges some.
		mail.deliver(t, d, user, client.Inbox, mail.more("i", 30)...)
		mail.deliver(t, d, user, client.Inbox, mail.add(sourcetest.Message{Name: fmt.Sprintf("i late large %d", attempt),
			Raw: sourcetest.AttachmentMessage(fmt.Sprintf("i late large %d", attempt), "late.pdf", 500_000+attempt)}))
		for name, i := range server.files {
			if rng.Intn(20) == 0 {
				removeServerFile(t, d, user, name)
				removed[i] = true
			}
		}
		prevServer = serverState(t, mail, d, user, client.Inbox)
	}
	t.Logf("%d kills landed, %d runs completed before their kill, %d messages expunged meanwhile; state left by the kills: %v", kills, completed, len(removed), phases)
	if kills < wantKills {
		t.Errorf("only %d kills landed during a run, want %d", kills, wantKills)
	}

	c.ok("-a", "imap", "sync", "--bodies")
	server := serverState(t, mail, d, user, client.Inbox)
	cache := c.cacheState(t, mail, client.IMAP, "imap", client.Inbox)
	_, du, p := crashCheck(t, mail, server, cache, nil, "after the final run")
	dups, partial = dups+du, partial+p
	checkMirror(t, mail, server, cache, "after the final run")
	if len(cache.tmp) != 0 {
		t.Errorf("leftovers in the cache's tmp/: %q", cache.tmp)
	}
	entries := c.indexEntries(t, "imap", client.Inbox)
	_, indexDups := countDuplicates(cache, entries)
	dups += indexDups
	checkIndexMatches(t, mail, entries, cache)
	figs.add("imap-bodies", kills, lost, dups, partial, 0)
}

// imapPhase names what a killed IMAP sync --bodies left.
func imapPhase(server, cache maildirSnapshot, changed bool) string {
	missing := 0
	for i := range server.count {
		if cache.count[i] == 0 {
			missing++
		}
	}
	switch {
	case len(cache.tmp) > 0:
		return "downloading (files in tmp/)"
	case !changed:
		return "before any download"
	case missing == 0:
		return "all bodies stored"
	}
	return "some bodies stored"
}

// checkMirror requires a completed IMAP sync --bodies: the cache holds
// exactly the server's messages.
func checkMirror(t *testing.T, mail *mailCorpus, server, cache maildirSnapshot, when string) {
	t.Helper()
	for i := range server.count {
		if cache.count[i] != 1 {
			t.Errorf("%s: server message %q is %d times in the cache", when, mail.msgs[i].Name, cache.count[i])
		}
	}
	for i := range cache.count {
		if server.count[i] == 0 {
			t.Errorf("%s: cache keeps %q, which is gone from the server", when, mail.msgs[i].Name)
		}
	}
}

// removeServerFile deletes a message file on the server, as another
// client expunging it would.
func removeServerFile(t *testing.T, d *sourcetest.Dovecot, user, name string) {
	t.Helper()
	md := d.Maildir(user, client.Inbox)
	if err := removeRenamed(md, name); err != nil {
		t.Fatal(err)
	}
}

// removeRenamed removes a Maildir file that Dovecot may have renamed
// (new/ to cur/, flags) since it was listed.
func removeRenamed(md, name string) error {
	base, _, _ := strings.Cut(filepath.Base(name), ":")
	for _, sub := range []string{"new", "cur"} {
		m, _ := filepath.Glob(filepath.Join(md, sub, base+"*"))
		for _, p := range m {
			return os.Remove(p)
		}
	}
	return fmt.Errorf("server file %s is gone", name)
}

// crashIMAPFlags: flag changes killed at random. The server's flags must
// always be those of the last command that completed, except for the
// message a killed command was changing, which may have either state; the
// cache must stay readable (list --offline) and a sync must bring it in
// line with the server.
func crashIMAPFlags(t *testing.T, d *sourcetest.Dovecot, figs *crashFigures, wantKills int) {
	rng := crashRand(t)
	user := d.AddUser(t)
	mail := crashCorpus("f", 40, []int{200_000})
	mail.deliver(t, d, user, client.Inbox)
	c := newCLI(t)
	crashConfig(c, d, user, tomlAccount{Name: "imap", Protocol: "imap", Port: d.IMAPPort})
	c.ok("-a", "imap", "sync")
	idOf := map[int]string{}
	byMsgID := map[string]int{}
	for i, m := range mail.msgs {
		byMsgID[headerMessageID(m.Raw)] = i
	}
	for _, e := range jsonOf[listJSON](t, c.ok("-a", "imap", "list", "--json", "--limit", "0")).Messages {
		i, ok := byMsgID[e.MessageID]
		if !ok {
			t.Fatalf("listed message %q is not in the mailCorpus", e.MessageID)
		}
		idOf[i] = e.ID
	}
	if len(idOf) != len(mail.msgs) {
		t.Fatalf("listed %d messages, delivered %d", len(idOf), len(mail.msgs))
	}
	flagged := func(s maildirSnapshot, i int) bool { return strings.Contains(s.flags[i], "F") }
	settled := func() maildirSnapshot {
		// A killed client may leave Dovecot finishing a command it had
		// already read; wait until the flags stop changing.
		prev := serverState(t, mail, d, user, client.Inbox)
		for try := 0; try < 20; try++ {
			time.Sleep(50 * time.Millisecond)
			cur := serverState(t, mail, d, user, client.Inbox)
			if fmt.Sprint(cur.flags) == fmt.Sprint(prev.flags) {
				return cur
			}
			prev = cur
		}
		return prev
	}
	model := map[int]bool{} // flagged on the server, as the commands that completed say
	start := time.Now()
	c.ok("-a", "imap", "flag", idOf[0], "--add", "flagged")
	full := time.Since(start)
	model[0] = true

	kills, wrong, completed := 0, 0, 0
	span := full // how long a flag command takes, as last seen
	for attempt := 0; kills < wantKills && attempt < 8*wantKills; attempt++ {
		i := rng.Intn(len(mail.msgs))
		op, want := "--add", true
		if model[i] && rng.Intn(3) > 0 {
			op, want = "--remove", false
		}
		// Every third command runs to its end, between the killed ones.
		delay := time.Duration(rng.Int63n(int64(span)))
		if rng.Intn(3) == 0 {
			delay = time.Minute
		}
		r, landed, elapsed := c.runKilled(delay, "-a", "imap", "flag", idOf[i], op, "flagged")
		if !landed {
			span = elapsed
		}
		// A completed command had its answer: the server is done.
		server := serverState(t, mail, d, user, client.Inbox)
		if landed {
			server = settled()
		}
		for j := range mail.msgs {
			got := flagged(server, j)
			switch {
			case j == i && landed:
				if got != model[j] && got != want {
					wrong++
					t.Errorf("run %d: %q flagged=%v, neither before (%v) nor after (%v)", attempt, mail.msgs[j].Name, got, model[j], want)
				}
				model[j] = got // whatever it is now is what the next commands start from
			case j == i:
				if r.code != 0 {
					t.Fatalf("an uninterrupted flag failed: %v", r)
				}
				if got != want {
					wrong++
					t.Errorf("run %d: flag %s completed, yet %q flagged=%v on the server", attempt, op, mail.msgs[j].Name, got)
				}
				model[j] = want
			case got != model[j]:
				wrong++
				t.Errorf("run %d: %q, not named by the command, changed to flagged=%v", attempt, mail.msgs[j].Name, got)
			}
		}
		if !landed {
			completed++
			continue
		}
		kills++
		// The cache stays readable after every kill.
		if r := c.run("-a", "imap", "list", "--offline", "--json", "--limit", "0"); r.code != 0 {
			t.Fatalf("list --offline after a kill: %v", r)
		} else if n := len(jsonOf[listJSON](t, r).Messages); n != len(mail.msgs) {
			t.Errorf("list --offline shows %d messages, want %d", n, len(mail.msgs))
		}
		if kills%4 == 0 {
			crashSyncFlags(t, c, mail, idOf, settled(), flagged)
		}
	}
	crashSyncFlags(t, c, mail, idOf, settled(), flagged)
	t.Logf("%d kills landed, %d flag commands completed", kills, completed)
	if kills < wantKills {
		t.Errorf("only %d kills landed during a flag command, want %d", kills, wantKills)
	}
	cache := c.cacheState(t, mail, client.IMAP, "imap", client.Inbox)
	figs.add("imap-flag", kills, 0, 0, len(cache.unknown), wrong)
}

// crashSyncFlags runs sync and requires the cache's flags to be the server's.
func crashSyncFlags(t *testing.T, c *cli, mail *mailCorpus, idOf map[int]string, server maildirSnapshot, flagged func(maildirSnapshot, int) bool) {
	t.Helper()
	c.ok("-a", "imap", "sync")
	byID := map[string]client.Envelope{}
	for _, e := range c.indexEntries(t, "imap", client.Inbox) {
		byID[e.ID] = e
	}
	for i := range mail.msgs {
		e, ok := byID[idOf[i]]
		if !ok {
			t.Errorf("%q missing from the index after sync", mail.msgs[i].Name)
			continue
		}
		if got, want := client.HasFlag(e.Flags, client.FlagFlagged), flagged(server, i); got != want {
			t.Errorf("after sync the cache says %q flagged=%v, the server %v", mail.msgs[i].Name, got, want)
		}
	}
}

// crashPOP3KeepDays: POP3 with keep_days = 1. Messages downloaded more
// than a day ago are deleted on the server; newer ones must stay there.
// The test makes mail "old" by moving its download time in the cache's
// index two days back (what a day passing would do), so the binary runs
// with the real clock and no test hook.
func crashPOP3KeepDays(t *testing.T, d *sourcetest.Dovecot, figs *crashFigures, wantKills int) {
	rng := crashRand(t)
	user := d.AddUser(t)
	mail := crashCorpus("k", 60, []int{300_000, 700_000})
	mail.deliver(t, d, user, client.Inbox)
	c := newCLI(t)
	crashConfig(c, d, user, tomlAccount{Name: "pop", Protocol: "pop3", Port: d.POP3Port, Extra: "keep_days = 1\n"})
	full := timeRun(t, c, "-a", "pop", "sync")
	if s := serverState(t, mail, d, user, client.Inbox); len(s.count) != len(mail.msgs) {
		t.Fatalf("keep_days = 1 deleted mail downloaded just now: %d of %d left", len(s.count), len(mail.msgs))
	}
	aged := map[int]bool{}
	age := func() {
		t.Helper()
		n := ageDownloads(t, filepath.Join(c.data, "duomail", "pop", "index.sqlite"), 48*time.Hour)
		cache := c.cacheState(t, mail, client.POP3, "pop", client.Inbox)
		for i := range cache.count {
			aged[i] = true
		}
		if n != len(cache.count) {
			t.Fatalf("aged %d index rows, the cache holds %d messages", n, len(cache.count))
		}
	}
	age()
	wave := func(tag string) {
		mail.deliver(t, d, user, client.Inbox, mail.more("k"+tag, 60)...)
		mail.deliver(t, d, user, client.Inbox, mail.add(sourcetest.Message{Name: "k wave large " + tag,
			Raw: sourcetest.AttachmentMessage("k wave large "+tag, "k.pdf", 600_000+len(mail.msgs))}))
	}
	wave("0")
	// A run downloads a wave like the first one and deletes as many.
	full = full * 3 / 2

	kills, lost, dups, partial, wrong, completed := 0, 0, 0, 0, 0, 0
	plan := &killPlanner{rng: rng, span: full}
	phases := map[string]int{}
	prevServer, prevCache := serverState(t, mail, d, user, client.Inbox), c.cacheState(t, mail, client.POP3, "pop", client.Inbox)
	for attempt := 0; kills < wantKills && attempt < 4*wantKills; attempt++ {
		delay := plan.next()
		r, landed, elapsed := c.runKilled(delay, "-a", "pop", "sync")
		server := serverState(t, mail, d, user, client.Inbox)
		cache := c.cacheState(t, mail, client.POP3, "pop", client.Inbox)
		l, du, p := crashCheck(t, mail, server, cache, allIndexes(mail), fmt.Sprintf("after run %d (killed %v after %v)", attempt, landed, delay))
		lost, dups, partial = lost+l, dups+du, partial+p
		for i := range mail.msgs {
			if !aged[i] && server.count[i] == 0 {
				wrong++
				t.Errorf("run %d: %q was downloaded less than a day ago, yet deleted on the server", attempt, mail.msgs[i].Name)
			}
		}
		changed := changedState(prevServer, prevCache, server, cache)
		prevServer, prevCache = server, cache
		if landed {
			kills++
			oldLeft := 0
			for j := range aged {
				oldLeft += server.count[j]
			}
			switch {
			case len(cache.tmp) > 0:
				phases["downloading (files in tmp/)"]++
			case !changed:
				phases["before any download"]++
			case oldLeft > 0:
				phases["new mail stored, old not yet deleted"]++
			default:
				phases["after QUIT"]++
			}
			plan.killed(delay, changed)
			continue
		}
		plan.completed(elapsed)
		if r.code != 0 {
			t.Fatalf("an uninterrupted run failed: %v", r)
		}
		completed++
		for i := range mail.msgs {
			if aged[i] && server.count[i] != 0 {
				t.Errorf("run %d completed, yet %q, downloaded two days ago, is still on the server", attempt, mail.msgs[i].Name)
			}
		}
		age()
		wave(fmt.Sprint(attempt + 1))
		prevServer, prevCache = serverState(t, mail, d, user, client.Inbox), c.cacheState(t, mail, client.POP3, "pop", client.Inbox)
	}
	t.Logf("%d kills landed, %d runs completed before their kill; state left by the kills: %v", kills, completed, phases)
	if kills < wantKills {
		t.Errorf("only %d kills landed during a run, want %d", kills, wantKills)
	}

	c.ok("-a", "pop", "sync")
	server := serverState(t, mail, d, user, client.Inbox)
	cache := c.cacheState(t, mail, client.POP3, "pop", client.Inbox)
	l, du, p := crashCheck(t, mail, server, cache, allIndexes(mail), "after the final run")
	lost, dups, partial = lost+l, dups+du, partial+p
	for i := range mail.msgs {
		switch {
		case aged[i] && server.count[i] != 0:
			t.Errorf("after the final run %q, downloaded two days ago, is still on the server", mail.msgs[i].Name)
		case !aged[i] && server.count[i] != 1:
			wrong++
			t.Errorf("after the final run %q, downloaded today, is not on the server", mail.msgs[i].Name)
		}
		if cache.count[i] != 1 {
			t.Errorf("after the final run %q is %d times in the cache", mail.msgs[i].Name, cache.count[i])
		}
	}
	if len(cache.tmp) != 0 {
		t.Errorf("leftovers in the cache's tmp/: %q", cache.tmp)
	}
	entries := c.indexEntries(t, "pop", client.Inbox)
	_, indexDups := countDuplicates(cache, entries)
	dups += indexDups
	checkIndexMatches(t, mail, entries, cache)
	figs.add("pop3-keep-days", kills, lost, dups, partial, wrong)
}

// ageDownloads moves every recorded download time of a cache back by ago
// and returns how many rows it changed. The binary is not running.
func ageDownloads(t *testing.T, index string, ago time.Duration) int {
	t.Helper()
	db, err := sql.Open("sqlite", index)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := db.Exec(`UPDATE messages SET downloaded = downloaded - ? WHERE downloaded != 0`, int64(ago))
	if err != nil {
		t.Fatalf("age downloads in %s: %v", index, err)
	}
	n, _ := res.RowsAffected()
	return int(n)
}

// cutPOP3Delete: POP3 sync with keep_on_server = false through a proxy
// that cuts the connection inside a message's RETR, among the answers to
// DELE, and inside the answer to QUIT (after which the server has
// committed the deletions, but duomail cannot know). Each cut must end the
// run with exit 4 and one clear error, lose nothing, store no partial
// message, and the next run without the cut must complete.
func cutPOP3Delete(t *testing.T, d *sourcetest.Dovecot) {
	newMailbox := func() (string, *mailCorpus) {
		user := d.AddUser(t)
		mail := crashCorpus("r", 12, []int{400_000})
		mail.deliver(t, d, user, client.Inbox)
		return user, mail
	}
	pop := net.JoinHostPort(d.Host, strconv.Itoa(d.POP3Port))
	// The exchange, measured on twins: keeping the mail (RETR, then QUIT)
	// and deleting it (RETR, DELE, QUIT).
	measure := func(keep bool) int64 {
		user, _ := newMailbox()
		cp := sourcetest.StartProxy(t, pop)
		c := newCLI(t)
		crashConfig(c, d, user, tomlAccount{Name: "pop", Protocol: "pop3", Port: cp.Port(), Extra: fmt.Sprintf("keep_on_server = %v\n", keep)})
		c.ok("-a", "pop", "sync")
		return cp.Received()
	}
	keepBytes, deleteBytes := measure(true), measure(false)
	quitAnswer := int64(len("+OK Logging out, messages deleted.\r\n"))
	t.Logf("exchange: %d bytes keeping the mail, %d deleting it", keepBytes, deleteBytes)
	cuts := []struct {
		name string
		at   int64
	}{
		{"in RETR data (30%)", keepBytes * 3 / 10},
		{"in RETR data (60%)", keepBytes * 6 / 10},
		{"in RETR data (90%)", keepBytes * 9 / 10},
		{"among the DELE answers", (keepBytes + deleteBytes - quitAnswer) / 2},
		{"in the QUIT answer", deleteBytes - quitAnswer/2},
	}
	var lost, dups, partial int
	for _, cut := range cuts {
		t.Run(cut.name, func(t *testing.T) {
			user, mail := newMailbox()
			p := sourcetest.StartFaultyProxy(t, pop, sourcetest.Fault{CutAfter: cut.at})
			c := newCLI(t)
			crashConfig(c, d, user,
				tomlAccount{Name: "cut", Protocol: "pop3", Port: p.Port(), Timeout: "5s", Extra: "keep_on_server = false\n"},
				tomlAccount{Name: "direct", Protocol: "pop3", Port: d.POP3Port, Extra: "keep_on_server = false\n"})
			r := c.run("-a", "cut", "sync")
			line, err := oneLineError(r)
			t.Logf("cut after %d bytes: exit %d: %s", cut.at, r.code, strings.TrimSpace(r.stderr))
			if r.code != exitNetwork || err != nil || !faultExplained(line) {
				t.Errorf("want exit 4 and one clear error line (%v): %v", err, r)
			}
			server := serverState(t, mail, d, user, client.Inbox)
			cache := c.cacheState(t, mail, client.POP3, "cut", client.Inbox)
			l, du, pa := crashCheck(t, mail, server, cache, allIndexes(mail), "after the cut")
			lost, dups, partial = lost+l, dups+du, partial+pa
			if len(cache.tmp) != 0 {
				t.Errorf("temporary files left after the cut: %q", cache.tmp)
			}
			if cut.name == "in the QUIT answer" && !strings.Contains(line, "not confirmed") {
				t.Errorf("after QUIT was sent, the deletions are unknown, yet: %q", line)
			}

			// The same account without the cut: the cache is the same
			// directory, so rename the account's cache to the direct one.
			if err := os.Rename(filepath.Join(c.data, "duomail", "cut"), filepath.Join(c.data, "duomail", "direct")); err != nil {
				t.Fatal(err)
			}
			c.ok("-a", "direct", "sync")
			server = serverState(t, mail, d, user, client.Inbox)
			cache = c.cacheState(t, mail, client.POP3, "direct", client.Inbox)
			l, du, pa = crashCheck(t, mail, server, cache, allIndexes(mail), "after the run without the cut")
			lost, dups, partial = lost+l, dups+du, partial+pa
			if len(server.count) != 0 || len(cache.count) != len(mail.msgs) || len(cache.tmp) != 0 {
				t.Errorf("after the run without the cut: server %v, cache %v", server, cache)
			}
			entries := c.indexEntries(t, "direct", client.Inbox)
			_, indexDups := countDuplicates(cache, entries)
			dups += indexDups
			checkIndexMatches(t, mail, entries, cache)
		})
	}
	t.Logf("FIGURES pop3-cut: cuts=%d lost=%d duplicates=%d partial=%d", len(cuts), lost, dups, partial)
}
