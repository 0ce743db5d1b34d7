package popsrc

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
)

// dovecotAccount is alice's account on a test Dovecot.
func dovecotAccount(d *sourcetest.Dovecot, user string, mode client.TLSMode) *client.Account {
	port := d.POP3Port
	if mode == client.TLSImplicit {
		port = d.POP3SPort
	}
	acct := account(d.Host, port, mode)
	acct.Username = user
	acct.Password = passwordFunc(sourcetest.Password)
	acct.CAFile = d.CAFile
	return acct
}

func dovecotDial(t *testing.T, d *sourcetest.Dovecot, acct *client.Account, opts client.DialOptions) *Source {
	t.Helper()
	s, err := dial(context.Background(), acct, opts)
	if err != nil {
		t.Fatalf("dial %s: %v\n%s", acct.Address(), err, d.Log())
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestDovecot runs the real-server tests on one Dovecot, each test with a
// mailbox of its own; the heap measurement runs alone, before the others.
func TestDovecot(t *testing.T) {
	// A second listen address whose IP the certificate does not name.
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{Extra: "listen = 127.0.0.1, 127.0.0.2\nauth_failure_delay = 0\n"})
	// Users are made before the first login: Dovecot looks at its passwd
	// file at most once a second, so a user added later can be refused
	// for up to a second (d.AddUser does not wait for that).
	users := make(chan string, 32)
	for range cap(users) {
		users <- d.AddUser(t)
	}
	newUser := func(t testing.TB) string {
		select {
		case u := <-users:
			return u
		default:
			t.Fatal("test user pool exhausted")
			return ""
		}
	}
	t.Run("LargeAttachment", func(t *testing.T) { testDovecotLargeAttachment(t, d, newUser(t)) })
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *sourcetest.Dovecot, string)
	}{
		{"Login", testDovecotLogin},
		{"UserPass", testDovecotUserPass},
		{"ByteExact", testDovecotByteExact},
		{"PipelinedDownloadAndDelete", testDovecotPipelinedDownloadAndDelete},
		{"List", testDovecotList},
		{"NoUIDL", testDovecotNoUIDL},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, d, newUser(t))
		})
	}
}

func splitAddr(t testing.TB, addr string) (string, int) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		t.Fatal(err)
	}
	return host, n
}

func testDovecotLogin(t *testing.T, d *sourcetest.Dovecot, user string) {
	msg := testMessage(1)
	d.Deliver(t, user, "INBOX", msg)
	for _, tc := range []struct {
		mode   client.TLSMode
		tlsVer string
	}{
		{client.TLSNone, "none"},
		{client.TLSStartTLS, "TLS 1.3 (starttls)"},
		{client.TLSImplicit, "TLS 1.3 (implicit)"},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			var trace bytes.Buffer
			s := dovecotDial(t, d, dovecotAccount(d, user, tc.mode), client.DialOptions{Debug: &trace})
			caps := s.Capabilities()
			if caps.TLS != tc.tlsVer || !caps.Has(client.FeaturePipelining) || !caps.Has(client.FeatureHeadersOnly) || !slices.Contains(caps.Auth, "PLAIN") {
				t.Fatalf("caps %+v", caps)
			}
			_, bodies, err := download(t, s, inventoryIDs(t, s))
			if err != nil || len(bodies) != 1 || !bytes.Equal(bodies[0], msg) {
				t.Fatalf("download: %v", err)
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(trace.String(), "C: AUTH PLAIN [redacted]") || strings.Contains(trace.String(), sourcetest.Password) {
				t.Fatalf("trace:\n%s", trace.String())
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		acct := dovecotAccount(d, user, client.TLSImplicit)
		acct.Password = passwordFunc("not-the-password")
		_, err := dial(context.Background(), acct, client.DialOptions{})
		var se *client.ServerError
		if !errors.Is(err, client.ErrAuth) || !errors.As(err, &se) || !strings.Contains(se.Text, "Authentication failed") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("wrong host", func(t *testing.T) {
		acct := dovecotAccount(d, user, client.TLSImplicit)
		acct.Host = "127.0.0.2"
		_, err := dial(context.Background(), acct, client.DialOptions{})
		if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), "not valid for host") {
			t.Fatalf("err %v", err)
		}
		acct.TLS, acct.Port = client.TLSStartTLS, d.POP3Port
		_, err = dial(context.Background(), acct, client.DialOptions{})
		if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), "not valid for host") {
			t.Fatalf("starttls: err %v", err)
		}
	})
	t.Run("missing ca_file", func(t *testing.T) {
		acct := dovecotAccount(d, user, client.TLSStartTLS)
		acct.CAFile = ""
		_, err := dial(context.Background(), acct, client.DialOptions{})
		if !errors.Is(err, client.ErrTLS) || !strings.Contains(err.Error(), "unknown authority") {
			t.Fatalf("err %v", err)
		}
	})
}

// Dovecot implements USER/PASS with its PLAIN mechanism, so it cannot
// offer USER without SASL PLAIN; a proxy takes SASL out of CAPA and
// Dovecot checks the USER/PASS login for real.
func testDovecotUserPass(t *testing.T, d *sourcetest.Dovecot, user string) {
	d.Deliver(t, user, "INBOX", testMessage(1))
	acct := dovecotAccount(d, user, client.TLSNone)
	acct.Port = filteringProxy(t, net.JoinHostPort(d.Host, strconv.Itoa(d.POP3Port)), []string{"SASL", "STLS"}, nil)
	var trace bytes.Buffer
	s := dovecotDial(t, d, acct, client.DialOptions{Debug: &trace})
	if ids := inventoryIDs(t, s); len(ids) != 1 {
		t.Fatalf("ids %v", ids)
	}
	if !strings.Contains(trace.String(), "C: PASS [redacted]") || strings.Contains(trace.String(), sourcetest.Password) {
		t.Fatalf("trace:\n%s", trace.String())
	}
	acct.Password = passwordFunc("nope")
	_, err := dial(context.Background(), acct, client.DialOptions{})
	var se *client.ServerError
	if !errors.Is(err, client.ErrAuth) || !errors.As(err, &se) || !strings.Contains(se.Text, "Authentication failed") {
		t.Fatalf("wrong password: %v", err)
	}
}

// The awkward messages come out of Dovecot exactly as delivered (bare LF
// files as Dovecot sends them, with CRLF).
func testDovecotByteExact(t *testing.T, d *sourcetest.Dovecot, user string) {
	long := strings.Repeat("0123456789", 1000)
	cases := []struct {
		name string
		raw  string
	}{
		{"dot lines", "Subject: dots\r\n\r\n.leading\r\n..two\r\n...\r\n. space\r\nend\r\n"},
		{"single dot", "Subject: single dot\r\n\r\nbefore\r\n.\r\nafter\r\n.\r\n"},
		{"long lines", "Subject: long\r\nX-Long: " + long + "\r\n\r\n" + long + "\r\n." + long + "\r\n" + strings.Repeat("y", 300000) + "\r\n"},
		{"8-bit", "Subject: =?utf-8?q?caf=C3=A9?=\r\nContent-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xfc\xdfe, caf\xc3\xa9 \xff\xfe\x80\r\n"},
		{"bare LF", "Subject: bare\n\nline one\n.dot\n.\n\n\nlast\n"},
		{"mixed endings", "Subject: mixed\r\n\r\ncrlf\r\nlf\n.lf dot\ncr\rinside\r\n"},
		{"no final newline", "Subject: unterminated\r\n\r\nlast line\r\n.last"},
	}
	for _, c := range cases {
		d.Deliver(t, user, "INBOX", []byte(c.raw))
	}
	s := dovecotDial(t, d, dovecotAccount(d, user, client.TLSImplicit), client.DialOptions{})
	_, items, err := s.Inventory(context.Background(), client.FolderRef{Name: client.Inbox}, client.InventoryOptions{})
	if err != nil || len(items) != len(cases) {
		t.Fatalf("inventory %v %v", items, err)
	}
	var ids []string
	for _, it := range items {
		ids = append(ids, it.ID)
	}
	_, bodies, err := download(t, s, ids)
	if err != nil {
		t.Fatal(err)
	}
	// Dovecot's order is its own; match by subject.
	for _, c := range cases {
		want := sourcetest.WireForm([]byte(c.raw))
		listed := int64(len(want))
		if !bytes.HasSuffix(want, []byte("\n")) {
			// RETR must end the last line before its "."; Dovecot's LIST
			// size does not count that CRLF.
			want = append(want, '\r', '\n')
		}
		i := slices.IndexFunc(bodies, func(b []byte) bool {
			subj := c.raw[:strings.IndexByte(c.raw, '\n')]
			return bytes.HasPrefix(b, []byte(strings.TrimSuffix(subj, "\r")))
		})
		if i < 0 {
			t.Errorf("%s: not downloaded", c.name)
			continue
		}
		if !bytes.Equal(bodies[i], want) {
			t.Errorf("%s: differs:\n got %q\nwant %q", c.name, clipBytes(bodies[i]), clipBytes(want))
		}
		if items[i].Size != listed {
			t.Errorf("%s: LIST size %d, want %d", c.name, items[i].Size, listed)
		}
		if c.name != "bare LF" && c.name != "mixed endings" && c.name != "no final newline" && !bytes.Equal(bodies[i], []byte(c.raw)) {
			t.Errorf("%s: not the file's bytes", c.name)
		}
	}
}

// A 50 MB attachment streams through in bounded memory.
func testDovecotLargeAttachment(t *testing.T, d *sourcetest.Dovecot, user string) {
	raw := sourcetest.BigMessage(50 << 20)
	wantSum := sha256.Sum256(raw)
	wantLen := len(raw)
	d.Deliver(t, user, "INBOX", raw)
	raw = nil
	s := dovecotDial(t, d, dovecotAccount(d, user, client.TLSImplicit), client.DialOptions{})
	ids := inventoryIDs(t, s)

	runtime.GC()
	var before, now runtime.MemStats
	runtime.ReadMemStats(&before)
	peak := before.HeapInuse
	h := sha256.New()
	var n int64
	err := s.Download(context.Background(), client.FolderRef{Name: client.Inbox}, ids, func(id string, size int64, r io.Reader) error {
		sample := &sampler{w: h, every: 4 << 20, fn: func() {
			runtime.ReadMemStats(&now)
			peak = max(peak, now.HeapInuse)
		}}
		var err error
		n, err = io.Copy(sample, r)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	runtime.ReadMemStats(&now)
	if n != int64(wantLen) || !bytes.Equal(h.Sum(nil), wantSum[:]) {
		t.Fatalf("got %d bytes, want %d, digest differs", n, wantLen)
	}
	grew, allocated := int64(peak)-int64(before.HeapInuse), now.TotalAlloc-before.TotalAlloc
	t.Logf("heap in use grew by at most %d KB; %d KB allocated in all", grew>>10, allocated>>10)
	if grew > 8<<20 || allocated > 16<<20 {
		t.Fatalf("a 50 MB download grew the heap by %d KB and allocated %d KB", grew>>10, allocated>>10)
	}
}

// sampler calls fn every so many bytes written through it.
type sampler struct {
	w     io.Writer
	every int64
	next  int64
	n     int64
	fn    func()
}

func (s *sampler) Write(p []byte) (int, error) {
	s.n += int64(len(p))
	if s.n >= s.next {
		s.fn()
		s.next = s.n + s.every
	}
	return s.w.Write(p)
}

func testDovecotPipelinedDownloadAndDelete(t *testing.T, d *sourcetest.Dovecot, user string) {
	want := map[string]bool{}
	for i := 0; i < 300; i++ {
		raw := testMessage(i)
		d.Deliver(t, user, "INBOX", raw)
		want[string(raw)] = true
	}
	stats := client.NewWireStats(client.POP3)
	s := dovecotDial(t, d, dovecotAccount(d, user, client.TLSImplicit), client.DialOptions{Stats: stats})
	ids := inventoryIDs(t, s)
	slices.Reverse(ids[50:250])
	got, bodies, err := download(t, s, ids)
	if err != nil || !slices.Equal(got, ids) {
		t.Fatalf("download: order kept %v, %v", slices.Equal(got, ids), err)
	}
	for _, b := range bodies {
		if !want[string(b)] {
			t.Fatalf("unexpected body %q", clipBytes(b))
		}
		delete(want, string(b))
	}
	// The same IDs name the same messages in the next session.
	first := map[string][]byte{}
	for i, id := range got {
		first[id] = bodies[i]
	}
	s.Close()
	s = dovecotDial(t, d, dovecotAccount(d, user, client.TLSImplicit), client.DialOptions{})
	pick := []string{ids[7], ids[150], ids[299]}
	_, again, err := download(t, s, pick)
	if err != nil {
		t.Fatal(err)
	}
	for i, id := range pick {
		if !bytes.Equal(again[i], first[id]) {
			t.Fatalf("id %s names another message in a new session", id)
		}
	}

	// DELE, then the connection drops: nothing is deleted.
	ctx := context.Background()
	inbox := client.FolderRef{Name: client.Inbox}
	if res, err := s.Delete(ctx, inbox, ids[:100], client.DeleteOptions{}); err != nil || !res.Pending {
		t.Fatalf("delete: %+v %v", res, err)
	}
	s.c.raw.Close()
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "100 deletion(s) not committed") {
		t.Fatalf("close: %v", err)
	}
	s = dovecotDial(t, d, dovecotAccount(d, user, client.TLSImplicit), client.DialOptions{})
	if n := len(inventoryIDs(t, s)); n != 300 {
		t.Fatalf("%d messages after a dropped session, want 300", n)
	}
	// DELE, then QUIT: deleted.
	if _, err := s.Delete(ctx, inbox, ids[:100], client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := len(d.Files(user, "INBOX")); n != 200 {
		t.Fatalf("%d files after QUIT, want 200", n)
	}
	s = dovecotDial(t, d, dovecotAccount(d, user, client.TLSImplicit), client.DialOptions{})
	left := inventoryIDs(t, s)
	if !slices.Equal(sorted(left), sorted(ids[100:])) {
		t.Fatalf("left %d messages, not the 200 expected", len(left))
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func testDovecotList(t *testing.T, d *sourcetest.Dovecot, user string) {
	d.Deliver(t, user, "INBOX", testMessage(1))
	d.Deliver(t, user, "INBOX", sourcetest.BigMessage(100<<10))
	s := dovecotDial(t, d, dovecotAccount(d, user, client.TLSImplicit), client.DialOptions{})
	var envs []client.Envelope
	_, err := s.List(context.Background(), client.FolderRef{Name: client.Inbox}, client.ListOptions{}, func(e client.Envelope) error {
		envs = append(envs, e)
		return nil
	})
	if err != nil || len(envs) != 2 {
		t.Fatalf("list %v %v", envs, err)
	}
	subjects := []string{envs[0].Subject, envs[1].Subject}
	slices.Sort(subjects)
	if !slices.Equal(subjects, []string{"Big message", "message 1"}) {
		t.Fatalf("subjects %v", subjects)
	}
	for _, e := range envs {
		if e.HasAttachments != (e.Subject == "Big message") || e.Size == 0 || e.ID == "" {
			t.Fatalf("envelope %+v", e)
		}
	}
	s.Close()
	// Listing never downloads or marks anything: the files are unread.
	for _, f := range d.Files(user, "INBOX") {
		if strings.Contains(f, ":2,S") {
			t.Fatalf("listing marked %s seen", f)
		}
	}
}

// Dovecot cannot switch UIDL off (an empty pop3_uidl_format is a fatal
// configuration error, so DovecotOptions.NoUIDL does not start), so a
// proxy hides it: UIDL is refused and, unless keepCapa, taken out of CAPA
// along with PIPELINING (the proxy relays one command at a time).
func testDovecotNoUIDL(t *testing.T, d *sourcetest.Dovecot, user string) {
	raws := [][]byte{testMessage(1), testMessage(2), testMessage(3)}
	for _, raw := range raws {
		d.Deliver(t, user, "INBOX", raw)
	}
	for _, keepCapa := range []bool{false, true} {
		t.Run(fmt.Sprintf("capa=%v", keepCapa), func(t *testing.T) {
			drop := []string{"UIDL"}
			if keepCapa {
				drop = nil
			}
			port := filteringProxy(t, net.JoinHostPort(d.Host, strconv.Itoa(d.POP3Port)), drop, []string{"UIDL"})
			acct := dovecotAccount(d, user, client.TLSNone)
			acct.Port = port
			var warns warnings
			s := dovecotDial(t, d, acct, client.DialOptions{Warn: warns.add})
			ids := inventoryIDs(t, s)
			got, bodies, err := download(t, s, ids)
			if err != nil || len(got) != 3 || !strings.HasPrefix(ids[0], "hdr-") {
				t.Fatalf("ids %v, %v", ids, err)
			}
			for _, b := range bodies {
				if !slices.ContainsFunc(raws, func(r []byte) bool { return bytes.Equal(r, b) }) {
					t.Fatalf("unexpected body %q", b)
				}
			}
			if w := warns.all(); len(w) != 1 || !strings.Contains(w[0], "UIDL") {
				t.Fatalf("warnings %q", w)
			}
			s.Close()
			s = dovecotDial(t, d, acct, client.DialOptions{Warn: warns.add})
			if again := inventoryIDs(t, s); !slices.Equal(again, ids) {
				t.Fatalf("IDs changed between sessions: %v then %v", ids, again)
			}
		})
	}
}

// filteringProxy relays POP3 to target one command at a time, removing
// the capabilities named in drop (and PIPELINING) from CAPA and answering
// the commands in refuse with -ERR itself. It returns its port.
func filteringProxy(t *testing.T, target string, drop, refuse []string) int {
	drop = append(slices.Clip(drop), "PIPELINING")
	p := sourcetest.StartFaultyProxy(t, target, sourcetest.Fault{Rewrite: func(c, up net.Conn) {
		relayFiltered(c, up, drop, refuse)
	}})
	return p.Port()
}

func relayFiltered(c, up net.Conn, drop, refuse []string) {
	cr, ur := bufio.NewReader(c), bufio.NewReader(up)
	copyLine := func() (string, bool) {
		line, err := ur.ReadString('\n')
		if err != nil {
			return "", false
		}
		_, err = io.WriteString(c, line)
		return line, err == nil
	}
	if _, ok := copyLine(); !ok { // greeting
		return
	}
	for {
		cmd, err := cr.ReadString('\n')
		if err != nil {
			return
		}
		verb, arg, _ := strings.Cut(strings.TrimSpace(cmd), " ")
		verb = strings.ToUpper(verb)
		if slices.Contains(refuse, verb) {
			io.WriteString(c, "-ERR "+verb+" hidden by the test proxy\r\n")
			continue
		}
		if _, err := io.WriteString(up, cmd); err != nil {
			return
		}
		status, ok := copyLine()
		if !ok {
			return
		}
		multi := verb == "CAPA" || verb == "RETR" || verb == "TOP" || (verb == "LIST" || verb == "UIDL") && arg == ""
		if !multi || !strings.HasPrefix(status, "+OK") {
			continue
		}
		for {
			line, err := ur.ReadString('\n')
			if err != nil {
				return
			}
			if verb == "CAPA" {
				word, _, _ := strings.Cut(strings.ToUpper(strings.TrimSpace(line)), " ")
				if slices.Contains(drop, word) {
					continue
				}
			}
			if _, err := io.WriteString(c, line); err != nil {
				return
			}
			if line == ".\r\n" {
				break
			}
		}
	}
}
