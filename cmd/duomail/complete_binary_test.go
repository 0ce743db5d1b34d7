package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/query"
	"github.com/duomail/duomail/client/termtext"
	"github.com/spf13/cobra"
)

// completion is what "duomail __complete ..." answered: the candidates
// (value and description) and cobra's directive.
type completion struct {
	values    []string
	descs     []string
	directive int
	r         runResult
}

func (c completion) String() string { return c.r.String() }

func (c *cli) complete(args ...string) completion {
	c.t.Helper()
	binary(c.t) // built before the clock starts
	start := time.Now()
	r := c.run(append([]string{"__complete"}, args...)...)
	if took := time.Since(start); took > 3*time.Second {
		c.t.Errorf("completion took %v: a Tab must answer at once", took)
	}
	if r.code != 0 {
		c.t.Fatalf("completion failed: %v", r)
	}
	// Nothing but cobra's own closing line may reach stderr.
	for _, l := range strings.Split(strings.TrimSpace(r.stderr), "\n") {
		if l != "" && !strings.HasPrefix(l, "Completion ended with directive:") {
			c.t.Errorf("completion printed %q on stderr: %v", l, r)
		}
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	last := lines[len(lines)-1]
	if !strings.HasPrefix(last, ":") {
		c.t.Fatalf("no directive line: %v", r)
	}
	out := completion{r: r}
	out.directive, _ = strconv.Atoi(last[1:])
	for _, l := range lines[:len(lines)-1] {
		v, d, _ := strings.Cut(l, "\t")
		out.values = append(out.values, v)
		out.descs = append(out.descs, d)
	}
	return out
}

const (
	dirNoSpace   = 2
	dirNoFiles   = 4
	dirKeepOrder = 32
)

// countingListener accepts connections and counts them: a completion
// pointed at it must never connect.
func countingListener(t *testing.T) (port int, accepted *atomic.Int32) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	accepted = new(atomic.Int32)
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			conn.Close()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, accepted
}

// Completion offers the user's accounts, folders, messages (with their
// subjects) and flag names, from the configuration and the local cache
// alone: the servers that filled the cache are replaced by a listener
// that counts connections, and the password command by one that leaves
// a mark, and neither is ever touched.
func TestBinaryCompletionOffersAccountsFoldersAndMessagesFromTheCache(t *testing.T) {
	t.Parallel()
	imapSrv, idx := startIMAPTest(t)
	popSrv, _, _ := startPOP3Test(t)
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	c.writeConfig(accountsTOML(
		tomlAccount{Name: "work", Protocol: "imap", Host: "127.0.0.1", Port: imapSrv.Port(), TLS: "none", Username: "alice"},
		tomlAccount{Name: "home", Protocol: "pop3", Host: "127.0.0.1", Port: popSrv.Port(), TLS: "none", Username: "alice"},
	))
	c.ok("-a", "work", "list", "--limit", "0")
	c.ok("-a", "work", "list", "--limit", "0", "-f", "Archive")
	c.ok("-a", "home", "list", "--limit", "0")

	// What list shows offline is what completion must offer.
	workInbox := jsonOf[listJSON](t, c.ok("-a", "work", "list", "--offline", "--limit", "0", "--json"))
	workArchive := jsonOf[listJSON](t, c.ok("-a", "work", "list", "--offline", "--limit", "0", "-f", "Archive", "--json"))
	homeInbox := jsonOf[listJSON](t, c.ok("-a", "home", "list", "--offline", "--limit", "0", "--json"))
	if len(workInbox.Messages) != len(idx.inFolder(client.Inbox)) || len(workArchive.Messages) != len(idx.inFolder("Archive")) || len(homeInbox.Messages) == 0 {
		t.Fatalf("caches not filled: %d, %d, %d messages", len(workInbox.Messages), len(workArchive.Messages), len(homeInbox.Messages))
	}

	// From here on no server may be reached and no password looked up.
	port, accepted := countingListener(t)
	mark := filepath.Join(c.home, "password-cmd-ran")
	c.writeConfig(accountsTOML(
		tomlAccount{Name: "work", Protocol: "imap", Host: "127.0.0.1", Port: port, TLS: "none", Username: "alice", PasswordCmd: "touch " + mark},
		tomlAccount{Name: "home", Protocol: "pop3", Host: "127.0.0.1", Port: port, TLS: "none", Username: "alice", PasswordCmd: "touch " + mark},
	))
	delete(c.env, "DUOMAIL_PASSWORD")
	t.Cleanup(func() {
		if n := accepted.Load(); n != 0 {
			t.Errorf("completion connected to the server %d times", n)
		}
		if _, err := os.Stat(mark); err == nil {
			t.Error("completion ran password_cmd")
		}
	})

	wantMessages := func(t *testing.T, got completion, l listJSON, skip ...string) {
		t.Helper()
		var ids, subjects []string
		for _, e := range l.Messages {
			if slices.Contains(skip, e.ID) {
				continue
			}
			ids = append(ids, e.ID)
			// Cleaned of terminal control sequences, as list shows it.
			s := strings.Join(strings.Fields(termtext.Field(e.Subject)), " ")
			if s == "" {
				s = "(no subject)"
			}
			subjects = append(subjects, s)
		}
		if !slices.Equal(got.values, ids) {
			t.Errorf("IDs %q, want %q (newest first, as list)", got.values, ids)
		}
		for _, d := range got.descs {
			if strings.ContainsAny(d, "\x1b\a\t\n") {
				t.Errorf("description %q carries control characters", d)
			}
		}
		if !slices.Equal(got.descs, subjects) {
			t.Errorf("descriptions %q, want the subjects %q", got.descs, subjects)
		}
		if got.directive != dirNoFiles|dirKeepOrder {
			t.Errorf("directive %d, want no files, keep order", got.directive)
		}
	}

	t.Run("account names with protocol and host", func(t *testing.T) {
		got := c.complete("-a", "")
		if !slices.Equal(got.values, []string{"home", "work"}) || !slices.Equal(got.descs, []string{"pop3 127.0.0.1", "imap 127.0.0.1"}) {
			t.Errorf("-a: %v", got)
		}
		if got.directive != dirNoFiles {
			t.Errorf("directive %d", got.directive)
		}
		if got := c.complete("list", "--account", "w"); !slices.Equal(got.values, []string{"work"}) {
			t.Errorf("--account w: %q", got.values)
		}
	})
	t.Run("compare takes two different accounts", func(t *testing.T) {
		if got := c.complete("compare", ""); !slices.Equal(got.values, []string{"home", "work"}) {
			t.Errorf("compare first: %q", got.values)
		}
		if got := c.complete("compare", "home", ""); !slices.Equal(got.values, []string{"work"}) {
			t.Errorf("compare second: %q", got.values)
		}
		if got := c.complete("compare", "home", "work", ""); len(got.values) != 0 {
			t.Errorf("compare third: %q", got.values)
		}
	})
	t.Run("folders from the cache", func(t *testing.T) {
		got := c.complete("-a", "work", "list", "-f", "")
		if !slices.Equal(got.values, []string{"Archive", "INBOX"}) {
			t.Errorf("-f: %v", got)
		}
		if got := c.complete("-a", "work", "sync", "--folder", "ar"); !slices.Equal(got.values, []string{"Archive"}) {
			t.Errorf("--folder ar: %q", got.values)
		}
		// move's destination is any folder but the one the messages are in.
		if got := c.complete("-a", "work", "move", workInbox.Messages[0].ID, "--to", ""); !slices.Equal(got.values, []string{"Archive"}) {
			t.Errorf("move --to: %q", got.values)
		}
		if got := c.complete("-a", "work", "move", "-f", "Archive", "1", "--to", ""); !slices.Equal(got.values, []string{"INBOX"}) {
			t.Errorf("move -f Archive --to: %q", got.values)
		}
	})
	t.Run("message IDs with subjects", func(t *testing.T) {
		wantMessages(t, c.complete("-a", "work", "fetch", ""), workInbox)
		wantMessages(t, c.complete("-a", "work", "fetch", "-f", "Archive", ""), workArchive)
		wantMessages(t, c.complete("-a", "home", "fetch", ""), homeInbox)
		// Without -a, DUOMAIL_ACCOUNT picks the account, as for the command.
		c.env["DUOMAIL_ACCOUNT"] = "home"
		wantMessages(t, c.complete("flag", ""), homeInbox)
		delete(c.env, "DUOMAIL_ACCOUNT")
		// IDs already given are not offered again; fetch takes one.
		first := workInbox.Messages[0].ID
		wantMessages(t, c.complete("-a", "work", "delete", first, ""), workInbox, first)
		wantMessages(t, c.complete("-a", "work", "move", first, ""), workInbox, first)
		if got := c.complete("-a", "work", "fetch", first, ""); len(got.values) != 0 {
			t.Errorf("fetch's second argument: %q", got.values)
		}
		// A prefix narrows the candidates.
		got := c.complete("-a", "work", "fetch", first[:1])
		if len(got.values) == 0 || !slices.Contains(got.values, first) {
			t.Errorf("prefix %q: %q", first[:1], got.values)
		}
		for _, v := range got.values {
			if !strings.HasPrefix(v, first[:1]) {
				t.Errorf("prefix %q offered %q", first[:1], v)
			}
		}
	})
	t.Run("flag names, one element of a list at a time", func(t *testing.T) {
		got := c.complete("-a", "work", "flag", "1", "--add", "")
		if !slices.Equal(got.values, []string{"seen", "flagged", "answered", "draft"}) {
			t.Errorf("--add: %v", got)
		}
		if got := c.complete("-a", "work", "flag", "1", "--remove", "seen,"); !slices.Equal(got.values, []string{"seen,flagged", "seen,answered", "seen,draft"}) {
			t.Errorf("--remove seen,: %q", got.values)
		}
	})
	t.Run("commands without arguments offer no file names", func(t *testing.T) {
		for _, cmd := range []string{"list", "folders", "accounts", "sync", "check", "watch"} {
			if got := c.complete("-a", "work", cmd, ""); len(got.values) != 0 || got.directive != dirNoFiles {
				t.Errorf("%s: %v", cmd, got)
			}
		}
	})
}

// With no configuration, or a configuration but no cache yet, or a
// broken configuration, completion answers at once with nothing (and no
// file names), says nothing, and leaves nothing behind.
func TestBinaryCompletionIsSilentWithoutConfigOrCache(t *testing.T) {
	t.Parallel()
	port, accepted := countingListener(t)

	fresh := newCLI(t)
	for _, args := range [][]string{
		{"-a", ""},
		{"fetch", ""},
		{"-a", "work", "list", "-f", ""},
		{"compare", ""},
	} {
		got := fresh.complete(args...)
		want := []string{}
		if slices.Contains(args, "-f") {
			want = []string{"INBOX"} // there on both protocols, cache or not
		}
		if !slices.Equal(got.values, want) && !(len(want) == 0 && len(got.values) == 0) {
			t.Errorf("no config, %q: %v", args, got)
		}
		if got.directive&dirNoFiles == 0 {
			t.Errorf("no config, %q: file names offered: %v", args, got)
		}
	}

	configured := newCLI(t)
	mark := filepath.Join(configured.home, "password-cmd-ran")
	configured.writeConfig(accountsTOML(tomlAccount{Name: "work", Protocol: "imap", Host: "127.0.0.1", Port: port, TLS: "none", Username: "alice", PasswordCmd: "touch " + mark}))
	if got := configured.complete("-a", ""); !slices.Equal(got.values, []string{"work"}) {
		t.Errorf("accounts without a cache: %v", got)
	}
	for _, args := range [][]string{{"fetch", ""}, {"-a", "work", "delete", ""}, {"flag", "--add", "s"}} {
		got := configured.complete(args...)
		if args[0] == "flag" {
			if !slices.Equal(got.values, []string{"seen"}) {
				t.Errorf("flag names need no cache: %v", got)
			}
			continue
		}
		if len(got.values) != 0 {
			t.Errorf("no cache, %q: %v", args, got)
		}
	}
	if _, err := os.Stat(configured.data); err == nil {
		t.Errorf("completion created %s", configured.data)
	}
	if _, err := os.Stat(mark); err == nil {
		t.Error("completion ran password_cmd")
	}
	if n := accepted.Load(); n != 0 {
		t.Errorf("completion connected %d times", n)
	}

	broken := newCLI(t)
	broken.writeConfig("[accounts.work\nprotocol = ")
	if got := broken.complete("-a", ""); len(got.values) != 0 {
		t.Errorf("broken config: %v", got)
	}
}

// The search language's keys complete, and a key that takes a value
// leaves the cursor after its colon.
func TestSearchQueryCompletion(t *testing.T) {
	keysOf := func(got []string) []string {
		var keys []string
		for _, g := range got {
			k, _, _ := strings.Cut(g, "\t")
			keys = append(keys, k)
		}
		return keys
	}
	got, dir := completeSearchQuery(nil, nil, "is:")
	var want []string
	for _, v := range query.IsValues {
		want = append(want, "is:"+v)
	}
	if keys := keysOf(got); !slices.Equal(keys, want) || dir&dirNoSpace != 0 || !slices.Contains(keys, "is:unread") {
		t.Errorf("is: %q, want %q; directive %d", keys, want, dir)
	}
	got, dir = completeSearchQuery(nil, nil, "-fr")
	if len(got) != 1 || !strings.HasPrefix(got[0], "-from:\t") || dir&dirNoSpace == 0 {
		t.Errorf("-fr: %q, directive %d", got, dir)
	}
	// Every key of the language is offered, and each is one the parser takes.
	all, _ := completeSearchQuery(nil, nil, "")
	for _, k := range query.Keys {
		if !slices.ContainsFunc(keysOf(all), func(c string) bool { return strings.HasPrefix(c, k+":") }) {
			t.Errorf("key %s: not offered", k)
		}
	}
	for _, k := range keysOf(all) {
		term := k
		switch {
		case strings.HasSuffix(k, ":"):
			term = k + map[string]string{"after:": "2026-03-01", "since:": "7d", "before:": "today", "date:": "2026-03-01..2026-03-31", "larger:": "500k", "smaller:": "2M"}[k]
			if strings.HasSuffix(term, ":") {
				term += "word"
			}
		case k == "OR":
			term = "a OR b"
		case k == "NOT":
			term = "NOT a"
		}
		if _, err := query.Parse(term, time.Now(), time.UTC); err != nil {
			t.Errorf("offered %q, which the parser refuses: %v", k, err)
		}
		if searchKeyHelp[k] == "" {
			t.Errorf("%q has no description", k)
		}
	}
}

// The generated scripts of every shell call back into duomail, and bash,
// loading its script as a user's ~/.bashrc would, completes an account.
func TestBinaryCompletionScripts(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.writeConfig(accountsTOML(
		tomlAccount{Name: "work", Protocol: "imap", Host: "imap.example.com", Username: "u"},
		tomlAccount{Name: "home", Protocol: "pop3", Host: "pop.example.com", Username: "u"},
	))
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := c.ok("completion", shell)
		if !strings.Contains(r.stdout, "__complete") || !strings.Contains(r.stdout, "duomail") {
			t.Errorf("%s script does not call duomail __complete:\n%.300s", shell, r.stdout)
		}
	}

	// The shells find duomail on PATH, as an installed one.
	path := filepath.Dir(binary(t)) + string(os.PathListSeparator) + os.Getenv("PATH")
	shell := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = append(c.environ(), "PATH="+path)
		var stderr strings.Builder
		cmd.Stderr = &stderr // bash's compopt complains outside a real Tab
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s: %v\n%s%s", name, err, out, stderr.String())
		}
		return string(out)
	}
	writeScript := func(shell string) string {
		path := filepath.Join(c.home, "duomail."+shell)
		if err := os.WriteFile(path, []byte(c.ok("completion", shell).stdout), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	// bash, with the bash-completion package a distribution ships (the
	// script needs it; .ci/run installs it).
	const bashCompletion = "/usr/share/bash-completion/bash_completion"
	if _, err := os.Stat(bashCompletion); err != nil {
		t.Fatalf("bash-completion is not installed: %v", err)
	}
	out := shell("bash", "--norc", "--noprofile", "-c", fmt.Sprintf(`source %q
source %q
COMP_LINE='duomail -a w'
COMP_WORDS=(duomail -a w)
COMP_CWORD=2
COMP_POINT=${#COMP_LINE}
__start_duomail
printf '%%s\n' "${COMPREPLY[@]}"
`, bashCompletion, writeScript("bash")))
	if strings.TrimSpace(out) != "work" {
		t.Errorf("bash completed %q, want work", out)
	}

	// fish, which shows the descriptions.
	out = shell("fish", "--no-config", "-c", fmt.Sprintf("source %q; complete -C 'duomail --account '", writeScript("fish")))
	if got := strings.Split(strings.TrimSpace(out), "\n"); !slices.Equal(got, []string{"home\tpop3 pop.example.com", "work\timap imap.example.com"}) {
		t.Errorf("fish completed %q", got)
	}
}

// A search command, whichever helper adds it, completes query keys
// without wiring of its own.
func TestSearchCommandGetsQueryCompletion(t *testing.T) {
	a := newApp(streams{}, func(string) (string, bool) { return "", false })
	root := &cobra.Command{Use: "duomail"}
	search := &cobra.Command{Use: "search QUERY...", Run: func(*cobra.Command, []string) {}}
	root.AddCommand(search)
	setupCompletion(a, root)
	if search.ValidArgsFunction == nil {
		t.Fatal("search has no argument completion")
	}
	got, _ := search.ValidArgsFunction(search, nil, "has")
	if len(got) != 1 || !strings.HasPrefix(got[0], "has:attachment\t") {
		t.Errorf("search has: %q", got)
	}
}
