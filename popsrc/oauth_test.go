package popsrc

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/oauth/oauthtest"
	"github.com/duomail/duomail/client/sourcetest"
)

func oauthAccount(d *sourcetest.Dovecot, user string, tokens *oauthtest.TokenLog) *client.Account {
	acct := dovecotAccount(d, user, client.TLSImplicit)
	acct.Password = nil
	acct.Auth = client.AuthOAuth2
	acct.Token = tokens.Token
	return acct
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestOAuthSignInOnDovecot signs in over POP3 to a Dovecot whose oauth2
// passdb asks the test's identity provider about each token: OAUTHBEARER
// when offered, else XOAUTH2; the token in the AUTH line when it fits in
// RFC 2449's 255 octets, after the server's empty challenge when it does
// not (Microsoft-sized tokens).
func TestOAuthSignInOnDovecot(t *testing.T) {
	for _, tc := range []struct {
		offered, want string
		long          bool
		wantLine      string // how the debug trace shows the AUTH command
	}{
		{"xoauth2 oauthbearer", "OAUTHBEARER", false, "C: AUTH OAUTHBEARER [redacted]\n"},
		{"xoauth2", "XOAUTH2", false, "C: AUTH XOAUTH2 [redacted]\n"},
		{"xoauth2", "XOAUTH2", true, "C: AUTH XOAUTH2\nS: + \nC: [redacted]\n"},
		{"oauthbearer", "OAUTHBEARER", true, "C: AUTH OAUTHBEARER\nS: + \nC: [redacted]\n"},
	} {
		name := tc.want + " of " + strings.ReplaceAll(tc.offered, " ", "+")
		if tc.long {
			name += " long token"
		}
		t.Run(name, func(t *testing.T) {
			idp := oauthtest.Start(t, oauthtest.Options{User: "alice", LongTokens: tc.long})
			d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{OAuth2IntrospectionURL: idp.IntrospectURL(), OAuth2Mechanisms: tc.offered})
			raw := sourcetest.SimpleMessage("hello over oauth", time.Now())
			d.Deliver(t, "alice", "INBOX", raw)
			tokens := &oauthtest.TokenLog{Next: func(bool) string { return idp.IssueAccessToken("alice") }}
			var debug lockedBuffer
			src, err := Dial(context.Background(), oauthAccount(d, "alice", tokens), client.DialOptions{Debug: &debug})
			if err != nil {
				t.Fatalf("dial: %v\n%s", err, d.Log())
			}
			defer src.Close()
			trace := debug.String()
			if !strings.Contains(trace, tc.wantLine) {
				t.Errorf("debug trace lacks %q:\n%s", tc.wantLine, trace)
			}
			if strings.Contains(trace, "at-") {
				t.Errorf("debug trace shows a token:\n%s", trace)
			}
			if len(tokens.Renews()) != 1 || tokens.Renews()[0] {
				t.Errorf("token requests %v, want one without renewal", tokens.Renews())
			}
			n, err := src.(*Source).stat()
			if err != nil || n != 1 {
				t.Errorf("maildrop after sign-in: %d messages, %v; want 1", n, err)
			}
		})
	}
}

// TestOAuthRefusedTokenRenewedOnce: a token the provider no longer honours
// is refused; duomail asks once for a renewed token and signs in with it.
// A second refusal is final: an authentication error with the server's
// decoded status, and no token in it.
func TestOAuthRefusedTokenRenewedOnce(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{User: "alice"})
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{OAuth2IntrospectionURL: idp.IntrospectURL(), OAuth2Mechanisms: "xoauth2"})
	stale := idp.IssueAccessToken("alice")
	idp.ExpireAccessTokens()
	tokens := &oauthtest.TokenLog{Next: func(renew bool) string {
		if renew {
			return idp.IssueAccessToken("alice")
		}
		return stale
	}}
	src, err := Dial(context.Background(), oauthAccount(d, "alice", tokens), client.DialOptions{})
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, d.Log())
	}
	src.Close()
	if len(tokens.Renews()) != 2 || tokens.Renews()[0] || !tokens.Renews()[1] {
		t.Errorf("token requests %v, want [false true]", tokens.Renews())
	}

	bad := &oauthtest.TokenLog{Next: func(bool) string { return "at-never-issued" }}
	_, err = Dial(context.Background(), oauthAccount(d, "alice", bad), client.DialOptions{})
	if !errors.Is(err, client.ErrAuth) {
		t.Fatalf("dial with a bad token: %v, want an authentication error", err)
	}
	if len(bad.Renews()) != 2 {
		t.Errorf("token requests %v, want two", bad.Renews())
	}
	msg := err.Error()
	if !strings.Contains(msg, "XOAUTH2") || !strings.Contains(msg, "token refused: status") || strings.Contains(msg, "at-never") {
		t.Errorf("error %q: want the mechanism and the decoded status, never the token", msg)
	}
}

// TestOAuthNeitherMechanism: without OAUTHBEARER and XOAUTH2 in CAPA the
// sign-in is impossible, and the error names what the server offers.
func TestOAuthNeitherMechanism(t *testing.T) {
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	tokens := &oauthtest.TokenLog{Next: func(bool) string { return "unused" }}
	_, err := Dial(context.Background(), oauthAccount(d, "alice", tokens), client.DialOptions{})
	if !errors.Is(err, client.ErrUnsupported) {
		t.Fatalf("dial: %v, want unsupported", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "neither OAUTHBEARER nor XOAUTH2") || !strings.Contains(msg, "PLAIN") {
		t.Errorf("error %q does not say what is missing and what is offered", msg)
	}
	if len(tokens.Renews()) != 0 {
		t.Errorf("a token was asked for: %v", tokens.Renews())
	}
}
