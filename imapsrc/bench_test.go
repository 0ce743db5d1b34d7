package imapsrc

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
)

// benchMessage is a ~70 KB message: a header and base64 lines, like an
// attachment.
func benchMessage(i int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: bench@example.org\r\nTo: alice@example.org\r\nSubject: bench %d\r\n", i)
	fmt.Fprintf(&b, "Message-ID: <bench%d@example.org>\r\nDate: Mon, 02 Jan 2023 15:04:05 +0000\r\n", i)
	b.WriteString("Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n")
	raw := make([]byte, 52<<10)
	rand.Read(raw)
	enc := base64.StdEncoding.EncodeToString(raw)
	for len(enc) > 76 {
		b.WriteString(enc[:76] + "\r\n")
		enc = enc[76:]
	}
	b.WriteString(enc + "\r\n")
	return []byte(b.String())
}

// BenchmarkDownload streams 200 messages of ~70 KB from Dovecot with one
// UID FETCH per iteration; MB/s is the figure to compare with mbsync.
func BenchmarkDownload(b *testing.B) {
	d := sourcetest.StartDovecot(b, sourcetest.DovecotOptions{})
	var total int64
	for i := 0; i < 200; i++ {
		m := benchMessage(i)
		total += int64(len(m))
		d.Deliver(b, "alice", "INBOX", m)
	}
	be := &backend{name: "dovecot", dovecot: d, caFile: d.CAFile, host: d.Host, port: d.IMAPPort, mode: client.TLSStartTLS}
	for _, mode := range []client.TLSMode{client.TLSImplicit, client.TLSStartTLS, client.TLSNone} {
		b.Run(string(mode), func(b *testing.B) {
			be.mode, be.port = mode, d.IMAPPort
			if mode == client.TLSImplicit {
				be.port = d.IMAPSPort
			}
			s := be.dial(b, "alice", client.DialOptions{})
			ids := inventoryIDs(b, s, "INBOX")
			ref := client.FolderRef{Name: "INBOX"}
			buf := make([]byte, 64<<10)
			b.SetBytes(total)
			b.ResetTimer()
			for n := 0; n < b.N; n++ {
				var got int64
				err := s.Download(bg, ref, ids, func(_ string, _ int64, r io.Reader) error {
					k, err := io.CopyBuffer(io.Discard, r, buf)
					got += k
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
				if got != total {
					b.Fatalf("downloaded %d bytes, want %d", got, total)
				}
			}
		})
	}
}
