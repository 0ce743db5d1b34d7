// Package sourcetest is the conformance suite every client.Source passes
// (like restic's and rclone's backend tests), plus the fixtures it runs on: a
// private Dovecot, a test CA, and messages whose bytes careless clients
// change. The suite decides what to expect from the Source's Capabilities,
// never from the protocol's name: a Source that claims a feature must
// deliver it, and one that lacks it must say why with ErrUnsupported.
package sourcetest

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
	"github.com/duomail/duomail/client/mimepart"
)

// Mailbox is one empty test mailbox on a server under test.
type Mailbox struct {
	// Addr is the server's host:port.
	Addr string
	// DialAddr opens a new authenticated connection to the mailbox through
	// addr (the server's, or a proxy's in front of it), with TLS verified
	// for the server's name as usual.
	DialAddr func(t testing.TB, addr string) client.Source
	// Deliver puts a message into a folder out of band (as a delivery agent
	// or another client would), bypassing the Source under test.
	Deliver func(t testing.TB, folder string, raw []byte)
	// Wire converts delivered bytes into what the server sends for them
	// (Dovecot: WireForm). Nil means byte for byte as delivered.
	Wire func(raw []byte) []byte
	// Served, when set, is what the server sends for delivered bytes
	// where that depends on the message's ID: GNU Mailutils pop3d adds an
	// X-UIDL header naming the UIDL (MailutilsPOP3Served).
	Served func(id string, raw []byte) []byte
	// OtherFolder is a second folder that exists, empty, on servers with
	// folders ("" where there are none).
	OtherFolder string
}

// Harness gives the suite fresh mailboxes on one server.
type Harness struct {
	New func(t testing.TB) *Mailbox
	// Parallel runs the tests at once, each on its mailbox: for a server
	// slow to answer one session at a time but able to serve many.
	Parallel bool
}

// Run runs the conformance suite.
func Run(t *testing.T, h Harness) {
	tests := []struct {
		name string
		fn   func(*testing.T, *Mailbox)
	}{
		{"Capabilities", testCapabilities},
		{"Folders", testFolders},
		{"InventoryStableIDs", testInventory},
		{"DownloadByteExact", testDownload},
		{"DownloadUnknownID", testDownloadUnknown},
		{"ListNewestFirst", testList},
		{"StructureAndParts", testStructure},
		{"Delete", testDelete},
		{"DeleteNeedsCleanEnd", testDeleteRollback},
		{"Move", testMove},
		{"SetFlags", testSetFlags},
		{"NoIDs", testNoIDs},
		{"UnknownIDs", testUnknownIDs},
		{"CancelledContext", testCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if h.Parallel {
				t.Parallel()
			}
			tc.fn(t, h.New(t))
		})
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Dial opens a new connection to the mailbox's server.
func (mb *Mailbox) Dial(t testing.TB) client.Source { return mb.DialAddr(t, mb.Addr) }

func dial(t testing.TB, mb *Mailbox) client.Source {
	src := mb.Dial(t)
	t.Cleanup(func() { src.Close() })
	return src
}

func (mb *Mailbox) wire(raw []byte) []byte {
	if mb.Wire == nil {
		return raw
	}
	return mb.Wire(raw)
}

func (mb *Mailbox) served(id string, raw []byte) []byte {
	if mb.Served != nil {
		return mb.Served(id, raw)
	}
	return mb.wire(raw)
}

func inbox() client.FolderRef { return client.FolderRef{Name: client.Inbox} }

func inventory(t testing.TB, src client.Source, ref client.FolderRef) (client.FolderStatus, []client.Item) {
	t.Helper()
	st, items, err := src.Inventory(ctxT(t), ref, client.InventoryOptions{})
	if err != nil {
		t.Fatalf("Inventory(%s): %v", ref.Name, err)
	}
	return st, items
}

func ids(items []client.Item) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

// wantUnsupported checks that a missing feature is refused with a reason.
func wantUnsupported(t *testing.T, op string, err error) {
	t.Helper()
	if !errors.Is(err, client.ErrUnsupported) {
		t.Fatalf("%s without the feature: got %v, want an error wrapping ErrUnsupported", op, err)
	}
	var ue *client.UnsupportedError
	if !errors.As(err, &ue) || strings.TrimSpace(ue.Reason) == "" {
		t.Fatalf("%s: unsupported error %q does not say why", op, err)
	}
}

func testCapabilities(t *testing.T, mb *Mailbox) {
	src := dial(t, mb)
	caps := src.Capabilities()
	if caps.Protocol != client.IMAP && caps.Protocol != client.POP3 {
		t.Errorf("Protocol = %q", caps.Protocol)
	}
	if len(caps.Announced) == 0 {
		t.Error("Announced is empty: the server's capability list was not recorded")
	}
	if caps.TLS == "" {
		t.Error("TLS is empty; want a description or \"none\"")
	}
	for _, f := range client.AllFeatures {
		s, ok := caps.Features[f]
		if !ok {
			t.Errorf("feature %s missing from Capabilities", f)
			continue
		}
		if strings.TrimSpace(s.How) == "" {
			t.Errorf("feature %s (supported=%v) has no How: say the mechanism or the reason", f, s.Supported)
		}
	}
}

func testFolders(t *testing.T, mb *Mailbox) {
	mb.Deliver(t, client.Inbox, SimpleMessage("one", time.Now()))
	mb.Deliver(t, client.Inbox, SimpleMessage("two", time.Now()))
	src := dial(t, mb)
	folders, err := src.Folders(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, f := range folders {
		if f.Name == client.Inbox {
			found = true
			if f.Total != 2 || f.Role != client.RoleInbox {
				t.Errorf("INBOX = %+v, want total 2 and role inbox", f)
			}
			if f.Unseen != -1 && f.Unseen != 2 {
				t.Errorf("INBOX unseen = %d, want 2 (or -1 for unknown)", f.Unseen)
			}
		}
	}
	if !found {
		t.Fatalf("no INBOX in %+v", folders)
	}
	if src.Capabilities().Has(client.FeatureFolders) {
		if mb.OtherFolder == "" {
			t.Fatal("harness gives no other folder for a source with folders")
		}
		if !slices.ContainsFunc(folders, func(f client.Folder) bool { return f.Name == mb.OtherFolder }) {
			t.Errorf("folder %s missing from %+v", mb.OtherFolder, folders)
		}
	} else if len(folders) != 1 {
		t.Errorf("source without folders lists %d folders", len(folders))
	}
	st, err := src.Status(ctxT(t), client.Inbox)
	if err != nil || st.Messages != 2 {
		t.Errorf("Status(INBOX) = %+v, %v; want 2 messages", st, err)
	}
}

func testInventory(t *testing.T, mb *Mailbox) {
	msgs := []string{"first", "second", "third"}
	for i, s := range msgs {
		mb.Deliver(t, client.Inbox, SimpleMessage(s, time.Now().Add(time.Duration(i)*time.Minute)))
	}
	src := dial(t, mb)
	_, items := inventory(t, src, inbox())
	if len(items) != 3 {
		t.Fatalf("inventory has %d items, want 3", len(items))
	}
	seen := map[string]bool{}
	for _, it := range items {
		if it.ID == "" || seen[it.ID] {
			t.Fatalf("empty or duplicate ID in %+v", items)
		}
		seen[it.ID] = true
		if it.Size <= 0 {
			t.Errorf("item %s has size %d", it.ID, it.Size)
		}
	}
	// Oldest first: the first delivered message comes first.
	var first bytes.Buffer
	if err := src.Download(ctxT(t), inbox(), []string{items[0].ID}, func(id string, size int64, r io.Reader) error {
		_, err := io.Copy(&first, r)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(first.String(), "Subject: first") {
		t.Errorf("first inventory item is not the oldest message:\n%s", first.String())
	}
	src.Close()
	// IDs are stable across sessions.
	src2 := dial(t, mb)
	_, items2 := inventory(t, src2, inbox())
	if !slices.Equal(ids(items), ids(items2)) {
		t.Errorf("IDs changed between sessions: %v then %v", ids(items), ids(items2))
	}
}

func testDownload(t *testing.T, mb *Mailbox) {
	msgs := TrickyMessages()
	for _, m := range msgs {
		mb.Deliver(t, client.Inbox, m.Raw)
	}
	src := dial(t, mb)
	_, items := inventory(t, src, inbox())
	if len(items) != len(msgs) {
		t.Fatalf("inventory has %d items, want %d", len(items), len(msgs))
	}
	got := map[string][]byte{}
	var order []string
	err := src.Download(ctxT(t), inbox(), ids(items), func(id string, size int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		got[id] = b
		order = append(order, id)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(order) != len(msgs) {
		t.Fatalf("download delivered %d messages, want %d", len(order), len(msgs))
	}
	for i, it := range items {
		want := mb.served(it.ID, msgs[i].Raw)
		if !bytes.Equal(got[it.ID], want) {
			t.Errorf("message %s (%s) differs from the server's copy:\n got %d bytes %q\nwant %d bytes %q",
				it.ID, msgs[i].Name, len(got[it.ID]), clip(got[it.ID]), len(want), clip(want))
		}
		// POP3 servers end a message that lacks a final newline with one
		// on the wire but may count it without (Dovecot's LIST).
		slack := int64(0)
		if !bytes.HasSuffix(msgs[i].Raw, []byte("\n")) {
			slack = 2
		}
		if d := int64(len(want)) - it.Size; d < 0 || d > slack {
			t.Errorf("message %s (%s): inventory size %d, downloaded %d bytes", it.ID, msgs[i].Name, it.Size, len(want))
		}
	}
}

func clip(b []byte) []byte {
	if len(b) > 300 {
		return append(b[:150:150], append([]byte("..."), b[len(b)-150:]...)...)
	}
	return b
}

func testDownloadUnknown(t *testing.T, mb *Mailbox) {
	mb.Deliver(t, client.Inbox, SimpleMessage("only", time.Now()))
	src := dial(t, mb)
	_, items := inventory(t, src, inbox())
	var delivered []string
	err := src.Download(ctxT(t), inbox(), []string{items[0].ID, "999999"}, func(id string, size int64, r io.Reader) error {
		delivered = append(delivered, id)
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if !errors.Is(err, client.ErrNotFound) {
		t.Errorf("download of an unknown ID: err = %v, want ErrNotFound", err)
	}
	if !slices.Equal(delivered, []string{items[0].ID}) {
		t.Errorf("delivered %v, want the known message %s", delivered, items[0].ID)
	}
	// The session is still usable.
	if _, _, err := src.Inventory(ctxT(t), inbox(), client.InventoryOptions{}); err != nil {
		t.Errorf("session broken after unknown ID: %v", err)
	}
}

func testList(t *testing.T, mb *Mailbox) {
	base := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		mb.Deliver(t, client.Inbox, SimpleMessage("msg "+string(rune('A'+i)), base.Add(time.Duration(i)*time.Hour)))
	}
	mb.Deliver(t, client.Inbox, TrickyMessages()[3].Raw) // encoded-word subject
	src := dial(t, mb)
	caps := src.Capabilities()
	var got []client.Envelope
	_, err := src.List(ctxT(t), inbox(), client.ListOptions{Limit: 4}, func(e client.Envelope) error {
		got = append(got, e)
		return nil
	})
	if !caps.Has(client.FeatureHeadersOnly) && !caps.Has(client.FeatureHeadersFirst) {
		wantUnsupported(t, "List", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 4 {
		t.Fatalf("List with limit 4 gave %d envelopes", len(got))
	}
	if got[0].Subject != "Grüße aus Köln" {
		t.Errorf("newest subject = %q, want the decoded \"Grüße aus Köln\"", got[0].Subject)
	}
	for i, want := range []string{"msg E", "msg D", "msg C"} {
		if got[i+1].Subject != want {
			t.Errorf("envelope %d subject %q, want %q (newest first)", i+1, got[i+1].Subject, want)
		}
	}
	e := got[1]
	if e.ID == "" || e.Size <= 0 || e.From != "Sender <sender@example.org>" || len(e.To) != 1 || !e.Date.Equal(base.Add(4*time.Hour)) || e.Folder != client.Inbox {
		t.Errorf("envelope fields: %+v", e)
	}
	// Listing again by ID gives the same envelope.
	var again []client.Envelope
	if _, err := src.List(ctxT(t), inbox(), client.ListOptions{IDs: []string{e.ID}}, func(x client.Envelope) error {
		again = append(again, x)
		return nil
	}); err != nil || len(again) != 1 || again[0].Subject != e.Subject {
		t.Errorf("List by ID %s: %+v, %v", e.ID, again, err)
	}
}

func testStructure(t *testing.T, mb *Mailbox) {
	msgs := TrickyMessages()
	att := msgs[6].Raw
	alt := msgs[7].Raw
	mb.Deliver(t, client.Inbox, att)
	mb.Deliver(t, client.Inbox, alt)
	src := dial(t, mb)
	_, items := inventory(t, src, inbox())
	_, _, err := src.Structure(ctxT(t), inbox(), items[0].ID)
	if !src.Capabilities().Has(client.FeaturePartialFetch) {
		wantUnsupported(t, "Structure", err)
		_, err = src.FetchPart(ctxT(t), inbox(), items[0].ID, "1", io.Discard)
		wantUnsupported(t, "FetchPart", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for i, raw := range [][]byte{att, alt} {
		_, want, err := mimepart.ParseMessage(bytes.NewReader(mb.wire(raw)))
		if err != nil {
			t.Fatal(err)
		}
		_, got, err := src.Structure(ctxT(t), inbox(), items[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		if g, w := treeString(got), treeString(want); g != w {
			t.Errorf("message %d: server structure\n%s\nlocal parse\n%s", i, g, w)
		}
		want.Walk(func(p *client.Part) bool {
			if p.IsMultipart() {
				return true
			}
			var fromServer, local bytes.Buffer
			if _, err := src.FetchPart(ctxT(t), inbox(), items[i].ID, p.Path, &fromServer); err != nil {
				t.Errorf("FetchPart %s: %v", p.Path, err)
				return true
			}
			mimepart.CopyPart(bytes.NewReader(mb.wire(raw)), p.Path, &local)
			// Servers may differ on the CRLF that precedes a boundary;
			// compare the content.
			if !bytes.Equal(bytes.TrimRight(fromServer.Bytes(), "\r\n"), bytes.TrimRight(local.Bytes(), "\r\n")) {
				t.Errorf("part %s: server %q, local %q", p.Path, clip(fromServer.Bytes()), clip(local.Bytes()))
			}
			return true
		})
	}
	// IMAP servers answer a missing section with NIL or an empty string,
	// which cannot be told from an empty part: no bytes, or an error.
	if n, err := src.FetchPart(ctxT(t), inbox(), items[0].ID, "9", io.Discard); err == nil && n != 0 {
		t.Errorf("FetchPart of a missing part gave %d bytes", n)
	}
}

func treeString(p *client.Part) string {
	var b strings.Builder
	p.Walk(func(q *client.Part) bool {
		b.WriteString(q.Path + " " + q.Type + " " + q.Encoding + " " + q.Filename + " " + q.Charset() + "\n")
		return true
	})
	return b.String()
}

func testDelete(t *testing.T, mb *Mailbox) {
	for _, s := range []string{"keep", "delete me", "keep too"} {
		mb.Deliver(t, client.Inbox, SimpleMessage(s, time.Now()))
	}
	src := dial(t, mb)
	caps := src.Capabilities()
	_, items := inventory(t, src, inbox())
	victim := items[1].ID
	res, err := src.Delete(ctxT(t), inbox(), []string{victim}, client.DeleteOptions{Expunge: true})
	if !caps.Has(client.FeatureDeleteNoDownload) {
		wantUnsupported(t, "Delete", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("Close after delete (commits it where deletion is pending): %v", err)
	}
	src2 := dial(t, mb)
	_, after := inventory(t, src2, inbox())
	want := []string{items[0].ID, items[2].ID}
	if !slices.Equal(ids(after), want) {
		t.Errorf("after deleting %s (result %+v): %v, want %v", victim, res, ids(after), want)
	}
	if caps.Has(client.FeatureTrash) && mb.OtherFolder != "" {
		// Without Expunge a source with a Trash folder moves there.
		_, items := inventory(t, src2, inbox())
		res, err := src2.Delete(ctxT(t), inbox(), []string{items[0].ID}, client.DeleteOptions{})
		if err != nil || res.MovedTo == "" {
			t.Fatalf("delete to trash: %+v, %v", res, err)
		}
		_, trash := inventory(t, src2, client.FolderRef{Name: res.MovedTo})
		if len(trash) != 1 {
			t.Errorf("trash %s holds %d messages, want 1", res.MovedTo, len(trash))
		}
	}
}

// testDeleteRollback: where deletion is committed only by a clean end of
// session, a session that breaks deletes nothing.
func testDeleteRollback(t *testing.T, mb *Mailbox) {
	mb.Deliver(t, client.Inbox, SimpleMessage("survivor", time.Now()))
	proxy := StartProxy(t, mb.Addr)
	src := mb.DialAddr(t, proxy.Addr())
	defer src.Close()
	_, items := inventory(t, src, inbox())
	res, err := src.Delete(ctxT(t), inbox(), ids(items), client.DeleteOptions{Expunge: true})
	if err != nil {
		if errors.Is(err, client.ErrUnsupported) {
			t.Skip("source cannot delete")
		}
		t.Fatal(err)
	}
	if !res.Pending {
		t.Skip("deletion is immediate on this source")
	}
	// The network fails before the session ends.
	proxy.CutAll()
	if err := src.Close(); err == nil {
		t.Error("Close over a cut connection reported success: the user would believe the deletion happened")
	}
	src2 := dial(t, mb)
	_, after := inventory(t, src2, inbox())
	if len(after) != 1 {
		t.Errorf("a session that ended without QUIT deleted mail: %d left, want 1", len(after))
	}
}

func testMove(t *testing.T, mb *Mailbox) {
	mb.Deliver(t, client.Inbox, SimpleMessage("to move", time.Now()))
	mb.Deliver(t, client.Inbox, SimpleMessage("to stay", time.Now()))
	src := dial(t, mb)
	_, items := inventory(t, src, inbox())
	dest := mb.OtherFolder
	if dest == "" {
		dest = "Archive"
	}
	_, err := src.Move(ctxT(t), inbox(), []string{items[0].ID}, dest, client.MoveOptions{})
	if !src.Capabilities().Has(client.FeatureServerMove) {
		wantUnsupported(t, "Move", err)
		if !strings.Contains(strings.ToLower(err.Error()), "folder") {
			t.Errorf("move refusal %q does not mention folders", err)
		}
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	_, left := inventory(t, src, inbox())
	_, moved := inventory(t, src, client.FolderRef{Name: dest})
	if len(left) != 1 || left[0].ID != items[1].ID || len(moved) != 1 {
		t.Errorf("after move: inbox %v, %s %v", ids(left), dest, ids(moved))
	}
}

func testSetFlags(t *testing.T, mb *Mailbox) {
	mb.Deliver(t, client.Inbox, SimpleMessage("flag me", time.Now()))
	src := dial(t, mb)
	_, items := inventory(t, src, inbox())
	err := src.SetFlags(ctxT(t), inbox(), ids(items), client.FlagAdd, []client.Flag{client.FlagFlagged, client.FlagSeen})
	if !src.Capabilities().Has(client.FeatureServerFlags) {
		wantUnsupported(t, "SetFlags", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	// Another device sees the change once the session has ended (GNU
	// Mailutils writes flags to its Maildir only when the session closes
	// the folder; every duomail command is one session).
	if err := src.Close(); err != nil {
		t.Fatalf("Close after setting flags: %v", err)
	}
	_, seen := inventory(t, dial(t, mb), inbox())
	if f := seen[0].Flags; !client.HasFlag(f, client.FlagFlagged) || !client.HasFlag(f, client.FlagSeen) {
		t.Errorf("flags seen by a second connection: %v", f)
	}
	src = dial(t, mb)
	if err := src.SetFlags(ctxT(t), inbox(), ids(items), client.FlagRemove, []client.Flag{client.FlagFlagged}); err != nil {
		t.Fatal(err)
	}
	if err := src.Close(); err != nil {
		t.Fatalf("Close after setting flags: %v", err)
	}
	_, seen = inventory(t, dial(t, mb), inbox())
	if f := seen[0].Flags; client.HasFlag(f, client.FlagFlagged) || !client.HasFlag(f, client.FlagSeen) {
		t.Errorf("after removing flagged: %v", f)
	}
}

// testNoIDs: an empty ID list must neither be sent (go-imap closes the
// connection on an empty UID set) nor break the session.
func testNoIDs(t *testing.T, mb *Mailbox) {
	mb.Deliver(t, client.Inbox, SimpleMessage("x", time.Now()))
	src := dial(t, mb)
	calls := 0
	if err := src.Download(ctxT(t), inbox(), nil, func(string, int64, io.Reader) error { calls++; return nil }); err != nil && !errors.Is(err, client.ErrUsage) {
		t.Errorf("Download(no IDs) = %v", err)
	}
	if err := src.SetFlags(ctxT(t), inbox(), nil, client.FlagAdd, []client.Flag{client.FlagSeen}); err != nil &&
		!errors.Is(err, client.ErrUsage) && !errors.Is(err, client.ErrUnsupported) {
		t.Errorf("SetFlags(no IDs) = %v", err)
	}
	if _, err := src.Delete(ctxT(t), inbox(), nil, client.DeleteOptions{Expunge: true}); err != nil && !errors.Is(err, client.ErrUsage) {
		t.Errorf("Delete(no IDs) = %v", err)
	}
	if calls != 0 {
		t.Errorf("callback called %d times for no IDs", calls)
	}
	if _, items := inventory(t, src, inbox()); len(items) != 1 {
		t.Errorf("session broken or mail lost after empty ID lists: %d items", len(items))
	}
}

// testUnknownIDs: acting on an ID that is not there fails with ErrNotFound
// (IMAP would silently ignore such a UID) and changes nothing else.
func testUnknownIDs(t *testing.T, mb *Mailbox) {
	mb.Deliver(t, client.Inbox, SimpleMessage("real", time.Now()))
	src := dial(t, mb)
	caps := src.Capabilities()
	_, items := inventory(t, src, inbox())
	unknown := []string{items[0].ID + "0"}
	if caps.Protocol == client.IMAP {
		unknown = []string{"4000000000"}
	}
	check := func(op string, f client.Feature, err error) {
		t.Helper()
		if !caps.Has(f) {
			wantUnsupported(t, op, err)
			return
		}
		if !errors.Is(err, client.ErrNotFound) {
			t.Errorf("%s of an unknown ID: %v, want ErrNotFound", op, err)
		}
	}
	check("SetFlags", client.FeatureServerFlags, src.SetFlags(ctxT(t), inbox(), unknown, client.FlagAdd, []client.Flag{client.FlagSeen}))
	_, err := src.Move(ctxT(t), inbox(), unknown, "Archive", client.MoveOptions{})
	check("Move", client.FeatureServerMove, err)
	_, err = src.Delete(ctxT(t), inbox(), unknown, client.DeleteOptions{Expunge: true})
	check("Delete", client.FeatureDeleteNoDownload, err)
	src.Close()
	_, after := inventory(t, dial(t, mb), inbox())
	if len(after) != 1 {
		t.Errorf("%d messages after failed operations, want 1", len(after))
	}
}

func testCancelled(t *testing.T, mb *Mailbox) {
	mb.Deliver(t, client.Inbox, SimpleMessage("x", time.Now()))
	src := dial(t, mb)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	if _, _, err := src.Inventory(ctx, inbox(), client.InventoryOptions{}); err == nil {
		t.Error("Inventory with a cancelled context succeeded")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("cancelled call took %v", d)
	}
}
