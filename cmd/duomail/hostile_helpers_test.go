package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"
)

// Helpers for the hostile-input tests: run the binary with its output
// streamed through a checker that finds every byte a terminal would obey,
// measure the child's peak memory, and give stdout a real terminal when a
// test needs the table form.

// outputCheck scans a stream for what must never reach a terminal: C0
// controls other than tab and newline, DEL, C1 controls (as UTF-8 and as
// raw 8-bit bytes in invalid UTF-8) and the bidi controls. It keeps the
// first keep bytes for other checks. The definition is written out here
// again, independently of the sanitiser's.
type outputCheck struct {
	mu      sync.Mutex // a test may read while the child writes
	keep    int
	buf     []byte
	n       int64
	pending []byte
	leaks   int
	samples []string
}

func isForbiddenRune(r rune) bool {
	switch {
	case r == '\t' || r == '\n':
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x200e, r == 0x200f, r == 0x061c:
		return true
	}
	return false
}

func (o *outputCheck) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.scan(p, false)
	if room := o.keep - len(o.buf); room > 0 {
		o.buf = append(o.buf, p[:min(room, len(p))]...)
	}
	o.n += int64(len(p))
	return len(p), nil
}

func (o *outputCheck) scan(p []byte, final bool) {
	data := p
	base := o.n - int64(len(o.pending))
	if len(o.pending) > 0 {
		data = append(o.pending, p...)
		o.pending = nil
	}
	for i := 0; i < len(data); {
		if !final && !utf8.FullRune(data[i:]) {
			o.pending = append([]byte(nil), data[i:]...)
			return
		}
		r, size := utf8.DecodeRune(data[i:])
		bad := false
		switch {
		case r == utf8.RuneError && size == 1:
			bad = data[i] >= 0x80 && data[i] <= 0x9f
		default:
			bad = isForbiddenRune(r)
		}
		if bad {
			o.leaks++
			if len(o.samples) < 5 {
				lo, hi := max(0, i-24), min(len(data), i+24)
				o.samples = append(o.samples, fmt.Sprintf("offset %d: %q in %q", base+int64(i), data[i:i+size], data[lo:hi]))
			}
		}
		i += size
	}
}

func (o *outputCheck) finish() {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.scan(nil, true)
}

func (o *outputCheck) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.buf)
}

// hostileRun is one run of the binary under the checker.
type hostileRun struct {
	args     []string
	stdout   *outputCheck
	stderr   *outputCheck
	code     int
	maxRSS   int64 // bytes, the child's peak resident set
	elapsed  time.Duration
	tty      bool
	timedOut bool
}

func (r hostileRun) String() string {
	clip := func(s string) string {
		if len(s) > 3000 {
			return s[:3000] + fmt.Sprintf("... (%d bytes)", len(s))
		}
		return s
	}
	return fmt.Sprintf("duomail %q (tty=%v): exit %d after %v, peak RSS %d MB\nstdout (%d bytes):\n%s\nstderr:\n%s",
		r.args, r.tty, r.code, r.elapsed.Round(time.Millisecond), r.maxRSS>>20, r.stdout.n, clip(r.stdout.String()), clip(r.stderr.String()))
}

type runOptions struct {
	tty     bool   // stdout is a terminal (120 columns)
	dir     string // working directory
	timeout time.Duration
	keep    int // stdout bytes kept for inspection (default 16 MB)
	onStart func(pid int)
	umask0  bool // run with umask 0, so file modes are duomail's own choice
	// stdoutHook is given the stdout checker before the child starts, so
	// a test can watch the output grow.
	stdoutHook func(*outputCheck)
}

// runChecked runs the binary like cli.run, with stdout and stderr scanned
// as they stream and the peak memory of the child measured.
func (c *cli) runChecked(o runOptions, args ...string) hostileRun {
	c.t.Helper()
	if o.timeout == 0 {
		o.timeout = c.timeout
	}
	if o.keep == 0 {
		o.keep = 16 << 20
	}
	r := hostileRun{args: args, tty: o.tty, stdout: &outputCheck{keep: o.keep}, stderr: &outputCheck{keep: 1 << 20}}
	if o.stdoutHook != nil {
		o.stdoutHook(r.stdout)
	}
	cmd := exec.Command(binary(c.t), args...)
	if o.umask0 {
		cmd = exec.Command("/bin/sh", append([]string{"-c", `umask 000; exec "$0" "$@"`, binary(c.t)}, args...)...)
	}
	cmd.Env = c.environ()
	cmd.Dir = o.dir
	cmd.Stderr = r.stderr
	var (
		master, slave *os.File
		copied        = make(chan struct{})
	)
	if o.tty {
		var err error
		master, slave, err = openPTY(120, 50)
		if err != nil {
			c.t.Fatalf("terminal for stdout: %v", err)
		}
		defer master.Close()
		cmd.Stdout = slave
		go func() {
			io.Copy(r.stdout, master) // ends with EIO once the child's side is closed
			close(copied)
		}()
	} else {
		cmd.Stdout = r.stdout
		close(copied)
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		c.t.Fatal(err)
	}
	if slave != nil {
		slave.Close()
	}
	if o.onStart != nil {
		o.onStart(cmd.Process.Pid)
	}
	stopPoll := make(chan struct{})
	polled := make(chan int64, 1)
	go func() { polled <- pollHWM(cmd.Process.Pid, stopPoll) }()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(o.timeout):
		cmd.Process.Kill()
		<-done
		r.timedOut = true
	}
	close(stopPoll)
	<-copied
	r.elapsed = time.Since(start)
	r.stdout.finish()
	r.stderr.finish()
	r.code = cmd.ProcessState.ExitCode()
	// VmHWM is the new program's own high-water mark. The rusage figure
	// is only an upper bound: with vfork the child's maxrss starts from
	// the test process's, whose memory it shared until exec.
	r.maxRSS = <-polled
	if r.maxRSS == 0 {
		r.maxRSS = rusageMaxRSS(cmd.ProcessState)
	}
	if r.timedOut {
		c.t.Fatalf("did not finish within %v: %v", o.timeout, r)
	}
	return r
}

// pollHWM reads the peak resident set (VmHWM) of a running process every
// few milliseconds until stop, and returns the largest value seen, in
// bytes; 0 if it could never be read. Being a high-water mark, a reading
// includes every peak before it; only the last milliseconds can escape.
func pollHWM(pid int, stop <-chan struct{}) int64 {
	var peak int64
	path := fmt.Sprintf("/proc/%d/status", pid)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		if b, err := os.ReadFile(path); err == nil {
			for _, line := range strings.Split(string(b), "\n") {
				if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
					var kb int64
					fmt.Sscan(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), &kb)
					peak = max(peak, kb<<10)
				}
			}
		}
		select {
		case <-stop:
			return peak
		case <-tick.C:
		}
	}
}

// hostileTally counts what the hostile tests rendered, for the FIGURES line.
type hostileTally struct {
	mu       sync.Mutex
	rendered int
	leaked   int
}

// clean fails the test when r leaked a control byte, crashed, or exited
// with a code not in allowed (none given: 0).
func (h *hostileTally) clean(t *testing.T, r hostileRun, allowed ...int) {
	t.Helper()
	h.mu.Lock()
	h.rendered++
	h.leaked += r.stdout.leaks + r.stderr.leaks
	h.mu.Unlock()
	if r.stdout.leaks+r.stderr.leaks > 0 {
		t.Errorf("control bytes reached the terminal: stdout %d %q, stderr %d %q\n%v",
			r.stdout.leaks, r.stdout.samples, r.stderr.leaks, r.stderr.samples, r)
	}
	noCrash(t, r)
	if len(allowed) == 0 {
		allowed = []int{0}
	}
	for _, a := range allowed {
		if r.code == a {
			return
		}
	}
	t.Errorf("exit %d, want one of %v: %v", r.code, allowed, r)
}

// noCrash fails on a Go panic or runtime crash.
func noCrash(t *testing.T, r hostileRun) {
	t.Helper()
	errText := r.stderr.String()
	if r.code == 2 && !strings.Contains(errText, "duomail: ") || strings.Contains(errText, "goroutine ") ||
		strings.Contains(errText, "panic:") || strings.Contains(errText, "internal error") || r.code < 0 {
		t.Errorf("crash: %v", r)
	}
}

// fsEntry is what a walk remembers of one path.
type fsEntry struct {
	mode fs.FileMode
	size int64
	mod  time.Time
	link string
	data string // first bytes of regular files
}

// snapshot walks root (without following links).
func snapshot(t *testing.T, root string) map[string]fsEntry {
	t.Helper()
	out := map[string]fsEntry{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		e := fsEntry{mode: fi.Mode(), size: fi.Size(), mod: fi.ModTime()}
		if fi.Mode()&fs.ModeSymlink != 0 {
			e.link, _ = os.Readlink(path)
		}
		if fi.Mode().IsRegular() && fi.Size() < 4096 {
			b, _ := os.ReadFile(path)
			e.data = string(b)
		}
		out[path] = e
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// changedOutside lists paths created, changed or removed between two
// snapshots that do not lie under one of the allowed directories.
func changedOutside(before, after map[string]fsEntry, allowed ...string) []string {
	under := func(p string) bool {
		for _, a := range allowed {
			if p == a || strings.HasPrefix(p, a+string(filepath.Separator)) {
				return true
			}
		}
		return false
	}
	var out []string
	for p, a := range after {
		if under(p) {
			continue
		}
		b, ok := before[p]
		switch {
		case !ok:
			out = append(out, "new "+p)
		case a.mode.IsDir() && b.mode.IsDir():
		case a.mode != b.mode || a.size != b.size || !a.mod.Equal(b.mod) || a.link != b.link || a.data != b.data:
			out = append(out, "changed "+p)
		}
	}
	for p := range before {
		if _, ok := after[p]; !ok && !under(p) {
			out = append(out, "removed "+p)
		}
	}
	return out
}

// containsAny reports which of the needles occur in data.
func containsAny(data []byte, needles ...string) []string {
	var out []string
	for _, n := range needles {
		if n != "" && bytes.Contains(data, []byte(n)) {
			out = append(out, n)
		}
	}
	return out
}
