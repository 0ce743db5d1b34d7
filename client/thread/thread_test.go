package thread

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

func env(id, inReplyTo string, refs string, day int) client.Envelope {
	return client.Envelope{ID: id, MessageID: id, InReplyTo: inReplyTo, References: strings.Fields(refs),
		Date: time.Date(2026, 1, day, 12, 0, 0, 0, time.UTC), Subject: "s " + id}
}

// shape renders a threading as "id/depth" in order, threads separated by "|".
func shape(nodes []Node) string {
	var b strings.Builder
	prev := ""
	for i, n := range nodes {
		if i > 0 {
			if n.Thread != prev {
				b.WriteString(" | ")
			} else {
				b.WriteString(" ")
			}
		}
		prev = n.Thread
		fmt.Fprintf(&b, "%s/%d", n.Envelope.ID, n.Depth)
	}
	return b.String()
}

func TestBuildThreads(t *testing.T) {
	cases := []struct {
		name string
		envs []client.Envelope
		want string
	}{
		{"references chain, newest first input",
			[]client.Envelope{env("c", "b", "a b", 3), env("x", "", "", 4), env("b", "a", "a", 2), env("a", "", "", 1)},
			"a/0 b/1 c/2 | x/0"},
		// The listing is newest first, so the conversation with the
		// newest message comes first; inside it, oldest first.
		{"in-reply-to only (IMAP envelopes)",
			[]client.Envelope{env("r2", "a", "", 3), env("r1", "a", "", 2), env("a", "", "", 1)},
			"a/0 r1/1 r2/1"},
		{"missing parent still appears",
			[]client.Envelope{env("orphan", "gone", "gone", 2), env("other", "", "", 1)},
			"orphan/0 | other/0"},
		{"siblings under a missing parent share a thread",
			[]client.Envelope{env("s2", "gone", "gone", 3), env("s1", "gone", "gone", 2)},
			"s1/0 s2/0"},
		{"missing middle of a chain",
			[]client.Envelope{env("a", "", "", 1), env("c", "b", "a b", 3)},
			"a/0 c/1"},
		{"reference loop does not hang or drop",
			[]client.Envelope{env("a", "b", "b", 1), env("b", "a", "a", 2)},
			"b/0 a/1"},
		{"message referring to itself",
			[]client.Envelope{env("a", "a", "a", 1)},
			"a/0"},
		{"no message-id",
			[]client.Envelope{{ID: "1"}, {ID: "2"}},
			"1/0 | 2/0"},
	}
	for _, tc := range cases {
		got := Build(tc.envs)
		if len(got) != len(tc.envs) {
			t.Errorf("%s: %d nodes for %d envelopes", tc.name, len(got), len(tc.envs))
		}
		if s := shape(got); s != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, s, tc.want)
		}
	}
}

func TestThreadIDDependsOnMessageIDsOnly(t *testing.T) {
	a := Build([]client.Envelope{env("a", "", "", 1), env("b", "a", "a", 2)})
	imapLike := []client.Envelope{env("a", "", "", 1), env("b", "a", "", 2)}
	imapLike[0].ID, imapLike[1].ID = "17", "18"
	b := Build(imapLike)
	if a[0].Thread != b[0].Thread || a[1].Thread != a[0].Thread || b[1].Thread != b[0].Thread {
		t.Errorf("thread ids differ: %q %q / %q %q", a[0].Thread, a[1].Thread, b[0].Thread, b[1].Thread)
	}
	other := Build([]client.Envelope{env("z", "", "", 1)})
	if other[0].Thread == a[0].Thread {
		t.Error("two conversations share a thread id")
	}
}

func TestAnnotateSetsThreadAndDepth(t *testing.T) {
	got := Annotate([]client.Envelope{env("b", "a", "a", 2), env("a", "", "", 1)})
	if len(got) != 2 || got[0].ID != "a" || got[1].ID != "b" {
		t.Fatalf("order: %+v", got)
	}
	if got[0].Depth == nil || *got[0].Depth != 0 || got[1].Depth == nil || *got[1].Depth != 1 || got[0].Thread == "" || got[0].Thread != got[1].Thread {
		t.Errorf("thread %q/%q depth %v/%v", got[0].Thread, got[1].Thread, got[0].Depth, got[1].Depth)
	}
}
