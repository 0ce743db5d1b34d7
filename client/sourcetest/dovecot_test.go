package sourcetest

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
)

// The fixture itself: Dovecot answers on every port, with a certificate the
// test CA verifies, and serves a delivered message to POP3.
func TestDovecotFixture(t *testing.T) {
	d := StartDovecot(t, DovecotOptions{})
	d.Deliver(t, "alice", "INBOX", []byte("Subject: hi\r\n\r\nhello\r\n"))

	pem, _ := os.ReadFile(d.CAFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	c, err := tls.Dial("tcp", net.JoinHostPort(d.Host, strconv.Itoa(d.POP3SPort)), &tls.Config{RootCAs: pool, ServerName: "localhost"})
	if err != nil {
		t.Fatalf("verified TLS to pop3s: %v\n%s", err, d.Log())
	}
	defer c.Close()
	r := bufio.NewReader(c)
	line, _ := r.ReadString('\n')
	if !strings.HasPrefix(line, "+OK") {
		t.Fatalf("greeting %q", line)
	}
	c.Write([]byte("USER alice\r\nPASS secret\r\nSTAT\r\n"))
	r.ReadString('\n')
	if line, _ = r.ReadString('\n'); !strings.HasPrefix(line, "+OK") {
		t.Fatalf("PASS: %q\n%s", line, d.Log())
	}
	if line, _ = r.ReadString('\n'); !strings.HasPrefix(line, "+OK 1 ") {
		t.Fatalf("STAT: %q", line)
	}
	ic, err := net.Dial("tcp", net.JoinHostPort(d.Host, strconv.Itoa(d.IMAPPort)))
	if err != nil {
		t.Fatal(err)
	}
	defer ic.Close()
	if line, _ = bufio.NewReader(ic).ReadString('\n'); !strings.Contains(line, "STARTTLS") {
		t.Fatalf("imap greeting does not offer STARTTLS: %q", line)
	}
}
