package config

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

func TestParseURL(t *testing.T) {
	tests := []struct {
		url  string
		want Account
	}{
		{"imaps://me@mail.example.com", Account{Protocol: "imap", TLS: client.TLSImplicit, Host: "mail.example.com", Port: 993, Username: "me"}},
		{"imap://me@mail.example.com", Account{Protocol: "imap", TLS: client.TLSStartTLS, Host: "mail.example.com", Port: 143, Username: "me"}},
		{"pop3s://me@mail.example.com:1995", Account{Protocol: "pop3", TLS: client.TLSImplicit, Host: "mail.example.com", Port: 1995, Username: "me"}},
		{"pop3://me@127.0.0.1?tls=none", Account{Protocol: "pop3", TLS: client.TLSNone, Host: "127.0.0.1", Port: 110, Username: "me"}},
		{"IMAP://me%40example.com@[::1]:1143/?tls=starttls&ca_file=/ca.pem&timeout=5s",
			Account{Protocol: "imap", TLS: client.TLSStartTLS, Host: "::1", Port: 1143, Username: "me@example.com", CAFile: "/ca.pem", Timeout: 5 * time.Second}},
		{"pop3s://me@h?keep_on_server=false&keep_days=3", Account{Protocol: "pop3", TLS: client.TLSImplicit, Host: "h", Port: 995, Username: "me", KeepDays: 3}},
		{"imaps://me@h?ca_file=~/ca.pem", Account{Protocol: "imap", TLS: client.TLSImplicit, Host: "h", Port: 993, Username: "me", CAFile: "/home/u/ca.pem"}},
	}
	for _, tc := range tests {
		got, err := ParseURL(tc.url, envMap(map[string]string{"HOME": "/home/u"}))
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		keep := tc.want.KeepDays == 0
		tc.want.KeepOnServer = keep
		tc.want.Name = got.Name
		tc.want.Auth = client.AuthPassword
		if *got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.url, *got, tc.want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	tests := []struct{ url, want string }{
		{"imaps://me:hunter2@host", "a password does not belong in a URL"},
		{"smtp://me@host", `unknown scheme "smtp"`},
		{"mail.example.com", "missing scheme"},
		{"imaps://host", "missing user name"},
		{"imaps://me@", "missing host"},
		{"imaps://me@host/INBOX", "unexpected path"},
		{"imaps://me@host?tls=none", "contradicts"},
		{"imap://me@host?tls=implicit", "imaps://"},
		{"imap://me@host?tls=ssl", `tls: unknown tls mode "ssl"`},
		{"imap://me@host?verify=no", `unknown parameter "verify"`},
		{"imap://me@host:99999", "port: 99999 is not a port number"},
		{"imap://me@host:0", "port: 0 is not a port number"},
		{"imap://me@host?keep_days=2", "keep_days: applies to pop3 accounts only"},
		{"pop3://me@host?keep_days=-2", "keep_days: must be 0 or more"},
		{"pop3://me@host?keep_days=soon", `keep_days: want an integer, got "soon"`},
		{"pop3://me@host?keep_on_server=perhaps", `keep_on_server: want true or false, got "perhaps"`},
		{"pop3://me@host?timeout=never", `timeout: "never" is not a duration`},
	}
	for _, tc := range tests {
		_, err := ParseURL(tc.url, envMap(nil))
		if err == nil {
			t.Errorf("%s: no error", tc.url)
			continue
		}
		if !strings.HasPrefix(err.Error(), "--url ") || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %q lacks %q", tc.url, err, tc.want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: password in error %q", tc.url, err)
		}
		if !errors.Is(err, client.ErrUsage) {
			t.Errorf("%s: not a usage error: %v", tc.url, err)
		}
	}
}

func TestURLAccountName(t *testing.T) {
	ac, err := ParseURL("imaps://me%40example.com@mail.example.com", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if ac.Name != "url-me@example.com@mail.example.com-993-imap" {
		t.Errorf("name %q", ac.Name)
	}
	ac, err = ParseURL("pop3://a%2F..%2Fb%20c@[::1]:110?tls=none", envMap(nil))
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(ac.Name, "/ :[]") || ac.Name != "url-a_.._b_c@__1-110-pop3" {
		t.Errorf("name %q is not a safe directory name", ac.Name)
	}
	if got := ac.URL(); got != "pop3://a%2F..%2Fb%20c@[::1]:110?tls=none" {
		t.Errorf("URL() = %q", got)
	}
}

// A bad value is refused by the same rule, with the same words, whether it
// was written in the file, in the environment or in a --url; only where
// the error points differs.
func TestSameRuleWhereverWritten(t *testing.T) {
	for _, tc := range []struct {
		name      string
		protocol  string // of the account the value is tried on
		key       string // file key and query parameter
		file      string // the value as TOML
		raw       string // the value as text (environment, URL)
		wantMsg   string
		urlAsPort bool // the URL carries it as :port, not a parameter
	}{
		{"port too large", "imap", "port", "99999", "99999", "99999 is not a port number", true},
		{"port zero", "imap", "port", "0", "0", "0 is not a port number", true},
		{"timeout not a duration", "imap", "timeout", `"soon"`, "soon", `"soon" is not a duration like "30s" or "2m"`, false},
		{"timeout negative", "imap", "timeout", `"-5s"`, "-5s", `"-5s" is not a duration like "30s" or "2m"`, false},
		{"keep_days negative", "pop3", "keep_days", "-1", "-1", "must be 0 or more", false},
		{"keep_days on imap", "imap", "keep_days", "3", "3", "applies to pop3 accounts only (an IMAP server is where mail is kept)", false},
		{"keep_on_server on imap", "imap", "keep_on_server", "false", "false", "applies to pop3 accounts only (an IMAP server is where mail is kept)", false},
		{"unknown tls mode", "imap", "tls", `"ssl"`, "ssl", `unknown tls mode "ssl" (want "implicit", "starttls" or "none")`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			account := "[accounts.work]\nprotocol = \"" + tc.protocol + "\"\nhost = \"h\"\nusername = \"u\"\n"
			var errs [3]error
			var path string
			_, path, _, errs[0] = loadEnv(t, account+tc.key+" = "+tc.file+"\n", nil)
			envVar := "DUOMAIL_ACCOUNTS_WORK_" + strings.ToUpper(tc.key)
			_, _, _, errs[1] = loadEnv(t, account, map[string]string{envVar: tc.raw})
			u := tc.protocol + "://u@h"
			if tc.urlAsPort {
				u += ":" + tc.raw
			} else {
				u += "?" + tc.key + "=" + tc.raw
			}
			_, errs[2] = ParseURL(u, envMap(nil))

			var got [3]*Error
			for i, err := range errs {
				if !errors.As(err, &got[i]) {
					t.Fatalf("path %d: error %v", i, err)
				}
				if got[i].Msg != tc.wantMsg {
					t.Errorf("path %d: %q, want %q", i, got[i].Msg, tc.wantMsg)
				}
			}
			if want := "config " + path + ": accounts.work." + tc.key + ": " + tc.wantMsg; errs[0].Error() != want {
				t.Errorf("file:\n got %s\nwant %s", errs[0], want)
			}
			if want := envVar + ": " + tc.wantMsg; errs[1].Error() != want {
				t.Errorf("environment:\n got %s\nwant %s", errs[1], want)
			}
			if want := "--url " + u + ": " + tc.key + ": " + tc.wantMsg; errs[2].Error() != want {
				t.Errorf("url:\n got %s\nwant %s", errs[2], want)
			}
			if errors.Is(errs[0], client.ErrUsage) || errors.Is(errs[1], client.ErrUsage) || !errors.Is(errs[2], client.ErrUsage) {
				t.Errorf("only the --url error is a usage error: %v / %v / %v", errs[0], errs[1], errs[2])
			}
		})
	}
}
