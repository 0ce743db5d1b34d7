// Package oauthtest is an OAuth2 identity provider for tests, on loopback:
// authorization code with PKCE (S256 only, approved at once for the user
// the test names), refresh with optional rotation, device authorization
// (RFC 8628), revocation (RFC 7009) and token introspection (RFC 7662),
// the endpoint a Dovecot oauth2 passdb asks. Tokens are random, short
// lived when the test says so, and can be revoked, so tests can show
// expiry, rotation and revocation against a real mail server.
package oauthtest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Provider is a running identity provider.
type Provider struct {
	URL      string // base URL, http://127.0.0.1:port
	ClientID string // the one registered client (a public one)

	mu        sync.Mutex
	user      string        // who approves an authorization
	accessTTL time.Duration // lifetime of access tokens
	rotate    bool          // a refresh hands out a new refresh token and voids the old
	long      bool          // access tokens of 1600 characters
	codes     map[string]*grant
	devices   map[string]*device // by device code
	access    map[string]*accessToken
	refresh   map[string]*grant // by refresh token
	counts    Counts
	srv       *httptest.Server
}

// Counts are what the provider was asked, for tests to check.
type Counts struct {
	CodeGrants     int // authorization codes exchanged
	DeviceGrants   int // device codes exchanged
	Refreshes      int // refresh grants that succeeded
	FailedRefresh  int // refresh grants refused
	Introspections int // introspection requests
	Revocations    int // revocation requests
}

type grant struct {
	user, scope            string
	challenge, redirectURI string // authorization code only
	revoked                bool
	issued                 time.Time
}

type device struct {
	userCode string
	scope    string
	approved string // the user, once approved
	used     bool
}

type accessToken struct {
	user, scope string
	expiry      time.Time
	revoked     bool
}

// Options shape the provider.
type Options struct {
	// User is who signs in when the test plays the browser.
	User string
	// AccessTTL is how long access tokens live (default one hour).
	AccessTTL time.Duration
	// Rotate makes every refresh return a new refresh token and void the
	// old one, as Microsoft's and many providers do.
	Rotate bool
	// LongTokens makes access tokens as long as Microsoft's (over 1500
	// characters), too long for a POP3 AUTH line's initial response.
	LongTokens bool
}

// Start runs a provider until the test ends.
func Start(t testing.TB, opts Options) *Provider {
	t.Helper()
	if opts.AccessTTL == 0 {
		opts.AccessTTL = time.Hour
	}
	p := &Provider{
		ClientID:  "duomail-test-client",
		user:      opts.User,
		accessTTL: opts.AccessTTL,
		rotate:    opts.Rotate,
		long:      opts.LongTokens,
		codes:     map[string]*grant{},
		devices:   map[string]*device{},
		access:    map[string]*accessToken{},
		refresh:   map[string]*grant{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/authorize", p.authorize)
	mux.HandleFunc("/token", p.token)
	mux.HandleFunc("/device", p.deviceAuth)
	mux.HandleFunc("/activate", p.activate)
	mux.HandleFunc("/revoke", p.revoke)
	mux.HandleFunc("/introspect", p.introspect)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.srv = &httptest.Server{Listener: ln, Config: &http.Server{Handler: mux}}
	p.srv.Start()
	p.URL = p.srv.URL
	t.Cleanup(p.srv.Close)
	return p
}

// Endpoints.
func (p *Provider) AuthURL() string       { return p.URL + "/authorize" }
func (p *Provider) TokenURL() string      { return p.URL + "/token" }
func (p *Provider) DeviceURL() string     { return p.URL + "/device" }
func (p *Provider) RevokeURL() string     { return p.URL + "/revoke" }
func (p *Provider) IntrospectURL() string { return p.URL + "/introspect" }

// Counts returns what the provider has been asked so far.
func (p *Provider) Counts() Counts {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.counts
}

// SetAccessTTL changes the lifetime of access tokens issued from now on.
func (p *Provider) SetAccessTTL(d time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.accessTTL = d
}

// ExpireAccessTokens makes every access token issued so far expired,
// as if time had passed.
func (p *Provider) ExpireAccessTokens() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.access {
		a.expiry = time.Now().Add(-time.Second)
	}
}

// RevokeAll voids every refresh and access token, as a user removing the
// app's access, or an administrator, would.
func (p *Provider) RevokeAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, g := range p.refresh {
		g.revoked = true
	}
	for _, a := range p.access {
		a.revoked = true
	}
}

// IssueAccessToken hands out an access token for user directly, for tests
// of the mail protocols that need no sign-in.
func (p *Provider) IssueAccessToken(user string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.newAccess(user, "mail")
}

// ActiveRefreshTokens counts the refresh tokens that still work.
func (p *Provider) ActiveRefreshTokens() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, g := range p.refresh {
		if !g.revoked {
			n++
		}
	}
	return n
}

func random(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func (p *Provider) newAccess(user, scope string) string {
	n := 24
	if p.long {
		n = 800
	}
	tok := "at-" + random(n)
	p.access[tok] = &accessToken{user: user, scope: scope, expiry: time.Now().Add(p.accessTTL)}
	return tok
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// clientOK checks the client's identity wherever it was put (form or
// basic auth): the registered client is a public one, without a secret.
func (p *Provider) clientOK(r *http.Request) bool {
	if id, _, ok := r.BasicAuth(); ok {
		return id == p.ClientID
	}
	return r.PostForm.Get("client_id") == p.ClientID
}

func (p *Provider) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect := q.Get("redirect_uri")
	u, err := url.Parse(redirect)
	switch {
	case q.Get("client_id") != p.ClientID:
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	case err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() == "":
		// As the big providers do for native apps: loopback IP, any port.
		http.Error(w, "redirect_uri must be http://127.0.0.1:PORT/...", http.StatusBadRequest)
		return
	case q.Get("response_type") != "code":
		http.Error(w, "response_type must be code", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "":
		http.Error(w, "PKCE with S256 is required", http.StatusBadRequest)
		return
	case q.Get("state") == "":
		http.Error(w, "state is required", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	code := "code-" + random(16)
	p.codes[code] = &grant{user: p.user, scope: q.Get("scope"), challenge: q.Get("code_challenge"), redirectURI: redirect}
	p.mu.Unlock()
	v := u.Query()
	v.Set("code", code)
	v.Set("state", q.Get("state"))
	u.RawQuery = v.Encode()
	http.Redirect(w, r, u.String(), http.StatusFound)
}

func (p *Provider) token(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "POST a form")
		return
	}
	if !p.clientOK(r) {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "unknown client")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	f := r.PostForm
	var g *grant
	switch f.Get("grant_type") {
	case "authorization_code":
		g = p.codes[f.Get("code")]
		delete(p.codes, f.Get("code"))
		if g == nil {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown or used code")
			return
		}
		sum := sha256.Sum256([]byte(f.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "PKCE verification failed")
			return
		}
		if f.Get("redirect_uri") != g.redirectURI {
			oauthError(w, http.StatusBadRequest, "invalid_grant", "redirect_uri differs from the authorization request")
			return
		}
		p.counts.CodeGrants++
	case "urn:ietf:params:oauth:grant-type:device_code":
		d := p.devices[f.Get("device_code")]
		switch {
		case d == nil || d.used:
			oauthError(w, http.StatusBadRequest, "invalid_grant", "unknown device code")
			return
		case d.approved == "":
			oauthError(w, http.StatusBadRequest, "authorization_pending", "the user has not approved yet")
			return
		}
		d.used = true
		g = &grant{user: d.approved, scope: d.scope}
		p.counts.DeviceGrants++
	case "refresh_token":
		old := p.refresh[f.Get("refresh_token")]
		if old == nil || old.revoked {
			p.counts.FailedRefresh++
			oauthError(w, http.StatusBadRequest, "invalid_grant", "the refresh token was revoked or has expired")
			return
		}
		p.counts.Refreshes++
		access := p.newAccess(old.user, old.scope)
		resp := map[string]any{"access_token": access, "token_type": "Bearer", "expires_in": int(p.accessTTL / time.Second), "scope": old.scope}
		if p.rotate {
			old.revoked = true
			rt := "rt-" + random(24)
			p.refresh[rt] = &grant{user: old.user, scope: old.scope, issued: time.Now()}
			resp["refresh_token"] = rt
		}
		writeJSON(w, http.StatusOK, resp)
		return
	default:
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", f.Get("grant_type"))
		return
	}
	rt := "rt-" + random(24)
	g.issued = time.Now()
	p.refresh[rt] = g
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token":  p.newAccess(g.user, g.scope),
		"refresh_token": rt,
		"token_type":    "Bearer",
		"expires_in":    int(p.accessTTL / time.Second),
		"scope":         g.scope,
	})
}

func (p *Provider) deviceAuth(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil || !p.clientOK(r) {
		oauthError(w, http.StatusBadRequest, "invalid_request", "POST the client_id")
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	dc := "dc-" + random(16)
	uc := strings.ToUpper(random(2) + "-" + random(2))
	p.devices[dc] = &device{userCode: uc, scope: r.PostForm.Get("scope")}
	writeJSON(w, http.StatusOK, map[string]any{
		"device_code":               dc,
		"user_code":                 uc,
		"verification_uri":          p.URL + "/activate",
		"verification_uri_complete": p.URL + "/activate?user_code=" + uc,
		"expires_in":                600,
		"interval":                  1,
	})
}

// activate is the page a user opens on another device; GET with the user
// code approves it for the provider's user.
func (p *Provider) activate(w http.ResponseWriter, r *http.Request) {
	uc := r.URL.Query().Get("user_code")
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.devices {
		if d.userCode == uc && uc != "" {
			d.approved = p.user
			fmt.Fprintln(w, "approved")
			return
		}
	}
	http.Error(w, "unknown code", http.StatusNotFound)
}

func (p *Provider) revoke(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.ParseForm() != nil {
		http.Error(w, "POST a form", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.Revocations++
	tok := r.PostForm.Get("token")
	if g := p.refresh[tok]; g != nil {
		g.revoked = true
	}
	if a := p.access[tok]; a != nil {
		a.revoked = true
	}
	// RFC 7009: unknown tokens are no error.
	w.WriteHeader(http.StatusOK)
}

func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	if r.ParseForm() != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.counts.Introspections++
	a := p.access[r.PostForm.Get("token")]
	if a == nil || a.revoked || time.Now().After(a.expiry) {
		writeJSON(w, http.StatusOK, map[string]any{"active": false})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"active":   true,
		"username": a.user,
		"scope":    a.scope,
		"exp":      a.expiry.Unix(),
	})
}

// TokenLog is an account's token source (client.Account.Token) for tests:
// it hands out what Next says and records whether each request asked for
// a renewal.
type TokenLog struct {
	Next func(renew bool) string

	mu     sync.Mutex
	renews []bool
}

// Token is the client.Account.Token function.
func (l *TokenLog) Token(_ context.Context, renew bool) (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.renews = append(l.renews, renew)
	return l.Next(renew), nil
}

// Renews says, per token request so far, whether it asked for a renewal.
func (l *TokenLog) Renews() []bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]bool(nil), l.renews...)
}
