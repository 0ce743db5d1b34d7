package imapsrc

import (
	"maps"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/duomail/duomail/client"
)

// listing builds LIST answers from "name" or "name \Attr \Attr" lines, all
// with one delimiter.
func listing(delim rune, lines ...string) []*imap.ListData {
	var out []*imap.ListData
	for _, line := range lines {
		name, attrs, _ := strings.Cut(line, " \\")
		l := &imap.ListData{Mailbox: name, Delim: delim}
		if attrs != "" {
			for _, a := range strings.Split(attrs, " \\") {
				l.Attrs = append(l.Attrs, imap.MailboxAttr(`\`+a))
			}
		}
		out = append(out, l)
	}
	return out
}

func TestFolderRolesDecidedByAttributeThenName(t *testing.T) {
	inboxDot := []imap.NamespaceDescriptor{{Prefix: "INBOX.", Delim: '.'}}
	for _, tc := range []struct {
		name     string
		list     []*imap.ListData
		personal []imap.NamespaceDescriptor
		// want: folder -> role, with "?" appended where guessed by name;
		// folders not named have no role.
		want map[string]string
		// trash is the folder delete moves to, "?" appended when by name.
		trash string
	}{
		{
			name:     "Courier: everything below INBOX., no SPECIAL-USE",
			list:     listing('.', "INBOX", "INBOX.Trash", "INBOX.Sent", "INBOX.Drafts", "INBOX.Spam", "INBOX.Archive", "INBOX.Receipts"),
			personal: inboxDot,
			want: map[string]string{"INBOX": "inbox", "INBOX.Trash": "trash?", "INBOX.Sent": "sent?",
				"INBOX.Drafts": "drafts?", "INBOX.Spam": "junk?", "INBOX.Archive": "archive?"},
			trash: "INBOX.Trash?",
		},
		{
			name:  "below INBOX. without NAMESPACE",
			list:  listing('.', "INBOX", "INBOX.trash", "INBOX.Sent Items"),
			want:  map[string]string{"INBOX": "inbox", "INBOX.trash": "trash?", "INBOX.Sent Items": "sent?"},
			trash: "INBOX.trash?",
		},
		{
			name:  "slash hierarchy at the top level, names in any case",
			list:  listing('/', "INBOX", "TRASH", "sent messages", "Junk", "Archive/2023", "Projects/Drafts", "Projects"),
			want:  map[string]string{"INBOX": "inbox", "TRASH": "trash?", "sent messages": "sent?", "Junk": "junk?"},
			trash: "TRASH?",
		},
		{
			name:  "the first common name wins: Trash before Deleted Items, Sent before Sent Items, Junk before Spam",
			list:  listing('/', "INBOX", "Deleted Items", "Trash", "Sent Items", "Sent", "Spam", "Junk"),
			want:  map[string]string{"INBOX": "inbox", "Trash": "trash?", "Sent": "sent?", "Junk": "junk?"},
			trash: "Trash?",
		},
		{
			name:  "the top level before INBOX's children when the namespace is unknown",
			list:  listing('/', "INBOX", "INBOX/Trash", "Trash"),
			want:  map[string]string{"INBOX": "inbox", "Trash": "trash?"},
			trash: "Trash?",
		},
		{
			name:     "the personal namespace prefix before the top level",
			list:     listing('/', "INBOX", "Trash", "Mail/Trash", "Mail/Sent"),
			personal: []imap.NamespaceDescriptor{{Prefix: "Mail/", Delim: '/'}},
			want:     map[string]string{"INBOX": "inbox", "Mail/Trash": "trash?", "Mail/Sent": "sent?"},
			trash:    "Mail/Trash?",
		},
		{
			name:  "SPECIAL-USE wins over any name, per role; other roles still guessed",
			list:  listing('/', "INBOX", "Trash", "Bin \\Trash", "Sent \\Sent", "Sent Messages \\Sent", "Spam"),
			want:  map[string]string{"INBOX": "inbox", "Bin": "trash", "Sent": "sent", "Sent Messages": "sent", "Spam": "junk?"},
			trash: "Bin",
		},
		{
			name: "a folder with another role's attribute is not guessed",
			list: listing('/', "INBOX", "Trash \\Archive"),
			want: map[string]string{"INBOX": "inbox", "Trash": "archive"},
		},
		{
			name:     "folders that cannot be selected are skipped",
			list:     listing('.', "INBOX", "INBOX.Trash \\Noselect", "INBOX.Deleted Items", "INBOX.Sent \\NonExistent"),
			personal: inboxDot,
			want:     map[string]string{"INBOX": "inbox", "INBOX.Deleted Items": "trash?"},
			trash:    "INBOX.Deleted Items?",
		},
		{
			name: "INBOX keeps its role whatever its attributes, and is never a Trash",
			list: listing('/', "inbox \\Trash", "Sent"),
			want: map[string]string{"inbox": "inbox", "Sent": "sent?"},
		},
		{
			name: "no folder for a role",
			list: listing('/', "INBOX", "Work", "Trash/Old"),
			want: map[string]string{"INBOX": "inbox"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			roles := decideRoles(tc.list, tc.personal)
			got := map[string]string{}
			for _, l := range tc.list {
				role, byName := roles.of(l.Mailbox)
				if byName {
					role += "?"
				}
				if role != "" {
					got[l.Mailbox] = role
				}
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("roles %v\nwant  %v", got, tc.want)
			}
			trash := roles.byRole[client.RoleTrash]
			gotTrash := trash.Folder
			if trash.ByName {
				gotTrash += "?"
			}
			if gotTrash != tc.trash {
				t.Errorf("trash %q, want %q", gotTrash, tc.trash)
			}
			// What is remembered for operations agrees with what folders
			// shows, guessed roles included.
			for role, rf := range roles.byRole {
				if r, byName := roles.of(rf.Folder); r != role || byName != rf.ByName {
					t.Errorf("role %s remembered as %+v, but that folder shows %q (by name %v)", role, rf, r, byName)
				}
			}
		})
	}
}
