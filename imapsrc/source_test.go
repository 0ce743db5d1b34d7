package imapsrc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/mimepart"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/imapsrc/imaptest"
)

var bg = context.Background()

// suite holds the behaviour tests that run against both servers.
var suite = []struct {
	name string
	f    func(*testing.T, *backend)
}{
	{"FoldersAndCapabilities", testFoldersAndCapabilities},
	{"StatusAndInventory", testStatusAndInventory},
	{"InventoryChangedSince", testInventoryChangedSince},
	{"ListHeadersOnly", testListHeadersOnly},
	{"StructureMatchesParseMessage", testStructureMatchesParseMessage},
}

// TestMemServer runs the suite against imapmemserver, a fresh one per test.
func TestMemServer(t *testing.T) {
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			b := memBackend(t, imaptest.Options{})
			b.newBox(t)
			tc.f(t, b)
		})
	}
}

// TestDovecot runs the suite against one Dovecot, each test in its own
// folder.
func TestDovecot(t *testing.T) {
	d := dovecotBackend(t, sourcetest.DovecotOptions{})
	for _, tc := range suite {
		t.Run(tc.name, func(t *testing.T) {
			b := *d
			b.newBox(t)
			tc.f(t, &b)
		})
	}
}

func testFoldersAndCapabilities(t *testing.T, b *backend) {
	{
		b.deliver(t, "alice", b.box, []byte(msgPlain))
		b.deliver(t, "alice", b.box, []byte(sourcetest.NestedMessage))
		s := b.dial(t, "alice", client.DialOptions{})
		// One message read, so the unseen count differs from the total.
		ids := inventoryIDs(t, s, b.box)
		if err := s.SetFlags(bg, client.FolderRef{Name: b.box}, ids[:1], client.FlagAdd, []client.Flag{client.FlagSeen}); err != nil {
			t.Fatal(err)
		}
		folders, err := s.Folders(bg)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]client.Folder{}
		for _, f := range folders {
			got[f.Name] = f
		}
		want := map[string]string{"INBOX": "inbox", b.box: "", "Trash": "trash", "Sent": "sent", "Archive": "archive"}
		for name, role := range want {
			if got[name].Role != role {
				t.Errorf("%s: role %q, want %q (all: %+v)", name, got[name].Role, role, folders)
			}
		}
		if in := got[b.box]; in.Total != 2 || in.Unseen != 1 {
			t.Errorf("INBOX counts %+v, want total 2 unseen 1", in)
		}
		if folders[0].Name != "INBOX" {
			t.Errorf("INBOX not first: %+v", folders)
		}

		caps := s.Capabilities()
		if caps.Protocol != "imap" || len(caps.Announced) == 0 || !strings.Contains(caps.TLS, "starttls") {
			t.Errorf("capabilities %+v", caps)
		}
		if !slices.Contains(caps.Auth, "PLAIN") {
			t.Errorf("auth mechanisms %v", caps.Auth)
		}
		// What Baseline promises without connecting, the session confirms.
		for f, sup := range Baseline().Features {
			if caps.Features[f] != sup {
				t.Errorf("Baseline %s = %+v, session says %+v", f, sup, caps.Features[f])
			}
		}
		for _, f := range client.AllFeatures {
			sup, ok := caps.Features[f]
			if !ok || sup.How == "" {
				t.Errorf("feature %s missing or without explanation: %+v", f, sup)
			}
		}
		for _, f := range []client.Feature{client.FeatureServerMove, client.FeatureExpunge, client.FeatureTrash, client.FeaturePush} {
			if !caps.Has(f) {
				t.Errorf("%s not supported: %+v", f, caps.Features[f])
			}
		}
		if caps.Features[client.FeatureServerMove].How != "UID MOVE" {
			t.Errorf("move: %+v", caps.Features[client.FeatureServerMove])
		}
		// Dovecot has CONDSTORE, imapmemserver has not.
		if got := caps.Has(client.FeatureChangeTracking); got != (b.dovecot != nil) {
			t.Errorf("change tracking %v: %+v", got, caps.Features[client.FeatureChangeTracking])
		}
	}
}

func testStatusAndInventory(t *testing.T, b *backend) {
	{
		for _, m := range corpus[:3] {
			b.deliver(t, "alice", b.box, []byte(m))
		}
		s := b.dial(t, "alice", client.DialOptions{})
		st, err := s.Status(bg, b.box)
		if err != nil {
			t.Fatal(err)
		}
		if st.Messages != 3 || st.Unseen != 3 || st.UIDValidity == 0 || st.UIDNext < 4 {
			t.Errorf("status %+v", st)
		}
		ref := client.FolderRef{Name: b.box, UIDValidity: st.UIDValidity}
		st2, items, err := s.Inventory(bg, ref, client.InventoryOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(items) != 3 || st2.UIDValidity != st.UIDValidity {
			t.Fatalf("inventory %+v %+v", st2, items)
		}
		var sizes []int64
		for _, it := range items {
			if it.Flags == nil || it.Size == 0 {
				t.Errorf("item %+v", it)
			}
			sizes = append(sizes, it.Size)
		}
		for i := 1; i < len(items); i++ {
			if uidOf(items[i].ID) <= uidOf(items[i-1].ID) {
				t.Errorf("not oldest first: %+v", items)
			}
		}
		slices.Sort(sizes)
		want := []int64{int64(len(msgPlain)), int64(len(sourcetest.NestedMessage)), int64(len(msg2231))}
		slices.Sort(want)
		if !slices.Equal(sizes, want) {
			t.Errorf("sizes %v, want %v", sizes, want)
		}

		// An empty folder: no FETCH at all.
		var trace syncBuffer
		s2 := b.dial(t, "alice", client.DialOptions{Debug: &trace})
		_, items, err = s2.Inventory(bg, client.FolderRef{Name: "Archive"}, client.InventoryOptions{})
		if err != nil || len(items) != 0 || items == nil {
			t.Fatalf("empty inventory %v %v", items, err)
		}
		if strings.Contains(trace.String(), "FETCH") {
			t.Errorf("FETCH sent for an empty folder:\n%s", trace.String())
		}
	}
}

func testInventoryChangedSince(t *testing.T, b *backend) {
	if b.dovecot == nil {
		t.Skip("imapmemserver has no CONDSTORE")
	}
	for _, m := range corpus[:3] {
		b.deliver(t, "alice", b.box, []byte(m))
	}
	s := b.dial(t, "alice", client.DialOptions{})
	st, err := s.Status(bg, b.box)
	if err != nil {
		t.Fatal(err)
	}
	if st.HighestModSeq == 0 {
		t.Fatalf("no HIGHESTMODSEQ from Dovecot: %+v", st)
	}
	ids := inventoryIDs(t, s, b.box)
	other := b.dial(t, "alice", client.DialOptions{})
	if err := other.SetFlags(bg, client.FolderRef{Name: b.box}, ids[1:2], client.FlagAdd, []client.Flag{client.FlagFlagged}); err != nil {
		t.Fatal(err)
	}
	var trace syncBuffer
	s3 := b.dial(t, "alice", client.DialOptions{Debug: &trace})
	_, items, err := s3.Inventory(bg, client.FolderRef{Name: b.box, UIDValidity: st.UIDValidity}, client.InventoryOptions{FlagsChangedSince: st.HighestModSeq})
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 3 {
		t.Fatalf("items %+v", items)
	}
	for _, it := range items {
		changed := it.ID == ids[1]
		if changed != (it.Flags != nil) {
			t.Errorf("item %+v: changed=%v", it, changed)
		}
		if changed && !client.HasFlag(it.Flags, client.FlagFlagged) {
			t.Errorf("changed item lacks flagged: %+v", it)
		}
	}
	if !strings.Contains(trace.String(), "CHANGEDSINCE") {
		t.Errorf("no CHANGEDSINCE in trace:\n%s", trace.String())
	}
}

func uidOf(id string) int {
	var n int
	fmt.Sscan(id, &n)
	return n
}

func testListHeadersOnly(t *testing.T, b *backend) {
	{
		for _, m := range corpus {
			b.deliver(t, "alice", b.box, []byte(m))
		}
		var trace syncBuffer
		s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
		ids := inventoryIDs(t, s, b.box)
		// Mark the newest read, so unseen excludes it.
		newest := ids[len(ids)-1]
		if err := s.SetFlags(bg, client.FolderRef{Name: b.box}, []string{newest}, client.FlagAdd, []client.Flag{client.FlagSeen}); err != nil {
			t.Fatal(err)
		}
		trace.Reset()

		var all []client.Envelope
		st, err := s.List(bg, client.FolderRef{Name: b.box}, client.ListOptions{}, func(e client.Envelope) error {
			all = append(all, e)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(all) != len(corpus) || st.UIDValidity == 0 {
			t.Fatalf("listed %d, status %+v", len(all), st)
		}
		for i, e := range all {
			if e.ID != ids[len(ids)-1-i] {
				t.Errorf("position %d: id %s, want %s (newest first)", i, e.ID, ids[len(ids)-1-i])
			}
			if e.Folder != b.box || e.UIDValidity != st.UIDValidity || e.Size == 0 || e.Date.IsZero() {
				t.Errorf("envelope %+v", e)
			}
		}
		bySubject := map[string]client.Envelope{}
		for _, e := range all {
			bySubject[e.Subject] = e
		}
		mixed := bySubject["Grüße"]
		if mixed.From != "Jörg <jorg@example.org>" || len(mixed.To) != 2 || mixed.To[0] != "Alice <alice@example.com>" ||
			!mixed.HasAttachments || mixed.MessageID != "mixed@example.org" || mixed.Size != int64(len(sourcetest.NestedMessage)) {
			t.Errorf("mixed envelope %+v", mixed)
		}
		if bySubject["plain"].HasAttachments || !bySubject["rfc2231"].HasAttachments || !bySubject["fwd"].HasAttachments {
			t.Errorf("attachments: plain %v rfc2231 %v fwd %v", bySubject["plain"].HasAttachments, bySubject["rfc2231"].HasAttachments, bySubject["fwd"].HasAttachments)
		}
		// The same envelope as parsing the message gives.
		env, _, _ := mimepart.ParseMessage(strings.NewReader(sourcetest.NestedMessage))
		if !env.Date.Equal(mixed.Date) || env.Subject != mixed.Subject || env.From != mixed.From || !slices.Equal(env.To, mixed.To) {
			t.Errorf("IMAP envelope %+v\nparsed %+v", mixed, env)
		}
		if !client.HasFlag(bySubject["dots"].Flags, client.FlagSeen) == (bySubject["dots"].ID == newest) {
			t.Errorf("flags of %s: %v", bySubject["dots"].ID, bySubject["dots"].Flags)
		}
		for _, line := range strings.Split(trace.String(), "\n") {
			if strings.HasPrefix(line, "C: ") && (strings.Contains(line, "BODY[") || strings.Contains(line, "BODY.PEEK[")) {
				t.Errorf("list fetched a body: %s", line)
			}
		}

		// Limit: the newest n.
		var limited []string
		_, err = s.List(bg, client.FolderRef{Name: b.box}, client.ListOptions{Limit: 2}, func(e client.Envelope) error {
			limited = append(limited, e.ID)
			return nil
		})
		if err != nil || !slices.Equal(limited, []string{ids[len(ids)-1], ids[len(ids)-2]}) {
			t.Errorf("limit 2: %v %v", limited, err)
		}
		// Unseen: all but the newest.
		var unseen []string
		_, err = s.List(bg, client.FolderRef{Name: b.box}, client.ListOptions{Unseen: true}, func(e client.Envelope) error {
			unseen = append(unseen, e.ID)
			return nil
		})
		if err != nil || len(unseen) != len(ids)-1 || slices.Contains(unseen, newest) {
			t.Errorf("unseen: %v %v", unseen, err)
		}
		// IDs: just those; an ID that does not exist is not found.
		var picked []string
		_, err = s.List(bg, client.FolderRef{Name: b.box}, client.ListOptions{IDs: []string{ids[0], "99999"}}, func(e client.Envelope) error {
			picked = append(picked, e.ID)
			return nil
		})
		if !errors.Is(err, client.ErrNotFound) || !slices.Equal(picked, []string{ids[0]}) {
			t.Errorf("ids: %v %v", picked, err)
		}
		// fn's error stops the listing and comes back as is.
		stop := errors.New("enough")
		n := 0
		_, err = s.List(bg, client.FolderRef{Name: b.box}, client.ListOptions{}, func(e client.Envelope) error {
			n++
			return stop
		})
		if !errors.Is(err, stop) || n != 1 {
			t.Errorf("stop: %v after %d", err, n)
		}
		// The session is still usable afterwards.
		if _, err := s.Status(bg, b.box); err != nil {
			t.Errorf("after stop: %v", err)
		}
		// Nothing listed marked anything seen.
		_, items, _ := s.Inventory(bg, client.FolderRef{Name: b.box}, client.InventoryOptions{})
		for _, it := range items {
			if client.HasFlag(it.Flags, client.FlagSeen) != (it.ID == newest) {
				t.Errorf("flags changed by listing: %+v", it)
			}
		}
	}
}

// sameTree compares what both sides can know: numbering, types, names,
// encodings, dispositions and sizes.
//
// Dovecot counts the CRLF that follows a nested multipart's closing
// delimiter into the enclosing part (RFC 2046 lets that CRLF be read either
// way), so a part ending with one is two bytes longer there.
func sameTree(t *testing.T, label string, imapPart, parsed *client.Part, dovecot bool) {
	t.Helper()
	var walk func(a, b *client.Part)
	walk = func(a, b *client.Part) {
		enc := func(s string) string {
			if s == "" {
				return "7bit" // IMAP cannot tell a missing header from 7bit
			}
			return s
		}
		if a.Path != b.Path || a.Type != b.Type || a.Filename != b.Filename || enc(a.Encoding) != enc(b.Encoding) ||
			a.Disposition != b.Disposition || len(a.Children) != len(b.Children) {
			t.Errorf("%s: part differs\n imap   %s\n parsed %s", label, describe(a), describe(b))
			return
		}
		if !a.IsMultipart() && a.Size != b.Size && !(dovecot && a.Type == "message/rfc822" && a.Size == b.Size+2) {
			t.Errorf("%s: part %s size %d, parsed %d", label, a.Path, a.Size, b.Size)
		}
		for i := range a.Children {
			walk(a.Children[i], b.Children[i])
		}
	}
	walk(imapPart, parsed)
}

func describe(p *client.Part) string {
	return fmt.Sprintf("path=%q type=%s file=%q enc=%q disp=%q size=%d children=%d", p.Path, p.Type, p.Filename, p.Encoding, p.Disposition, p.Size, len(p.Children))
}

func testStructureMatchesParseMessage(t *testing.T, b *backend) {
	{
		for _, m := range corpus {
			b.deliver(t, "alice", b.box, []byte(m))
		}
		s := b.dial(t, "alice", client.DialOptions{})
		ids := inventoryIDs(t, s, b.box)
		ref := client.FolderRef{Name: b.box}
		for _, id := range ids {
			var raw bytes.Buffer
			download1(t, s, ref, id, &raw)
			env, tree, err := s.Structure(bg, ref, id)
			if err != nil {
				t.Fatal(err)
			}
			penv, parsed, _ := mimepart.ParseMessage(bytes.NewReader(raw.Bytes()))
			if env.Subject != penv.Subject || env.HasAttachments != penv.HasAttachments {
				t.Errorf("uid %s: envelope %+v, parsed %+v", id, env, penv)
			}
			sameTree(t, b.name+" uid "+id+" ("+penv.Subject+")", tree, parsed, b.dovecot != nil)

			// Every leaf's bytes equal what mimepart.CopyPart cuts from the message.
			tree.Walk(func(p *client.Part) bool {
				if p.Path == "" {
					return true
				}
				var fromServer, fromParse bytes.Buffer
				if _, err := s.FetchPart(bg, ref, id, p.Path, &fromServer); err != nil {
					t.Errorf("uid %s part %s: %v", id, p.Path, err)
					return true
				}
				if _, err := mimepart.CopyPart(bytes.NewReader(raw.Bytes()), p.Path, &fromParse); err != nil {
					t.Errorf("copy part %s: %v", p.Path, err)
				}
				if !bytes.Equal(fromServer.Bytes(), fromParse.Bytes()) && !(b.dovecot != nil && dovecotEpilogue(fromServer.Bytes(), fromParse.Bytes())) {
					t.Errorf("uid %s part %s: server %q, parsed %q", id, p.Path, trunc(fromServer.String()), trunc(fromParse.String()))
				}
				return true
			})
		}
		// The header alone, and a message that is not there.
		var head bytes.Buffer
		if _, err := s.FetchPart(bg, ref, ids[0], "HEADER", &head); err != nil {
			t.Fatal(err)
		}
		var full bytes.Buffer
		download1(t, s, ref, ids[0], &full)
		if wantHead, _, _ := bytes.Cut(full.Bytes(), []byte("\r\n\r\n")); !bytes.Equal(head.Bytes(), append(wantHead, "\r\n\r\n"...)) {
			t.Errorf("HEADER %q, message starts %q", head.String(), trunc(full.String()))
		}
		if _, err := s.FetchPart(bg, ref, "99999", "1", io.Discard); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("part of a missing message: %v", err)
		}
		if _, _, err := s.Structure(bg, ref, "99999"); !errors.Is(err, client.ErrNotFound) {
			t.Errorf("structure of a missing message: %v", err)
		}
		// Names decoded as the sender wrote them.
		var names []string
		for _, id := range ids {
			_, tree, _ := s.Structure(bg, ref, id)
			for _, a := range tree.Attachments() {
				names = append(names, a.Filename)
			}
		}
		for _, want := range []string{"réport.pdf", "résumé.pdf", "café-menu.txt", "orig.eml"} {
			if !slices.Contains(names, want) {
				t.Errorf("attachment %q not among %q", want, names)
			}
		}
	}
}

func download1(t *testing.T, s *Source, ref client.FolderRef, id string, w io.Writer) {
	t.Helper()
	if err := s.Download(bg, ref, []string{id}, func(_ string, _ int64, r io.Reader) error {
		_, err := io.Copy(w, r)
		return err
	}); err != nil {
		t.Fatal(err)
	}
}

// dovecotEpilogue reports whether server is parsed plus the CRLF after a
// closing delimiter (see sameTree).
func dovecotEpilogue(server, parsed []byte) bool {
	return bytes.HasSuffix(parsed, []byte("--")) && bytes.Equal(server, append(append([]byte(nil), parsed...), '\r', '\n'))
}

func trunc(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
