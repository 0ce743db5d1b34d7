package main

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/imapsrc/imaptest"
)

// A server without SPECIAL-USE that keeps every folder below its personal
// namespace "INBOX/" (as Courier does below "INBOX."): folders shows the
// roles found by name, marked so, and delete moves to the very folder
// folders calls the Trash.
func TestBinaryFolderRolesByNameWithoutSpecialUse(t *testing.T) {
	t.Parallel()
	caps := slices.DeleteFunc(slices.Clone(imaptest.DefaultCaps), func(c string) bool { return c == "SPECIAL-USE" })
	srv, err := imaptest.Start(imaptest.Options{
		InsecureAuth: true, Caps: caps, NoDefaultFolders: true, Namespace: "INBOX/",
		Folders: map[string]string{"INBOX/Trash": "", "INBOX/Sent Items": "", "INBOX/Drafts": "", "INBOX/Receipts": "", "Trash": ""},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	raw := []byte("Message-ID: <doomed@example.org>\r\nFrom: a@example.org\r\nSubject: doomed\r\n\r\nbye\r\n")
	if err := srv.Append("alice", client.Inbox, raw, nil, time.Now()); err != nil {
		t.Fatal(err)
	}
	c := newCLI(t)
	c.env["DUOMAIL_PASSWORD"] = "secret"
	url := imapURL(srv.Port())

	// The personal namespace's "INBOX/Trash" is the Trash, not the
	// top-level "Trash" beside it.
	want := map[string]client.Folder{
		"INBOX":            {Role: client.RoleInbox},
		"INBOX/Trash":      {Role: client.RoleTrash, RoleGuessed: true},
		"INBOX/Sent Items": {Role: client.RoleSent, RoleGuessed: true},
		"INBOX/Drafts":     {Role: client.RoleDrafts, RoleGuessed: true},
		"INBOX/Receipts":   {},
		"Trash":            {},
	}
	folders := jsonOf[struct {
		Folders []client.Folder `json:"folders"`
	}](t, c.ok("--url", url, "folders", "--json")).Folders
	if len(folders) != len(want) {
		t.Errorf("folders %+v, want %d", folders, len(want))
	}
	for _, f := range folders {
		w, ok := want[f.Name]
		if !ok || f.Role != w.Role || f.RoleGuessed != w.RoleGuessed {
			t.Errorf("folder %+v, want role %q guessed %v", f, w.Role, w.RoleGuessed)
		}
	}

	// Piped, the role column stays the bare role.
	for _, row := range tsv(c.ok("--url", url, "folders").stdout) {
		if len(row) != 4 || row[1] != want[row[0]].Role {
			t.Errorf("TSV row %q, want role %q", row, want[row[0]].Role)
		}
	}

	// On a terminal, a role found by name says so.
	term := c.runChecked(runOptions{tty: true}, "--url", url, "folders")
	if term.code != 0 {
		t.Fatalf("folders on a terminal: %v", term)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(strings.ReplaceAll(term.stdout.String(), "\r", ""), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = line
		}
	}
	for name, role := range map[string]string{"INBOX/Trash": "trash (by name)", "INBOX/Drafts": "drafts (by name)"} {
		if !strings.Contains(rows[name], role) {
			t.Errorf("terminal row for %s: %q, want %q in:\n%s", name, rows[name], role, term.stdout)
		}
	}
	if !strings.Contains(rows["INBOX"], "inbox") || strings.Contains(rows["INBOX"], "by name") {
		t.Errorf("terminal row for INBOX: %q", rows["INBOX"])
	}

	// delete goes to that folder, and capabilities says it was found by name.
	l := jsonOf[listJSON](t, c.ok("--url", url, "list", "--json"))
	id := l.id(t, "doomed")
	del := jsonOf[struct {
		MovedTo string `json:"moved_to"`
	}](t, c.ok("--url", url, "delete", "--json", id))
	if del.MovedTo != "INBOX/Trash" {
		t.Errorf("delete moved to %q, want INBOX/Trash", del.MovedTo)
	}
	inTrash := jsonOf[listJSON](t, c.ok("--url", url, "list", "-f", "INBOX/Trash", "--json"))
	if len(inTrash.Messages) != 1 || inTrash.Messages[0].Subject != "doomed" {
		t.Errorf("INBOX/Trash holds %+v", inTrash.Messages)
	}
	caps2 := jsonOf[capabilitiesResult](t, c.ok("--url", url, "capabilities", "--json"))
	for _, f := range caps2.Features {
		if f.Name == client.FeatureTrash && (!f.Supported || !strings.Contains(f.How, "INBOX/Trash (found by name")) {
			t.Errorf("capabilities trash: %+v", f)
		}
	}
}
