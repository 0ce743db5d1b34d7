package popsrc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/popsrc/pop3test"
)

func TestSharedUIDLGetsIDsOfTheirOwn(t *testing.T) {
	srv := startServer(t, pop3test.Options{})
	for i, uidl := range []string{"AAA", "AAA", "AAA-2", "AAA"} {
		srv.AddWithUIDL("alice", uidl, testMessage(i))
	}
	var w warnings
	s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{Warn: w.add})
	_, items, err := s.Inventory(context.Background(), client.FolderRef{Name: client.Inbox}, client.InventoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var ids, names []string
	for _, it := range items {
		ids, names = append(ids, it.ID), append(names, it.ServerName())
	}
	// "AAA-2" is the server's own name for the third message.
	if want := []string{"AAA", "AAA-3", "AAA-2", "AAA-4"}; !slices.Equal(ids, want) {
		t.Errorf("IDs %v, want %v", ids, want)
	}
	if want := []string{"AAA", "AAA", "AAA-2", "AAA"}; !slices.Equal(names, want) {
		t.Errorf("names %v, want %v", names, want)
	}
	gotIDs, bodies, err := download(t, s, ids)
	if err != nil {
		t.Fatal(err)
	}
	for i := range gotIDs {
		if !bytes.Equal(bodies[i], testMessage(i)) {
			t.Errorf("%s is not message %d", gotIDs[i], i)
		}
	}
	if len(w.all()) != 1 || !strings.Contains(w.all()[0], "2 message(s) share a unique ID") {
		t.Errorf("warnings %q", w.all())
	}
}

// The digest TOP n 0 gives is the one a client computes from the whole
// message, with or without UIDL.
func TestHeaderDigestsMatchDownloadedHeader(t *testing.T) {
	for _, hide := range []bool{false, true} {
		srv := startServer(t, pop3test.Options{HideUIDL: hide})
		for i := 0; i < 3; i++ {
			srv.Add("alice", testMessage(i))
		}
		srv.Add("alice", []byte("Subject: bare LF\n\nbody\n"))
		s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{})
		ids := inventoryIDs(t, s)
		digests, err := s.HeaderDigests(context.Background(), client.FolderRef{Name: client.Inbox}, append(ids, "gone"))
		if err != nil {
			t.Fatal(err)
		}
		if len(digests) != len(ids) {
			t.Errorf("%d digests for %d messages", len(digests), len(ids))
		}
		_, bodies, err := download(t, s, ids)
		if err != nil {
			t.Fatal(err)
		}
		for i, id := range ids {
			h := client.NewHeaderHash()
			h.Write(bodies[i])
			if digests[id] != h.Sum() || len(h.Sum()) != 32 {
				t.Errorf("no UIDL %v: %s: TOP digest %s, from the message %s", hide, id, digests[id], h.Sum())
			}
			if hide && id != "hdr-"+h.Sum() {
				t.Errorf("ID %s, want hdr-%s", id, h.Sum())
			}
		}
	}
}

func TestShortRETRFailsTheMessage(t *testing.T) {
	lines := func(raw []byte) int { return bytes.Count(raw, []byte("\n")) }
	for name, c := range map[string]struct {
		opts  pop3test.Options
		short bool
	}{
		"truncated":          {pop3test.Options{TruncateRETR: 100}, true},
		"announced too much": {pop3test.Options{ListSize: func(raw []byte) int { return len(raw) + 50 }}, true},
		"LF counted":         {pop3test.Options{ListSize: func(raw []byte) int { return len(raw) - lines(raw) }}, false},
		"announced less":     {pop3test.Options{ListSize: func(raw []byte) int { return len(raw) / 2 }}, false},
	} {
		t.Run(name, func(t *testing.T) {
			srv := startServer(t, c.opts)
			srv.Add("alice", testMessage(1))
			srv.Add("alice", bytes.Repeat(testMessage(2), 10))
			s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{})
			var failed []string
			err := s.Download(context.Background(), client.FolderRef{Name: client.Inbox}, inventoryIDs(t, s), func(id string, size int64, r io.Reader) error {
				if _, err := io.ReadAll(r); errors.Is(err, client.ErrIncomplete) {
					failed = append(failed, id)
				} else if err != nil {
					return err
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if c.short && len(failed) == 0 || !c.short && len(failed) != 0 {
				t.Errorf("messages failed as short: %v", failed)
			}
			// The session goes on after a short message.
			if _, err := s.stat(); err != nil {
				t.Errorf("stat after the download: %v", err)
			}
		})
	}
}
