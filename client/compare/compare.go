// Package compare runs the same scenarios on two mailboxes — typically one
// mailbox reached over IMAP and over POP3 — and reports side by side what
// each protocol did and what it cost on the wire.
package compare

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/bytesize"
	"github.com/duomail/duomail/client/iocount"
	"github.com/duomail/duomail/client/mimepart"
)

// Options control Compare.
type Options struct {
	// WithDelete really deletes one message per account; without it the
	// delete row only says what would be sent.
	WithDelete bool
	// ListCount is how many of the newest messages the listing row lists.
	ListCount int
}

// Report is the side-by-side result of Compare.
type Report struct {
	Accounts [2]Account `json:"accounts"`
	Rows     []Row      `json:"rows"`
}

// Account names one side.
type Account struct {
	Name     string `json:"name"`
	Protocol string `json:"protocol"`
	Server   string `json:"server"`
}

// Row is one scenario run on both sides.
type Row struct {
	Scenario string          `json:"scenario"`
	Sides    [2]ScenarioSide `json:"sides"`
}

// ScenarioSide is what one protocol did for a scenario and what it cost,
// as measured on the wire.
type ScenarioSide struct {
	Supported bool   `json:"supported"`
	Did       string `json:"did"`              // the protocol mechanism used, or why it is impossible
	Result    string `json:"result,omitempty"` // what came out
	client.Counts
	Error string `json:"error,omitempty"`
}

// Scenario names, in table order.
const (
	ScenarioConnect    = "connect and log in"
	ScenarioList       = "list the newest headers"
	ScenarioReadText   = "read the text of the largest message with an attachment, without the attachment"
	ScenarioAttachment = "download one attachment only"
	ScenarioFolders    = "see the other folders"
	ScenarioOtherDev   = "a change made on a second device (mark read, observe on a fresh connection)"
	ScenarioWhere      = "where the mail lives afterwards"
	ScenarioDelete     = "delete a message without downloading it"
)

// Compare runs the same scenarios on two mailboxes — typically one mailbox
// reached over IMAP and over POP3 — and reports, side by side, what each
// protocol did and what it cost. It is read-only unless WithDelete: the one
// flag it sets to show a second device seeing it is restored afterwards.
// Both Mailboxes must have been made with DialOptions.Stats set.
func Compare(ctx context.Context, a, b *client.Mailbox, opts Options) (Report, error) {
	if opts.ListCount <= 0 {
		opts.ListCount = 20
	}
	sides := [2]*comparer{{mb: a, opts: opts}, {mb: b, opts: opts}}
	var rep Report
	for i, c := range sides {
		if c.mb.Opts.Stats == nil {
			return rep, fmt.Errorf("compare: account %s has no wire statistics", c.mb.Account.Name)
		}
		rep.Accounts[i] = Account{Name: c.mb.Account.Name, Protocol: c.mb.Account.Protocol, Server: c.mb.Account.Address()}
	}
	scenarios := []struct {
		name string
		run  func(*comparer, context.Context) ScenarioSide
	}{
		{ScenarioConnect, (*comparer).connect},
		{fmt.Sprintf("list the newest %d messages' headers", opts.ListCount), (*comparer).list},
		{ScenarioReadText, (*comparer).readText},
		{ScenarioAttachment, (*comparer).attachment},
		{ScenarioFolders, (*comparer).folders},
		{ScenarioOtherDev, (*comparer).otherDevice},
		{ScenarioWhere, (*comparer).where},
		{ScenarioDelete, nil},
	}
	for _, sc := range scenarios {
		row := Row{Scenario: sc.name}
		for i, c := range sides {
			run := sc.run
			if run == nil {
				// Each side deletes a different message, so the second
				// side is not left looking for mail the first removed.
				taken := sides[1-i].deleted
				run = func(c *comparer, ctx context.Context) ScenarioSide { return c.delete(ctx, taken) }
			}
			row.Sides[i] = run(c, ctx)
			if ctx.Err() != nil {
				return rep, ctx.Err()
			}
		}
		rep.Rows = append(rep.Rows, row)
	}
	var errs []error
	for _, c := range sides {
		if c.restoreErr != nil {
			errs = append(errs, fmt.Errorf("compare: %s: %w", c.mb.Account.Name, c.restoreErr))
		}
		if err := c.mb.Close(); err != nil {
			errs = append(errs, fmt.Errorf("compare: %s: %w", c.mb.Account.Name, err))
		}
	}
	return rep, errors.Join(errs...)
}

// comparer runs the scenarios on one side and remembers the message it
// chose, so the later rows act on the same one.
type comparer struct {
	mb      *client.Mailbox
	opts    Options
	src     client.Source
	caps    client.Capabilities
	target  *client.Envelope // largest message with an attachment
	tree    *client.Part
	deleted *client.Envelope
	dialErr error
	// restoreErr is set when a flag changed for the second-device row
	// could not be put back: the mailbox is left changed.
	restoreErr error
}

func (c *comparer) measure(op string, fn func() error) (client.Counts, error) {
	return c.mb.Opts.Stats.Measure(op, fn)
}

func failed(did string, counts client.Counts, err error) ScenarioSide {
	return ScenarioSide{Supported: true, Did: did, Counts: counts, Error: err.Error()}
}

func unsupported(c client.Capabilities, f client.Feature) ScenarioSide {
	return ScenarioSide{Supported: false, Did: "not possible: " + c.Features[f].How}
}

func (c *comparer) connect(ctx context.Context) ScenarioSide {
	counts, err := c.measure("connect", func() error {
		src, err := c.mb.Source(ctx)
		c.src, c.dialErr = src, err
		return err
	})
	if err != nil {
		return failed("connect", counts, err)
	}
	// Connected: this answers from the session, without a round trip.
	caps, err := c.mb.Capabilities(ctx)
	if err != nil {
		return failed("connect", counts, err)
	}
	c.caps = caps
	tls := c.caps.TLS // "TLS 1.3 (implicit)" already says TLS
	if tls == "none" || tls == "" {
		tls = "no TLS"
	}
	return ScenarioSide{Supported: true, Did: fmt.Sprintf("greeting, %s, login", tls), Counts: counts}
}

func (c *comparer) ready() bool { return c.src != nil }

func notConnected(c *comparer) ScenarioSide {
	return ScenarioSide{Did: "not connected", Error: fmt.Sprint(c.dialErr)}
}

func (c *comparer) list(ctx context.Context) ScenarioSide {
	if !c.ready() {
		return notConnected(c)
	}
	f := client.FeatureHeadersFirst
	if !c.caps.Has(f) {
		f = client.FeatureHeadersOnly
	}
	if !c.caps.Has(f) {
		return unsupported(c.caps, client.FeatureHeadersOnly)
	}
	n := 0
	counts, err := c.measure("compare list", func() error {
		_, err := c.src.List(ctx, client.FolderRef{Name: client.Inbox}, client.ListOptions{Limit: c.opts.ListCount}, func(client.Envelope) error {
			n++
			return nil
		})
		return err
	})
	if err != nil {
		return failed(c.caps.Features[f].How, counts, err)
	}
	return ScenarioSide{Supported: true, Did: c.caps.Features[f].How, Result: fmt.Sprintf("%d envelopes", n), Counts: counts}
}

// choose finds the largest message whose headers show an attachment. The
// search itself is not part of any measured row.
func (c *comparer) choose(ctx context.Context) error {
	if c.target != nil {
		return nil
	}
	_, items, err := c.src.Inventory(ctx, client.FolderRef{Name: client.Inbox}, client.InventoryOptions{})
	if err != nil {
		return err
	}
	sort.SliceStable(items, func(i, j int) bool { return items[i].Size > items[j].Size })
	const candidates = 25
	var ids []string
	for _, it := range items[:min(candidates, len(items))] {
		ids = append(ids, it.ID)
	}
	if len(ids) == 0 {
		return fmt.Errorf("the inbox is empty")
	}
	sizes := map[string]int64{}
	for _, it := range items {
		sizes[it.ID] = it.Size
	}
	var best *client.Envelope
	_, err = c.src.List(ctx, client.FolderRef{Name: client.Inbox}, client.ListOptions{IDs: ids}, func(e client.Envelope) error {
		if e.Size == 0 {
			e.Size = sizes[e.ID]
		}
		if e.HasAttachments && (best == nil || e.Size > best.Size) {
			best = &e
		}
		return nil
	})
	if err != nil && !errors.Is(err, client.ErrUnsupported) {
		return err
	}
	if best == nil {
		// No headers to go by: the largest message is the likeliest.
		best = &client.Envelope{ID: items[0].ID, Size: items[0].Size}
	}
	c.target = best
	return nil
}

func describe(e *client.Envelope) string {
	subj := e.Subject
	if len(subj) > 40 {
		cut := 40
		for cut > 0 && !utf8.RuneStart(subj[cut]) {
			cut-- // not inside a character
		}
		subj = subj[:cut] + "..."
	}
	if subj == "" {
		return fmt.Sprintf("message %s (%s)", e.ID, bytesize.Format(e.Size))
	}
	return fmt.Sprintf("%q (%s)", subj, bytesize.Format(e.Size))
}

func (c *comparer) readText(ctx context.Context) ScenarioSide {
	if !c.ready() {
		return notConnected(c)
	}
	if err := c.choose(ctx); err != nil {
		return failed("choose a message", client.Counts{}, err)
	}
	ref := client.FolderRef{Name: client.Inbox}
	var text bytes.Buffer
	var warning error // the text shows, but not all of it was understood
	if c.caps.Has(client.FeaturePartialFetch) {
		did := "BODYSTRUCTURE, then " + c.caps.Features[client.FeaturePartialFetch].How + " of the text part"
		counts, err := c.measure("compare read text", func() error {
			_, tree, err := c.src.Structure(ctx, ref, c.target.ID)
			if err != nil {
				return err
			}
			c.tree = tree
			p := tree.TextPart()
			if p == nil {
				return fmt.Errorf("no text part")
			}
			var raw bytes.Buffer
			if _, err := c.src.FetchPart(ctx, ref, c.target.ID, p.Path, &raw); err != nil {
				return err
			}
			warning, err = mimepart.WriteText(p, &raw, &text)
			return err
		})
		if err != nil {
			return failed(did, counts, err)
		}
		return ScenarioSide{Supported: true, Did: did, Result: textResult(text.Len(), c.target, warning), Counts: counts}
	}
	did := "the whole message (" + c.caps.Features[client.FeaturePartialFetch].How + ")"
	counts, err := c.measure("compare read text", func() error {
		var raw bytes.Buffer
		if err := c.downloadOne(ctx, &raw); err != nil {
			return err
		}
		_, tree, err := mimepart.ParseMessage(bytes.NewReader(raw.Bytes()))
		if err != nil {
			return err
		}
		c.tree = tree
		p := tree.TextPart()
		if p == nil {
			return nil // the row then says 0 B of text
		}
		var body bytes.Buffer
		if _, err := mimepart.CopyPart(bytes.NewReader(raw.Bytes()), p.Path, &body); err != nil {
			return err
		}
		warning, err = mimepart.WriteText(p, &body, &text)
		return err
	})
	if err != nil {
		return failed(did, counts, err)
	}
	return ScenarioSide{Supported: true, Did: did, Result: textResult(text.Len(), c.target, warning), Counts: counts}
}

// textResult says how much text was read from which message, and what of
// it could not be decoded.
func textResult(n int, from *client.Envelope, warning error) string {
	s := fmt.Sprintf("%s of text from %s", bytesize.Format(int64(n)), describe(from))
	if warning != nil {
		s += " (" + warning.Error() + ")"
	}
	return s
}

func (c *comparer) downloadOne(ctx context.Context, w io.Writer) error {
	got := false
	err := c.src.Download(ctx, client.FolderRef{Name: client.Inbox}, []string{c.target.ID}, func(_ string, _ int64, r io.Reader) error {
		got = true
		_, err := io.Copy(w, r)
		return err
	})
	if err == nil && !got {
		err = client.ErrNotFound
	}
	return err
}

func (c *comparer) attachment(ctx context.Context) ScenarioSide {
	if !c.ready() {
		return notConnected(c)
	}
	if c.target == nil || c.tree == nil {
		return ScenarioSide{Did: "skipped: no message chosen"}
	}
	atts := c.tree.Attachments()
	if len(atts) == 0 {
		return ScenarioSide{Supported: true, Did: "skipped", Result: describe(c.target) + " has no attachment"}
	}
	att := atts[0]
	var decoded iocount.Writer // counts only
	var warning error
	if c.caps.Has(client.FeaturePartialFetch) {
		did := c.caps.Features[client.FeaturePartialFetch].How + " of part " + att.Path
		counts, err := c.measure("compare attachment", func() error {
			var err error
			warning, err = decodeFrom(att, &decoded, func(w io.Writer) error {
				_, err := c.src.FetchPart(ctx, client.FolderRef{Name: client.Inbox}, c.target.ID, att.Path, w)
				return err
			})
			return err
		})
		if err != nil {
			return failed(did, counts, err)
		}
		return ScenarioSide{Supported: true, Did: did, Result: attachmentResult(att, decoded.N, warning), Counts: counts}
	}
	did := "the whole message again (" + c.caps.Features[client.FeaturePartialFetch].How + ")"
	counts, err := c.measure("compare attachment", func() error {
		var raw bytes.Buffer
		if err := c.downloadOne(ctx, &raw); err != nil {
			return err
		}
		var err error
		warning, err = decodeFrom(att, &decoded, func(w io.Writer) error {
			_, err := mimepart.CopyPart(bytes.NewReader(raw.Bytes()), att.Path, w)
			return err
		})
		return err
	})
	if err != nil {
		return failed(did, counts, err)
	}
	return ScenarioSide{Supported: true, Did: did, Result: attachmentResult(att, decoded.N, warning), Counts: counts}
}

func (c *comparer) folders(ctx context.Context) ScenarioSide {
	if !c.ready() {
		return notConnected(c)
	}
	if !c.caps.Has(client.FeatureFolders) {
		return unsupported(c.caps, client.FeatureFolders)
	}
	var names []string
	counts, err := c.measure("compare folders", func() error {
		fs, err := c.src.Folders(ctx)
		for _, f := range fs {
			names = append(names, f.Name)
		}
		return err
	})
	did := c.caps.Features[client.FeatureFolders].How
	if err != nil {
		return failed(did, counts, err)
	}
	return ScenarioSide{Supported: true, Did: did, Result: fmt.Sprintf("%d folders: %s", len(names), strings.Join(names, ", ")), Counts: counts}
}

func (c *comparer) otherDevice(ctx context.Context) ScenarioSide {
	if !c.ready() {
		return notConnected(c)
	}
	if !c.caps.Has(client.FeatureServerFlags) {
		return unsupported(c.caps, client.FeatureServerFlags)
	}
	if c.target == nil {
		return ScenarioSide{Did: "skipped: no message chosen"}
	}
	ref := client.FolderRef{Name: client.Inbox}
	id := c.target.ID
	var wasSeen, observed bool
	// The starting state is read outside the measurement. Without it the
	// flag could not be put back, so nothing is changed.
	_, err := c.src.List(ctx, ref, client.ListOptions{IDs: []string{id}}, func(e client.Envelope) error {
		wasSeen = client.HasFlag(e.Flags, client.FlagSeen)
		return nil
	})
	if err != nil {
		return failed("read the flags of message "+id, client.Counts{}, err)
	}
	op, undo := client.FlagAdd, client.FlagRemove
	if wasSeen {
		op, undo = client.FlagRemove, client.FlagAdd // mark unread instead, then restore
	}
	did := "STORE on one connection, FETCH FLAGS on a fresh one (" + c.caps.Features[client.FeatureServerFlags].How + ")"
	counts, err := c.measure("compare second device", func() error {
		if err := c.src.SetFlags(ctx, ref, []string{id}, op, []client.Flag{client.FlagSeen}); err != nil {
			return err
		}
		other, err := c.mb.Driver.Dial(ctx, c.mb.Account, c.mb.Opts)
		if err != nil {
			return err
		}
		_, err = other.List(ctx, ref, client.ListOptions{IDs: []string{id}}, func(e client.Envelope) error {
			observed = client.HasFlag(e.Flags, client.FlagSeen) != wasSeen
			return nil
		})
		return errors.Join(err, other.Close())
	})
	// Put the flag back whatever happened above: compare promises to
	// change nothing, so a failure here fails the whole comparison.
	if rerr := c.src.SetFlags(ctx, ref, []string{id}, undo, []client.Flag{client.FlagSeen}); rerr != nil {
		c.restoreErr = fmt.Errorf("could not restore the seen flag of message %s: %w", id, rerr)
		err = errors.Join(err, c.restoreErr)
	}
	if err != nil {
		return failed(did, counts, err)
	}
	result := "the second connection saw the change (flag restored afterwards)"
	if !observed {
		result = "the second connection did NOT see the change"
	}
	return ScenarioSide{Supported: true, Did: did, Result: result, Counts: counts}
}

func (c *comparer) where(ctx context.Context) ScenarioSide {
	if !c.ready() {
		return notConnected(c)
	}
	if c.target == nil {
		return ScenarioSide{Did: "skipped: no message chosen"}
	}
	// A fresh session looks at the server as it is now: a POP3 session
	// only ever sees the mailbox as it was when it began.
	var still bool
	counts, err := c.measure("compare where", func() error {
		fresh, err := c.mb.Driver.Dial(ctx, c.mb.Account, c.mb.Opts)
		if err != nil {
			return err
		}
		_, items, err := fresh.Inventory(ctx, client.FolderRef{Name: client.Inbox}, client.InventoryOptions{})
		for _, it := range items {
			still = still || it.ID == c.target.ID
		}
		return errors.Join(err, fresh.Close())
	})
	if err != nil {
		return failed("check the server on a fresh connection", counts, err)
	}
	acct := c.mb.Account
	policy := c.caps.Features[client.FeatureMailOnServer].How
	switch {
	case c.caps.Has(client.FeatureMailOnServer):
	case !acct.KeepOnServer:
		policy += "; this account deletes from the server after download (keep_on_server = false)"
	case acct.KeepDays > 0:
		policy += fmt.Sprintf("; this account deletes from the server %d days after download", acct.KeepDays)
	default:
		policy += "; this account keeps a server copy (keep_on_server = true)"
	}
	result := "after reading, the message is still on the server (checked on a fresh connection)"
	if !still {
		result = "after reading, the message is no longer on the server (checked on a fresh connection)"
	}
	return ScenarioSide{Supported: true, Did: policy, Result: result, Counts: counts}
}

func (c *comparer) delete(ctx context.Context, takenByOther *client.Envelope) ScenarioSide {
	if !c.ready() {
		return notConnected(c)
	}
	if !c.caps.Has(client.FeatureDeleteNoDownload) {
		return unsupported(c.caps, client.FeatureDeleteNoDownload)
	}
	how := c.caps.Features[client.FeatureExpunge].How
	if !c.opts.WithDelete {
		return ScenarioSide{Supported: true, Did: "would send: " + how + " (run with --with-delete to measure)"}
	}
	// The oldest message that is not the one read above nor the one the
	// other side deleted.
	_, items, err := c.src.Inventory(ctx, client.FolderRef{Name: client.Inbox}, client.InventoryOptions{})
	if err != nil {
		return failed(how, client.Counts{}, err)
	}
	victim := c.chooseVictim(ctx, items, takenByOther)
	if victim == nil {
		return ScenarioSide{Supported: true, Did: how, Result: "no message left to delete"}
	}
	counts, err := c.measure("compare delete", func() error {
		res, err := c.src.Delete(ctx, client.FolderRef{Name: client.Inbox}, []string{victim.ID}, client.DeleteOptions{Expunge: true})
		if err != nil {
			return err
		}
		if res.Pending {
			// The deletion only happens when the session ends: that is
			// part of its cost.
			err := c.mb.Close()
			c.src = nil
			return err
		}
		return nil
	})
	if err != nil {
		return failed(how, counts, err)
	}
	c.deleted = victim
	return ScenarioSide{Supported: true, Did: how, Result: "deleted " + describe(victim), Counts: counts}
}

// chooseVictim picks the oldest message that is neither the one read above
// nor the one the other side deleted (recognised by Message-ID where the
// headers can be had, else by size).
func (c *comparer) chooseVictim(ctx context.Context, items []client.Item, takenByOther *client.Envelope) *client.Envelope {
	const look = 5
	var ids []string
	for _, it := range items {
		if c.target != nil && it.ID == c.target.ID {
			continue
		}
		ids = append(ids, it.ID)
		if len(ids) == look {
			break
		}
	}
	// Headers only help to recognise the other side's message, so a
	// failed listing is not the row's failure: a server without TOP, or a
	// POP3 session that still lists a message the IMAP side just expunged
	// (its TOP then fails), leaves sizes to tell the messages apart for
	// those not listed. A broken connection shows in the delete itself.
	envs := map[string]client.Envelope{}
	_, _ = c.src.List(ctx, client.FolderRef{Name: client.Inbox}, client.ListOptions{IDs: ids}, func(e client.Envelope) error {
		envs[e.ID] = e
		return nil
	})
	for _, it := range items {
		if !slices.Contains(ids, it.ID) {
			continue
		}
		e, known := envs[it.ID]
		if !known {
			e = client.Envelope{ID: it.ID}
		}
		e.Size = it.Size
		if takenByOther != nil {
			if takenByOther.MessageID != "" && e.MessageID != "" {
				if e.MessageID == takenByOther.MessageID {
					continue
				}
			} else if e.Size == takenByOther.Size {
				continue
			}
		}
		return &e
	}
	return nil
}

// decodeFrom decodes part p into w as produce writes its encoded body.
// warning says what of the encoding or charset was not understood.
func decodeFrom(p *client.Part, w io.Writer, produce func(io.Writer) error) (warning, err error) {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := produce(pw)
		pw.CloseWithError(err)
		done <- err
	}()
	dr, warning := mimepart.DecodePart(p, pr)
	_, err = io.Copy(w, dr)
	// Read what the decoder left, so the producer finishes before the
	// session is used again; a failure here is the producer's, from done.
	_, _ = io.Copy(io.Discard, pr)
	if perr := <-done; perr != nil {
		return warning, perr
	}
	return warning, err
}

// attachmentResult names the attachment and its decoded size, and what of
// it could not be decoded.
func attachmentResult(att *client.Part, decoded int64, warning error) string {
	s := fmt.Sprintf("%s (%s decoded)", att.Filename, bytesize.Format(decoded))
	if warning != nil {
		s += " (" + warning.Error() + ")"
	}
	return s
}
