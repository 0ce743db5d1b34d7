package imapsrc

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/mimepart"
	"github.com/duomail/duomail/imapsrc/imaptest"
)

func TestDecodeParams(t *testing.T) {
	for _, tc := range []struct {
		in   map[string]string
		want string
	}{
		{map[string]string{"filename": "plain.txt"}, "plain.txt"},
		{map[string]string{"filename*": "utf-8''r%C3%A9sum%C3%A9.pdf"}, "résumé.pdf"},
		{map[string]string{"filename*": "iso-8859-1'fr'caf%E9.txt"}, "café.txt"},
		// Continuations, in any order, mixing encoded and plain segments.
		{map[string]string{"filename*1": "-menu.txt", "filename*0*": "iso-8859-1''caf%E9"}, "café-menu.txt"},
		{map[string]string{"filename*0": "a", "filename*1": "b", "filename*2": "c"}, "abc"},
		// Broken escapes stay as they are rather than vanish.
		{map[string]string{"filename*": "utf-8''100%"}, "100%"},
	} {
		if got := mimepart.DecodeParams(tc.in)["filename"]; got != tc.want {
			t.Errorf("%v: %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFlagMapping(t *testing.T) {
	got := flagsFrom(imapFlagString{`\Seen`, `\Answered`, `\Recent`, `$Forwarded`, `\Flagged`, `\Draft`, `\Deleted`}.flags())
	want := []client.Flag{"seen", "answered", "$Forwarded", "flagged", "draft", "deleted"}
	if len(got) != len(want) {
		t.Fatalf("%v", got)
	}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("%v, want %v", got, want)
		}
	}
	if f := flagsFrom(nil); f == nil || len(f) != 0 {
		t.Errorf("no flags must be an empty, non-nil list: %#v", f)
	}
	back, err := imapFlags("flag", []client.Flag{"seen", "deleted", "$Label1"})
	if err != nil || back[0] != `\Seen` || back[1] != `\Deleted` || back[2] != "$Label1" {
		t.Errorf("%v %v", back, err)
	}
	for _, bad := range []client.Flag{`\Recent`, "two words", "a(b", "", "caf\u00e9"} {
		if _, err := imapFlags("flag", []client.Flag{bad}); !errors.Is(err, client.ErrUsage) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// Close logs out once; calling it again, or using the Source afterwards,
// is harmless.
func TestCloseTwice(t *testing.T) {
	b := memBackend(t, imaptest.Options{})
	var trace syncBuffer
	s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(commandLines(trace.String())); !hasCommand(trace.String(), "LOGOUT") || n == 0 {
		t.Errorf("trace:\n%s", trace.String())
	}
	if _, err := s.Folders(bg); !errors.Is(err, client.ErrNetwork) {
		t.Errorf("after close: %v", err)
	}
}

type imapFlagString []string

func (s imapFlagString) flags() []imap.Flag {
	out := make([]imap.Flag, len(s))
	for i, f := range s {
		out[i] = imap.Flag(f)
	}
	return out
}

// The trace shows server lines whole and only the start of long literals,
// however the bytes are split into reads.
func TestInTapLiterals(t *testing.T) {
	body := strings.Repeat("0123456789\r\n", 1000)
	wire := "* 1 FETCH (UID 1 BODY[] {" + strconv.Itoa(len(body)) + "}\r\n" + body + " FLAGS (\\Seen))\r\n" +
		"* 2 FETCH (UID 2 BODY[HEADER] {9}\r\nSubject: " + ")\r\nT1 OK done\r\n"
	for _, step := range []int{1, 7, 4096, len(wire)} {
		var out bytes.Buffer
		tap := &inTap{sink: &debugSink{w: &out}}
		for i := 0; i < len(wire); i += step {
			tap.Write([]byte(wire[i:min(i+step, len(wire))]))
		}
		got := out.String()
		if n := strings.Count(got, "0123456789"); n < maxDebugLiteral/12-1 || n > maxDebugLiteral/12+1 {
			t.Errorf("step %d: %d body lines shown", step, n)
		}
		for _, want := range []string{"S: * 1 FETCH (UID 1 BODY[] {12000}\r\n", "S: [rest of the literal not shown]\n", "S:  FLAGS (\\Seen))\r\n",
			"S: Subject: )\r\n", "S: T1 OK done\r\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("step %d: %q missing from\n%s", step, want, trunc(got[len(got)-300:]))
			}
		}
	}
}

// Large folders are listed in chunks from the newest end, and downloads of
// scattered UIDs are split into command lines of bounded length.
func TestChunks(t *testing.T) {
	b := memBackend(t, imaptest.Options{})
	b.newBox(t)
	const n = 1300
	for i := 0; i < n; i++ {
		b.deliver(t, "alice", b.box, []byte("Subject: m"+strconv.Itoa(i)+"\r\n\r\nx\r\n"))
	}
	var trace syncBuffer
	s := b.dial(t, "alice", client.DialOptions{Debug: &trace})
	ref := client.FolderRef{Name: b.box}
	trace.Reset()
	var ids []int
	_, err := s.List(bg, ref, client.ListOptions{}, func(e client.Envelope) error {
		ids = append(ids, uidOf(e.ID))
		return nil
	})
	if err != nil || len(ids) != n {
		t.Fatalf("%d listed, %v", len(ids), err)
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] >= ids[i-1] {
			t.Fatalf("not newest first at %d: %v", i, ids[i-1:i+1])
		}
	}
	fetches := 0
	for _, c := range commandLines(trace.String()) {
		if strings.HasPrefix(c, "UID FETCH") {
			fetches++
		}
	}
	if want := (n + listChunk - 1) / listChunk; fetches != want {
		t.Errorf("%d FETCH commands, want %d", fetches, want)
	}

	// Every third message: many single UIDs, several bounded commands.
	var pick []string
	for i := n; i >= 1; i -= 3 {
		pick = append(pick, strconv.Itoa(i))
	}
	var many []string
	for i := 0; i < 4; i++ {
		many = append(many, pick...)
	}
	trace.Reset()
	got, _, err := download(t, s, ref, many)
	if err != nil || len(got) != len(pick) {
		t.Fatalf("%d downloaded, %v", len(got), err)
	}
	for _, c := range commandLines(trace.String()) {
		if len(c) > maxSetChars+100 {
			t.Errorf("command of %d bytes", len(c))
		}
	}
	if n := strings.Count(trace.String(), "C: "); n != 1 {
		t.Errorf("%d commands for one download", n)
	}

	// 10 000 scattered UIDs need several command lines.
	var scattered []imap.UID
	for u := imap.UID(20000); u > 0; u -= 2 {
		scattered = append(scattered, u, u)
	}
	sets := chunkUIDs(scattered)
	if len(sets) < 5 {
		t.Errorf("%d sets", len(sets))
	}
	total := 0
	for _, set := range sets {
		nums, _ := set.Nums()
		total += len(nums)
		if l := len(set.String()); l > maxSetChars {
			t.Errorf("set of %d characters", l)
		}
	}
	if total != 10000 {
		t.Errorf("chunks hold %d UIDs, want 10000", total)
	}
}
