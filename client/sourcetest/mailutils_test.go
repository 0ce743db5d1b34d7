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

// The fixture itself: imap4d and pop3d answer on every port, with a
// certificate the test CA verifies, accept a harness user's password (and
// no other), and serve a delivered message.
func TestMailutilsFixture(t *testing.T) {
	m := StartMailutils(t)
	m.Deliver(t, "alice", "INBOX", []byte("Subject: hi\r\n\r\nhello\r\n"))

	pem, _ := os.ReadFile(m.CAFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	dialTLS := func(port int) (*tls.Conn, *bufio.Reader) {
		t.Helper()
		c, err := tls.Dial("tcp", net.JoinHostPort(m.Host, strconv.Itoa(port)), &tls.Config{RootCAs: pool, ServerName: "localhost"})
		if err != nil {
			t.Fatalf("verified TLS to port %d: %v\n%s", port, err, m.Log())
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}
	expect := func(r *bufio.Reader, prefix string) {
		t.Helper()
		line, err := r.ReadString('\n')
		if !strings.HasPrefix(line, prefix) {
			t.Fatalf("got %q (%v), want %q...\n%s", line, err, prefix, m.Log())
		}
	}

	c, r := dialTLS(m.POP3SPort)
	expect(r, "+OK")
	c.Write([]byte("USER alice@" + MailutilsDomain + "\r\nPASS secret\r\nSTAT\r\nQUIT\r\n"))
	expect(r, "+OK")
	expect(r, "+OK")
	expect(r, "+OK 1 ")

	c, r = dialTLS(m.IMAPSPort)
	expect(r, "* OK")
	c.Write([]byte("a LOGIN alice@" + MailutilsDomain + " wrong\r\nb LOGIN root secret\r\nc LOGIN alice@" + MailutilsDomain + " secret\r\nd STATUS INBOX (MESSAGES)\r\n"))
	expect(r, "a NO")
	expect(r, "b NO")
	expect(r, "c OK")
	expect(r, "* STATUS INBOX (MESSAGES 1)")

	for _, port := range []int{m.IMAPPort, m.POP3Port} {
		c, err := net.Dial("tcp", net.JoinHostPort(m.Host, strconv.Itoa(port)))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		r := bufio.NewReader(c)
		r.ReadString('\n')
		if port == m.IMAPPort {
			c.Write([]byte("a CAPABILITY\r\n"))
		} else {
			c.Write([]byte("CAPA\r\n"))
		}
		var all strings.Builder
		for {
			line, err := r.ReadString('\n')
			all.WriteString(line)
			if err != nil || strings.HasPrefix(line, "a ") || line == ".\r\n" {
				break
			}
		}
		if !strings.Contains(all.String(), "STARTTLS") && !strings.Contains(all.String(), "STLS") {
			t.Errorf("port %d does not offer STARTTLS/STLS:\n%s", port, all.String())
		}
	}
}
