package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

func TestLookupProvider(t *testing.T) {
	tests := []struct {
		address  string
		name     string
		imapHost string
		pop3Host string // "" for none
		login    Login
	}{
		{"me@gmail.com", "Gmail", "imap.gmail.com", "pop.gmail.com", LoginAppPassword},
		{"Me@GoogleMail.COM", "Gmail", "imap.gmail.com", "pop.gmail.com", LoginAppPassword},
		{"a@outlook.com", "Outlook.com / Microsoft 365", "outlook.office365.com", "outlook.office365.com", LoginOAuth2},
		{"a@hotmail.com", "Outlook.com / Microsoft 365", "outlook.office365.com", "outlook.office365.com", LoginOAuth2},
		{"a@live.com", "Outlook.com / Microsoft 365", "outlook.office365.com", "outlook.office365.com", LoginOAuth2},
		{"a@fastmail.com", "Fastmail", "imap.fastmail.com", "pop.fastmail.com", LoginAppPassword},
		{"a@icloud.com", "iCloud Mail", "imap.mail.me.com", "", LoginAppPassword},
		{"a@me.com", "iCloud Mail", "imap.mail.me.com", "", LoginAppPassword},
		{"a@mac.com", "iCloud Mail", "imap.mail.me.com", "", LoginAppPassword},
		{"a@yahoo.com", "Yahoo Mail", "imap.mail.yahoo.com", "pop.mail.yahoo.com", LoginAppPassword},
		{"a@gmx.de", "GMX", "imap.gmx.net", "pop.gmx.net", LoginPassword},
		{"a@gmx.com", "GMX (gmx.com)", "imap.gmx.com", "pop.gmx.com", LoginPassword},
		{"a@mailbox.org", "mailbox.org", "imap.mailbox.org", "pop3.mailbox.org", LoginPassword},
		{"a@posteo.de", "Posteo", "posteo.de", "posteo.de", LoginPassword},
		{"posteo.net", "Posteo", "posteo.de", "posteo.de", LoginPassword},
	}
	for _, tt := range tests {
		p := LookupProvider(tt.address)
		if p == nil {
			t.Errorf("%s: no provider", tt.address)
			continue
		}
		if p.Name != tt.name || p.IMAP.Host != tt.imapHost || p.Login != tt.login || p.Note == "" {
			t.Errorf("%s: %+v", tt.address, p)
		}
		if p.IMAP.Port != 993 || p.IMAP.TLS != client.TLSImplicit {
			t.Errorf("%s: IMAP %+v", tt.address, p.IMAP)
		}
		pop, ok := p.Server(client.POP3)
		switch {
		case tt.pop3Host == "" && ok:
			t.Errorf("%s: POP3 %+v, want none", tt.address, pop)
		case tt.pop3Host != "" && (!ok || pop.Host != tt.pop3Host || pop.Port != 995 || pop.TLS != client.TLSImplicit):
			t.Errorf("%s: POP3 %+v %v", tt.address, pop, ok)
		}
	}
	for _, unknown := range []string{"a@example.org", "a@gmail.com.evil.example", "a@notgmail.com", "gmail", ""} {
		if p := LookupProvider(unknown); p != nil {
			t.Errorf("%q: %s, want no provider", unknown, p.Name)
		}
	}
	// Each domain belongs to one provider.
	seen := map[string]string{}
	for _, p := range Providers {
		for _, d := range p.Domains {
			if prev, ok := seen[d]; ok {
				t.Errorf("%s is both %s and %s", d, prev, p.Name)
			}
			seen[d] = p.Name
		}
	}
}

// TestWrittenAccountsLoad: what config init writes loads through Load as
// the same account, whatever the strings hold, and its comments stay
// comments.
func TestWrittenAccountsLoad(t *testing.T) {
	accounts := []NewAccount{
		{Name: "gmail", Protocol: client.IMAP, Host: "imap.gmail.com", Port: 993, TLS: client.TLSImplicit, Username: "me@gmail.com",
			PasswordCmd: `pass show "mail/gmail" \ tab	and "quotes" ` + "\x01", About: "Gmail. Wants an app password.\nSecond line."},
		{Name: "home-2", Protocol: client.POP3, Host: "127.0.0.1", Port: 1110, TLS: client.TLSNone, Username: "ünï", PasswordEnv: "HOME_PW"},
		{Name: "work_3", Protocol: client.IMAP, Host: "mail.example.org", Port: 143, TLS: client.TLSStartTLS, Username: "me"},
	}
	content := FileHeader("home-2", time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC))
	for _, a := range accounts {
		content += AccountTOML(a)
	}
	file := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(Options{File: file}, func(string) (string, bool) { return "", false })
	if err != nil {
		t.Fatalf("%v\n%s", err, content)
	}
	if cfg.Default != "home-2" || len(cfg.Accounts) != len(accounts) {
		t.Errorf("default %q, %d accounts", cfg.Default, len(cfg.Accounts))
	}
	for _, want := range accounts {
		got := cfg.Accounts[want.Name]
		if got == nil {
			t.Errorf("%s missing", want.Name)
			continue
		}
		if got.Protocol != want.Protocol || got.Host != want.Host || got.Port != want.Port || got.TLS != want.TLS ||
			got.Username != want.Username || got.PasswordCmd != want.PasswordCmd || got.PasswordEnv != want.PasswordEnv || got.Password != "" {
			t.Errorf("%s: loaded %+v, wrote %+v", want.Name, got, want)
		}
	}
	if !strings.Contains(content, "# Gmail. Wants an app password.\n# Second line.\n[accounts.gmail]") {
		t.Errorf("comment lines:\n%s", content)
	}
}

func TestCheckAccountName(t *testing.T) {
	for _, ok := range []string{"gmail", "home-2", "a_b"} {
		if err := CheckAccountName(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "Gmail", "../x", "a b", "-x"} {
		if err := CheckAccountName(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
