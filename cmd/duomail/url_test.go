package main

import (
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

func TestParseAccountURL(t *testing.T) {
	tests := []struct {
		url  string
		want AccountConfig
	}{
		{"imaps://me@mail.example.com", AccountConfig{Protocol: "imap", TLS: client.TLSImplicit, Host: "mail.example.com", Port: 993, Username: "me"}},
		{"imap://me@mail.example.com", AccountConfig{Protocol: "imap", TLS: client.TLSStartTLS, Host: "mail.example.com", Port: 143, Username: "me"}},
		{"pop3s://me@mail.example.com:1995", AccountConfig{Protocol: "pop3", TLS: client.TLSImplicit, Host: "mail.example.com", Port: 1995, Username: "me"}},
		{"pop3://me@127.0.0.1?tls=none", AccountConfig{Protocol: "pop3", TLS: client.TLSNone, Host: "127.0.0.1", Port: 110, Username: "me"}},
		{"IMAP://me%40example.com@[::1]:1143/?tls=starttls&ca_file=/ca.pem&timeout=5s",
			AccountConfig{Protocol: "imap", TLS: client.TLSStartTLS, Host: "::1", Port: 1143, Username: "me@example.com", CAFile: "/ca.pem", Timeout: 5 * time.Second}},
		{"pop3s://me@h?keep_on_server=false&keep_days=3", AccountConfig{Protocol: "pop3", TLS: client.TLSImplicit, Host: "h", Port: 995, Username: "me", KeepDays: 3}},
	}
	for _, tc := range tests {
		got, err := parseAccountURL(tc.url)
		if err != nil {
			t.Errorf("%s: %v", tc.url, err)
			continue
		}
		keep := tc.want.KeepDays == 0
		tc.want.KeepOnServer = keep
		tc.want.Name = got.Name
		if *got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.url, *got, tc.want)
		}
	}
}

func TestParseAccountURLErrors(t *testing.T) {
	tests := []struct{ url, want string }{
		{"imaps://me:hunter2@host", "a password does not belong in a URL"},
		{"smtp://me@host", `unknown scheme "smtp"`},
		{"mail.example.com", "missing scheme"},
		{"imaps://host", "missing user name"},
		{"imaps://me@", "missing host"},
		{"imaps://me@host/INBOX", "unexpected path"},
		{"imaps://me@host?tls=none", "contradicts"},
		{"imap://me@host?tls=implicit", "imaps://"},
		{"imap://me@host?tls=ssl", `unknown tls mode "ssl"`},
		{"imap://me@host?verify=no", `unknown parameter "verify"`},
		{"imap://me@host:99999", "not a port number"},
		{"imap://me@host?keep_days=2", "pop3 only"},
		{"pop3://me@host?timeout=never", "timeout"},
	}
	for _, tc := range tests {
		_, err := parseAccountURL(tc.url)
		if err == nil {
			t.Errorf("%s: no error", tc.url)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %q lacks %q", tc.url, err, tc.want)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%s: password in error %q", tc.url, err)
		}
		if exitCode(err) != exitUsage {
			t.Errorf("%s: exit code %d", tc.url, exitCode(err))
		}
	}
}

func TestURLAccountName(t *testing.T) {
	ac, err := parseAccountURL("imaps://me%40example.com@mail.example.com")
	if err != nil {
		t.Fatal(err)
	}
	if ac.Name != "url-me@example.com@mail.example.com-993-imap" {
		t.Errorf("name %q", ac.Name)
	}
	ac, err = parseAccountURL("pop3://a%2F..%2Fb%20c@[::1]:110?tls=none")
	if err != nil {
		t.Fatal(err)
	}
	if strings.ContainsAny(ac.Name, "/ :[]") || ac.Name != "url-a_.._b_c@__1-110-pop3" {
		t.Errorf("name %q is not a safe directory name", ac.Name)
	}
	if got := accountURL(ac); got != "pop3://a%2F..%2Fb%20c@[::1]:110?tls=none" {
		t.Errorf("accountURL = %q", got)
	}
}
