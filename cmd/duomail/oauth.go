package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"sync"

	"golang.org/x/oauth2"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/config"
	"github.com/duomail/duomail/client/oauth"
)

// tokenFunc returns the lazy OAuth2 access token of an account: from its
// oauth2_token_cmd (an external broker, run again when the server refused
// what it printed), or from the tokens "duomail auth login" stored.
func (a *app) tokenFunc(ac *AccountConfig) func(context.Context, bool) (string, error) {
	o := ac.OAuth2
	if o.TokenCmd != "" {
		var (
			mu  sync.Mutex
			tok string
		)
		return func(ctx context.Context, renew bool) (string, error) {
			mu.Lock()
			defer mu.Unlock()
			if tok != "" && !renew {
				return tok, nil
			}
			a.passwordMu.Lock()
			defer a.passwordMu.Unlock()
			t, err := runPasswordCmd(ctx, a.secretCmd(ac, o.TokenCmd, "oauth2_token_cmd", "token"))
			if err != nil {
				return "", err
			}
			tok = t
			return tok, nil
		}
	}
	var (
		mu  sync.Mutex
		src *oauth.Source
	)
	return func(ctx context.Context, renew bool) (string, error) {
		mu.Lock()
		if src == nil {
			conf, err := a.oauthConfig(ctx, ac)
			if err != nil {
				mu.Unlock()
				return "", err
			}
			src = &oauth.Source{Account: ac.Name, Config: conf, Store: a.tokenStore(ac), HTTP: a.oauthHTTP(ac)}
		}
		mu.Unlock()
		return src.Token(ctx, renew)
	}
}

// secretCmd is a run of a command that prints a secret other than the
// password, with the same limits and waiting message as password_cmd.
func (a *app) secretCmd(ac *AccountConfig, command, what, noun string) passwordCmd {
	p := passwordCmd{account: ac.Name, command: command, what: what, noun: noun, stdin: a.io.in, stderr: a.io.err, limit: ac.Timeout}
	if p.limit <= 0 {
		p.limit = client.DefaultTimeout
	}
	if a.io.errTTY {
		p.waiting = a.io.err
	}
	return p
}

// oauthConfig is the account's client registration and endpoints, its
// client secret resolved (from the file, a command or a variable).
func (a *app) oauthConfig(ctx context.Context, ac *AccountConfig) (*oauth2.Config, error) {
	o := ac.OAuth2
	if o.TokenCmd != "" {
		return nil, usageErrorf("account %s gets its tokens from oauth2_token_cmd; sign in with that program instead", ac.Name)
	}
	secret := o.ClientSecret
	switch {
	case o.ClientSecretCmd != "":
		s, err := runPasswordCmd(ctx, a.secretCmd(ac, o.ClientSecretCmd, "oauth2_client_secret_cmd", "client secret"))
		if err != nil {
			return nil, err
		}
		secret = s
	case o.ClientSecretEnv != "":
		if secret = a.env(o.ClientSecretEnv); secret == "" {
			return nil, fmt.Errorf("account %s: %w: oauth2_client_secret_env names %s, which is not set", ac.Name, client.ErrAuth, o.ClientSecretEnv)
		}
	}
	return &oauth2.Config{
		ClientID:     o.ClientID,
		ClientSecret: secret,
		Scopes:       o.Scopes,
		Endpoint: oauth2.Endpoint{
			AuthURL:       o.AuthURL,
			TokenURL:      o.TokenURL,
			DeviceAuthURL: o.DeviceURL,
		},
	}, nil
}

func (a *app) oauthHTTP(ac *AccountConfig) *http.Client {
	limit := ac.Timeout
	if limit <= 0 {
		limit = client.DefaultTimeout
	}
	return &http.Client{Timeout: limit}
}

// tokenStore is where the account's refresh token is kept. The file is
// under the data directory, beside the caches but never in one: the
// directory's name has a dot, which no account name has.
func (a *app) tokenStore(ac *AccountConfig) oauth.Store {
	if ac.OAuth2.TokenStore == config.StoreFile {
		return oauth.FileStore{Dir: a.tokenDir()}
	}
	return keyringStore{account: ac.Name}
}

func (a *app) tokenDir() string {
	return filepath.Join(defaultPaths(a.getenv).DataDir, "oauth2.tokens")
}

// keyringStore is the system keyring with the cure for its absence in
// the error: duomail never falls back to a file on its own.
type keyringStore struct {
	oauth.KeyringStore
	account string
}

func (k keyringStore) explain(err error) error {
	if errors.Is(err, oauth.ErrNoKeyring) {
		return fmt.Errorf("%w; start one (gnome-keyring, KeePassXC's Secret Service), or keep the refresh token in a 0600 file by setting oauth2_token_store = \"file\" for account %s", err, k.account)
	}
	return err
}

func (k keyringStore) Load(account string) (*oauth.Record, error) {
	r, err := k.KeyringStore.Load(account)
	return r, k.explain(err)
}

func (k keyringStore) Save(account string, r *oauth.Record) error {
	return k.explain(k.KeyringStore.Save(account, r))
}

func (k keyringStore) Delete(account string) error {
	return k.explain(k.KeyringStore.Delete(account))
}
