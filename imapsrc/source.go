package imapsrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/wire"
)

// Source is one logged-in IMAP session. Like every client.Source it does one
// operation at a time.
type Source struct {
	acct    *client.Account
	opts    client.DialOptions
	c       *imapclient.Client
	base    *wire.Conn
	wire    *wireConn
	timeout time.Duration
	tlsDesc string
	// encrypted: the connection is TLS, whatever the account says, so
	// login never sends a password in the clear by mistake.
	encrypted bool

	preCaps      imap.CapSet // before login, for the auth mechanisms
	caps         imap.CapSet // after login
	capabilities client.Capabilities
	trash        string // the Trash folder, "" when there is none
	trashByName  bool   // trash was chosen by its name, not by \Trash
	// rolesKnown: trash was looked up (this session or an earlier one,
	// remembered in opts.Roles). Until then no folder is listed: a LIST
	// makes Dovecot rescan the next folder opened, seconds at 50,000
	// messages, so it is sent only when an operation needs a role.
	rolesKnown bool
	// personal is the personal namespace from NAMESPACE, asked (nsKnown)
	// with the first listing on a server without SPECIAL-USE.
	personal []imap.NamespaceDescriptor
	nsKnown  bool

	// ops counts operations; freshAt is the operation whose selection is
	// still current (a Status or Examine just made), so the next operation
	// on that folder need not select it again.
	ops, freshAt int

	sel selection

	// events is signalled (without blocking) by the reader goroutine when
	// the server reports new mail, an expunge or a flag change.
	events chan struct{}

	broken    error // the failure that ended the session
	closed    bool
	closeOnce sync.Once
	closeErr  error
}

// selection is the folder currently selected and what selecting it said.
type selection struct {
	name     string
	readOnly bool
	status   client.FolderStatus
}

// Capabilities reports what the server lets duomail do; no round trip.
func (s *Source) Capabilities() client.Capabilities { return s.capabilities }

func (s *Source) unilateralHandler() *imapclient.UnilateralDataHandler {
	signal := func() {
		select {
		case s.events <- struct{}{}:
		default:
		}
	}
	// These run on imapclient's reader goroutine: they must not call the
	// client, only note that something changed.
	return &imapclient.UnilateralDataHandler{
		Expunge: func(uint32) { signal() },
		Mailbox: func(d *imapclient.UnilateralDataMailbox) {
			if d.NumMessages != nil {
				signal()
			}
		},
		Fetch: func(msg *imapclient.FetchMessageData) {
			signal()
			// Drain it: an unclaimed FETCH (a flag change, or data a
			// misbehaving server sent in an order imapclient cannot match)
			// blocks the reader until its items are consumed.
			for item := msg.Next(); item != nil; item = msg.Next() {
			}
		},
	}
}

// run brackets one operation: it refuses to use a broken session, bounds
// every wait by the account timeout, turns cancelling ctx into closing the
// connection, and turns what went wrong into an error naming op.
func (s *Source) run(ctx context.Context, op string, f func() error) error {
	if s.broken != nil {
		return fmt.Errorf("%s: session unusable after an earlier failure: %w", op, s.broken)
	}
	if s.closed {
		return fmt.Errorf("%s: %w: session closed", op, client.ErrNetwork)
	}
	if err := ctx.Err(); err != nil {
		return wire.NetError(op, err)
	}
	s.ops++
	s.wire.arm(s.timeout)
	defer s.wire.disarm()
	stop := context.AfterFunc(ctx, func() { s.base.Close() })
	err := f()
	if !stop() {
		// ctx ended during the operation and the connection is gone;
		// that, not the broken read it caused, is what happened.
		cerr := wire.NetError(op, ctx.Err())
		s.broken = cerr
		s.base.Close()
		if err != nil {
			return cerr
		}
		return nil
	}
	if err == nil {
		return nil
	}
	return s.translate(op, err)
}

// translate turns an error from imapclient into the error a user reads. A
// server's NO or BAD keeps the server's words; anything else means the
// connection is gone and the session is marked broken.
func (s *Source) translate(op string, err error) error {
	if err == nil {
		return nil
	}
	var cb *callbackError
	if isOwnError(err) || errors.As(err, &cb) {
		return err
	}
	var ie *imap.Error
	if errors.As(err, &ie) {
		return serverError(op, ie)
	}
	var out error
	switch ioErr := s.wire.ioErr(); {
	case errors.Is(ioErr, client.ErrProtocol): // the wire refused what the server sent
		out = fmt.Errorf("%s: %w", op, ioErr)
	case ioErr != nil:
		out = wire.NetError(op, ioErr)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		out = wire.NetError(op, io.EOF)
	default:
		out = fmt.Errorf("%s: %w: %v", op, client.ErrProtocol, err)
	}
	s.breakWith(out)
	return out
}

// isOwnError reports whether err was already built by this package (or by
// a caller's callback) with one of the client error kinds.
func isOwnError(err error) bool {
	for _, kind := range []error{client.ErrUsage, client.ErrStaleIDs, client.ErrNotFound, client.ErrUnsupported,
		client.ErrProtocol, client.ErrNetwork, client.ErrServer, client.ErrAuth} {
		if errors.Is(err, kind) {
			return true
		}
	}
	return false
}

// serverError keeps the server's text; a missing folder also matches
// ErrNotFound.
func serverError(op string, ie *imap.Error) error {
	se := &client.ServerError{Op: op, Text: ie.Text}
	switch ie.Code {
	case imap.ResponseCodeNonExistent, imap.ResponseCodeTryCreate:
		return fmt.Errorf("%w (%w)", se, client.ErrNotFound)
	}
	if ie.Text == "" {
		se.Text = string(ie.Type)
	}
	return se
}

// breakWith records the failure that ended the session and drops the
// connection, so nothing more is sent on a connection in an unknown state.
func (s *Source) breakWith(err error) {
	if s.broken == nil {
		s.broken = err
	}
	s.base.Close()
}

// Close logs out and closes the connection. Calling it again does nothing.
func (s *Source) Close() error {
	s.closeOnce.Do(func() {
		s.closed = true
		if s.broken != nil {
			// The call that broke the session already reported why, and
			// IMAP leaves nothing pending to be lost: nothing to add.
			s.closeClient()
			return
		}
		s.wire.arm(s.timeout)
		// Bounded: a LOGOUT that cannot even be sent (another goroutine
		// misusing the Source, a server not reading) must not hang Close.
		done := make(chan error, 1)
		go func() { done <- s.c.Logout().Wait() }()
		var err error
		select {
		case err = <-done:
		case <-time.After(s.timeout):
		}
		s.closeClient()
		if err != nil && s.wire.ioErr() == nil {
			var ie *imap.Error
			if errors.As(err, &ie) {
				s.closeErr = serverError("logout", ie)
			}
		}
	})
	return s.closeErr
}

// closeClient closes the connection and waits, boundedly, for imapclient's
// reader to finish: a reader stuck handing data to a command nobody reads
// any more must not hang Close.
func (s *Source) closeClient() {
	s.base.Close()
	done := make(chan struct{})
	go func() {
		s.c.Close()
		close(done)
	}()
	t := time.NewTimer(s.timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// buildCapabilities describes, feature by feature, how this server is used
// or why it cannot be.
func buildCapabilities(pre, caps imap.CapSet, tlsDesc, trash string, trashByName, rolesKnown bool) client.Capabilities {
	var announced []string
	for c := range caps {
		announced = append(announced, string(c))
	}
	sort.Strings(announced)
	out := Baseline()
	out.Announced = announced
	out.Auth = pre.AuthMechanisms()
	out.TLS = tlsDesc
	if out.Auth == nil {
		out.Auth = []string{}
	}
	uidplus := caps.Has(imap.CapUIDPlus)
	move := caps.Has(imap.CapMove)
	// How the chosen messages are removed for good: the one thing that
	// differs between servers with and without UIDPLUS.
	remove := "UID STORE \\Deleted + UID EXPUNGE (UIDPLUS)"
	if !uidplus {
		remove = "STORE \\Deleted + EXPUNGE, refused while other messages carry \\Deleted (no UIDPLUS)"
	}

	if move {
		out.Set(client.FeatureServerMove, true, "UID MOVE")
	} else {
		out.Set(client.FeatureServerMove, true, "UID COPY + "+remove)
	}
	if caps.Has(imap.CapIdle) {
		out.Set(client.FeaturePush, true, "IDLE")
	} else {
		out.Set(client.FeaturePush, false, "server lacks IDLE: poll instead")
	}
	out.Set(client.FeatureDeleteNoDownload, true, remove+", or a move to Trash")
	out.Set(client.FeatureExpunge, true, remove)
	// The Trash found by name is said, as the guess may be wrong.
	if trashByName {
		trash += " (found by name: no folder has the \\Trash attribute)"
	}
	switch {
	case !rolesKnown:
		out.Set(client.FeatureTrash, true, "moves to the folder with the \\Trash role or named Trash or Deleted Items (looked up at the first delete), else "+remove)
	case trash == "":
		out.Set(client.FeatureTrash, false, "no folder with the \\Trash role or named Trash or Deleted Items")
	case move:
		out.Set(client.FeatureTrash, true, "UID MOVE to "+trash)
	default:
		out.Set(client.FeatureTrash, true, "UID COPY to "+trash+" + "+remove)
	}
	if caps.Has(imap.CapSort) {
		out.Set(client.FeatureServerSort, true, "UID SORT")
	} else {
		out.Set(client.FeatureServerSort, false, "server lacks SORT: --sort other than arrival fetches the envelopes of every hit and sorts them locally")
	}
	if caps.Has(imap.CapCondStore) {
		out.Set(client.FeatureChangeTracking, true, "CONDSTORE (HIGHESTMODSEQ, FETCH CHANGEDSINCE)")
	} else {
		out.Set(client.FeatureChangeTracking, false, "server lacks CONDSTORE: every sync compares all flags")
	}
	return out
}

// findTrash learns which folder deletions go to (see decideRoles) and
// remembers every role for later sessions.
func (s *Source) findTrash() error {
	var opts *imap.ListOptions
	if s.caps.Has(imap.CapSpecialUse) && (s.caps.Has(imap.CapListExtended) || s.caps.Has(imap.CapListStatus)) {
		opts = &imap.ListOptions{ReturnSpecialUse: true}
	}
	list, err := s.listAll(opts)
	if err != nil {
		return err
	}
	s.learnRoles(s.decideRoles(list))
	return nil
}

// listAll lists every folder. A server without SPECIAL-USE names its
// roles only by folder names, which sit below its personal namespace
// ("INBOX." on Courier): NAMESPACE asks where that is, in the same round
// trip, once a session.
func (s *Source) listAll(opts *imap.ListOptions) ([]*imap.ListData, error) {
	var nsCmd *imapclient.NamespaceCommand
	if !s.nsKnown && !s.caps.Has(imap.CapSpecialUse) && s.caps.Has(imap.CapNamespace) {
		nsCmd = s.c.Namespace()
	}
	list, err := s.c.List("", "*", opts).Collect()
	if nsCmd != nil {
		// A server that refuses NAMESPACE still has its folders looked
		// for at the top level and below INBOX.
		if ns, nsErr := nsCmd.Wait(); nsErr == nil && ns != nil {
			s.personal = ns.Personal
		}
		s.nsKnown = true
	}
	return list, err
}

func (s *Source) decideRoles(list []*imap.ListData) folderRoles {
	return decideRoles(list, s.personal)
}

// learnRoles takes the roles decided from a folder listing, describes the
// Trash in the capabilities accordingly and remembers the roles in
// opts.Roles. Failing to remember costs only a listing next time: not an
// error.
func (s *Source) learnRoles(roles folderRoles) {
	trash := roles.byRole[client.RoleTrash]
	s.trash, s.trashByName = trash.Folder, trash.ByName
	s.rolesKnown = true
	s.capabilities = buildCapabilities(s.preCaps, s.caps, s.tlsDesc, s.trash, s.trashByName, true)
	if s.opts.Roles == nil {
		return
	}
	_ = s.opts.Roles.SetRoles(context.Background(), roles.byRole)
}

// ResolveRoles implements client.RoleResolver: it looks the folder roles
// up unless this session already knows them.
func (s *Source) ResolveRoles(ctx context.Context) error {
	if s.rolesKnown {
		return nil
	}
	return s.run(ctx, "list folders", func() error {
		if err := s.findTrash(); err != nil {
			return s.translate("list folders", err)
		}
		return nil
	})
}

// forgetRoles drops what is known of the roles, after the server said a
// remembered folder is gone, so that they are looked up again.
func (s *Source) forgetRoles() {
	s.rolesKnown, s.trash, s.trashByName = false, "", false
	if s.opts.Roles != nil {
		_ = s.opts.Roles.SetRoles(context.Background(), nil)
	}
}

func hasAttr(attrs []imap.MailboxAttr, a imap.MailboxAttr) bool {
	for _, x := range attrs {
		if strings.EqualFold(string(x), string(a)) {
			return true
		}
	}
	return false
}
