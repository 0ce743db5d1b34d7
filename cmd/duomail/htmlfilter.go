package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/duomail/duomail/client/htmltext"
	"github.com/duomail/duomail/client/termtext"
)

// An html_filter runs at most this long: a filter that waits for a
// terminal or a network is stopped rather than hanging fetch.
const htmlFilterTimeout = time.Minute

// maxHTMLFilterOutput bounds what an html_filter may print. Its output is
// held until it exits, so that one that fails shows nothing but the error.
const maxHTMLFilterOutput = 16 << 20

// htmlRenderer is how fetch turns an HTML part into text for the current
// account: its html_filter, else the built-in renderer at the terminal's
// width (htmltext's default when stdout is not a terminal).
func (a *app) htmlRenderer() (func(ctx context.Context, html io.Reader, w io.Writer) error, error) {
	ac, cfg, err := a.accountConfig()
	if err != nil {
		return nil, err
	}
	if command := cfg.HTMLFilterFor(ac); command != "" {
		return func(ctx context.Context, html io.Reader, w io.Writer) error {
			return runHTMLFilter(ctx, command, html, w)
		}, nil
	}
	width := a.out.width
	return func(_ context.Context, html io.Reader, w io.Writer) error {
		return htmltext.Render(html, w, htmltext.Options{Width: width})
	}, nil
}

// runHTMLFilter runs command through "sh -c", as password_cmd and mailcap
// entries are run (so a filter may be a pipeline or use quotes), in its
// own process group, with the HTML on its standard input. Its standard
// output is written to w only once it has exited with status 0; the
// caller cleans it like any text from a server. A failure, a timeout or
// too much output is an error naming the filter, with the first line it
// wrote to stderr.
func runHTMLFilter(ctx context.Context, command string, html io.Reader, w io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, htmlFilterTimeout)
	defer cancel()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("html_filter %q: %s", termtext.Field(strings.TrimSpace(command)), fmt.Sprintf(format, args...))
	}
	cmd := exec.Command("sh", "-c", command)
	ownProcessGroup(cmd)
	out := &limitedBuffer{max: maxHTMLFilterOutput}
	stderr := &limitedBuffer{max: 4 << 10, drop: true}
	cmd.Stdout, cmd.Stderr = out, stderr
	// A grandchild that keeps stdout open must not hold Wait.
	cmd.WaitDelay = time.Second
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fail("%v", err)
	}
	if err := cmd.Start(); err != nil {
		return fail("%v", err)
	}
	fed := make(chan error, 1)
	go func() {
		// A filter may stop reading early (it has what it needs, or it
		// failed): a write error is not the HTML's, and its exit status
		// tells. A read error is the message's and is returned.
		buf := make([]byte, 32<<10)
		var rerr error
		writing := true
		for {
			n, err := html.Read(buf)
			if n > 0 && writing {
				if _, werr := stdin.Write(buf[:n]); werr != nil {
					writing = false
					stdin.Close()
				}
			}
			if err != nil {
				if err != io.EOF {
					rerr = err
				}
				break
			}
			if !writing {
				break
			}
		}
		stdin.Close()
		fed <- rerr
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	select {
	case err = <-exited:
	case <-ctx.Done():
		killProcessGroup(cmd)
		<-exited
		<-fed
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fail("did not finish within %v; stopped it", htmlFilterTimeout)
		}
		return fmt.Errorf("html_filter: %w", ctx.Err())
	}
	if rerr := <-fed; rerr != nil {
		return rerr
	}
	switch {
	case out.over:
		return fail("printed more than %d MB; nothing of it is shown", maxHTMLFilterOutput>>20)
	case err != nil:
		var ee *exec.ExitError
		why := err.Error()
		if errors.As(err, &ee) {
			why = "failed (" + ee.ProcessState.String() + ")"
		}
		if line := firstLine(stderr.String()); line != "" {
			why += ": " + termtext.Field(line)
		}
		return fail("%s", why)
	}
	_, err = w.Write(out.Bytes())
	return err
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return strings.TrimSpace(s)
}

// limitedBuffer keeps up to max bytes. Past that it fails the write, so
// the command gets SIGPIPE instead of filling memory, or with drop set
// (for a chatty stderr) it quietly keeps only the first max bytes.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	drop bool
	over bool
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		b.over = true
		if b.drop {
			b.Buffer.Write(p[:max(0, b.max-b.Len())])
			return len(p), nil
		}
		return 0, errors.New("output limit reached")
	}
	return b.Buffer.Write(p)
}
