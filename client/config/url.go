package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/duomail/duomail/client"
)

// ParseURL reads an account given on the command line, so duomail works
// with no configuration file:
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
// prompt. The values are judged by the same validator as the file's; the
// errors are usage errors (client.ErrUsage). getenv gives $HOME for "~/"
// in ca_file.
func ParseURL(raw string, getenv Getenv) (*Account, error) {
	at := origin{url: redactURL(raw)}
	bad := func(format string, args ...any) error {
		return at.fail("", fmt.Sprintf(format, args...))
	}
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, bad("%v", err)
	}
	f := fields{at: at, vals: map[string]value{}}
	set := func(field, s string) { f.vals[field] = value{v: s, at: at} }
	var mode client.TLSMode
	switch strings.ToLower(u.Scheme) {
	case "imaps":
		set("protocol", client.IMAP)
		mode = client.TLSImplicit
	case "imap":
		set("protocol", client.IMAP)
		mode = client.TLSStartTLS
	case "pop3s":
		set("protocol", client.POP3)
		mode = client.TLSImplicit
	case "pop3":
		set("protocol", client.POP3)
		mode = client.TLSStartTLS
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
	set("username", u.User.Username())
	if u.Hostname() == "" {
		return nil, bad("missing host")
	}
	set("host", u.Hostname())
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
			// The scheme already says whether TLS is implicit; the
			// parameter may only weaken imap:// or pop3:// to none, or
			// repeat starttls. Other modes go to the validator.
			switch client.TLSMode(strings.ToLower(val)) {
			case client.TLSNone, client.TLSStartTLS:
				if mode == client.TLSImplicit {
					return nil, bad("tls=%s contradicts the %s scheme (use %s://)", val, u.Scheme, strings.TrimSuffix(u.Scheme, "s"))
				}
			case client.TLSImplicit:
				if mode != client.TLSImplicit {
					return nil, bad("for implicit TLS use the %ss:// scheme", u.Scheme)
				}
			}
			set("tls", val)
		case "ca_file", "timeout", "keep_on_server", "keep_days":
			set(key, val)
		default:
			return nil, bad("unknown parameter %q (known: tls, ca_file, timeout, keep_on_server, keep_days)", key)
		}
	}
	if _, ok := f.vals["tls"]; !ok {
		set("tls", string(mode))
	}
	if p := u.Port(); p != "" {
		set("port", p)
	}
	ac, err := validate("", f, getenv)
	if err != nil {
		return nil, err
	}
	ac.Name = urlAccountName(ac)
	return ac, nil
}

// urlAccountName is how the account is called in messages and where its
// cache lives: url-<user>@<host>-<port>-<protocol>, with every character
// that could misbehave in a file name replaced.
func urlAccountName(ac *Account) string {
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

// URL formats the account as the --url that reaches the same server.
func (a *Account) URL() string {
	scheme := a.Protocol
	if a.TLS == client.TLSImplicit {
		scheme += "s"
	}
	u := url.URL{Scheme: scheme, User: url.User(a.Username), Host: net.JoinHostPort(a.Host, strconv.Itoa(a.Port))}
	if a.TLS == client.TLSNone {
		u.RawQuery = "tls=none"
	}
	return u.String()
}
