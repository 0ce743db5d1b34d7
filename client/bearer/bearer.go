// Package bearer speaks the two SASL mechanisms that carry an OAuth2
// access token to a mail server: OAUTHBEARER (RFC 7628) and Google's
// XOAUTH2, which Microsoft's servers and most others also take. go-sasl
// has only the first, and its client returns an error on the server's
// error challenge without sending the response the RFC requires, which
// leaves the exchange hanging; so both are written here, as sasl.Clients
// that both imapsrc (AUTHENTICATE) and popsrc (AUTH) drive.
package bearer

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"github.com/emersion/go-sasl"
)

// The mechanisms' names as servers announce them.
const (
	OAuthBearer = "OAUTHBEARER"
	XOAuth2     = "XOAUTH2"
)

// Choose picks the mechanism to use from those a server offers:
// OAUTHBEARER, the standard one, where offered, else XOAUTH2; "" when
// neither is.
func Choose(offered []string) string {
	has := func(m string) bool {
		for _, o := range offered {
			if strings.EqualFold(o, m) {
				return true
			}
		}
		return false
	}
	switch {
	case has(OAuthBearer):
		return OAuthBearer
	case has(XOAuth2):
		return XOAuth2
	}
	return ""
}

// Offered returns the OAuth mechanisms among those a server offers, in
// the order of preference.
func Offered(offered []string) []string {
	var out []string
	for _, m := range []string{OAuthBearer, XOAuth2} {
		for _, o := range offered {
			if strings.EqualFold(o, m) {
				out = append(out, m)
				break
			}
		}
	}
	return out
}

// Client is one authentication with a token. After a refusal, Failure
// holds what the server's error challenge said, if it sent one.
type Client struct {
	mech, user, token, host string
	port                    int
	failure                 *Failure
}

var _ sasl.Client = (*Client)(nil)

// NewClient returns a client for mech (OAuthBearer or XOAuth2). host and
// port go into OAUTHBEARER's message, as RFC 7628 asks; XOAUTH2 has no
// place for them.
func NewClient(mech, user, token, host string, port int) *Client {
	return &Client{mech: mech, user: user, token: token, host: host, port: port}
}

// Start returns the initial response, which carries the token.
func (c *Client) Start() (string, []byte, error) {
	switch c.mech {
	case XOAuth2:
		return c.mech, []byte("user=" + c.user + "\x01auth=Bearer " + c.token + "\x01\x01"), nil
	case OAuthBearer:
		var b strings.Builder
		b.WriteString("n,a=")
		// RFC 5801's saslname: "," and "=" are escaped.
		b.WriteString(strings.NewReplacer("=", "=3D", ",", "=2C").Replace(c.user))
		b.WriteString(",\x01")
		if c.host != "" {
			b.WriteString("host=" + c.host + "\x01")
		}
		if c.port > 0 {
			b.WriteString("port=" + strconv.Itoa(c.port) + "\x01")
		}
		b.WriteString("auth=Bearer " + c.token + "\x01\x01")
		return c.mech, []byte(b.String()), nil
	}
	return "", nil, fmt.Errorf("unknown OAuth mechanism %q", c.mech)
}

// Next answers a challenge. The only challenge either mechanism has is the
// server's error report after a refused token: it is kept for Failure, and
// answered with the dummy response that lets the server end the exchange
// with its refusal (RFC 7628 section 3.2.3: %x01; XOAUTH2 takes anything).
func (c *Client) Next(challenge []byte) ([]byte, error) {
	c.failure = ParseFailure(challenge)
	return []byte{0x01}, nil
}

// Failure returns what the server's error challenge said, or nil.
func (c *Client) Failure() *Failure { return c.failure }

// Failure is the JSON status a server sends in its error challenge
// (RFC 7628 section 3.2.2; XOAUTH2 sends the same shape).
type Failure struct {
	Status  string `json:"status"`
	Scope   string `json:"scope"`
	Schemes string `json:"schemes"`
	// Raw is the challenge when it is not JSON.
	Raw string `json:"-"`
}

// ParseFailure reads an error challenge. It never fails: a challenge that
// is not the expected JSON is kept as text.
func ParseFailure(challenge []byte) *Failure {
	f := &Failure{}
	var m map[string]any
	if err := json.Unmarshal(challenge, &m); err != nil {
		f.Raw = strings.TrimSpace(string(challenge))
		return f
	}
	str := func(k string) string {
		switch v := m[k].(type) {
		case string:
			return v
		case float64:
			return strconv.FormatFloat(v, 'f', -1, 64)
		}
		return ""
	}
	f.Status, f.Scope, f.Schemes = str("status"), str("scope"), str("schemes")
	return f
}

// String says what the failure means, for an error message.
func (f *Failure) String() string {
	if f == nil {
		return ""
	}
	if f.Raw != "" {
		return "server's error challenge: " + f.Raw
	}
	var parts []string
	if f.Status != "" {
		parts = append(parts, "status "+f.Status+describeStatus(f.Status))
	}
	if f.Scope != "" {
		parts = append(parts, "scope needed "+strconv.Quote(f.Scope))
	}
	if f.Schemes != "" {
		parts = append(parts, "schemes "+strconv.Quote(f.Schemes))
	}
	if len(parts) == 0 {
		return "server sent an empty error status"
	}
	return "token refused: " + strings.Join(parts, ", ")
}

// describeStatus explains the statuses RFC 7628 and RFC 6750 define.
func describeStatus(s string) string {
	switch s {
	case "invalid_token", "401":
		return " (the token is invalid or expired)"
	case "insufficient_scope", "403":
		return " (the token lacks a scope the server wants)"
	case "invalid_request", "400":
		return " (the server could not read the request)"
	}
	return ""
}
