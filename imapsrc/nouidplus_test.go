package imapsrc

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/imapsrc/imaptest"
)

// withoutUIDPlus runs f against servers announcing neither UIDPLUS nor
// MOVE, as GNU Mailutils imap4d and other older servers: imapmemserver,
// and Dovecot with those two hidden.
func withoutUIDPlus(t *testing.T, f func(t *testing.T, b *backend)) {
	t.Run("imapmemserver", func(t *testing.T) {
		caps := slices.DeleteFunc(slices.Clone(imaptest.DefaultCaps), func(c string) bool { return c == "MOVE" || c == "UIDPLUS" })
		b := memBackend(t, imaptest.Options{Caps: caps})
		b.newBox(t)
		f(t, b)
	})
	t.Run("dovecot", func(t *testing.T) {
		caps := strings.Replace(dovecotReducedCaps, " UIDPLUS", "", 1)
		b := dovecotBackend(t, sourcetest.DovecotOptions{IMAPCapability: caps})
		b.newBox(t)
		f(t, b)
	})
}

// flagDeletedElsewhere flags uid \Deleted from a second session, as another
// mail client would before its own EXPUNGE.
func flagDeletedElsewhere(t *testing.T, b *backend, folder, id string) {
	t.Helper()
	c := b.raw(t, "alice")
	if _, err := c.Select(folder, nil).Wait(); err != nil {
		t.Fatal(err)
	}
	var set imap.UIDSet
	set.AddNum(imap.UID(mustUID(t, id)))
	if err := c.Store(set, &imap.StoreFlags{Op: imap.StoreFlagsAdd, Silent: true, Flags: []imap.Flag{imap.FlagDeleted}}, nil).Close(); err != nil {
		t.Fatal(err)
	}
}

func mustUID(t *testing.T, id string) uint32 {
	t.Helper()
	uids, err := parseIDs("test", []string{id})
	if err != nil {
		t.Fatal(err)
	}
	return uint32(uids[0])
}

// flagsOf returns the flags of each message of folder by ID.
func flagsOf(t *testing.T, s *Source, folder string) map[string][]client.Flag {
	t.Helper()
	_, items, err := s.Inventory(bg, client.FolderRef{Name: folder}, client.InventoryOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]client.Flag{}
	for _, it := range items {
		out[it.ID] = it.Flags
	}
	return out
}

// Without UIDPLUS a delete is still possible where it is provably safe: no
// other message carries \Deleted, so a plain EXPUNGE removes exactly the
// chosen ones. While another client's \Deleted mail is there, it is
// refused with the count and nothing is changed; --expunge-others lets it
// go too.
func TestDeleteWithoutUIDPlus(t *testing.T) {
	withoutUIDPlus(t, func(t *testing.T, b *backend) {
		for range 4 {
			b.deliver(t, "alice", b.box, []byte(msgPlain))
		}
		var trace syncBuffer
		s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
		caps := s.Capabilities()
		for _, f := range []client.Feature{client.FeatureExpunge, client.FeatureDeleteNoDownload, client.FeatureServerMove, client.FeatureTrash} {
			got := caps.Features[f]
			if !got.Supported || !strings.Contains(got.How, `STORE \Deleted + EXPUNGE, refused while other messages carry \Deleted`) {
				t.Errorf("%s: %+v", f, got)
			}
		}
		ref := client.FolderRef{Name: b.box}
		ids := inventoryIDs(t, s, b.box)

		// Alone: STORE, a plain EXPUNGE, and only the chosen one is gone.
		trace.Reset()
		res, err := s.Delete(bg, ref, ids[:1], client.DeleteOptions{Expunge: true})
		if err != nil || !res.Expunged || res.OthersExpunged != 0 {
			t.Fatalf("delete: %+v %v", res, err)
		}
		for _, want := range []string{"UID STORE", "EXPUNGE"} {
			if !hasCommand(trace.String(), want) {
				t.Errorf("no %s in:\n%s", want, trace.String())
			}
		}
		if hasCommand(trace.String(), "UID EXPUNGE") {
			t.Errorf("UID EXPUNGE sent to a server without UIDPLUS:\n%s", trace.String())
		}
		if left := inventoryIDs(t, s, b.box); !slices.Equal(left, ids[1:]) {
			t.Errorf("left %v, want %v", left, ids[1:])
		}

		// Another client's \Deleted mail: refused with the count, nothing
		// flagged, nothing expunged.
		flagDeletedElsewhere(t, b, b.box, ids[1])
		trace.Reset()
		_, err = s.Delete(bg, ref, ids[2:3], client.DeleteOptions{Expunge: true})
		if !errors.Is(err, client.ErrUnsupported) ||
			!strings.Contains(err.Error(), "1 other message in "+b.box+` carries \Deleted`) ||
			!strings.Contains(err.Error(), "--expunge-others") {
			t.Errorf("delete with another's \\Deleted mail: %v", err)
		}
		for _, c := range commandLines(trace.String()) {
			if u := strings.ToUpper(c); strings.Contains(u, "STORE") || strings.Contains(u, "EXPUNGE") || strings.Contains(u, "COPY") {
				t.Errorf("sent %s for a refused delete", c)
			}
		}
		flags := flagsOf(t, s, b.box)
		if len(flags) != 3 || client.HasFlag(flags[ids[2]], client.FlagDeleted) || !client.HasFlag(flags[ids[1]], client.FlagDeleted) {
			t.Errorf("after refusal: %v", flags)
		}
		// To Trash (a COPY, then the same removal) is refused alike, before
		// the copy.
		if _, err := s.Delete(bg, ref, ids[2:3], client.DeleteOptions{}); !errors.Is(err, client.ErrUnsupported) {
			t.Errorf("delete to Trash with another's \\Deleted mail: %v", err)
		}

		// Allowed: both go, the other is counted, the rest stays.
		res, err = s.Delete(bg, ref, ids[2:3], client.DeleteOptions{Expunge: true, ExpungeOthers: true})
		if err != nil || res.OthersExpunged != 1 {
			t.Fatalf("delete --expunge-others: %+v %v", res, err)
		}
		if left := inventoryIDs(t, s, b.box); !slices.Equal(left, ids[3:]) {
			t.Errorf("left %v, want %v", left, ids[3:])
		}

		// To Trash, with nothing else flagged.
		res, err = s.Delete(bg, ref, ids[3:], client.DeleteOptions{})
		if err != nil || res.MovedTo != "Trash" {
			t.Fatalf("delete to Trash: %+v %v", res, err)
		}
		if left := inventoryIDs(t, s, b.box); len(left) != 0 {
			t.Errorf("left after delete to Trash: %v", left)
		}
	})
}

// Move without MOVE and UIDPLUS: COPY, then the same guarded removal. With
// another client's \Deleted mail present it is refused before the COPY, so
// no duplicate is left behind.
func TestMoveWithoutUIDPlus(t *testing.T) {
	withoutUIDPlus(t, func(t *testing.T, b *backend) {
		for range 3 {
			b.deliver(t, "alice", b.box, []byte(msgPlain))
		}
		dest := b.box + "-dest"
		b.createFolder(t, "alice", dest)
		var trace syncBuffer
		s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
		ref := client.FolderRef{Name: b.box}
		ids := inventoryIDs(t, s, b.box)

		trace.Reset()
		if _, err := s.Move(bg, ref, ids[:1], dest, client.MoveOptions{}); err != nil {
			t.Fatal(err)
		}
		for _, c := range commandLines(trace.String()) {
			if moveRE.MatchString(c) || strings.HasPrefix(strings.ToUpper(c), "UID EXPUNGE") {
				t.Errorf("sent %s to a server without MOVE and UIDPLUS", c)
			}
		}
		if left := inventoryIDs(t, s, b.box); !slices.Equal(left, ids[1:]) {
			t.Errorf("left %v", left)
		}
		if moved := inventoryIDs(t, s, dest); len(moved) != 1 {
			t.Errorf("in %s: %v", dest, moved)
		}

		flagDeletedElsewhere(t, b, b.box, ids[1])
		trace.Reset()
		_, err := s.Move(bg, ref, ids[2:], dest, client.MoveOptions{})
		if !errors.Is(err, client.ErrUnsupported) || !strings.Contains(err.Error(), "1 other message") {
			t.Errorf("move with another's \\Deleted mail: %v", err)
		}
		if hasCommand(trace.String(), "UID COPY") {
			t.Errorf("copied before refusing:\n%s", trace.String())
		}
		if moved := inventoryIDs(t, s, dest); len(moved) != 1 {
			t.Errorf("in %s after refusal: %v", dest, moved)
		}

		if _, err := s.Move(bg, ref, ids[2:], dest, client.MoveOptions{ExpungeOthers: true}); err != nil {
			t.Fatal(err)
		}
		if left := inventoryIDs(t, s, b.box); len(left) != 0 {
			t.Errorf("left %v", left)
		}
		if moved := inventoryIDs(t, s, dest); len(moved) != 2 {
			t.Errorf("in %s: %v", dest, moved)
		}
	})
}

// plainExpungeServer is a scripted server without UIDPLUS holding UIDs 1 to
// 3 in INBOX, none flagged \Deleted. Its EXPUNGE answers and the state it
// reports afterwards are the test's; deletedAfterStore is what UID SEARCH
// DELETED finds once the client has sent STORE (a client that flagged mail
// in between).
type plainExpungeServer struct {
	expunge            []string // untagged EXPUNGE lines
	after              string   // UID SEARCH ALL after EXPUNGE
	deletedBeforeStore string   // UID SEARCH DELETED before the STORE
	deletedAfterStore  string

	mu    sync.Mutex
	cmds  []string
	store bool
	done  bool
}

func (p *plainExpungeServer) handle(peer *imaptest.Peer, tag, name, args string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cmds = append(p.cmds, name+" "+args)
	switch {
	case name == "SELECT":
		peer.Send("* 3 EXISTS", "* OK [UIDVALIDITY 7] ok", "* OK [UIDNEXT 4] ok", tag+" OK [READ-WRITE] done")
	case name == "UID STORE":
		p.store = p.store || strings.Contains(args, "+FLAGS")
		peer.Send(tag + " OK done")
	case name == "EXPUNGE":
		p.done = true
		peer.Send(append(slices.Clone(p.expunge), tag+" OK done")...)
	case name == "UID SEARCH" && strings.Contains(args, "DELETED") && !strings.Contains(args, "UID "):
		found := p.deletedBeforeStore
		if p.store {
			found = p.deletedAfterStore
		}
		peer.Send(strings.TrimSpace("* SEARCH "+found), tag+" OK done")
	case name == "UID SEARCH" && strings.Contains(args, "DELETED"):
		// GNU Mailutils matches a UID key against message numbers: an
		// answer that cannot be trusted.
		peer.Send("* SEARCH", tag+" OK done")
	case name == "UID SEARCH" && strings.HasPrefix(args, "UID "):
		peer.Send("* SEARCH "+expandUIDSet(strings.TrimPrefix(args, "UID ")), tag+" OK done")
	case name == "UID SEARCH" && p.done:
		peer.Send(strings.TrimSpace("* SEARCH "+p.after), tag+" OK done")
	case name == "UID SEARCH":
		peer.Send("* SEARCH 1 2 3", tag+" OK done")
	default:
		return false
	}
	return true
}

// expandUIDSet turns "2:4,7" into "2 3 4 7".
func expandUIDSet(set string) string {
	var out []string
	for _, part := range strings.Split(set, ",") {
		lo, hi, ok := strings.Cut(part, ":")
		if !ok {
			out = append(out, part)
			continue
		}
		a, _ := strconv.Atoi(lo)
		b, _ := strconv.Atoi(hi)
		for n := a; n <= b; n++ {
			out = append(out, strconv.Itoa(n))
		}
	}
	return strings.Join(out, " ")
}

func (p *plainExpungeServer) sent(prefix string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.cmds {
		if strings.HasPrefix(c, prefix) {
			return true
		}
	}
	return false
}

func (p *plainExpungeServer) dial(t *testing.T) *Source {
	t.Helper()
	f := &fake{caps: "IMAP4rev1 IDLE", handle: p.handle}
	src, err := Dial(bg, f.start(t), client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { src.Close() })
	return src.(*Source)
}

// What a plain EXPUNGE removed is checked, not assumed: by the EXPUNGE
// responses and by listing the folder again.
func TestPlainExpungeChecksWhatWentAway(t *testing.T) {
	inbox := client.FolderRef{Name: "INBOX"}
	t.Run("exactly the chosen one", func(t *testing.T) {
		p := &plainExpungeServer{expunge: []string{"* 2 EXPUNGE"}, after: "1 3"}
		res, err := p.dial(t).Delete(bg, inbox, []string{"2"}, client.DeleteOptions{Expunge: true})
		if err != nil || !res.Expunged {
			t.Errorf("%+v %v", res, err)
		}
	})
	t.Run("another went too", func(t *testing.T) {
		p := &plainExpungeServer{expunge: []string{"* 1 EXPUNGE", "* 1 EXPUNGE"}, after: "3"}
		_, err := p.dial(t).Delete(bg, inbox, []string{"2"}, client.DeleteOptions{Expunge: true})
		if err == nil || !strings.Contains(err.Error(), "EXPUNGE also removed uid 1 from INBOX") {
			t.Errorf("%v", err)
		}
	})
	t.Run("the chosen one stayed", func(t *testing.T) {
		p := &plainExpungeServer{after: "1 2 3"}
		_, err := p.dial(t).Delete(bg, inbox, []string{"2"}, client.DeleteOptions{Expunge: true})
		if err == nil || !strings.Contains(err.Error(), "uid 2 still in INBOX after EXPUNGE") {
			t.Errorf("%v", err)
		}
	})
	t.Run("responses disagree with the folder", func(t *testing.T) {
		p := &plainExpungeServer{expunge: []string{"* 3 EXPUNGE"}, after: "1 3"}
		_, err := p.dial(t).Delete(bg, inbox, []string{"2"}, client.DeleteOptions{Expunge: true})
		if !errors.Is(err, client.ErrProtocol) {
			t.Errorf("%v", err)
		}
	})
	t.Run("flagged by another client after the first look", func(t *testing.T) {
		p := &plainExpungeServer{deletedAfterStore: "1 2"}
		_, err := p.dial(t).Delete(bg, inbox, []string{"2"}, client.DeleteOptions{Expunge: true})
		if !errors.Is(err, client.ErrUnsupported) || !strings.Contains(err.Error(), "taken back") {
			t.Errorf("%v", err)
		}
		if p.sent("EXPUNGE") || !p.sent("UID STORE 2 -FLAGS") {
			t.Errorf("commands: %q", p.cmds)
		}
	})
	t.Run("taking back leaves the flag where it was before", func(t *testing.T) {
		// uid 3 was \Deleted before this delete began; only 2's flag is
		// taken back, whatever a UID search key would have answered.
		p := &plainExpungeServer{deletedBeforeStore: "3", deletedAfterStore: "1 2 3"}
		_, err := p.dial(t).Delete(bg, inbox, []string{"2", "3"}, client.DeleteOptions{Expunge: true})
		if !errors.Is(err, client.ErrUnsupported) || !strings.Contains(err.Error(), "taken back") {
			t.Errorf("%v", err)
		}
		if p.sent("EXPUNGE") || !p.sent("UID STORE 2 -FLAGS") || p.sent("UID STORE 2:3 -FLAGS") {
			t.Errorf("commands: %q", p.cmds)
		}
	})
}
