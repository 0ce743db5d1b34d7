package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/imapsrc/imaptest"
	"github.com/duomail/duomail/popsrc/pop3test"
)

// TLS and credentials through the binary: certificates verified with an
// error that names the problem, no password over plaintext unless the
// account says tls = "none" (and then a warning off loopback), and the
// password nowhere but on the wire: not in a child's argv, the debug
// trace, an error message, or the cache.

// selfSignedTLS is a server certificate signed by its own key, valid for
// localhost and 127.0.0.1.
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}}
}

func TestBinaryTLSVerification(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ca := sourcetest.NewCA(t, dir)
	var tally hostileTally
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	for _, tc := range []struct {
		name   string
		tls    *tls.Config
		caFile string
		want   string
	}{
		{"wrong host name", ca.ServerTLS(t, dir, sourcetest.CertOptions{Hosts: []string{"mail.example.org"}}), ca.PEMFile, `not valid for host "127.0.0.1"`},
		{"expired", ca.ServerTLS(t, dir, sourcetest.CertOptions{NotAfter: time.Now().Add(-time.Hour)}), ca.PEMFile, "expired"},
		{"self-signed, no ca_file", selfSignedTLS(t), "", "unknown authority (set ca_file"},
		{"test CA, no ca_file", ca.ServerTLS(t, dir, sourcetest.CertOptions{}), "", "unknown authority (set ca_file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			query := "?timeout=5s"
			if tc.caFile != "" {
				query += "&ca_file=" + tc.caFile
			}
			var urls []string
			var pops []*pop3test.Server
			var imapTrace syncWriter
			for _, implicit := range []bool{true, false} {
				isrv, err := imaptest.Start(imaptest.Options{TLSConfig: tc.tls, ImplicitTLS: implicit, DebugWriter: &imapTrace})
				if err != nil {
					t.Fatal(err)
				}
				defer isrv.Close()
				opts := pop3test.Options{STLS: tc.tls}
				if implicit {
					opts = pop3test.Options{TLS: tc.tls}
				}
				psrv, err := pop3test.Start(opts)
				if err != nil {
					t.Fatal(err)
				}
				defer psrv.Close()
				psrv.AddUser("alice", "secret")
				pops = append(pops, psrv)
				s := map[bool]string{true: "s", false: ""}[implicit]
				urls = append(urls, fmt.Sprintf("imap%s://alice@127.0.0.1:%d%s", s, isrv.Port(), query),
					fmt.Sprintf("pop3%s://alice@127.0.0.1:%d%s", s, psrv.Port(), query))
			}
			for _, u := range urls {
				r := c.runChecked(runOptions{}, "--url", u, "list")
				tally.clean(t, r, exitNetwork)
				if !strings.Contains(r.stderr.String(), tc.want) || !strings.Contains(r.stderr.String(), "TLS error") {
					t.Errorf("%s: stderr does not say %q: %v", u, tc.want, r)
				}
				if strings.Count(strings.TrimSpace(r.stderr.String()), "\n") > 0 {
					t.Errorf("%s: more than one line of error: %v", u, r)
				}
			}
			for _, p := range pops {
				for _, cmd := range p.Commands() {
					if v, _, _ := strings.Cut(cmd, " "); v == "USER" || v == "PASS" || v == "AUTH" {
						t.Errorf("credentials sent over a connection that failed verification: %v", p.Commands())
					}
				}
			}
			if tr := imapTrace.String(); clientLogin.MatchString(tr) {
				t.Errorf("credentials sent over a connection that failed verification:\n%s", tr)
			}
		})
	}
}

// clientLogin finds a login command in an IMAP exchange.
var clientLogin = regexp.MustCompile(`(?mi)^\S+ (LOGIN|AUTHENTICATE) `)

type syncWriter struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *syncWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *syncWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// nonLoopbackIP returns an IPv4 address of this machine that is not
// loopback, or "" when there is none.
func nonLoopbackIP() string {
	addrs, _ := net.InterfaceAddrs()
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String()
		}
	}
	return ""
}

// No password crosses plaintext unless the account says tls = "none"; with
// it, a warning unless the server is on loopback.
func TestBinaryPlaintextPassword(t *testing.T) {
	t.Parallel()
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	var tally hostileTally

	// STARTTLS required (the default of imap:// and pop3://) by a server
	// without it: refused before any credential.
	f := &scriptIMAP{}
	port := f.start(t)
	r := c.runChecked(runOptions{}, "--url", fmt.Sprintf("imap://alice@127.0.0.1:%d?timeout=2s", port), "list")
	tally.clean(t, r, exitNetwork)
	if !strings.Contains(r.stderr.String(), "does not offer STARTTLS") || len(f.saw("LOGIN", "AUTHENTICATE")) > 0 {
		t.Errorf("STARTTLS missing: %v (server saw %v)", r, f.saw("LOGIN", "AUTHENTICATE"))
	}

	isrv, err := imaptest.Start(imaptest.Options{InsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer isrv.Close()
	ip := nonLoopbackIP()
	listen := "127.0.0.1:0"
	if ip != "" {
		listen = net.JoinHostPort(ip, "0")
	}
	psrv, err := pop3test.Start(pop3test.Options{Listen: listen})
	if err != nil {
		t.Fatal(err)
	}
	defer psrv.Close()
	psrv.AddUser("alice", "secret")
	if ip == "" {
		t.Log("no non-loopback address on this machine: the warning is tested in client.TestCheckPlaintextAuth only")
	} else {
		p, err := sourcetest.ListenProxy(t, ip, isrv.Addr(), sourcetest.Fault{})
		if err != nil {
			t.Fatalf("cannot listen on %s: %v", ip, err)
		}
		iport := p.Port()
		for _, u := range []string{fmt.Sprintf("imap://alice@%s:%d?tls=none", ip, iport), fmt.Sprintf("pop3://alice@%s:%d?tls=none", ip, psrv.Port())} {
			r := c.runChecked(runOptions{}, "--url", u, "folders")
			tally.clean(t, r)
			if !strings.Contains(r.stderr.String(), "duomail: warning: account ") || !strings.Contains(r.stderr.String(), "to "+ip+" without encryption") {
				t.Errorf("no plaintext warning for %s: %v", ip, r)
			}
		}
	}
	// On loopback the password never leaves the machine: no warning.
	r = c.runChecked(runOptions{}, "--url", imapURL(isrv.Port()), "folders")
	tally.clean(t, r)
	if strings.Contains(r.stderr.String(), "without encryption") {
		t.Errorf("warning on loopback: %v", r)
	}
}

// secretForms are the ways a password can show up: itself, and the SASL
// PLAIN response that carries it.
func secretForms(user, pw string) []string {
	return []string{pw, base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pw)),
		base64.StdEncoding.EncodeToString([]byte(pw))}
}

func TestBinaryPasswordNeverShown(t *testing.T) {
	t.Parallel()
	const pw = "Pw-7q!Xz{5}\"odd\\secret"
	forms := secretForms("alice", pw)
	var tally hostileTally
	noSecret := func(t *testing.T, r hostileRun, where string) {
		t.Helper()
		if found := containsAny([]byte(r.stdout.String()+r.stderr.String()), forms...); len(found) > 0 {
			t.Errorf("%s: the password (%q) appears in the output: %v", where, found, r)
		}
	}

	isrv, err := imaptest.Start(imaptest.Options{InsecureAuth: true, Users: map[string]string{"alice": pw}})
	if err != nil {
		t.Fatal(err)
	}
	defer isrv.Close()
	isrv.Append("alice", client.Inbox, sourcetest.AttachmentMessage("with attachment", "a.pdf", 3000), nil, time.Now())
	popPlain, err := pop3test.Start(pop3test.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer popPlain.Close()
	popUser, err := pop3test.Start(pop3test.Options{HideSASLPlain: true})
	if err != nil {
		t.Fatal(err)
	}
	defer popUser.Close()
	for _, s := range []*pop3test.Server{popPlain, popUser} {
		s.AddUser("alice", pw)
		s.Add("alice", sourcetest.AttachmentMessage("with attachment", "a.pdf", 3000))
	}
	login := &scriptIMAP{greeting: "* OK [CAPABILITY IMAP4rev1] no SASL here, LOGIN only",
		msgs: func(int) []fakeIMAPMessage { return []fakeIMAPMessage{{uid: 1, subject: "s", body: "b"}} }}
	loginPort := login.start(t)

	// The password comes from password_cmd, a script that records its own
	// command line and its parent's (duomail's) while it runs.
	c := newCLI(t)
	pwFile := filepath.Join(c.home, "pw")
	os.WriteFile(pwFile, []byte(pw+"\n"), 0o600)
	argvDir := filepath.Join(c.home, "argv")
	os.Mkdir(argvDir, 0o700)
	script := filepath.Join(c.home, "pwcmd.sh")
	// (sh -c runs the script as a child of its own: duomail is the grandparent.)
	os.WriteFile(script, []byte(fmt.Sprintf("#!/bin/sh\ncat /proc/$$/cmdline > %[1]s/self.$$\ncat /proc/$PPID/cmdline > %[1]s/parent.$$\n"+
		"gp=$(cut -d' ' -f4 /proc/$PPID/stat)\ncat /proc/$gp/cmdline > %[1]s/grandparent.$$\ncat %[2]s\n", argvDir, pwFile)), 0o700)
	local := func(name, proto string, port int) tomlAccount {
		return tomlAccount{Name: name, Protocol: proto, Host: "127.0.0.1", Port: port, TLS: "none", Username: "alice"}
	}
	imaplogin := local("imaplogin", "imap", loginPort)
	imaplogin.Timeout = "3s"
	accounts := map[string]tomlAccount{
		"imapplain": local("imapplain", "imap", isrv.Port()),
		"imaplogin": imaplogin,
		"popplain":  local("popplain", "pop3", popPlain.Port()),
		"popuser":   local("popuser", "pop3", popUser.Port()),
	}
	var conf strings.Builder
	for _, a := range accounts {
		a.PasswordCmd = script
		conf.WriteString(accountsTOML(a))
	}
	c.writeConfig(conf.String())

	for name := range accounts {
		t.Run(name, func(t *testing.T) {
			r := c.runChecked(runOptions{}, "-a", name, "--debug", "list")
			tally.clean(t, r)
			noSecret(t, r, "--debug list")
			if !strings.Contains(r.stderr.String(), "[redacted]") {
				t.Errorf("trace shows no redacted login: %v", r)
			}
			for _, args := range [][]string{{"sync"}, {"--debug", "fetch", "--peek", "1"}, {"--debug", "folders"}} {
				if strings.HasPrefix(name, "pop") && args[len(args)-1] == "1" {
					continue // POP3 IDs are UIDLs; fetched below
				}
				r := c.runChecked(runOptions{}, append([]string{"-a", name}, args...)...)
				tally.clean(t, r)
				noSecret(t, r, strings.Join(args, " "))
			}
		})
	}
	if login.saw("LOGIN") == nil {
		t.Errorf("the LOGIN path was not exercised: %v", login.commands)
	}
	if imapOnly := c.runChecked(runOptions{}, "-a", "imapplain", "sync", "--bodies"); imapOnly.code != 0 {
		t.Errorf("sync --bodies: %v", imapOnly)
	}
	l := jsonOf[listJSON](t, runResult{stdout: c.runChecked(runOptions{}, "-a", "popplain", "list", "--json").stdout.String()})
	if len(l.Messages) == 1 {
		r := c.runChecked(runOptions{}, "-a", "popplain", "--debug", "fetch", l.Messages[0].ID)
		tally.clean(t, r)
		noSecret(t, r, "pop3 fetch")
	}

	// Refused passwords: the error names the account, not the password.
	for _, name := range []string{"imapplain", "popplain", "popuser"} {
		c2 := newCLI(t)
		c2.env["DUOMAIL_PASSWORD"] = pw + "-wrong"
		c2.writeConfig(accountsTOML(accounts[name]))
		r := c2.runChecked(runOptions{}, "-a", name, "--debug", "folders")
		tally.clean(t, r, exitAuth)
		noSecret(t, r, "refused login")
	}
	// A failing password_cmd: its output is never quoted.
	c3 := newCLI(t)
	failing := accounts["popplain"]
	failing.Name, failing.PasswordCmd = "x", "cat "+pwFile+"; exit 3"
	c3.writeConfig(accountsTOML(failing))
	r := c3.runChecked(runOptions{}, "-a", "x", "folders")
	tally.clean(t, r, exitAuth)
	noSecret(t, r, "failing password_cmd")

	// No child's argv carried the password, nor duomail's own.
	entries, _ := os.ReadDir(argvDir)
	if len(entries) == 0 {
		t.Fatal("password_cmd never ran")
	}
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(argvDir, e.Name()))
		if found := containsAny(b, forms...); len(found) > 0 {
			t.Errorf("%s: command line %q carries the password", e.Name(), b)
		}
		if strings.HasPrefix(e.Name(), "grandparent.") && !bytes.Contains(b, []byte("-a\x00")) {
			t.Errorf("%s is not duomail's command line: %q", e.Name(), b)
		}
	}

	// Nothing under the data directory holds the password, in any form.
	checkedFiles := 0
	filepath.WalkDir(c.data, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return nil
		}
		checkedFiles++
		if found := containsAny(b, forms...); len(found) > 0 {
			t.Errorf("%s holds the password (%q)", path, found)
		}
		return nil
	})
	if checkedFiles < 8 {
		t.Errorf("only %d files in the data directory: the sessions did not cache anything?", checkedFiles)
	}
	t.Logf("FIGURES credentials: accounts=%d argv_checked=%d cache_files_checked=%d password_found=0", len(accounts), len(entries), checkedFiles)
}

// The cache is private: directories 0700, files 0600, also when duomail
// runs with umask 0, and also the SQLite -wal and -shm files that exist
// only while a command runs (watched by polling the directory meanwhile).
func TestBinaryCacheModes(t *testing.T) {
	t.Parallel()
	isrv, err := imaptest.Start(imaptest.Options{InsecureAuth: true})
	if err != nil {
		t.Fatal(err)
	}
	defer isrv.Close()
	psrv, err := pop3test.Start(pop3test.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer psrv.Close()
	psrv.AddUser("alice", "secret")
	for i := 0; i < 30; i++ {
		raw := sourcetest.AttachmentMessage(fmt.Sprintf("message %d", i), "a.bin", 200_000)
		isrv.Append("alice", client.Inbox, raw, nil, time.Now())
		psrv.Add("alice", raw)
	}
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	var mu sync.Mutex
	seen := map[string]fs.FileMode{}
	watch := func(pid int) {
		go func() {
			for {
				filepath.WalkDir(c.data, func(path string, d fs.DirEntry, err error) error {
					if err != nil {
						return nil
					}
					if fi, err := os.Lstat(path); err == nil {
						mu.Lock()
						seen[path] = fi.Mode()
						mu.Unlock()
					}
					return nil
				})
				if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err != nil {
					return
				}
				time.Sleep(2 * time.Millisecond)
			}
		}()
	}
	var tally hostileTally
	for _, u := range []string{imapURL(isrv.Port()), popURL(psrv.Port())} {
		for _, args := range [][]string{{"list"}, {"sync"}, {"sync", "--bodies"}, {"fetch", "--peek", "1"}, {"list", "--offline"}} {
			if strings.HasPrefix(u, "pop3") && len(args) > 1 && (args[1] == "--bodies" || args[1] == "--peek") {
				continue
			}
			tally.clean(t, c.runChecked(runOptions{umask0: true, onStart: watch}, append([]string{"--url", u}, args...)...))
		}
	}
	time.Sleep(20 * time.Millisecond)
	final := snapshot(t, c.data)
	mu.Lock()
	defer mu.Unlock()
	for p, e := range final {
		seen[p] = e.mode
	}
	var wal, shm, files, dirs int
	for p, m := range seen {
		if p == c.data {
			continue
		}
		switch {
		case m.IsDir():
			dirs++
			if m.Perm() != 0o700 {
				t.Errorf("directory %s has mode %v, want 0700", p, m.Perm())
			}
		default:
			files++
			if m.Perm() != 0o600 || !m.IsRegular() {
				t.Errorf("file %s has mode %v, want a regular 0600 file", p, m)
			}
		}
		if strings.HasSuffix(p, "-wal") {
			wal++
		}
		if strings.HasSuffix(p, "-shm") {
			shm++
		}
	}
	t.Logf("FIGURES cache modes: dirs=%d files=%d wal_seen=%d shm_seen=%d wrong_mode=0 (umask 000)", dirs, files, wal, shm)
	if files < 30 {
		t.Errorf("only %d files seen", files)
	}
}
