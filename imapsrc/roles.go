package imapsrc

import (
	"strings"

	"github.com/emersion/go-imap/v2"

	"github.com/duomail/duomail/client"
)

// roleNames are the names a folder commonly has for a role, most usual
// first, as other clients create them on servers without SPECIAL-USE
// (Courier, UW-IMAP, Mailutils) and as Outlook and Apple Mail name them.
var roleNames = []struct {
	role  string
	names []string
}{
	{client.RoleTrash, []string{"Trash", "Deleted Items"}},
	{client.RoleSent, []string{"Sent", "Sent Messages", "Sent Items"}},
	{client.RoleDrafts, []string{"Drafts"}},
	{client.RoleJunk, []string{"Junk", "Spam"}},
	{client.RoleArchive, []string{"Archive"}},
}

// folderRoles is what decideRoles found: each folder's role, and for each
// role the folder operations use (the Trash a delete moves to).
type folderRoles struct {
	byFolder map[string]folderRole
	byRole   map[string]client.RoleFolder
}

type folderRole struct {
	role   string
	byName bool
}

// of returns the role of a folder and whether it was chosen by name.
func (r folderRoles) of(name string) (role string, byName bool) {
	if strings.EqualFold(name, client.Inbox) {
		return client.RoleInbox, false
	}
	fr := r.byFolder[name]
	return fr.role, fr.byName
}

// decideRoles gives the folders of a listing their roles: the special-use
// attributes the server set, and for a role no folder carries (every role,
// on a server without SPECIAL-USE) the folder with a common name for it
// at the top of the personal namespace (prefixes from NAMESPACE, e.g.
// "INBOX." on Courier), at the top level, or directly below INBOX. Each
// role is guessed for one folder at most: the first name of roleNames
// found, in the most specific place. INBOX is never given another role,
// and a folder that cannot be selected none.
//
// Folders and the Trash lookup both use this, so that what "folders"
// shows is where delete moves mail.
func decideRoles(list []*imap.ListData, personal []imap.NamespaceDescriptor) folderRoles {
	out := folderRoles{byFolder: map[string]folderRole{}, byRole: map[string]client.RoleFolder{}}
	var usable []*imap.ListData
	for _, l := range list {
		if hasAttr(l.Attrs, imap.MailboxAttrNoSelect) || hasAttr(l.Attrs, imap.MailboxAttrNonExistent) ||
			strings.EqualFold(l.Mailbox, client.Inbox) {
			continue
		}
		usable = append(usable, l)
	}
	for _, l := range usable {
		role := roleOf(l)
		if role == "" {
			continue
		}
		out.byFolder[l.Mailbox] = folderRole{role: role}
		// The first folder the server marks is the one operations use,
		// as with several \Sent (Dovecot's "Sent" and "Sent Messages").
		if _, ok := out.byRole[role]; !ok {
			out.byRole[role] = client.RoleFolder{Folder: l.Mailbox}
		}
	}
	for _, rn := range roleNames {
		if _, ok := out.byRole[rn.role]; ok {
			continue // the server's word beats any name
		}
		best, bestRank := "", -1
		for _, l := range usable {
			if _, taken := out.byFolder[l.Mailbox]; taken {
				continue // a role from the server, or an earlier guess
			}
			rank := nameRank(l, rn.names, personal)
			if rank >= 0 && (bestRank < 0 || rank < bestRank) {
				best, bestRank = l.Mailbox, rank
			}
		}
		if best != "" {
			out.byFolder[best] = folderRole{role: rn.role, byName: true}
			out.byRole[rn.role] = client.RoleFolder{Folder: best, ByName: true}
		}
	}
	return out
}

// nameRank says how well a folder's name fits a role: -1 not at all, else
// lower is better. The place counts first (the personal namespace's own
// level, then the top level, then directly below INBOX for a server that
// did not say its namespace), then the order of names.
func nameRank(l *imap.ListData, names []string, personal []imap.NamespaceDescriptor) int {
	var prefixes []string
	for _, ns := range personal {
		prefixes = append(prefixes, ns.Prefix)
	}
	prefixes = append(prefixes, "")
	if l.Delim != 0 {
		// Courier and Cyrus keep every folder below INBOX; without
		// NAMESPACE that is the place to look.
		prefixes = append(prefixes, client.Inbox+string(l.Delim))
	}
	for p, prefix := range prefixes {
		if len(l.Mailbox) <= len(prefix) || !strings.EqualFold(l.Mailbox[:len(prefix)], prefix) {
			continue
		}
		rest := l.Mailbox[len(prefix):]
		for n, name := range names {
			if strings.EqualFold(rest, name) {
				return p*len(names) + n
			}
		}
	}
	return -1
}
