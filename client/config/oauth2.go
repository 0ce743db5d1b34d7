package config

import (
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/duomail/duomail/client"
)

// OAuth2 is how an auth = "oauth2" account gets its access tokens: either
// from an external broker (TokenCmd), or by duomail itself, from the
// provider's endpoints with the user's own client ID.
type OAuth2 struct {
	// TokenCmd prints an access token (pizauth, oama, mutt_oauth2.py);
	// when set, nothing below is used.
	TokenCmd string

	Provider string // "google", "microsoft" or "custom"
	Tenant   string // Microsoft only: "common", "organizations", "consumers" or a tenant ID
	ClientID string
	// At most one source of the client secret, for providers that want
	// one (Google's desktop clients do).
	ClientSecret    string
	ClientSecretCmd string
	ClientSecretEnv string
	AuthURL         string // authorization endpoint (code flow)
	TokenURL        string
	DeviceURL       string // device authorization endpoint; "" when the provider has none
	RevokeURL       string // RFC 7009 revocation; "" when the provider has none
	Scopes          []string
	// TokenStore is where the refresh token is kept: "keyring" (the
	// system's) or "file" (0600 under the data directory).
	TokenStore string
}

// Where refresh tokens are kept.
const (
	StoreKeyring = "keyring"
	StoreFile    = "file"
)

// The providers with presets.
const (
	ProviderGoogle    = "google"
	ProviderMicrosoft = "microsoft"
	ProviderCustom    = "custom"
)

// oauth2Keys are the account keys that only mean something with
// auth = "oauth2".
var oauth2Keys = []string{
	"oauth2_provider", "oauth2_tenant", "oauth2_client_id", "oauth2_client_secret",
	"oauth2_client_secret_cmd", "oauth2_client_secret_env", "oauth2_auth_url",
	"oauth2_token_url", "oauth2_device_url", "oauth2_revoke_url", "oauth2_scopes",
	"oauth2_token_cmd", "oauth2_token_store",
}

// preset fills a provider's endpoints and the scopes it wants for the
// account's protocol. Microsoft scopes name the protocol (IMAP or POP)
// and need offline_access for a refresh token; Google has one scope for
// both and gives a refresh token for access_type=offline instead.
func preset(o *OAuth2, protocol string) {
	switch o.Provider {
	case ProviderGoogle:
		setDefault(&o.AuthURL, "https://accounts.google.com/o/oauth2/v2/auth")
		setDefault(&o.TokenURL, "https://oauth2.googleapis.com/token")
		setDefault(&o.DeviceURL, "https://oauth2.googleapis.com/device/code")
		setDefault(&o.RevokeURL, "https://oauth2.googleapis.com/revoke")
		if o.Scopes == nil {
			o.Scopes = []string{"https://mail.google.com/"}
		}
	case ProviderMicrosoft:
		if o.Tenant == "" {
			o.Tenant = "common"
		}
		base := "https://login.microsoftonline.com/" + url.PathEscape(o.Tenant) + "/oauth2/v2.0/"
		setDefault(&o.AuthURL, base+"authorize")
		setDefault(&o.TokenURL, base+"token")
		setDefault(&o.DeviceURL, base+"devicecode")
		// Microsoft revokes refresh tokens only through Graph, per user
		// and for every application: there is no RFC 7009 endpoint.
		if o.Scopes == nil {
			scope := "https://outlook.office.com/IMAP.AccessAsUser.All"
			if protocol == client.POP3 {
				scope = "https://outlook.office.com/POP.AccessAsUser.All"
			}
			o.Scopes = []string{scope, "offline_access"}
		}
	}
}

func setDefault(s *string, v string) {
	if *s == "" {
		*s = v
	}
}

// validateOAuth2 reads and checks the oauth2_* keys of an account that
// signs in with OAuth2.
func validateOAuth2(f fields, protocol string, at func(string) origin) (*OAuth2, error) {
	o := &OAuth2{}
	for _, s := range []struct {
		field string
		dst   *string
	}{
		{"oauth2_provider", &o.Provider}, {"oauth2_tenant", &o.Tenant}, {"oauth2_client_id", &o.ClientID},
		{"oauth2_client_secret", &o.ClientSecret}, {"oauth2_client_secret_cmd", &o.ClientSecretCmd},
		{"oauth2_client_secret_env", &o.ClientSecretEnv}, {"oauth2_auth_url", &o.AuthURL},
		{"oauth2_token_url", &o.TokenURL}, {"oauth2_device_url", &o.DeviceURL},
		{"oauth2_revoke_url", &o.RevokeURL}, {"oauth2_token_cmd", &o.TokenCmd},
		{"oauth2_token_store", &o.TokenStore},
	} {
		if v, ok := f.vals[s.field]; ok {
			str, err := v.str(s.field)
			if err != nil {
				return nil, err
			}
			*s.dst = strings.TrimSpace(str)
		}
	}
	if v, ok := f.vals["oauth2_scopes"]; ok {
		str, err := v.str("oauth2_scopes")
		if err != nil {
			return nil, err
		}
		// Space-separated as in OAuth2 itself; commas are forgiven.
		o.Scopes = strings.Fields(strings.ReplaceAll(str, ",", " "))
		if len(o.Scopes) == 0 {
			return nil, v.fail("oauth2_scopes", "empty (leave it out for the provider's default scopes)")
		}
	}
	o.Provider = strings.ToLower(o.Provider)

	if o.TokenCmd != "" {
		for _, k := range oauth2Keys {
			if _, ok := f.vals[k]; ok && k != "oauth2_token_cmd" {
				return nil, at(k).fail(k, "not used with oauth2_token_cmd, which gets the tokens from an external program; remove one of the two")
			}
		}
		return o, nil
	}

	switch o.Provider {
	case ProviderGoogle, ProviderMicrosoft, ProviderCustom:
	case "":
		if o.TokenURL == "" {
			return nil, at("oauth2_provider").fail("oauth2_provider",
				`missing: set "google", "microsoft" or "custom" (with oauth2_token_url), or oauth2_token_cmd for an external token broker`)
		}
		o.Provider = ProviderCustom
	default:
		return nil, at("oauth2_provider").fail("oauth2_provider", fmt.Sprintf(`unknown provider %q (want "google", "microsoft" or "custom")`, o.Provider))
	}
	if o.Tenant != "" && o.Provider != ProviderMicrosoft {
		return nil, at("oauth2_tenant").fail("oauth2_tenant", `applies to oauth2_provider = "microsoft" only`)
	}
	if o.ClientID == "" {
		return nil, at("oauth2_client_id").fail("oauth2_client_id",
			"missing: register duomail with the provider and give your own client ID (see the README), or use oauth2_token_cmd")
	}
	secrets := 0
	for _, s := range []string{o.ClientSecret, o.ClientSecretCmd, o.ClientSecretEnv} {
		if s != "" {
			secrets++
		}
	}
	if secrets > 1 {
		return nil, f.at.fail("oauth2_client_secret", "set only one of oauth2_client_secret, oauth2_client_secret_cmd and oauth2_client_secret_env")
	}
	preset(o, protocol)
	if o.TokenURL == "" {
		return nil, at("oauth2_token_url").fail("oauth2_token_url", `missing (oauth2_provider = "custom" needs the provider's token endpoint)`)
	}
	if o.AuthURL == "" && o.DeviceURL == "" {
		return nil, at("oauth2_auth_url").fail("oauth2_auth_url", "missing: give oauth2_auth_url (browser sign-in), oauth2_device_url (device code), or both")
	}
	for _, u := range []struct{ field, v string }{
		{"oauth2_auth_url", o.AuthURL}, {"oauth2_token_url", o.TokenURL},
		{"oauth2_device_url", o.DeviceURL}, {"oauth2_revoke_url", o.RevokeURL},
	} {
		if msg := checkEndpoint(u.v); u.v != "" && msg != "" {
			return nil, at(u.field).fail(u.field, msg)
		}
	}
	switch o.TokenStore {
	case "":
		o.TokenStore = StoreKeyring
	case StoreKeyring, StoreFile:
	default:
		return nil, at("oauth2_token_store").fail("oauth2_token_store", fmt.Sprintf(`unknown store %q (want "keyring" or "file")`, o.TokenStore))
	}
	return o, nil
}

// checkEndpoint returns why u cannot be an OAuth2 endpoint, or "". Tokens
// and codes cross it, so it must be https, except on loopback (a local
// broker, a test).
func checkEndpoint(u string) string {
	p, err := url.Parse(u)
	if err != nil || p.Host == "" {
		return fmt.Sprintf("%q is not an absolute URL", u)
	}
	switch p.Scheme {
	case "https":
		return ""
	case "http":
		host := p.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || ip != nil && ip.IsLoopback() {
			return ""
		}
		return fmt.Sprintf("%q: tokens must travel over https (http only to localhost)", u)
	}
	return fmt.Sprintf("%q: want an https:// URL", u)
}
