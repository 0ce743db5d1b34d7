package popsrc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/client/wire"
)

// BenchmarkDownload downloads a whole Dovecot mailbox (500 messages of
// about 70 KB) per iteration, login to QUIT, with popsrc and with raw
// socket loops that do nothing but RETR and find the terminator, so the
// ratio shows what popsrc costs. Run it with:
//
//	go test -run XXX -bench Download -benchtime 10x ./popsrc
func BenchmarkDownload(b *testing.B) {
	const count, size = 500, 70 << 10
	d := sourcetest.StartDovecot(b, sourcetest.DovecotOptions{})
	var total int64
	for i := 0; i < count; i++ {
		raw := sourcetest.BigMessage(size)
		raw = append(fmt.Appendf(nil, "X-Seq: %d\r\n", i), raw...)
		total += int64(len(raw))
		d.Deliver(b, "alice", "INBOX", raw)
	}
	plain := dovecotAccount(d, "alice", client.TLSNone)
	implicit := dovecotAccount(d, "alice", client.TLSImplicit)

	popsrcRun := func(b *testing.B, acct *client.Account) {
		ctx := context.Background()
		s, err := Dial(ctx, acct, client.DialOptions{})
		if err != nil {
			b.Fatal(err)
		}
		_, items, err := s.Inventory(ctx, client.FolderRef{Name: client.Inbox}, client.InventoryOptions{})
		if err != nil {
			b.Fatal(err)
		}
		ids := make([]string, len(items))
		for i, it := range items {
			ids[i] = it.ID
		}
		var got int64
		err = s.Download(ctx, client.FolderRef{Name: client.Inbox}, ids, func(id string, size int64, r io.Reader) error {
			n, err := io.Copy(io.Discard, r)
			got += n
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		if got != total {
			b.Fatalf("downloaded %d bytes, want %d", got, total)
		}
	}
	rawRun := func(b *testing.B, pipelined, useTLS bool) {
		var c net.Conn
		var err error
		if useTLS {
			cfg, cerr := wire.TLSConfig(implicit)
			if cerr != nil {
				b.Fatal(cerr)
			}
			c, err = tls.Dial("tcp", implicit.Address(), cfg)
		} else {
			c, err = net.Dial("tcp", plain.Address())
		}
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		br := bufio.NewReaderSize(c, 64<<10)
		line := func() []byte {
			l, err := br.ReadSlice('\n')
			if err != nil && err != bufio.ErrBufferFull {
				b.Fatal(err)
			}
			return l
		}
		line()
		fmt.Fprintf(c, "USER alice\r\nPASS %s\r\n", sourcetest.Password)
		line()
		if l := line(); !bytes.HasPrefix(l, []byte("+OK")) {
			b.Fatalf("login: %q", l)
		}
		retr := func(n int) { fmt.Fprintf(c, "RETR %d\r\n", n) }
		var got int64
		read := func() {
			if l := line(); !bytes.HasPrefix(l, []byte("+OK")) {
				b.Fatalf("RETR: %q", l)
			}
			for {
				l := line()
				if string(l) == ".\r\n" {
					return
				}
				got += int64(len(l))
			}
		}
		if pipelined {
			// 500 short commands fit in the socket buffers at once.
			var cmds bytes.Buffer
			for i := 1; i <= count; i++ {
				fmt.Fprintf(&cmds, "RETR %d\r\n", i)
			}
			c.Write(cmds.Bytes())
			for i := 1; i <= count; i++ {
				read()
			}
		} else {
			for i := 1; i <= count; i++ {
				retr(i)
				read()
			}
		}
		io.WriteString(c, "QUIT\r\n")
		line()
		if got < total {
			b.Fatalf("read %d bytes, want at least %d", got, total)
		}
	}

	popsrcRun(b, plain) // the first RETR marks messages seen: warm up
	for _, bc := range []struct {
		name string
		run  func(*testing.B)
	}{
		{"popsrc/plain", func(b *testing.B) { popsrcRun(b, plain) }},
		{"popsrc/tls", func(b *testing.B) { popsrcRun(b, implicit) }},
		{"raw/plain/sequential", func(b *testing.B) { rawRun(b, false, false) }},
		{"raw/plain/pipelined", func(b *testing.B) { rawRun(b, true, false) }},
		{"raw/tls/pipelined", func(b *testing.B) { rawRun(b, true, true) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(total)
			for b.Loop() {
				bc.run(b)
			}
		})
	}
}
