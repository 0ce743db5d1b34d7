// Package localcache is duomail's local store of one account: a Maildir
// per folder for whole messages and one SQLite index (index.sqlite) for
// envelopes, flags, sizes, IMAP UIDs and UIDVALIDITY, POP3 UIDLs and sync
// state. It implements client.Cache.
//
// For POP3 the cache holds the only copy once the server has deleted a
// message, so it is built to be as trustworthy as the server: nothing is
// recorded before it is on disk, and nothing recorded is lost or doubled by
// a crash at any point.
//
// # Layout
//
//	<dir>/index.sqlite        the index (WAL mode: also -wal and -shm)
//	<dir>/lock                flock(2)ed by Lock while a sync runs
//	<dir>/<folder>/{cur,new,tmp}/
//
// Directories are 0700 and files 0600. Folder names are percent-encoded
// only where a name would be unsafe as one path element (EncodeFolder), so
// INBOX, Sent and Archive are plain directories that mutt or notmuch can
// open as they are (MaildirPath).
//
// A message's Maildir key is derived from what names it on the server:
// "duomail-<UIDVALIDITY, 8 hex digits>-<ID in lower-case base32hex>". A
// second download of a message therefore lands on the same name instead of
// making a copy, and a file whose index row was never written says which
// message it is. Flags appear as Maildir info (":2,FS"; D draft, F flagged,
// R answered, S seen, T deleted) so other tools see them; a file with flags
// lives in cur/, one without in new/.
//
// # Writing messages
//
// go-maildir is used for what it does well: creating Maildirs (Dir.Init)
// and finding a message that another program renamed (Dir.MessageByKey,
// flags in file names). Deliveries are written here instead, because
// go-maildir's Dir.Create and NewDelivery never fsync, create files with
// mode 0666 (minus umask) and pick random keys; random keys would make a
// re-download after a crash a second copy.
//
// A Batch streams each message into tmp/<key> (O_EXCL, 0600; never held in
// memory). Commit then
//
//  1. makes the files' data durable,
//  2. renames them into new/ or cur/, under the index's write lock,
//  3. makes the renames durable,
//  4. records all of them in one SQLite transaction (synchronous=FULL), so
//     that when Commit returns the server's copies may be deleted.
//
// # Durability: fsync or syncfs
//
// Steps 1 and 3 either fsync each file (up to 16 in flight, which a
// journaling file system merges) and then the directories
// (DurabilityFsync, the default), or call syncfs(2) on the whole file
// system once for each (DurabilitySyncfs). syncfs must flush every dirty
// page of the file system, other programs' included, so its cost grows
// without bound with whatever else is being written; fsync flushes only
// duomail's files. BenchmarkCommit compares the two, on an idle disk and
// while another program writes.
//
// # Recovery
//
// Open (when no other process holds the sync lock) and Lock repair what an
// interrupted run left: temporary files are removed, files renamed into
// new/ or cur/ whose rows were never written are adopted (their envelopes
// parsed from the file), duplicate copies and stale IMAP copies (an
// interrupted Reset) are removed, and rows whose files disappeared lose
// their body. Open compares only folders with signs of an interrupted
// write (Commit keeps a marker in tmp/ until its rows are committed) or
// whose cur/ or new/ changed since the last comparison; Lock compares all
// of them. A lost index is rebuilt from the Maildirs.
//
// # Other programs in the Maildirs
//
// mutt and notmuch may rename message files to change flags and may delete
// them. The flag letters in a file name are read back by listing cur/ and
// new/ (no file is opened), and only when their modification times differ
// from those recorded at the last comparison. List, Entries and Counts
// show them at once; recovery records them in the index. duomail's own
// renames start from the letters a file has now and keep the ones it does
// not manage. In a POP3 folder the index then holds the user's flags; in
// an IMAP folder the server's flags win: the next sync fetches all of
// them and renames the files back. A stored body whose file was deleted
// is forgotten while the server still has the message (it can be fetched
// again); when the server no longer has it, the message is marked lost:
// it is no longer listed, Open says so (client.ErrLocalCopyLost), and the
// next sync reports it (client.Entry.Lost) and drops it.
//
// # A cache that cannot be written
//
// On a read-only file system or a full disk, Open falls back to reading:
// SQLite's mode=ro, or, when not even the -shm file can be made and no
// -wal file holds anything, immutable=1. Every write then fails with
// ErrReadOnly and the reason in words ("read-only file system", "no space
// left on device"); SQLite's own codes for these (SQLITE_FULL, and I/O
// errors on a file system that is full or read-only) are put in the same
// words.
//
// # Concurrency
//
// A Cache may be used from several goroutines, and several duomail
// processes may open the same cache: SQLite's WAL lets readers go on while
// one process writes, busy_timeout makes writers wait for each other, and
// every rename or removal of a message file happens inside an index write
// transaction, so recovery in one process never sees another's half-done
// change. Batches should be used under Lock, which keeps two syncs of one
// account from running at once. Reading never waits: Open, List, Entries,
// Counts and Open of a body take neither the sync lock nor the index's
// write lock, and Open repairs only what it can without waiting for
// either.
package localcache
