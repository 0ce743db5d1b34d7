package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/cli/browser"
	"github.com/spf13/cobra"
	"golang.org/x/oauth2"
	"golang.org/x/term"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/config"
	"github.com/duomail/duomail/client/oauth"
	"github.com/duomail/duomail/client/termtext"
)

func newAuthCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "auth <command>",
		Short: "Sign in with OAuth2, see and forget tokens, keep passwords in the keyring",
		Long: `Manage how accounts sign in.

An account with auth = "oauth2" signs in once with "duomail auth login";
duomail keeps the refresh token (in the system keyring, or in a 0600 file
when the account sets oauth2_token_store = "file") and renews the access
token by itself from then on. An account with password_keyring = true
reads its password from the system keyring, put there by
"duomail auth set-password".`,
		Args: noArgs,
	}
	cmd.AddCommand(newAuthLoginCmd(a, nil), newAuthStatusCmd(a, nil), newAuthLogoutCmd(a, nil), newAuthSetPasswordCmd(a, nil))
	return cmd
}

type authLoginOptions struct {
	app       *app
	NoBrowser bool
	Device    bool
}

func newAuthLoginCmd(a *app, runF func(context.Context, *authLoginOptions) error) *cobra.Command {
	opts := &authLoginOptions{app: a}
	cmd := &cobra.Command{
		Use:   "login",
		Short: "Sign in to an OAuth2 account and keep its refresh token",
		Long: `Sign in to the account's OAuth2 provider and keep the tokens.

By default a browser opens at the provider's sign-in page (authorization
code with PKCE); once you approve, the provider sends the browser back to
duomail on 127.0.0.1, at a port chosen for this sign-in. --no-browser only
prints the URL, to open wherever you like on this machine. --device signs
in with a code you enter on any device with a browser, for machines
without one.`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			if opts.NoBrowser && opts.Device {
				return usageErrorf("--no-browser and --device exclude each other")
			}
			if runF != nil {
				return runF(ctx, opts)
			}
			return runAuthLogin(ctx, opts)
		}),
	}
	cmd.Flags().BoolVar(&opts.NoBrowser, "no-browser", false, "print the sign-in URL instead of opening a browser")
	cmd.Flags().BoolVar(&opts.Device, "device", false, "sign in with a device code, on another device")
	return cmd
}

// oauthAccount is the chosen account, which must sign in with OAuth2.
func (a *app) oauthAccount() (*AccountConfig, error) {
	ac, _, err := a.accountConfig()
	if err != nil {
		return nil, err
	}
	if ac.Auth != client.AuthOAuth2 {
		return nil, usageErrorf("account %s signs in with a password, not OAuth2 (set auth = \"oauth2\" in its configuration)", ac.Name)
	}
	return ac, nil
}

func runAuthLogin(ctx context.Context, opts *authLoginOptions) error {
	a := opts.app
	ac, err := a.oauthAccount()
	if err != nil {
		return err
	}
	o := ac.OAuth2
	if o.TokenCmd != "" {
		return usageErrorf("account %s gets its tokens from oauth2_token_cmd (%s); sign in with that program", ac.Name, o.TokenCmd)
	}
	store := a.tokenStore(ac)
	if o.TokenStore == config.StoreKeyring {
		// Before the user goes through the sign-in for nothing.
		if err := oauth.ProbeKeyring(); err != nil {
			return keyringStore{account: ac.Name}.explain(err)
		}
	}
	conf, err := a.oauthConfig(ctx, ac)
	if err != nil {
		return err
	}
	hc := a.oauthHTTP(ac)
	var tok *oauth2.Token
	if opts.Device {
		tok, err = (&oauth.DeviceLogin{Config: conf, HTTP: hc, Show: func(uri, code, complete string) {
			a.say(fmt.Sprintf("To sign in account %s, open %s on any device and enter the code %s", ac.Name, uri, code))
			if complete != "" {
				a.say("(or open " + complete + ")")
			}
			a.say("Waiting for you to approve...")
		}}).Run(ctx)
	} else {
		params := []oauth2.AuthCodeOption{oauth2.SetAuthURLParam("login_hint", ac.Username)}
		if o.Provider == config.ProviderGoogle {
			// Google hands out a refresh token only for offline access,
			// and on a repeated sign-in only when asked to show consent.
			params = append(params, oauth2.AccessTypeOffline, oauth2.ApprovalForce)
		}
		l := &oauth.CodeLogin{Config: conf, Params: params, HTTP: hc, Show: func(u string) {
			a.say(fmt.Sprintf("Sign in account %s at:\n\n  %s\n", ac.Name, u))
			a.say("Waiting for the browser to come back to duomail...")
		}}
		if !opts.NoBrowser {
			browser.Stdout, browser.Stderr = io.Discard, io.Discard
			l.Open = browser.OpenURL
		}
		tok, err = l.Run(ctx)
	}
	if err != nil {
		return fmt.Errorf("account %s: %w", ac.Name, err)
	}
	rec := oauth.FromToken(tok, nil)
	rec.Obtained = time.Now()
	if rec.Scopes == nil {
		rec.Scopes = o.Scopes
	}
	if err := store.Save(ac.Name, rec); err != nil {
		return fmt.Errorf("account %s: keep the tokens: %w", ac.Name, err)
	}
	if rec.RefreshToken == "" {
		a.warn(fmt.Sprintf("account %s: the provider gave no refresh token, so you will have to sign in again when the access token expires (%s)", ac.Name, rec.Expiry.Local().Format(time.DateTime)))
	}
	res := &authLoginResult{Account: ac.Name, Provider: o.Provider, KeptIn: storeWhere(a, ac, store), Scopes: rec.Scopes}
	if !rec.Expiry.IsZero() {
		res.Expiry = &rec.Expiry
	}
	return a.out.print(res)
}

// say tells the user something they must read to go on (the sign-in URL,
// the device code): on stderr, and not silenced by --quiet.
func (a *app) say(msg string) {
	a.errMu.Lock()
	defer a.errMu.Unlock()
	fmt.Fprintln(a.io.err, termtext.Field(msg))
}

func storeWhere(a *app, ac *AccountConfig, store oauth.Store) string {
	if fs, ok := store.(oauth.FileStore); ok {
		return "file " + fs.Path(ac.Name)
	}
	return store.Where()
}

type authLoginResult struct {
	Account  string     `json:"account"`
	Provider string     `json:"provider"`
	KeptIn   string     `json:"kept_in"`
	Expiry   *time.Time `json:"access_token_expiry"` // null when the provider did not say
	Scopes   []string   `json:"scopes"`
	jsonStats
}

func (r *authLoginResult) jsonObject() any {
	if r.Scopes == nil {
		r.Scopes = []string{}
	}
	return r
}

func (r *authLoginResult) sentence(f *format) string {
	return fmt.Sprintf("Signed in account %s (%s); tokens kept in the %s", r.Account, r.Provider, strings.TrimPrefix(r.KeptIn, "system "))
}

type authStatusOptions struct{ app *app }

func newAuthStatusCmd(a *app, runF func(context.Context, *authStatusOptions) error) *cobra.Command {
	opts := &authStatusOptions{app: a}
	return &cobra.Command{
		Use:   "status",
		Short: "Show the OAuth2 accounts: signed in or not, where the token is kept, expiry, scopes",
		Long: `Show, for the account given with -a or for every OAuth2 account: the
provider, whether duomail holds a token, where it is kept, when the
access token expires and the scopes granted. Tokens are never shown.
Nothing is sent to the provider.`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			if runF != nil {
				return runF(ctx, opts)
			}
			return runAuthStatus(ctx, opts)
		}),
	}
}

func runAuthStatus(_ context.Context, opts *authStatusOptions) error {
	a := opts.app
	var accounts []*AccountConfig
	if a.accountFlag || a.flags.url != "" || a.env("DUOMAIL_ACCOUNT") != "" {
		ac, err := a.oauthAccount()
		if err != nil {
			return err
		}
		accounts = append(accounts, ac)
	} else {
		cfg, err := a.config()
		if err != nil {
			return err
		}
		for _, n := range cfg.Names() {
			if ac := cfg.Accounts[n]; ac.Auth == client.AuthOAuth2 {
				accounts = append(accounts, ac)
			}
		}
	}
	res := &authStatusResult{Accounts: []authStatusJSON{}}
	for _, ac := range accounts {
		j := authStatusJSON{Account: ac.Name, Provider: ac.OAuth2.Provider, Scopes: ac.OAuth2.Scopes}
		if ac.OAuth2.TokenCmd != "" {
			j.Provider, j.KeptIn, j.State = "external", "oauth2_token_cmd", "tokens come from oauth2_token_cmd"
			res.Accounts = append(res.Accounts, j)
			continue
		}
		store := a.tokenStore(ac)
		j.KeptIn = storeWhere(a, ac, store)
		rec, err := store.Load(ac.Name)
		switch {
		case errors.Is(err, oauth.ErrNoToken):
			j.State = "not signed in"
		case err != nil:
			j.State = "unknown: " + err.Error()
		default:
			j.SignedIn = true
			j.State = "signed in"
			j.Refresh = rec.RefreshToken != ""
			if !rec.Expiry.IsZero() {
				e := rec.Expiry
				j.Expiry = &e
			}
			if rec.Scopes != nil {
				j.Scopes = rec.Scopes
			}
			if !j.Refresh {
				j.State = "signed in, no refresh token"
			}
		}
		res.Accounts = append(res.Accounts, j)
	}
	return a.out.print(res)
}

type authStatusResult struct {
	Accounts []authStatusJSON `json:"accounts"`
	jsonStats
}

type authStatusJSON struct {
	Account  string     `json:"account"`
	Provider string     `json:"provider"`
	SignedIn bool       `json:"signed_in"`
	State    string     `json:"state"`
	KeptIn   string     `json:"kept_in"`
	Refresh  bool       `json:"has_refresh_token"`
	Expiry   *time.Time `json:"access_token_expiry"`
	Scopes   []string   `json:"scopes"`
}

func (r *authStatusResult) jsonObject() any {
	if r.Accounts == nil {
		r.Accounts = []authStatusJSON{}
	}
	for i := range r.Accounts {
		if r.Accounts[i].Scopes == nil {
			r.Accounts[i].Scopes = []string{}
		}
	}
	return r
}

func (r *authStatusResult) table() table {
	t := table{
		cols: []column{{title: "ACCOUNT"}, {title: "PROVIDER"}, {title: "STATE"}, {title: "KEPT IN", flex: true},
			{title: "ACCESS TOKEN EXPIRES"}, {title: "SCOPES", flex: true}},
		empty: "no account signs in with OAuth2",
	}
	for _, s := range r.Accounts {
		exp := "-"
		if s.Expiry != nil {
			exp = s.Expiry.Local().Format("2006-01-02 15:04:05")
			if time.Now().After(*s.Expiry) {
				exp += " (expired)"
			}
		}
		t.rows = append(t.rows, []cell{textCell(s.Account), textCell(s.Provider), textCell(s.State), textCell(s.KeptIn),
			textCell(exp), textCell(strings.Join(s.Scopes, " "))})
	}
	return t
}

type authLogoutOptions struct{ app *app }

func newAuthLogoutCmd(a *app, runF func(context.Context, *authLogoutOptions) error) *cobra.Command {
	opts := &authLogoutOptions{app: a}
	return &cobra.Command{
		Use:   "logout",
		Short: "Forget an account's OAuth2 tokens, revoking them where the provider allows",
		Long: `Forget the account's tokens. Where the provider has a revocation
endpoint (Google, or a custom provider with oauth2_revoke_url), the
refresh token is revoked there first, so a copy elsewhere is worthless
too. Microsoft has none: remove duomail's access in your account's
settings to revoke it there.`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			if runF != nil {
				return runF(ctx, opts)
			}
			return runAuthLogout(ctx, opts)
		}),
	}
}

func runAuthLogout(ctx context.Context, opts *authLogoutOptions) error {
	a := opts.app
	ac, err := a.oauthAccount()
	if err != nil {
		return err
	}
	if ac.OAuth2.TokenCmd != "" {
		return usageErrorf("account %s gets its tokens from oauth2_token_cmd; duomail keeps none to forget", ac.Name)
	}
	store := a.tokenStore(ac)
	res := &authLogoutResult{Account: ac.Name, KeptIn: storeWhere(a, ac, store)}
	rec, err := store.Load(ac.Name)
	switch {
	case errors.Is(err, oauth.ErrNoToken):
		return a.out.print(res)
	case err != nil:
		return err
	}
	res.Forgotten = true
	if u := ac.OAuth2.RevokeURL; u != "" && rec.RefreshToken != "" {
		conf, cerr := a.oauthConfig(ctx, ac)
		if cerr == nil {
			cerr = oauth.Revoke(ctx, conf, u, rec.RefreshToken, a.oauthHTTP(ac))
		}
		if cerr != nil {
			a.warn(fmt.Sprintf("account %s: could not revoke the token at the provider (%v); forgetting it here all the same", ac.Name, cerr))
		} else {
			res.Revoked = true
		}
	} else {
		res.NoRevocation = ac.OAuth2.RevokeURL == ""
	}
	if err := store.Delete(ac.Name); err != nil {
		return fmt.Errorf("account %s: forget the tokens: %w", ac.Name, err)
	}
	return a.out.print(res)
}

type authLogoutResult struct {
	Account      string `json:"account"`
	KeptIn       string `json:"kept_in"`
	Forgotten    bool   `json:"forgotten"` // false: there was nothing to forget
	Revoked      bool   `json:"revoked"`
	NoRevocation bool   `json:"provider_cannot_revoke"`
	jsonStats
}

func (r *authLogoutResult) jsonObject() any { return r }

func (r *authLogoutResult) sentence(f *format) string {
	switch {
	case !r.Forgotten:
		return fmt.Sprintf("Account %s was not signed in; nothing to forget", r.Account)
	case r.Revoked:
		return fmt.Sprintf("Signed out of account %s: the refresh token was revoked at the provider and removed from the %s", r.Account, strings.TrimPrefix(r.KeptIn, "system "))
	case r.NoRevocation:
		return fmt.Sprintf("Signed out of account %s: tokens removed from the %s (the provider offers no revocation; remove duomail's access in your account settings to void them there)", r.Account, strings.TrimPrefix(r.KeptIn, "system "))
	}
	return fmt.Sprintf("Signed out of account %s: tokens removed from the %s, but not revoked at the provider", r.Account, strings.TrimPrefix(r.KeptIn, "system "))
}

type authSetPasswordOptions struct{ app *app }

func newAuthSetPasswordCmd(a *app, runF func(context.Context, *authSetPasswordOptions) error) *cobra.Command {
	opts := &authSetPasswordOptions{app: a}
	return &cobra.Command{
		Use:   "set-password",
		Short: "Put an account's password into the system keyring",
		Long: `Ask for the account's password without echoing it (or read the first
line of standard input when it is not a terminal) and keep it in the
system keyring, where an account with password_keyring = true reads it.`,
		Args: noArgs,
		RunE: a.runE(func(ctx context.Context, _ []string) error {
			if runF != nil {
				return runF(ctx, opts)
			}
			return runAuthSetPassword(ctx, opts)
		}),
	}
}

func runAuthSetPassword(_ context.Context, opts *authSetPasswordOptions) error {
	a := opts.app
	ac, _, err := a.accountConfig()
	if err != nil {
		return err
	}
	if ac.Auth == client.AuthOAuth2 {
		return usageErrorf("account %s signs in with OAuth2; run `duomail auth login -a %s` instead", ac.Name, ac.Name)
	}
	if !ac.PasswordKeyring {
		a.warn(fmt.Sprintf("account %s does not read its password from the keyring yet: set password_keyring = true in its configuration", ac.Name))
	}
	if err := oauth.ProbeKeyring(); err != nil {
		return fmt.Errorf("account %s: %w; a password is only kept in the keyring (or use password_cmd with a password manager)", ac.Name, err)
	}
	var pw string
	if a.io.inTTY && a.io.inFd >= 0 {
		fmt.Fprintf(a.io.err, "Password for %s@%s: ", termtext.Field(ac.Username), termtext.Field(ac.Host))
		b, err := term.ReadPassword(a.io.inFd)
		fmt.Fprintln(a.io.err)
		if err != nil {
			return fmt.Errorf("read password: %w", err)
		}
		pw = string(b)
	} else {
		line, err := bufio.NewReader(io.LimitReader(a.io.in, maxPasswordOutput)).ReadString('\n')
		if err != nil && err != io.EOF {
			return fmt.Errorf("read password from standard input: %w", err)
		}
		pw = strings.TrimRight(line, "\r\n")
	}
	if pw == "" {
		return usageErrorf("empty password; nothing stored")
	}
	if err := oauth.KeyringSet(oauth.PasswordKey(ac.Name), pw); err != nil {
		return fmt.Errorf("account %s: keep the password: %w", ac.Name, err)
	}
	return a.out.print(&setPasswordResult{Account: ac.Name, KeptIn: oauth.KeyringStore{}.Where()})
}

type setPasswordResult struct {
	Account string `json:"account"`
	KeptIn  string `json:"kept_in"`
	jsonStats
}

func (r *setPasswordResult) jsonObject() any { return r }

func (r *setPasswordResult) sentence(f *format) string {
	return fmt.Sprintf("Kept the password of account %s in the %s", r.Account, strings.TrimPrefix(r.KeptIn, "system "))
}
