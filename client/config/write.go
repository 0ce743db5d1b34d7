package config

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
)

// NewAccount is an account as "duomail config init" writes it.
type NewAccount struct {
	Name        string
	Protocol    string
	Host        string
	Port        int
	TLS         client.TLSMode
	Username    string
	PasswordCmd string // at most one of PasswordCmd and PasswordEnv;
	PasswordEnv string // neither: asked on the terminal each time
	// About is a comment line put above the account (the provider and
	// what it wants for a password).
	About string
}

// CheckAccountName says why name cannot name an account; nil when it can.
func CheckAccountName(name string) error {
	if msg := checkAccountName(name); msg != "" {
		return errors.New(msg)
	}
	return nil
}

// FileHeader starts a configuration file written for the user: what it
// is, where the keys are explained, and the default account.
func FileHeader(defaultAccount string, written time.Time) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# duomail configuration, written by \"duomail config init\" on %s.\n", written.Format("2006-01-02"))
	b.WriteString("# Every key is explained in the README (Configuration); \"duomail accounts\" lists\n")
	b.WriteString("# what duomail reads from here. Add an account with \"duomail config init --append\".\n\n")
	fmt.Fprintf(&b, "default = %s   # the account used without -a\n", tomlString(defaultAccount))
	return b.String()
}

// AccountTOML is one [accounts.NAME] table with a comment on each key,
// for a file the user will read and edit.
func AccountTOML(a NewAccount) string {
	var b strings.Builder
	b.WriteString("\n")
	if a.About != "" {
		for _, line := range strings.Split(a.About, "\n") {
			b.WriteString("# " + line + "\n")
		}
	}
	fmt.Fprintf(&b, "[accounts.%s]\n", a.Name)
	where := "IMAP: mail stays on the server, in folders; every device sees the same"
	if a.Protocol == client.POP3 {
		where = "POP3: mail is downloaded into duomail's cache; the server has the inbox only"
	}
	fmt.Fprintf(&b, "protocol = %s   # %s\n", tomlString(a.Protocol), where)
	fmt.Fprintf(&b, "host = %s\n", tomlString(a.Host))
	fmt.Fprintf(&b, "port = %d\n", a.Port)
	tlsNote := map[client.TLSMode]string{
		client.TLSImplicit: "TLS from the first byte",
		client.TLSStartTLS: "plain connection upgraded with STARTTLS, which must succeed",
		client.TLSNone:     "no encryption: the password travels in clear",
	}[a.TLS]
	fmt.Fprintf(&b, "tls = %s   # %s (\"implicit\", \"starttls\" or \"none\")\n", tomlString(string(a.TLS)), tlsNote)
	fmt.Fprintf(&b, "username = %s\n", tomlString(a.Username))
	switch {
	case a.PasswordCmd != "":
		fmt.Fprintf(&b, "password_cmd = %s   # run with sh -c; its first line is the password\n", tomlString(a.PasswordCmd))
	case a.PasswordEnv != "":
		fmt.Fprintf(&b, "password_env = %s   # the environment variable holding the password\n", tomlString(a.PasswordEnv))
	default:
		b.WriteString("# No password here: duomail asks on the terminal each time (or reads DUOMAIL_PASSWORD).\n")
		b.WriteString("# password_cmd = \"pass show mail\"   # or: a command that prints it\n")
	}
	if a.Protocol == client.POP3 {
		b.WriteString("# keep_on_server = true   # keep mail on the server after download (the default)\n")
		b.WriteString("# keep_days = 0           # delete from the server N days after download (0: never)\n")
	}
	b.WriteString("# timeout = \"30s\"         # how long to wait for the server\n")
	return b.String()
}

// tomlString quotes s as a TOML basic string: the escapes TOML knows, and
// \uXXXX for any other control character.
func tomlString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
