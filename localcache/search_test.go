package localcache

import (
	"bytes"
	"context"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/mimepart"
	"github.com/duomail/duomail/client/query"
	"github.com/duomail/duomail/client/sourcetest"
)

// storeCorpus stores the search corpus as a POP3 download would (the
// Message-ID names each message) and gives each its flags locally.
func storeCorpus(t testing.TB, c *Cache, folder string) {
	t.Helper()
	ctx := context.Background()
	corpus := sourcetest.SearchCorpus()
	raw := map[string][]byte{}
	var names []string
	for _, m := range corpus {
		raw[m.ID] = m.Raw
		names = append(names, m.ID)
	}
	store(t, c, folder, 0, nil, names, func(id string) []byte { return raw[id] })
	for _, m := range corpus {
		var flags []client.Flag
		for _, f := range m.Flags {
			flags = append(flags, client.Flag(f))
		}
		if len(flags) > 0 {
			if err := c.ChangeFlags(ctx, folder, []string{m.ID}, client.FlagAdd, flags); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func searchIDs(t testing.TB, c *Cache, folder string, q query.Node, opts client.ListOptions) []string {
	t.Helper()
	var out []string
	err := c.Search(context.Background(), folder, q, opts, func(e client.Envelope) error {
		out = append(out, e.MessageID)
		return nil
	})
	if err != nil {
		t.Fatalf("search %#v: %v", q, err)
	}
	return out
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	sort.Strings(s)
	return s
}

func TestSearchCorpusFindsWhatEachQueryMeans(t *testing.T) {
	c := openCache(t, t.TempDir())
	storeCorpus(t, c, client.Inbox)
	for _, tc := range sourcetest.SearchCases(time.Local) {
		got := sorted(searchIDs(t, c, client.Inbox, tc.Query, client.ListOptions{}))
		if !slices.Equal(got, tc.Want) {
			t.Errorf("%s: got %v, want %v", tc.Name, got, tc.Want)
		}
	}
}

// A cache filled before the index existed has bodies whose text is not
// indexed; the first search indexes them, telling how far it is.
func TestSearchIndexesBodiesCachedBeforeTheIndex(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir)
	storeCorpus(t, c, client.Inbox)
	if _, err := c.db.Exec(`DELETE FROM text_index; UPDATE messages SET text_indexed = 0, cc = '', in_reply_to = '', refs = ''`); err != nil {
		t.Fatal(err)
	}
	c.Close()

	var calls [][2]int
	c2, err := OpenWithOptions(dir, Options{IndexProgress: func(done, total int) { calls = append(calls, [2]int{done, total}) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	n, err := c2.UnindexedText(context.Background())
	if err != nil || n != len(sourcetest.SearchCorpus()) {
		t.Fatalf("unindexed before the search: %d, %v; want %d", n, err, len(sourcetest.SearchCorpus()))
	}
	got := searchIDs(t, c2, client.Inbox, query.Text{Field: query.Body, Value: "zeppelin"}, client.ListOptions{})
	if !slices.Equal(got, []string{"s05@corpus.test"}) {
		t.Errorf("body search after indexing: %v", got)
	}
	total := len(sourcetest.SearchCorpus())
	if len(calls) < 2 || calls[0] != [2]int{0, total} || calls[len(calls)-1] != [2]int{total, total} {
		t.Errorf("progress calls %v, want from 0 to %d of %d", calls, total, total)
	}
	got = searchIDs(t, c2, client.Inbox, query.Text{Field: query.Cc, Value: "dave"}, client.ListOptions{})
	if !slices.Equal(got, []string{"s02@corpus.test"}) {
		t.Errorf("cc recorded by the indexing: %v", got)
	}
	calls = nil
	searchIDs(t, c2, client.Inbox, query.Text{Value: "x"}, client.ListOptions{})
	if len(calls) != 0 {
		t.Errorf("a second search indexed again: %v", calls)
	}
}

// An IMAP folder synced without bodies has envelopes only: headers are
// searched, text is not, and the coverage says so.
func TestSearchEnvelopesOnlyMatchesHeaders(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	var envs []client.Envelope
	for i, m := range sourcetest.SearchCorpus() {
		env, _, err := mimepart.ParseMessage(bytes.NewReader(m.Raw))
		if err != nil {
			t.Fatal(err)
		}
		env.ID = strings.TrimPrefix(m.ID, "s")[:2]
		env.UIDValidity = 7
		env.Flags = []client.Flag{}
		if i == 0 {
			env.Flags = []client.Flag{client.FlagSeen}
		}
		envs = append(envs, env)
	}
	if err := c.PutEnvelopes(ctx, "Archive", envs); err != nil {
		t.Fatal(err)
	}
	cov, err := c.SearchCoverage(ctx, "Archive")
	if err != nil || cov.Messages != len(envs) || cov.WithText != 0 || !cov.HeadersOnly() {
		t.Fatalf("coverage %+v, %v", cov, err)
	}
	if got := sorted(searchIDs(t, c, "Archive", query.Text{Field: query.Subject, Value: "kickoff"}, client.ListOptions{})); !slices.Equal(got, []string{"s05@corpus.test", "s09@corpus.test"}) {
		t.Errorf("subject search on envelopes: %v", got)
	}
	if got := searchIDs(t, c, "Archive", query.Text{Field: query.Cc, Value: "dave"}, client.ListOptions{}); !slices.Equal(got, []string{"s02@corpus.test"}) {
		t.Errorf("cc search on envelopes: %v", got)
	}
	if got := searchIDs(t, c, "Archive", query.Text{Field: query.Body, Value: "zeppelin"}, client.ListOptions{}); len(got) != 0 {
		t.Errorf("body search without bodies found %v", got)
	}
	if got := searchIDs(t, c, "Archive", query.Flag{Name: "seen", Set: true}, client.ListOptions{}); !slices.Equal(got, []string{"s01@corpus.test"}) {
		t.Errorf("seen search on envelopes: %v", got)
	}

	// A body cached later (sync --bodies) makes its text searchable.
	b, err := c.NewBatch(ctx, "Archive")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(ctx, "05", 7, []client.Flag{}, bytes.NewReader(sourcetest.SearchCorpus()[4].Raw)); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if got := searchIDs(t, c, "Archive", query.Text{Field: query.Body, Value: "zeppelin"}, client.ListOptions{}); !slices.Equal(got, []string{"s05@corpus.test"}) {
		t.Errorf("body search after caching the body: %v", got)
	}
	if cov, _ := c.SearchCoverage(ctx, "Archive"); cov.WithText != 1 {
		t.Errorf("coverage after one body: %+v", cov)
	}

	// Removing the message takes it out of both indexes.
	if err := c.Remove(ctx, "Archive", []string{"05"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []query.Node{query.Text{Field: query.Body, Value: "zeppelin"}, query.Text{Field: query.Subject, Value: "kickoff"}} {
		for _, id := range searchIDs(t, c, "Archive", q, client.ListOptions{}) {
			if id == "s05@corpus.test" {
				t.Errorf("%#v finds a removed message", q)
			}
		}
	}
}

func TestSearchAndListSortOffsetLimit(t *testing.T) {
	c := openCache(t, t.TempDir())
	storeCorpus(t, c, client.Inbox)
	everything := query.And{}
	byDate := searchIDs(t, c, client.Inbox, everything, client.ListOptions{Sort: client.SortDate})
	want := []string{"s12", "s11", "s10", "s09", "s03", "s08", "s07", "s05", "s04", "s06", "s02", "s01"}
	for i := range want {
		want[i] += "@corpus.test"
	}
	if !slices.Equal(byDate, want) {
		t.Errorf("by date:\n got %v\nwant %v", byDate, want)
	}
	rev := searchIDs(t, c, client.Inbox, everything, client.ListOptions{Sort: client.SortDate, Reverse: true})
	r := slices.Clone(want)
	slices.Reverse(r)
	if !slices.Equal(rev, r) {
		t.Errorf("by date reversed: %v", rev)
	}
	page := searchIDs(t, c, client.Inbox, everything, client.ListOptions{Sort: client.SortDate, Offset: 3, Limit: 4})
	if !slices.Equal(page, want[3:7]) {
		t.Errorf("offset 3 limit 4: %v, want %v", page, want[3:7])
	}
	tail := searchIDs(t, c, client.Inbox, everything, client.ListOptions{Sort: client.SortDate, Offset: 10})
	if !slices.Equal(tail, want[10:]) {
		t.Errorf("offset 10 without limit: %v", tail)
	}

	var sizes []int64
	c.Search(context.Background(), client.Inbox, everything, client.ListOptions{Sort: client.SortSize}, func(e client.Envelope) error {
		sizes = append(sizes, e.Size)
		return nil
	})
	if !slices.IsSortedFunc(sizes, func(a, b int64) int { return int(b - a) }) || len(sizes) != 12 {
		t.Errorf("by size, largest first: %v", sizes)
	}
	var subjects []string
	c.Search(context.Background(), client.Inbox, everything, client.ListOptions{Sort: client.SortSubject}, func(e client.Envelope) error {
		subjects = append(subjects, client.BaseSubject(e.Subject))
		return nil
	})
	if !slices.IsSorted(subjects) || subjects[0] != "" {
		t.Errorf("by subject: %q", subjects)
	}
	var froms []string
	c.Search(context.Background(), client.Inbox, everything, client.ListOptions{Sort: client.SortFrom}, func(e client.Envelope) error {
		froms = append(froms, client.SortFromKey(e.From))
		return nil
	})
	if !slices.IsSorted(froms) || froms[0] != "alice" {
		t.Errorf("by sender: %q", froms)
	}

	// list --offline --sort shares the ordering and paging.
	var listed []string
	err := c.List(context.Background(), client.Inbox, client.ListOptions{Sort: client.SortDate, Offset: 3, Limit: 4}, func(e client.Envelope) error {
		listed = append(listed, e.MessageID)
		return nil
	})
	if err != nil || !slices.Equal(listed, want[3:7]) {
		t.Errorf("list offset 3 limit 4 by date: %v %v", listed, err)
	}
	if err := c.List(context.Background(), client.Inbox, client.ListOptions{Sort: "colour"}, func(client.Envelope) error { return nil }); err == nil {
		t.Error("an unknown sort key was accepted")
	}
}

func TestSearchKeepsThreadHeaders(t *testing.T) {
	c := openCache(t, t.TempDir())
	storeCorpus(t, c, client.Inbox)
	var got client.Envelope
	c.Search(context.Background(), client.Inbox, query.Text{Field: query.Subject, Value: "Old thread"}, client.ListOptions{}, func(e client.Envelope) error {
		got = e
		return nil
	})
	if got.InReplyTo != "missing@corpus.test" || !slices.Equal(got.References, []string{"missing@corpus.test"}) {
		t.Errorf("in-reply-to %q references %q", got.InReplyTo, got.References)
	}
	c.Search(context.Background(), client.Inbox, query.Text{Field: query.Subject, Value: "Re: Quarterly"}, client.ListOptions{}, func(e client.Envelope) error {
		got = e
		return nil
	})
	if !slices.Equal(got.Cc, []string{"Dave <dave@example.org>"}) || got.InReplyTo != "s01@corpus.test" {
		t.Errorf("cc %q in-reply-to %q", got.Cc, got.InReplyTo)
	}
}

// Messages adopted by recovery after a crash between the renames and the
// index commit are found by their headers at once and by their text once
// the next search has indexed it.
func TestSearchFindsMessagesAdoptedAfterCrash(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir)
	ctx := context.Background()
	b, err := c.NewBatch(ctx, client.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range sourcetest.SearchCorpus()[:5] {
		if err := b.Add(ctx, m.ID, 0, nil, bytes.NewReader(m.Raw)); err != nil {
			t.Fatal(err)
		}
	}
	crashAt(t, "names-synced")
	if _, err := b.Commit(ctx); err == nil {
		t.Fatal("commit survived the simulated crash")
	}
	c.Close()

	c2 := openCache(t, dir) // recovery adopts the renamed files
	if n, err := c2.UnindexedText(ctx); err != nil || n != 5 {
		t.Fatalf("unindexed after recovery: %d, %v", n, err)
	}
	if got := searchIDs(t, c2, client.Inbox, query.Text{Field: query.Subject, Value: "kickoff"}, client.ListOptions{}); !slices.Equal(got, []string{"s05@corpus.test"}) {
		t.Errorf("subject of an adopted message: %v", got)
	}
	if got := searchIDs(t, c2, client.Inbox, query.Text{Field: query.Body, Value: "zeppelin"}, client.ListOptions{}); !slices.Equal(got, []string{"s05@corpus.test"}) {
		t.Errorf("text of an adopted message: %v", got)
	}
}

// A new message's header index rows wait for the next search, which
// writes them all at once; a message already in the header index is kept
// current as it is stored, so a changed subject is found by the new words
// and not the old at once.
func TestHeaderIndexWaitsForASearch(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	env := func(id, subject string) client.Envelope {
		return client.Envelope{ID: id, UIDValidity: 3, From: "Ann <ann@example.org>", To: []string{"Bob <bob@example.org>"},
			Subject: subject, MessageID: "<" + id + "@example.org>", Flags: []client.Flag{}}
	}
	indexed := func(word string) int {
		t.Helper()
		var n int
		if err := c.db.QueryRowContext(ctx, `SELECT count(*) FROM header_index WHERE header_index MATCH ?`, `"`+word+`"`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	subject := func(word string) []string {
		return searchIDs(t, c, client.Inbox, query.Text{Field: query.Subject, Value: word}, client.ListOptions{})
	}
	if err := c.PutEnvelopes(ctx, client.Inbox, []client.Envelope{env("1", "alpha report"), env("2", "beta memo")}); err != nil {
		t.Fatal(err)
	}
	if n := indexed("alpha"); n != 0 {
		t.Errorf("header index holds %d rows of a message not yet searched for", n)
	}
	if got := subject("alpha"); !slices.Equal(got, []string{"<1@example.org>"}) {
		t.Errorf("subject alpha: %v", got)
	}
	if n := indexed("alpha") + indexed("beta"); n != 2 {
		t.Errorf("after a search the header index holds %d of 2 rows", n)
	}
	if got := searchIDs(t, c, client.Inbox, query.Text{Field: query.To, Value: "bob@"}, client.ListOptions{}); len(got) != 2 {
		t.Errorf("to bob@: %v", got)
	}

	// The server reused UID 1 for another message: stored over the row.
	if err := c.PutEnvelopes(ctx, client.Inbox, []client.Envelope{env("1", "delta notice"), env("3", "gamma note")}); err != nil {
		t.Fatal(err)
	}
	if indexed("delta") != 1 || indexed("alpha") != 0 {
		t.Errorf("an indexed row stored again: delta %d, alpha %d rows, want 1 and 0", indexed("delta"), indexed("alpha"))
	}
	if indexed("gamma") != 0 {
		t.Error("a new row entered the header index before a search")
	}
	for word, want := range map[string][]string{"alpha": nil, "delta": {"<1@example.org>"}, "gamma": {"<3@example.org>"}} {
		if got := subject(word); !slices.Equal(got, want) {
			t.Errorf("subject %s: %v, want %v", word, got, want)
		}
	}
	// A message removed before any search never had rows to remove.
	if err := c.PutEnvelopes(ctx, client.Inbox, []client.Envelope{env("4", "epsilon")}); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, client.Inbox, []string{"4"}); err != nil {
		t.Fatal(err)
	}
	if got := subject("epsilon"); len(got) != 0 {
		t.Errorf("subject epsilon after its removal: %v", got)
	}
}
