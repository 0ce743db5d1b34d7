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
// Steps 1 and 3 can either fsync each file and then the directories
// (DurabilityFsync, the default; up to 16 fsyncs in flight, which the
// file system's journal merges), or call syncfs(2) on the whole file system
// once for each (DurabilitySyncfs). BenchmarkCommit stores batches of 100
// messages of 70 KB; "busy" runs it while another goroutine keeps writing
// a file without syncing it. Measured on ext4 in a 2-CPU Firecracker VM
// shared with other jobs (load 2-6, so noisy), over several runs of
//
//	go test ./localcache -run '^$' -bench Commit -benchtime 30x -count 3
//
// the time spent in Commit per batch was:
//
//	                      idle disk     another program writing
//	fsync, 16 at a time   40-63 ms      65-433 ms
//	fsync, one at a time  74-172 ms     107-350 ms
//	syncfs                36-58 ms      780-1260 ms
//
// On an idle disk syncfs is at best slightly faster, within the noise; as
// soon as anything else on the file system writes (a download, a build,
// another mail client), syncfs has to flush that data too and becomes ten
// times slower, without bound. Hence fsync is the default. (Add, which
// creates the files, costs more than Commit here: about 1 ms per file
// creation on this VM's disk.)
//
// # Recovery
//
// Open (when no other process holds the sync lock) and Lock repair what an
// interrupted run left: temporary files are removed, files renamed into
// new/ or cur/ whose rows were never written are adopted (their envelopes
// parsed from the file), duplicate copies and stale IMAP copies (an
// interrupted Reset) are removed, and rows whose files disappeared lose
// their body. Open compares only folders with signs of an interrupted
// write (Commit keeps a marker in tmp/ until its rows are committed); Lock
// compares all of them. A lost index is rebuilt from the Maildirs.
//
// # Concurrency
//
// A Cache may be used from several goroutines, and several duomail
// processes may open the same cache: SQLite's WAL lets readers go on while
// one process writes, busy_timeout makes writers wait for each other, and
// every rename or removal of a message file happens inside an index write
// transaction, so recovery in one process never sees another's half-done
// change. Batches should be used under Lock, which keeps two syncs of one
// account from running at once.
package localcache
