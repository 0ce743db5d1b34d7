// Package imaptest runs IMAP servers inside the process, on loopback: a
// working one built on go-imap's imapserver and imapmemserver (mail kept in
// memory), and a scripted one whose every byte a test decides. Tests use
// them; so does "duomail demo", which is why this is not a _test package.
package imaptest

import (
	"bytes"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapserver"
	"github.com/emersion/go-imap/v2/imapserver/imapmemserver"
)

// DefaultCaps is what the server announces unless Options.Caps says
// otherwise. imapserver always adds IDLE, UNSELECT, ENABLE, SASL-IR,
// LITERAL- and the AUTH= and STARTTLS capabilities as they apply.
// imapmemserver implements everything listed; it has no CONDSTORE.
var DefaultCaps = []string{
	"IMAP4rev1", "NAMESPACE", "UIDPLUS", "ESEARCH", "LIST-EXTENDED", "LIST-STATUS",
	"MOVE", "SPECIAL-USE", "CHILDREN",
}

// DefaultFolders are created for every user, with their special-use roles.
var DefaultFolders = map[string]string{
	"INBOX":   "",
	"Sent":    "sent",
	"Trash":   "trash",
	"Archive": "archive",
}

// Options configure a server.
type Options struct {
	// Users maps user names to passwords. Nil means alice and bob, both
	// with the password "secret".
	Users map[string]string
	// Folders are created for every user besides DefaultFolders: name to
	// role ("" for none, or "trash", "sent", "drafts", "junk", "archive",
	// "all", "flagged").
	Folders map[string]string
	// NoDefaultFolders creates only INBOX and Folders, for a server laid
	// out another way (Courier keeps every folder below "INBOX.").
	NoDefaultFolders bool
	// Namespace is the personal namespace prefix NAMESPACE announces
	// ("INBOX/"); "" for the top level.
	Namespace string
	// TLSConfig holds the server certificate. With ImplicitTLS the server
	// speaks TLS from the first byte; otherwise it offers STARTTLS.
	TLSConfig   *tls.Config
	ImplicitTLS bool
	// InsecureAuth allows logging in without TLS.
	InsecureAuth bool
	// Caps replaces DefaultCaps (drop "MOVE" or "UIDPLUS" to test fallbacks).
	Caps []string
	// DebugWriter receives the server's side of every exchange.
	DebugWriter io.Writer
}

// Server is a running in-memory IMAP server.
type Server struct {
	mem     *imapmemserver.Server
	srv     *imapserver.Server
	ln      net.Listener
	special bool // SPECIAL-USE announced
	// namespace is the personal namespace prefix.
	namespace string

	mu    sync.Mutex
	users map[string]*account
	done  chan struct{}
}

type account struct {
	password string
	mem      *imapmemserver.User

	mu      sync.Mutex
	folders map[string]string // name to role
}

// Start listens on a free loopback port and serves until Close.
func Start(opts Options) (*Server, error) {
	capNames := opts.Caps
	if capNames == nil {
		capNames = DefaultCaps
	}
	caps := imap.CapSet{}
	for _, c := range capNames {
		caps[imap.Cap(c)] = struct{}{}
	}
	if !caps.Has(imap.CapIMAP4rev1) && !caps.Has(imap.CapIMAP4rev2) {
		return nil, errors.New("imaptest: capabilities must include IMAP4rev1")
	}
	s := &Server{
		mem:       imapmemserver.New(),
		users:     make(map[string]*account),
		special:   caps.Has(imap.CapSpecialUse),
		namespace: opts.Namespace,
		done:      make(chan struct{}),
	}
	users := opts.Users
	if users == nil {
		users = map[string]string{"alice": "secret", "bob": "secret"}
	}
	for name, pass := range users {
		a := &account{password: pass, mem: imapmemserver.NewUser(name, pass), folders: make(map[string]string)}
		s.mem.AddUser(a.mem)
		s.users[name] = a
		defaults := DefaultFolders
		if opts.NoDefaultFolders {
			defaults = map[string]string{"INBOX": ""}
		}
		for _, set := range []map[string]string{defaults, opts.Folders} {
			for folder, role := range set {
				if err := a.create(folder, role); err != nil {
					return nil, err
				}
			}
		}
	}
	sopts := &imapserver.Options{
		NewSession: func(*imapserver.Conn) (imapserver.Session, *imapserver.GreetingData, error) {
			return &session{srv: s}, nil, nil
		},
		Caps:         caps,
		InsecureAuth: opts.InsecureAuth,
		DebugWriter:  opts.DebugWriter,
		Logger:       log.New(io.Discard, "", 0),
	}
	if opts.DebugWriter != nil {
		sopts.Logger = log.New(opts.DebugWriter, "imaptest: ", 0)
	}
	if opts.TLSConfig != nil && !opts.ImplicitTLS {
		sopts.TLSConfig = opts.TLSConfig
	}
	s.srv = imapserver.New(sopts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	if opts.ImplicitTLS {
		if opts.TLSConfig == nil {
			ln.Close()
			return nil, errors.New("imaptest: ImplicitTLS needs a TLSConfig")
		}
		ln = tls.NewListener(ln, opts.TLSConfig)
	}
	s.ln = ln
	go func() {
		defer close(s.done)
		s.srv.Serve(ln)
	}()
	return s, nil
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Port returns the port the server listens on.
func (s *Server) Port() int { return s.ln.Addr().(*net.TCPAddr).Port }

// Close stops the server and drops every connection.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

func (s *Server) account(user string) (*account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.users[user]
	if a == nil {
		return nil, fmt.Errorf("imaptest: no user %q", user)
	}
	return a, nil
}

// Append stores a message in a user's folder, as a delivery would.
func (s *Server) Append(user, folder string, raw []byte, flags []string, date time.Time) error {
	a, err := s.account(user)
	if err != nil {
		return err
	}
	opts := &imap.AppendOptions{Time: date}
	for _, f := range flags {
		opts.Flags = append(opts.Flags, imap.Flag(f))
	}
	_, err = a.mem.Append(folder, bytes.NewReader(raw), opts)
	return err
}

// CreateFolder adds a folder with a role ("" for none).
func (s *Server) CreateFolder(user, folder, role string) error {
	a, err := s.account(user)
	if err != nil {
		return err
	}
	return a.create(folder, role)
}

// DeleteFolder removes a folder and its mail. Creating it again gives it a
// new UIDVALIDITY.
func (s *Server) DeleteFolder(user, folder string) error {
	a, err := s.account(user)
	if err != nil {
		return err
	}
	if err := a.mem.Delete(folder); err != nil {
		return err
	}
	a.mu.Lock()
	delete(a.folders, folder)
	a.mu.Unlock()
	return nil
}

func (a *account) create(folder, role string) error {
	if err := a.mem.Create(folder, nil); err != nil {
		return err
	}
	a.mu.Lock()
	a.folders[folder] = role
	a.mu.Unlock()
	return nil
}

// session is imapmemserver's session with the folder list kept here, as
// imapmemserver keeps no special-use roles.
type session struct {
	*imapmemserver.UserSession // nil until login
	srv                        *Server
	user                       *account
}

func (s *session) Login(username, password string) error {
	a, err := s.srv.account(username)
	if err != nil {
		return imapserver.ErrAuthFailed
	}
	if err := a.mem.Login(username, password); err != nil {
		return err
	}
	s.user = a
	s.UserSession = imapmemserver.NewUserSession(a.mem)
	return nil
}

func (s *session) Create(name string, options *imap.CreateOptions) error {
	role := ""
	if options != nil && len(options.SpecialUse) > 0 {
		role = strings.ToLower(strings.TrimPrefix(string(options.SpecialUse[0]), `\`))
	}
	return s.user.create(strings.TrimRight(name, "/"), role)
}

func (s *session) Delete(name string) error {
	if err := s.UserSession.Delete(name); err != nil {
		return err
	}
	s.user.mu.Lock()
	delete(s.user.folders, name)
	s.user.mu.Unlock()
	return nil
}

func (s *session) Rename(name, newName string, options *imap.RenameOptions) error {
	if err := s.UserSession.Rename(name, newName, options); err != nil {
		return err
	}
	s.user.mu.Lock()
	s.user.folders[strings.TrimRight(newName, "/")] = s.user.folders[name]
	delete(s.user.folders, name)
	s.user.mu.Unlock()
	return nil
}

func (s *session) Namespace() (*imap.NamespaceData, error) {
	return &imap.NamespaceData{Personal: []imap.NamespaceDescriptor{{Prefix: s.srv.namespace, Delim: '/'}}}, nil
}

func (s *session) List(w *imapserver.ListWriter, ref string, patterns []string, options *imap.ListOptions) error {
	if len(patterns) == 0 {
		return w.WriteList(&imap.ListData{Attrs: []imap.MailboxAttr{imap.MailboxAttrNoSelect}, Delim: '/'})
	}
	s.user.mu.Lock()
	names := make([]string, 0, len(s.user.folders))
	roles := make(map[string]string, len(s.user.folders))
	for name, role := range s.user.folders {
		names = append(names, name)
		roles[name] = role
	}
	s.user.mu.Unlock()
	sort.Strings(names)
	for _, name := range names {
		match := false
		for _, p := range patterns {
			if imapserver.MatchList(name, '/', ref, p) {
				match = true
				break
			}
		}
		role := roles[name]
		if !match || options.SelectSpecialUse && role == "" {
			continue
		}
		data := &imap.ListData{Mailbox: name, Delim: '/'}
		if s.srv.special && role != "" {
			data.Attrs = append(data.Attrs, imap.MailboxAttr(`\`+strings.ToUpper(role[:1])+role[1:]))
		}
		if options.ReturnStatus != nil {
			st, err := s.user.mem.Status(name, options.ReturnStatus)
			if err != nil {
				return err
			}
			data.Status = st
		}
		if err := w.WriteList(data); err != nil {
			return err
		}
	}
	return nil
}
