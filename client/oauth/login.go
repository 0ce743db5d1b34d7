package oauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/duomail/duomail/client"
)

// CodeLogin is a sign-in by authorization code with PKCE (RFC 7636, S256)
// and a loopback redirect (RFC 8252): a listener on 127.0.0.1 at a port
// the system picks, which receives the browser once the user approved.
type CodeLogin struct {
	Config *oauth2.Config
	// Params are added to the authorization URL (Google's
	// access_type=offline, a login_hint).
	Params []oauth2.AuthCodeOption
	// Show is given the URL to open, always: the user can copy it when
	// no browser opens.
	Show func(authURL string)
	// Open opens the URL in a browser; nil with --no-browser. Its failure
	// is not fatal: the URL was shown.
	Open func(authURL string) error
	HTTP *http.Client
}

// Run waits for the browser's redirect and exchanges the code; ctx ends
// the wait (Ctrl-C).
func (l *CodeLogin) Run(ctx context.Context) (*oauth2.Token, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("sign in: listen for the browser's redirect: %w", err)
	}
	defer ln.Close()
	conf := *l.Config
	conf.RedirectURL = "http://" + ln.Addr().String() + "/"
	state := randomString()
	verifier := oauth2.GenerateVerifier()
	opts := append([]oauth2.AuthCodeOption{oauth2.S256ChallengeOption(verifier)}, l.Params...)
	authURL := conf.AuthCodeURL(state, opts...)

	type result struct {
		code string
		err  error
	}
	results := make(chan result, 1)
	srv := &http.Server{
		ReadHeaderTimeout: 10 * time.Second,
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			if r.URL.Path != "/" || q.Get("state") == "" && q.Get("code") == "" && q.Get("error") == "" {
				http.NotFound(w, r) // a favicon, a probe
				return
			}
			var res result
			switch {
			case q.Get("state") != state:
				res.err = fmt.Errorf("sign in: %w: the redirect carries the wrong state (a stale or forged request); try again", client.ErrAuth)
			case q.Get("error") != "":
				why := q.Get("error")
				if d := q.Get("error_description"); d != "" {
					why += ": " + d
				}
				res.err = fmt.Errorf("sign in: %w: the provider said %s", client.ErrAuth, why)
			case q.Get("code") == "":
				res.err = fmt.Errorf("sign in: %w: the redirect carries no code", client.ErrAuth)
			default:
				res.code = q.Get("code")
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			if res.err != nil {
				fmt.Fprintf(w, "<!doctype html><title>duomail</title><p>Sign-in failed: %s</p>", html.EscapeString(res.err.Error()))
			} else {
				fmt.Fprint(w, "<!doctype html><title>duomail</title><p>Signed in. You can close this tab and return to duomail.</p>")
			}
			select {
			case results <- res:
			default:
			}
		}),
	}
	go srv.Serve(ln)
	defer srv.Close()

	if l.Show != nil {
		l.Show(authURL)
	}
	if l.Open != nil {
		l.Open(authURL)
	}
	var res result
	select {
	case res = <-results:
	case <-ctx.Done():
		return nil, fmt.Errorf("sign in: waiting for the browser: %w", ctx.Err())
	}
	if res.err != nil {
		return nil, res.err
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, httpClient(l.HTTP))
	tok, err := conf.Exchange(ctx, res.code, oauth2.VerifierOption(verifier))
	if err != nil {
		return nil, exchangeError("exchange the authorization code", err)
	}
	return tok, nil
}

// DeviceLogin is a sign-in by device code (RFC 8628): the user approves on
// any device with a browser while duomail polls.
type DeviceLogin struct {
	Config *oauth2.Config
	// Show tells the user where to go and what code to enter.
	Show func(verificationURI, userCode, completeURI string)
	HTTP *http.Client
}

func (l *DeviceLogin) Run(ctx context.Context) (*oauth2.Token, error) {
	if l.Config.Endpoint.DeviceAuthURL == "" {
		return nil, fmt.Errorf("sign in: %w: the provider has no device authorization endpoint (set oauth2_device_url, or sign in with the browser)", client.ErrUnsupported)
	}
	ctx = context.WithValue(ctx, oauth2.HTTPClient, httpClient(l.HTTP))
	resp, err := l.Config.DeviceAuth(ctx)
	if err != nil {
		return nil, exchangeError("start the device sign-in", err)
	}
	if l.Show != nil {
		l.Show(resp.VerificationURI, resp.UserCode, resp.VerificationURIComplete)
	}
	tok, err := l.Config.DeviceAccessToken(ctx, resp)
	if err != nil {
		return nil, exchangeError("wait for the device sign-in", err)
	}
	return tok, nil
}

// Revoke asks the provider to void a token (RFC 7009).
func Revoke(ctx context.Context, conf *oauth2.Config, revokeURL, token string, hc *http.Client) error {
	form := url.Values{"token": {token}, "token_type_hint": {"refresh_token"}, "client_id": {conf.ClientID}}
	if conf.ClientSecret != "" {
		form.Set("client_secret", conf.ClientSecret)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, revokeURL, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("revoke: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := httpClient(hc).Do(req)
	if err != nil {
		return fmt.Errorf("revoke: %w: %w", client.ErrNetwork, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("revoke: the provider answered %s", resp.Status)
	}
	return nil
}

func httpClient(hc *http.Client) *http.Client {
	if hc != nil {
		return hc
	}
	return &http.Client{Timeout: 30 * time.Second}
}

func exchangeError(op string, err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		return fmt.Errorf("sign in: %s: %w: the provider said %s", op, client.ErrAuth, providerSaid(re))
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return fmt.Errorf("sign in: %s: %w: %w", op, client.ErrNetwork, err)
	}
	return fmt.Errorf("sign in: %s: %w", op, err)
}

func randomString() string {
	b := make([]byte, 24)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
