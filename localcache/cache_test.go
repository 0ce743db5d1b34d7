package localcache

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-maildir"

	"github.com/duomail/duomail/client"
)

func TestRoundTripByteExact(t *testing.T) {
	long := strings.Repeat("x", 200_000)
	bodies := map[string][]byte{
		"dots":      []byte("Subject: dots\r\n\r\n.\r\n..\r\n.hidden\r\n. \r\nend\r\n.\r\n"),
		"bare-lf":   []byte("Subject: bare LF\n\nline one\nline two\r\nmixed\rCR alone\n"),
		"8bit":      append([]byte("Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\nContent-Type: text/plain; charset=latin1\r\n\r\n"), []byte{0x00, 0x80, 0xe4, 0xf6, 0xfc, 0xff, '\r', '\n', 0xc3, 0xa4}...),
		"long-line": []byte("Subject: long\r\n\r\n" + long + "\r\n" + long),
		"no-eol":    []byte("Subject: no final newline\r\n\r\nlast line"),
		"header":    []byte("Subject: only a header\r\n"),
		"empty":     {},
		"a/b:c d":   testMessage("a/b:c d", 3000), // IDs may contain any printable ASCII
		"~!@#$%^&*": testMessage("~!@#$%^&*", 100),
	}
	var order []string
	for id := range bodies {
		order = append(order, id)
	}
	slices.Sort(order)

	c := openCache(t, t.TempDir())
	envs := store(t, c, client.Inbox, 0, nil, order, func(id string) []byte { return bodies[id] })
	if len(envs) != len(order) {
		t.Fatalf("Commit returned %d envelopes, want %d", len(envs), len(order))
	}
	for i, env := range envs {
		id := order[i]
		if env.ID != id || env.Folder != client.Inbox || env.UIDValidity != 0 {
			t.Errorf("envelope %d: ID %q Folder %q UIDValidity %d", i, env.ID, env.Folder, env.UIDValidity)
		}
		if env.Size != int64(len(bodies[id])) {
			t.Errorf("%s: Size %d, want %d", id, env.Size, len(bodies[id]))
		}
		if got := readBody(t, c, client.Inbox, id); !bytes.Equal(got, bodies[id]) {
			t.Errorf("%s: body differs (%d bytes, want %d)", id, len(got), len(bodies[id]))
		}
	}
	if envs[slices.Index(order, "8bit")].Subject != "Grüße" {
		t.Errorf("8bit subject = %q", envs[slices.Index(order, "8bit")].Subject)
	}
	env := envs[slices.Index(order, "a/b:c d")]
	if env.Subject != "message a/b:c d" || env.From != "Sender a/b:c d <sender@example.org>" || len(env.To) != 2 {
		t.Errorf("parsed envelope = %+v", env)
	}
	// What List reads back from the index is what Commit returned.
	var listed []client.Envelope
	if err := c.List(context.Background(), client.Inbox, client.ListOptions{IDs: []string{"a/b:c d"}}, func(e client.Envelope) error {
		listed = append(listed, e)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(listed) != 1 || !listed[0].Date.Equal(env.Date) || listed[0].Subject != env.Subject ||
		!slices.Equal(listed[0].To, env.To) || listed[0].Size != env.Size || listed[0].MessageID != env.MessageID {
		t.Errorf("List = %+v, Commit returned %+v", listed, env)
	}
	if _, off := listed[0].Date.Zone(); off != 3600 {
		t.Errorf("date lost the sender's zone: %v", listed[0].Date)
	}
	checkOneCopy(t, c, client.Inbox, 0, order)
}

func TestOpenNotFound(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	if _, err := c.Open(ctx, client.Inbox, "nope"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Open in unknown folder: %v", err)
	}
	if err := c.PutEnvelopes(ctx, client.Inbox, []client.Envelope{{ID: "head-only", Subject: "x"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Open(ctx, client.Inbox, "head-only"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Open of envelope-only message: %v", err)
	}
	store(t, c, client.Inbox, 0, nil, []string{"gone"}, func(id string) []byte { return testMessage(id, 100) })
	for _, p := range maildirFiles(t, c, client.Inbox) {
		os.Remove(filepath.Join(c.MaildirPath(client.Inbox), p))
	}
	if _, err := c.Open(ctx, client.Inbox, "gone"); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("Open of a message whose file was deleted: %v", err)
	}
}

func TestEntries(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	before := time.Now()
	if err := c.PutEnvelopes(ctx, client.Inbox, []client.Envelope{
		{ID: "env-only", Size: 1234, Flags: []client.Flag{client.FlagSeen}},
		{ID: "stored", Size: 99999},
	}); err != nil {
		t.Fatal(err)
	}
	raw := testMessage("stored", 5000)
	store(t, c, client.Inbox, 0, nil, []string{"stored"}, func(string) []byte { return raw })
	if err := c.MarkOffServer(ctx, client.Inbox, []string{"stored", "unknown"}); err != nil {
		t.Fatal(err)
	}
	// A second PutEnvelopes (e.g. the next sync's TOP) keeps body, size and
	// download time, and marks the message as on the server again.
	downloaded := entries(t, c, client.Inbox)["stored"].Downloaded
	if err := c.PutEnvelopes(ctx, client.Inbox, []client.Envelope{{ID: "stored", Size: 1}}); err != nil {
		t.Fatal(err)
	}
	if err := c.MarkOffServer(ctx, client.Inbox, []string{"stored"}); err != nil {
		t.Fatal(err)
	}
	e := entries(t, c, client.Inbox)
	if len(e) != 2 {
		t.Fatalf("Entries = %+v", e)
	}
	if got := e["env-only"]; got.HasBody || !got.OnServer || got.Size != 1234 || !got.Downloaded.IsZero() || !slices.Equal(got.Flags, []client.Flag{client.FlagSeen}) {
		t.Errorf("env-only = %+v", got)
	}
	got := e["stored"]
	if !got.HasBody || got.OnServer || got.Size != int64(len(raw)) || got.Downloaded.Before(before) || !got.Downloaded.Equal(downloaded) {
		t.Errorf("stored = %+v (downloaded first at %v)", got, downloaded)
	}
	if got := readBody(t, c, client.Inbox, "stored"); !bytes.Equal(got, raw) {
		t.Error("body changed")
	}
	total, unseen, err := c.Counts(ctx, client.Inbox)
	if err != nil || total != 2 || unseen != 1 {
		t.Errorf("Counts = %d, %d, %v; want 2, 1", total, unseen, err)
	}
	if e := entries(t, c, "Unknown"); len(e) != 0 {
		t.Errorf("Entries of unknown folder = %v", e)
	}
}

func TestRemove(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	store(t, c, client.Inbox, 0, nil, ids("m", 3), func(id string) []byte { return testMessage(id, 500) })
	if err := c.ChangeFlags(ctx, client.Inbox, []string{"m1"}, client.FlagAdd, []client.Flag{client.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	if err := c.Remove(ctx, client.Inbox, []string{"m0", "m1", "unknown"}); err != nil {
		t.Fatal(err)
	}
	e := entries(t, c, client.Inbox)
	if len(e) != 1 || !e["m2"].HasBody {
		t.Errorf("Entries after Remove = %+v", e)
	}
	checkOneCopy(t, c, client.Inbox, 0, []string{"m2"})
}

func TestListOrderIMAP(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	var envs []client.Envelope
	for _, id := range []string{"5", "100", "20", "3", "7"} {
		flags := []client.Flag{}
		if id == "20" || id == "3" {
			flags = []client.Flag{client.FlagSeen}
		}
		envs = append(envs, client.Envelope{ID: id, UIDValidity: 42, Flags: flags})
	}
	if err := c.PutEnvelopes(ctx, "Archive", envs); err != nil {
		t.Fatal(err)
	}
	// A stored body does not change the order.
	store(t, c, "Archive", 42, []client.Flag{}, []string{"1000"}, func(id string) []byte { return testMessage(id, 100) })
	for _, tc := range []struct {
		opts client.ListOptions
		want []string
	}{
		{client.ListOptions{}, []string{"1000", "100", "20", "7", "5", "3"}},
		{client.ListOptions{Limit: 2}, []string{"1000", "100"}},
		{client.ListOptions{Unseen: true}, []string{"1000", "100", "7", "5"}},
		{client.ListOptions{Unseen: true, Limit: 3}, []string{"1000", "100", "7"}},
		{client.ListOptions{IDs: []string{"3", "nope", "100"}, Limit: 1}, []string{"3", "100"}},
		{client.ListOptions{IDs: []string{"3", "100"}, Unseen: true}, []string{"100"}},
	} {
		if got := listIDs(t, c, "Archive", tc.opts); !slices.Equal(got, tc.want) {
			t.Errorf("List(%+v) = %v, want %v", tc.opts, got, tc.want)
		}
	}
}

func TestListOrderPOP3(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	put := func(ids ...string) {
		var envs []client.Envelope
		for _, id := range ids {
			envs = append(envs, client.Envelope{ID: id})
		}
		if err := c.PutEnvelopes(ctx, client.Inbox, envs); err != nil {
			t.Fatal(err)
		}
	}
	// UIDLs sort neither numerically nor alphabetically in arrival order.
	put("zz", "9", "aa")
	store(t, c, client.Inbox, 0, nil, []string{"mm", "10"}, func(id string) []byte { return testMessage(id, 100) })
	put("zz", "bb") // an update keeps its place
	want := []string{"bb", "10", "mm", "aa", "9", "zz"}
	if got := listIDs(t, c, client.Inbox, client.ListOptions{}); !slices.Equal(got, want) {
		t.Errorf("List = %v, want %v", got, want)
	}
	if got := listIDs(t, c, client.Inbox, client.ListOptions{Limit: 3}); !slices.Equal(got, want[:3]) {
		t.Errorf("List limit 3 = %v", got)
	}
}

func TestListCallbackError(t *testing.T) {
	c := openCache(t, t.TempDir())
	store(t, c, client.Inbox, 0, nil, ids("m", 5), func(id string) []byte { return testMessage(id, 100) })
	stop := errors.New("stop")
	n := 0
	err := c.List(context.Background(), client.Inbox, client.ListOptions{}, func(e client.Envelope) error {
		n++
		// The callback may use the cache while the listing is open.
		readBody(t, c, client.Inbox, e.ID)
		if n == 2 {
			return stop
		}
		return nil
	})
	if err != stop || n != 2 {
		t.Errorf("List returned %v after %d calls", err, n)
	}
}

func TestStateAndReset(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	if st, err := c.State(ctx, "Work"); err != nil || st != (client.SyncState{}) {
		t.Fatalf("State of unknown folder = %+v, %v", st, err)
	}
	st := client.SyncState{UIDValidity: 7, UIDNext: 30, HighestModSeq: 1 << 40, Messages: 3, LastSync: time.Now()}
	if err := c.SetState(ctx, "Work", st); err != nil {
		t.Fatal(err)
	}
	got, err := c.State(ctx, "Work")
	if err != nil || got.UIDValidity != 7 || got.UIDNext != 30 || got.HighestModSeq != 1<<40 || got.Messages != 3 || !got.LastSync.Equal(st.LastSync) {
		t.Fatalf("State = %+v, %v; want %+v", got, err, st)
	}
	store(t, c, "Work", 7, []client.Flag{client.FlagSeen}, []string{"10", "11"}, func(id string) []byte { return testMessage(id, 300) })
	if err := c.PutEnvelopes(ctx, "Work", []client.Envelope{{ID: "12", UIDValidity: 7}}); err != nil {
		t.Fatal(err)
	}

	// The server's UIDVALIDITY changed: old IDs must not be mixed with new.
	if err := c.SetState(ctx, "Work", client.SyncState{UIDValidity: 8}); !errors.Is(err, client.ErrStaleIDs) {
		t.Errorf("SetState with new UIDVALIDITY: %v, want ErrStaleIDs", err)
	}
	if err := c.PutEnvelopes(ctx, "Work", []client.Envelope{{ID: "1", UIDValidity: 8}}); !errors.Is(err, client.ErrStaleIDs) {
		t.Errorf("PutEnvelopes with new UIDVALIDITY: %v, want ErrStaleIDs", err)
	}
	b, err := c.NewBatch(ctx, "Work")
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(ctx, "1", 8, nil, bytes.NewReader(testMessage("1", 10))); !errors.Is(err, client.ErrStaleIDs) {
		t.Errorf("Batch.Add with new UIDVALIDITY: %v, want ErrStaleIDs", err)
	}
	if got, _ := c.State(ctx, "Work"); got.UIDValidity != 7 || got.UIDNext != 30 {
		t.Errorf("refused calls changed the state: %+v", got)
	}

	// A batch added under the old validity and committed after a Reset
	// (another process) is refused without leaving files behind.
	if err := b.Add(ctx, "13", 7, nil, bytes.NewReader(testMessage("13", 10))); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(ctx, "Work", 8); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Commit(ctx); !errors.Is(err, client.ErrStaleIDs) {
		t.Errorf("Commit after Reset: %v, want ErrStaleIDs", err)
	}
	if e := entries(t, c, "Work"); len(e) != 0 {
		t.Errorf("Entries after Reset = %v", e)
	}
	if files := maildirFiles(t, c, "Work"); len(files) != 0 {
		t.Errorf("files after Reset: %v", files)
	}
	got, err = c.State(ctx, "Work")
	if err != nil || got != (client.SyncState{UIDValidity: 8}) {
		t.Errorf("State after Reset = %+v, %v", got, err)
	}
	// The new validity is now the accepted one.
	store(t, c, "Work", 8, nil, []string{"1"}, func(id string) []byte { return testMessage(id, 300) })
	if err := c.SetState(ctx, "Work", client.SyncState{UIDValidity: 8, UIDNext: 2}); err != nil {
		t.Fatal(err)
	}
	if e := entries(t, c, "Work"); len(e) != 1 || !e["1"].HasBody {
		t.Errorf("Entries = %+v", e)
	}
}

func TestResetKeepsPOP3Bodies(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	store(t, c, client.Inbox, 0, nil, []string{"u1"}, func(id string) []byte { return testMessage(id, 300) })
	if err := c.SetState(ctx, client.Inbox, client.SyncState{Messages: 1}); err != nil {
		t.Fatal(err)
	}
	if err := c.Reset(ctx, client.Inbox, 0); err != nil {
		t.Fatal(err)
	}
	if e := entries(t, c, client.Inbox); !e["u1"].HasBody {
		t.Errorf("Reset to the same (POP3) validity dropped entries: %+v", e)
	}
	// Even a (mistaken) reset to another validity keeps the only copy.
	if err := c.Reset(ctx, client.Inbox, 5); err != nil {
		t.Fatal(err)
	}
	if files := maildirFiles(t, c, client.Inbox); len(files) != 1 {
		t.Errorf("POP3 body removed: files %v", files)
	}
}

func TestValidityZeroMeansCurrent(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	if err := c.SetState(ctx, "Sent", client.SyncState{UIDValidity: 9}); err != nil {
		t.Fatal(err)
	}
	store(t, c, "Sent", 0, nil, []string{"4"}, func(id string) []byte { return testMessage(id, 300) })
	if err := c.PutEnvelopes(ctx, "Sent", []client.Envelope{{ID: "5"}}); err != nil {
		t.Fatal(err)
	}
	var vs []uint32
	c.List(ctx, "Sent", client.ListOptions{}, func(e client.Envelope) error { vs = append(vs, e.UIDValidity); return nil })
	if !slices.Equal(vs, []uint32{9, 9}) {
		t.Errorf("validities = %v", vs)
	}
	checkOneCopy(t, c, "Sent", 9, []string{"4"})
}

func infoOf(t *testing.T, c *Cache, folder, id string, v uint32) (sub, info string) {
	t.Helper()
	var found []string
	for _, p := range maildirFiles(t, c, folder) {
		if k, _, fid, ok := parseFileName(filepath.Base(p)); ok && fid == id && k == fileKey(v, id) {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		t.Fatalf("files of %s: %v", id, found)
	}
	sub, name, _ := strings.Cut(found[0], "/")
	_, info, _ = strings.Cut(name, ":")
	return sub, info
}

func TestFlagsInFileNames(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	raw := testMessage("p", 400)
	store(t, c, client.Inbox, 0, nil, []string{"p"}, func(string) []byte { return raw })
	if sub, info := infoOf(t, c, client.Inbox, "p", 0); sub != "new" || info != "" {
		t.Errorf("POP3 message without flags at %s with info %q, want new/ without info", sub, info)
	}
	steps := []struct {
		op    client.FlagOp
		flags []client.Flag
		sub   string
		info  string
	}{
		{client.FlagAdd, []client.Flag{client.FlagSeen}, "cur", "2,S"},
		{client.FlagAdd, []client.Flag{client.FlagFlagged, "$Important"}, "cur", "2,FS"},
		{client.FlagAdd, []client.Flag{client.FlagAnswered, client.FlagDraft, client.FlagDeleted}, "cur", "2,DFRST"},
		{client.FlagRemove, []client.Flag{client.FlagSeen, client.FlagDraft, client.FlagDeleted}, "cur", "2,FR"},
		{client.FlagRemove, []client.Flag{client.FlagFlagged, client.FlagAnswered}, "cur", "2,"},
	}
	for _, s := range steps {
		if err := c.ChangeFlags(ctx, client.Inbox, []string{"p"}, s.op, s.flags); err != nil {
			t.Fatal(err)
		}
		if sub, info := infoOf(t, c, client.Inbox, "p", 0); sub != s.sub || info != s.info {
			t.Errorf("after %v %v: %s/ with info %q, want %s/ %q", s.op, s.flags, sub, info, s.sub, s.info)
		}
	}
	if got := entries(t, c, client.Inbox)["p"].Flags; !slices.Equal(got, []client.Flag{"$Important"}) {
		t.Errorf("flags = %v", got)
	}
	// go-maildir (as mutt would) reads the flags from the name.
	msg, err := maildir.Dir(c.MaildirPath(client.Inbox)).MessageByKey(fileKey(0, "p"))
	if err != nil {
		t.Fatal(err)
	}
	if len(msg.Flags()) != 0 {
		t.Errorf("maildir flags = %v", msg.Flags())
	}
	// Letters another tool set are kept; a file it renamed is still found.
	if err := msg.SetFlags([]maildir.Flag{maildir.FlagPassed, maildir.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	if got := readBody(t, c, client.Inbox, "p"); !bytes.Equal(got, raw) {
		t.Error("body of a message renamed by another tool differs")
	}
	if err := c.SetFlags(ctx, client.Inbox, map[string][]client.Flag{"p": {client.FlagFlagged}, "unknown": {client.FlagSeen}}); err != nil {
		t.Fatal(err)
	}
	if sub, info := infoOf(t, c, client.Inbox, "p", 0); sub != "cur" || info != "2,FP" {
		t.Errorf("after SetFlags: %s/ %q, want cur/ 2,FP", sub, info)
	}
	if got := entries(t, c, client.Inbox)["p"].Flags; !slices.Equal(got, []client.Flag{client.FlagFlagged}) {
		t.Errorf("flags after SetFlags = %v", got)
	}
	// nil means "not reported" (CONDSTORE: unchanged), not "no flags".
	if err := c.SetFlags(ctx, client.Inbox, map[string][]client.Flag{"p": nil}); err != nil {
		t.Fatal(err)
	}
	if got := entries(t, c, client.Inbox)["p"].Flags; !slices.Equal(got, []client.Flag{client.FlagFlagged}) {
		t.Errorf("flags after SetFlags with nil = %v", got)
	}
	// Known IDs change; unknown ones are reported.
	err = c.ChangeFlags(ctx, client.Inbox, []string{"unknown", "p"}, client.FlagAdd, []client.Flag{client.FlagSeen})
	if !errors.Is(err, client.ErrNotFound) || !strings.Contains(err.Error(), "unknown") {
		t.Errorf("ChangeFlags with an unknown id: %v, want ErrNotFound naming it", err)
	}
	if got := entries(t, c, client.Inbox)["p"].Flags; !slices.Equal(got, []client.Flag{client.FlagFlagged, client.FlagSeen}) {
		t.Errorf("flags of the known id = %v", got)
	}
	if sub, info := infoOf(t, c, client.Inbox, "p", 0); sub != "cur" || info != "2,FPS" {
		t.Errorf("file of the known id at %s/ %q", sub, info)
	}
	if err := c.ChangeFlags(ctx, "NoSuchFolder", []string{"p"}, client.FlagAdd, []client.Flag{client.FlagSeen}); !errors.Is(err, client.ErrNotFound) {
		t.Errorf("ChangeFlags in an unknown folder: %v", err)
	}
}

func TestCommitWithServerFlags(t *testing.T) {
	c := openCache(t, t.TempDir())
	store(t, c, "INBOX", 3, []client.Flag{client.FlagSeen, client.FlagAnswered, "$Label1"}, []string{"1"}, func(id string) []byte { return testMessage(id, 100) })
	store(t, c, "INBOX", 3, []client.Flag{}, []string{"2"}, func(id string) []byte { return testMessage(id, 100) })
	if sub, info := infoOf(t, c, "INBOX", "1", 3); sub != "cur" || info != "2,RS" {
		t.Errorf("seen+answered stored in %s/ with %q", sub, info)
	}
	if sub, info := infoOf(t, c, "INBOX", "2", 3); sub != "new" || info != "" {
		t.Errorf("unseen stored in %s/ with %q", sub, info)
	}
	// Flags set locally before a POP3 download survive it.
	ctx := context.Background()
	if err := c.PutEnvelopes(ctx, client.Inbox+"2", []client.Envelope{{ID: "u"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.ChangeFlags(ctx, client.Inbox+"2", []string{"u"}, client.FlagAdd, []client.Flag{client.FlagFlagged}); err != nil {
		t.Fatal(err)
	}
	envs := store(t, c, client.Inbox+"2", 0, nil, []string{"u"}, func(id string) []byte { return testMessage(id, 100) })
	if !slices.Equal(envs[0].Flags, []client.Flag{client.FlagFlagged}) {
		t.Errorf("Commit returned flags %v", envs[0].Flags)
	}
	if sub, info := infoOf(t, c, client.Inbox+"2", "u", 0); sub != "cur" || info != "2,F" {
		t.Errorf("stored in %s/ with %q", sub, info)
	}
}

func TestBatchAbortAndReuse(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	b, err := c.NewBatch(ctx, client.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"a", "b"} {
		if err := b.Add(ctx, id, 0, nil, bytes.NewReader(testMessage(id, 1000))); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Add(ctx, "a", 0, nil, bytes.NewReader(nil)); err == nil {
		t.Error("adding the same id twice succeeded")
	}
	if n, size := b.Pending(); n != 2 || size != int64(2*len(testMessage("a", 1000))) {
		t.Errorf("Pending = %d, %d", n, size)
	}
	if err := b.Abort(); err != nil {
		t.Fatal(err)
	}
	if files := maildirFiles(t, c, client.Inbox); len(files) != 0 {
		t.Errorf("files after Abort: %v", files)
	}
	// A reader failing mid-message leaves nothing behind.
	failing := errors.New("connection reset")
	if err := b.Add(ctx, "c", 0, nil, &failingReader{data: testMessage("c", 5000), err: failing}); !errors.Is(err, failing) {
		t.Errorf("Add with failing reader: %v", err)
	}
	if n, _ := b.Pending(); n != 0 {
		t.Errorf("failed Add left %d pending", n)
	}
	for round := range 2 {
		id := []string{"x", "y"}[round]
		if err := b.Add(ctx, id, 0, nil, bytes.NewReader(testMessage(id, 100))); err != nil {
			t.Fatal(err)
		}
		envs, err := b.Commit(ctx)
		if err != nil || len(envs) != 1 || envs[0].ID != id {
			t.Fatalf("Commit round %d = %v, %v", round, envs, err)
		}
	}
	if envs, err := b.Commit(ctx); err != nil || len(envs) != 0 {
		t.Errorf("empty Commit = %v, %v", envs, err)
	}
	checkOneCopy(t, c, client.Inbox, 0, []string{"x", "y"})
}

type failingReader struct {
	data []byte
	err  error
}

func (r *failingReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data[:min(len(r.data), 1000)])
	r.data = r.data[n:]
	return n, nil
}

func TestRedownloadKeepsOneCopy(t *testing.T) {
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	store(t, c, client.Inbox, 0, nil, []string{"r"}, func(id string) []byte { return testMessage(id, 1000) })
	if err := c.ChangeFlags(ctx, client.Inbox, []string{"r"}, client.FlagAdd, []client.Flag{client.FlagSeen}); err != nil {
		t.Fatal(err)
	}
	first := entries(t, c, client.Inbox)["r"].Downloaded
	newer := testMessage("r", 2000)
	store(t, c, client.Inbox, 0, nil, []string{"r"}, func(string) []byte { return newer })
	checkOneCopy(t, c, client.Inbox, 0, []string{"r"})
	if got := readBody(t, c, client.Inbox, "r"); !bytes.Equal(got, newer) {
		t.Error("re-download did not replace the body")
	}
	e := entries(t, c, client.Inbox)["r"]
	if !e.Downloaded.Equal(first) || !slices.Equal(e.Flags, []client.Flag{client.FlagSeen}) {
		t.Errorf("entry after re-download = %+v (first download %v)", e, first)
	}
	if sub, info := infoOf(t, c, client.Inbox, "r", 0); sub != "cur" || info != "2,S" {
		t.Errorf("re-downloaded file at %s/ %q", sub, info)
	}
}

func TestFolderEncoding(t *testing.T) {
	hostile := []string{
		"INBOX", "Sent", "Archive", "Archive.2023", "Work/Projects", "../../etc", "..", ".", ".hidden",
		"/abs", "a/../../b", "cur", "new", "tmp", "CUR", "lock", "index.sqlite", "index.sqlite-wal",
		"%", "%2F", "%63ur", "a\x00b", "line\nbreak", `back\slash`, "Entwürfe", "日本語", "\xff\xfe",
		"tab\there", " ", "~", "-rf", "a:b", "x\x7f", strings.Repeat("long/", 40), strings.Repeat("ü", 200),
	}
	readable := map[string]string{"INBOX": "INBOX", "Sent": "Sent", "Archive": "Archive", "Archive.2023": "Archive.2023", "Entwürfe": "Entwürfe", "Work/Projects": "Work%2FProjects", ".hidden": "%2Ehidden", "cur": "%63ur"}
	seen := map[string]string{}
	for _, name := range hostile {
		enc, err := EncodeFolder(name)
		if err != nil {
			t.Errorf("EncodeFolder(%q): %v", name, err)
			continue
		}
		if want, ok := readable[name]; ok && enc != want {
			t.Errorf("EncodeFolder(%q) = %q, want %q", name, enc, want)
		}
		if strings.ContainsAny(enc, "/\\\x00\n") || enc == "." || enc == ".." || strings.HasPrefix(enc, ".") ||
			slices.Contains([]string{"cur", "new", "tmp", "lock"}, strings.ToLower(enc)) || strings.HasPrefix(strings.ToLower(enc), "index.sqlite") {
			t.Errorf("EncodeFolder(%q) = %q is unsafe", name, enc)
		}
		if other, dup := seen[enc]; dup {
			t.Errorf("%q and %q both encode to %q", name, other, enc)
		}
		seen[enc] = name
		if dec, ok := DecodeFolder(enc); (!ok || dec != name) && len(name) < 200 {
			t.Errorf("DecodeFolder(%q) = %q, %v; want %q", enc, dec, ok, name)
		}
	}
	if _, err := EncodeFolder(""); err == nil {
		t.Error("empty folder name accepted")
	}
	long1, _ := EncodeFolder(strings.Repeat("/", 100) + "a")
	long2, _ := EncodeFolder(strings.Repeat("/", 100) + "b")
	if long1 == long2 || len(long1) > 255 || len(long2) > 255 || !strings.HasPrefix(long1, "%2F%2F") {
		t.Errorf("long names encode to %q and %q", long1, long2)
	}
	if _, ok := DecodeFolder(long1); ok {
		t.Errorf("shortened name %q decodes", long1)
	}
	for _, bad := range []string{"%2", "%zz", "a/b", "%2f", "cur", ".x"} {
		if _, ok := DecodeFolder(bad); ok {
			t.Errorf("DecodeFolder(%q) accepted a name EncodeFolder never makes", bad)
		}
	}

	// Store a message into every folder: everything lands in its own
	// directory right below the cache root, and nothing outside it.
	parent := t.TempDir()
	root := filepath.Join(parent, "acct")
	c := openCache(t, root)
	for i, name := range hostile {
		id := strings.Repeat("i", i+1)
		store(t, c, name, 0, nil, []string{id}, func(id string) []byte { return testMessage(id, 100) })
		mdir := c.MaildirPath(name)
		if filepath.Dir(mdir) != root {
			t.Errorf("Maildir of %q is %s, not directly below %s", name, mdir, root)
		}
		checkOneCopy(t, c, name, 0, []string{id})
	}
	if top, _ := readNames(parent); !slices.Equal(top, []string{"acct"}) {
		t.Errorf("files created outside the cache root: %v", top)
	}
	names, _ := readNames(root)
	if len(names) != len(hostile)+4 { // + index.sqlite, -wal, -shm, lock
		t.Errorf("cache root holds %d entries: %q", len(names), names)
	}
	// Reopening (recovery scans every directory) finds the same folders.
	c.Close()
	c = openCache(t, root)
	folders, err := c.Folders(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(hostile)
	slices.Sort(want)
	if !slices.Equal(folders, want) {
		t.Errorf("Folders = %q, want %q", folders, want)
	}
	for i, name := range hostile {
		if e := entries(t, c, name); len(e) != 1 || !e[strings.Repeat("i", i+1)].HasBody {
			t.Errorf("folder %q entries after reopen: %+v", name, e)
		}
	}
}

func TestFileKeys(t *testing.T) {
	for _, id := range []string{"1", "4294967295", "UID:with/slash and space", "~", strings.Repeat("z", maxIDLen), "\x00\xff"} {
		for _, v := range []uint32{0, 1, 0xffffffff} {
			key := fileKey(v, id)
			if strings.ContainsAny(key, "/:.") || len(key)+len(":2,DFPRST") > 255 {
				t.Errorf("fileKey(%d, %q) = %q is not a safe Maildir key", v, id, key)
			}
			for _, name := range []string{key, key + ":2,S", key + ":2,"} {
				k, gv, gid, ok := parseFileName(name)
				if !ok || k != key || gv != v || gid != id {
					t.Errorf("parseFileName(%q) = %q %d %q %v", name, k, gv, gid, ok)
				}
			}
		}
	}
	for _, name := range []string{"1700000000.M1P2.host:2,S", "duomail-0000000g-00", "duomail-00000000-", "duomail-00000000-0", "duomail-00000000-C4"} {
		if _, _, _, ok := parseFileName(name); ok {
			t.Errorf("parseFileName(%q) accepted a foreign name", name)
		}
	}
	c := openCache(t, t.TempDir())
	b, _ := c.NewBatch(context.Background(), client.Inbox)
	if err := b.Add(context.Background(), strings.Repeat("z", maxIDLen+1), 0, nil, bytes.NewReader(nil)); err == nil {
		t.Error("over-long id accepted")
	}
}

func TestPermissions(t *testing.T) {
	root := filepath.Join(t.TempDir(), "duomail", "acct")
	c := openCache(t, root)
	ctx := context.Background()
	store(t, c, client.Inbox, 0, nil, []string{"a"}, func(id string) []byte { return testMessage(id, 100) })
	store(t, c, "Sent", 1, []client.Flag{client.FlagSeen}, []string{"1"}, func(id string) []byte { return testMessage(id, 100) })
	unlock, err := c.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	unlock()
	check := func(path string, want os.FileMode) {
		t.Helper()
		fi, err := os.Stat(path)
		if err != nil {
			t.Error(err)
			return
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %v, want %v", path, fi.Mode().Perm(), want)
		}
	}
	check(root, 0o700)
	check(filepath.Dir(root), 0o700)
	for _, f := range []string{indexName, indexName + "-wal", indexName + "-shm", lockName} {
		check(filepath.Join(root, f), 0o600)
	}
	for _, folder := range []string{client.Inbox, "Sent"} {
		check(c.MaildirPath(folder), 0o700)
		for _, sub := range []string{"cur", "new", "tmp"} {
			check(filepath.Join(c.MaildirPath(folder), sub), 0o700)
		}
		files := maildirFiles(t, c, folder)
		if len(files) != 1 {
			t.Fatalf("%s: files %v", folder, files)
		}
		check(filepath.Join(c.MaildirPath(folder), files[0]), 0o600)
	}
	// An index created by someone else with a lax mode is tightened.
	c.Close()
	os.Chmod(filepath.Join(root, indexName), 0o644)
	os.WriteFile(filepath.Join(root, indexName+"-wal"), nil, 0o644)
	os.Chmod(filepath.Join(root, indexName+"-wal"), 0o644)
	openCache(t, root)
	check(filepath.Join(root, indexName), 0o600)
	check(filepath.Join(root, indexName+"-wal"), 0o600)
}

func TestOddCachePath(t *testing.T) {
	parent := t.TempDir()
	root := filepath.Join(parent, "we?ird#dir%20 x", "acct")
	c := openCache(t, root)
	store(t, c, client.Inbox, 0, nil, []string{"a"}, func(id string) []byte { return testMessage(id, 100) })
	if _, err := os.Stat(filepath.Join(root, indexName)); err != nil {
		t.Fatal(err)
	}
	if names, _ := readNames(parent); !slices.Equal(names, []string{"we?ird#dir%20 x"}) {
		t.Errorf("created %q", names)
	}
	c.Close()
	c = openCache(t, root)
	if e := entries(t, c, client.Inbox); !e["a"].HasBody {
		t.Errorf("entries after reopen: %+v", e)
	}
}

func TestLockExcludes(t *testing.T) {
	dir := t.TempDir()
	c1 := openCache(t, dir)
	c2 := openCache(t, dir)
	unlock, err := c1.Lock(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	_, err = c2.Lock(ctx)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second Lock while held: %v, want deadline exceeded", err)
	}
	acquired := make(chan func())
	go func() {
		u, err := c2.Lock(context.Background())
		if err != nil {
			t.Error(err)
			close(acquired)
			return
		}
		acquired <- u
	}()
	select {
	case <-acquired:
		t.Fatal("second Lock acquired while the first was held")
	case <-time.After(150 * time.Millisecond):
	}
	unlock()
	unlock() // harmless
	select {
	case u := <-acquired:
		if u != nil {
			u()
		}
	case <-time.After(10 * time.Second):
		t.Fatal("second Lock did not acquire after unlock")
	}
}

func TestSchemaVersion(t *testing.T) {
	dir := t.TempDir()
	c := openCache(t, dir)
	store(t, c, client.Inbox, 0, nil, []string{"a"}, func(id string) []byte { return testMessage(id, 100) })
	var v int
	if err := c.db.QueryRow(`SELECT version FROM schema_version`).Scan(&v); err != nil || v != len(migrations) {
		t.Fatalf("schema version = %d, %v", v, err)
	}
	c.Close()
	c = openCache(t, dir) // migrating again is a no-op and keeps data
	if e := entries(t, c, client.Inbox); !e["a"].HasBody {
		t.Errorf("entries after reopen: %+v", e)
	}
	if _, err := c.db.Exec(`UPDATE schema_version SET version = ?`, len(migrations)+1); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if c, err := Open(dir); err == nil {
		c.Close()
		t.Error("an index from a newer duomail was opened")
	}
}

func TestPragmas(t *testing.T) {
	c := openCache(t, t.TempDir())
	for pragma, want := range map[string]string{"journal_mode": "wal", "synchronous": "2", "foreign_keys": "1", "busy_timeout": "30000"} {
		var got string
		if err := c.db.QueryRow("PRAGMA " + pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
}

// TestReadersDoNotWaitForWriter: while another process holds the index's
// write lock (a long Commit or Reset), a second one can open the cache and
// read it.
func TestReadersDoNotWaitForWriter(t *testing.T) {
	dir := t.TempDir()
	c1 := openCache(t, dir)
	store(t, c1, client.Inbox, 0, nil, []string{"a"}, func(id string) []byte { return testMessage(id, 100) })
	tx, err := c1.db.BeginTx(context.Background(), nil) // _txlock=immediate: holds the write lock
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	start := time.Now()
	c2 := openCache(t, dir)
	if got := listIDs(t, c2, client.Inbox, client.ListOptions{}); !slices.Equal(got, []string{"a"}) {
		t.Errorf("List = %v", got)
	}
	readBody(t, c2, client.Inbox, "a")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("reading took %v: it waited for the writer", d)
	}
}
