package imapsrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/imapsrc/imaptest"
)

// fake is a scripted IMAP server: the usual answers for logging in,
// listing and selecting, and a hook for the command under test.
type fake struct {
	greeting string // default: OK with IMAP4rev1 AUTH=PLAIN
	caps     string // after login
	// readOnly: SELECT opens folders read-only, as for an account that
	// may only read them.
	readOnly bool
	// handle answers a command itself when it returns true.
	handle func(p *imaptest.Peer, tag, name, args string) bool

	mu   sync.Mutex
	seen []string // command names received
}

func (f *fake) saw(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.seen {
		if s == name {
			return true
		}
	}
	return false
}

// start serves f and returns an account for it (tls none, timeout 1 s).
func (f *fake) start(t *testing.T) *client.Account {
	t.Helper()
	addr, stop, err := imaptest.Script(f.serve)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	host, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	return &client.Account{
		Name: "fake", Protocol: client.IMAP, Host: host, Port: n, TLS: client.TLSNone,
		Username: "alice", Timeout: time.Second,
		Password: func(context.Context) (string, error) { return "secret", nil },
	}
}

func (f *fake) serve(c net.Conn) {
	p := imaptest.NewPeer(c)
	greeting := f.greeting
	if greeting == "" {
		greeting = "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] fake ready"
	}
	caps := f.caps
	if caps == "" {
		caps = "IMAP4rev1 UIDPLUS IDLE"
	}
	if p.Send(greeting) != nil {
		return
	}
	for {
		tag, name, args, err := p.ReadCommand()
		if err != nil {
			return
		}
		f.mu.Lock()
		f.seen = append(f.seen, name)
		f.mu.Unlock()
		if n, ok := literalSize(args); ok {
			// A literal argument (a LOGIN password with odd characters).
			p.Send("+ go ahead")
			io.CopyN(io.Discard, p.R, n)
			p.R.ReadString('\n')
		}
		if f.handle != nil && f.handle(p, tag, name, args) {
			continue
		}
		switch name {
		case "CAPABILITY":
			p.Send("* CAPABILITY "+caps, tag+" OK done")
		case "LOGIN", "AUTHENTICATE":
			p.Send(tag + " OK [CAPABILITY " + caps + "] logged in")
		case "LIST":
			p.Send(`* LIST () "/" INBOX`, tag+" OK done")
		case "SELECT", "EXAMINE":
			access := "[READ-WRITE]"
			if name == "EXAMINE" || f.readOnly {
				access = "[READ-ONLY]"
			}
			p.Send("* 2 EXISTS", "* OK [UIDVALIDITY 7] ok", "* OK [UIDNEXT 3] ok", tag+" OK "+access+" done")
		case "UID SEARCH":
			// Both messages exist.
			p.Send("* SEARCH 1 2", tag+" OK done")
		case "LOGOUT":
			p.Send("* BYE bye", tag+" OK done")
			return
		default:
			p.Send(tag + " OK done")
		}
	}
}

func TestSilentServerTimesOut(t *testing.T) {
	silent := func(c net.Conn) { io.Copy(io.Discard, c) }
	greetsOnly := func(c net.Conn) {
		c.Write([]byte("* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] hello\r\n"))
		io.Copy(io.Discard, c)
	}
	for name, h := range map[string]func(net.Conn){"never greets": silent, "greets, then silence": greetsOnly} {
		addr, stop, err := imaptest.Script(h)
		if err != nil {
			t.Fatal(err)
		}
		defer stop()
		host, port, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(port)
		acct := &client.Account{Name: "x", Protocol: client.IMAP, Host: host, Port: n, TLS: client.TLSNone, Username: "alice",
			Timeout: time.Second, Password: func(context.Context) (string, error) { return "secret", nil }}
		start := time.Now()
		_, err = Dial(bg, acct, client.DialOptions{})
		if !errors.Is(err, client.ErrNetwork) || !strings.Contains(err.Error(), "timed out") {
			t.Errorf("%s: %v", name, err)
		}
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("%s: took %v with a 1 s timeout", name, d)
		}
	}

	// Logged in, then no answer to a command.
	f := &fake{handle: func(p *imaptest.Peer, tag, name, args string) bool { return name == "EXAMINE" || name == "SELECT" }}
	acct := f.start(t)
	src, err := Dial(bg, acct, client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	start := time.Now()
	_, err = src.Status(bg, "INBOX")
	if !errors.Is(err, client.ErrNetwork) || !strings.Contains(err.Error(), "timed out") || time.Since(start) > 8*time.Second {
		t.Errorf("silent SELECT: %v after %v", err, time.Since(start))
	}
	// The session is over, and says why.
	if _, err := src.Folders(bg); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("after timeout: %v", err)
	}
}

// An idle Source outlives its timeout: only waits for an answer are bounded.
// A password prompt slower than the timeout is no failure either.
func TestIdleSessionSurvivesTimeout(t *testing.T) {
	f := &fake{}
	acct := f.start(t)
	acct.Timeout = 300 * time.Millisecond
	acct.Password = func(context.Context) (string, error) {
		time.Sleep(time.Second)
		return "secret", nil
	}
	src, err := Dial(bg, acct, client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	time.Sleep(time.Second)
	if _, err := src.Status(bg, "INBOX"); err != nil {
		t.Errorf("after an idle second: %v", err)
	}
}

func TestCancelStopsPromptly(t *testing.T) {
	f := &fake{handle: func(p *imaptest.Peer, tag, name, args string) bool {
		if name == "UID FETCH" {
			// Start a message and stall in the middle of it.
			p.Send("* 1 FETCH (UID 1 RFC822.SIZE 100 BODY[] {100}", "partial")
			return true
		}
		return false
	}}
	acct := f.start(t)
	acct.Timeout = time.Minute
	src, err := Dial(bg, acct, client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	ctx, cancel := context.WithCancel(bg)
	time.AfterFunc(200*time.Millisecond, cancel)
	start := time.Now()
	err = src.Download(ctx, client.FolderRef{Name: "INBOX"}, []string{"1"}, func(_ string, _ int64, r io.Reader) error {
		_, err := io.Copy(io.Discard, r)
		return err
	})
	if !errors.Is(err, context.Canceled) || time.Since(start) > 8*time.Second {
		t.Errorf("cancelled download: %v after %v", err, time.Since(start))
	}
}

// FETCH data imapclient cannot match (the literal before the UID, or the
// same message twice) must not make messages vanish silently.
func TestUnmatchedFetchFailsLoudly(t *testing.T) {
	const body = "Subject: x\r\n\r\nhello\r\n"
	lit := fmt.Sprintf("{%d}\r\n%s", len(body), body)
	t.Run("download, literal before UID", func(t *testing.T) {
		f := &fake{handle: func(p *imaptest.Peer, tag, name, args string) bool {
			if name != "UID FETCH" {
				return false
			}
			p.Send(fmt.Sprintf("* 1 FETCH (UID 1 RFC822.SIZE %d BODY[] %s)", len(body), lit),
				fmt.Sprintf("* 2 FETCH (BODY[] %s UID 2)", lit), tag+" OK done")
			return true
		}}
		src, err := Dial(bg, f.start(t), client.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var got []string
		err = src.Download(bg, client.FolderRef{Name: "INBOX"}, []string{"1", "2"}, func(id string, _ int64, r io.Reader) error {
			got = append(got, id)
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if !errors.Is(err, client.ErrProtocol) || !strings.Contains(err.Error(), "uid 2 ") || strings.Join(got, ",") != "1" {
			t.Errorf("got %v, err %v", got, err)
		}
	})
	t.Run("download, duplicate", func(t *testing.T) {
		f := &fake{handle: func(p *imaptest.Peer, tag, name, args string) bool {
			if name != "UID FETCH" {
				return false
			}
			one := fmt.Sprintf("* 1 FETCH (UID 1 RFC822.SIZE %d BODY[] %s)", len(body), lit)
			p.Send(one, one, tag+" OK done")
			return true
		}}
		src, err := Dial(bg, f.start(t), client.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		calls := 0
		err = src.Download(bg, client.FolderRef{Name: "INBOX"}, []string{"1", "2"}, func(id string, _ int64, r io.Reader) error {
			calls++
			_, err := io.Copy(io.Discard, r)
			return err
		})
		if !errors.Is(err, client.ErrProtocol) || !strings.Contains(err.Error(), "uid 2 ") || calls != 1 {
			t.Errorf("%d calls, err %v", calls, err)
		}
	})
	t.Run("list, duplicate instead of the second", func(t *testing.T) {
		// (Literals inside ENVELOPE are read whole by imapclient, so the
		// item order cannot lose an envelope; a missing one can.)
		bs := `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 5 1 NIL NIL NIL NIL)`
		one := "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 5 ENVELOPE (NIL \"hello\" NIL NIL NIL NIL NIL NIL NIL NIL) BODYSTRUCTURE " + bs + ")"
		f := &fake{handle: func(p *imaptest.Peer, tag, name, args string) bool {
			if name != "UID FETCH" {
				return false
			}
			p.Send(one, one, tag+" OK done")
			return true
		}}
		src, err := Dial(bg, f.start(t), client.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		var got []string
		_, err = src.List(bg, client.FolderRef{Name: "INBOX"}, client.ListOptions{}, func(e client.Envelope) error {
			got = append(got, e.ID+":"+e.Subject)
			return nil
		})
		if !errors.Is(err, client.ErrProtocol) || !strings.Contains(err.Error(), "uid 2 ") {
			t.Errorf("got %v, err %v", got, err)
		}
	})
	t.Run("inventory, duplicate", func(t *testing.T) {
		f := &fake{handle: func(p *imaptest.Peer, tag, name, args string) bool {
			if name != "UID FETCH" {
				return false
			}
			p.Send("* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 5)", "* 1 FETCH (UID 1 FLAGS () RFC822.SIZE 5)", tag+" OK done")
			return true
		}}
		src, err := Dial(bg, f.start(t), client.DialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer src.Close()
		_, items, err := src.Inventory(bg, client.FolderRef{Name: "INBOX"}, client.InventoryOptions{})
		if !errors.Is(err, client.ErrProtocol) || !strings.Contains(err.Error(), "uid 2 ") {
			t.Errorf("items %v, err %v", items, err)
		}
	})
}

func TestStartTLSTraps(t *testing.T) {
	starttlsGreeting := "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready"
	t.Run("NO to STARTTLS", func(t *testing.T) {
		f := &fake{greeting: starttlsGreeting, handle: func(p *imaptest.Peer, tag, name, args string) bool {
			if name == "STARTTLS" {
				p.Send(tag + " NO not today")
				return true
			}
			return false
		}}
		acct := f.start(t)
		acct.TLS = client.TLSStartTLS
		asked := countPassword(acct)
		_, err := Dial(bg, acct, client.DialOptions{})
		if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), "not today") {
			t.Errorf("err %v", err)
		}
		time.Sleep(50 * time.Millisecond)
		if f.saw("LOGIN") || f.saw("AUTHENTICATE") || asked.Load() != 0 {
			t.Errorf("credentials sent or asked for after STARTTLS was refused: %v", f.seen)
		}
	})
	t.Run("data injected after the OK", func(t *testing.T) {
		f := &fake{greeting: starttlsGreeting, handle: func(p *imaptest.Peer, tag, name, args string) bool {
			if name == "STARTTLS" {
				p.Send(tag+" OK begin TLS", "* OK [CAPABILITY IMAP4rev1 AUTH=PLAIN] injected")
				return true
			}
			return false
		}}
		acct := f.start(t)
		acct.TLS = client.TLSStartTLS
		_, err := Dial(bg, acct, client.DialOptions{})
		if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), "injection") {
			t.Errorf("err %v", err)
		}
	})
	t.Run("STARTTLS not offered", func(t *testing.T) {
		f := &fake{}
		acct := f.start(t)
		acct.TLS = client.TLSStartTLS
		if _, err := Dial(bg, acct, client.DialOptions{}); !errors.Is(err, client.ErrTLS) {
			t.Errorf("err %v", err)
		}
	})
	t.Run("PREAUTH in plaintext", func(t *testing.T) {
		f := &fake{greeting: "* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] welcome"}
		acct := f.start(t)
		acct.TLS = client.TLSStartTLS
		if _, err := Dial(bg, acct, client.DialOptions{}); !errors.Is(err, client.ErrTLS) {
			t.Errorf("err %v", err)
		}
	})
}

func TestLoginFallbacks(t *testing.T) {
	t.Run("LOGIN with a literal password is redacted", func(t *testing.T) {
		f := &fake{greeting: "* OK [CAPABILITY IMAP4rev1] no SASL here"}
		acct := f.start(t)
		const pass = "p\u00e4ss{w\u00f6rd}\"x"
		acct.Password = func(context.Context) (string, error) { return pass, nil }
		var trace syncBuffer
		src, err := Dial(bg, acct, client.DialOptions{Debug: &trace})
		if err != nil {
			t.Fatal(err)
		}
		src.Close()
		if !f.saw("LOGIN") {
			t.Errorf("LOGIN not used: %v", f.seen)
		}
		out := trace.String()
		for _, secret := range []string{pass, "p\u00e4ss", "w\u00f6rd"} {
			if strings.Contains(out, secret) {
				t.Errorf("trace contains %q:\n%s", secret, out)
			}
		}
		if !strings.Contains(out, "LOGIN [redacted]") {
			t.Errorf("trace:\n%s", out)
		}
	})
	t.Run("LOGINDISABLED without PLAIN", func(t *testing.T) {
		f := &fake{greeting: "* OK [CAPABILITY IMAP4rev1 LOGINDISABLED AUTH=GSSAPI] hi"}
		acct := f.start(t)
		asked := countPassword(acct)
		_, err := Dial(bg, acct, client.DialOptions{})
		if !errors.Is(err, client.ErrUnsupported) || asked.Load() != 0 || f.saw("LOGIN") {
			t.Errorf("err %v, password asked %d, seen %v", err, asked.Load(), f.seen)
		}
	})
	t.Run("BYE greeting", func(t *testing.T) {
		f := &fake{greeting: "* BYE too busy"}
		_, err := Dial(bg, f.start(t), client.DialOptions{})
		if !errors.Is(err, client.ErrServer) || !strings.Contains(err.Error(), "too busy") {
			t.Errorf("err %v", err)
		}
	})
}

func TestWatchWithoutIdle(t *testing.T) {
	f := &fake{caps: "IMAP4rev1 UIDPLUS"}
	src, err := Dial(bg, f.start(t), client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if src.Capabilities().Has(client.FeaturePush) {
		t.Error("push claimed without IDLE")
	}
	if err := src.(client.Watcher).Watch(bg, "INBOX"); !errors.Is(err, client.ErrUnsupported) {
		t.Errorf("watch: %v", err)
	}
}
