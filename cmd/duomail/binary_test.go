package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Tests in *_binary_test.go run the real duomail binary, built once here,
// as a subprocess with its own XDG directories, against in-process test
// servers and a real Dovecot.

var (
	binaryDir  string
	binaryOnce sync.Once
	binaryPath string
	binaryErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binaryDir != "" {
		os.RemoveAll(binaryDir)
	}
	os.Exit(code)
}

// binary builds duomail once, the first time a test needs it, so unit
// tests run without the build.
func binary(t testing.TB) string {
	t.Helper()
	binaryOnce.Do(func() {
		binaryDir, binaryErr = os.MkdirTemp("", "duomail-bin-")
		if binaryErr != nil {
			return
		}
		path := filepath.Join(binaryDir, "duomail")
		out, err := exec.Command("go", "build", "-o", path, ".").CombinedOutput()
		if err != nil {
			binaryErr = fmt.Errorf("build duomail: %v\n%s", err, out)
			return
		}
		binaryPath = path
	})
	if binaryErr != nil {
		t.Fatal(binaryErr)
	}
	return binaryPath
}

// cli is one user's environment: private config and data directories.
type cli struct {
	t       *testing.T
	home    string
	config  string // XDG_CONFIG_HOME
	data    string // XDG_DATA_HOME
	env     map[string]string
	timeout time.Duration
}

func newCLI(t *testing.T) *cli {
	t.Helper()
	home := t.TempDir()
	c := &cli{
		t:       t,
		home:    home,
		config:  filepath.Join(home, "config"),
		data:    filepath.Join(home, "data"),
		env:     map[string]string{},
		timeout: 60 * time.Second,
	}
	return c
}

// writeConfig writes $XDG_CONFIG_HOME/duomail/config.toml, private.
func (c *cli) writeConfig(toml string) string {
	c.t.Helper()
	dir := filepath.Join(c.config, "duomail")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		c.t.Fatal(err)
	}
	path := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(path, []byte(toml), 0o600); err != nil {
		c.t.Fatal(err)
	}
	return path
}

type runResult struct {
	args   []string
	stdout string
	stderr string
	code   int
}

func (r runResult) String() string {
	return fmt.Sprintf("duomail %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(r.args, " "), r.code, r.stdout, r.stderr)
}

// run runs the binary with args; stdin is empty and nothing is a terminal.
func (c *cli) run(args ...string) runResult {
	c.t.Helper()
	cmd := c.command(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(c.timeout):
		cmd.Process.Kill()
		<-done
		c.t.Fatalf("duomail %s: did not finish within %v\nstderr: %s", strings.Join(args, " "), c.timeout, stderr.String())
	}
	return runResult{args: args, stdout: stdout.String(), stderr: stderr.String(), code: cmd.ProcessState.ExitCode()}
}

// ok runs and requires exit status 0.
func (c *cli) ok(args ...string) runResult {
	c.t.Helper()
	r := c.run(args...)
	if r.code != 0 {
		c.t.Fatalf("want exit 0: %v", r)
	}
	return r
}

// fails runs and requires the given exit status and a "duomail: " message.
func (c *cli) fails(code int, args ...string) runResult {
	c.t.Helper()
	r := c.run(args...)
	if r.code != code {
		c.t.Fatalf("want exit %d: %v", code, r)
	}
	if !strings.Contains(r.stderr, "duomail: ") {
		c.t.Fatalf("want an error message on stderr: %v", r)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic") {
		c.t.Fatalf("Go stack on stderr: %v", r)
	}
	return r
}

// jsonOf decodes a --json output.
func jsonOf[T any](t *testing.T, r runResult) T {
	t.Helper()
	var v T
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("stdout is not the expected JSON (%v): %v", err, r)
	}
	return v
}

// tsv splits piped output into records and fields.
func tsv(out string) [][]string {
	var rows [][]string
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		rows = append(rows, strings.Split(line, "\t"))
	}
	return rows
}

func TestBinaryVersion(t *testing.T) {
	c := newCLI(t)
	r := c.ok("--version")
	if !strings.HasPrefix(r.stdout, "duomail ") || strings.TrimSpace(strings.TrimPrefix(r.stdout, "duomail ")) == "" {
		t.Errorf("version output %q", r.stdout)
	}
}

func TestBinaryVersionLdflags(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary again")
	}
	bin := filepath.Join(t.TempDir(), "duomail")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=9.8.7", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.HasPrefix(string(out), "duomail 9.8.7\n") {
		t.Errorf("--version = %q, %v", out, err)
	}
}

// A binary built from a git checkout says which commit, when it was made,
// whether the tree had changes, and the Go that built it: what a bug
// report needs.
func TestBinaryVersionNamesCommitDateAndGo(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary again")
	}
	git := func(args ...string) string {
		out, err := exec.Command("git", args...).Output()
		if err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("git %s: %v (CI runs in a git clone)", strings.Join(args, " "), err)
			}
			t.Skipf("not a git checkout: %v", err)
		}
		return strings.TrimSpace(string(out))
	}
	if git("rev-parse", "--git-dir") != git("rev-parse", "--git-common-dir") {
		// The go command stamps VCS information only where .git is a
		// directory, so a linked work tree builds without it.
		t.Skip("a linked git work tree: go build records no VCS information here")
	}
	head := git("rev-parse", "HEAD")
	commitTime, err := time.Parse(time.RFC3339, git("show", "-s", "--format=%cI", "HEAD"))
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "duomail")
	// -buildvcs=true: a machine-wide GOFLAGS=-buildvcs=false must not hide it here.
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	dirty := git("status", "--porcelain") != ""
	goEnv, err := exec.Command("go", "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	goVersion := strings.TrimSpace(string(goEnv))
	out, err := exec.Command(bin, "--version").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(out), "\n"), "\n")
	got := map[string]string{}
	for _, l := range lines[1:] {
		k, v, _ := strings.Cut(l, ":")
		got[k] = strings.TrimSpace(v)
	}
	wantCommit := head
	if dirty {
		wantCommit += " (with uncommitted changes)"
	}
	if got["commit"] != wantCommit {
		t.Errorf("commit %q, want %q\n%s", got["commit"], wantCommit, out)
	}
	if d, err := time.Parse(time.RFC3339, got["date"]); err != nil || !d.Equal(commitTime) {
		t.Errorf("date %q, want %s\n%s", got["date"], commitTime, out)
	}
	if !strings.HasPrefix(got["go"], goVersion+" ") {
		t.Errorf("go %q, want %s\n%s", got["go"], goVersion, out)
	}
	if !strings.HasPrefix(lines[0], "duomail ") {
		t.Errorf("first line %q", lines[0])
	}
}

// runBounded runs the binary and kills it if it runs longer than limit.
// It never calls t.Fatal, so it may run on any goroutine.
func (c *cli) runBounded(limit time.Duration, args ...string) (runResult, time.Duration, error) {
	cmd := c.command(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
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

// runKilled starts the binary and sends it SIGKILL after delay. landed
// says whether the process was still running when killed; when it was
// not, r is its normal result and elapsed how long it ran.
func (c *cli) runKilled(delay time.Duration, args ...string) (r runResult, landed bool, elapsed time.Duration) {
	c.t.Helper()
	cmd := c.command(args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
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

// oneLineError checks what a failed run printed: one "duomail: " line
// (after any warnings), no Go stack, no bare EOF. It returns the error
// line, or a description of what is wrong.
func oneLineError(r runResult) (string, error) {
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

// envUnset as a value in cli.env removes the variable, even one environ
// sets by default. (No variable can hold a NUL byte.)
const envUnset = "\x00"

// environ is the environment the binary runs in: this user's private
// directories, UTC, PATH, and the variables in env; nothing else leaks in
// from the test's own environment.
func (c *cli) environ() []string {
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + c.home,
		"XDG_CONFIG_HOME=" + c.config,
		"XDG_DATA_HOME=" + c.data,
		"TZ=UTC",
		// No pager on the test's pseudo-terminals unless a test sets
		// one: a real less would wait there for a key.
		"DUOMAIL_PAGER=",
	}
	for k, v := range c.env {
		if v == envUnset {
			env = slices.DeleteFunc(env, func(kv string) bool { return strings.HasPrefix(kv, k+"=") })
			continue
		}
		env = append(env, k+"="+v)
	}
	return env
}

// command prepares the binary with this user's environment, for tests
// that start, time, measure or kill it themselves.
func (c *cli) command(args ...string) *exec.Cmd {
	cmd := exec.Command(binary(c.t), args...)
	cmd.Env = c.environ()
	return cmd
}

// tomlAccount is one [accounts.NAME] table of a test configuration.
// Empty fields are left out, so that the configuration's defaults apply.
type tomlAccount struct {
	Name        string
	Protocol    string
	Host        string
	Port        int
	TLS         string
	Username    string
	Password    string
	PasswordEnv string
	PasswordCmd string
	CAFile      string
	Timeout     string
	// Extra holds further lines, as written.
	Extra string
}

// accountsTOML is a configuration holding the given accounts, in order.
func accountsTOML(accounts ...tomlAccount) string {
	var b strings.Builder
	for _, a := range accounts {
		fmt.Fprintf(&b, "[accounts.%s]\n", a.Name)
		for _, kv := range []struct{ key, value string }{
			{"protocol", a.Protocol}, {"host", a.Host}, {"tls", a.TLS}, {"username", a.Username},
			{"password", a.Password}, {"password_env", a.PasswordEnv}, {"password_cmd", a.PasswordCmd},
			{"ca_file", a.CAFile}, {"timeout", a.Timeout},
		} {
			if kv.value != "" {
				fmt.Fprintf(&b, "%s = %q\n", kv.key, kv.value)
			}
		}
		if a.Port != 0 {
			fmt.Fprintf(&b, "port = %d\n", a.Port)
		}
		b.WriteString(a.Extra)
		b.WriteString("\n")
	}
	return b.String()
}
