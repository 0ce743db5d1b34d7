package sourcetest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Mailutils is a private GNU Mailutils imap4d and pop3d started for a test
// on free loopback ports, each plain with STARTTLS and with implicit TLS,
// serving Maildir mailboxes under Dir. Its certificate is signed by a CA
// made for the test (CAFile).
//
// The users are not system users: Mailutils' virtdomain module reads them
// from a passwd-format file of the harness's own, so a user logs in as
// name@MailutilsDomain (alice@duomail.test, bob@duomail.test, and the
// spares handed out by AddUser) with the password "secret". Each user's
// INBOX is the Maildir home/INBOX, and other folders are Maildirs beside
// it (the personal namespace is the home directory, separator "/").
//
// Both daemons run in the foreground in their own process group, forking
// a child per connection as the packaged services do, and are killed with
// that group at cleanup.
type Mailutils struct {
	Dir       string
	Host      string
	IMAPPort  int // plain, STARTTLS offered
	IMAPSPort int // implicit TLS
	POP3Port  int // plain, STLS offered
	POP3SPort int // implicit TLS
	CAFile    string
	CA        *TestCA
	Version   string // "3.15", from imap4d --version
	procs     []*exec.Cmd
	users     atomic.Int64
}

// MailutilsFolders exist, empty, for every user at start. imap4d has no
// SPECIAL-USE: a client finds Trash, Sent and Archive by name only.
var MailutilsFolders = []string{"INBOX", "Trash", "Sent", "Archive"}

// MailutilsDomain is the virtual domain of every Mailutils test user: the
// name of the passwd file virtdomain looks the user up in.
const MailutilsDomain = "duomail.test"

// mailutilsPasswordHash is Password ("secret") as a SHA-512 crypt(3)
// hash, the form Mailutils' generic authentication compares with
// (made with `openssl passwd -6 -salt duomailtest secret`).
const mailutilsPasswordHash = "$6$duomailtest$vsxZ3PqBuJD1YqoiEp2eDksE0uKjUS52G4LOsFe11aDmr0DvrX5O3kH6uSYgsr5yiMOa0eUJVqaqD628bkPOn0"

// RequireMailutils skips the test when GNU Mailutils' imap4d and pop3d are
// not installed, except in CI (CI=true), where a missing server fails the
// test. It returns the paths of imap4d and pop3d.
func RequireMailutils(t testing.TB) (imap4d, pop3d string) {
	t.Helper()
	if runtime.GOOS == "windows" {
		t.Skip("GNU Mailutils does not run on Windows; the Mailutils tests run on Linux in CI")
	}
	find := func(name string) string {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
		for _, dir := range []string{"/usr/sbin", "/usr/local/sbin"} {
			if p := filepath.Join(dir, name); fileExists(p) {
				return p
			}
		}
		return ""
	}
	imap4d, pop3d = find("imap4d"), find("pop3d")
	if imap4d == "" || pop3d == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("GNU Mailutils imap4d and pop3d are not installed, and CI=true requires the Mailutils tests to run (apt-get install -y mailutils-imap4d mailutils-pop3d)")
		}
		t.Skip("GNU Mailutils imap4d/pop3d not installed; set CI=true to make this a failure")
	}
	if os.Geteuid() != 0 {
		// Both daemons switch to the mail group as they start and give
		// up when they may not.
		if os.Getenv("CI") == "true" {
			t.Fatal("GNU Mailutils imap4d and pop3d start only as root (they switch to the mail group), and CI=true requires the Mailutils tests to run: run the tests as root")
		}
		t.Skip("GNU Mailutils imap4d and pop3d start only as root (they switch to the mail group)")
	}
	return imap4d, pop3d
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// StartMailutils starts imap4d and pop3d for the test and stops them at
// cleanup.
func StartMailutils(t testing.TB) *Mailutils {
	t.Helper()
	imap4d, pop3d := RequireMailutils(t)
	dir, err := os.MkdirTemp("", "duomail-mailutils-")
	if err != nil {
		t.Fatal(err)
	}
	m := &Mailutils{Dir: dir, Host: "127.0.0.1"}
	t.Cleanup(func() { m.stop(); os.RemoveAll(dir) })
	if out, err := exec.Command(imap4d, "--version").Output(); err == nil {
		// "imap4d (GNU Mailutils) 3.15"
		first, _, _ := strings.Cut(string(out), "\n")
		m.Version = first[strings.LastIndex(first, " ")+1:]
	}
	for _, sub := range []string{"passwd", "mail", "log", "lock"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	m.CA = NewCA(t, dir)
	m.CAFile = m.CA.PEMFile
	_, certFile, keyFile := m.CA.Issue(t, dir, "mailutils", CertOptions{})
	// GnuTLS in Mailutils refuses a key file others can read.
	os.Chmod(keyFile, 0o600)
	ports := FreePorts(t, 4)
	m.IMAPPort, m.IMAPSPort, m.POP3Port, m.POP3SPort = ports[0], ports[1], ports[2], ports[3]

	// Mailutils does not change to a virtual user's uid (all of them
	// usually share one): the uid and gid fields only have to parse.
	var passwd strings.Builder
	names := []string{"alice", "bob"}
	for i := 1; i <= spareUsers; i++ {
		names = append(names, fmt.Sprintf("user%d", i))
	}
	for _, name := range names {
		home := filepath.Join(dir, "mail", name)
		// The folders Dovecot's harness makes, as empty Maildirs that
		// no server has opened yet (so no UIDVALIDITY is stored).
		for _, folder := range MailutilsFolders {
			for _, sub := range []string{"cur", "new", "tmp"} {
				if err := os.MkdirAll(filepath.Join(home, folder, sub), 0o700); err != nil {
					t.Fatal(err)
				}
			}
		}
		fmt.Fprintf(&passwd, "%s:%s:%d:%d::%s:/bin/false\n", name, mailutilsPasswordHash, os.Getuid(), os.Getgid(), home)
	}
	if err := os.WriteFile(filepath.Join(dir, "passwd", MailutilsDomain), []byte(passwd.String()), 0o600); err != nil {
		t.Fatal(err)
	}

	// Shared by both daemons. Users come from the passwd file above only
	// (no PAM, no system accounts); a new folder is a Maildir.
	common := fmt.Sprintf(`auth {
  authorization virtdomain;
  authentication generic;
};
virtdomain {
  passwd-dir %[1]q;
};
logging {
  syslog no;
};
mailbox {
  mailbox-type maildir;
};
mode daemon;
foreground yes;
max-children 200;
tls {
  ssl-certificate-file %[2]q;
  ssl-key-file %[3]q;
};
`, filepath.Join(dir, "passwd"), certFile, keyFile)
	// pop3d locks the mailbox for the session (POP3 wants exclusive
	// access), by default in /var/lock/subsys/mail, which need not exist:
	// here in the test's directory. imap4d keeps its default, no such lock:
	// with one, a second session's SELECT opens the folder [READ-ONLY].
	popLock := fmt.Sprintf("mandatory-locking {\n  enable yes;\n  lock-directory %q;\n};\n", filepath.Join(dir, "lock"))
	for _, d := range []struct {
		bin, name   string
		plain, impl int
		extra       string
	}{{imap4d, "imap4d", m.IMAPPort, m.IMAPSPort, ""}, {pop3d, "pop3d", m.POP3Port, m.POP3SPort, popLock}} {
		conf := common + d.extra + fmt.Sprintf(`pidfile %[1]q;
server %[2]s:%[3]d {
  tls-mode ondemand;
};
server %[2]s:%[4]d {
  tls-mode connection;
};
`, filepath.Join(dir, d.name+".pid"), m.Host, d.plain, d.impl)
		confFile := filepath.Join(dir, d.name+".conf")
		if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		logFile, err := os.Create(filepath.Join(dir, "log", d.name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		// --config-file implies --no-site-config: /etc/mailutils.conf,
		// if any, plays no part.
		cmd := exec.Command(d.bin, "--config-file="+confFile)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		ownProcessGroup(cmd)
		if err := cmd.Start(); err != nil {
			logFile.Close()
			t.Fatalf("start %s: %v", d.name, err)
		}
		logFile.Close()
		m.procs = append(m.procs, cmd)
	}
	for _, p := range ports {
		if !waitPort(p, 10*time.Second) {
			t.Fatalf("mailutils did not listen on %d:\n%s", p, m.Log())
		}
	}
	return m
}

// AddUser hands out a user with an empty mailbox and the usual password,
// so each test gets a mailbox of its own without restarting the servers.
// The name returned is the login name, with the domain.
func (m *Mailutils) AddUser(t testing.TB) string {
	t.Helper()
	n := m.users.Add(1)
	if n > spareUsers {
		t.Fatalf("more than %d users asked of one Mailutils", spareUsers)
	}
	return fmt.Sprintf("user%d@%s", n, MailutilsDomain)
}

// Login is the login name of a user named without the domain ("alice").
func (m *Mailutils) Login(user string) string {
	if strings.Contains(user, "@") {
		return user
	}
	return user + "@" + MailutilsDomain
}

// Log returns both daemons' logs so far, for failure messages.
func (m *Mailutils) Log() string {
	var b strings.Builder
	for _, name := range []string{"imap4d", "pop3d"} {
		data, _ := os.ReadFile(filepath.Join(m.Dir, "log", name+".log"))
		fmt.Fprintf(&b, "--- %s ---\n%s", name, data)
	}
	return b.String()
}

// Maildir returns the Maildir directory of a user's folder on the server;
// user may be given with or without the domain.
func (m *Mailutils) Maildir(user, folder string) string {
	name, _, _ := strings.Cut(user, "@")
	if folder == "" || strings.EqualFold(folder, "INBOX") {
		folder = "INBOX"
	}
	return filepath.Join(m.Dir, "mail", name, filepath.FromSlash(folder))
}

// Deliver puts a message straight into new/ of a user's folder on the
// server, as a local delivery agent would, and returns the file's path.
//
// The message is stored with LF line ends, as Unix delivery agents store
// mail: Mailutils sends each stored LF as CRLF and misreads a file stored
// with CRLF (it serves such a message as empty). MailutilsWire is what it
// sends for the raw bytes given here.
func (m *Mailutils) Deliver(t testing.TB, user, folder string, raw []byte) string {
	t.Helper()
	md := m.Maildir(user, folder)
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(md, sub), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	name := fmt.Sprintf("%d.M%dP%d.duomailtest", time.Now().Unix(), deliverSeq.Add(1), os.Getpid())
	tmp := filepath.Join(md, "tmp", name)
	if err := os.WriteFile(tmp, bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(md, "new", name)
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
	return dst
}

// MailutilsWire is what Mailutils sends over IMAP for a message given to
// Deliver: stored with LF line ends, every line end goes out as CRLF.
func MailutilsWire(raw []byte) []byte {
	return WireForm(bytes.ReplaceAll(raw, []byte("\r\n"), []byte("\n")))
}

// Files returns the message files of a user's folder on the server (new and cur).
func (m *Mailutils) Files(user, folder string) []string {
	var out []string
	for _, sub := range []string{"new", "cur"} {
		found, _ := filepath.Glob(filepath.Join(m.Maildir(user, folder), sub, "*"))
		out = append(out, found...)
	}
	return out
}

// MailutilsPOP3Served is what Mailutils pop3d sends for a message given to
// Deliver: the IMAP form (MailutilsWire) with an X-UIDL header naming its
// UIDL at the end of the header. Mailutils makes that header up when a
// client first asks for the UIDL (Qpopper's convention: the UIDL is an MD5
// of the message, the folder's UIDVALIDITY and the UID), sends it with the
// message, and writes it into the file when the session ends; a LIST sent
// before the UIDL in that session counts the message without it.
func MailutilsPOP3Served(id string, raw []byte) []byte {
	wire := MailutilsWire(raw)
	end := bytes.Index(wire, []byte("\r\n\r\n"))
	if end < 0 {
		end = len(wire) - 2
	}
	end += 2
	out := append(bytes.Clone(wire[:end]), "X-UIDL: "+id+"\r\n"...)
	return append(out, wire[end:]...)
}
