package config

import (
	"slices"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
)

const oauthBase = "[accounts.work]\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\nauth = \"oauth2\"\n"

// TestOAuth2Presets: a provider fills in its endpoints and the scopes it
// wants for the account's protocol; what the user sets wins.
func TestOAuth2Presets(t *testing.T) {
	tests := []struct {
		name, content   string
		auth, token     string
		device, revoke  string
		scopes          []string
		store, provider string
	}{
		{"google", oauthBase + "oauth2_provider = \"google\"\noauth2_client_id = \"id\"\noauth2_client_secret_env = \"GSECRET\"\n",
			"https://accounts.google.com/o/oauth2/v2/auth", "https://oauth2.googleapis.com/token",
			"https://oauth2.googleapis.com/device/code", "https://oauth2.googleapis.com/revoke",
			[]string{"https://mail.google.com/"}, "keyring", "google"},
		{"microsoft imap, common tenant", oauthBase + "oauth2_provider = \"Microsoft\"\noauth2_client_id = \"id\"\n",
			"https://login.microsoftonline.com/common/oauth2/v2.0/authorize", "https://login.microsoftonline.com/common/oauth2/v2.0/token",
			"https://login.microsoftonline.com/common/oauth2/v2.0/devicecode", "",
			[]string{"https://outlook.office.com/IMAP.AccessAsUser.All", "offline_access"}, "keyring", "microsoft"},
		{"microsoft pop3 in a tenant", strings.Replace(oauthBase, `"imap"`, `"pop3"`, 1) + "oauth2_provider = \"microsoft\"\noauth2_tenant = \"contoso.onmicrosoft.com\"\noauth2_client_id = \"id\"\noauth2_token_store = \"file\"\n",
			"https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/authorize", "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token",
			"https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode", "",
			[]string{"https://outlook.office.com/POP.AccessAsUser.All", "offline_access"}, "file", "microsoft"},
		{"custom from its token url, scopes overridden", oauthBase + "oauth2_client_id = \"id\"\noauth2_token_url = \"http://127.0.0.1:9/token\"\noauth2_device_url = \"https://idp.example/device\"\noauth2_scopes = \"mail, offline_access\"\n",
			"", "http://127.0.0.1:9/token", "https://idp.example/device", "",
			[]string{"mail", "offline_access"}, "keyring", "custom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _, err := load(t, tc.content)
			if err != nil {
				t.Fatal(err)
			}
			ac := cfg.Accounts["work"]
			o := ac.OAuth2
			if ac.Auth != client.AuthOAuth2 || o == nil {
				t.Fatalf("account %+v: want oauth2 settings", ac)
			}
			if o.AuthURL != tc.auth || o.TokenURL != tc.token || o.DeviceURL != tc.device || o.RevokeURL != tc.revoke ||
				!slices.Equal(o.Scopes, tc.scopes) || o.TokenStore != tc.store || o.Provider != tc.provider {
				t.Errorf("got %+v", *o)
			}
			if ca := ac.Client("/c", nil); ca.Auth != client.AuthOAuth2 {
				t.Errorf("client account auth %q", ca.Auth)
			}
		})
	}
}

func TestOAuth2TokenCmd(t *testing.T) {
	cfg, _, err := load(t, oauthBase+"oauth2_token_cmd = \"pizauth show work\"\n")
	if err != nil {
		t.Fatal(err)
	}
	if o := cfg.Accounts["work"].OAuth2; o == nil || o.TokenCmd != "pizauth show work" {
		t.Errorf("oauth2 %+v", o)
	}
}

// TestOAuth2Errors: every mistake names the file and the key.
func TestOAuth2Errors(t *testing.T) {
	pw := "[accounts.work]\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\n"
	tests := []struct {
		name, content string
		want          []string
	}{
		{"unknown auth", pw + "auth = \"kerberos\"\n", []string{"accounts.work.auth", `unknown "kerberos"`}},
		{"no provider", oauthBase + "oauth2_client_id = \"id\"\n", []string{"accounts.work.oauth2_provider: missing", "oauth2_token_cmd"}},
		{"unknown provider", oauthBase + "oauth2_provider = \"yahoo\"\noauth2_client_id = \"id\"\n", []string{"accounts.work.oauth2_provider", `unknown provider "yahoo"`}},
		{"no client id", oauthBase + "oauth2_provider = \"google\"\n", []string{"accounts.work.oauth2_client_id: missing", "README"}},
		{"tenant off microsoft", oauthBase + "oauth2_provider = \"google\"\noauth2_client_id = \"i\"\noauth2_tenant = \"x\"\n", []string{"accounts.work.oauth2_tenant", "microsoft"}},
		{"two secrets", oauthBase + "oauth2_provider = \"google\"\noauth2_client_id = \"i\"\noauth2_client_secret = \"a\"\noauth2_client_secret_cmd = \"b\"\n", []string{"only one of oauth2_client_secret"}},
		{"custom without token url", oauthBase + "oauth2_provider = \"custom\"\noauth2_client_id = \"i\"\n", []string{"accounts.work.oauth2_token_url: missing"}},
		{"custom without any flow", oauthBase + "oauth2_client_id = \"i\"\noauth2_token_url = \"https://x/t\"\n", []string{"accounts.work.oauth2_auth_url: missing"}},
		{"plain http endpoint", oauthBase + "oauth2_client_id = \"i\"\noauth2_token_url = \"http://idp.example/t\"\noauth2_auth_url = \"https://idp.example/a\"\n", []string{"accounts.work.oauth2_token_url", "https"}},
		{"bad store", oauthBase + "oauth2_provider = \"google\"\noauth2_client_id = \"i\"\noauth2_token_store = \"plaintext\"\n", []string{"accounts.work.oauth2_token_store", `"keyring" or "file"`}},
		{"empty scopes", oauthBase + "oauth2_provider = \"google\"\noauth2_client_id = \"i\"\noauth2_scopes = \" \"\n", []string{"accounts.work.oauth2_scopes: empty"}},
		{"password with oauth2", oauthBase + "oauth2_token_cmd = \"x\"\npassword_cmd = \"y\"\n", []string{"accounts.work.password_cmd", `not used with auth = "oauth2"`}},
		{"token cmd and client id", oauthBase + "oauth2_token_cmd = \"x\"\noauth2_client_id = \"y\"\n", []string{"accounts.work.oauth2_client_id", "oauth2_token_cmd"}},
		{"oauth2 key on a password account", pw + "oauth2_client_id = \"y\"\n", []string{"accounts.work.oauth2_client_id", `auth = "oauth2"`}},
		{"keyring and another password source", pw + "password_keyring = true\npassword_env = \"X\"\n", []string{"accounts.work.password_keyring", "only one of"}},
		{"keyring flag type", pw + "password_keyring = \"yes\"\n", []string{"accounts.work.password_keyring: want true or false"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := load(t, tc.content)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config /") {
				t.Errorf("error does not name the file: %s", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
}

// TestOAuth2EnvOverride: the environment can switch an account's client
// ID, and an error in it names the variable.
func TestOAuth2EnvOverride(t *testing.T) {
	content := oauthBase + "oauth2_provider = \"google\"\noauth2_client_id = \"file-id\"\n"
	cfg, _, _, err := loadEnv(t, content, map[string]string{"DUOMAIL_ACCOUNTS_WORK_OAUTH2_CLIENT_ID": "env-id"})
	if err != nil {
		t.Fatal(err)
	}
	if id := cfg.Accounts["work"].OAuth2.ClientID; id != "env-id" {
		t.Errorf("client id %q", id)
	}
	_, _, _, err = loadEnv(t, content, map[string]string{"DUOMAIL_ACCOUNTS_WORK_OAUTH2_PROVIDER": "aol"})
	if err == nil || !strings.HasPrefix(err.Error(), "DUOMAIL_ACCOUNTS_WORK_OAUTH2_PROVIDER") {
		t.Errorf("error %v does not name the variable", err)
	}
}
