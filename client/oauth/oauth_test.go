package oauth

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zalando/go-keyring"
	"golang.org/x/oauth2"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/oauth/oauthtest"
)

// signedIn stores what a sign-in at idp would have: a refresh token and
// an access token, taken through the provider's real device flow.
func signedIn(t *testing.T, idp *oauthtest.Provider, store Store) *oauth2.Config {
	t.Helper()
	conf := &oauth2.Config{ClientID: idp.ClientID, Scopes: []string{"mail"},
		Endpoint: oauth2.Endpoint{TokenURL: idp.TokenURL(), DeviceAuthURL: idp.DeviceURL()}}
	tok, err := (&DeviceLogin{Config: conf, Show: func(_, _, complete string) {
		approve(t, complete)
	}}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Save("work", FromToken(tok, nil)); err != nil {
		t.Fatal(err)
	}
	return conf
}

func approve(t *testing.T, u string) {
	t.Helper()
	go func() {
		resp, err := httpClient(nil).Get(u)
		if err == nil {
			resp.Body.Close()
		}
	}()
}

// TestSourceUsesFreshToken: an access token with life left is handed out
// as stored, without asking the provider.
func TestSourceUsesFreshToken(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{User: "alice"})
	store := FileStore{Dir: t.TempDir()}
	conf := signedIn(t, idp, store)
	rec, _ := store.Load("work")
	src := &Source{Account: "work", Config: conf, Store: store}
	tok, err := src.Token(context.Background(), false)
	if err != nil || tok != rec.AccessToken {
		t.Fatalf("token: %v (same as stored: %v)", err, tok == rec.AccessToken)
	}
	if n := idp.Counts().Refreshes; n != 0 {
		t.Errorf("%d refreshes", n)
	}
}

// TestSourceRefreshesNearExpiryAndSavesRotation: close to its expiry the
// access token is refreshed first; the provider's new refresh token is in
// the store before the access token is handed out, and the old one is
// void at the provider.
func TestSourceRefreshesNearExpiryAndSavesRotation(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{User: "alice", Rotate: true})
	store := FileStore{Dir: t.TempDir()}
	conf := signedIn(t, idp, store)
	old, _ := store.Load("work")
	now := old.Expiry.Add(-RefreshMargin / 2)
	src := &Source{Account: "work", Config: conf, Store: store, Now: func() time.Time { return now }}
	tok, err := src.Token(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	rec, _ := store.Load("work")
	if tok == old.AccessToken || rec.AccessToken != tok || rec.RefreshToken == old.RefreshToken || rec.RefreshToken == "" {
		t.Errorf("after refresh: new access token %v, stored %v, refresh token rotated and saved %v",
			tok != old.AccessToken, rec.AccessToken == tok, rec.RefreshToken != old.RefreshToken)
	}
	if idp.Counts().Refreshes != 1 || idp.ActiveRefreshTokens() != 1 {
		t.Errorf("counts %+v, %d refresh tokens alive", idp.Counts(), idp.ActiveRefreshTokens())
	}
	if len(rec.Scopes) != 1 || rec.Scopes[0] != "mail" {
		t.Errorf("scopes %v", rec.Scopes)
	}
}

// TestSourceRenewsOnRequest: after a server refused the token, renew
// gets another even though the stored one has life left.
func TestSourceRenewsOnRequest(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{User: "alice"})
	store := FileStore{Dir: t.TempDir()}
	conf := signedIn(t, idp, store)
	old, _ := store.Load("work")
	src := &Source{Account: "work", Config: conf, Store: store}
	tok, err := src.Token(context.Background(), true)
	if err != nil || tok == old.AccessToken {
		t.Fatalf("renewed token: %v, same as before: %v", err, tok == old.AccessToken)
	}
	rec, _ := store.Load("work")
	if rec.RefreshToken != old.RefreshToken {
		t.Error("a provider that does not rotate: the refresh token must be kept")
	}
}

// TestSourceRevoked: a refused refresh is an authentication error telling
// the user to sign in again, and shows no token.
func TestSourceRevoked(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{User: "alice"})
	store := FileStore{Dir: t.TempDir()}
	conf := signedIn(t, idp, store)
	rec, _ := store.Load("work")
	idp.RevokeAll()
	_, err := (&Source{Account: "work", Config: conf, Store: store}).Token(context.Background(), true)
	if !errors.Is(err, client.ErrAuth) || !strings.Contains(err.Error(), "invalid_grant") || !strings.Contains(err.Error(), "run `duomail auth login -a work`") {
		t.Fatalf("error %v", err)
	}
	if strings.Contains(err.Error(), rec.RefreshToken) {
		t.Error("error shows the refresh token")
	}
}

// TestSourceProviderDown: not reaching the provider is a network error,
// not a reason to sign in again.
func TestSourceProviderDown(t *testing.T) {
	store := FileStore{Dir: t.TempDir()}
	store.Save("work", &Record{RefreshToken: "rt-x"})
	conf := &oauth2.Config{ClientID: "c", Endpoint: oauth2.Endpoint{TokenURL: "http://127.0.0.1:1/token"}}
	_, err := (&Source{Account: "work", Config: conf, Store: store}).Token(context.Background(), false)
	if !errors.Is(err, client.ErrNetwork) || errors.Is(err, client.ErrAuth) {
		t.Fatalf("error %v", err)
	}
}

func TestSourceNotSignedIn(t *testing.T) {
	_, err := (&Source{Account: "work", Config: &oauth2.Config{}, Store: FileStore{Dir: t.TempDir()}}).Token(context.Background(), false)
	if !errors.Is(err, client.ErrAuth) || !strings.Contains(err.Error(), "not signed in; run `duomail auth login -a work`") {
		t.Fatalf("error %v", err)
	}
}

// TestFileStore: 0600 in a 0700 directory, replaced whole, gone on delete.
func TestFileStore(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tokens")
	fs := FileStore{Dir: dir}
	if _, err := fs.Load("a"); !errors.Is(err, ErrNoToken) {
		t.Fatalf("load before save: %v", err)
	}
	for _, rt := range []string{"rt-1", "rt-2"} {
		if err := fs.Save("a", &Record{RefreshToken: rt}); err != nil {
			t.Fatal(err)
		}
	}
	fi, err := os.Stat(fs.Path("a"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("file: %v %v", fi.Mode(), err)
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Errorf("directory mode %v", di.Mode().Perm())
	}
	if r, _ := fs.Load("a"); r.RefreshToken != "rt-2" {
		t.Errorf("loaded %+v", r)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
	if err := fs.Delete("a"); err != nil {
		t.Fatal(err)
	}
	if err := fs.Delete("a"); err != nil {
		t.Errorf("second delete: %v", err)
	}
}

// TestKeyringStoreMock: records and passwords round-trip through the
// keyring API (go-keyring's in-memory mock here; the real Secret Service
// in cmd/duomail's keyring test), and a keyring that fails says so.
func TestKeyringStoreMock(t *testing.T) {
	keyring.MockInit()
	var ks KeyringStore
	if err := ProbeKeyring(); err != nil {
		t.Fatalf("probe: %v", err)
	}
	if _, err := ks.Load("work"); !errors.Is(err, ErrNoToken) {
		t.Fatalf("load before save: %v", err)
	}
	exp := time.Now().Add(time.Hour).Round(time.Second)
	if err := ks.Save("work", &Record{RefreshToken: "rt", AccessToken: "at", Expiry: exp, Scopes: []string{"mail"}}); err != nil {
		t.Fatal(err)
	}
	r, err := ks.Load("work")
	if err != nil || r.RefreshToken != "rt" || r.AccessToken != "at" || !r.Expiry.Equal(exp) {
		t.Fatalf("load: %+v %v", r, err)
	}
	if err := KeyringSet(PasswordKey("work"), "pw"); err != nil {
		t.Fatal(err)
	}
	if pw, err := KeyringGet(PasswordKey("work")); pw != "pw" || err != nil {
		t.Errorf("password: %q %v", pw, err)
	}
	if err := ks.Delete("work"); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.Load("work"); !errors.Is(err, ErrNoToken) {
		t.Errorf("load after delete: %v", err)
	}

	keyring.MockInitWithError(errors.New("dbus: no session bus"))
	err = ProbeKeyring()
	if !errors.Is(err, ErrNoKeyring) || !strings.Contains(err.Error(), "no session bus") {
		t.Errorf("probe of a broken keyring: %v", err)
	}
	if err := ks.Save("work", &Record{RefreshToken: "rt"}); !errors.Is(err, ErrNoKeyring) {
		t.Errorf("save to a broken keyring: %v", err)
	}
}

// TestCodeLoginRefusesWrongState: a redirect that does not carry the
// state duomail sent (a forged or stale request) signs nobody in, and the
// provider is never asked for a token.
func TestCodeLoginRefusesWrongState(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{User: "alice"})
	conf := &oauth2.Config{ClientID: idp.ClientID, Endpoint: oauth2.Endpoint{AuthURL: idp.AuthURL(), TokenURL: idp.TokenURL()}}
	l := &CodeLogin{Config: conf, Show: func(authURL string) {
		u, _ := url.Parse(authURL)
		redirect := u.Query().Get("redirect_uri")
		go func() {
			resp, err := http.Get(redirect + "?code=forged&state=not-the-one")
			if err == nil {
				resp.Body.Close()
			}
		}()
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := l.Run(ctx)
	if !errors.Is(err, client.ErrAuth) || !strings.Contains(err.Error(), "wrong state") {
		t.Fatalf("error %v", err)
	}
	if n := idp.Counts().CodeGrants; n != 0 {
		t.Errorf("%d codes exchanged", n)
	}
}

// TestCodeLoginWithPKCE: the whole flow with the provider checking the
// S256 challenge against the verifier.
func TestCodeLoginWithPKCE(t *testing.T) {
	idp := oauthtest.Start(t, oauthtest.Options{User: "alice"})
	conf := &oauth2.Config{ClientID: idp.ClientID, Scopes: []string{"mail"}, Endpoint: oauth2.Endpoint{AuthURL: idp.AuthURL(), TokenURL: idp.TokenURL()}}
	l := &CodeLogin{Config: conf, Show: func(authURL string) {
		go func() {
			resp, err := http.Get(authURL) // follows the redirect back to duomail
			if err == nil {
				resp.Body.Close()
			}
		}()
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tok, err := l.Run(ctx)
	if err != nil || tok.RefreshToken == "" || tok.AccessToken == "" {
		t.Fatalf("token %v, error %v", tok != nil, err)
	}
	if n := idp.Counts().CodeGrants; n != 1 {
		t.Errorf("%d codes exchanged", n)
	}
}
