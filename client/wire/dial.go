// Package wire is the network layer both Sources share: dialling an
// account's server with the account's timeout, verified TLS (implicit or
// after STARTTLS/STLS), per-read and per-write deadlines, counting wire
// bytes into a client.WireStats, classifying network and certificate
// failures into client.ErrNetwork/client.ErrTLS with a message a user can
// act on, and the rule for sending a password without TLS.
package wire

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/duomail/duomail/client"
)

// TLSConfig returns the verifying TLS configuration for an account: system
// roots plus the account's ca_file, server name from the host.
func TLSConfig(acct *client.Account) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: acct.Host, MinVersion: tls.VersionTLS12}
	if acct.CAFile != "" {
		pem, err := os.ReadFile(acct.CAFile)
		if err != nil {
			return nil, fmt.Errorf("read ca_file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_file %s: no PEM certificate in it", acct.CAFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// Conn is the connection both Sources talk through: wire bytes counted, and
// every read and write bounded by a timeout, so a silent server fails
// instead of hanging (go-imap sets no deadline between responses).
type Conn struct {
	net.Conn
	timeout atomic.Int64 // nanoseconds; 0 = none
}

// SetTimeout changes the bound on each read and write (e.g. longer while
// waiting in IDLE, where the server speaks only every few minutes).
func (c *Conn) SetTimeout(d time.Duration) { c.timeout.Store(int64(d)) }

func (c *Conn) Read(p []byte) (int, error) {
	if d := time.Duration(c.timeout.Load()); d > 0 {
		if err := c.Conn.SetReadDeadline(time.Now().Add(d)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Read(p)
}

func (c *Conn) Write(p []byte) (int, error) {
	if d := time.Duration(c.timeout.Load()); d > 0 {
		if err := c.Conn.SetWriteDeadline(time.Now().Add(d)); err != nil {
			return 0, err
		}
	}
	return c.Conn.Write(p)
}

// Libraries (go-imap) set their own deadlines; ours, applied on every read
// and write, are the ones that count, so theirs are dropped.
func (c *Conn) SetDeadline(time.Time) error      { return nil }
func (c *Conn) SetReadDeadline(time.Time) error  { return nil }
func (c *Conn) SetWriteDeadline(time.Time) error { return nil }

// Dial opens the TCP connection for an account, counted and bounded by the
// account's timeout. With client.TLSImplicit it also completes a verified TLS
// handshake and returns the TLS connection on top. op names the step for
// errors ("connect imap.example.com:993").
func Dial(ctx context.Context, acct *client.Account, opts client.DialOptions) (net.Conn, *Conn, error) {
	addr := acct.Address()
	d := net.Dialer{Timeout: acct.EffectiveTimeout(), KeepAlive: 15 * time.Second}
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, nil, NetError("connect "+addr, err)
	}
	base := &Conn{Conn: countConn(raw, opts.Stats)}
	base.SetTimeout(acct.EffectiveTimeout())
	if acct.TLS != client.TLSImplicit {
		return base, base, nil
	}
	tc, err := StartTLS(ctx, base, acct)
	if err != nil {
		base.Close()
		return nil, nil, err
	}
	return tc, base, nil
}

// StartTLS runs a verified TLS client handshake over conn (implicit TLS, or
// after the server accepted STARTTLS/STLS).
func StartTLS(ctx context.Context, conn net.Conn, acct *client.Account) (*tls.Conn, error) {
	cfg, err := TLSConfig(acct)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(conn, cfg)
	hctx, cancel := context.WithTimeout(ctx, acct.EffectiveTimeout())
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		var rec tls.RecordHeaderError
		if errors.As(err, &rec) && acct.TLS == client.TLSImplicit {
			if perr := PlainAnswer("TLS handshake with "+acct.Address(), acct, rec.RecordHeader[:]); perr != nil {
				return nil, perr
			}
		}
		return nil, NetError("TLS handshake with "+acct.Address(), err)
	}
	return tc, nil
}

// TLSDescription names the TLS in use for capabilities output.
func TLSDescription(c net.Conn, mode client.TLSMode) string {
	tc, ok := c.(*tls.Conn)
	if !ok {
		return "none"
	}
	return tls.VersionName(tc.ConnectionState().Version) + " (" + string(mode) + ")"
}

// NetError wraps a network failure with client.ErrNetwork (and client.ErrTLS for
// certificate problems) and a message a user can act on: which step failed
// and why, never a bare EOF.
func NetError(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, client.ErrNetwork) {
		return fmt.Errorf("%s: %w", op, err)
	}
	var (
		hostErr   x509.HostnameError
		unknownCA x509.UnknownAuthorityError
		invalid   x509.CertificateInvalidError
		verifyErr *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
		netErr    net.Error
		alertErr  tls.AlertError
	)
	switch {
	case errors.As(err, &hostErr):
		return fmt.Errorf("%s: %w: certificate is not valid for host %q: %v", op, client.ErrTLS, hostErr.Host, hostErr)
	case errors.As(err, &unknownCA):
		return fmt.Errorf("%s: %w: certificate signed by an unknown authority (set ca_file to trust it): %v", op, client.ErrTLS, unknownCA)
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Errorf("%s: %w: certificate has expired or is not yet valid: %v", op, client.ErrTLS, invalid)
	case errors.As(err, &invalid):
		return fmt.Errorf("%s: %w: invalid certificate: %v", op, client.ErrTLS, invalid)
	case errors.As(err, &verifyErr):
		return fmt.Errorf("%s: %w: certificate verification failed: %v", op, client.ErrTLS, verifyErr.Err)
	case errors.As(err, &recordErr):
		return fmt.Errorf("%s: %w: server did not answer with TLS (wrong port or tls mode?)", op, client.ErrTLS)
	case errors.As(err, &alertErr):
		return fmt.Errorf("%s: %w: %v", op, client.ErrTLS, alertErr)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, net.ErrClosed):
		return fmt.Errorf("%s: %w: connection closed by server", op, client.ErrNetwork)
	case errors.Is(err, syscall.ECONNRESET):
		return fmt.Errorf("%s: %w: connection reset by server", op, client.ErrNetwork)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("%s: %w: connection refused", op, client.ErrNetwork)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Errorf("%s: %w: timed out waiting for the server", op, client.ErrNetwork)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("%s: %w", op, err)
	}
	return fmt.Errorf("%s: %w: %v", op, client.ErrNetwork, err)
}

// isLoopback reports whether host names this machine, where a plaintext
// password never crosses a network.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// CheckPlaintextAuth enforces the rule that a password crosses an unencrypted
// connection only when the account says tls = "none", and then with a warning
// unless the host is loopback. Sources call it before sending credentials.
func CheckPlaintextAuth(acct *client.Account, encrypted bool, opts client.DialOptions) error {
	if encrypted {
		return nil
	}
	if acct.TLS != client.TLSNone {
		return fmt.Errorf("login to %s: %w: refusing to send the password without TLS", acct.Address(), client.ErrTLS)
	}
	if !isLoopback(acct.Host) {
		opts.Warnf("account %s: sending the password to %s without encryption (tls = \"none\")", acct.Name, acct.Host)
	}
	return nil
}
