package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/duomail/duomail/client/sourcetest"
)

// An account pointed at the other protocol's port: exit 4 and one line
// saying what the server looks like, not a parser's complaint.
func TestBinaryWrongPort(t *testing.T) {
	t.Parallel()
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = sourcetest.Password
	c.writeConfig(fmt.Sprintf(`
[accounts.imap-on-pop3]
protocol = "imap"
host = "%[1]s"
port = %[2]d
tls = "none"
username = "alice"

[accounts.pop3-on-imap]
protocol = "pop3"
host = "%[1]s"
port = %[3]d
tls = "starttls"
username = "alice"
ca_file = "%[4]s"

[accounts.plain-on-tls]
protocol = "imap"
host = "%[1]s"
port = %[5]d
tls = "starttls"
username = "alice"
ca_file = "%[4]s"
timeout = "3s"
`, d.Host, d.POP3Port, d.IMAPPort, d.CAFile, d.IMAPSPort))
	for _, tc := range []struct{ account, want string }{
		{"imap-on-pop3", fmt.Sprintf(`duomail: greeting from %s:%d: network error: this server greets like POP3 ("+OK Dovecot`, d.Host, d.POP3Port)},
		{"pop3-on-imap", fmt.Sprintf(`duomail: greeting from %s:%d: network error: this server greets like IMAP ("* OK [CAPABILITY IMAP4rev1`, d.Host, d.IMAPPort)},
		{"plain-on-tls", fmt.Sprintf(`duomail: greeting from %s:%d: TLS error: network error: no greeting, but this server speaks TLS: use tls = "implicit"?`, d.Host, d.IMAPSPort)},
	} {
		r := c.fails(exitNetwork, "-a", tc.account, "list")
		if !strings.HasPrefix(r.stderr, tc.want) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("%s: want a line starting %q: %v", tc.account, tc.want, r)
		}
		t.Log(strings.TrimSpace(r.stderr))
	}
}
