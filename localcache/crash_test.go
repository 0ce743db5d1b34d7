package localcache

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

const crashChildEnv = "DUOMAIL_LOCALCACHE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

var errCrash = errors.New("simulated crash")

// crashAt makes the next Commit stop at stage as if the process died there.
func crashAt(t *testing.T, stage string) {
	seen := false
	commitHook = func(s string) error {
		if s == stage {
			seen = true
			return errCrash
		}
		return nil
	}
	t.Cleanup(func() {
		commitHook = nil
		if !seen {
			t.Errorf("Commit never reached stage %q", stage)
		}
	})
}

func TestCrashPoints(t *testing.T) {
	stages := []string{"data-synced", "renamed", "names-synced", "before-index-commit"}
	variants := []struct {
		name        string
		folder      string
		uidValidity uint32
		flags       []client.Flag
		headersOnly bool // envelopes were listed (and flagged locally) before the download
	}{
		{"pop3", client.Inbox, 0, nil, false},
		{"pop3-headers-first", client.Inbox, 0, nil, true},
		{"imap-flags", "Archive", 99, []client.Flag{client.FlagSeen, client.FlagFlagged}, false},
	}
	for _, stage := range stages {
		for _, v := range variants {
			for _, d := range []Durability{DurabilityFsync, DurabilitySyncfs} {
				t.Run(stage+"/"+v.name+"/"+d.String(), func(t *testing.T) {
					dir := t.TempDir()
					c, err := OpenWithOptions(dir, Options{Durability: d})
					if err != nil {
						t.Fatal(err)
					}
					ctx := context.Background()
					var ids []string
					for i := range 5 {
						ids = append(ids, fmt.Sprint(100+i))
					}
					raw := func(id string) []byte { return testMessage(id, 2000+100*len(id)) }
					store(t, c, v.folder, v.uidValidity, v.flags, []string{"1"}, raw)
					if v.headersOnly {
						var envs []client.Envelope
						for _, id := range ids {
							envs = append(envs, client.Envelope{ID: id, Subject: "from TOP"})
						}
						if err := c.PutEnvelopes(ctx, v.folder, envs); err != nil {
							t.Fatal(err)
						}
						if err := c.ChangeFlags(ctx, v.folder, ids[:1], client.FlagAdd, []client.Flag{client.FlagFlagged}); err != nil {
							t.Fatal(err)
						}
					}
					b, err := c.NewBatch(ctx, v.folder)
					if err != nil {
						t.Fatal(err)
					}
					for _, id := range ids {
						if err := b.Add(ctx, id, v.uidValidity, v.flags, bytes.NewReader(raw(id))); err != nil {
							t.Fatal(err)
						}
					}
					crashAt(t, stage)
					if _, err := b.Commit(ctx); !errors.Is(err, errCrash) {
						t.Fatalf("Commit = %v, want the simulated crash", err)
					}
					commitHook = nil
					c.Close() // the transaction dies with the process

					c = openCache(t, dir)
					e := entries(t, c, v.folder)
					all := append([]string{"1"}, ids...)
					if stage == "data-synced" {
						// Nothing was renamed: the server copies are still
						// needed, and only the temporary files were junk.
						checkOneCopy(t, c, v.folder, v.uidValidity, all[:1])
						for _, id := range ids {
							if e[id].HasBody {
								t.Errorf("%s: has a body after a crash before any rename", id)
							}
						}
					} else {
						checkOneCopy(t, c, v.folder, v.uidValidity, all)
						for _, id := range ids {
							got := e[id]
							if !got.HasBody || !got.OnServer || got.Downloaded.IsZero() || got.Size != int64(len(raw(id))) {
								t.Errorf("%s: entry %+v after recovery", id, got)
							}
							if body := readBody(t, c, v.folder, id); !bytes.Equal(body, raw(id)) {
								t.Errorf("%s: body differs after recovery", id)
							}
						}
						wantFlags := v.flags
						if v.headersOnly {
							wantFlags = []client.Flag{client.FlagFlagged}
						}
						if got := e[ids[0]].Flags; !sameFlags(got, wantFlags) {
							t.Errorf("flags after recovery = %v, want %v", got, wantFlags)
						}
						var subjects []string
						c.List(ctx, v.folder, client.ListOptions{}, func(env client.Envelope) error {
							subjects = append(subjects, env.Subject)
							return nil
						})
						want := []string{"message 104", "message 103", "message 102", "message 101", "message 100", "message 1"}
						if !slices.Equal(subjects, want) {
							t.Errorf("List after recovery = %q, want %q", subjects, want)
						}
					}
					// The sync downloads again what it cannot find; still one copy.
					store(t, c, v.folder, v.uidValidity, v.flags, ids, raw)
					checkOneCopy(t, c, v.folder, v.uidValidity, all)
					if n := len(entries(t, c, v.folder)); n != len(all) {
						t.Errorf("%d entries, want %d", n, len(all))
					}
				})
			}
		}
	}
}

func sameFlags(a, b []client.Flag) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// TestRecoverJunk covers what recovery must clean up beyond an interrupted
// Commit, and what it must leave alone.
func TestRecoverJunk(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir)
	ctx := context.Background()
	raw := func(id string) []byte { return testMessage(id, 1500) }
	store(t, c, client.Inbox, 0, nil, []string{"a", "b"}, raw)
	store(t, c, "Work", 7, []client.Flag{client.FlagSeen}, []string{"1", "2"}, raw)
	if err := c.MarkOffServer(ctx, client.Inbox, []string{"b"}); err != nil {
		t.Fatal(err)
	}
	c.Close()

	inbox := filepath.Join(dir, "INBOX")
	work := filepath.Join(dir, "Work")
	write := func(path string, data []byte) {
		t.Helper()
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	// A half-written temporary file of a crashed Add.
	write(filepath.Join(inbox, "tmp", fileKey(0, "c")), raw("c")[:100])
	// Other programs' files: not ours to touch.
	foreignTmp := filepath.Join(inbox, "tmp", "1700000000.M1P2.host")
	foreignCur := filepath.Join(inbox, "cur", "1700000000.M3P4.host:2,S")
	write(foreignTmp, []byte("x"))
	write(foreignCur, testMessage("foreign", 100))
	// A second copy of "a" (e.g. another tool copied it); the one the
	// index knows is kept.
	data, _ := os.ReadFile(filepath.Join(inbox, "new", fileKey(0, "a")))
	write(filepath.Join(inbox, "cur", fileKey(0, "a")+":2,S"), data)
	// "b" (off the server) and "1" were deleted by another tool.
	os.Remove(filepath.Join(inbox, "new", fileKey(0, "b")))
	os.Remove(filepath.Join(work, "cur", fileKey(7, "1")+":2,S"))
	// A copy from before a Reset that was interrupted: stale.
	write(filepath.Join(work, "new", fileKey(6, "1")), raw("old"))
	// A POP3-keyed file in an IMAP folder: never deleted, not adopted.
	write(filepath.Join(work, "new", fileKey(0, "p")), raw("p"))

	c = openCache(t, dir)
	files := maildirFiles(t, c, client.Inbox)
	want := []string{"cur/1700000000.M3P4.host:2,S", "new/" + fileKey(0, "a"), "tmp/1700000000.M1P2.host"}
	if !slices.Equal(files, want) {
		t.Errorf("INBOX files = %q, want %q", files, want)
	}
	// "b" stays, marked lost, until a sync has told the user.
	e := entries(t, c, client.Inbox)
	if len(e) != 2 || !e["a"].HasBody || !bytes.Equal(readBody(t, c, client.Inbox, "a"), raw("a")) || !e["b"].Lost || e["b"].HasBody {
		t.Errorf("INBOX entries = %+v", e)
	}
	// A file deleted from Work changed its cur/, so Open compared it too.
	if e := entries(t, c, "Work"); e["1"].HasBody {
		t.Errorf("Open missed a removal in Work: %+v", e)
	}
	unlock, err := c.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	e = entries(t, c, "Work")
	if len(e) != 2 || e["1"].HasBody || !e["1"].OnServer || !e["2"].HasBody {
		t.Errorf("Work entries = %+v", e)
	}
	files = maildirFiles(t, c, "Work")
	want = []string{"cur/" + fileKey(7, "2") + ":2,S", "new/" + fileKey(0, "p")}
	if !slices.Equal(files, want) {
		t.Errorf("Work files = %q, want %q", files, want)
	}
}

// TestRecoverLostIndex rebuilds the index from the Maildirs alone.
func TestRecoverLostIndex(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir)
	raw := func(id string) []byte { return testMessage(id, 700) }
	store(t, c, client.Inbox, 0, nil, []string{"u1", "u2"}, raw)
	store(t, c, "Lists/Go", 1234, []client.Flag{client.FlagSeen, client.FlagAnswered}, []string{"8", "9"}, raw)
	c.Close()
	for _, f := range []string{indexName, indexName + "-wal", indexName + "-shm"} {
		os.Remove(filepath.Join(dir, f))
	}
	c = openCache(t, dir)
	if e := entries(t, c, client.Inbox); len(e) != 2 || !e["u1"].HasBody || !e["u2"].HasBody {
		t.Errorf("INBOX entries = %+v", e)
	}
	e := entries(t, c, "Lists/Go")
	if len(e) != 2 || !sameFlags(e["8"].Flags, []client.Flag{client.FlagSeen, client.FlagAnswered}) {
		t.Errorf("Lists/Go entries = %+v", e)
	}
	if st, _ := c.State(context.Background(), "Lists/Go"); st.UIDValidity != 1234 {
		t.Errorf("UIDVALIDITY after rebuild = %d", st.UIDValidity)
	}
	if got := listIDs(t, c, "Lists/Go", client.ListOptions{}); !slices.Equal(got, []string{"9", "8"}) {
		t.Errorf("List = %v", got)
	}
	if !bytes.Equal(readBody(t, c, "Lists/Go", "9"), raw("9")) {
		t.Error("body differs")
	}
}

// TestRecoveryWaitsForLock: Open does not touch temporary files while
// another process holds the sync lock (its Batch may be writing them);
// Lock recovers once it has the lock.
func TestRecoveryWaitsForLock(t *testing.T) {
	dir := t.TempDir()
	c1 := openCache(t, dir)
	ctx := context.Background()
	unlock, err := c1.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := c1.NewBatch(ctx, client.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(ctx, "m", 0, nil, bytes.NewReader(testMessage("m", 100))); err != nil {
		t.Fatal(err)
	}
	c2 := openCache(t, dir)
	if _, err := b.Commit(ctx); err != nil {
		t.Fatalf("Commit after another Open: %v", err)
	}
	unlock()
	// Leftovers of a crashed holder are removed by the next Lock.
	junk := filepath.Join(c2.MaildirPath(client.Inbox), "tmp", fileKey(0, "junk"))
	os.WriteFile(junk, []byte("partial"), 0o600)
	u2, err := c2.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer u2()
	if _, err := os.Stat(junk); !os.IsNotExist(err) {
		t.Errorf("temporary junk survived Lock: %v", err)
	}
	checkOneCopy(t, c2, client.Inbox, 0, []string{"m"})
}

// killMessage is the message the crash child "downloads" for id.
func killMessage(id string) []byte {
	h := fnv.New32a()
	h.Write([]byte(id))
	return testMessage(id, 500+int(h.Sum32()%40000))
}

const killMessages = 500

// crashChild plays a POP3 sync that is SIGKILLed at a random moment: it
// stores, in batches, every message the cache has no body for, and reports
// each batch once Commit has returned.
func crashChild(dir string) int {
	d, _ := ParseDurability(os.Getenv("DUOMAIL_LOCALCACHE_DURABILITY"))
	c, err := OpenWithOptions(dir, Options{Durability: d})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	ctx := context.Background()
	unlock, err := c.Lock(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	defer unlock()
	for {
		e, err := c.Entries(ctx, client.Inbox)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		var todo []string
		for _, id := range ids("k", killMessages) {
			if !e[id].HasBody {
				todo = append(todo, id)
			}
		}
		if len(todo) == 0 {
			fmt.Println("done")
			return 0
		}
		todo = todo[:min(len(todo), 7)]
		b, err := c.NewBatch(ctx, client.Inbox)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		for _, id := range todo {
			if err := b.Add(ctx, id, 0, nil, bytes.NewReader(killMessage(id))); err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
		}
		if _, err := b.Commit(ctx); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Println("committed " + strings.Join(todo, " ")) // os.Stdout is unbuffered
	}
}

// runChild starts the crash child and kills it after killAfter (never, if
// 0). It returns the IDs the child reported committed and whether it
// finished.
func runChild(t *testing.T, dir string, d Durability, killAfter time.Duration) (committed []string, done bool) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChildEnv+"="+dir, "DUOMAIL_LOCALCACHE_DURABILITY="+d.String())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if line == "done" {
				done = true
			} else if rest, ok := strings.CutPrefix(line, "committed "); ok {
				committed = append(committed, strings.Fields(rest)...)
			}
		}
	}()
	if killAfter > 0 {
		timer := time.AfterFunc(killAfter, func() { cmd.Process.Signal(syscall.SIGKILL) })
		defer timer.Stop()
	}
	wg.Wait()
	err = cmd.Wait()
	if killAfter == 0 && err != nil || stderr.Len() > 0 {
		t.Fatalf("child: %v: %s", err, stderr.String())
	}
	return committed, done
}

// TestCrashKill SIGKILLs a process in a loop while it commits batches and
// checks after each kill that every message whose Commit returned is
// stored, byte-exact, exactly once, with no temporary junk.
func TestCrashKill(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary many times")
	}
	dir := t.TempDir()
	// Another process's view while the child writes and dies: everything
	// listed opens, byte-exact; the count never goes down.
	reader := openCache(t, dir)
	readWhile := func(run func()) {
		stop := make(chan struct{})
		finished := make(chan struct{})
		go func() {
			defer close(finished)
			last := 0
			for {
				select {
				case <-stop:
					return
				default:
				}
				var listed []string
				if err := reader.List(context.Background(), client.Inbox, client.ListOptions{}, func(e client.Envelope) error {
					listed = append(listed, e.ID)
					return nil
				}); err != nil {
					t.Errorf("concurrent List: %v", err)
					return
				}
				if len(listed) < last {
					t.Errorf("concurrent List saw %d messages after %d", len(listed), last)
				}
				last = len(listed)
				for _, id := range listed {
					rc, err := reader.Open(context.Background(), client.Inbox, id)
					if err != nil {
						t.Errorf("concurrent Open %s: %v", id, err)
						return
					}
					data, err := io.ReadAll(rc)
					rc.Close()
					if err != nil || !bytes.Equal(data, killMessage(id)) {
						t.Errorf("concurrent Open %s: %d bytes, %v", id, len(data), err)
						return
					}
				}
			}
		}()
		run()
		close(stop)
		<-finished
	}
	var committed []string
	rng := rand.New(rand.NewPCG(1, 2))
	kills := 0
	for round := 0; round < 30; round++ {
		d := []Durability{DurabilityFsync, DurabilitySyncfs}[round%2]
		var got []string
		var done bool
		readWhile(func() { got, done = runChild(t, dir, d, time.Duration(5+rng.IntN(60))*time.Millisecond) })
		committed = append(committed, got...)
		if done {
			break
		}
		kills++
		verifyKilled(t, dir, committed)
		if t.Failed() {
			t.Fatalf("after kill %d", kills)
		}
	}
	if _, done := runChild(t, dir, DurabilityDefault, 0); !done {
		t.Fatal("child did not finish")
	}
	verifyKilled(t, dir, ids("k", killMessages))
	t.Logf("%d kills, %d messages committed before a kill", kills, len(committed))
}

func verifyKilled(t *testing.T, dir string, committed []string) {
	t.Helper()
	c, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	e := entries(t, c, client.Inbox)
	var withBody []string
	for id, entry := range e {
		if entry.HasBody {
			withBody = append(withBody, id)
		}
	}
	checkOneCopy(t, c, client.Inbox, 0, withBody)
	for _, id := range committed {
		if !e[id].HasBody {
			t.Errorf("%s: committed but not stored", id)
			continue
		}
		if body := readBody(t, c, client.Inbox, id); !bytes.Equal(body, killMessage(id)) {
			t.Errorf("%s: body differs", id)
		}
	}
	for _, id := range withBody {
		if e[id].Size != int64(len(killMessage(id))) {
			t.Errorf("%s: size %d", id, e[id].Size)
		}
	}
}

// TestRecoveryFailure: a file recovery cannot read does not keep Open from
// working; Lock reports it.
func TestRecoveryFailure(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir)
	store(t, c, client.Inbox, 0, nil, []string{"a"}, func(id string) []byte { return testMessage(id, 100) })
	c.Close()
	// An orphan that cannot be read (a directory with a message's name:
	// file modes would not stop root), plus the marker of an interrupted
	// Commit.
	if err := os.Mkdir(filepath.Join(dir, "INBOX", "new", fileKey(0, "b")), 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "INBOX", "tmp", keyPrefix+"commit-1-1"), nil, 0o600)
	c = openCache(t, dir)
	if got := listIDs(t, c, client.Inbox, client.ListOptions{}); !slices.Equal(got, []string{"a"}) {
		t.Errorf("List = %v", got)
	}
	if _, err := c.Lock(context.Background()); err == nil {
		t.Error("Lock succeeded although recovery cannot read a file")
	}
}

// A lock holder that stops without unlocking (killed) leaves a marker, and
// only then does the next Lock, or the next Open, compare every Maildir
// with the index; a clean start trusts the directories' recorded times.
func TestFullRecoveryOnlyAfterUncleanStop(t *testing.T) {
	for _, via := range []string{"lock", "open"} {
		t.Run(via, func(t *testing.T) {
			dir := t.TempDir()
			c := openCache(t, dir)
			ctx := context.Background()
			store(t, c, client.Inbox, 7, nil, []string{"1", "2"}, func(id string) []byte { return testMessage(id, 1500) })
			inbox := filepath.Join(dir, "INBOX")
			files := maildirFiles(t, c, client.Inbox)
			// A body removed behind the index's back, its directories
			// made to look as already compared: only a full comparison
			// notices.
			if err := os.Remove(filepath.Join(inbox, files[0])); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-time.Hour)
			for _, sub := range []string{"cur", "new"} {
				if err := os.Chtimes(filepath.Join(inbox, sub), old, old); err != nil {
					t.Fatal(err)
				}
			}
			st, err := readStamp(inbox)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.db.Exec(`UPDATE folders SET cur_mtime = ?, new_mtime = ? WHERE name = ?`, st.cur, st.new, client.Inbox); err != nil {
				t.Fatal(err)
			}
			withBody := func() int {
				n := 0
				for _, e := range entries(t, c, client.Inbox) {
					if e.HasBody {
						n++
					}
				}
				return n
			}
			marker := filepath.Join(dir, uncleanName)
			unlock, err := c.Lock(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(marker); err != nil {
				t.Errorf("no marker while the lock is held: %v", err)
			}
			unlock()
			if _, err := os.Stat(marker); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("marker left after unlock: %v", err)
			}
			if n := withBody(); n != 2 {
				t.Fatalf("a clean Lock compared the whole folder (%d bodies left)", n)
			}
			// As a killed holder leaves it.
			if err := os.WriteFile(marker, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			switch via {
			case "lock":
				unlock, err := c.Lock(ctx)
				if err != nil {
					t.Fatal(err)
				}
				unlock()
			case "open":
				c.Close()
				c = openCache(t, dir)
			}
			if n := withBody(); n != 1 {
				t.Errorf("after an unclean stop, %s did not repair (%d bodies, want 1)", via, n)
			}
			if _, err := os.Stat(marker); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("marker left after the repair: %v", err)
			}
		})
	}
}
