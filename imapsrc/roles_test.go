package imapsrc

import (
	"maps"
	"strings"
	"testing"

	"github.com/emersion/go-imap/v2"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/imapsrc/imaptest"
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

// courierFake answers like Courier-IMAP: no SPECIAL-USE, every folder
// below the personal namespace "INBOX.". It answers NAMESPACE only once
// the LIST behind it has arrived, so a client that waited for the answer
// before listing would time out: the lookup costs no extra round trip.
func courierFake(caps string) *fake {
	var nsTag string
	return &fake{caps: caps, handle: func(p *imaptest.Peer, tag, name, args string) bool {
		switch name {
		case "NAMESPACE":
			nsTag = tag
		case "LIST":
			if nsTag != "" {
				p.Send(`* NAMESPACE (("INBOX." ".")) NIL (("#shared." ".")("shared." "."))`, nsTag+" OK NAMESPACE completed.")
				nsTag = ""
			}
			p.Send(`* LIST (\Marked \HasChildren) "." "INBOX"`,
				`* LIST (\HasNoChildren) "." "INBOX.Drafts"`,
				`* LIST (\HasNoChildren) "." "INBOX.Sent"`,
				`* LIST (\HasNoChildren) "." "INBOX.Trash"`,
				`* LIST (\HasNoChildren) "." "INBOX.Work"`,
				tag+" OK LIST completed")
		case "STATUS":
			folder, _, _ := strings.Cut(args, " (")
			p.Send("* STATUS "+folder+" (MESSAGES 0 UNSEEN 0)", tag+" OK STATUS Completed.")
		default:
			return false
		}
		return true
	}}
}

func TestFolderRolesByNameOnCourierLayout(t *testing.T) {
	f := courierFake("IMAP4rev1 UIDPLUS CHILDREN NAMESPACE IDLE")
	acct := f.start(t)
	store := &memRoles{}
	src, err := Dial(bg, acct, client.DialOptions{Roles: store})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	folders, err := src.Folders(bg)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, fo := range folders {
		role := fo.Role
		if fo.RoleGuessed {
			role += " (by name)"
		}
		got[fo.Name] = role
	}
	want := map[string]string{"INBOX": "inbox", "INBOX.Drafts": "drafts (by name)", "INBOX.Sent": "sent (by name)",
		"INBOX.Trash": "trash (by name)", "INBOX.Work": ""}
	if !maps.Equal(got, want) {
		t.Errorf("folders %v\nwant    %v", got, want)
	}
	if !f.saw("NAMESPACE") {
		t.Error("no NAMESPACE sent to a server without SPECIAL-USE")
	}
	// Listing the folders remembered their roles, as guessed.
	wantTrash := client.RoleFolder{Folder: "INBOX.Trash", ByName: true}
	if store.roles[client.RoleTrash] != wantTrash || store.roles[client.RoleSent] != (client.RoleFolder{Folder: "INBOX.Sent", ByName: true}) {
		t.Errorf("remembered %v", store.roles)
	}
	trashHow := func(s client.Source) string {
		return s.Capabilities().Features[client.FeatureTrash].How
	}
	if how := trashHow(src); !strings.Contains(how, "INBOX.Trash (found by name") {
		t.Errorf("capabilities say of the Trash: %q", how)
	}

	// A later session knows from the cache that the Trash was a guess,
	// without listing.
	again, err := Dial(bg, acct, client.DialOptions{Roles: store})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Close()
	if how := trashHow(again); !strings.Contains(how, "INBOX.Trash (found by name") {
		t.Errorf("next session's capabilities say of the Trash: %q", how)
	}
}

// A server with SPECIAL-USE is not asked NAMESPACE: its roles come from
// the attributes, and a listing costs what it did.
func TestNoNamespaceAskedOfSpecialUseServer(t *testing.T) {
	f := courierFake("IMAP4rev1 UIDPLUS CHILDREN NAMESPACE IDLE SPECIAL-USE")
	src, err := Dial(bg, f.start(t), client.DialOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	if _, err := src.Folders(bg); err != nil {
		t.Fatal(err)
	}
	if f.saw("NAMESPACE") {
		t.Error("NAMESPACE sent to a server with SPECIAL-USE")
	}
}
