package popsrc

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/popsrc/pop3test"
)

const password = "secret"

func startServer(t *testing.T, opts pop3test.Options) *pop3test.Server {
	t.Helper()
	srv, err := pop3test.Start(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.AddUser("alice", password)
	return srv
}

func passwordFunc(pw string) func(context.Context) (string, error) {
	return func(context.Context) (string, error) { return pw, nil }
}

func account(host string, port int, mode client.TLSMode) *client.Account {
	return &client.Account{
		Name: "test", Protocol: client.POP3, Host: host, Port: port, TLS: mode,
		Username: "alice", Password: passwordFunc(password), Timeout: 5 * time.Second,
	}
}

func serverAccount(srv *pop3test.Server, mode client.TLSMode) *client.Account {
	return account(srv.Host(), srv.Port(), mode)
}

// warnings collects what a Source tells the user.
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) add(m string) { w.mu.Lock(); w.msgs = append(w.msgs, m); w.mu.Unlock() }

func (w *warnings) all() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]string(nil), w.msgs...)
}

func mustDial(t *testing.T, acct *client.Account, opts client.DialOptions) *Source {
	t.Helper()
	s, err := dial(context.Background(), acct, opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func testMessage(i int) []byte {
	return fmt.Appendf(nil, "From: sender%d@example.org\r\nTo: alice@example.com\r\nSubject: message %d\r\n"+
		"Date: Mon, 02 Jan 2023 15:04:%02d +0000\r\nMessage-ID: <m%d@example.org>\r\n\r\n"+
		"Body of message %d.\r\n.leading dot\r\n.\r\n", i, i, i%60, i, i)
}

// download fetches ids and returns the messages in the order fn saw them.
func download(t *testing.T, s client.Source, ids []string) ([]string, [][]byte, error) {
	t.Helper()
	var gotIDs []string
	var bodies [][]byte
	err := s.Download(context.Background(), client.FolderRef{Name: client.Inbox}, ids, func(id string, size int64, r io.Reader) error {
		b, err := io.ReadAll(r)
		if err != nil {
			return err
		}
		gotIDs = append(gotIDs, id)
		bodies = append(bodies, b)
		return nil
	})
	return gotIDs, bodies, err
}

func inventoryIDs(t *testing.T, s client.Source) []string {
	t.Helper()
	st, items, err := s.Inventory(context.Background(), client.FolderRef{Name: client.Inbox}, client.InventoryOptions{})
	if err != nil {
		t.Fatalf("inventory: %v", err)
	}
	if st.Messages != len(items) || st.Unseen != -1 {
		t.Errorf("status %+v for %d items", st, len(items))
	}
	var ids []string
	for _, it := range items {
		if it.Flags != nil {
			t.Errorf("item %s has flags %v; POP3 keeps none", it.ID, it.Flags)
		}
		ids = append(ids, it.ID)
	}
	return ids
}

func countVerb(cmds []string, verb string) int {
	n := 0
	for _, c := range cmds {
		if c == verb || strings.HasPrefix(c, verb+" ") {
			n++
		}
	}
	return n
}

func TestLoginMethods(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts pop3test.Options
		want string // the login command the server must see
	}{
		{"auth plain", pop3test.Options{}, "AUTH PLAIN [redacted]"},
		{"user pass", pop3test.Options{HideSASLPlain: true}, "PASS [redacted]"},
		{"no capa", pop3test.Options{NoCAPA: true}, "PASS [redacted]"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.opts)
			srv.Add("alice", testMessage(1))
			s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{})
			if ids := inventoryIDs(t, s); len(ids) != 1 {
				t.Fatalf("ids %v", ids)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			cmds := srv.Commands()
			if !slices.Contains(cmds, tc.want) {
				t.Fatalf("commands %v lack %q", cmds, tc.want)
			}
		})
	}
}

func TestNoLoginMethod(t *testing.T) {
	srv := startServer(t, pop3test.Options{HideSASLPlain: true, HideUSER: true})
	asked := false
	acct := serverAccount(srv, client.TLSNone)
	acct.Password = func(context.Context) (string, error) { asked = true; return password, nil }
	_, err := dial(context.Background(), acct, client.DialOptions{})
	if !errors.Is(err, client.ErrUnsupported) || asked {
		t.Fatalf("err %v (password asked: %v), want ErrUnsupported before asking for the password", err, asked)
	}
}

func TestWrongPassword(t *testing.T) {
	for _, opts := range []pop3test.Options{{}, {HideSASLPlain: true}} {
		srv := startServer(t, opts)
		acct := serverAccount(srv, client.TLSNone)
		acct.Password = passwordFunc("wrong")
		_, err := dial(context.Background(), acct, client.DialOptions{})
		var se *client.ServerError
		if !errors.Is(err, client.ErrAuth) || !errors.As(err, &se) || !strings.Contains(se.Text, "invalid user name or password") {
			t.Fatalf("err %v, want ErrAuth with the server's text", err)
		}
		if se.Op != "login" || strings.Contains(err.Error(), "wrong") {
			t.Fatalf("err %v", err)
		}
	}
}

// testTLS makes a CA and server TLS config for pop3test.
func testTLS(t *testing.T, opts sourcetest.CertOptions) (*tls.Config, string) {
	dir := t.TempDir()
	ca := sourcetest.NewCA(t, dir)
	return ca.ServerTLS(t, dir, opts), ca.PEMFile
}

func TestTLSModes(t *testing.T) {
	cfg, caFile := testTLS(t, sourcetest.CertOptions{})
	t.Run("implicit", func(t *testing.T) {
		srv := startServer(t, pop3test.Options{TLS: cfg})
		acct := serverAccount(srv, client.TLSImplicit)
		acct.CAFile = caFile
		s := mustDial(t, acct, client.DialOptions{})
		if caps := s.Capabilities(); !strings.HasPrefix(caps.TLS, "TLS 1.3 (implicit)") {
			t.Fatalf("TLS %q", caps.TLS)
		}
	})
	t.Run("stls", func(t *testing.T) {
		srv := startServer(t, pop3test.Options{STLS: cfg})
		acct := serverAccount(srv, client.TLSStartTLS)
		acct.CAFile = caFile
		s := mustDial(t, acct, client.DialOptions{})
		if caps := s.Capabilities(); caps.TLS != "TLS 1.3 (starttls)" || slices.Contains(caps.Announced, "STLS") {
			t.Fatalf("caps %+v", caps)
		}
		s.Close()
		// CAPA again over TLS, and the password only after STLS.
		cmds := srv.Commands()
		stls := slices.Index(cmds, "STLS")
		if stls < 0 || countVerb(cmds[stls:], "CAPA") < 1 || slices.Index(cmds, "AUTH PLAIN [redacted]") < stls {
			t.Fatalf("commands %v", cmds)
		}
	})
	t.Run("missing ca_file", func(t *testing.T) {
		srv := startServer(t, pop3test.Options{TLS: cfg})
		_, err := dial(context.Background(), serverAccount(srv, client.TLSImplicit), client.DialOptions{})
		if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), "unknown authority") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("wrong host", func(t *testing.T) {
		other, caFile := testTLS(t, sourcetest.CertOptions{Hosts: []string{"mail.example.org"}})
		srv := startServer(t, pop3test.Options{STLS: other})
		acct := serverAccount(srv, client.TLSStartTLS)
		acct.CAFile = caFile
		_, err := dial(context.Background(), acct, client.DialOptions{})
		if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), "not valid for host") {
			t.Fatalf("err %v", err)
		}
		if countVerb(srv.Commands(), "AUTH")+countVerb(srv.Commands(), "PASS") != 0 {
			t.Fatalf("credentials sent: %v", srv.Commands())
		}
	})
}

func TestSTLSFailuresAbort(t *testing.T) {
	cfg, caFile := testTLS(t, sourcetest.CertOptions{})
	for _, tc := range []struct {
		name string
		opts pop3test.Options
		want string
	}{
		{"not offered", pop3test.Options{}, "does not offer STLS"},
		{"refused", pop3test.Options{STLS: cfg, STLSError: true}, "TLS is broken today"},
		{"injection", pop3test.Options{STLS: cfg, STLSInject: []byte("+OK injected\r\n")}, "possible injection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServer(t, tc.opts)
			acct := serverAccount(srv, client.TLSStartTLS)
			acct.CAFile = caFile
			_, err := dial(context.Background(), acct, client.DialOptions{})
			if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err %v, want ErrTLS with %q", err, tc.want)
			}
			// Nothing after the failure: never on in plaintext.
			time.Sleep(50 * time.Millisecond)
			cmds := srv.Commands()
			if last := cmds[len(cmds)-1]; last != "STLS" && last != "CAPA" {
				t.Fatalf("commands after the TLS failure: %v", cmds)
			}
		})
	}
}

func TestPlaintextPasswordRefused(t *testing.T) {
	srv := startServer(t, pop3test.Options{})
	acct := serverAccount(srv, client.TLSImplicit)
	acct.TLS = client.TLSMode("")
	_, err := dial(context.Background(), acct, client.DialOptions{})
	if !errors.Is(err, client.ErrTLS) {
		t.Fatalf("err %v", err)
	}
	if n := countVerb(srv.Commands(), "AUTH") + countVerb(srv.Commands(), "PASS") + countVerb(srv.Commands(), "USER"); n != 0 {
		t.Fatalf("credentials sent: %v", srv.Commands())
	}
}

func TestDebugTraceRedactsPassword(t *testing.T) {
	for _, opts := range []pop3test.Options{{}, {HideSASLPlain: true}} {
		srv := startServer(t, opts)
		srv.Add("alice", testMessage(1))
		var trace bytes.Buffer
		s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{Debug: &trace})
		ids := inventoryIDs(t, s)
		download(t, s, ids)
		s.Close()
		out := trace.String()
		b64 := "AGFsaWNlAHNlY3JldA==" // base64("\x00alice\x00secret")
		if strings.Contains(out, password) || strings.Contains(out, b64) || !strings.Contains(out, "[redacted]") {
			t.Fatalf("trace leaks or lacks redaction:\n%s", out)
		}
		if !strings.Contains(out, "C: RETR 1") || !strings.Contains(out, "S: +OK") {
			t.Fatalf("trace lacks the exchange:\n%s", out)
		}
	}
}

func TestStatsCountCommands(t *testing.T) {
	srv := startServer(t, pop3test.Options{})
	for i := 0; i < 3; i++ {
		srv.Add("alice", testMessage(i))
	}
	stats := client.NewWireStats(client.POP3)
	s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{Stats: stats})
	download(t, s, inventoryIDs(t, s))
	s.Close()
	tot := stats.Total()
	if want := len(srv.Commands()); tot.Commands != want {
		t.Fatalf("counted %d commands, server saw %d: %v", tot.Commands, want, srv.Commands())
	}
	if tot.Received < 3*int64(len(testMessage(0))) || tot.Sent == 0 {
		t.Fatalf("bytes %+v", tot)
	}
}

func TestDownloadPipelined(t *testing.T) {
	for _, pipelining := range []bool{true, false} {
		t.Run(fmt.Sprintf("pipelining=%v", pipelining), func(t *testing.T) {
			srv := startServer(t, pop3test.Options{HidePipelining: !pipelining})
			want := map[string][]byte{}
			for i := 0; i < 300; i++ {
				raw := testMessage(i)
				if i%50 == 7 {
					raw = append(raw, bytes.Repeat([]byte("big line "), 200000)...) // 1.8 MB, no line end
					raw = append(raw, "\r\n"...)
				}
				want[srv.Add("alice", raw)] = raw
			}
			s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{})
			if caps := s.Capabilities(); caps.Has(client.FeaturePipelining) != pipelining {
				t.Fatalf("pipelining feature %+v", caps.Features[client.FeaturePipelining])
			}
			ids := inventoryIDs(t, s)
			// An order other than the server's: fn must see exactly it.
			slices.Reverse(ids[100:200])
			got, bodies, err := download(t, s, ids)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, ids) {
				t.Fatalf("order differs")
			}
			for i, id := range got {
				if !bytes.Equal(bodies[i], want[id]) {
					t.Fatalf("message %s differs", id)
				}
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if p := srv.Pipelined(); pipelining && p < 100 || !pipelining && p != 0 {
				t.Fatalf("server saw %d pipelined commands", p)
			}
		})
	}
}

func TestDownloadUnknownIDs(t *testing.T) {
	srv := startServer(t, pop3test.Options{})
	a := srv.Add("alice", testMessage(1))
	b := srv.Add("alice", testMessage(2))
	s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{})
	got, _, err := download(t, s, []string{"nope", b, "gone", a})
	if !errors.Is(err, client.ErrNotFound) || !strings.Contains(err.Error(), "nope gone") {
		t.Fatalf("err %v", err)
	}
	if !slices.Equal(got, []string{b, a}) {
		t.Fatalf("delivered %v", got)
	}
	if n := countVerb(srv.Commands(), "RETR"); n != 2 {
		t.Fatalf("%d RETR", n)
	}
}

// An error from fn stops the download and leaves the session usable.
func TestDownloadStopsOnCallbackError(t *testing.T) {
	srv := startServer(t, pop3test.Options{})
	for i := 0; i < 20; i++ {
		srv.Add("alice", testMessage(i))
	}
	s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{})
	ids := inventoryIDs(t, s)
	stop := errors.New("disk full")
	calls := 0
	err := s.Download(context.Background(), client.FolderRef{Name: client.Inbox}, ids, func(id string, size int64, r io.Reader) error {
		calls++
		if calls == 3 {
			return stop
		}
		_, err := io.Copy(io.Discard, io.LimitReader(r, 10)) // leaves most unread
		return err
	})
	if err != stop || calls != 3 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	_, bodies, err := download(t, s, ids[19:])
	if err != nil || !bytes.Equal(bodies[0], testMessage(19)) {
		t.Fatalf("session unusable after the stop: %v", err)
	}
}

func TestDeleteCommittedOnlyAtQuit(t *testing.T) {
	srv := startServer(t, pop3test.Options{})
	for i := 0; i < 5; i++ {
		srv.Add("alice", testMessage(i))
	}
	ctx := context.Background()
	ref := client.FolderRef{Name: client.Inbox}

	// Connection dropped before QUIT: nothing deleted.
	s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{})
	ids := inventoryIDs(t, s)
	res, err := s.Delete(ctx, ref, ids[:2], client.DeleteOptions{})
	if err != nil || !res.Pending {
		t.Fatalf("delete: %+v %v", res, err)
	}
	if after := inventoryIDs(t, s); !slices.Equal(after, ids[2:]) {
		t.Fatalf("inventory after DELE %v", after)
	}
	s.c.raw.Close() // the connection drops before QUIT
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "2 deletion(s) not committed") {
		t.Fatalf("close after a drop: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := len(srv.Messages("alice")); n != 5 {
		t.Fatalf("%d messages left after a dropped session, want 5", n)
	}
	if countVerb(srv.Commands(), "QUIT") != 0 {
		t.Fatalf("QUIT sent on a broken connection")
	}

	// Clean QUIT commits.
	s = mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{})
	if _, err := s.Delete(ctx, ref, []string{ids[0], ids[3], "unknown"}, client.DeleteOptions{}); !errors.Is(err, client.ErrNotFound) {
		t.Fatalf("delete with an unknown ID: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	left := srv.Messages("alice")
	if len(left) != 3 || !bytes.Equal(left[0], testMessage(1)) || !bytes.Equal(left[2], testMessage(4)) {
		t.Fatalf("left %d messages", len(left))
	}
}

func TestCutMidRETR(t *testing.T) {
	srv := startServer(t, pop3test.Options{CutRETRAfter: 5000})
	srv.Add("alice", bytes.Repeat([]byte("0123456789\r\n"), 1000))
	srv.Add("alice", testMessage(2))
	s := mustDial(t, serverAccount(srv, client.TLSNone), client.DialOptions{})
	ids := inventoryIDs(t, s)
	if _, err := s.Delete(context.Background(), client.FolderRef{Name: client.Inbox}, ids[1:], client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	var got int64
	err := s.Download(context.Background(), client.FolderRef{Name: client.Inbox}, ids[:1], func(id string, size int64, r io.Reader) error {
		n, err := io.Copy(io.Discard, r)
		got = n
		return err
	})
	want := "retr 1 (id " + ids[0] + "): network error: connection closed by server"
	if !errors.Is(err, client.ErrNetwork) || !strings.Contains(err.Error(), want) || got == 0 || got >= 5000 {
		t.Fatalf("err %v after %d bytes, want %q", err, got, want)
	}
	before := len(srv.Commands())
	if _, err := s.Folders(context.Background()); !errors.Is(err, client.ErrNetwork) {
		t.Fatalf("folders on a broken session: %v", err)
	}
	err = s.Close()
	if !errors.Is(err, client.ErrNetwork) || !strings.Contains(err.Error(), "1 deletion(s) not committed") {
		t.Fatalf("close: %v", err)
	}
	if after := len(srv.Commands()); after != before {
		t.Fatalf("commands sent on a broken connection: %v", srv.Commands())
	}
	if n := len(srv.Messages("alice")); n != 2 {
		t.Fatalf("%d messages on the server, want 2 (DELE rolled back)", n)
	}
}
