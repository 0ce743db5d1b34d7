package client

import (
	"context"

	"github.com/duomail/duomail/client/query"
)

// Searcher is implemented by Sources whose server evaluates a query
// itself (IMAP UID SEARCH), so only the envelopes of the hits cross the
// wire. A Source without it is searched through the cache.
type Searcher interface {
	// Search calls fn with the envelopes of the folder's messages that q
	// matches, ordered, offset and limited as opts says (opts.IDs and
	// opts.Unseen are ignored). A query the server cannot take in the
	// charset it needs is refused with an error wrapping ErrUnsupported
	// before any message is reported, so the caller can search elsewhere.
	Search(ctx context.Context, ref FolderRef, q query.Node, opts ListOptions, fn func(Envelope) error) (SearchResult, error)
}

// SearchResult is what a search learned besides the envelopes.
type SearchResult struct {
	Status FolderStatus
	// Total counts every match, before Offset and Limit.
	Total int
}
