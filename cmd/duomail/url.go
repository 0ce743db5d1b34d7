package main

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
)

// --url describes an account on the command line, so duomail works with no
// configuration file:
//
//	imaps://user@host[:port]   IMAP, implicit TLS (993)
//	imap://user@host[:port]    IMAP, STARTTLS required (143)
//	pop3s://user@host[:port]   POP3, implicit TLS (995)
//	pop3://user@host[:port]    POP3, STLS required (110)
//
// Query parameters: tls=none (plaintext; imap:// and pop3:// only),
// ca_file=PATH, timeout=30s, and for POP3 keep_on_server=false and
// keep_days=N. A password in the URL is refused: command lines are visible
// to every user of the machine (ps), so it comes from DUOMAIL_PASSWORD or a
// prompt.
func parseAccountURL(raw string) (*AccountConfig, error) {
	bad := func(format string, args ...any) error {
		return usageErrorf("--url %s: "+format, append([]any{redactURL(raw)}, args...)...)
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, bad("%v", err)
	}
	ac := &AccountConfig{KeepOnServer: true}
	switch strings.ToLower(u.Scheme) {
	case "imaps":
		ac.Protocol, ac.TLS = client.IMAP, client.TLSImplicit
	case "imap":
		ac.Protocol, ac.TLS = client.IMAP, client.TLSStartTLS
	case "pop3s":
		ac.Protocol, ac.TLS = client.POP3, client.TLSImplicit
	case "pop3":
		ac.Protocol, ac.TLS = client.POP3, client.TLSStartTLS
	case "":
		return nil, bad("missing scheme (imaps://, imap://, pop3s:// or pop3://)")
	default:
		return nil, bad("unknown scheme %q (want imaps, imap, pop3s or pop3)", u.Scheme)
	}
	if u.User == nil || u.User.Username() == "" {
		return nil, bad("missing user name (scheme://user@host)")
	}
	if _, has := u.User.Password(); has {
		return nil, bad("a password does not belong in a URL, where other users can see it; set DUOMAIL_PASSWORD or let duomail ask")
	}
	ac.Username = u.User.Username()
	ac.Host = u.Hostname()
	if ac.Host == "" {
		return nil, bad("missing host")
	}
	if u.Path != "" && u.Path != "/" {
		return nil, bad("unexpected path %q (folders are chosen with -f)", u.Path)
	}
	if u.Opaque != "" || u.Fragment != "" {
		return nil, bad("not of the form scheme://user@host[:port]")
	}
	for key, vals := range u.Query() {
		val := vals[len(vals)-1]
		switch key {
		case "tls":
			switch client.TLSMode(val) {
			case client.TLSNone, client.TLSStartTLS:
				if ac.TLS == client.TLSImplicit {
					return nil, bad("tls=%s contradicts the %s scheme (use %s://)", val, u.Scheme, strings.TrimSuffix(u.Scheme, "s"))
				}
				ac.TLS = client.TLSMode(val)
			case client.TLSImplicit:
				if ac.TLS != client.TLSImplicit {
					return nil, bad("for implicit TLS use the %ss:// scheme", u.Scheme)
				}
			default:
				return nil, bad("unknown tls mode %q (want none or starttls)", val)
			}
		case "ca_file":
			ac.CAFile = expandHome(val)
		case "timeout":
			d, err := time.ParseDuration(val)
			if err != nil || d <= 0 {
				return nil, bad("timeout %q is not a duration like 30s", val)
			}
			ac.Timeout = d
		case "keep_on_server", "keep_days":
			if ac.Protocol != client.POP3 {
				return nil, bad("%s applies to pop3 only", key)
			}
			if key == "keep_on_server" {
				b, err := strconv.ParseBool(val)
				if err != nil {
					return nil, bad("keep_on_server %q: want true or false", val)
				}
				ac.KeepOnServer = b
			} else {
				n, err := strconv.Atoi(val)
				if err != nil || n < 0 {
					return nil, bad("keep_days %q: want a number of days", val)
				}
				ac.KeepDays = n
			}
		default:
			return nil, bad("unknown parameter %q (known: tls, ca_file, timeout, keep_on_server, keep_days)", key)
		}
	}
	ac.Port = client.DefaultPort(ac.Protocol, ac.TLS)
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, bad("%q is not a port number", p)
		}
		ac.Port = n
	}
	ac.Name = urlAccountName(ac)
	return ac, nil
}

// urlAccountName is how the account is called in messages and where its
// cache lives: url-<user>@<host>-<port>-<protocol>, with every character
// that could misbehave in a file name replaced.
func urlAccountName(ac *AccountConfig) string {
	name := fmt.Sprintf("url-%s@%s-%d-%s", ac.Username, ac.Host, ac.Port, ac.Protocol)
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '@', r == '-', r == '.', r == '_':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// redactURL drops a password from a URL before it appears in a message.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		if i := strings.Index(raw, "@"); i >= 0 {
			if j := strings.Index(raw, "://"); j >= 0 && j < i && strings.Contains(raw[j+3:i], ":") {
				return raw[:j+3] + "REDACTED" + raw[i:]
			}
		}
		return raw
	}
	if _, has := u.User.Password(); has {
		u.User = url.UserPassword(u.User.Username(), "REDACTED")
	}
	return u.String()
}

// accountURL formats an account as the --url that reaches it.
func accountURL(ac *AccountConfig) string {
	scheme := ac.Protocol
	if ac.TLS == client.TLSImplicit {
		scheme += "s"
	}
	u := url.URL{Scheme: scheme, User: url.User(ac.Username), Host: net.JoinHostPort(ac.Host, strconv.Itoa(ac.Port))}
	if ac.TLS == client.TLSNone {
		u.RawQuery = "tls=none"
	}
	return u.String()
}
