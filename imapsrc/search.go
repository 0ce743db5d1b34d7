package imapsrc

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/query"
)

var _ client.Searcher = (*Source)(nil)

// Search compiles q to one UID SEARCH (UID SORT when the server offers
// SORT and opts asks for an order), then fetches the envelopes of the hits
// of the requested page only. has:attachment, which IMAP cannot express,
// is decided from BODYSTRUCTURE of the server's candidates: the query is
// searched with has:attachment taken as true and as false (one search when
// either makes the query impossible, as for "has:attachment" among terms
// side by side), and a message found by only one of the two is decided by
// its structure.
func (s *Source) Search(ctx context.Context, ref client.FolderRef, q query.Node, opts client.ListOptions, fn func(client.Envelope) error) (client.SearchResult, error) {
	op := "search " + ref.Name
	var res client.SearchResult
	err := s.run(ctx, op, func() error {
		if err := s.useRef(op, ref, false); err != nil {
			return err
		}
		res.Status = s.sel.status
		if mb := s.c.Mailbox(); mb != nil {
			res.Status.Messages = int(mb.NumMessages)
		}
		if res.Status.Messages == 0 {
			return nil
		}
		hits, sorted, total, structs, err := s.searchHits(op, q, opts)
		if err != nil {
			return err
		}
		res.Total = total
		return s.deliverPage(op, ref.Name, hits, sorted, structs, opts, fn)
	})
	return res, err
}

// searchHits runs the search and returns the matching UIDs, whether they
// are already in the requested order (SORT did it), their number, and the
// structures fetched while deciding has:attachment.
func (s *Source) searchHits(op string, q query.Node, opts client.ListOptions) ([]imap.UID, bool, int, map[imap.UID]imap.BodyStructure, error) {
	useSort := opts.Sort != "" && s.caps.Has(imap.CapSort)
	if !hasAttachmentTerm(q) {
		crit, kind := compile(q, false)
		if kind == never {
			return nil, true, 0, nil, nil
		}
		if kind == always {
			crit = &imap.SearchCriteria{}
		}
		uids, total, err := s.runSearch(op, crit, q, opts, useSort)
		return uids, useSort, total, nil, err
	}
	critT, kindT := compile(q, true)
	critF, kindF := compile(q, false)
	if kindT == always {
		critT = &imap.SearchCriteria{}
	}
	if kindF == always {
		critF = &imap.SearchCriteria{}
	}
	var withT, withF []imap.UID
	var err error
	// Only one search: its result is already in order when SORT ran it.
	single := kindT == never || kindF == never
	if kindT != never {
		if withT, _, err = s.runSearch(op, critT, q, opts, useSort && single); err != nil {
			return nil, false, 0, nil, err
		}
	}
	if kindF != never {
		if withF, _, err = s.runSearch(op, critF, q, opts, useSort && single); err != nil {
			return nil, false, 0, nil, err
		}
	}
	inT := make(map[imap.UID]bool, len(withT))
	for _, u := range withT {
		inT[u] = true
	}
	inF := make(map[imap.UID]bool, len(withF))
	for _, u := range withF {
		inF[u] = true
	}
	// Found either way: a hit whatever its structure. Found one way only:
	// its structure decides.
	var undecided []imap.UID
	candidates := append(append([]imap.UID(nil), withT...), withF...)
	for _, u := range candidates {
		if inT[u] != inF[u] {
			undecided = append(undecided, u)
		}
	}
	s.note(fmt.Sprintf("has:attachment: %d candidates from the server, %d decided from BODYSTRUCTURE", len(inT)+len(inF)-countBoth(inT, inF), len(undecided)))
	structs := make(map[imap.UID]imap.BodyStructure, len(undecided))
	if len(undecided) > 0 {
		got, err := s.fetchMeta(undecided, structureItems)
		if err != nil {
			return nil, false, 0, nil, s.translate(op, err)
		}
		for u, buf := range got {
			structs[u] = buf.BodyStructure
		}
	}
	seen := make(map[imap.UID]bool)
	var hits []imap.UID
	for _, u := range candidates {
		if seen[u] {
			continue
		}
		seen[u] = true
		keep := inT[u] && inF[u]
		if !keep {
			bs := structs[u]
			if bs == nil {
				continue // expunged meanwhile
			}
			has := convertPart(bs, nil, false, 0).HasAttachments()
			keep = has && inT[u] || !has && inF[u]
		}
		if keep {
			hits = append(hits, u)
		}
	}
	sorted := useSort && single
	if useSort && !single && len(hits) > 0 {
		// Two searches cannot be merged into one server order: let the
		// server order the hits themselves.
		var set imap.UIDSet
		for _, u := range hits {
			set.AddNum(u)
		}
		if hits, _, err = s.runSearch(op, &imap.SearchCriteria{UID: []imap.UIDSet{set}}, nil, opts, true); err != nil {
			return nil, false, 0, nil, err
		}
		sorted = true
	}
	return hits, sorted, len(hits), structs, nil
}

func countBoth(a, b map[imap.UID]bool) int {
	n := 0
	for u := range a {
		if b[u] {
			n++
		}
	}
	return n
}

var structureItems = &imap.FetchOptions{UID: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true}}

// runSearch sends one UID SEARCH (RETURN (ALL COUNT) with ESEARCH) or,
// when sorted, one UID SORT. q, when not nil, is the query the criteria
// came from, for a refused charset to be reported against it.
func (s *Source) runSearch(op string, crit *imap.SearchCriteria, q query.Node, opts client.ListOptions, sorted bool) ([]imap.UID, int, error) {
	var (
		uids  []imap.UID
		total int
		err   error
	)
	if sorted {
		var nums []uint32
		nums, err = s.c.UIDSort(&imapclient.SortOptions{SearchCriteria: crit, SortCriteria: sortCriteria(opts)}).Wait()
		uids = make([]imap.UID, len(nums))
		for i, n := range nums {
			uids[i] = imap.UID(n)
		}
		total = len(uids)
	} else {
		var searchOpts *imap.SearchOptions
		if s.caps.Has(imap.CapESearch) {
			searchOpts = &imap.SearchOptions{ReturnAll: true, ReturnCount: true}
		}
		var data *imap.SearchData
		data, err = s.c.UIDSearch(crit, searchOpts).Wait()
		if err == nil {
			uids = uidsOf(data.All)
			total = len(uids)
			if searchOpts != nil && int(data.Count) != total {
				s.note(fmt.Sprintf("server counted %d matches but listed %d", data.Count, total))
			}
		}
	}
	if err != nil {
		var ie *imap.Error
		if errors.As(err, &ie) && q != nil && !isASCII(q) && refusesCharset(ie) {
			return nil, 0, fmt.Errorf("%s: %w", op, &client.UnsupportedError{Op: op,
				Reason: "the server refuses CHARSET UTF-8 (" + ie.Text + "), so it cannot search for non-ASCII text"})
		}
		return nil, 0, s.translate(op, err)
	}
	return uids, total, nil
}

// refusesCharset recognises a server that cannot search in UTF-8: the
// BADCHARSET code (RFC 3501 7.1), or a NO/BAD that names the charset.
func refusesCharset(ie *imap.Error) bool {
	if ie.Code == "BADCHARSET" {
		return true
	}
	t := strings.ToLower(ie.Text)
	return strings.Contains(t, "charset") || strings.Contains(t, "utf-8") || strings.Contains(t, "utf8")
}

// sortCriteria maps duomail's sort keys onto RFC 5256 SORT, whose orders
// are ascending: newest and largest first need REVERSE.
func sortCriteria(opts client.ListOptions) []imapclient.SortCriterion {
	var c imapclient.SortCriterion
	switch opts.Sort {
	case client.SortArrival:
		c = imapclient.SortCriterion{Key: imapclient.SortKeyArrival, Reverse: true}
	case client.SortFrom:
		c = imapclient.SortCriterion{Key: imapclient.SortKeyFrom}
	case client.SortSubject:
		c = imapclient.SortCriterion{Key: imapclient.SortKeySubject}
	case client.SortSize:
		c = imapclient.SortCriterion{Key: imapclient.SortKeySize, Reverse: true}
	default:
		c = imapclient.SortCriterion{Key: imapclient.SortKeyDate, Reverse: true}
	}
	if opts.Reverse {
		c.Reverse = !c.Reverse
	}
	return []imapclient.SortCriterion{c}
}

// deliverPage orders the hits (unless SORT already did), cuts the page
// out of them, fetches envelopes of that page only and hands them to fn.
// Without SORT the natural order is UID (arrival in the folder); an order
// by date, sender, subject or size needs the envelopes of every hit, which
// are then fetched and sorted here.
func (s *Source) deliverPage(op, folder string, hits []imap.UID, sorted bool, structs map[imap.UID]imap.BodyStructure, opts client.ListOptions, fn func(client.Envelope) error) error {
	if !sorted {
		switch opts.Sort {
		case "", client.SortArrival:
			slices.SortFunc(hits, func(a, b imap.UID) int { return cmp.Compare(b, a) })
			if opts.Reverse {
				slices.Reverse(hits)
			}
		default:
			s.note(fmt.Sprintf("server lacks SORT: fetching envelopes of all %d hits to sort by %s", len(hits), opts.Sort))
			envs, err := s.envelopes(op, folder, hits, structs)
			if err != nil {
				return err
			}
			client.SortEnvelopes(envs, opts.Sort, opts.Reverse)
			envs = page(envs, opts)
			for _, e := range envs {
				if err := fn(e); err != nil {
					return &callbackError{err}
				}
			}
			return nil
		}
	}
	hits = page(hits, opts)
	for len(hits) > 0 {
		chunk := hits[:min(listChunk, len(hits))]
		hits = hits[len(chunk):]
		envs, err := s.envelopes(op, folder, chunk, structs)
		if err != nil {
			return err
		}
		for _, e := range envs {
			if err := fn(e); err != nil {
				return &callbackError{err}
			}
		}
	}
	return nil
}

// envelopes fetches envelopes of uids, in the order given, skipping those
// expunged meanwhile; a structure already fetched is not asked for again.
func (s *Source) envelopes(op, folder string, uids []imap.UID, structs map[imap.UID]imap.BodyStructure) ([]client.Envelope, error) {
	var known, unknown []imap.UID
	for _, u := range uids {
		if structs[u] != nil {
			known = append(known, u)
		} else {
			unknown = append(unknown, u)
		}
	}
	got := make(map[imap.UID]*imapclient.FetchMessageBuffer, len(uids))
	for _, part := range []struct {
		uids  []imap.UID
		items *imap.FetchOptions
	}{{unknown, envelopeItems}, {known, envelopeOnlyItems}} {
		if len(part.uids) == 0 {
			continue
		}
		m, err := s.fetchMeta(part.uids, part.items)
		if err != nil {
			return nil, s.translate(op, err)
		}
		if _, err := s.unmatched(op, part.uids, m); err != nil {
			return nil, err
		}
		for u, b := range m {
			if b.BodyStructure == nil {
				b.BodyStructure = structs[u]
			}
			got[u] = b
		}
	}
	out := make([]client.Envelope, 0, len(uids))
	for _, u := range uids {
		if b := got[u]; b != nil {
			env, _ := envelopeFrom(b, folder, s.sel.status.UIDValidity)
			out = append(out, env)
		}
	}
	return out, nil
}

var envelopeOnlyItems = &imap.FetchOptions{UID: true, Flags: true, Envelope: true, RFC822Size: true, InternalDate: true}

func page[T any](list []T, opts client.ListOptions) []T {
	if opts.Offset > 0 {
		if opts.Offset >= len(list) {
			return nil
		}
		list = list[opts.Offset:]
	}
	if opts.Limit > 0 && len(list) > opts.Limit {
		list = list[:opts.Limit]
	}
	return list
}

// note writes a line about what a search decided to the --debug trace.
func (s *Source) note(msg string) {
	if s.wire != nil && s.wire.out != nil && s.wire.out.sink != nil {
		s.wire.out.sink.line("# ", []byte(msg))
	}
}

type kind int

const (
	criteria kind = iota // matched by the criteria
	always               // matches every message
	never                // matches none
)

// compile turns a query tree into IMAP search criteria, taking every
// has:attachment as hasAttachment. Constant parts fold away, so
// "has:attachment from:ann" with hasAttachment false is never and sends
// nothing.
func compile(n query.Node, hasAttachment bool) (*imap.SearchCriteria, kind) {
	switch v := n.(type) {
	case query.Text:
		c := &imap.SearchCriteria{}
		switch v.Field {
		case query.From, query.To, query.Cc, query.Subject:
			c.Header = []imap.SearchCriteriaHeaderField{{Key: headerName(v.Field), Value: v.Value}}
		case query.Body:
			c.Body = []string{v.Value}
		default:
			c.Text = []string{v.Value}
		}
		return c, criteria
	case query.Flag:
		f := imap.Flag(`\` + strings.ToUpper(v.Name[:1]) + v.Name[1:])
		if v.Set {
			return &imap.SearchCriteria{Flag: []imap.Flag{f}}, criteria
		}
		return &imap.SearchCriteria{NotFlag: []imap.Flag{f}}, criteria
	case query.HasAttachment:
		if hasAttachment {
			return nil, always
		}
		return nil, never
	case query.Date:
		// SENT*: the Date header, as the query language means; IMAP
		// compares whole days, which is what the language offers.
		if v.Since.IsZero() && v.Before.IsZero() {
			return nil, always
		}
		return &imap.SearchCriteria{SentSince: v.Since, SentBefore: v.Before}, criteria
	case query.Size:
		if v.Larger <= 0 && v.Smaller <= 0 {
			return nil, always
		}
		return &imap.SearchCriteria{Larger: v.Larger, Smaller: v.Smaller}, criteria
	case query.Not:
		c, k := compile(v.Term, hasAttachment)
		switch k {
		case always:
			return nil, never
		case never:
			return nil, always
		}
		return &imap.SearchCriteria{Not: []imap.SearchCriteria{*c}}, criteria
	case query.And:
		out := &imap.SearchCriteria{}
		for _, t := range v.Terms {
			c, k := compile(t, hasAttachment)
			switch k {
			case never:
				return nil, never
			case criteria:
				andCriteria(out, c)
			}
		}
		if isEmpty(out) {
			return nil, always
		}
		return out, criteria
	case query.Or:
		var parts []*imap.SearchCriteria
		for _, t := range v.Terms {
			c, k := compile(t, hasAttachment)
			switch k {
			case always:
				return nil, always
			case criteria:
				parts = append(parts, c)
			}
		}
		if len(parts) == 0 {
			return nil, never
		}
		// IMAP's OR takes two keys: a OR b OR c is OR a (OR b c).
		c := parts[len(parts)-1]
		for i := len(parts) - 2; i >= 0; i-- {
			c = &imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{*parts[i], *c}}}
		}
		return c, criteria
	}
	return nil, never
}

// andCriteria adds c's keys to out. Two date or size bounds of the same
// kind are kept as separate keys (in a NOT-less group) rather than
// intersected, so what the server is asked stays what the user wrote.
func andCriteria(out, c *imap.SearchCriteria) {
	clash := (!out.SentSince.IsZero() && !c.SentSince.IsZero()) || (!out.SentBefore.IsZero() && !c.SentBefore.IsZero()) ||
		(out.Larger > 0 && c.Larger > 0) || (out.Smaller > 0 && c.Smaller > 0)
	if clash {
		// A double negation is the only way imap.SearchCriteria can hold
		// a second key of the same kind side by side.
		out.Not = append(out.Not, imap.SearchCriteria{Not: []imap.SearchCriteria{*c}})
		return
	}
	if !c.SentSince.IsZero() {
		out.SentSince = c.SentSince
	}
	if !c.SentBefore.IsZero() {
		out.SentBefore = c.SentBefore
	}
	if c.Larger > 0 {
		out.Larger = c.Larger
	}
	if c.Smaller > 0 {
		out.Smaller = c.Smaller
	}
	out.Header = append(out.Header, c.Header...)
	out.Body = append(out.Body, c.Body...)
	out.Text = append(out.Text, c.Text...)
	out.Flag = append(out.Flag, c.Flag...)
	out.NotFlag = append(out.NotFlag, c.NotFlag...)
	out.Not = append(out.Not, c.Not...)
	out.Or = append(out.Or, c.Or...)
	out.UID = append(out.UID, c.UID...)
}

func isEmpty(c *imap.SearchCriteria) bool {
	return c.SentSince.IsZero() && c.SentBefore.IsZero() && c.Larger == 0 && c.Smaller == 0 &&
		len(c.Header) == 0 && len(c.Body) == 0 && len(c.Text) == 0 && len(c.Flag) == 0 &&
		len(c.NotFlag) == 0 && len(c.Not) == 0 && len(c.Or) == 0 && len(c.UID) == 0
}

func headerName(f query.Field) string {
	switch f {
	case query.From:
		return "From"
	case query.To:
		return "To"
	case query.Cc:
		return "Cc"
	}
	return "Subject"
}

func hasAttachmentTerm(n query.Node) bool {
	switch v := n.(type) {
	case query.HasAttachment:
		return true
	case query.Not:
		return hasAttachmentTerm(v.Term)
	case query.And:
		return slices.ContainsFunc(v.Terms, hasAttachmentTerm)
	case query.Or:
		return slices.ContainsFunc(v.Terms, hasAttachmentTerm)
	}
	return false
}

// isASCII reports whether every text of the query is ASCII, so the search
// goes out without CHARSET (some servers refuse the keyword).
func isASCII(n query.Node) bool {
	switch v := n.(type) {
	case query.Text:
		for i := 0; i < len(v.Value); i++ {
			if v.Value[i] >= utf8.RuneSelf {
				return false
			}
		}
	case query.Not:
		return isASCII(v.Term)
	case query.And:
		return !slices.ContainsFunc(v.Terms, func(t query.Node) bool { return !isASCII(t) })
	case query.Or:
		return !slices.ContainsFunc(v.Terms, func(t query.Node) bool { return !isASCII(t) })
	}
	return true
}
