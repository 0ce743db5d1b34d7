package imapsrc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/imapsrc/imaptest"
)

// A connection closed in the middle of a message's literal must fail the
// read: imapclient reads literals through an io.LimitReader, which reports
// the early end as a plain io.EOF, and a cache would then store the first
// part of the message as if it were all of it.
func TestLiteralCutShortFails(t *testing.T) {
	const announced = 1000
	part := "Subject: cut\r\n\r\n" + strings.Repeat("x", 300)
	cutAfterLiteralStart := func(item string) func(p *imaptest.Peer, tag, name, args string) bool {
		return func(p *imaptest.Peer, tag, name, args string) bool {
			if name != "UID FETCH" {
				return false
			}
			fmt.Fprintf(p.Conn, "* 1 FETCH (UID 1 %s {%d}\r\n%s", item, announced, part)
			p.Conn.Close()
			return true
		}
	}

	t.Run("download", func(t *testing.T) {
		f := &fake{handle: cutAfterLiteralStart("RFC822.SIZE 1000 BODY[]")}
		src, err := Dial(bg, f.start(t), client.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var got bytes.Buffer
		var readErr error
		err = src.Download(bg, client.FolderRef{Name: "INBOX"}, []string{"1"}, func(id string, size int64, r io.Reader) error {
			_, readErr = io.Copy(&got, r)
			return readErr
		})
		if readErr == nil {
			t.Errorf("reading the cut message succeeded with %d of %d bytes", got.Len(), announced)
		}
		if !errors.Is(err, client.ErrNetwork) || !strings.Contains(err.Error(), "uid 1") {
			t.Errorf("Download: %v", err)
		}
	})

	t.Run("fetch part", func(t *testing.T) {
		f := &fake{handle: cutAfterLiteralStart("BODY[1]")}
		src, err := Dial(bg, f.start(t), client.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		n, err := src.FetchPart(bg, client.FolderRef{Name: "INBOX"}, "1", "1", io.Discard)
		if !errors.Is(err, client.ErrNetwork) {
			t.Errorf("FetchPart wrote %d of %d bytes, err %v", n, announced, err)
		}
	})
}
