package imapsrc

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/duomail/duomail/client"
)

func init() {
	suite = append(suite, struct {
		name string
		f    func(*testing.T, *backend)
	}{"OpenReadWriteLeavesMailUnseen", testOpenReadWriteLeavesMailUnseen})
}

// sentVerbs returns the command names of a --debug trace.
func sentVerbs(trace string) []string {
	var out []string
	for _, line := range strings.Split(trace, "\n") {
		rest, ok := strings.CutPrefix(line, "C: ")
		if !ok {
			continue
		}
		if f := strings.Fields(rest); len(f) > 1 {
			out = append(out, strings.ToUpper(f[1]))
		}
	}
	return out
}

// Every open is a read-write SELECT, so servers that settle UIDs only
// then (Courier, GNU Mailutils) keep them; every read of the folder still
// leaves the message unseen, because bodies are read with BODY.PEEK.
func testOpenReadWriteLeavesMailUnseen(t *testing.T, b *backend) {
	b.deliver(t, "alice", b.box, []byte(msgPlain))
	var trace syncBuffer
	s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
	ref := client.FolderRef{Name: b.box}
	if _, err := s.Status(bg, b.box); err != nil {
		t.Fatal(err)
	}
	ids := inventoryIDs(t, s, b.box)
	if len(ids) != 1 {
		t.Fatalf("inventory %v", ids)
	}
	if _, err := s.List(bg, ref, client.ListOptions{}, func(client.Envelope) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Structure(bg, ref, ids[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FetchPart(bg, ref, ids[0], "1", io.Discard); err != nil {
		t.Fatal(err)
	}
	if err := s.Download(bg, ref, ids, func(_ string, _ int64, r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Examine(bg, b.box); err != nil {
		t.Fatal(err)
	}

	verbs := sentVerbs(trace.String())
	selects := 0
	for _, v := range verbs {
		switch v {
		case "EXAMINE":
			t.Errorf("a folder was opened with EXAMINE: %q", verbs)
		case "SELECT":
			selects++
		}
	}
	if selects == 0 {
		t.Errorf("no SELECT sent: %q", verbs)
	}
	note := "# imap: open " + b.box + " read-write (SELECT; reads use BODY.PEEK) so the server keeps its UIDs"
	if n := strings.Count(trace.String(), note+"\n"); n != selects {
		t.Errorf("%d SELECTs but %d notes %q in the trace:\n%s", selects, n, note, trace.String())
	}

	// Another client finds the message still unseen.
	other := b.raw(t, "alice")
	if _, err := other.Select(b.box, &imap.SelectOptions{ReadOnly: true}).Wait(); err != nil {
		t.Fatal(err)
	}
	msgs, err := other.Fetch(imap.SeqSetNum(1), &imap.FetchOptions{Flags: true}).Collect()
	if err != nil || len(msgs) != 1 {
		t.Fatalf("flags: %v %v", msgs, err)
	}
	for _, f := range msgs[0].Flags {
		if f == imap.FlagSeen {
			t.Errorf("reading over a read-write SELECT marked the message seen: %v", msgs[0].Flags)
		}
	}
}

// A folder the server opens read-only ([READ-ONLY] on SELECT) is read, and
// every change is refused before a STORE, COPY, MOVE or EXPUNGE is sent.
func TestReadOnlyFolderRefusesChanges(t *testing.T) {
	f := &fake{readOnly: true, caps: "IMAP4rev1 UIDPLUS MOVE IDLE"}
	acct := f.start(t)
	var trace syncBuffer
	src, err := Dial(bg, acct, client.DialOptions{Debug: &trace})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Status(bg, "INBOX"); err != nil {
		t.Fatalf("reading a read-only folder: %v", err)
	}
	ref := client.FolderRef{Name: "INBOX"}
	changes := map[string]func() error{
		"flag": func() error {
			return src.SetFlags(bg, ref, []string{"1"}, client.FlagAdd, []client.Flag{client.FlagFlagged})
		},
		"move": func() error { _, err := src.Move(bg, ref, []string{"1"}, "Archive", client.MoveOptions{}); return err },
		"expunge": func() error {
			_, err := src.Delete(bg, ref, []string{"1"}, client.DeleteOptions{Expunge: true})
			return err
		},
	}
	for name, change := range changes {
		err := change()
		if !errors.Is(err, client.ErrServer) || !strings.Contains(err.Error(), "read-only") || !strings.Contains(err.Error(), "nothing was changed") {
			t.Errorf("%s in a read-only folder: %v", name, err)
		}
	}
	for _, verb := range []string{"UID STORE", "STORE", "UID MOVE", "UID COPY", "UID EXPUNGE", "EXPUNGE"} {
		if f.saw(verb) {
			t.Errorf("%s sent to a folder the server opened read-only", verb)
		}
	}
	if !strings.Contains(trace.String(), "# imap: open INBOX read-only: the server answered SELECT with [READ-ONLY]") {
		t.Errorf("the trace does not say the folder is read-only:\n%s", trace.String())
	}
	if f.saw("EXAMINE") {
		t.Error("EXAMINE sent")
	}
}
