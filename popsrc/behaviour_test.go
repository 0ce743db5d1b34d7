package popsrc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/popsrc/pop3test"
)

func TestNoUIDLFallback(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts pop3test.Options
		why  string
	}{
		{"not announced", pop3test.Options{HideUIDL: true}, "does not announce UIDL"},
		{"refused", pop3test.Options{HideUIDL: true, NoCAPA: true}, "refused UIDL: UIDL not supported"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.opts)
			raws := [][]byte{testMessage(1), testMessage(2), testMessage(1), testMessage(3)}
			for _, raw := range raws {
				srv.Add("alice", raw)
			}
			var warns warnings
			s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{Warn: warns.add})
			ids := inventoryIDs(t, s)
			if len(ids) != 4 || !strings.HasPrefix(ids[0], "hdr-") || ids[2] != ids[0]+"-2" || len(slices.Compact(slices.Clone(ids))) != 4 {
				t.Fatalf("ids %v", ids)
			}
			got, bodies, err := download(t, s, []string{ids[3], ids[0]})
			if err != nil || !slices.Equal(got, []string{ids[3], ids[0]}) || !bytes.Equal(bodies[0], raws[3]) || !bytes.Equal(bodies[1], raws[0]) {
				t.Fatalf("download %v %v", got, err)
			}
			inventoryIDs(t, s)
			if w := warns.all(); len(w) != 1 || !strings.Contains(w[0], tc.why) || !strings.Contains(w[0], "TOP n 0") {
				t.Fatalf("warnings %q, want one saying %q", w, tc.why)
			}
			s.Close()

			// Another session finds the same IDs.
			s2 := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{})
			if again := inventoryIDs(t, s2); !slices.Equal(again, ids) {
				t.Fatalf("second session: %v, first %v", again, ids)
			}
			if n := countVerb(srv.Commands(), "TOP"); n != 4 {
				t.Fatalf("%d TOP in %v", n, srv.Commands())
			}
		})
	}
}

func TestNoUIDLNoTOP(t *testing.T) {
	for _, opts := range []pop3test.Options{{HideUIDL: true, HideTOP: true}, {HideUIDL: true, HideTOP: true, NoCAPA: true}} {
		srv := startServer(t, opts)
		srv.Add("alice", testMessage(1))
		s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{Warn: func(string) {}})
		_, _, err := s.Inventory(context.Background(), client.FolderRef{Name: client.Inbox}, client.InventoryOptions{})
		if !errors.Is(err, client.ErrUnsupported) || !strings.Contains(err.Error(), "cannot identify messages safely") {
			t.Fatalf("err %v", err)
		}
		if countVerb(srv.Commands(), "RETR")+countVerb(srv.Commands(), "DELE") != 0 {
			t.Fatalf("acted on messages: %v", srv.Commands())
		}
		if s.Capabilities().Has(client.FeatureHeadersOnly) {
			t.Fatal("headers_only still claimed without TOP")
		}
	}
}

func TestStalledServerTimesOut(t *testing.T) {
	for _, verb := range []string{"CAPA", "RETR"} {
		t.Run(verb, func(t *testing.T) {
			srv := startServer(t, pop3test.Options{StallOn: verb})
			srv.Add("alice", testMessage(1))
			acct := serverAccount(srv, client.TLSNone)
			acct.Timeout = time.Second
			start := time.Now()
			err := func() error {
				s, err := dial(context.Background(), acct, client.DialOptions{})
				if err != nil {
					return err
				}
				defer s.Close()
				_, _, err = download(t, s, inventoryIDs(t, s))
				return err
			}()
			if !errors.Is(err, client.ErrNetwork) || !strings.Contains(err.Error(), "timed out") {
				t.Fatalf("err %v", err)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Fatalf("took %v with a 1 s timeout", d)
			}
		})
	}
}

func TestContextCancelClosesConnection(t *testing.T) {
	srv := startServer(t, pop3test.Options{StallOn: "RETR"})
	srv.Add("alice", testMessage(1))
	acct := serverAccount(srv, client.TLSNone)
	acct.Timeout = time.Minute
	s := mustDial(t, acct, client.DialOptions{})
	ids := inventoryIDs(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	start := time.Now()
	err := s.Download(ctx, client.FolderRef{Name: client.Inbox}, ids, func(string, int64, io.Reader) error { return nil })
	if !errors.Is(err, context.Canceled) || time.Since(start) > 10*time.Second {
		t.Fatalf("err %v after %v", err, time.Since(start))
	}
	// The cancelled call reported the failure; nothing was pending.
	if err := s.Close(); err != nil {
		t.Fatalf("close after cancel: %v", err)
	}
	// A context already done sends nothing.
	s2 := mustDial(t, acct, client.DialOptions{})
	before := len(srv.Commands())
	if _, err := s2.Folders(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("folders with a cancelled context: %v", err)
	}
	if len(srv.Commands()) != before {
		t.Fatal("command sent under a cancelled context")
	}
	if _, err := s2.Folders(context.Background()); err != nil {
		t.Fatalf("session unusable after a refused call: %v", err)
	}
}

func TestUnsupportedOperations(t *testing.T) {
	srv := startServer(t, pop3test.Options{})
	id := srv.Add("alice", testMessage(1))
	s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{})
	ctx := context.Background()
	inbox := client.FolderRef{Name: client.Inbox}
	before := len(srv.Commands())
	for _, tc := range []struct {
		name, reason string
		call         func() error
	}{
		{"structure", "POP3 downloads whole messages", func() error { _, _, err := s.Structure(ctx, inbox, id); return err }},
		{"fetch part", "POP3 downloads whole messages", func() error { _, err := s.FetchPart(ctx, inbox, id, "1", io.Discard); return err }},
		{"move", "POP3 has no folders", func() error { _, err := s.Move(ctx, inbox, []string{id}, "Archive", client.MoveOptions{}); return err }},
		{"flags", "POP3 keeps no flags on the server", func() error {
			return s.SetFlags(ctx, inbox, []string{id}, client.FlagAdd, []client.Flag{client.FlagSeen})
		}},
		{"status of another folder", "POP3 has only INBOX", func() error { _, err := s.Status(ctx, "Sent"); return err }},
		{"download from another folder", "POP3 has only INBOX", func() error {
			return s.Download(ctx, client.FolderRef{Name: "Archive"}, []string{id}, nil)
		}},
		{"list unseen", "does not know which messages were read", func() error {
			_, err := s.List(ctx, inbox, client.ListOptions{Unseen: true}, func(client.Envelope) error { return nil })
			return err
		}},
	} {
		err := tc.call()
		if !errors.Is(err, client.ErrUnsupported) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: %v, want ErrUnsupported saying %q", tc.name, err, tc.reason)
		}
	}
	if after := len(srv.Commands()); after != before {
		t.Fatalf("unsupported operations sent commands: %v", srv.Commands()[before:])
	}
	// INBOX in any case is the folder.
	if st, err := s.Status(ctx, "inbox"); err != nil || st.Messages != 1 || st.Unseen != -1 || st.Name != client.Inbox {
		t.Fatalf("status: %+v %v", st, err)
	}
}

func TestListWithoutTOP(t *testing.T) {
	for _, opts := range []pop3test.Options{{HideTOP: true}, {HideTOP: true, NoCAPA: true}} {
		srv := startServer(t, opts)
		srv.Add("alice", testMessage(1))
		s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{})
		_, err := s.List(context.Background(), client.FolderRef{Name: client.Inbox}, client.ListOptions{}, func(client.Envelope) error { return nil })
		if !errors.Is(err, client.ErrUnsupported) || err.Error() != "list --headers-only: server lacks TOP" {
			t.Fatalf("err %v", err)
		}
		// The session carries on.
		if _, _, err := download(t, s, inventoryIDs(t, s)); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCapabilities(t *testing.T) {
	srv := startServer(t, pop3test.Options{})
	s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{})
	caps := s.Capabilities()
	if caps.Protocol != "pop3" || caps.TLS != "none" || !slices.Equal(caps.Auth, []string{"PLAIN"}) ||
		!slices.Contains(caps.Announced, "UIDL") || !slices.Contains(caps.Announced, "IMPLEMENTATION duomail-pop3test") {
		t.Fatalf("caps %+v", caps)
	}
	want := map[client.Feature]client.Support{
		client.FeatureFolders:          {Supported: false, How: "POP3 has no folders"},
		client.FeatureHeadersFirst:     {Supported: false, How: "POP3 downloads whole messages"},
		client.FeatureHeadersOnly:      {Supported: true, How: "TOP n 0"},
		client.FeaturePartialFetch:     {Supported: false, How: "POP3 downloads whole messages"},
		client.FeatureServerFlags:      {Supported: false, How: "POP3 keeps no flags on the server"},
		client.FeatureServerMove:       {Supported: false, How: "POP3 has no folders"},
		client.FeaturePush:             {Supported: false, How: "POP3 has no push; duomail polls with UIDL"},
		client.FeatureMailOnServer:     {Supported: false, How: "POP3 is download-and-store; the local cache is the store of record"},
		client.FeatureDeleteNoDownload: {Supported: true, How: "DELE (committed at QUIT)"},
		client.FeatureExpunge:          {Supported: true, How: "DELE"},
		client.FeatureChangeTracking:   {Supported: false, How: "only UIDL differences"},
		client.FeaturePipelining:       {Supported: true, How: "CAPA PIPELINING"},
	}
	for f, sup := range want {
		if caps.Features[f] != sup {
			t.Errorf("%s: %+v, want %+v", f, caps.Features[f], sup)
		}
	}
	for _, f := range client.AllFeatures {
		if sup, ok := caps.Features[f]; !ok || sup.How == "" {
			t.Errorf("%s: missing or unexplained: %+v", f, sup)
		}
	}
	if caps.Has(client.FeatureServerSearch) || caps.Has(client.FeatureTrash) {
		t.Errorf("search or trash claimed")
	}
	if err := caps.Require("move", client.FeatureServerMove); err == nil || err.Error() != "move: POP3 has no folders" {
		t.Errorf("require: %v", err)
	}
	// What commands decide without connecting agrees with a session.
	for f, sup := range Baseline().Features {
		if caps.Features[f] != sup {
			t.Errorf("Baseline %s = %+v, session says %+v", f, sup, caps.Features[f])
		}
	}
}

func TestFoldersAndList(t *testing.T) {
	srv := startServer(t, pop3test.Options{})
	var ids []string
	for i := 0; i < 5; i++ {
		ids = append(ids, srv.Add("alice", testMessage(i)))
	}
	mixed := "From: =?utf-8?q?J=C3=B6rg?= <jorg@example.org>\r\nTo: a@example.com, b@example.com\r\n" +
		"Subject: =?iso-8859-1?q?Gr=FC=DFe?=\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n\r\nhi\r\n--x--\r\n"
	ids = append(ids, srv.Add("alice", []byte(mixed)))
	s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{})
	ctx := context.Background()
	inbox := client.FolderRef{Name: client.Inbox}

	folders, err := s.Folders(ctx)
	if err != nil || len(folders) != 1 || folders[0] != (client.Folder{Name: client.Inbox, Role: client.RoleInbox, Total: 6, Unseen: -1}) {
		t.Fatalf("folders %+v %v", folders, err)
	}

	list := func(opts client.ListOptions) []client.Envelope {
		var envs []client.Envelope
		st, err := s.List(ctx, inbox, opts, func(e client.Envelope) error { envs = append(envs, e); return nil })
		if err != nil || st.Messages != 6 {
			t.Fatalf("list %+v: %+v %v", opts, st, err)
		}
		return envs
	}
	envs := list(client.ListOptions{Limit: 3})
	if len(envs) != 3 || envs[0].ID != ids[5] || envs[1].ID != ids[4] || envs[2].ID != ids[3] {
		t.Fatalf("newest first, limit 3: %+v", envs)
	}
	e := envs[0]
	if e.Subject != "Grüße" || e.From != "Jörg <jorg@example.org>" || len(e.To) != 2 || !e.HasAttachments ||
		e.Folder != client.Inbox || e.Size != int64(len(mixed)) || e.Flags != nil || e.UIDValidity != 0 {
		t.Fatalf("envelope %+v", e)
	}
	if e := envs[1]; e.Subject != "message 4" || e.MessageID != "m4@example.org" || e.HasAttachments || e.Date.Second() != 4 {
		t.Fatalf("envelope %+v", e)
	}
	if all := list(client.ListOptions{}); len(all) != 6 || all[5].ID != ids[0] {
		t.Fatalf("all: %d", len(all))
	}
	envs = list(client.ListOptions{IDs: []string{ids[1], ids[4]}, Limit: 1})
	if len(envs) != 2 || envs[0].ID != ids[4] || envs[1].ID != ids[1] {
		t.Fatalf("by IDs: %+v", envs)
	}
	_, err = s.List(ctx, inbox, client.ListOptions{IDs: []string{"missing"}}, func(client.Envelope) error { return nil })
	if !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("unknown ID: %v", err)
	}
	// Stopping early leaves the session usable.
	stop := errors.New("enough")
	_, err = s.List(ctx, inbox, client.ListOptions{}, func(client.Envelope) error { return stop })
	if err != stop {
		t.Fatalf("stop: %v", err)
	}
	if _, bodies, err := download(t, s, ids[:1]); err != nil || !bytes.Equal(bodies[0], testMessage(0)) {
		t.Fatalf("after stop: %v", err)
	}
	if n := countVerb(srv.Commands(), "RETR"); n != 1 {
		t.Fatalf("list fetched bodies: %d RETR", n)
	}
}

// A QUIT that is never confirmed leaves the deletions unknown (this server
// did not commit them), and Close says so.
func TestQuitNotConfirmed(t *testing.T) {
	srv := startServer(t, pop3test.Options{StallOn: "QUIT"})
	srv.Add("alice", testMessage(1))
	srv.Add("alice", testMessage(2))
	acct := serverAccount(srv, client.TLSNone)
	acct.Timeout = time.Second
	s := mustDial(t, acct, client.DialOptions{})
	ids := inventoryIDs(t, s)
	if _, err := s.Delete(context.Background(), client.FolderRef{Name: client.Inbox}, ids, client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	err := s.Close()
	if !errors.Is(err, client.ErrNetwork) || !strings.Contains(err.Error(), "2 deletion(s) not confirmed") {
		t.Fatalf("close: %v", err)
	}
	srv.Close() // drops the stalled session
	if n := len(srv.Messages("alice")); n != 2 {
		t.Fatalf("%d messages left, want 2", n)
	}
}
