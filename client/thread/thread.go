// Package thread groups envelopes into conversations by Message-ID,
// In-Reply-To and References, after Jamie Zawinski's algorithm (the one
// IMAP THREAD=REFERENCES standardises), without its grouping by subject:
// two messages that merely share a subject are not made one conversation.
// It works on envelopes alone, so both protocols thread alike.
package thread

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"

	"github.com/duomail/duomail/client"
)

// Node is one message in its conversation.
type Node struct {
	Envelope client.Envelope
	// Thread names the conversation: every message of it has the same,
	// and it depends only on Message-IDs, so it is the same on both
	// protocols and from one run to the next.
	Thread string
	// Depth is how many of the message's ancestors are in the listing:
	// 0 for a conversation's first message, and for a reply whose parent
	// is missing (it still appears, at the top).
	Depth int
}

type container struct {
	id       string
	env      int // index into the input; -1 for a message only referred to
	parent   *container
	children []*container
}

func (c *container) isAncestorOf(d *container) bool {
	for p := d; p != nil; p = p.parent {
		if p == c {
			return true
		}
	}
	return false
}

func (c *container) unlink() {
	if p := c.parent; p != nil {
		p.children = slices.DeleteFunc(p.children, func(x *container) bool { return x == c })
		c.parent = nil
	}
}

func link(parent, child *container) {
	child.unlink()
	child.parent = parent
	parent.children = append(parent.children, child)
}

// Build returns every envelope once, grouped into conversations. The
// conversations keep the order of the input (each where its first message
// in the input was: a listing newest first gives the most recent
// conversation first); within one, replies follow their parents depth
// first, siblings oldest first.
func Build(envs []client.Envelope) []Node {
	byID := map[string]*container{}
	get := func(id string) *container {
		c := byID[id]
		if c == nil {
			c = &container{id: id, env: -1}
			byID[id] = c
		}
		return c
	}
	for i, e := range envs {
		id := e.MessageID
		// A message without Message-ID, or a second copy of one, is a
		// conversation's member only through its own references.
		if id == "" || byID[id] != nil && byID[id].env >= 0 {
			id = "\x00" + strconv.Itoa(i)
		}
		c := get(id)
		c.env = i
		chain := e.References
		if len(chain) == 0 && e.InReplyTo != "" {
			chain = []string{e.InReplyTo}
		} else if e.InReplyTo != "" && chain[len(chain)-1] != e.InReplyTo && !slices.Contains(chain, e.InReplyTo) {
			chain = append(slices.Clone(chain), e.InReplyTo)
		}
		// Links between the referenced messages are only added, never
		// changed: an earlier message may know better.
		for j := 1; j < len(chain); j++ {
			p, ch := get(chain[j-1]), get(chain[j])
			if ch.parent == nil && p != ch && !ch.isAncestorOf(p) {
				link(p, ch)
			}
		}
		// The message's own parent is the last reference, whatever was
		// guessed before.
		if n := len(chain); n > 0 {
			p := get(chain[n-1])
			if p != c && !c.isAncestorOf(p) {
				link(p, c)
			}
		}
	}

	// first[c] is the earliest input index in c's subtree.
	first := map[*container]int{}
	var earliest func(c *container) int
	earliest = func(c *container) int {
		if v, ok := first[c]; ok {
			return v
		}
		m := len(envs)
		if c.env >= 0 {
			m = c.env
		}
		for _, ch := range c.children {
			m = min(m, earliest(ch))
		}
		first[c] = m
		return m
	}
	var roots []*container
	for _, c := range byID {
		if c.parent == nil && earliest(c) < len(envs) {
			roots = append(roots, c)
		}
	}
	slices.SortFunc(roots, func(a, b *container) int { return first[a] - first[b] })

	out := make([]Node, 0, len(envs))
	var walk func(c *container, thread string, depth int)
	walk = func(c *container, thread string, depth int) {
		if c.env >= 0 {
			out = append(out, Node{Envelope: envs[c.env], Thread: thread, Depth: depth})
			depth++
		}
		kids := slices.Clone(c.children)
		slices.SortStableFunc(kids, func(a, b *container) int {
			da, db := subtreeDate(a, envs), subtreeDate(b, envs)
			if c := da.Compare(db); c != 0 {
				return c
			}
			return first[a] - first[b]
		})
		for _, k := range kids {
			walk(k, thread, depth)
		}
	}
	for _, r := range roots {
		walk(r, threadID(r, envs), 0)
	}
	return out
}

// subtreeDate is when a conversation branch starts: its message's date,
// or for a missing message, its earliest reply's.
func subtreeDate(c *container, envs []client.Envelope) (t timeKey) {
	if c.env >= 0 {
		return timeKey(envs[c.env].ListDate().UnixNano())
	}
	first := true
	for _, ch := range c.children {
		if d := subtreeDate(ch, envs); first || d < t {
			t, first = d, false
		}
	}
	return t
}

type timeKey int64

func (a timeKey) Compare(b timeKey) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// threadID names a conversation after its root's Message-ID (that of a
// missing first message too), or, for a root without one, after the
// message's folder and ID.
func threadID(root *container, envs []client.Envelope) string {
	key := root.id
	if root.env >= 0 && envs[root.env].MessageID == "" || len(key) > 0 && key[0] == 0 {
		e := envs[root.env]
		key = "\x00" + e.Folder + "\x00" + e.ID
	}
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:6])
}

// Annotate returns the envelopes in conversation order (as Build) with
// their Thread and Depth set, for a listing shown as threads.
func Annotate(envs []client.Envelope) []client.Envelope {
	nodes := Build(envs)
	out := make([]client.Envelope, len(nodes))
	for i, n := range nodes {
		e := n.Envelope
		e.Thread, e.Depth = n.Thread, &nodes[i].Depth
		out[i] = e
	}
	return out
}
