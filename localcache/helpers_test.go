package localcache

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
)

func openCache(t testing.TB, dir string) *Cache {
	t.Helper()
	c, err := Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// testMessage builds a plain message of about size bytes whose subject and
// body name id, so that a mix-up between messages shows.
func testMessage(id string, size int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Sender %s <sender@example.org>\r\n", id)
	fmt.Fprintf(&b, "To: rcpt@example.org, Other <other@example.net>\r\n")
	fmt.Fprintf(&b, "Subject: message %s\r\n", id)
	fmt.Fprintf(&b, "Date: Mon, 02 Jan 2006 15:04:05 +0100\r\n")
	fmt.Fprintf(&b, "Message-ID: <%s@example.org>\r\n", strings.Map(func(r rune) rune {
		if r <= ' ' || r == '<' || r == '>' || r == '@' || r > '~' {
			return '_'
		}
		return r
	}, id))
	fmt.Fprintf(&b, "\r\n")
	for i := 0; b.Len() < size; i++ {
		fmt.Fprintf(&b, "line %d of %s: the quick brown fox jumps over the lazy dog\r\n", i, id)
	}
	return b.Bytes()
}

// store adds messages (id -> raw) in the given order and commits them.
func store(t testing.TB, c *Cache, folder string, uidValidity uint32, flags []client.Flag, ids []string, raw func(id string) []byte) []client.Envelope {
	t.Helper()
	ctx := context.Background()
	b, err := c.NewBatch(ctx, folder)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if err := b.Add(ctx, id, uidValidity, flags, bytes.NewReader(raw(id))); err != nil {
			t.Fatalf("Add %s: %v", id, err)
		}
	}
	envs, err := b.Commit(ctx)
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	return envs
}

func readBody(t testing.TB, c *Cache, folder, id string) []byte {
	t.Helper()
	rc, err := c.Open(context.Background(), folder, id)
	if err != nil {
		t.Fatalf("Open %s: %v", id, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// maildirFiles lists the files below a folder's Maildir as "sub/name".
func maildirFiles(t testing.TB, c *Cache, folder string) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"cur", "new", "tmp"} {
		names, err := readNames(filepath.Join(c.MaildirPath(folder), sub))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		for _, n := range names {
			out = append(out, sub+"/"+n)
		}
	}
	sort.Strings(out)
	return out
}

// checkOneCopy fails unless every duomail file in the folder is in new/ or
// cur/, and each of ids has exactly one file (and no other message has any).
func checkOneCopy(t testing.TB, c *Cache, folder string, uidValidity uint32, ids []string) {
	t.Helper()
	count := map[string]int{}
	for _, p := range maildirFiles(t, c, folder) {
		if strings.HasPrefix(p, "tmp/") {
			t.Errorf("temporary file left: %s", p)
			continue
		}
		_, v, id, ok := parseFileName(filepath.Base(p))
		if !ok {
			t.Errorf("unexpected file %s", p)
			continue
		}
		if v != uidValidity {
			t.Errorf("file %s has UIDVALIDITY %d, want %d", p, v, uidValidity)
		}
		count[id]++
	}
	want := map[string]bool{}
	for _, id := range ids {
		want[id] = true
		if count[id] != 1 {
			t.Errorf("message %q: %d files, want 1", id, count[id])
		}
	}
	for id, n := range count {
		if !want[id] {
			t.Errorf("message %q: %d unexpected files", id, n)
		}
	}
}

func entries(t testing.TB, c *Cache, folder string) map[string]client.Entry {
	t.Helper()
	e, err := c.Entries(context.Background(), folder)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func listIDs(t testing.TB, c *Cache, folder string, opts client.ListOptions) []string {
	t.Helper()
	var ids []string
	err := c.List(context.Background(), folder, opts, func(e client.Envelope) error {
		ids = append(ids, e.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s%d", prefix, i)
	}
	return out
}
