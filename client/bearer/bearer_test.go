package bearer

import (
	"testing"
)

func TestChoosePrefersOAuthBearer(t *testing.T) {
	for _, tc := range []struct {
		offered []string
		want    string
	}{
		{[]string{"PLAIN", "XOAUTH2", "OAUTHBEARER"}, OAuthBearer},
		{[]string{"plain", "xoauth2"}, XOAuth2},
		{[]string{"oauthbearer"}, OAuthBearer},
		{[]string{"PLAIN", "LOGIN"}, ""},
		{nil, ""},
	} {
		if got := Choose(tc.offered); got != tc.want {
			t.Errorf("Choose(%v) = %q, want %q", tc.offered, got, tc.want)
		}
	}
}

// TestInitialResponses: the exact bytes each mechanism sends, as RFC 7628
// and Google's XOAUTH2 description lay them out.
func TestInitialResponses(t *testing.T) {
	mech, ir, err := NewClient(XOAuth2, "me@example.com", "tok", "imap.example.com", 993).Start()
	if err != nil || mech != "XOAUTH2" || string(ir) != "user=me@example.com\x01auth=Bearer tok\x01\x01" {
		t.Errorf("XOAUTH2: %q %q %v", mech, ir, err)
	}
	mech, ir, err = NewClient(OAuthBearer, "a,b=c", "tok", "imap.example.com", 993).Start()
	want := "n,a=a=2Cb=3Dc,\x01host=imap.example.com\x01port=993\x01auth=Bearer tok\x01\x01"
	if err != nil || mech != "OAUTHBEARER" || string(ir) != want {
		t.Errorf("OAUTHBEARER: %q %q %v", mech, ir, err)
	}
}

// TestErrorChallenge: the server's error status is kept and answered with
// the dummy response that lets the server finish with its refusal.
func TestErrorChallenge(t *testing.T) {
	c := NewClient(OAuthBearer, "u", "t", "h", 1)
	resp, err := c.Next([]byte(`{"status":"invalid_token","scope":"https://mail.google.com/","schemes":"bearer"}`))
	if err != nil || string(resp) != "\x01" {
		t.Fatalf("Next: %q %v", resp, err)
	}
	got := c.Failure().String()
	want := `token refused: status invalid_token (the token is invalid or expired), scope needed "https://mail.google.com/", schemes "bearer"`
	if got != want {
		t.Errorf("failure %q\nwant    %q", got, want)
	}
	if s := ParseFailure([]byte(`{"status":401}`)).String(); s != "token refused: status 401 (the token is invalid or expired)" {
		t.Errorf("numeric status: %q", s)
	}
	if s := ParseFailure([]byte("not json")).String(); s != "server's error challenge: not json" {
		t.Errorf("non-JSON challenge: %q", s)
	}
}
