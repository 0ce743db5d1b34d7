package imapsrc

import (
	"errors"
	"sort"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"github.com/duomail/duomail/client"
)

// identityItems tell one message from another as list recorded it: the
// Message-ID (from ENVELOPE, parsed as list parses it), RFC822.SIZE and
// INTERNALDATE.
var identityItems = &imap.FetchOptions{UID: true, Envelope: true, RFC822Size: true, InternalDate: true}

// openTargets selects ref's folder for changing uids and shows, before
// anything changes, that every UID names a message there and, where
// ref.Listed recorded one, the very message listed under it. A UID can name
// another message under the same UIDVALIDITY (a server bug, a mailbox
// rebuilt by hand); a change made to it would hit mail the user never
// chose. One UID FETCH of the identities goes out right behind the SELECT
// (one round trip for both) and also shows which UIDs exist, listed or
// not (a UID never listed is changed as given). A caller with no record
// at all (Listed nil) gets the UID SEARCH for existence alone.
// Any message that is not the one listed refuses the whole change: acting
// on the others would leave the user to work out which half happened.
func (s *Source) openTargets(op string, ref client.FolderRef, uids []imap.UID) error {
	if ref.Listed == nil {
		if err := s.useRef(op, ref, true); err != nil {
			return err
		}
		return s.requireExisting(op, uids)
	}
	var listed, unlisted []imap.UID
	for _, u := range uids {
		if _, ok := ref.Listed[uidString(u)]; ok {
			listed = append(listed, u)
		} else {
			unlisted = append(unlisted, u)
		}
	}

	var selCmd *imapclient.SelectCommand
	if s.sel.name != ref.Name {
		s.sel = selection{}
		s.wire.expectSelect()
		selCmd = s.c.Select(ref.Name, s.selectOptions())
	}
	got := make(map[imap.UID]*imapclient.FetchMessageBuffer, len(uids))
	wanted := setOf(uids)
	var fetches []*imapclient.FetchCommand
	for _, set := range chunkUIDs(uids) {
		fetches = append(fetches, s.c.Fetch(set, identityItems))
	}
	var fetchErr error
	for _, cmd := range fetches {
		for msg := cmd.Next(); msg != nil; msg = cmd.Next() {
			buf, err := msg.Collect()
			if err != nil {
				fetchErr = errors.Join(fetchErr, err)
				break
			}
			if wanted[buf.UID] && complete(buf, identityItems) {
				got[buf.UID] = buf
			}
		}
		if err := cmd.Close(); err != nil && fetchErr == nil {
			fetchErr = err
		}
	}
	if selCmd != nil {
		data, err := selCmd.Wait()
		if err != nil {
			err = s.translate("select "+ref.Name, err)
			if isNotFound(err) {
				return s.noFolder(ref.Name)
			}
			return err
		}
		s.opened(ref.Name, data)
	}
	if err := s.useRef(op, ref, true); err != nil {
		return err
	}
	if fetchErr != nil {
		return s.translate(op+": identity of uid "+formatUIDs(uids), fetchErr)
	}
	if missing := missingUIDs(uids, got); len(missing) > 0 {
		// Asked once more, as every FETCH is: a response imapclient could
		// not match is not a missing message.
		again, err := s.fetchMeta(missing, identityItems)
		if err != nil {
			return s.translate(op+": identity of uid "+formatUIDs(missing), err)
		}
		for u, buf := range again {
			got[u] = buf
		}
		if err := s.checkMissing(op, missing, func(u imap.UID) bool { return got[u] != nil }); err != nil {
			return err
		}
	}

	var wrong []error
	for _, u := range listed {
		id := uidString(u)
		now, _ := envelopeFrom(got[u], ref.Name, s.sel.status.UIDValidity)
		nowID := client.IdentityOf(now)
		if madeUpNow(nowID.Received, time.Now()) {
			nowID.Received = time.Time{}
			s.note("imap: uid " + id + " in " + ref.Name + ": INTERNALDATE is the server's clock now, not when the message arrived: not compared")
		}
		if diff := ref.Listed[id].Differences(nowID); len(diff) > 0 {
			wrong = append(wrong, &client.NotListedError{Folder: ref.Name, ID: id, Differences: diff})
		}
	}
	if len(wrong) > 0 {
		return errors.Join(wrong...)
	}
	if len(listed) > 0 {
		s.note("imap: uid " + formatUIDs(listed) + " in " + ref.Name + ": Message-ID, size and INTERNALDATE agree with what was listed")
	}
	s.neverListed(ref.Name, unlisted)
	return nil
}

// madeUpNow reports whether an INTERNALDATE is the server's clock at the
// time it answered rather than a message's arrival: GNU Mailutils (3.15)
// gives a message without a Date header the time of each session, so the
// one listed and the one seen a second later differ and a change by ID
// would be refused as made to another message. A date within the clock
// skew of now proves nothing either way; the Message-ID and size still
// tell messages apart.
func madeUpNow(internalDate, now time.Time) bool {
	const skew = 2 * time.Second
	d := now.Sub(internalDate)
	return !internalDate.IsZero() && d < skew && d > -skew
}

// neverListed says in the --debug trace which UIDs are changed without an
// identity check, as the cache holds no record of them.
func (s *Source) neverListed(folder string, uids []imap.UID) {
	if len(uids) == 0 {
		return
	}
	sorted := append([]imap.UID(nil), uids...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	s.note("imap: uid " + formatUIDs(sorted) + " in " + folder + " never listed (not in the cache): changed as given, without an identity check")
}
