package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
)

// value is one setting as it arrived: typed (string, int64, bool) from the
// file, always a string from the environment or a URL. at says where, for
// the error.
type value struct {
	v  any
	at origin
}

func (v value) fail(field, msg string) error { return v.at.fail(field, msg) }

func (v value) str(field string) (string, error) {
	if s, ok := v.v.(string); ok {
		return s, nil
	}
	return "", v.fail(field, "want a string, got "+describeValue(v.v))
}

func (v value) integer(field string) (int, error) {
	switch x := v.v.(type) {
	case int64:
		return int(x), nil
	case int:
		return x, nil
	case string:
		if n, err := strconv.Atoi(strings.TrimSpace(x)); err == nil {
			return n, nil
		}
	}
	return 0, v.fail(field, "want an integer, got "+describeValue(v.v))
}

func (v value) boolean(field string) (bool, error) {
	switch x := v.v.(type) {
	case bool:
		return x, nil
	case string:
		if b, err := strconv.ParseBool(strings.TrimSpace(x)); err == nil {
			return b, nil
		}
	}
	return false, v.fail(field, "want true or false, got "+describeValue(v.v))
}

func describeValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// fields are the settings of one account, as written, before checking.
type fields struct {
	at   origin // the account as a whole: where a missing key should have been
	vals map[string]value
}

// validate is the one place where an account's settings are judged,
// whether they came from the file, the environment or a --url: types,
// protocol, TLS mode, host and user, port range, password sources,
// timeout and POP3 retention. What it returns is complete: Port is set,
// TLS is one of the three modes, so nothing downstream needs to check
// again.
func validate(name string, f fields, getenv Getenv) (*Account, error) {
	if msg := checkAccountName(name); name != "" && msg != "" {
		return nil, f.at.fail("", msg)
	}
	ac := &Account{Name: name}
	for _, s := range []struct {
		field string
		dst   *string
	}{
		{"protocol", &ac.Protocol}, {"host", &ac.Host}, {"username", &ac.Username},
		{"password", &ac.Password}, {"password_cmd", &ac.PasswordCmd}, {"password_env", &ac.PasswordEnv},
		{"ca_file", &ac.CAFile},
	} {
		if v, ok := f.vals[s.field]; ok {
			str, err := v.str(s.field)
			if err != nil {
				return nil, err
			}
			*s.dst = str
		}
	}
	ac.Protocol = strings.ToLower(ac.Protocol)
	if v, ok := f.vals["html_filter"]; ok {
		s, err := v.str("html_filter")
		if err != nil {
			return nil, err
		}
		ac.HTMLFilter, ac.HTMLFilterSet = strings.TrimSpace(s), true
	}
	var tlsMode, timeout string
	if v, ok := f.vals["tls"]; ok {
		s, err := v.str("tls")
		if err != nil {
			return nil, err
		}
		tlsMode = strings.ToLower(s)
	}
	port, hasPort := f.vals["port"]
	portN := 0
	if hasPort {
		n, err := port.integer("port")
		if err != nil {
			return nil, err
		}
		portN = n
	}
	keep, hasKeep := f.vals["keep_on_server"]
	keepB := true
	if hasKeep {
		b, err := keep.boolean("keep_on_server")
		if err != nil {
			return nil, err
		}
		keepB = b
	}
	keepDays, hasKeepDays := f.vals["keep_days"]
	keepDaysN := 0
	if hasKeepDays {
		n, err := keepDays.integer("keep_days")
		if err != nil {
			return nil, err
		}
		keepDaysN = n
	}
	tv, hasTimeout := f.vals["timeout"]
	if hasTimeout {
		s, err := tv.str("timeout")
		if err != nil {
			return nil, err
		}
		timeout = s
	}
	at := func(field string) origin {
		if v, ok := f.vals[field]; ok {
			return v.at
		}
		return f.at
	}

	switch ac.Protocol {
	case client.IMAP, client.POP3:
	case "":
		return nil, f.at.fail("protocol", `missing (set "imap" or "pop3")`)
	default:
		return nil, at("protocol").fail("protocol", fmt.Sprintf(`unknown protocol %q (want "imap" or "pop3")`, ac.Protocol))
	}
	// The one rule about TLS that must hold before anything is dialled:
	// the mode is one of three. Only "none" lets a password travel
	// unencrypted (client.CheckPlaintextAuth enforces that on the live
	// connection), so an unknown mode must never get as far as a Source.
	switch ac.TLS = client.TLSMode(tlsMode); ac.TLS {
	case client.TLSImplicit, client.TLSStartTLS, client.TLSNone:
	case "":
		ac.TLS = client.TLSImplicit
	default:
		return nil, at("tls").fail("tls", fmt.Sprintf(`unknown tls mode %q (want "implicit", "starttls" or "none")`, ac.TLS))
	}
	if ac.Host == "" {
		return nil, at("host").fail("host", "missing")
	}
	if ac.Username == "" {
		return nil, at("username").fail("username", "missing")
	}
	ac.Port = client.DefaultPort(ac.Protocol, ac.TLS)
	if hasPort {
		if portN < 1 || portN > 65535 {
			return nil, port.fail("port", fmt.Sprintf("%d is not a port number", portN))
		}
		ac.Port = portN
	}
	set := 0
	for _, s := range []string{ac.Password, ac.PasswordCmd, ac.PasswordEnv} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return nil, f.at.fail("password", "set only one of password, password_cmd and password_env")
	}
	if err := validateAuth(ac, f, at); err != nil {
		return nil, err
	}
	if ac.CAFile != "" {
		ac.CAFile = expandHome(ac.CAFile, getenv)
	}
	if hasTimeout && timeout != "" {
		d, err := time.ParseDuration(timeout)
		if err != nil || d <= 0 {
			return nil, tv.fail("timeout", fmt.Sprintf("%q is not a duration like \"30s\" or \"2m\"", timeout))
		}
		ac.Timeout = d
	}
	// POP3 retention: keep mail on the server unless told otherwise.
	if (hasKeep || hasKeepDays) && ac.Protocol != client.POP3 {
		field, v := "keep_on_server", keep
		if !hasKeep {
			field, v = "keep_days", keepDays
		}
		return nil, v.fail(field, "applies to pop3 accounts only (an IMAP server is where mail is kept)")
	}
	ac.KeepOnServer = keepB
	if hasKeepDays {
		if keepDaysN < 0 {
			return nil, keepDays.fail("keep_days", "must be 0 or more")
		}
		ac.KeepDays = keepDaysN
	}
	return ac, nil
}

// validateAuth reads how the account signs in: a password (from one of
// its sources, or the keyring) or OAuth2, whose keys make no sense
// otherwise, and the other way round.
func validateAuth(ac *Account, f fields, at func(string) origin) error {
	ac.Auth = client.AuthPassword
	if v, ok := f.vals["auth"]; ok {
		s, err := v.str("auth")
		if err != nil {
			return err
		}
		switch s = strings.ToLower(strings.TrimSpace(s)); s {
		case client.AuthPassword, client.AuthOAuth2:
			ac.Auth = s
		default:
			return v.fail("auth", fmt.Sprintf(`unknown %q (want "password" or "oauth2")`, s))
		}
	}
	if v, ok := f.vals["password_keyring"]; ok {
		b, err := v.boolean("password_keyring")
		if err != nil {
			return err
		}
		ac.PasswordKeyring = b
	}
	if ac.Auth == client.AuthOAuth2 {
		for _, k := range []string{"password", "password_cmd", "password_env", "password_keyring"} {
			if _, ok := f.vals[k]; ok {
				return at(k).fail(k, `not used with auth = "oauth2"; remove it`)
			}
		}
		o, err := validateOAuth2(f, ac.Protocol, at)
		if err != nil {
			return err
		}
		ac.OAuth2 = o
		return nil
	}
	for _, k := range oauth2Keys {
		if _, ok := f.vals[k]; ok {
			return at(k).fail(k, `applies only to accounts with auth = "oauth2"`)
		}
	}
	if ac.PasswordKeyring && (ac.Password != "" || ac.PasswordCmd != "" || ac.PasswordEnv != "") {
		return at("password_keyring").fail("password_keyring", "set only one of password, password_cmd, password_env and password_keyring")
	}
	return nil
}

// checkAccountName returns why name cannot name an account, or "". The
// name becomes the account's cache directory, so a separator or ".."
// would put the cache somewhere else, or share another account's.
func checkAccountName(name string) string {
	if accountNameRE.MatchString(name) {
		return ""
	}
	why := "account names use lowercase letters, digits, '-' and '_'"
	if strings.ContainsAny(name, `/\`) || strings.Contains(name, "..") {
		why = "an account name cannot contain '/', '\\' or '..'; " + why
	}
	return why + " (the name becomes the account's cache directory)"
}
