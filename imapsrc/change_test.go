package imapsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/imapsrc/imaptest"
)

func init() {
	suite = append(suite, []struct {
		name string
		f    func(*testing.T, *backend)
	}{
		{"DownloadExact", testDownloadExact},
		{"BadAndEmptyIDs", testBadAndEmptyIDs},
		{"DeleteToTrash", testDeleteToTrash},
		{"DeleteExpungeOnlyChosen", testDeleteExpungeOnlyChosen},
		{"Move", testMove},
		{"SetFlagsVisibleElsewhere", testSetFlags},
		{"StaleUIDValidity", testStaleUIDValidity},
		{"TrashLookedUpWhenNeeded", testTrashLookedUpWhenNeeded},
	}...)
}

// commandLines returns the commands of a debug trace, without tags.
func commandLines(trace string) []string {
	var out []string
	for _, line := range strings.Split(trace, "\n") {
		if rest, ok := strings.CutPrefix(line, "C: "); ok {
			if _, cmd, ok := strings.Cut(rest, " "); ok {
				out = append(out, cmd)
			}
		}
	}
	return out
}

func hasCommand(trace, prefix string) bool {
	for _, c := range commandLines(trace) {
		if strings.HasPrefix(strings.ToUpper(c), prefix) {
			return true
		}
	}
	return false
}

// download returns the messages Download delivers, by ID, and their order.
func download(t *testing.T, s *Source, ref client.FolderRef, ids []string) (map[string][]byte, []string, error) {
	t.Helper()
	got := map[string][]byte{}
	var order []string
	err := s.Download(bg, ref, ids, func(id string, size int64, r io.Reader) error {
		data, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		if int64(len(data)) != size {
			t.Errorf("uid %s: size %d, read %d", id, size, len(data))
		}
		got[id] = data
		order = append(order, id)
		return nil
	})
	return got, order, err
}

func testDownloadExact(t *testing.T, b *backend) {
	for _, m := range corpus {
		b.deliver(t, "alice", b.box, []byte(m))
	}
	var trace syncBuffer
	s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
	ids := inventoryIDs(t, s, b.box)
	trace.Reset()
	got, order, err := download(t, s, client.FolderRef{Name: b.box}, ids)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(order, ids) {
		t.Errorf("order %v, want ascending %v", order, ids)
	}
	// Every delivered message comes back byte for byte.
	for _, m := range corpus {
		want := b.served([]byte(m))
		found := false
		for _, data := range got {
			if bytes.Equal(data, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("message %q not downloaded byte-exact", trunc(m))
		}
	}
	if n := strings.Count(trace.String(), "C: "); n != 1 || !hasCommand(trace.String(), "UID FETCH") {
		t.Errorf("want one UID FETCH for all messages, trace:\n%s", trace.String())
	}
	// Download never marks mail read.
	_, items, _ := s.Inventory(bg, client.FolderRef{Name: b.box}, client.InventoryOptions{})
	for _, it := range items {
		if client.HasFlag(it.Flags, client.FlagSeen) {
			t.Errorf("download set \\Seen on %s", it.ID)
		}
	}

	// IDs no longer there: the others arrive, then ErrNotFound naming them.
	got, _, err = download(t, s, client.FolderRef{Name: b.box}, []string{ids[0], "99998", ids[1], "99999"})
	if !errors.Is(err, client.ErrNotFound) || !strings.Contains(err.Error(), "no message 99998, 99999 in "+b.box) || len(got) != 2 {
		t.Errorf("missing ids: got %d messages, err %v", len(got), err)
	}

	// fn's error stops the download and is returned as is.
	stop := errors.New("disk full")
	calls := 0
	err = s.Download(bg, client.FolderRef{Name: b.box}, ids, func(string, int64, io.Reader) error {
		calls++
		return stop
	})
	if !errors.Is(err, stop) || calls != 1 {
		t.Errorf("stop: %v after %d calls", err, calls)
	}
}

func testBadAndEmptyIDs(t *testing.T, b *backend) {
	b.deliver(t, "alice", b.box, []byte(msgPlain))
	var trace syncBuffer
	s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
	ref := client.FolderRef{Name: b.box}
	trace.Reset()
	// No IDs: nothing to do, and no empty UID set on the wire.
	if err := s.Download(bg, ref, nil, func(string, int64, io.Reader) error { return nil }); err != nil {
		t.Error(err)
	}
	if _, err := s.Delete(bg, ref, []string{}, client.DeleteOptions{Expunge: true}); err != nil {
		t.Error(err)
	}
	if _, err := s.Move(bg, ref, nil, "Archive", client.MoveOptions{}); err != nil {
		t.Error(err)
	}
	if err := s.SetFlags(bg, ref, nil, client.FlagAdd, []client.Flag{client.FlagSeen}); err != nil {
		t.Error(err)
	}
	if trace.String() != "" {
		t.Errorf("commands sent for empty ID lists:\n%s", trace.String())
	}
	for _, bad := range []string{"abc", "0", "-1", "01", "1.5", "", "4294967296"} {
		if err := s.Download(bg, ref, []string{bad}, func(string, int64, io.Reader) error { return nil }); !errors.Is(err, client.ErrUsage) {
			t.Errorf("id %q: %v", bad, err)
		}
		if _, err := s.FetchPart(bg, ref, bad, "1", io.Discard); !errors.Is(err, client.ErrUsage) {
			t.Errorf("fetch part of id %q: %v", bad, err)
		}
	}
	if hasCommand(trace.String(), "UID") {
		t.Errorf("UID command sent for invalid IDs:\n%s", trace.String())
	}
	if err := s.SetFlags(bg, ref, []string{"1"}, client.FlagAdd, []client.Flag{"two words"}); !errors.Is(err, client.ErrUsage) {
		t.Errorf("bad keyword: %v", err)
	}
	if _, err := s.FetchPart(bg, ref, "1", "1..2", io.Discard); !errors.Is(err, client.ErrUsage) {
		t.Errorf("bad part path: %v", err)
	}
}

// findByMessageID lists a folder and returns the ID of the message with the
// given Message-ID, or "".
func findByMessageID(t *testing.T, s *Source, folder, msgID string) string {
	t.Helper()
	found := ""
	_, err := s.List(bg, client.FolderRef{Name: folder}, client.ListOptions{}, func(e client.Envelope) error {
		if e.MessageID == msgID {
			found = e.ID
		}
		return nil
	})
	if err != nil {
		t.Fatalf("list %s: %v", folder, err)
	}
	return found
}

func testDeleteToTrash(t *testing.T, b *backend) {
	id1 := "trash1-" + b.box + "@example.org"
	b.deliver(t, "alice", b.box, []byte("Message-ID: <"+id1+">\r\nSubject: to trash\r\n\r\nbye\r\n"))
	b.deliver(t, "alice", b.box, []byte(msgPlain))
	s := b.dial(t, "alice", client.DialOptions{})
	st, _ := s.Status(bg, b.box)
	ref := client.FolderRef{Name: b.box, UIDValidity: st.UIDValidity}
	victim := findByMessageID(t, s, b.box, id1)
	res, err := s.Delete(bg, ref, []string{victim}, client.DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.MovedTo != "Trash" || res.Expunged {
		t.Errorf("result %+v", res)
	}
	if left := inventoryIDs(t, s, b.box); len(left) != 1 || left[0] == victim {
		t.Errorf("left in %s: %v", b.box, left)
	}
	inTrash := findByMessageID(t, s, "Trash", id1)
	if inTrash == "" {
		t.Fatal("not in Trash")
	}
	// Deleting in Trash removes for good.
	trashSt, _ := s.Status(bg, "Trash")
	res, err = s.Delete(bg, client.FolderRef{Name: "Trash", UIDValidity: trashSt.UIDValidity}, []string{inTrash}, client.DeleteOptions{})
	if err != nil || !res.Expunged || res.MovedTo != "" {
		t.Errorf("delete in Trash: %+v %v", res, err)
	}
	if findByMessageID(t, s, "Trash", id1) != "" {
		t.Error("still in Trash")
	}
}

func testDeleteExpungeOnlyChosen(t *testing.T, b *backend) {
	for i := 0; i < 3; i++ {
		b.deliver(t, "alice", b.box, []byte(msgPlain))
	}
	var trace syncBuffer
	s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
	ids := inventoryIDs(t, s, b.box)
	// Another client has flagged a message \Deleted and not expunged it.
	other := b.raw(t, "alice")
	if _, err := other.Select(b.box, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	if err := other.Store(imap.UIDSetNum(imap.UID(uidOf(ids[2]))), &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
	trace.Reset()
	res, err := s.Delete(bg, client.FolderRef{Name: b.box}, []string{ids[0]}, client.DeleteOptions{Expunge: true})
	if err != nil || !res.Expunged || res.MovedTo != "" {
		t.Fatalf("delete: %+v %v", res, err)
	}
	left := inventoryIDs(t, s, b.box)
	if !slices.Equal(left, ids[1:]) {
		t.Errorf("left %v, want %v (the other client's \\Deleted message must survive)", left, ids[1:])
	}
	if !hasCommand(trace.String(), "UID EXPUNGE") {
		t.Errorf("no UID EXPUNGE:\n%s", trace.String())
	}
	for _, c := range commandLines(trace.String()) {
		if strings.HasPrefix(strings.ToUpper(c), "EXPUNGE") {
			t.Errorf("plain EXPUNGE sent: %s", c)
		}
	}
}

func testMove(t *testing.T, b *backend) {
	b.deliver(t, "alice", b.box, []byte(msgPlain))
	b.deliver(t, "alice", b.box, []byte(sourcetest.NestedMessage))
	dest := b.box + "-dest"
	b.createFolder(t, "alice", dest)
	var trace syncBuffer
	s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
	ids := inventoryIDs(t, s, b.box)
	newIDs, err := s.Move(bg, client.FolderRef{Name: b.box}, ids[:1], dest, client.MoveOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if left := inventoryIDs(t, s, b.box); !slices.Equal(left, ids[1:]) {
		t.Errorf("left %v", left)
	}
	// The server's COPYUID says where the message went.
	if moved := inventoryIDs(t, s, dest); len(moved) != 1 || len(newIDs) != 1 || newIDs[ids[0]] != moved[0] {
		t.Errorf("in %s: %v; reported new IDs %v", dest, moved, newIDs)
	}
	if !hasCommand(trace.String(), "UID MOVE") {
		t.Errorf("no UID MOVE:\n%s", trace.String())
	}
	if _, err := s.Move(bg, client.FolderRef{Name: b.box}, ids[1:], b.box, client.MoveOptions{}); !errors.Is(err, client.ErrUsage) {
		t.Errorf("move to itself: %v", err)
	}
	// A missing destination: nothing changes.
	_, err = s.Move(bg, client.FolderRef{Name: b.box}, ids[1:], "no-such-folder", client.MoveOptions{})
	if err == nil || !errors.Is(err, client.ErrServer) {
		t.Errorf("move to missing folder: %v", err)
	}
	if left := inventoryIDs(t, s, b.box); !slices.Equal(left, ids[1:]) {
		t.Errorf("after failed move: %v", left)
	}
}

func testSetFlags(t *testing.T, b *backend) {
	b.deliver(t, "alice", b.box, []byte(msgPlain))
	b.deliver(t, "alice", b.box, []byte(msgPlain))
	s := b.dial(t, "alice", client.DialOptions{})
	ids := inventoryIDs(t, s, b.box)
	ref := client.FolderRef{Name: b.box}
	if err := s.SetFlags(bg, ref, ids, client.FlagAdd, []client.Flag{client.FlagFlagged, client.FlagSeen, "$Label1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetFlags(bg, ref, ids[1:], client.FlagRemove, []client.Flag{client.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	// What another client sees.
	other := b.raw(t, "alice")
	if _, err := other.Select(b.box, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := other.Fetch(imap.UIDSet{imap.UIDRange{Start: 1, Stop: 0}}, &imap.FetchOptions{UID: true, Flags: true}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string][]client.Flag{}
	for _, m := range msgs {
		flags[uidString(m.UID)] = flagsFrom(m.Flags)
	}
	for i, id := range ids {
		f := flags[id]
		// Keywords are case-insensitive; imapmemserver lowercases them.
		label := slices.ContainsFunc(f, func(x client.Flag) bool { return strings.EqualFold(string(x), "$Label1") })
		if !client.HasFlag(f, client.FlagFlagged) || !label || client.HasFlag(f, client.FlagSeen) != (i == 0) {
			t.Errorf("uid %s flags %v", id, f)
		}
	}
}

func testStaleUIDValidity(t *testing.T, b *backend) {
	b.deliver(t, "alice", b.box, []byte(msgPlain))
	s := b.dial(t, "alice", client.DialOptions{})
	st, err := s.Status(bg, b.box)
	if err != nil {
		t.Fatal(err)
	}
	old := client.FolderRef{Name: b.box, UIDValidity: st.UIDValidity}
	ids := inventoryIDs(t, s, b.box)
	s.Close()

	// The folder is deleted and made again: same name, new UIDVALIDITY,
	// and the old UID now names a different message.
	other := b.raw(t, "alice")
	if err := other.Delete(b.box).Wait(); err != nil {
		t.Fatal(err)
	}
	if b.mem != nil {
		b.createFolder(t, "alice", b.box)
	} else if err := other.Create(b.box, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	b.deliver(t, "alice", b.box, []byte(sourcetest.NestedMessage))

	var trace syncBuffer
	s = b.dial(t, "alice", client.DialOptions{Debug: &trace})
	trace.Reset()
	stale := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, client.ErrStaleIDs) || !strings.Contains(err.Error(), b.box) {
			t.Errorf("%s: %v", what, err)
		}
	}
	_, _, err = s.Inventory(bg, old, client.InventoryOptions{})
	stale("inventory", err)
	_, err = s.List(bg, old, client.ListOptions{}, func(client.Envelope) error { return nil })
	stale("list", err)
	_, _, err = s.Structure(bg, old, ids[0])
	stale("structure", err)
	_, err = s.FetchPart(bg, old, ids[0], "1", io.Discard)
	stale("fetch part", err)
	stale("download", s.Download(bg, old, ids, func(string, int64, io.Reader) error { return nil }))
	_, err = s.Delete(bg, old, ids, client.DeleteOptions{Expunge: true})
	stale("delete", err)
	_, err = s.Delete(bg, old, ids, client.DeleteOptions{})
	stale("delete to trash", err)
	_, moveErr := s.Move(bg, old, ids, "Archive", client.MoveOptions{})
	stale("move", moveErr)
	stale("flag", s.SetFlags(bg, old, ids, client.FlagAdd, []client.Flag{client.FlagDeleted}))
	if hasCommand(trace.String(), "UID") || hasCommand(trace.String(), "MOVE") || hasCommand(trace.String(), "STORE") {
		t.Errorf("commands on stale IDs:\n%s", trace.String())
	}
	// Nothing changed.
	_, items, err := s.Inventory(bg, client.FolderRef{Name: b.box}, client.InventoryOptions{})
	if err != nil || len(items) != 1 || len(items[0].Flags) != 0 {
		t.Errorf("after stale calls: %+v %v", items, err)
	}
}

// TestReducedServer runs against servers announcing much less: no MOVE
// (COPY, then \Deleted and UID EXPUNGE only after the copy succeeded), no
// LIST-STATUS (STATUS per folder), no ESEARCH (plain SEARCH) and, on
// imapmemserver, no SPECIAL-USE (Trash found by name).
func TestReducedServer(t *testing.T) {
	t.Run("imapmemserver", func(t *testing.T) {
		caps := slices.DeleteFunc(slices.Clone(imaptest.DefaultCaps), func(c string) bool {
			return c == "MOVE" || c == "LIST-STATUS" || c == "ESEARCH" || c == "SPECIAL-USE" || c == "LIST-EXTENDED"
		})
		b := memBackend(t, imaptest.Options{Caps: caps})
		b.newBox(t)
		testReducedFolders(t, b)
		testMoveFallback(t, b)
	})
	t.Run("dovecot", func(t *testing.T) {
		b := dovecotBackend(t, sourcetest.DovecotOptions{IMAPCapability: dovecotReducedCaps})
		b.newBox(t)
		testReducedFolders(t, b)
		testMoveFallback(t, b)
	})
}

// dovecotReducedCaps is Dovecot 2.3's usual list after login without MOVE,
// LIST-STATUS and ESEARCH.
const dovecotReducedCaps = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE SORT SORT=DISPLAY THREAD=REFERENCES " +
	"THREAD=REFS THREAD=ORDEREDSUBJECT MULTIAPPEND URL-PARTIAL CATENATE UNSELECT CHILDREN NAMESPACE UIDPLUS " +
	"LIST-EXTENDED I18NLEVEL=1 CONDSTORE QRESYNC ESORT SEARCHRES WITHIN CONTEXT=SEARCH BINARY SPECIAL-USE"

func testReducedFolders(t *testing.T, b *backend) {
	b.deliver(t, "alice", b.box, []byte(msgPlain))
	b.deliver(t, "alice", b.box, []byte(sourcetest.NestedMessage))
	var trace syncBuffer
	s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
	ids := inventoryIDs(t, s, b.box)
	if err := s.SetFlags(bg, client.FolderRef{Name: b.box}, ids[:1], client.FlagAdd, []client.Flag{client.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	trace.Reset()
	folders, err := s.Folders(bg)
	if err != nil {
		t.Fatal(err)
	}
	var box client.Folder
	for _, f := range folders {
		if f.Name == b.box {
			box = f
		}
	}
	if box.Total != 2 || box.Unseen != 1 {
		t.Errorf("%s: %+v", b.box, box)
	}
	if !hasCommand(trace.String(), "STATUS") || strings.Contains(trace.String(), "RETURN (STATUS") {
		t.Errorf("want LIST then STATUS per folder:\n%s", trace.String())
	}
	st, err := s.Status(bg, b.box)
	if err != nil || st.Messages != 2 || st.Unseen != 1 {
		t.Errorf("status %+v %v", st, err)
	}
	if got := s.Capabilities().Features[client.FeatureTrash]; !got.Supported || !strings.Contains(got.How, "Trash") {
		t.Errorf("trash: %+v", got)
	}
}

var moveRE = regexp.MustCompile(`(?i)^(UID )?MOVE `)

func testMoveFallback(t *testing.T, b *backend) {
	b.box += "-move"
	b.createFolder(t, "alice", b.box)
	b.deliver(t, "alice", b.box, []byte(msgPlain))
	b.deliver(t, "alice", b.box, []byte(sourcetest.NestedMessage))
	dest := b.box + "-dest"
	b.createFolder(t, "alice", dest)
	var trace syncBuffer
	s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
	caps := s.Capabilities()
	if how := caps.Features[client.FeatureServerMove].How; !caps.Has(client.FeatureServerMove) || !strings.Contains(how, "COPY") {
		t.Errorf("move capability: %+v", caps.Features[client.FeatureServerMove])
	}
	ids := inventoryIDs(t, s, b.box)

	// COPY fails: the message stays where it was, not flagged.
	trace.Reset()
	_, err := s.Move(bg, client.FolderRef{Name: b.box}, ids[:1], "no-such-folder", client.MoveOptions{})
	if err == nil || !errors.Is(err, client.ErrServer) {
		t.Errorf("move to missing folder: %v", err)
	}
	if hasCommand(trace.String(), "UID STORE") || hasCommand(trace.String(), "UID EXPUNGE") {
		t.Errorf("flagged or expunged after a failed COPY:\n%s", trace.String())
	}
	_, items, _ := s.Inventory(bg, client.FolderRef{Name: b.box}, client.InventoryOptions{})
	if len(items) != 2 || client.HasFlag(items[0].Flags, client.FlagDeleted) {
		t.Errorf("after failed copy: %+v", items)
	}

	trace.Reset()
	if _, err := s.Move(bg, client.FolderRef{Name: b.box}, ids[:1], dest, client.MoveOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, c := range commandLines(trace.String()) {
		if moveRE.MatchString(c) {
			t.Errorf("MOVE sent to a server without MOVE: %s", c)
		}
	}
	for _, want := range []string{"UID COPY", "UID STORE", "UID EXPUNGE"} {
		if !hasCommand(trace.String(), want) {
			t.Errorf("no %s in:\n%s", want, trace.String())
		}
	}
	if left := inventoryIDs(t, s, b.box); !slices.Equal(left, ids[1:]) {
		t.Errorf("left %v", left)
	}
	if moved := inventoryIDs(t, s, dest); len(moved) != 1 {
		t.Errorf("in %s: %v", dest, moved)
	}
	// Delete to Trash takes the same path.
	res, err := s.Delete(bg, client.FolderRef{Name: b.box}, ids[1:], client.DeleteOptions{})
	if err != nil || res.MovedTo != "Trash" {
		t.Errorf("delete: %+v %v", res, err)
	}
	if left := inventoryIDs(t, s, b.box); len(left) != 0 {
		t.Errorf("left after delete %v", left)
	}
}

// memRoles is a client.RoleStore in memory, standing in for the cache.
type memRoles struct {
	roles map[string]client.RoleFolder
	known bool
	sets  int
}

func (m *memRoles) Roles(context.Context) (map[string]client.RoleFolder, bool, error) {
	return maps.Clone(m.roles), m.known, nil
}

func (m *memRoles) SetRoles(_ context.Context, roles map[string]client.RoleFolder) error {
	m.roles, m.known = maps.Clone(roles), roles != nil
	m.sets++
	return nil
}

func listCount(trace string) int {
	n := 0
	for _, c := range commandLines(trace) {
		if strings.HasPrefix(strings.ToUpper(c), "LIST ") {
			n++
		}
	}
	return n
}

// The Trash is looked up when a delete first needs it, remembered, and
// looked up again when the remembered folder is gone; no session lists
// folders just because it connected.
func testTrashLookedUpWhenNeeded(t *testing.T, b *backend) {
	store := &memRoles{}
	deleteOne := func(wantLists int) {
		t.Helper()
		id := fmt.Sprintf("roles-%d-%s@example.org", store.sets, b.box)
		b.deliver(t, "alice", b.box, []byte("Message-ID: <"+id+">\r\nSubject: roles\r\n\r\nbye\r\n"))
		var trace syncBuffer
		s := b.dial(t, "alice", client.DialOptions{Debug: &trace, Roles: store})
		if n := listCount(trace.String()); n != 0 {
			t.Fatalf("connecting listed folders %d times:\n%s", n, trace.String())
		}
		st, err := s.Status(bg, b.box)
		if err != nil {
			t.Fatal(err)
		}
		victim := findByMessageID(t, s, b.box, id)
		trace.Reset()
		res, err := s.Delete(bg, client.FolderRef{Name: b.box, UIDValidity: st.UIDValidity}, []string{victim}, client.DeleteOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.MovedTo != "Trash" || findByMessageID(t, s, "Trash", id) == "" {
			t.Errorf("result %+v; not in Trash", res)
		}
		if n := listCount(trace.String()); n != wantLists {
			t.Errorf("delete sent %d LIST, want %d:\n%s", n, wantLists, trace.String())
		}
		if store.roles[client.RoleTrash] != (client.RoleFolder{Folder: "Trash"}) || !store.known {
			t.Errorf("remembered roles %v (known %v)", store.roles, store.known)
		}
	}
	deleteOne(1) // never looked up: one listing
	deleteOne(0) // remembered
	store.roles = map[string]client.RoleFolder{client.RoleTrash: {Folder: "Gone-" + b.box}}
	deleteOne(1) // the remembered folder is gone: looked up again
}
