package config

import (
	"strings"

	"github.com/duomail/duomail/client"
)

// Server is where one protocol of a provider is reached.
type Server struct {
	Host string
	Port int
	TLS  client.TLSMode
}

// Login says what a provider accepts as a password from a mail client.
type Login string

const (
	// LoginPassword: the account's own password works (once IMAP or POP3
	// access is switched on, where the provider asks for that).
	LoginPassword Login = "password"
	// LoginAppPassword: a password made for this one program in the
	// provider's security settings; the account's own is refused.
	LoginAppPassword Login = "app password"
	// LoginOAuth2: only an OAuth2 sign-in, which duomail does not do: no
	// password is accepted.
	LoginOAuth2 Login = "oauth2"
)

// Provider is a mail provider known by the domains of its addresses.
type Provider struct {
	Name    string
	Domains []string
	IMAP    Server
	POP3    *Server // nil: the provider has no POP3
	Login   Login
	// Note is one line for the user: where to make the app password, what
	// to switch on, why a login may fail.
	Note string
}

// Providers are the common providers "duomail config init" recognises by
// the domain of an address. Settings as the providers publish them.
var Providers = []Provider{
	{
		Name: "Gmail", Domains: []string{"gmail.com", "googlemail.com"},
		IMAP: Server{"imap.gmail.com", 993, client.TLSImplicit}, POP3: &Server{"pop.gmail.com", 995, client.TLSImplicit},
		Login: LoginAppPassword,
		Note:  "Gmail wants an app password (Google Account > Security > 2-Step Verification > App passwords); POP3 must be enabled in Gmail's settings",
	},
	{
		Name: "Outlook.com / Microsoft 365", Domains: []string{"outlook.com", "hotmail.com", "live.com", "msn.com"},
		IMAP: Server{"outlook.office365.com", 993, client.TLSImplicit}, POP3: &Server{"outlook.office365.com", 995, client.TLSImplicit},
		Login: LoginOAuth2,
		Note:  "Microsoft accepts only OAuth2 sign-in for IMAP and POP3, which duomail does not support yet: a password login will most likely be refused",
	},
	{
		Name: "Fastmail", Domains: []string{"fastmail.com", "fastmail.fm"},
		IMAP: Server{"imap.fastmail.com", 993, client.TLSImplicit}, POP3: &Server{"pop.fastmail.com", 995, client.TLSImplicit},
		Login: LoginAppPassword,
		Note:  "Fastmail wants an app password (Settings > Privacy & Security > App passwords)",
	},
	{
		Name: "iCloud Mail", Domains: []string{"icloud.com", "me.com", "mac.com"},
		IMAP:  Server{"imap.mail.me.com", 993, client.TLSImplicit},
		Login: LoginAppPassword,
		Note:  "iCloud wants an app-specific password (account.apple.com > Sign-In and Security); it has no POP3",
	},
	{
		Name: "Yahoo Mail", Domains: []string{"yahoo.com", "ymail.com", "rocketmail.com"},
		IMAP: Server{"imap.mail.yahoo.com", 993, client.TLSImplicit}, POP3: &Server{"pop.mail.yahoo.com", 995, client.TLSImplicit},
		Login: LoginAppPassword,
		Note:  "Yahoo wants an app password (Account Security > Generate app password)",
	},
	{
		Name: "GMX", Domains: []string{"gmx.net", "gmx.de", "gmx.at", "gmx.ch"},
		IMAP: Server{"imap.gmx.net", 993, client.TLSImplicit}, POP3: &Server{"pop.gmx.net", 995, client.TLSImplicit},
		Login: LoginPassword,
		Note:  "GMX: switch on IMAP and POP3 access in the web mail's settings first",
	},
	{
		Name: "GMX (gmx.com)", Domains: []string{"gmx.com", "gmx.us", "gmx.co.uk"},
		IMAP: Server{"imap.gmx.com", 993, client.TLSImplicit}, POP3: &Server{"pop.gmx.com", 995, client.TLSImplicit},
		Login: LoginPassword,
		Note:  "GMX: switch on IMAP and POP3 access in the web mail's settings first",
	},
	{
		Name: "mailbox.org", Domains: []string{"mailbox.org"},
		IMAP: Server{"imap.mailbox.org", 993, client.TLSImplicit}, POP3: &Server{"pop3.mailbox.org", 995, client.TLSImplicit},
		Login: LoginPassword,
		Note:  "mailbox.org takes the account password, or an app password if you made one",
	},
	{
		Name: "Posteo", Domains: []string{"posteo.de", "posteo.net", "posteo.at", "posteo.ch", "posteo.org", "posteo.eu", "posteo.be", "posteo.us", "posteo.uk"},
		IMAP: Server{"posteo.de", 993, client.TLSImplicit}, POP3: &Server{"posteo.de", 995, client.TLSImplicit},
		Login: LoginPassword,
		Note:  "Posteo takes the account password",
	},
}

// LookupProvider returns the provider of an address or bare domain, nil
// for a domain not in Providers.
func LookupProvider(address string) *Provider {
	domain := strings.ToLower(strings.TrimSpace(address))
	if i := strings.LastIndexByte(domain, '@'); i >= 0 {
		domain = domain[i+1:]
	}
	domain = strings.TrimSuffix(domain, ".")
	for i := range Providers {
		for _, d := range Providers[i].Domains {
			if d == domain {
				return &Providers[i]
			}
		}
	}
	return nil
}

// Server returns the provider's server for a protocol; false when it has
// none (iCloud has no POP3).
func (p *Provider) Server(protocol string) (Server, bool) {
	switch protocol {
	case client.IMAP:
		return p.IMAP, true
	case client.POP3:
		if p.POP3 != nil {
			return *p.POP3, true
		}
	}
	return Server{}, false
}
