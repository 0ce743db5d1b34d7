package client

import "context"

// RoleStore remembers, per account, which server folder has which role
// (RoleTrash, RoleSent ...), so that a Source need not list every folder on
// every connect just in case an operation needs the Trash. The cache
// implements it.
type RoleStore interface {
	// Roles returns role -> folder as last looked up; known is false when
	// the roles were never looked up (an empty map with known set means
	// the server has no such folder).
	Roles(ctx context.Context) (roles map[string]RoleFolder, known bool, err error)
	// SetRoles replaces what Roles returns.
	SetRoles(ctx context.Context, roles map[string]RoleFolder) error
}

// RoleFolder is the folder that has a role, and how that was decided.
type RoleFolder struct {
	Folder string
	// ByName: no folder carries the role's special-use attribute (Courier
	// has no SPECIAL-USE at all), so the folder was chosen by a common
	// name such as "Trash" or "INBOX.Sent Items". Said to the user, as a
	// guess can be wrong where the server's word cannot.
	ByName bool
}

// RoleResolver is implemented by a Source that looks folder roles up only
// when an operation needs them. ResolveRoles looks them up now, so that
// Capabilities describes the Trash exactly (the capabilities command).
type RoleResolver interface {
	ResolveRoles(ctx context.Context) error
}

// Examiner is implemented by a Source that can read a folder's counts and
// sync markers more cheaply than Status, without counting unseen mail
// (FolderStatus.Unseen is -1): what a sync needs to decide whether
// anything changed.
type Examiner interface {
	Examine(ctx context.Context, folder string) (FolderStatus, error)
}

// ChangeReader is implemented by a Source that can say what changed in a
// folder since a sync recorded its markers (IMAP CONDSTORE), at a cost in
// proportion to the change rather than to the folder.
type ChangeReader interface {
	// Changes reports, for the folder just selected by Examine or Status
	// (st), the messages with a UID of at least since.UIDNext, the flags
	// changed after since.HighestModSeq, and every ID on the server only
	// when the counts show that something vanished.
	Changes(ctx context.Context, ref FolderRef, since SyncState, st FolderStatus) (Changes, error)
}

// Changes is what ChangeReader reports.
type Changes struct {
	New   []Item // new since the last sync, with size and flags, oldest first
	Flags []Item // older messages whose flags changed (ID and Flags only)
	// All lists every ID on the server when some message vanished (the
	// folder holds fewer old messages than the last sync recorded); nil
	// when none did, so that nothing needs comparing.
	All []string
}
