package sourcetest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Dovecot is a private Dovecot (IMAP and POP3, plain with STARTTLS and
// implicit TLS) started for a test on free loopback ports. Its certificate
// is signed by a CA made for the test (CAFile). Users alice and bob have the
// password "secret".
type Dovecot struct {
	Dir       string
	Host      string
	IMAPPort  int // plain, STARTTLS offered
	IMAPSPort int // implicit TLS
	POP3Port  int // plain, STLS offered
	POP3SPort int // implicit TLS
	CAFile    string
	CA        *TestCA
	uid, gid  int
	users     atomic.Int64
}

// Password is every test user's password.
const Password = "secret"

// DovecotOptions vary the server for tests of fallbacks.
type DovecotOptions struct {
	// IMAPCapability replaces the capabilities announced after login (to
	// hide MOVE, CONDSTORE...). Dovecot still executes the commands; the
	// client must not use what is not announced.
	IMAPCapability string
	// Extra is appended to dovecot.conf.
	Extra string
	// OAuth2IntrospectionURL, when set, makes Dovecot offer XOAUTH2 and
	// OAUTHBEARER and accept an access token that this RFC 7662 endpoint
	// calls active for the user signing in (oauth2 passdb, introspection
	// by POST). Passwords keep working for every user.
	OAuth2IntrospectionURL string
	// OAuth2Mechanisms are the token mechanisms offered with
	// OAuth2IntrospectionURL; default "xoauth2 oauthbearer".
	OAuth2Mechanisms string
}

// RequireDovecot skips the test when Dovecot is not installed, except in CI
// (CI=true), where a missing Dovecot fails the test: CI must test for real.
func RequireDovecot(t testing.TB) string {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("Dovecot does not run on Windows; the Dovecot tests run on Linux in CI")
	}
	bin, err := exec.LookPath("dovecot")
	if err != nil {
		for _, p := range []string{"/usr/sbin/dovecot", "/usr/local/sbin/dovecot"} {
			if _, e := os.Stat(p); e == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dovecot is not installed, and CI=true requires the Dovecot tests to run (apt-get install -y dovecot-imapd dovecot-pop3d)")
		}
		t.Skip("dovecot not installed; set CI=true to make this a failure")
	}
	return bin
}

var instance atomic.Int64

// StartDovecot starts a Dovecot for the test and stops it at cleanup.
func StartDovecot(t testing.TB, opts DovecotOptions) *Dovecot {
	t.Helper()
	bin := RequireDovecot(t)
	dir, err := os.MkdirTemp("", "duomail-dovecot-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	d := &Dovecot{Dir: dir, Host: "127.0.0.1"}
	runUser, group := "", ""
	if os.Geteuid() == 0 {
		// Dovecot refuses to run its processes as root; the dovecot system
		// user exists wherever the package is installed.
		u, err := user.Lookup("dovecot")
		if err != nil {
			t.Fatal("running as root needs the dovecot user:", err)
		}
		runUser = u.Username
		d.uid, _ = strconv.Atoi(u.Uid)
		d.gid, _ = strconv.Atoi(u.Gid)
		g, err := user.LookupGroupId(u.Gid)
		if err != nil {
			t.Fatal(err)
		}
		group = g.Name
	} else {
		u, _ := user.Current()
		runUser = u.Username
		d.uid, d.gid = os.Getuid(), os.Getgid()
		g, _ := user.LookupGroupId(strconv.Itoa(d.gid))
		group = g.Name
	}
	for _, sub := range []string{"run", "run/state", "mail", "log"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
	}
	d.CA = NewCA(t, dir)
	d.CAFile = d.CA.PEMFile
	_, certFile, keyFile := d.CA.Issue(t, dir, "dovecot", CertOptions{})
	ports := FreePorts(t, 4)
	d.IMAPPort, d.IMAPSPort, d.POP3Port, d.POP3SPort = ports[0], ports[1], ports[2], ports[3]

	var passwd strings.Builder
	names := []string{"alice", "bob"}
	for i := 1; i <= spareUsers; i++ {
		names = append(names, fmt.Sprintf("user%d", i))
	}
	for _, name := range names {
		home := filepath.Join(dir, "mail", name)
		os.MkdirAll(filepath.Join(home, "Maildir"), 0o700)
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s:%d:%d::%s\n", name, Password, d.uid, d.gid, home)
	}
	os.WriteFile(filepath.Join(dir, "passwd"), []byte(passwd.String()), 0o600)

	var extra strings.Builder
	if opts.IMAPCapability != "" {
		fmt.Fprintf(&extra, "protocol imap {\n  imap_capability = %s\n}\n", opts.IMAPCapability)
	}
	mechanisms := "plain login"
	if opts.OAuth2IntrospectionURL != "" {
		oauthMechs := opts.OAuth2Mechanisms
		if oauthMechs == "" {
			oauthMechs = "xoauth2 oauthbearer"
		}
		mechanisms += " " + oauthMechs
		ext := filepath.Join(dir, "dovecot-oauth2.conf.ext")
		// The provider says "active": true; Dovecot compares the
		// attribute's text. No failure delay: tests refuse tokens on
		// purpose and would otherwise wait two seconds for each refusal.
		oauthConf := fmt.Sprintf("introspection_mode = post\nintrospection_url = %s\nusername_attribute = username\nactive_attribute = active\nactive_value = true\nforce_introspection = yes\n", opts.OAuth2IntrospectionURL)
		if err := os.WriteFile(ext, []byte(oauthConf), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&extra, "auth_failure_delay = 0\npassdb {\n  driver = oauth2\n  mechanisms = %s\n  args = %s\n}\n", oauthMechs, ext)
	}
	extra.WriteString(opts.Extra)

	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/run/state
log_path = %[1]s/log/dovecot.log
instance_name = duomail-test-%[2]d-%[3]d
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <%[4]s
ssl_key = <%[5]s
disable_plaintext_auth = no
auth_mechanisms = %[13]s
default_internal_user = %[6]s
default_login_user = %[6]s
default_internal_group = %[7]s
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:~/Maildir
pop3_uidl_format = %%08Xu%%08Xv
imap_idle_notify_interval = 10 secs
passdb {
  driver = passwd-file
  args = %[1]s/passwd
}
userdb {
  driver = passwd-file
  args = %[1]s/passwd
}
service imap-login {
  chroot =
  inet_listener imap {
    port = %[8]d
  }
  inet_listener imaps {
    port = %[9]d
    ssl = yes
  }
}
service pop3-login {
  chroot =
  inet_listener pop3 {
    port = %[10]d
  }
  inet_listener pop3s {
    port = %[11]d
    ssl = yes
  }
}
service anvil {
  chroot =
}
service stats {
  unix_listener stats-reader {
    user = %[6]s
  }
  unix_listener stats-writer {
    user = %[6]s
  }
}
namespace inbox {
  inbox = yes
  separator = /
  mailbox Trash {
    special_use = \Trash
    auto = subscribe
  }
  mailbox Sent {
    special_use = \Sent
    auto = subscribe
  }
  mailbox Archive {
    special_use = \Archive
    auto = subscribe
  }
}
%[12]s`, dir, os.Getpid(), instance.Add(1), certFile, keyFile, runUser, group,
		d.IMAPPort, d.IMAPSPort, d.POP3Port, d.POP3SPort, extra.String(), mechanisms)
	confFile := filepath.Join(dir, "dovecot.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	d.chownAll(t)

	cmd := exec.Command(bin, "-c", confFile)
	if os.Geteuid() == 0 {
		runAs(cmd, d.uid, d.gid)
	}
	// The daemon keeps its stdout and stderr: they must be a file, not a
	// pipe the test would wait on forever.
	startLog, err := os.Create(filepath.Join(dir, "log", "start.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = startLog, startLog
	err = cmd.Run()
	startLog.Close()
	if err != nil {
		out, _ := os.ReadFile(startLog.Name())
		t.Fatalf("start dovecot: %v\n%s\n%s", err, out, d.Log())
	}
	t.Cleanup(func() { d.stop(); os.RemoveAll(dir) })
	for _, p := range ports {
		if !waitPort(p, 10*time.Second) {
			logData, _ := os.ReadFile(filepath.Join(dir, "log", "dovecot.log"))
			t.Fatalf("dovecot did not listen on %d:\n%s", p, logData)
		}
	}
	return d
}

func (d *Dovecot) chownAll(t testing.TB) {
	if os.Geteuid() != 0 {
		return
	}
	filepath.Walk(d.Dir, func(p string, _ os.FileInfo, err error) error {
		if err == nil {
			os.Lchown(p, d.uid, d.gid)
		}
		return nil
	})
}

// spareUsers are written into the passwd file at start: Dovecot notices a
// changed passwd file only about once a second, so a user added later could
// be refused for a moment.
const spareUsers = 64

// AddUser hands out a user with an empty mailbox and the usual password,
// so each test gets a mailbox of its own without restarting Dovecot.
func (d *Dovecot) AddUser(t testing.TB) string {
	t.Helper()
	n := d.users.Add(1)
	if n > spareUsers {
		t.Fatalf("more than %d users asked of one Dovecot", spareUsers)
	}
	return fmt.Sprintf("user%d", n)
}

// Log returns Dovecot's log so far, for failure messages.
func (d *Dovecot) Log() string {
	data, _ := os.ReadFile(filepath.Join(d.Dir, "log", "dovecot.log"))
	return string(data)
}

// Maildir returns the Maildir directory of a user's folder on the server.
func (d *Dovecot) Maildir(user, folder string) string {
	base := filepath.Join(d.Dir, "mail", user, "Maildir")
	if folder == "" || strings.EqualFold(folder, "INBOX") {
		return base
	}
	return filepath.Join(base, "."+strings.ReplaceAll(folder, "/", "."))
}

var deliverSeq atomic.Int64

// Deliver puts a message straight into a user's folder on the server, as a
// local delivery agent would, and returns the file's path. The bytes are
// stored as given, so byte-exact tests compare against them.
func (d *Dovecot) Deliver(t testing.TB, user, folder string, raw []byte) string {
	t.Helper()
	md := d.Maildir(user, folder)
	for _, sub := range []string{"", "cur", "new", "tmp"} {
		p := filepath.Join(md, sub)
		os.MkdirAll(p, 0o700)
		if os.Geteuid() == 0 {
			os.Lchown(p, d.uid, d.gid)
		}
	}
	name := fmt.Sprintf("%d.M%dP%d.duomailtest", time.Now().Unix(), deliverSeq.Add(1), os.Getpid())
	tmp := filepath.Join(md, "tmp", name)
	if err := os.WriteFile(tmp, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		os.Lchown(tmp, d.uid, d.gid)
	}
	dst := filepath.Join(md, "new", name)
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// Files returns the message files of a user's folder on the server (new and cur).
func (d *Dovecot) Files(user, folder string) []string {
	var out []string
	for _, sub := range []string{"new", "cur"} {
		m, _ := filepath.Glob(filepath.Join(d.Maildir(user, folder), sub, "*"))
		out = append(out, m...)
	}
	return out
}

// FreePorts returns n distinct loopback ports that were free a moment ago.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	var lns []net.Listener
	var ports []int
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}

func waitPort(port int, limit time.Duration) bool {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}
