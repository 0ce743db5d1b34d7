package client

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// TLSMode is how a connection is secured.
type TLSMode string

const (
	TLSImplicit TLSMode = "implicit" // TLS from the first byte (993, 995)
	TLSStartTLS TLSMode = "starttls" // plaintext greeting, then STARTTLS/STLS; a refusal aborts
	TLSNone     TLSMode = "none"     // plaintext; only when the account says so
)

// Account is one configured mailbox, resolved from the config file or --url.
type Account struct {
	Name     string
	Protocol string // IMAP or POP3
	Host     string
	Port     int
	TLS      TLSMode
	Username string
	// Password is asked for only when the server wants it, so a command that
	// needs no login (accounts, list --offline) never runs password_cmd.
	Password func(ctx context.Context) (string, error)
	// Auth is AuthPassword (also when empty) or AuthOAuth2.
	Auth string
	// Token returns an OAuth2 access token for AuthOAuth2, asked for only
	// when a server wants it. renew is true after the server refused the
	// last one: the token must then be obtained afresh, not reused.
	Token   func(ctx context.Context, renew bool) (string, error)
	CAFile  string        // extra trust root, PEM
	Timeout time.Duration // per network wait; 0 means DefaultTimeout

	// POP3 retention: KeepOnServer false deletes after a durable download;
	// KeepDays > 0 deletes what was downloaded more than that many days ago.
	KeepOnServer bool
	KeepDays     int

	CacheDir string // where this account's Maildirs and index live
}

// How an account signs in.
const (
	AuthPassword = "password"
	AuthOAuth2   = "oauth2"
)

// Address returns host:port for the account, with the protocol's default port.
func (a *Account) Address() string {
	port := a.Port
	if port == 0 {
		port = DefaultPort(a.Protocol, a.TLS)
	}
	return net.JoinHostPort(a.Host, strconv.Itoa(port))
}

// DefaultTimeout bounds every wait on the network: a server silent for
// longer is treated as gone.
const DefaultTimeout = 30 * time.Second

// EffectiveTimeout returns Timeout or the default.
func (a *Account) EffectiveTimeout() time.Duration {
	if a.Timeout > 0 {
		return a.Timeout
	}
	return DefaultTimeout
}

// DefaultPort returns the usual port for a protocol and TLS mode.
func DefaultPort(protocol string, mode TLSMode) int {
	switch {
	case protocol == IMAP && mode == TLSImplicit:
		return 993
	case protocol == IMAP:
		return 143
	case protocol == POP3 && mode == TLSImplicit:
		return 995
	case protocol == POP3:
		return 110
	}
	return 0
}

// DialOptions are per-invocation settings that are not part of the account.
type DialOptions struct {
	// Debug receives the protocol exchange, with LOGIN, AUTHENTICATE and PASS
	// arguments redacted. Nil for none.
	Debug io.Writer
	// Stats, when set, counts commands, wire bytes and time.
	Stats *WireStats
	// Warn receives warnings meant for the user (plaintext login, no UIDL).
	Warn func(msg string)
	// Roles, when set, remembers special-use folders between sessions
	// (Mailbox sets it to the account's cache).
	Roles RoleStore
}

// Warnf formats a warning and sends it if there is somewhere to send it.
func (o DialOptions) Warnf(format string, args ...any) {
	if o.Warn != nil {
		o.Warn(fmt.Sprintf(format, args...))
	}
}
