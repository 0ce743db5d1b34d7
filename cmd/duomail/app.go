package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/config"
	"github.com/duomail/duomail/client/termtext"
	"golang.org/x/term"
)

// streams are the process's standard files, with what is known about them.
type streams struct {
	in     io.Reader
	inFd   int // -1 when in is not a file
	out    io.Writer
	err    io.Writer
	inTTY  bool
	outTTY bool
	errTTY bool
	width  int // stdout terminal columns; 0 when unknown
	height int // stdout terminal rows; 0 when unknown
}

func osStreams() streams {
	s := streams{in: os.Stdin, out: os.Stdout, err: os.Stderr, inFd: int(os.Stdin.Fd())}
	s.inTTY = term.IsTerminal(s.inFd)
	s.outTTY = term.IsTerminal(int(os.Stdout.Fd()))
	s.errTTY = term.IsTerminal(int(os.Stderr.Fd()))
	if s.outTTY {
		if w, h, err := term.GetSize(int(os.Stdout.Fd())); err == nil {
			s.width, s.height = w, h
		}
	}
	return s
}

// globalFlags are the persistent flags every command has.
type globalFlags struct {
	config  string
	account string
	url     string
	json    bool
	debug   bool
	stats   bool
	quiet   bool
	// lockTimeout bounds the wait for another process's sync lock.
	lockTimeout time.Duration
	noPager     bool
}

// app is one invocation: the flags, the configuration read on demand, the
// mailbox opened on demand, and the printer. Opening and closing the
// mailbox happen here, for every command alike, so none can forget to
// close it (for POP3 the QUIT commits deletions) or to check that close.
type app struct {
	io     streams
	getenv config.Getenv // the one way to the environment
	flags  globalFlags
	out    *printer
	pager  *pagerWriter // set while a paging command's output may go through the pager
	// charset converts stdout on a terminal whose locale is not UTF-8.
	charset *charsetWriter

	running     bool // a command's own code started (errors before are usage errors)
	accountFlag bool // -a was given on the command line

	cfg     *Config
	mb      *client.Mailbox // the account of a one-account command
	account *AccountConfig

	sessionMu     sync.Mutex
	sessions      []*session // every account opened, in the order opened
	sessionsStart time.Time
	errMu         sync.Mutex // keeps lines on stderr whole when accounts work at once
	passwordMu    sync.Mutex // one password prompt or password_cmd at a time
}

// newApp starts an invocation; getenv is where every environment
// variable is read (os.LookupEnv, or the demo's own environment).
func newApp(s streams, getenv config.Getenv) *app {
	return &app{io: s, getenv: getenv}
}

// env returns an environment variable, "" when unset.
func (a *app) env(key string) string {
	v, _ := a.getenv(key)
	return v
}

// warn prints a warning on stderr; --quiet does not silence warnings.
func (a *app) warn(msg string) {
	a.errMu.Lock() // accounts checked at once may warn at once
	defer a.errMu.Unlock()
	fmt.Fprintf(a.io.err, "duomail: warning: %s\n", termtext.Field(msg))
}

// notice prints an informational line on stderr unless --quiet.
func (a *app) notice(msg string) {
	if !a.flags.quiet {
		a.errMu.Lock()
		defer a.errMu.Unlock()
		fmt.Fprintln(a.io.err, termtext.Field(msg))
	}
}

// config reads the configuration file once.
func (a *app) config() (*Config, error) {
	if a.cfg != nil {
		return a.cfg, nil
	}
	cfg, err := config.Load(config.Options{File: a.flags.config, Warn: a.warn}, a.getenv)
	if err != nil {
		return nil, err
	}
	a.cfg = cfg
	return cfg, nil
}

// execute runs one command line and returns the exit status.
func (a *app) execute(ctx context.Context, args []string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			// A bug must not print a Go stack at the user.
			fmt.Fprintf(a.io.err, "duomail: internal error: %s\n", termtext.Field(fmt.Sprint(r)))
			code = exitError
		}
	}()
	root := newRootCmd(a)
	root.SetArgs(searchNegations(root, args))
	err := root.ExecuteContext(ctx)
	if err != nil && !a.running && !errors.Is(err, client.ErrUsage) {
		err = &usageError{err}
	}
	if cerr := a.closeMailbox(); cerr != nil {
		if err == nil {
			err = cerr
		} else {
			a.warn(errorMessage(cerr))
		}
	}
	var stats *statsJSON
	if a.flags.stats {
		stats = a.statsJSON()
	}
	var status *exitStatus
	if a.out != nil && (err == nil || errors.As(err, &status)) {
		// A command that ends with a status (check finding no mail, an
		// account of several failing) has printed its result all the same.
		if ferr := a.out.finish(stats); ferr != nil {
			err, status = ferr, nil
		}
	} else if a.out != nil {
		a.out.abandon()
	}
	// The pager is done before anything is said on stderr, which would
	// otherwise be drawn over by it.
	if a.charset != nil {
		if cerr := a.charset.Close(); err == nil {
			err = cerr
		}
		a.charset = nil
	}
	quitEarly, perr := a.closePager()
	if quitEarly && signalledBy(ctx) == nil {
		// The user left the pager: whatever failed to write after that
		// is not a failure.
		err = nil
	} else if err == nil && perr != nil {
		err = perr
	}
	if stats != nil {
		for _, line := range a.statsLines() {
			fmt.Fprintln(a.io.err, line)
		}
	}
	sig := signalledBy(ctx)
	if err != nil && (status == nil || status.err != nil) {
		msg := errorMessage(err)
		if sig != nil && errors.Is(err, context.Canceled) {
			msg = sig.Error()
		}
		fmt.Fprintf(a.io.err, "duomail: %s\n", msg)
		var qe *queryError
		if errors.As(err, &qe) {
			// The query and a caret under the place, each line sanitised.
			for _, l := range strings.Split(qe.caret, "\n") {
				fmt.Fprintf(a.io.err, "  %s\n", termtext.Field(l))
			}
		}
		var ue *usageError
		if errors.As(err, &ue) && !a.running {
			path := root.CommandPath()
			if c, _, ferr := root.Find(args); ferr == nil {
				path = c.CommandPath()
			}
			fmt.Fprintf(a.io.err, "Run '%s --help' for usage.\n", path)
		}
	}
	code = exitCode(err)
	if code != exitOK && sig != nil {
		// Whatever the signal broke (a read, a dial) reports it as its
		// own failure; the status says it was the signal.
		code = sig.code()
	}
	return code
}
