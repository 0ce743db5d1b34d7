package imapsrc

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/client/wire"
	"github.com/duomail/duomail/imapsrc/imaptest"
)

// backend is a real server a test runs against: Dovecot, or imapmemserver
// in-process. Both are driven through the same Source. Tests work in box,
// a folder of their own, so one Dovecot serves many tests (starting and
// stopping one costs seconds).
type backend struct {
	name    string
	dovecot *sourcetest.Dovecot
	mem     *imaptest.Server
	caFile  string
	host    string
	port    int // plain with STARTTLS (Dovecot) or as started (mem)
	mode    client.TLSMode
	box     string
}

func (b *backend) account(user string) *client.Account {
	return &client.Account{
		Name:     b.name,
		Protocol: client.IMAP,
		Host:     b.host,
		Port:     b.port,
		TLS:      b.mode,
		Username: user,
		Password: func(context.Context) (string, error) { return sourcetest.Password, nil },
		CAFile:   b.caFile,
		Timeout:  10 * time.Second,
	}
}

// deliver puts a message into a folder the way mail arrives.
func (b *backend) deliver(t testing.TB, user, folder string, raw []byte) {
	t.Helper()
	if b.dovecot != nil {
		b.dovecot.Deliver(t, user, folder, raw)
		return
	}
	if err := b.mem.Append(user, folder, raw, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// served is what the server hands out for a delivered message: Dovecot
// turns bare LF into CRLF; imapmemserver keeps the bytes as they are except
// that it writes the header out again, with CRLF line ends.
func (b *backend) served(raw []byte) []byte {
	if b.dovecot != nil {
		return sourcetest.WireForm(raw)
	}
	if bytes.Contains(raw, []byte("\r\n")) {
		return raw
	}
	head, body, _ := bytes.Cut(raw, []byte("\n\n"))
	return append(sourcetest.WireForm(append(head, "\n\n"...)), body...)
}

func (b *backend) dial(t testing.TB, user string, opts client.DialOptions) *Source {
	t.Helper()
	src, err := Dial(context.Background(), b.account(user), opts)
	if err != nil {
		t.Fatalf("%s: dial: %v", b.name, err)
	}
	s := src.(*Source)
	t.Cleanup(func() { s.Close() })
	return s
}

// raw opens a plain imapclient session (a second client, as another device
// would be) for setting up and checking what the Source did.
func (b *backend) raw(t testing.TB, user string) *imapclient.Client {
	t.Helper()
	acct := b.account(user)
	conn, _, err := wire.Dial(context.Background(), acct, client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var c *imapclient.Client
	if acct.TLS == client.TLSStartTLS {
		cfg, _ := wire.TLSConfig(acct)
		if c, err = imapclient.NewStartTLS(conn, &imapclient.Options{TLSConfig: cfg}); err != nil {
			t.Fatal(err)
		}
	} else {
		c = imapclient.New(conn, nil)
	}
	if err := c.Login(user, sourcetest.Password).Wait(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// createFolder makes a folder on the server.
func (b *backend) createFolder(t testing.TB, user, name string) {
	t.Helper()
	if b.mem != nil {
		if err := b.mem.CreateFolder(user, name, ""); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := b.raw(t, user).Create(name, nil).Wait(); err != nil {
		t.Fatal(err)
	}
}

// newBox gives the test a folder of its own.
func (b *backend) newBox(t testing.TB) {
	t.Helper()
	b.box = "box-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name())
	b.createFolder(t, "alice", b.box)
}

// memBackend starts imapmemserver with STARTTLS and a certificate from a
// test CA.
func memBackend(t testing.TB, opts imaptest.Options) *backend {
	t.Helper()
	dir := t.TempDir()
	ca := sourcetest.NewCA(t, dir)
	if opts.TLSConfig == nil {
		opts.TLSConfig = ca.ServerTLS(t, dir, sourcetest.CertOptions{})
	}
	srv, err := imaptest.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	mode := client.TLSStartTLS
	switch {
	case opts.ImplicitTLS:
		mode = client.TLSImplicit
	case opts.InsecureAuth:
		mode = client.TLSNone
	}
	return &backend{name: "imapmemserver", mem: srv, caFile: ca.PEMFile, host: "127.0.0.1", port: srv.Port(), mode: mode}
}

// dovecotBackend starts a Dovecot (STARTTLS on the plain port).
func dovecotBackend(t testing.TB, opts sourcetest.DovecotOptions) *backend {
	t.Helper()
	d := sourcetest.StartDovecot(t, opts)
	return &backend{name: "dovecot", dovecot: d, caFile: d.CAFile, host: d.Host, port: d.IMAPPort, mode: client.TLSStartTLS}
}

// uids returns the IDs of a folder's messages in ascending UID order.
func inventoryIDs(t testing.TB, s *Source, folder string) []string {
	t.Helper()
	_, items, err := s.Inventory(context.Background(), client.FolderRef{Name: folder}, client.InventoryOptions{})
	if err != nil {
		t.Fatalf("inventory %s: %v", folder, err)
	}
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	return ids
}

// syncBuffer is a concurrency-safe debug writer.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *syncBuffer) Reset() {
	b.mu.Lock()
	b.buf.Reset()
	b.mu.Unlock()
}

// Test messages. Each is delivered as written.
var (
	msgPlain = "From: Alice <alice@example.org>\r\n" +
		"To: Bob <bob@example.com>\r\n" +
		"Subject: plain\r\n" +
		"Date: Mon, 02 Jan 2023 15:04:05 +0000\r\n" +
		"Message-ID: <plain@example.org>\r\n" +
		"\r\n" +
		"hello\r\n"

	// RFC 2231 names, one whole and one in continuations, and an embedded
	// multipart message.
	msg2231 = "From: carol@example.org\r\n" +
		"Subject: rfc2231\r\n" +
		"Date: Wed, 04 Jan 2023 15:04:05 +0000\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"b1\"\r\n" +
		"\r\n" +
		"--b1\r\n" +
		"Content-Type: text/plain\r\n" +
		"\r\n" +
		"see attached\r\n" +
		"--b1\r\n" +
		"Content-Type: application/octet-stream\r\n" +
		"Content-Disposition: attachment; filename*=utf-8''r%C3%A9sum%C3%A9.pdf\r\n" +
		"Content-Transfer-Encoding: base64\r\n" +
		"\r\n" +
		"aGVsbG8=\r\n" +
		"--b1\r\n" +
		"Content-Type: application/octet-stream\r\n" +
		"Content-Disposition: attachment;\r\n" +
		" filename*0*=utf-8''caf%C3%A9;\r\n" +
		" filename*1=\"-menu.txt\"\r\n" +
		"\r\n" +
		"menu\r\n" +
		"--b1\r\n" +
		"Content-Type: message/rfc822\r\n" +
		"\r\n" +
		"Subject: forwarded\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/alternative; boundary=\"b2\"\r\n" +
		"\r\n" +
		"--b2\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n" +
		"\r\n" +
		"f\xc3\xbcr dich\r\n" +
		"--b2\r\n" +
		"Content-Type: text/html; charset=utf-8\r\n" +
		"\r\n" +
		"<b>hi</b>\r\n" +
		"--b2--\r\n" +
		"--b1--\r\n"

	// Lines a dot-stuffing or line-length bug would damage, and 8-bit text.
	msgDots = "From: dave@example.org\r\n" +
		"Subject: dots\r\n" +
		"Date: Thu, 05 Jan 2023 15:04:05 +0000\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\n" +
		"Content-Transfer-Encoding: 8bit\r\n" +
		"\r\n" +
		".leading dot\r\n" +
		"..two dots\r\n" +
		".\r\n" +
		"after a lone dot\r\n" +
		strings.Repeat("x", 10000) + "\r\n" +
		"Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln\r\n" +
		".\r\n"

	// Bare LF line ends, as some tools write them.
	msgBareLF = "From: erin@example.org\n" +
		"Subject: bare lf\n" +
		"Date: Fri, 06 Jan 2023 15:04:05 +0000\n" +
		"\n" +
		"line one\n" +
		".\n" +
		"line three\n"

	// No Content-Type at all, and a single-part embedded message.
	msgForward = "From: frank@example.org\r\n" +
		"Subject: fwd\r\n" +
		"Date: Sat, 07 Jan 2023 15:04:05 +0000\r\n" +
		"MIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"f\"\r\n" +
		"\r\n" +
		"--f\r\n" +
		"\r\n" +
		"no content type here\r\n" +
		"--f\r\n" +
		"Content-Type: message/rfc822; name=\"orig.eml\"\r\n" +
		"Content-Disposition: attachment; filename=\"orig.eml\"\r\n" +
		"\r\n" +
		"Subject: original\r\n" +
		"Content-Type: text/plain\r\n" +
		"\r\n" +
		"the original\r\n" +
		"--f--\r\n"
)

var corpus = []string{msgPlain, sourcetest.NestedMessage, msg2231, msgDots, msgBareLF, msgForward}
