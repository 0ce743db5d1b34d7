package wire_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/wire"
)

// The plaintext rule, at unit level with a host that is not loopback (the
// binary tests use a real non-loopback address where the machine has one).
func TestCheckPlaintextAuth(t *testing.T) {
	for _, tc := range []struct {
		host      string
		mode      client.TLSMode
		encrypted bool
		wantErr   bool
		wantWarn  bool
	}{
		{"mail.example.org", client.TLSNone, false, false, true},
		{"192.0.2.7", client.TLSNone, false, false, true},
		{"::1", client.TLSNone, false, false, false},
		{"127.0.0.2", client.TLSNone, false, false, false},
		{"localhost", client.TLSNone, false, false, false},
		{"mail.example.org", client.TLSStartTLS, false, true, false},
		{"127.0.0.1", client.TLSImplicit, false, true, false},
		{"mail.example.org", client.TLSStartTLS, true, false, false},
		{"mail.example.org", client.TLSNone, true, false, false},
	} {
		var warned []string
		acct := &client.Account{Name: "a", Protocol: client.IMAP, Host: tc.host, TLS: tc.mode}
		err := wire.CheckPlaintextAuth(acct, tc.encrypted, client.DialOptions{Warn: func(m string) { warned = append(warned, m) }})
		if (err != nil) != tc.wantErr || err != nil && !errors.Is(err, client.ErrTLS) {
			t.Errorf("%+v: err %v", tc, err)
		}
		if (len(warned) > 0) != tc.wantWarn {
			t.Errorf("%+v: warnings %q", tc, warned)
		}
		if len(warned) > 0 && !strings.Contains(warned[0], "without encryption") {
			t.Errorf("warning %q", warned[0])
		}
	}
}
