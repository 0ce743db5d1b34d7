package client

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/duomail/duomail/client/query"
)

// SearchRequest says what to look for and where.
type SearchRequest struct {
	Query query.Node
	// Folder is searched (empty: the inbox) unless AllFolders.
	Folder     string
	AllFolders bool
	// Offline searches the cache without connecting.
	Offline bool
	Limit   int // 0 = all
	Offset  int
	Sort    SortKey
	Reverse bool
	// Progress, when set, is told how a sync that search runs first
	// (POP3, whose mail is searched in the cache) advances.
	Progress func(Progress)
}

// Page is one page of a listing or a search.
type Page struct {
	Envelopes []Envelope
	// Total counts every message the listing or search matched, before
	// Offset and Limit; -1 when unknown.
	Total int
}

// cacheFolders lists the folders the cache knows, for offline searches of
// every folder.
type cacheFolders interface {
	Folders(ctx context.Context) ([]string, error)
}

// Search finds messages. Online, a server that searches (IMAP) is asked
// one UID SEARCH per folder and only the hits' envelopes are fetched; a
// server that cannot (POP3) is synced and its mail searched in the cache.
// Offline, or when the server refuses the query's charset, the cache is
// searched. Across folders the hits are merged in the requested order
// before Offset and Limit apply.
func (m *Mailbox) Search(ctx context.Context, req SearchRequest) (Page, error) {
	defer m.Opts.Stats.Begin("search")()
	folders := []string{FolderName(req.Folder)}
	if req.AllFolders {
		var err error
		if folders, err = m.searchFolders(ctx, req.Offline); err != nil {
			return Page{}, err
		}
	}
	opts := ListOptions{Limit: req.Limit, Offset: req.Offset, Sort: req.Sort, Reverse: req.Reverse}
	if len(folders) > 1 {
		// Each folder gives its best Offset+Limit; the page is cut from
		// the merge.
		opts.Offset = 0
		if req.Limit > 0 {
			opts.Limit = req.Offset + req.Limit
		}
	}
	var out Page
	for _, f := range folders {
		p, err := m.searchFolder(ctx, f, req, opts)
		if err != nil {
			return Page{}, err
		}
		out.Envelopes = append(out.Envelopes, p.Envelopes...)
		switch {
		case p.Total < 0 || out.Total < 0:
			out.Total = -1
		default:
			out.Total += p.Total
		}
	}
	if len(folders) > 1 {
		SortEnvelopes(out.Envelopes, req.Sort, req.Reverse)
		out.Envelopes = pageOf(out.Envelopes, req.Offset, req.Limit)
	}
	return out, nil
}

func (m *Mailbox) searchFolders(ctx context.Context, offline bool) ([]string, error) {
	if offline {
		cf, ok := m.Cache.(cacheFolders)
		if !ok {
			return nil, Unsupported("search --all-folders --offline", "this cache cannot list its folders")
		}
		return cf.Folders(ctx)
	}
	src, err := m.Source(ctx)
	if err != nil {
		return nil, err
	}
	fs, err := src.Folders(ctx)
	if err != nil {
		return nil, fmt.Errorf("search: folders: %w", err)
	}
	var names []string
	for _, f := range fs {
		names = append(names, f.Name)
	}
	return names, nil
}

func (m *Mailbox) searchFolder(ctx context.Context, folder string, req SearchRequest, opts ListOptions) (Page, error) {
	if req.Offline {
		return m.searchCache(ctx, folder, req.Query, opts)
	}
	src, err := m.Source(ctx)
	if err != nil {
		return Page{}, err
	}
	if s, ok := src.(Searcher); ok && m.caps.Has(FeatureServerSearch) {
		p, err := m.searchServer(ctx, s, "search", folder, req.Query, opts)
		if err == nil || !errors.Is(err, ErrUnsupported) {
			return p, err
		}
		m.Opts.Warnf("%v; searching the local cache of %s instead (mail since its last sync is not seen)", err, folder)
		return m.searchCache(ctx, folder, req.Query, opts)
	}
	if !m.caps.Has(FeatureMailOnServer) {
		// The cache is where this protocol's mail is: bring it up to date.
		if _, err := m.sync(ctx, folder, SyncOptions{Progress: req.Progress}); err != nil {
			return Page{}, err
		}
	}
	return m.searchCache(ctx, folder, req.Query, opts)
}

func (m *Mailbox) searchServer(ctx context.Context, s Searcher, op, folder string, q query.Node, opts ListOptions) (Page, error) {
	var envs []Envelope
	res, err := s.Search(ctx, FolderRef{Name: folder}, q, opts, func(e Envelope) error {
		envs = append(envs, e)
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrUnsupported) {
			return Page{}, err
		}
		return Page{}, fmt.Errorf("%s %s: %w", op, folder, err)
	}
	if err := m.recordEnvelopes(ctx, op, folder, res.Status.UIDValidity, envs); err != nil {
		return Page{}, err
	}
	return Page{Envelopes: envs, Total: res.Total}, nil
}

// recordEnvelopes writes what the server showed into the cache, so the
// IDs shown can be acted on and listed offline later.
func (m *Mailbox) recordEnvelopes(ctx context.Context, op, folder string, uidValidity uint32, envs []Envelope) error {
	if err := m.adoptValidity(ctx, folder, uidValidity); err != nil {
		return err
	}
	rec := make([]Envelope, len(envs))
	for i, e := range envs {
		e.UIDValidity = uidValidity
		rec[i] = e
	}
	// Oldest first by ID, as a listing records them.
	slices.SortFunc(rec, func(a, b Envelope) int { return compareIDs(a.ID, b.ID) })
	if err := m.Cache.PutEnvelopes(ctx, folder, rec); err != nil {
		return fmt.Errorf("%s %s: record in cache: %w", op, folder, err)
	}
	return nil
}

func (m *Mailbox) searchCache(ctx context.Context, folder string, q query.Node, opts ListOptions) (Page, error) {
	cov, err := m.Cache.SearchCoverage(ctx, folder)
	if err != nil {
		return Page{}, fmt.Errorf("search %s in cache: %w", folder, err)
	}
	if cov.HeadersOnly() {
		m.Opts.Warnf("%s: %d of %d cached messages have no body in the cache and are searched by their headers only (sync --bodies to search their text)",
			folder, cov.Messages-cov.WithText, cov.Messages)
	}
	// The cache pages itself; ask it for everything to learn the total,
	// then cut the page here.
	want := opts
	want.Offset, want.Limit = 0, 0
	var envs []Envelope
	if err := m.Cache.Search(ctx, folder, q, want, func(e Envelope) error {
		envs = append(envs, e)
		return nil
	}); err != nil {
		return Page{}, fmt.Errorf("search %s in cache: %w", folder, err)
	}
	return Page{Envelopes: pageOf(envs, opts.Offset, opts.Limit), Total: len(envs)}, nil
}

func pageOf(envs []Envelope, offset, limit int) []Envelope {
	if offset > 0 {
		if offset >= len(envs) {
			return nil
		}
		envs = envs[offset:]
	}
	if limit > 0 && len(envs) > limit {
		envs = envs[:limit]
	}
	return envs
}

// SortEnvelopes orders envelopes the way a listing sorted by key shows
// them: date (the zero key) and arrival newest first, size largest first,
// sender (SortFromKey) and subject (BaseSubject) A to Z, as SORT does.
// Ties keep the newest ID first. reverse turns the order round.
func SortEnvelopes(envs []Envelope, key SortKey, reverse bool) {
	compare := func(a, b Envelope) int {
		switch key {
		case SortFrom:
			return cmp.Compare(SortFromKey(a.From), SortFromKey(b.From))
		case SortSubject:
			return cmp.Compare(BaseSubject(a.Subject), BaseSubject(b.Subject))
		case SortSize:
			return cmp.Compare(b.Size, a.Size)
		case SortArrival:
			return b.Received.Compare(a.Received)
		}
		return b.ListDate().Compare(a.ListDate())
	}
	slices.SortStableFunc(envs, func(a, b Envelope) int {
		c := compare(a, b)
		if c == 0 {
			c = compareIDs(b.ID, a.ID)
		}
		if reverse {
			return -c
		}
		return c
	})
}
