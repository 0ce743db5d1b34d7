package imapsrc

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/oauth/oauthtest"
	"github.com/duomail/duomail/client/sourcetest"
)

func oauthAccount(b *backend, user string, tokens *oauthtest.TokenLog) *client.Account {
	acct := b.account(user)
	acct.Password = nil
	acct.Auth = client.AuthOAuth2
	acct.Token = tokens.Token
	return acct
}

// TestOAuthSignInOnDovecot signs in to a Dovecot whose oauth2 passdb asks
// the test's identity provider about each token, with the mechanism
// duomail prefers when both are offered and with XOAUTH2 when only it is.
func TestOAuthSignInOnDovecot(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{User: "alice"})
	for _, tc := range []struct {
		offered, want string
	}{
		{"xoauth2 oauthbearer", "OAUTHBEARER"},
		{"xoauth2", "XOAUTH2"},
		{"oauthbearer", "OAUTHBEARER"},
	} {
		t.Run(tc.want+" of "+strings.ReplaceAll(tc.offered, " ", "+"), func(t *testing.T) {
			b := dovecotBackend(t, sourcetest.DovecotOptions{OAuth2IntrospectionURL: idp.IntrospectURL(), OAuth2Mechanisms: tc.offered})
			b.deliver(t, "alice", "INBOX", sourcetest.SimpleMessage("hello over oauth", time.Now()))
			tokens := &oauthtest.TokenLog{Next: func(bool) string { return idp.IssueAccessToken("alice") }}
			var debug syncBuffer
			src, err := Dial(context.Background(), oauthAccount(b, "alice", tokens), client.DialOptions{Debug: &debug})
			if err != nil {
				t.Fatalf("dial: %v\n%s", err, b.dovecot.Log())
			}
			defer src.Close()
			if got := src.Capabilities().Auth; !containsFold(got, tc.want) {
				t.Errorf("auth mechanisms %v lack %s", got, tc.want)
			}
			if !strings.Contains(debug.String(), "AUTHENTICATE "+tc.want+" [redacted]") {
				t.Errorf("debug trace does not show AUTHENTICATE %s with its payload redacted:\n%s", tc.want, debug.String())
			}
			if strings.Contains(debug.String(), "at-") {
				t.Errorf("debug trace shows a token:\n%s", debug.String())
			}
			if len(tokens.Renews()) != 1 || tokens.Renews()[0] {
				t.Errorf("token requests %v, want one without renewal", tokens.Renews())
			}
			s := src.(*Source)
			if ids := inventoryIDs(t, s, "INBOX"); len(ids) != 1 {
				t.Errorf("INBOX holds %d messages after sign-in, want 1", len(ids))
			}
		})
	}
}

// TestOAuthRefusedTokenRenewedOnce: the first token is one the provider
// no longer honours; the server's refusal makes duomail ask for a renewed
// token once, and the second sign-in on the same connection succeeds.
func TestOAuthRefusedTokenRenewedOnce(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{User: "alice"})
	b := dovecotBackend(t, sourcetest.DovecotOptions{OAuth2IntrospectionURL: idp.IntrospectURL()})
	stale := idp.IssueAccessToken("alice")
	idp.ExpireAccessTokens()
	tokens := &oauthtest.TokenLog{Next: func(renew bool) string {
		if renew {
			return idp.IssueAccessToken("alice")
		}
		return stale
	}}
	src, err := Dial(context.Background(), oauthAccount(b, "alice", tokens), client.DialOptions{})
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, b.dovecot.Log())
	}
	src.Close()
	if len(tokens.Renews()) != 2 || tokens.Renews()[0] || !tokens.Renews()[1] {
		t.Errorf("token requests %v, want [false true]", tokens.Renews())
	}
}

// TestOAuthRefusedTwice: when the renewed token is refused as well, the
// sign-in fails as an authentication error carrying the server's decoded
// error status, after exactly two tries.
func TestOAuthRefusedTwice(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{User: "alice"})
	b := dovecotBackend(t, sourcetest.DovecotOptions{OAuth2IntrospectionURL: idp.IntrospectURL()})
	tokens := &oauthtest.TokenLog{Next: func(bool) string { return "at-not-issued-by-the-provider" }}
	_, err := Dial(context.Background(), oauthAccount(b, "alice", tokens), client.DialOptions{})
	if !errors.Is(err, client.ErrAuth) {
		t.Fatalf("dial: %v, want an authentication error", err)
	}
	if len(tokens.Renews()) != 2 {
		t.Errorf("token requests %v, want two", tokens.Renews())
	}
	if msg := err.Error(); !strings.Contains(msg, "OAUTHBEARER") || !strings.Contains(msg, "token refused: status") {
		t.Errorf("error %q does not name the mechanism and the server's decoded status", msg)
	}
	if strings.Contains(err.Error(), "at-not-issued") {
		t.Errorf("error %q shows the token", err)
	}
}

// TestOAuthNeitherMechanism: a server without OAUTHBEARER and XOAUTH2 is
// one duomail cannot sign in to with a token; the error says so, and
// names what the server offers, without asking for a token.
func TestOAuthNeitherMechanism(t *testing.T) {
	b := dovecotBackend(t, sourcetest.DovecotOptions{})
	tokens := &oauthtest.TokenLog{Next: func(bool) string { return "unused" }}
	_, err := Dial(context.Background(), oauthAccount(b, "alice", tokens), client.DialOptions{})
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

func containsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}
