package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"

	"github.com/duomail/duomail/client/textlayout"
)

// The pager: on a terminal, output longer than the screen goes through
// $DUOMAIL_PAGER, else the configuration's pager, else $PAGER, else
// "less" when it is installed, the way git chooses. An empty value or
// "cat" at the first level that is set means no pager; --no-pager too.
// Output is held until it fills the screen, so a short message is printed
// directly, with any pager, not just one run with less -F.

// pagerAnnotation marks the commands whose output may be paged.
const pagerAnnotation = "duomail-pager"

// errPagerQuit is what writing returns once the user has left the pager
// before the end: the command stops, and that is not an error.
var errPagerQuit = errors.New("the pager was closed")

// pagerCommand returns the pager to run, or "" for none.
func (a *app) pagerCommand() string {
	if a.flags.noPager {
		return ""
	}
	cmd, set := a.getenv("DUOMAIL_PAGER")
	if !set {
		if cfg, err := a.config(); err == nil && cfg.Pager != nil {
			cmd, set = *cfg.Pager, true
		}
	}
	if !set {
		cmd, set = a.getenv("PAGER")
	}
	if !set {
		if _, err := exec.LookPath("less"); err != nil {
			return ""
		}
		cmd = "less"
	}
	if cmd = strings.TrimSpace(cmd); cmd == "cat" {
		return ""
	}
	return cmd
}

// pagerWriter holds output until it is longer than the screen, then
// starts the pager and feeds it; Close prints what a short output held
// or waits for the pager.
type pagerWriter struct {
	term    *os.File // the terminal the output goes to (and the pager draws on)
	stderr  io.Writer
	command string
	env     []string
	rows    int
	cols    int

	mu      sync.Mutex
	held    bytes.Buffer
	scanned int // bytes of held already counted in lines
	lines   int // screen lines the held output takes
	direct  bool
	cmd     *exec.Cmd
	pipe    io.WriteCloser
	quit    bool // the pager ended before the output did
}

func (p *pagerWriter) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.quit:
		return 0, errPagerQuit
	case p.direct:
		return p.term.Write(b)
	case p.pipe != nil:
		n, err := p.pipe.Write(b)
		if err != nil {
			p.quit = true
			return n, errPagerQuit
		}
		return n, nil
	}
	p.held.Write(b)
	if !p.count() {
		return len(b), nil
	}
	if err := p.start(); err != nil {
		// No pager after all: the output goes straight to the terminal.
		p.direct = true
		_, werr := p.term.Write(p.held.Bytes())
		p.held.Reset()
		return len(b), werr
	}
	_, err := p.pipe.Write(p.held.Bytes())
	p.held.Reset()
	if err != nil {
		p.quit = true
		return len(b), errPagerQuit
	}
	return len(b), nil
}

// count adds the complete lines held since the last call and reports
// whether the output no longer fits the screen (one row is the prompt's).
func (p *pagerWriter) count() bool {
	data := p.held.Bytes()
	for {
		i := bytes.IndexByte(data[p.scanned:], '\n')
		if i < 0 {
			break
		}
		w := textlayout.Width(string(data[p.scanned : p.scanned+i]))
		p.lines += max(1, (w+p.cols-1)/p.cols)
		p.scanned += i + 1
	}
	// A line not yet ended already takes its rows.
	partial := textlayout.Width(string(data[p.scanned:])) / p.cols
	return p.lines+partial >= p.rows
}

func (p *pagerWriter) start() error {
	var cmd *exec.Cmd
	if runtime.GOOS == "windows" {
		f := strings.Fields(p.command)
		cmd = exec.Command(f[0], f[1:]...)
	} else {
		cmd = exec.Command("/bin/sh", "-c", p.command)
	}
	cmd.Env = p.env
	cmd.Stdout, cmd.Stderr = p.term, p.stderr
	pipe, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	p.cmd, p.pipe = cmd, pipe
	return nil
}

// Close prints what was held (the output fit the screen) or ends the
// pager's input and waits until the user leaves it. It reports whether
// the user left before the end of the output.
func (p *pagerWriter) Close() (quitEarly bool, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.pipe == nil {
		if p.held.Len() > 0 {
			_, err = p.term.Write(p.held.Bytes())
			p.held.Reset()
		}
		return false, err
	}
	p.pipe.Close()
	p.pipe = nil
	// The pager's own exit status says nothing about the output: less
	// quit with q is 0, a pager killed or quit otherwise is no failure of
	// the command.
	_ = p.cmd.Wait()
	return p.quit, nil
}

// pagerEnv is the environment the pager runs in: the user's, with less
// told to pass colours through, to leave the screen as it was, and to
// quit at once when the output fits after all (as git does), unless the
// user says otherwise in LESS or LV.
func (a *app) pagerEnv() []string {
	env := os.Environ()
	if _, ok := a.getenv("LESS"); !ok {
		env = append(env, "LESS=FRX")
	}
	if _, ok := a.getenv("LV"); !ok {
		env = append(env, "LV=-c")
	}
	return env
}

// startPager wraps the printer's output in a pager when the command
// pages, stdout is a terminal and a pager is chosen.
func (a *app) startPager() {
	term, ok := a.io.out.(*os.File)
	if !ok || !a.io.outTTY || a.io.height <= 1 || a.out == nil {
		return
	}
	command := a.pagerCommand()
	if command == "" {
		return
	}
	cols := a.io.width
	if cols <= 0 {
		cols = defaultWidth
	}
	a.pager = &pagerWriter{term: term, stderr: a.io.err, command: command, env: a.pagerEnv(), rows: a.io.height, cols: cols}
	a.out.out = a.pager
}

// closePager finishes the pager, if one was set up; quitEarly says the
// user left it before the output ended.
func (a *app) closePager() (quitEarly bool, err error) {
	if a.pager == nil {
		return false, nil
	}
	quitEarly, err = a.pager.Close()
	a.out.out, a.out.raw = a.io.out, nil
	a.pager = nil
	return quitEarly, err
}
