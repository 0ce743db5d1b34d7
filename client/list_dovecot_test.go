package client_test

import (
	"encoding/json"
	"fmt"
	"strconv"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
)

// A page of a folder whose envelopes the cache already holds costs the
// flags and envelopes on the wire but not sizes and structures, and lists
// exactly what listing from an empty cache lists, with the flags as the
// server has them now.
func TestListAsksNoSizeOrStructureOfCachedEnvelopes(t *testing.T) {
	sourcetest.RequireDovecot(t)
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	user := d.AddUser(t)
	for _, m := range sourcetest.SearchCorpus() {
		d.Deliver(t, user, client.Inbox, m.Raw)
	}
	ctx := ctxT(t)
	acct := &client.Account{Name: "imap", Protocol: client.IMAP, Host: d.Host, Port: d.IMAPPort, TLS: client.TLSNone,
		Username: user, Password: password}
	stats := client.NewWireStats("IMAP")
	mb := newMailbox(t, acct, imapDriver, stats)
	list := func() ([]client.Envelope, client.Counts) {
		t.Helper()
		before := stats.Total()
		envs, err := mb.List(ctx, client.ListRequest{Folder: client.Inbox})
		if err != nil {
			t.Fatalf("list: %v\n%s", err, d.Log())
		}
		c := stats.Total()
		c.Received -= before.Received
		return envs, c
	}
	cold, coldCost := list()
	if len(cold) < 5 {
		t.Fatalf("listed %d messages of the corpus", len(cold))
	}

	// Another client changes one message's flags meanwhile.
	other := dialIMAP(t, d, user)
	changed, err := strconv.ParseUint(cold[1].ID, 10, 32)
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Store(imap.UIDSetNum(imap.UID(changed)), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagFlagged}}, nil).Close(); err != nil {
		t.Fatal(err)
	}

	warm, warmCost := list()
	if len(warm) != len(cold) {
		t.Fatalf("listed %d messages, then %d", len(cold), len(warm))
	}
	if !client.HasFlag(warm[1].Flags, client.FlagFlagged) || len(warm[1].Flags) != len(cold[1].Flags)+1 {
		t.Errorf("message %s has flags %v after another client flagged it (before: %v)", warm[1].ID, warm[1].Flags, cold[1].Flags)
	}
	warm[1].Flags = cold[1].Flags
	want, _ := json.MarshalIndent(cold, "", " ")
	got, _ := json.MarshalIndent(warm, "", " ")
	if string(got) != string(want) {
		t.Errorf("listing with the envelopes cached differs from the one without:\n got %s\nwant %s", got, want)
	}
	t.Logf("received %d bytes with no envelope cached, %d with all", coldCost.Received, warmCost.Received)
	// The corpus's multipart messages make BODYSTRUCTURE a good part of
	// a full envelope fetch.
	if warmCost.Received*5 > coldCost.Received*4 {
		t.Errorf("with every envelope cached the listing received %d bytes, against %d with none: sizes and structures were fetched again", warmCost.Received, coldCost.Received)
	}
}

// A listing longer than the chunks kept in flight at once comes out
// complete, newest first, each envelope with its own message.
func TestListPipelinedChunksStayInOrder(t *testing.T) {
	sourcetest.RequireDovecot(t)
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	user := d.AddUser(t)
	const n = 2300 // more than the chunks in flight (4 × 500)
	for i := 1; i <= n; i++ {
		d.Deliver(t, user, client.Inbox, []byte(fmt.Sprintf("From: a@example.org\r\nSubject: number %d\r\nMessage-ID: <n%d@example.org>\r\n\r\nbody %d\r\n", i, i, i)))
	}
	ctx := ctxT(t)
	acct := &client.Account{Name: "imap", Protocol: client.IMAP, Host: d.Host, Port: d.IMAPPort, TLS: client.TLSNone,
		Username: user, Password: password}
	mb := newMailbox(t, acct, imapDriver, nil)
	for _, round := range []string{"empty cache", "cached"} {
		var prev uint64
		subjects := map[string]bool{}
		err := mb.ListEach(ctx, client.ListRequest{Folder: client.Inbox}, func(e client.Envelope) error {
			uid, err := strconv.ParseUint(e.ID, 10, 32)
			if err != nil {
				return err
			}
			if len(subjects) > 0 && uid >= prev {
				return fmt.Errorf("uid %s after %d: not newest first", e.ID, prev)
			}
			if subjects[e.Subject] {
				return fmt.Errorf("uid %s repeats subject %q", e.ID, e.Subject)
			}
			subjects[e.Subject] = true
			prev = uid
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", round, err)
		}
		for i := 1; i <= n; i++ {
			if !subjects[fmt.Sprintf("number %d", i)] {
				t.Fatalf("%s: message %d missing from a listing of %d", round, i, len(subjects))
			}
		}
	}
}
