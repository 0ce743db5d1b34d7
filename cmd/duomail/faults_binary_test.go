package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
)

// Network faults through the real binary: a fault-injecting proxy sits
// between duomail and a real Dovecot and cuts the connection after N bytes
// from the server, goes silent, crawls at 1 KB/s, or resets the TLS
// handshake, for list, fetch, sync, delete (and check, where the binary
// has it) on both protocols.
//
// Every failing case must end within the account's timeout (3 s, per
// network wait) plus a margin, exit 4 with one clear "duomail: " line on
// stderr (no Go stack, no bare EOF), and leave no partial message and no
// temporary file in the cache. A run without the fault must then complete
// with a correct result: the same cache, the same server.
//
// A server dripping 1 KB/s never leaves duomail waiting 3 s for a byte, so
// the per-wait timeout does not end those runs: they must complete, with a
// correct result, in about the time the exchange takes at that rate.
//
// The cases run concurrently (the stalls and drips spend their time
// waiting); each is then reported as its own subtest:
//
//	go test ./cmd/duomail -run 'TestBinaryNetworkFaults' -v | grep -E 'FIGURES|^    --- '

const (
	faultTimeout = 3 * time.Second // the faulty runs' timeout (per network wait)
	faultMargin  = 4 * time.Second // process start, cache, a loaded machine
	dripRate     = 1024            // bytes per second
)

// faultUser is a Dovecot user whose mail a group of cases works on.
type faultUser struct {
	name string
	mail *mailCorpus
	ids  map[string]map[int]string // protocol -> corpus index -> duomail ID
	big  int                       // the large message
	next int                       // next message a destructive case may take
}

// faultOp is one command under test.
type faultOp struct {
	proto string
	name  string
	// args returns the command line for a case; target is the message a
	// case acts on (fetch, delete), -1 for none.
	args func(target string) []string
	// destructive ops take a message of their own per case.
	destructive bool
}

type faultCase struct {
	name  string
	op    *faultOp
	user  *faultUser
	fault sourcetest.Fault
	tls   bool // implicit TLS (else plaintext, so byte counts are protocol bytes)
	drip  bool
	// closing: the cut is in the answer to LOGOUT or QUIT, after the
	// command's own work.
	closing bool
	target  int // corpus index acted on, -1 for none
	bound   time.Duration

	c            *cli
	faultyConfig string
	cleanConfig  string

	faulty, clean     runResult
	elapsed           time.Duration
	hung, cleanHung   error
	afterFault        maildirSnapshot
	afterClean        maildirSnapshot
	scanErr           error
	serverGoneAtFault bool // the target was already deleted when the faulty run ended
}

func TestBinaryNetworkFaults(t *testing.T) {
	t.Parallel()
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	bin := binary(t)
	help, _ := execOutput(bin, "--help")
	hasCheck := strings.Contains(help, "\n  check ")

	ops := []*faultOp{
		{proto: client.IMAP, name: "list", args: func(string) []string { return []string{"list", "--json", "--limit", "0"} }},
		{proto: client.IMAP, name: "fetch", args: func(id string) []string { return []string{"fetch", "--peek", "--raw", id} }},
		{proto: client.IMAP, name: "sync", args: func(string) []string { return []string{"sync", "--bodies", "--json"} }},
		{proto: client.IMAP, name: "delete", args: func(id string) []string { return []string{"delete", "--json", id} }, destructive: true},
		{proto: client.POP3, name: "list", args: func(string) []string { return []string{"list", "--json", "--limit", "0"} }},
		{proto: client.POP3, name: "fetch", args: func(id string) []string { return []string{"fetch", "--raw", id} }},
		{proto: client.POP3, name: "sync", args: func(string) []string { return []string{"sync", "--json"} }},
		{proto: client.POP3, name: "delete", args: func(id string) []string { return []string{"delete", "--json", id} }, destructive: true},
	}
	if hasCheck {
		ops = append(ops,
			&faultOp{proto: client.IMAP, name: "check", args: func(string) []string { return []string{"check", "--json"} }},
			&faultOp{proto: client.POP3, name: "check", args: func(string) []string { return []string{"check", "--json"} }})
	} else {
		t.Logf("this binary has no check command: check is not tested")
	}

	// Mail: the tricky messages and one of 150 KB, last, so that cuts at a
	// share of the exchange land inside its download; for the drips, and
	// for deleting, three small messages (and a spare one to delete).
	newUser := func(small bool, spares int) *faultUser {
		var mail *mailCorpus
		if small {
			mail = newMailCorpus()
			base := time.Date(2024, 5, 1, 9, 0, 0, 0, time.UTC)
			for i := 0; i < 3; i++ {
				s := fmt.Sprintf("Drip %d", i)
				mail.add(sourcetest.Message{Name: s, Raw: sourcetest.SimpleMessage(s, base.Add(time.Duration(i)*time.Minute))})
			}
		} else {
			mail = crashCorpus("n", 8, nil)
		}
		spare := mail.more("spare", spares)
		big := -1
		if !small {
			big = mail.add(sourcetest.Message{Name: "big", Raw: sourcetest.AttachmentMessage("Big attachment", "big.pdf", 150_000)})
		}
		u := &faultUser{name: d.AddUser(t), mail: mail, big: big, ids: map[string]map[int]string{client.IMAP: {}, client.POP3: {}}}
		if len(spare) > 0 {
			u.next = spare[0]
		}
		mail.deliver(t, d, u.name, client.Inbox)
		return u
	}
	// Read-only ops share a user per protocol (and one with the drip
	// mailbox); a destructive op gets a user of its own for every case,
	// so that its exchange does not shrink as the other cases delete.
	readUsers := map[string]*faultUser{}
	dripUsers := map[string]*faultUser{}
	for _, proto := range []string{client.IMAP, client.POP3} {
		readUsers[proto] = newUser(false, 0)
		dripUsers[proto] = newUser(true, 0)
		learnIDs(t, d, readUsers[proto], client.IMAP, client.POP3)
		learnIDs(t, d, dripUsers[proto], client.IMAP, client.POP3)
	}
	userFor := func(op *faultOp, drip bool) *faultUser {
		switch {
		case op.destructive:
			u := newUser(true, 1)
			learnIDs(t, d, u, op.proto)
			return u
		case drip:
			return dripUsers[op.proto]
		}
		return readUsers[op.proto]
	}

	plainPort := map[string]int{client.IMAP: d.IMAPPort, client.POP3: d.POP3Port}
	tlsPort := map[string]int{client.IMAP: d.IMAPSPort, client.POP3: d.POP3SPort}
	// The faulty runs have a short timeout; the others the default, so
	// that a loaded machine does not fail them.
	config := func(proto string, port int, tls bool, timeout time.Duration, user string) string {
		mode := "none"
		if tls {
			mode = "implicit"
		}
		return accountsTOML(tomlAccount{Name: "t", Protocol: proto, Host: "127.0.0.1", Port: port, TLS: mode, CAFile: d.CAFile,
			Username: user, Password: sourcetest.Password, Timeout: timeout.String()})
	}
	takeTarget := func(op *faultOp, u *faultUser) int {
		switch {
		case op.destructive:
			return u.next
		case op.name == "fetch" && u.big >= 0:
			return u.big
		case op.name == "fetch":
			return 0
		}
		return -1
	}
	// The exchange of each op, measured on a clean run through a proxy that counts the bytes.
	exchange := map[*faultOp]int64{}
	dripExchange := map[*faultOp]int64{}
	for _, op := range ops {
		for _, small := range []bool{false, true} {
			u := userFor(op, small)
			cp := sourcetest.StartProxy(t, net.JoinHostPort(d.Host, strconv.Itoa(plainPort[op.proto])))
			c := newCLI(t)
			c.writeConfig(config(op.proto, cp.Port(), false, client.DefaultTimeout, u.name))
			target := takeTarget(op, u)
			c.ok(append([]string{"-a", "t"}, op.args(u.id(op.proto, target))...)...)
			if small {
				dripExchange[op] = cp.Received()
			} else {
				exchange[op] = cp.Received()
			}
		}
		t.Logf("%s %s: %d bytes from the server (drip mailbox: %d)", op.proto, op.name, exchange[op], dripExchange[op])
	}

	// The cases.
	var cases []*faultCase
	for _, op := range ops {
		b := exchange[op]
		add := func(name string, f sourcetest.Fault, tls, drip bool) {
			u := userFor(op, drip)
			fc := &faultCase{name: op.proto + "/" + op.name + "/" + name, op: op, user: u, fault: f, tls: tls, drip: drip, bound: faultTimeout + faultMargin}
			fc.target = takeTarget(op, u)
			if drip {
				// The exchange at the drip rate, with room for the slowest.
				fc.bound = time.Duration(dripExchange[op])*time.Second/dripRate*3/2 + faultMargin
			}
			cases = append(cases, fc)
		}
		// Cuts that must fail the command end before the answer to
		// LOGOUT or QUIT (at most about 70 bytes from Dovecot), which has
		// a case of its own.
		work := b - 100
		for _, n := range []int64{10, 50, 100, 200, 500} {
			if n >= work {
				t.Logf("%s %s: no cut at %d, the exchange is %d bytes", op.proto, op.name, n, b)
				continue
			}
			add(fmt.Sprintf("cut@%d", n), sourcetest.Fault{CutAfter: n}, false, false)
		}
		for _, pct := range []int64{25, 50, 75, 90} {
			n := b * pct / 100
			if n >= work {
				t.Logf("%s %s: no cut at %d%%, the exchange is %d bytes", op.proto, op.name, pct, b)
				continue
			}
			add(fmt.Sprintf("cut@%d%%=%d", pct, n), sourcetest.Fault{CutAfter: n}, false, false)
		}
		add(fmt.Sprintf("cut-in-closing-answer@%d", b-5), sourcetest.Fault{CutAfter: b - 5}, false, false)
		cases[len(cases)-1].closing = true
		add("stall@100", sourcetest.Fault{StallAfter: 100}, false, false)
		add(fmt.Sprintf("stall@50%%=%d", b/2), sourcetest.Fault{StallAfter: b / 2}, false, false)
		add("drip-1KBps", sourcetest.Fault{DripBytesPerSecond: dripRate}, false, true)
		add("tls-reset-handshake", sourcetest.Fault{ResetOnHandshake: true}, true, false)
		add(fmt.Sprintf("tls-cut@%d", b/2), sourcetest.Fault{CutAfter: b / 2}, true, false)
	}

	// Proxies, caches and configs are made here, the runs concurrently.
	for _, fc := range cases {
		port := plainPort[fc.op.proto]
		if fc.tls {
			port = tlsPort[fc.op.proto]
		}
		p := sourcetest.StartFaultyProxy(t, net.JoinHostPort(d.Host, strconv.Itoa(port)), fc.fault)
		fc.c = newCLI(t)
		dir := filepath.Join(fc.c.home, "configs")
		os.MkdirAll(dir, 0o700)
		fc.faultyConfig = filepath.Join(dir, "faulty.toml")
		fc.cleanConfig = filepath.Join(dir, "clean.toml")
		if err := os.WriteFile(fc.faultyConfig, []byte(config(fc.op.proto, p.Port(), fc.tls, faultTimeout, fc.user.name)), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fc.cleanConfig, []byte(config(fc.op.proto, port, fc.tls, client.DefaultTimeout, fc.user.name)), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for _, fc := range cases {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			fc.runCase(d)
		}()
	}
	wg.Wait()
	t.Logf("%d cases ran in %v", len(cases), time.Since(start).Round(time.Millisecond))

	var passed atomic.Int64
	repeated := 0 // failures whose error was printed twice (as a close warning too)
	messages := map[string][]string{}
	t.Run("cases", func(t *testing.T) {
		for _, fc := range cases {
			t.Run(fc.name, func(t *testing.T) {
				fc.evaluate(t, d)
				if !t.Failed() {
					passed.Add(1)
				}
			})
			if strings.Contains(fc.faulty.stderr, "duomail: warning: close connection: ") {
				repeated++
			}
			if fc.faulty.code != 0 {
				line, _ := oneLineError(fc.faulty)
				messages[faultMessageShape(line)] = append(messages[faultMessageShape(line)], fc.name)
			}
		}
	})
	kinds := map[string]time.Duration{}
	for _, fc := range cases {
		kind, _, _ := strings.Cut(fc.name[strings.LastIndex(fc.name, "/")+1:], "@")
		kinds[kind] = max(kinds[kind], fc.elapsed)
	}
	var longest []string
	for kind, d := range kinds {
		longest = append(longest, fmt.Sprintf("%s %v", kind, d.Round(10*time.Millisecond)))
	}
	sort.Strings(longest)
	t.Logf("longest faulty run per kind of fault (timeout %v): %s", faultTimeout, strings.Join(longest, ", "))
	var shapes []string
	for s, names := range messages {
		shapes = append(shapes, fmt.Sprintf("%4d × %s", len(names), s))
	}
	sort.Strings(shapes)
	t.Logf("error messages seen (numbers and ports masked):\n%s", strings.Join(shapes, "\n"))
	t.Logf("FIGURES faults: cases=%d passed=%d close_warning_repeating_the_error=%d", len(cases), passed.Load(), repeated)
}

// runCase runs the faulty command, takes stock of the cache, and runs the
// command again without the fault. It runs on its own goroutine: no t.
func (fc *faultCase) runCase(d *sourcetest.Dovecot) {
	args := append([]string{"--config", fc.faultyConfig, "-a", "t"}, fc.op.args(fc.user.id(fc.op.proto, fc.target))...)
	fc.faulty, fc.elapsed, fc.hung = fc.c.runBounded(fc.bound+30*time.Second, args...)
	fc.afterFault, fc.scanErr = scanMaildir(fc.user.mail, fc.c.cacheMaildir("t", client.Inbox), cacheFormOf(fc.op.proto))
	if fc.op.destructive {
		s, err := scanMaildir(fc.user.mail, d.Maildir(fc.user.name, client.Inbox), formDelivered)
		fc.serverGoneAtFault = err == nil && s.count[fc.target] == 0
	}
	args[1] = fc.cleanConfig
	fc.clean, _, fc.cleanHung = fc.c.runBounded(60*time.Second, args...)
	if fc.scanErr == nil {
		fc.afterClean, fc.scanErr = scanMaildir(fc.user.mail, fc.c.cacheMaildir("t", client.Inbox), cacheFormOf(fc.op.proto))
	}
}

// evaluate checks one case's outcome.
func (fc *faultCase) evaluate(t *testing.T, d *sourcetest.Dovecot) {
	t.Logf("fault run: exit %d after %v: %s", fc.faulty.code, fc.elapsed.Round(time.Millisecond), strings.TrimSpace(fc.faulty.stderr))
	if fc.hung != nil {
		t.Fatalf("fault run %v", fc.hung)
	}
	if fc.elapsed > fc.bound {
		t.Errorf("fault run took %v, more than %v", fc.elapsed, fc.bound)
	}
	if fc.scanErr != nil {
		t.Fatalf("scan cache: %v", fc.scanErr)
	}
	pendingDeletes := fc.op.proto == client.POP3 && fc.op.destructive
	switch {
	case fc.drip:
		if fc.faulty.code != 0 {
			t.Errorf("a 1 KB/s server never makes duomail wait %v for a byte, so the run must complete: %v", faultTimeout, fc.faulty)
		} else {
			fc.verify(t, d, fc.faulty, "drip run")
		}
	case fc.closing && !pendingDeletes:
		// Every command was answered; only the goodbye was lost.
		if fc.faulty.code != 0 {
			t.Errorf("only the answer to LOGOUT/QUIT was lost, after all the work was done: want exit 0: %v", fc.faulty)
		} else if !fc.op.destructive {
			fc.verify(t, d, fc.faulty, "run that lost the closing answer")
		}
	default:
		if fc.closing {
			// POP3 commits DELE at QUIT: whether it did is unknown.
			if line, _ := oneLineError(fc.faulty); !strings.Contains(line, "not confirmed") {
				t.Errorf("the answer to QUIT was lost after DELE, so the deletion is unknown, yet: %q", line)
			}
		}
		if fc.faulty.code != exitNetwork {
			t.Errorf("want exit %d (network): %v", exitNetwork, fc.faulty)
		}
		line, err := oneLineError(fc.faulty)
		if err != nil {
			t.Errorf("stderr: %v", err)
		}
		if !faultExplained(line) {
			t.Errorf("error line does not say what happened to the connection: %q", line)
		}
	}
	checkCacheComplete(t, fc.afterFault, "after the fault")
	if len(fc.afterFault.tmp) != 0 {
		t.Errorf("temporary files left in the cache after the fault: %q", fc.afterFault.tmp)
	}

	// Without the fault, the same command completes.
	if fc.cleanHung != nil {
		t.Fatalf("run without the fault %v", fc.cleanHung)
	}
	switch {
	case fc.clean.code == 0:
	case fc.op.name == "check" && fc.clean.code == 1: // check: exit 1 means "no new mail"
	case fc.op.destructive && fc.serverGoneAtFault && fc.clean.code == exitError &&
		(strings.Contains(fc.clean.stderr, "not found") || strings.Contains(fc.clean.stderr, "no longer on the server")):
		// The faulty run's deletion took effect on the server before the
		// connection broke (the cut hit the answer to the last command);
		// deleting it again rightly finds nothing.
		t.Logf("deleted by the faulty run already; the clean run says: %s", strings.TrimSpace(fc.clean.stderr))
	default:
		t.Fatalf("run without the fault failed: %v", fc.clean)
	}
	if fc.clean.code == 0 || fc.op.name == "check" {
		fc.verify(t, d, fc.clean, "run without the fault")
	}
	checkCacheComplete(t, fc.afterClean, "after the run without the fault")
	if len(fc.afterClean.tmp) != 0 {
		t.Errorf("temporary files left in the cache: %q", fc.afterClean.tmp)
	}
	if fc.op.destructive {
		fc.verifyDeleted(t, d)
	}
}

// verify checks the result of a completed run of the case's command.
func (fc *faultCase) verify(t *testing.T, d *sourcetest.Dovecot, r runResult, when string) {
	t.Helper()
	u := fc.user
	server := serverState(t, u.mail, d, u.name, client.Inbox)
	switch fc.op.name {
	case "list":
		l := jsonOf[listJSON](t, r)
		got := map[string]bool{}
		for _, e := range l.Messages {
			got[e.MessageID] = true
		}
		if len(l.Messages) != len(server.count) || len(got) != len(server.count) {
			t.Errorf("%s: listed %d messages (%d distinct), the server has %d", when, len(l.Messages), len(got), len(server.count))
		}
		for i := range server.count {
			if !got[headerMessageID(u.mail.msgs[i].Raw)] {
				t.Errorf("%s: %q not listed", when, u.mail.msgs[i].Name)
			}
		}
	case "fetch":
		got, ok := u.mail.identify([]byte(r.stdout), cacheFormOf(fc.op.proto))
		if !ok || got != fc.target {
			want := sourcetest.WireForm(u.mail.msgs[fc.target].Raw)
			t.Errorf("%s: fetch --raw gave %d bytes, not the message's %d", when, len(r.stdout), len(want))
		}
	case "sync":
		cache, err := scanMaildir(u.mail, fc.c.cacheMaildir("t", client.Inbox), cacheFormOf(fc.op.proto))
		if err != nil {
			t.Fatal(err)
		}
		for i := range server.count {
			if cache.count[i] != 1 {
				t.Errorf("%s: %q is %d times in the cache", when, u.mail.msgs[i].Name, cache.count[i])
			}
		}
		if len(cache.count) != len(server.count) {
			t.Errorf("%s: cache holds %d messages, the server %d", when, len(cache.count), len(server.count))
		}
	case "check":
		res := jsonOf[struct {
			Checks []client.FolderCheck `json:"checks"`
		}](t, r)
		if len(res.Checks) != 1 || res.Checks[0].Total != len(server.count) {
			t.Errorf("%s: check says %+v, the server has %d messages", when, res.Checks, len(server.count))
		}
	}
}

// verifyDeleted checks a delete case: the target is gone from the server's
// INBOX (and, for IMAP, is in Trash exactly once) and from the cache.
func (fc *faultCase) verifyDeleted(t *testing.T, d *sourcetest.Dovecot) {
	t.Helper()
	u := fc.user
	name := u.mail.msgs[fc.target].Name
	if n := serverState(t, u.mail, d, u.name, client.Inbox).count[fc.target]; n != 0 {
		t.Errorf("%q is still in INBOX on the server", name)
	}
	if fc.op.proto == client.IMAP {
		if n := serverState(t, u.mail, d, u.name, "Trash").count[fc.target]; n != 1 {
			t.Errorf("%q is %d times in Trash, want once", name, n)
		}
	}
	if fc.afterClean.count[fc.target] != 0 {
		t.Errorf("%q is still in the cache", name)
	}
}

// checkCacheComplete requires every file in the cache's cur/ and new/ to
// be a whole message, byte for byte, and none to be there twice.
func checkCacheComplete(t *testing.T, s maildirSnapshot, when string) {
	t.Helper()
	for _, name := range s.unknown {
		t.Errorf("%s: cache file %s is no complete message (starts %q)", when, name, s.raw[name])
	}
	for i, n := range s.count {
		if n > 1 {
			t.Errorf("%s: message %d is %d times in the cache", when, i, n)
		}
	}
}

// faultExplained reports whether an error line says, in words, what
// happened to the connection.
func faultExplained(line string) bool {
	for _, s := range []string{"connection closed", "connection reset", "timed out", "closed by server", "TLS"} {
		if strings.Contains(line, s) {
			return true
		}
	}
	return false
}

// faultMessageShape masks numbers, so that messages differing only in a
// port, a UID or a byte count are counted together.
func faultMessageShape(line string) string {
	var b strings.Builder
	digits := false
	for _, r := range line {
		if r >= '0' && r <= '9' {
			if !digits {
				b.WriteByte('N')
			}
			digits = true
			continue
		}
		digits = false
		b.WriteRune(r)
	}
	return b.String()
}

// learnIDs lists a user's mail once (headers only) to learn the IDs the
// commands of the given protocols take.
func learnIDs(t *testing.T, d *sourcetest.Dovecot, u *faultUser, protos ...string) {
	t.Helper()
	c := newCLI(t)
	c.writeConfig(accountsTOML(
		tomlAccount{Name: "probe", Protocol: "imap", Host: d.Host, Port: d.IMAPPort, TLS: "none", Username: u.name, Password: sourcetest.Password},
		tomlAccount{Name: "pprobe", Protocol: "pop3", Host: d.Host, Port: d.POP3Port, TLS: "none", Username: u.name, Password: sourcetest.Password}))
	byMsgID := map[string]int{}
	for i, m := range u.mail.msgs {
		byMsgID[headerMessageID(m.Raw)] = i
	}
	for _, proto := range protos {
		acct := map[string]string{client.IMAP: "probe", client.POP3: "pprobe"}[proto]
		args := []string{"-a", acct, "list", "--json", "--limit", "0"}
		if proto == client.POP3 {
			args = append(args, "--headers-only")
		}
		for _, e := range jsonOf[listJSON](t, c.ok(args...)).Messages {
			i, ok := byMsgID[e.MessageID]
			if !ok {
				t.Fatalf("listed %q, which was not delivered", e.MessageID)
			}
			u.ids[proto][i] = e.ID
		}
		if len(u.ids[proto]) != len(u.mail.msgs) {
			t.Fatalf("learnt %d %s IDs for %d messages", len(u.ids[proto]), proto, len(u.mail.msgs))
		}
	}
}

// id returns the ID of a corpus message for a protocol's commands ("" for
// index -1: the op acts on no message).
func (u *faultUser) id(proto string, i int) string {
	if i < 0 {
		return ""
	}
	return u.ids[proto][i]
}

// execOutput runs a command and returns its standard output.
func execOutput(bin string, args ...string) (string, error) {
	out, err := exec.Command(bin, args...).Output()
	return string(out), err
}
