package client_test

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/query"
	"github.com/duomail/duomail/client/sourcetest"
)

// The same corpus on one Dovecot, reached three ways, must give the same
// messages for every query: IMAP searching on the server, POP3 searching
// the local index after a sync, and IMAP searching the local index after
// sync --bodies. Where the answers differ by nature (a server's substring
// search against a word index), the case names why and each side must give
// its own documented answer.
func TestSearchSameAnswerOnIMAPAndPOP3(t *testing.T) {
	sourcetest.RequireDovecot(t)
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	user := d.AddUser(t)
	corpus := sourcetest.SearchCorpus()
	for _, m := range corpus {
		path := d.Deliver(t, user, client.Inbox, m.Raw)
		// Dovecot takes a Maildir file's mtime as INTERNALDATE: make it
		// the Date, so that no engine's choice between the two matters.
		if err := os.Chtimes(path, m.Date, m.Date); err != nil {
			t.Fatal(err)
		}
	}
	ctx := ctxT(t)

	// POP3: sync (which downloads everything), then give the messages
	// their flags locally, as "duomail flag" does on POP3.
	popAcct := &client.Account{Name: "pop", Protocol: client.POP3, Host: d.Host, Port: d.POP3Port, TLS: client.TLSNone,
		Username: user, Password: password, KeepOnServer: true}
	pop := newMailbox(t, popAcct, popDriver, nil)
	if _, err := pop.Sync(ctx, client.Inbox, client.SyncOptions{}); err != nil {
		t.Fatalf("pop3 sync: %v\n%s", err, d.Log())
	}
	byMsgID := map[string]string{}
	if err := pop.Cache.List(ctx, client.Inbox, client.ListOptions{}, func(e client.Envelope) error {
		byMsgID[e.MessageID] = e.ID
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, m := range corpus {
		if len(m.Flags) == 0 {
			continue
		}
		var flags []client.Flag
		for _, f := range m.Flags {
			flags = append(flags, client.Flag(f))
		}
		if err := pop.Cache.ChangeFlags(ctx, client.Inbox, []string{byMsgID[m.ID]}, client.FlagAdd, flags); err != nil {
			t.Fatal(err)
		}
	}
	pop.Close()

	// IMAP: the same flags on the server (after POP3, whose RETR may
	// have set \Seen), then sync --bodies into a cache of its own.
	imapc := dialIMAP(t, d, user)
	uids := map[string]imap.UID{}
	msgs, err := imapc.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Envelope: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		uids[m.Envelope.MessageID] = m.UID
	}
	for _, m := range corpus {
		flags := []imap.Flag{}
		for _, f := range m.Flags {
			flags = append(flags, imap.Flag(`\`+strings.ToUpper(f[:1])+f[1:]))
		}
		if err := imapc.Store(imap.UIDSetNum(uids[m.ID]), &imap.StoreFlags{Op: imap.StoreFlagsSet, Silent: true, Flags: flags}, nil).Close(); err != nil {
			t.Fatalf("store flags of %s: %v", m.ID, err)
		}
	}
	imapAcct := &client.Account{Name: "imap", Protocol: client.IMAP, Host: d.Host, Port: d.IMAPPort, TLS: client.TLSNone,
		Username: user, Password: password}
	im := newMailbox(t, imapAcct, imapDriver, nil)
	if _, err := im.Sync(ctx, client.Inbox, client.SyncOptions{Bodies: true}); err != nil {
		t.Fatalf("imap sync --bodies: %v\n%s", err, d.Log())
	}

	search := func(c client.Cache, q query.Node) []string {
		var out []string
		if err := c.Search(ctx, client.Inbox, q, client.ListOptions{}, func(e client.Envelope) error {
			out = append(out, e.MessageID)
			return nil
		}); err != nil {
			t.Fatalf("search %#v: %v", q, err)
		}
		sort.Strings(out)
		return out
	}
	same, inherent := 0, 0
	for _, tc := range sourcetest.SearchCases(time.Local) {
		server := serverSearch(t, imapc, tc.Query)
		popGot := search(pop.Cache, tc.Query)
		imapLocal := search(im.Cache, tc.Query)
		wantServer := tc.Want
		if tc.Inherent != "" {
			wantServer = tc.WantIMAP
			inherent++
			t.Logf("inherently different: %s: %s (server %v, local index %v)", tc.Name, tc.Inherent, server, popGot)
		} else {
			same++
		}
		if !slices.Equal(server, wantServer) {
			t.Errorf("%s: IMAP server search found %v, want %v", tc.Name, server, wantServer)
		}
		if !slices.Equal(popGot, tc.Want) {
			t.Errorf("%s: POP3 (local index) found %v, want %v", tc.Name, popGot, tc.Want)
		}
		if !slices.Equal(imapLocal, tc.Want) {
			t.Errorf("%s: IMAP --offline (local index) found %v, want %v", tc.Name, imapLocal, tc.Want)
		}
	}
	t.Logf("%d queries give the same messages on IMAP and POP3; %d differ by nature", same, inherent)
	if same < 30 {
		t.Errorf("only %d queries compared", same)
	}
}

func dialIMAP(t *testing.T, d *sourcetest.Dovecot, user string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialInsecure(fmt.Sprintf("%s:%d", d.Host, d.IMAPPort), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(user, sourcetest.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Select(client.Inbox, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	return c
}

// serverSearch asks Dovecot with one UID SEARCH and returns the
// Message-IDs of the hits. has:attachment, which IMAP SEARCH cannot
// express, is decided from BODYSTRUCTURE of the candidates (the corpus has
// it only as a term of the top-level AND).
func serverSearch(t *testing.T, c *imapclient.Client, q query.Node) []string {
	t.Helper()
	attach := false
	if and, ok := q.(query.And); ok {
		var rest []query.Node
		for _, term := range and.Terms {
			if _, ok := term.(query.HasAttachment); ok {
				attach = true
			} else {
				rest = append(rest, term)
			}
		}
		q = query.And{Terms: rest}
	}
	if _, ok := q.(query.HasAttachment); ok {
		attach, q = true, query.And{}
	}
	criteria := imapCriteria(t, q)
	data, err := c.UIDSearch(&criteria, nil).Wait()
	if err != nil {
		t.Fatalf("UID SEARCH for %#v: %v", q, err)
	}
	hits := data.AllUIDs()
	if len(hits) == 0 {
		return nil
	}
	msgs, err := c.Fetch(imap.UIDSetNum(hits...), &imap.FetchOptions{UID: true, Envelope: true, BodyStructure: &imap.FetchItemBodyStructure{Extended: true}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, m := range msgs {
		if attach && !hasAttachment(m.BodyStructure) {
			continue
		}
		out = append(out, m.Envelope.MessageID)
	}
	sort.Strings(out)
	return out
}

func hasAttachment(bs imap.BodyStructure) bool {
	found := false
	bs.Walk(func(path []int, part imap.BodyStructure) bool {
		if d := part.Disposition(); d != nil && strings.EqualFold(d.Value, "attachment") {
			found = true
		}
		return !found
	})
	return found
}

// imapCriteria is the test's own translation of a query into IMAP SEARCH
// keys: header fields by HEADER/FROM..., text by BODY and TEXT, dates by
// the Date header (SENTSINCE/SENTBEFORE), sizes, flags, NOT and OR.
func imapCriteria(t *testing.T, n query.Node) imap.SearchCriteria {
	t.Helper()
	var c imap.SearchCriteria
	switch n := n.(type) {
	case query.And:
		for _, term := range n.Terms {
			sub := imapCriteria(t, term)
			c.And(&sub)
		}
	case query.Or:
		if len(n.Terms) == 0 {
			c.Not = []imap.SearchCriteria{{}}
			break
		}
		c = imapCriteria(t, n.Terms[0])
		for _, term := range n.Terms[1:] {
			c = imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{c, imapCriteria(t, term)}}}
		}
	case query.Not:
		c.Not = []imap.SearchCriteria{imapCriteria(t, n.Term)}
	case query.Text:
		switch n.Field {
		case query.Anywhere:
			c.Text = []string{n.Value}
		case query.Body:
			c.Body = []string{n.Value}
		default:
			key := map[query.Field]string{query.From: "From", query.To: "To", query.Cc: "Cc", query.Subject: "Subject"}[n.Field]
			c.Header = []imap.SearchCriteriaHeaderField{{Key: key, Value: n.Value}}
		}
	case query.Flag:
		f := imap.Flag(`\` + strings.ToUpper(n.Name[:1]) + n.Name[1:])
		if n.Set {
			c.Flag = []imap.Flag{f}
		} else {
			c.NotFlag = []imap.Flag{f}
		}
	case query.Date:
		c.SentSince, c.SentBefore = n.Since, n.Before
	case query.Size:
		c.Larger, c.Smaller = n.Larger, n.Smaller
	default:
		t.Fatalf("no IMAP translation for %T", n)
	}
	return c
}
