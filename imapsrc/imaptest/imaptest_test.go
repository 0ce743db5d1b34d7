package imaptest

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"strings"
	"testing"
	"time"

	"bufio"

	"github.com/duomail/duomail/client/sourcetest"
)

// A TLS server with a certificate from a test CA, verified with its CA file,
// serving a message appended with Append under its special-use folders.
func TestNewTLSAndAppend(t *testing.T) {
	dir := t.TempDir()
	ca := sourcetest.NewCA(t, dir)
	cfg, caFile := ca.ServerTLS(t, dir, sourcetest.CertOptions{}), ca.PEMFile
	srv, err := Start(Options{TLSConfig: cfg, ImplicitTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if err := srv.Append("alice", "INBOX", []byte("Subject: hi\r\n\r\nhello\r\n"), []string{`\Seen`}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := srv.Append("nobody", "INBOX", nil, nil, time.Now()); err == nil {
		t.Error("append for an unknown user succeeded")
	}
	pem, _ := os.ReadFile(caFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, err := tls.Dial("tcp", srv.Addr(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	r.ReadString('\n')
	c.Write([]byte("a LOGIN alice secret\r\nb LIST \"\" \"*\"\r\nc STATUS INBOX (MESSAGES UNSEEN)\r\n"))
	var out strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		out.WriteString(line)
		if strings.HasPrefix(line, "c ") {
			break
		}
	}
	for _, want := range []string{`(\Trash) "/" "Trash"`, `(\Sent) "/" "Sent"`, `(\Archive) "/" "Archive"`, "MESSAGES 1 UNSEEN 0"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("%q missing:\n%s", want, out.String())
		}
	}
}
