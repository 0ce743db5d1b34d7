package main

import (
	"fmt"
	"io"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/termtext"
	"github.com/schollz/progressbar/v3"
)

// progressDelay is how long a download runs before a bar appears: quick
// syncs stay silent.
const progressDelay = 500 * time.Millisecond

// progress draws a download bar on stderr: messages, bytes and rate. It
// draws only on a terminal, not with --quiet, and only once the work has
// run longer than progressDelay.
type progress struct {
	w       io.Writer
	enabled bool
	start   time.Time
	now     func() time.Time
	bar     *progressbar.ProgressBar
}

func (a *app) newProgress() *progress {
	return &progress{w: a.io.err, enabled: a.io.errTTY && !a.flags.quiet, start: time.Now(), now: time.Now}
}

// callback is what the library calls; nil when nothing would be drawn.
func (p *progress) callback() func(client.Progress) {
	if !p.enabled {
		return nil
	}
	return p.update
}

func (p *progress) update(pr client.Progress) {
	if p.bar == nil {
		if p.now().Sub(p.start) < progressDelay || pr.Messages >= pr.TotalMessages {
			return
		}
		p.bar = p.newBar(pr)
	}
	desc := fmt.Sprintf("%s %d/%d", termtext.Field(pr.Folder), pr.Messages, pr.TotalMessages)
	p.bar.Describe(desc)
	if pr.TotalBytes > 0 {
		p.bar.Set64(min(pr.Bytes, pr.TotalBytes))
	} else {
		p.bar.Set64(int64(pr.Messages))
	}
}

func (p *progress) newBar(pr client.Progress) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100 * time.Millisecond),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionSetPredictTime(true),
	}
	if pr.TotalBytes > 0 {
		opts = append(opts, progressbar.OptionShowBytes(true))
		return progressbar.NewOptions64(pr.TotalBytes, opts...)
	}
	opts = append(opts, progressbar.OptionShowCount(), progressbar.OptionShowIts(), progressbar.OptionSetItsString("msg"))
	return progressbar.NewOptions64(int64(pr.TotalMessages), opts...)
}

// done removes the bar, so the summary that follows stands alone.
func (p *progress) done() {
	if p.bar != nil {
		p.bar.Finish()
		p.bar = nil
	}
}
