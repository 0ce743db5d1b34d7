package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/duomail/duomail/client/iocount"
)

// nowFunc is the clock sync records and retention by age compare with;
// tests move it.
var nowFunc = time.Now

// Mailbox is one account as the commands see it: a Source, dialled on first
// use, and the account's cache. Its methods are the operations users ask
// for; each decides from the Source's Capabilities how to carry them out, so
// the same call lists headers from an IMAP server and syncs-then-lists for
// POP3.
type Mailbox struct {
	Account *Account
	Driver  Driver
	Opts    DialOptions
	Cache   Cache

	src  Source
	caps Capabilities
}

// Driver is one protocol implementation as the orchestration needs it.
type Driver struct {
	Dial Dialer
	// Baseline holds the features that do not depend on the server (POP3
	// never keeps flags on the server), so decisions about them need no
	// connection. Features missing here are learned by connecting.
	Baseline Capabilities
}

// NewMailbox ties an account to its protocol driver and cache. Nothing is
// dialled yet.
func NewMailbox(acct *Account, drv Driver, cache Cache, opts DialOptions) *Mailbox {
	return &Mailbox{Account: acct, Driver: drv, Cache: cache, Opts: opts}
}

// feature answers whether f is supported, from the live connection when
// there is one, else from the baseline, else by connecting.
func (m *Mailbox) feature(ctx context.Context, f Feature) (Support, error) {
	if m.src != nil {
		return m.caps.Features[f], nil
	}
	if s, ok := m.Driver.Baseline.Features[f]; ok {
		return s, nil
	}
	if _, err := m.Source(ctx); err != nil {
		return Support{}, err
	}
	return m.caps.Features[f], nil
}

// Source returns the connected Source, dialling and logging in on first use.
func (m *Mailbox) Source(ctx context.Context) (Source, error) {
	if m.src != nil {
		return m.src, nil
	}
	if m.Driver.Dial == nil {
		return nil, fmt.Errorf("account %s: no driver for protocol %q", m.Account.Name, m.Account.Protocol)
	}
	opts := m.Opts
	if opts.Roles == nil && m.Cache != nil {
		opts.Roles = m.Cache
	}
	src, err := m.Driver.Dial(ctx, m.Account, opts)
	if err != nil {
		return nil, err
	}
	m.src, m.caps = src, src.Capabilities()
	return src, nil
}

// require returns nil when f is supported and otherwise the error that says
// why, without connecting when the baseline already knows.
func (m *Mailbox) require(ctx context.Context, op string, f Feature) error {
	s, err := m.feature(ctx, f)
	if err != nil {
		return err
	}
	if s.Supported {
		return nil
	}
	caps := Capabilities{Protocol: m.Account.Protocol, Features: map[Feature]Support{f: s}}
	return caps.Require(op, f)
}

// Capabilities connects if needed and reports what the server allows.
func (m *Mailbox) Capabilities(ctx context.Context) (Capabilities, error) {
	if _, err := m.Source(ctx); err != nil {
		return Capabilities{}, err
	}
	return m.caps, nil
}

// FullCapabilities is Capabilities with the folder roles looked up, which
// other operations do only when they need them: the Trash is described
// exactly, at the cost of a folder listing.
func (m *Mailbox) FullCapabilities(ctx context.Context) (Capabilities, error) {
	src, err := m.Source(ctx)
	if err != nil {
		return Capabilities{}, err
	}
	if r, ok := src.(RoleResolver); ok {
		if err := r.ResolveRoles(ctx); err != nil {
			return Capabilities{}, err
		}
		m.caps = src.Capabilities()
	}
	return m.caps, nil
}

// Close ends the server session. For POP3 this is what commits deletions,
// so its error matters.
func (m *Mailbox) Close() error {
	if m.src == nil {
		return nil
	}
	err := m.src.Close()
	m.src = nil
	return err
}

// FolderName normalises a folder as a user gives it: empty means the
// inbox, and any spelling of INBOX is the inbox (RFC 3501 5.1), so that it
// is shown, and its state found, under one name.
func FolderName(folder string) string {
	if folder == "" || strings.EqualFold(folder, Inbox) {
		return Inbox
	}
	return folder
}

// Ref returns the folder (empty or any spelling of INBOX meaning the inbox)
// with the UIDVALIDITY its cached IDs belong to, so a Source refuses to act
// on IDs from before a UIDVALIDITY change.
func (m *Mailbox) Ref(ctx context.Context, folder string) (FolderRef, error) {
	folder = FolderName(folder)
	st, err := m.Cache.State(ctx, folder)
	if err != nil {
		return FolderRef{}, err
	}
	return FolderRef{Name: folder, UIDValidity: st.UIDValidity}, nil
}

// adoptValidity records a folder's UIDVALIDITY in the cache, re-keying the
// folder when it changed, so IDs shown to the user can be checked later.
func (m *Mailbox) adoptValidity(ctx context.Context, folder string, uidValidity uint32) error {
	if uidValidity == 0 {
		return nil
	}
	st, err := m.Cache.State(ctx, folder)
	if err != nil {
		return err
	}
	if st.UIDValidity == uidValidity {
		return nil
	}
	return m.Cache.Reset(ctx, folder, uidValidity)
}

// Folders lists the server's folders. Where the server cannot count unseen
// mail (POP3 keeps no flags), the count comes from what the cache knows:
// messages on the server that are not cached, or cached without "seen".
func (m *Mailbox) Folders(ctx context.Context) ([]Folder, error) {
	defer m.Opts.Stats.Begin("folders")()
	src, err := m.Source(ctx)
	if err != nil {
		return nil, err
	}
	folders, err := src.Folders(ctx)
	if err != nil {
		return nil, fmt.Errorf("folders: %w", err)
	}
	for i, f := range folders {
		if f.Unseen >= 0 {
			continue
		}
		unseen, err := m.unseenFromCache(ctx, src, f.Name)
		if err != nil {
			return nil, err
		}
		folders[i].Unseen = unseen
	}
	return folders, nil
}

func (m *Mailbox) unseenFromCache(ctx context.Context, src Source, folder string) (int, error) {
	_, items, err := src.Inventory(ctx, FolderRef{Name: folder}, InventoryOptions{})
	if err != nil {
		return 0, fmt.Errorf("count unseen in %s: %w", folder, err)
	}
	entries, err := m.Cache.Entries(ctx, folder)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, it := range items {
		if e, ok := entries[it.ID]; !ok || !HasFlag(e.Flags, FlagSeen) {
			n++
		}
	}
	return n, nil
}

// ListRequest selects what list shows.
type ListRequest struct {
	Folder string
	Limit  int  // 0 = all
	Unseen bool // only messages without "seen"
	// Offline answers from the cache without connecting.
	Offline bool
	// HeadersOnly lists from headers alone where the protocol's normal
	// listing downloads whole messages (POP3 TOP n 0). Opt-in.
	HeadersOnly bool
	// Progress, when set, is told how a sync that list runs first advances.
	Progress func(Progress)
	// Offset skips that many of the ordered messages; Sort and Reverse
	// order them (zero: newest first).
	Offset  int
	Sort    SortKey
	Reverse bool
}

// List returns envelopes newest first. On a server that lists headers
// first (IMAP) they come from the server and are written to the cache; on
// one that downloads whole messages (POP3) new mail is synced into the cache
// first and the list comes from the cache. ListEach is the same without
// holding the listing in memory.
func (m *Mailbox) List(ctx context.Context, req ListRequest) ([]Envelope, error) {
	var out []Envelope
	err := m.ListEach(ctx, req, func(e Envelope) error {
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ListEach calls fn with each envelope of List as soon as it is known, so
// that memory stays flat however large the folder. An error from fn stops
// the listing and is returned.
func (m *Mailbox) ListEach(ctx context.Context, req ListRequest, fn func(Envelope) error) error {
	_, err := m.ListCounted(ctx, req, fn)
	return err
}

// ListCounted is ListEach that also returns how many messages the listing
// has without Offset and Limit (-1 when that is not known without asking
// again), so a user can be told how much a limit cut off.
func (m *Mailbox) ListCounted(ctx context.Context, req ListRequest, fn func(Envelope) error) (int, error) {
	folder := FolderName(req.Folder)
	opts := ListOptions{Limit: req.Limit, Unseen: req.Unseen, Offset: req.Offset, Sort: req.Sort, Reverse: req.Reverse}
	if req.Offline {
		return m.listCache(ctx, folder, opts, fn)
	}
	end := m.Opts.Stats.Begin("list")
	defer end()
	src, err := m.Source(ctx)
	if err != nil {
		return -1, err
	}
	switch {
	case m.caps.Has(FeatureHeadersFirst):
		return m.listServer(ctx, src, folder, opts, fn)
	case req.HeadersOnly:
		if err := m.caps.Require("list --headers-only", FeatureHeadersOnly); err != nil {
			return -1, err
		}
		if req.Unseen {
			return -1, Unsupported("list --headers-only --unseen", m.caps.Features[FeatureServerFlags].How)
		}
		return m.listServer(ctx, src, folder, opts, fn)
	}
	if _, err := m.sync(ctx, folder, SyncOptions{Progress: req.Progress}); err != nil {
		return -1, err
	}
	return m.listCache(ctx, folder, opts, fn)
}

// cacheCounts counts a folder's cached messages without listing them.
type cacheCounts interface {
	Counts(ctx context.Context, folder string) (total, unseen int, err error)
}

func (m *Mailbox) listCache(ctx context.Context, folder string, opts ListOptions, fn func(Envelope) error) (int, error) {
	var fnErr error
	n := 0
	err := m.Cache.List(ctx, folder, opts, func(e Envelope) error {
		n++
		if err := fn(e); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return -1, fnErr
	}
	if err != nil {
		return -1, fmt.Errorf("list %s from cache: %w", folder, err)
	}
	if opts.Offset == 0 && (opts.Limit == 0 || n < opts.Limit) {
		return n, nil
	}
	cc, ok := m.Cache.(cacheCounts)
	if !ok {
		return -1, nil
	}
	total, unseen, err := cc.Counts(ctx, folder)
	if err != nil {
		return -1, fmt.Errorf("list %s from cache: %w", folder, err)
	}
	if opts.Unseen {
		return unseen, nil
	}
	return total, nil
}

// Listed envelopes are recorded in the cache in batches of at least
// minWriteThroughBatch, handed to the writer whenever it can take one, and
// of at most writeThroughBatch, where the listing waits for it: storing
// overlaps fetching even in a folder of a few thousand (with fixed batches
// of 2,000 it began only when such a listing was over), a writer that
// falls behind gets large batches (few transactions), and memory stays
// bounded. A sync's envelope fetch, which prints nothing as it goes,
// stores batches of up to firstSyncBatch.
const (
	minWriteThroughBatch = 250
	writeThroughBatch    = 2000
	firstSyncBatch       = 5000
)

// listServer lists from the server; the total is the folder's count when
// every message is listed (not --unseen). IMAP envelopes are recorded in
// the cache by a writer of their own while the listing goes on, so the
// disk's waits do not stall the network; envelopes the cache already
// holds are not fetched again (only their flags are).
func (m *Mailbox) listServer(ctx context.Context, src Source, folder string, opts ListOptions, fn func(Envelope) error) (int, error) {
	var (
		ordered []Envelope // POP3: kept to be recorded oldest first
		fnErr   error
		writer  *envelopeWriter // IMAP: recorded in batches, in any order
	)
	// A cache that held nothing of this UIDVALIDITY when the listing began
	// is not asked chunk by chunk (a first listing of a large folder).
	var cacheValidity *uint32
	opts.Known = func(uidValidity uint32, ids []string) (map[string]Envelope, error) {
		if cacheValidity == nil {
			st, err := m.Cache.State(ctx, folder)
			if err != nil {
				return nil, err
			}
			cacheValidity = &st.UIDValidity
		}
		if *cacheValidity != uidValidity {
			return nil, nil
		}
		return m.knownEnvelopes(ctx, folder, uidValidity, ids)
	}
	defer func() {
		if writer != nil {
			writer.close(false)
		}
	}()
	st, err := src.List(ctx, FolderRef{Name: folder}, opts, func(e Envelope) error {
		if err := fn(e); err != nil {
			fnErr = err
			return err
		}
		if e.UIDValidity == 0 {
			// Without UIDs the cache orders by insertion: keep them to
			// record oldest first (POP3 TOP, bounded by the server anyway).
			ordered = append(ordered, e)
			return nil
		}
		if writer == nil {
			writer = m.startEnvelopeWriter(ctx, folder, e.UIDValidity)
		}
		writer.add(e)
		return nil
	})
	if fnErr != nil {
		return -1, fnErr
	}
	if err != nil {
		return -1, fmt.Errorf("list %s: %w", folder, err)
	}
	total := st.Messages
	if opts.Unseen {
		total = -1
	}
	if writer == nil {
		writer = m.startEnvelopeWriter(ctx, folder, st.UIDValidity)
	}
	err = writer.close(true)
	writer = nil
	if err != nil {
		return -1, err
	}
	if len(ordered) == 0 {
		return total, nil
	}
	// Write-through, oldest first, so a POP3 folder keeps arrival order.
	slices.Reverse(ordered)
	for i := range ordered {
		ordered[i].UIDValidity = st.UIDValidity
	}
	if err := m.Cache.PutEnvelopes(ctx, folder, ordered); err != nil {
		return -1, fmt.Errorf("list %s: record in cache: %w", folder, err)
	}
	return total, nil
}

// knownEnvelopes returns the cached envelopes among ids, for the folder
// under uidValidity (none when the cache holds another UIDVALIDITY).
func (m *Mailbox) knownEnvelopes(ctx context.Context, folder string, uidValidity uint32, ids []string) (map[string]Envelope, error) {
	out := make(map[string]Envelope, len(ids))
	err := m.Cache.List(ctx, folder, ListOptions{IDs: ids}, func(e Envelope) error {
		if e.UIDValidity == uidValidity {
			out[e.ID] = e
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: look up cached envelopes: %w", folder, err)
	}
	return out, nil
}

// envelopeWriter records listed envelopes in the cache on a goroutine of
// its own, one batch waiting at most, so a listing holds bounded memory.
type envelopeWriter struct {
	batches  chan []Envelope
	done     chan error
	gathered []Envelope // the batch not yet handed over
	maxBatch int
	err      error
	closed   bool
}

// newEnvelopeWriter starts a writer that runs prepare, then store for
// each batch of at most maxBatch envelopes; after an error it stores no
// more, and close reports the error.
func newEnvelopeWriter(maxBatch int, prepare func() error, store func([]Envelope) error) *envelopeWriter {
	w := &envelopeWriter{batches: make(chan []Envelope, 1), done: make(chan error, 1), maxBatch: maxBatch}
	go func() {
		err := prepare()
		for envs := range w.batches {
			if err == nil {
				err = store(envs)
			}
		}
		w.done <- err
	}()
	return w
}

// startEnvelopeWriter starts a writer for a listing that first makes the
// cache adopt uidValidity (forgetting what it held under another).
func (m *Mailbox) startEnvelopeWriter(ctx context.Context, folder string, uidValidity uint32) *envelopeWriter {
	return newEnvelopeWriter(writeThroughBatch,
		func() error { return m.adoptValidity(ctx, folder, uidValidity) },
		func(envs []Envelope) error {
			if err := m.Cache.PutEnvelopes(ctx, folder, envs); err != nil {
				return fmt.Errorf("list %s: record in cache: %w", folder, err)
			}
			return nil
		})
}

// add gathers e and hands the gathered batch over when the writer can take
// it (minWriteThroughBatch or more), or waits for the writer when the
// batch is full.
func (w *envelopeWriter) add(e Envelope) {
	w.gathered = append(w.gathered, e)
	if len(w.gathered) >= w.maxBatch {
		w.batches <- w.gathered
		w.gathered = nil
		return
	}
	if len(w.gathered) >= minWriteThroughBatch {
		select {
		case w.batches <- w.gathered:
			w.gathered = nil
		default:
		}
	}
}

// close waits until every batch handed over is recorded, and the one
// still gathered too when flush is set, and returns the first error.
func (w *envelopeWriter) close(flush bool) error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if flush && len(w.gathered) > 0 {
		w.batches <- w.gathered
	}
	w.gathered = nil
	close(w.batches)
	w.err = <-w.done
	return w.err
}

// Progress reports how a sync advances, for a progress bar.
type Progress struct {
	Folder        string
	Messages      int // downloaded so far
	TotalMessages int // to download in this run
	Bytes         int64
	TotalBytes    int64 // 0 when the server did not give sizes
}

// SyncOptions control Sync.
type SyncOptions struct {
	// Bodies copies every message whole into the Maildir, even on a server
	// that keeps mail (IMAP, like mbsync). POP3 always downloads whole.
	Bodies   bool
	Progress func(Progress)
}

// SyncReport says what a sync did.
type SyncReport struct {
	Folder      string `json:"folder"`
	OnServer    int    `json:"on_server"`    // messages on the server after the sync
	New         int    `json:"new"`          // envelopes not seen before
	Downloaded  int    `json:"downloaded"`   // whole messages stored
	Bytes       int64  `json:"bytes"`        // bytes of those messages
	Deleted     int    `json:"deleted"`      // removed from the server by retention
	Vanished    int    `json:"vanished"`     // gone from the server since the last sync
	FlagChanges int    `json:"flag_changes"` // messages whose server flags changed
	Unchanged   bool   `json:"unchanged"`    // the server said nothing changed; nothing fetched
}

// Sync brings the cache of one folder up to date. For a server that keeps
// mail (IMAP) it fetches only what changed — envelopes of new UIDs, flags
// changed since the last HIGHESTMODSEQ (or all flags without CONDSTORE),
// forgets what vanished — and with Bodies copies whole messages. For POP3 it
// downloads every message whose UIDL is not cached, makes each durable in
// the cache, and only then applies the account's retention (DELE), which
// the server commits at QUIT.
func (m *Mailbox) Sync(ctx context.Context, folder string, opts SyncOptions) (SyncReport, error) {
	defer m.Opts.Stats.Begin("sync")()
	return m.sync(ctx, FolderName(folder), opts)
}

// dropLost tells the user about messages whose only copy, the cache's,
// was deleted outside duomail, and then forgets them: they can be neither
// listed nor fetched any more.
func (m *Mailbox) dropLost(ctx context.Context, folder string, entries map[string]Entry, onServer map[string]bool) error {
	var lost []string
	for id, e := range entries {
		if e.Lost && !onServer[id] {
			lost = append(lost, id)
		}
	}
	if len(lost) == 0 {
		return nil
	}
	slices.Sort(lost)
	for _, id := range lost {
		m.Opts.Warnf("%s: the local copy of message %s is missing from the cache (deleted outside duomail?) and it is no longer on the server; forgetting it", folder, id)
		delete(entries, id)
	}
	if err := m.Cache.Remove(ctx, folder, lost); err != nil {
		return fmt.Errorf("sync %s: forget lost messages: %w", folder, err)
	}
	return nil
}

// downloadBatch is how many messages or bytes are made durable at once:
// large enough that one sync of the filesystem covers many files, small
// enough that a crash re-downloads little.
const (
	downloadBatchMessages = 256
	downloadBatchBytes    = 64 << 20
)

func (m *Mailbox) sync(ctx context.Context, folder string, opts SyncOptions) (SyncReport, error) {
	rep := SyncReport{Folder: folder}
	unlock, err := m.Cache.Lock(ctx)
	if err != nil {
		return rep, fmt.Errorf("sync %s: %w", folder, err)
	}
	defer unlock()
	src, err := m.Source(ctx)
	if err != nil {
		return rep, err
	}
	mirror := m.caps.Has(FeatureMailOnServer)

	prev, err := m.Cache.State(ctx, folder)
	if err != nil {
		return rep, err
	}
	status := src.Status
	if ex, ok := src.(Examiner); ok {
		status = ex.Examine // a sync needs the markers, not the unseen count
	}
	st, err := status(ctx, folder)
	if err != nil {
		return rep, fmt.Errorf("sync %s: %w", folder, err)
	}
	if prev.UIDValidity != st.UIDValidity {
		if err := m.Cache.Reset(ctx, folder, st.UIDValidity); err != nil {
			return rep, err
		}
		prev = SyncState{UIDValidity: st.UIDValidity}
	}
	ref := FolderRef{Name: folder, UIDValidity: st.UIDValidity}

	// With change tracking the status alone can prove nothing changed.
	if mirror && (!opts.Bodies || prev.Bodies) && m.caps.Has(FeatureChangeTracking) && !prev.LastSync.IsZero() &&
		st.HighestModSeq != 0 && st.HighestModSeq == prev.HighestModSeq &&
		st.UIDNext == prev.UIDNext && st.Messages == prev.Messages {
		rep.OnServer, rep.Unchanged = st.Messages, true
		return rep, nil
	}
	if cr, ok := src.(ChangeReader); ok && mirror && m.caps.Has(FeatureChangeTracking) && !prev.LastSync.IsZero() &&
		st.HighestModSeq != 0 && prev.HighestModSeq != 0 && prev.UIDNext != 0 {
		return m.syncChanges(ctx, src, cr, ref, prev, st, opts)
	}
	var invOpts InventoryOptions
	if m.caps.Has(FeatureChangeTracking) && !prev.LastSync.IsZero() {
		invOpts.FlagsChangedSince = prev.HighestModSeq
	}
	st2, items, err := src.Inventory(ctx, ref, invOpts)
	if err != nil {
		return rep, fmt.Errorf("sync %s: %w", folder, err)
	}
	if st2.UIDValidity != st.UIDValidity {
		return rep, fmt.Errorf("sync %s: %w", folder, ErrStaleIDs)
	}
	rep.OnServer = len(items)
	entries, err := m.Cache.Entries(ctx, folder)
	if err != nil {
		return rep, err
	}
	next := SyncState{UIDValidity: st.UIDValidity, UIDNext: st.UIDNext, HighestModSeq: st.HighestModSeq, Messages: len(items)}
	if !mirror {
		if err := m.syncKept(ctx, src, ref, items, entries, opts, &rep); err != nil {
			return rep, err
		}
		next.LastSync = nowFunc()
		return rep, m.Cache.SetState(ctx, folder, next)
	}

	onServer := make(map[string]bool, len(items))
	for _, it := range items {
		onServer[it.ID] = true
	}
	var gone []string
	for id, e := range entries {
		if e.OnServer && !onServer[id] {
			gone = append(gone, id)
		}
	}
	if len(gone) > 0 {
		// A mirror forgets what the server no longer has.
		if err := m.Cache.Remove(ctx, folder, gone); err != nil {
			return rep, err
		}
		rep.Vanished = len(gone)
	}

	var newIDs, needBody []string
	var needBytes int64
	flags := make(map[string][]Flag)
	for _, it := range items {
		e, known := entries[it.ID]
		if !known {
			newIDs = append(newIDs, it.ID)
		}
		if it.Flags != nil {
			flags[it.ID] = it.Flags
		} else if known {
			flags[it.ID] = e.Flags
		}
		if !e.HasBody && opts.Bodies {
			needBody = append(needBody, it.ID)
			needBytes += it.Size
		}
	}
	rep.New = len(newIDs)

	if m.caps.Has(FeatureHeadersFirst) {
		// Envelopes of new mail that is not about to be downloaded whole.
		bodySoon := make(map[string]bool, len(needBody))
		for _, id := range needBody {
			bodySoon[id] = true
		}
		var headersOnly []string
		for _, id := range newIDs {
			if !bodySoon[id] {
				headersOnly = append(headersOnly, id)
			}
		}
		if err := m.fetchEnvelopes(ctx, src, ref, headersOnly); err != nil {
			return rep, err
		}
	}

	// Every message whole in the cache: what lets the next sync --bodies
	// of an unchanged folder stop at the status.
	next.Bodies = opts.Bodies || prev.Bodies && len(newIDs) == 0
	if len(needBody) > 0 {
		n, b, err := m.downloadInto(ctx, src, ref, needBody, flags, needBytes, opts.Progress, nil)
		rep.Downloaded, rep.Bytes = n, b
		if err != nil {
			return rep, fmt.Errorf("sync %s: %w", folder, err)
		}
		if n < len(needBody) {
			next.Bodies = false // some arrived short and were skipped
		}
	}

	if m.caps.Has(FeatureServerFlags) {
		changed := make(map[string][]Flag)
		for _, it := range items {
			e, known := entries[it.ID]
			if it.Flags != nil && known && !sameFlags(e.Flags, it.Flags) {
				changed[it.ID] = it.Flags
			}
		}
		if len(changed) > 0 {
			if err := m.Cache.SetFlags(ctx, folder, changed); err != nil {
				return rep, err
			}
			rep.FlagChanges = len(changed)
		}
	}

	next.LastSync = nowFunc()
	if err := m.Cache.SetState(ctx, folder, next); err != nil {
		return rep, err
	}
	return rep, nil
}

// syncChanges is sync of a mirrored folder whose server tracks changes:
// it asks only for what changed since prev (new UIDs, flags changed since
// the HIGHESTMODSEQ, all UIDs only when something vanished) and reads the
// cache's whole index only when it must compare against it (mail vanished,
// or bodies are wanted and some were missing before).
func (m *Mailbox) syncChanges(ctx context.Context, src Source, cr ChangeReader, ref FolderRef, prev SyncState, st FolderStatus, opts SyncOptions) (SyncReport, error) {
	folder := ref.Name
	rep := SyncReport{Folder: folder}
	ch, err := cr.Changes(ctx, ref, prev, st)
	if err != nil {
		return rep, fmt.Errorf("sync %s: %w", folder, err)
	}
	onServer := st.Messages
	var entries map[string]Entry
	if ch.All != nil || opts.Bodies && !prev.Bodies {
		if entries, err = m.Cache.Entries(ctx, folder); err != nil {
			return rep, err
		}
	}
	if ch.All != nil {
		present := make(map[string]bool, len(ch.All))
		for _, id := range ch.All {
			present[id] = true
		}
		var gone []string
		for id, e := range entries {
			if e.OnServer && !present[id] {
				gone = append(gone, id)
			}
		}
		if len(gone) > 0 {
			// A mirror forgets what the server no longer has.
			if err := m.Cache.Remove(ctx, folder, gone); err != nil {
				return rep, err
			}
			rep.Vanished = len(gone)
			for _, id := range gone {
				delete(entries, id)
			}
		}
		onServer = len(ch.All)
	}
	rep.OnServer = onServer

	flags := make(map[string][]Flag, len(ch.New))
	var newIDs, needBody []string
	var needBytes int64
	for _, it := range ch.New {
		newIDs = append(newIDs, it.ID)
		flags[it.ID] = it.Flags
		if opts.Bodies {
			needBody = append(needBody, it.ID)
			needBytes += it.Size
		}
	}
	rep.New = len(newIDs)
	if opts.Bodies && !prev.Bodies {
		isNew := make(map[string]bool, len(newIDs))
		for _, id := range newIDs {
			isNew[id] = true
		}
		for id, e := range entries {
			if e.OnServer && !e.HasBody && !isNew[id] {
				needBody = append(needBody, id)
				needBytes += e.Size
				flags[id] = e.Flags
			}
		}
		slices.SortFunc(needBody, compareIDs)
	}
	if len(ch.Flags) > 0 {
		changed := make(map[string][]Flag, len(ch.Flags))
		for _, it := range ch.Flags {
			changed[it.ID] = it.Flags
			if _, ok := flags[it.ID]; ok {
				flags[it.ID] = it.Flags
			}
		}
		if err := m.Cache.SetFlags(ctx, folder, changed); err != nil {
			return rep, err
		}
		rep.FlagChanges = len(changed)
	}
	if !opts.Bodies && len(newIDs) > 0 {
		if err := m.fetchEnvelopes(ctx, src, ref, newIDs); err != nil {
			return rep, err
		}
	}
	next := SyncState{UIDValidity: st.UIDValidity, UIDNext: st.UIDNext, HighestModSeq: st.HighestModSeq, Messages: onServer,
		Bodies: opts.Bodies || prev.Bodies && len(newIDs) == 0}
	if len(needBody) > 0 {
		n, b, err := m.downloadInto(ctx, src, ref, needBody, flags, needBytes, opts.Progress, nil)
		rep.Downloaded, rep.Bytes = n, b
		if err != nil {
			return rep, fmt.Errorf("sync %s: %w", folder, err)
		}
		if n < len(needBody) {
			next.Bodies = false // some arrived short and were skipped
		}
	}
	next.LastSync = nowFunc()
	if err := m.Cache.SetState(ctx, folder, next); err != nil {
		return rep, err
	}
	return rep, nil
}

// compareIDs orders IMAP UIDs numerically (shorter decimal first), the
// order a server delivers them in.
func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// fetchEnvelopes lists the envelopes of the given messages and records
// them. One listing streams them from the server while a writer stores
// them in a few large transactions, so the network and the disk work at
// the same time. Each transaction is durable on its own; a run killed
// midway leaves envelopes that the next sync finds known.
func (m *Mailbox) fetchEnvelopes(ctx context.Context, src Source, ref FolderRef, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	writer := newEnvelopeWriter(firstSyncBatch, func() error { return nil },
		func(envs []Envelope) error { return m.Cache.PutEnvelopes(ctx, ref.Name, envs) })
	_, err := src.List(ctx, ref, ListOptions{IDs: ids}, func(e Envelope) error {
		e.UIDValidity = ref.UIDValidity
		writer.add(e)
		return nil
	})
	if serr := writer.close(err == nil); serr != nil {
		return fmt.Errorf("sync %s: store envelopes: %w", ref.Name, serr)
	}
	if err != nil {
		return fmt.Errorf("sync %s: envelopes: %w", ref.Name, err)
	}
	return nil
}

// DownloadToCache stores whole messages in the cache under the account's
// sync lock, for reading them where the server cannot serve single parts
// (POP3). It returns how many were stored; when none was because they
// arrived short, the error says so.
func (m *Mailbox) DownloadToCache(ctx context.Context, ref FolderRef, ids []string) (int, error) {
	src, err := m.Source(ctx)
	if err != nil {
		return 0, err
	}
	unlock, err := m.Cache.Lock(ctx)
	if err != nil {
		return 0, err
	}
	defer unlock()
	plan := &downloadPlan{}
	n, _, err := m.downloadInto(ctx, src, ref, ids, nil, 0, nil, plan)
	if err == nil && n == 0 {
		err = errors.Join(plan.incomplete...)
	}
	return n, err
}

// downloadInto streams whole messages into the cache, committing them
// durably in batches. Messages received completely before a failure are
// still committed, so the next run does not fetch them again.
func (m *Mailbox) downloadInto(ctx context.Context, src Source, ref FolderRef, ids []string, flags map[string][]Flag, totalBytes int64, progress func(Progress), plan *downloadPlan) (int, int64, error) {
	if plan == nil {
		plan = &downloadPlan{}
	}
	// Two batches take turns: while one is made durable (fsync, index
	// commit) the next fills from the network, so the disk's waits and the
	// server's sending overlap instead of adding up.
	var batches [2]Batch
	for i := range batches {
		b, err := m.Cache.NewBatch(ctx, ref.Name)
		if err != nil {
			return 0, 0, err
		}
		defer b.Abort()
		batches[i] = b
	}
	cur := 0
	var stored int
	var storedBytes int64
	type committed struct {
		n     int
		bytes int64
		ids   []string
		err   error
	}
	var inFlight chan committed
	wait := func() error {
		if inFlight == nil {
			return nil
		}
		c := <-inFlight
		inFlight = nil
		stored += c.n
		storedBytes += c.bytes
		if c.err == nil {
			plan.stored(c.ids)
		}
		if c.err != nil {
			return fmt.Errorf("store messages of %s: %w", ref.Name, c.err)
		}
		return nil
	}
	commitAsync := func(b Batch, ids []string) {
		ch := make(chan committed, 1)
		_, bytes := b.Pending()
		go func() {
			envs, err := b.Commit(ctx)
			ch <- committed{len(envs), bytes, ids, err}
		}()
		inFlight = ch
	}
	p := Progress{Folder: ref.Name, TotalMessages: len(ids), TotalBytes: totalBytes}
	var doneMsgs int
	var doneBytes int64
	var added []string // server IDs in the batch not yet committed
	h := NewHeaderHash()
	dlErr := src.Download(ctx, ref, ids, func(id string, size int64, r io.Reader) error {
		rr := &iocount.Reader{R: r}
		batch := batches[cur]
		before, beforeBytes := batch.Pending()
		key := plan.key(id)
		h.Reset()
		if err := batch.Add(ctx, key, ref.UIDValidity, flags[id], io.TeeReader(rr, h)); err != nil {
			if errors.Is(rr.Err, ErrIncomplete) {
				// The server's copy stays, and so the next sync tries again.
				m.Opts.Warnf("account %s: %v; it stays on the server and is not stored", m.Account.Name, rr.Err)
				plan.incomplete = append(plan.incomplete, rr.Err)
				return nil
			}
			if rr.Err != nil {
				// The download failed, not the storing: say so plainly.
				return rr.Err
			}
			return fmt.Errorf("store %s: %w", id, err)
		}
		batch.SetOrigin(key, Origin{ServerID: plan.name(id), ServerSize: size, HeaderDigest: h.Sum()})
		added = append(added, id)
		n, b := batch.Pending()
		doneMsgs += n - before
		doneBytes += b - beforeBytes
		if progress != nil {
			p.Messages, p.Bytes = doneMsgs, doneBytes
			progress(p)
		}
		if n >= downloadBatchMessages || b >= downloadBatchBytes {
			if err := wait(); err != nil {
				return err
			}
			commitAsync(batch, added)
			added = nil
			cur = 1 - cur
		}
		return nil
	})
	// Whatever arrived whole is kept, even when the download failed.
	waitErr := wait()
	envs, err := batches[cur].Commit(ctx)
	if err == nil {
		stored += len(envs)
		for _, e := range envs {
			storedBytes += e.Size
		}
		plan.stored(added)
	} else {
		err = fmt.Errorf("store messages of %s: %w", ref.Name, err)
	}
	if err := errors.Join(waitErr, err); err != nil {
		return stored, storedBytes, errors.Join(dlErr, err)
	}
	return stored, storedBytes, dlErr
}

// downloadPlan says where downloadInto stores each message and records
// what it made durable.
type downloadPlan struct {
	keys  map[string]string // server ID -> cache key, when they differ
	names map[string]string // server ID -> the server's name (Item.ServerName)
	got   map[string]bool   // server IDs whose bytes are durable in the cache

	incomplete []error // messages that arrived short, skipped
}

func (p *downloadPlan) key(id string) string {
	if k := p.keys[id]; k != "" {
		return k
	}
	return id
}

func (p *downloadPlan) name(id string) string {
	if n := p.names[id]; n != "" {
		return n
	}
	return id
}

func (p *downloadPlan) stored(ids []string) {
	if p.got == nil {
		p.got = map[string]bool{}
	}
	for _, id := range ids {
		p.got[id] = true
	}
}

func sameFlags(a, b []Flag) bool {
	if len(a) != len(b) {
		return false
	}
	seen := make(map[Flag]int, len(a))
	for _, f := range a {
		seen[f]++
	}
	for _, f := range b {
		if seen[f] == 0 {
			return false
		}
		seen[f]--
	}
	return true
}
