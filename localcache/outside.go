package localcache

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/duomail/duomail/client"
)

// Other programs (mutt, notmuch) work in the Maildirs too: they rename a
// file to change its flags ("new/K" to "cur/K:2,FS") and may delete it.
// The file names are read back by listing cur/ and new/ (never by opening
// a file), and what they say wins over the index: a flag letter in a name
// is the user's latest word. For IMAP folders the server still has the
// last word: recovery makes the next sync fetch every flag again, which
// renames the files back to the server's flags (see recoverFolder).

// dirStamp is the modification times of a Maildir's cur/ and new/, in
// Unix nanoseconds. Renaming, creating or removing a file in a directory
// changes its time, so an unchanged stamp proves that the file names are
// as they were when last compared with the index.
type dirStamp struct{ cur, new int64 }

// stampMargin: a file system takes times from a coarse clock, so a
// directory changed this recently may change again without its time
// moving. Such a stamp is not recorded (git's "racy" index entries).
const stampMargin = 2 * time.Second

func readStamp(mdir string) (dirStamp, error) {
	var s dirStamp
	for _, sub := range []string{"cur", "new"} {
		fi, err := os.Stat(filepath.Join(mdir, sub))
		if err != nil {
			return dirStamp{}, err
		}
		if sub == "cur" {
			s.cur = fi.ModTime().UnixNano()
		} else {
			s.new = fi.ModTime().UnixNano()
		}
	}
	return s, nil
}

// settled returns the stamp to record after a comparison that started at
// start: s itself, or the zero stamp (compare again next time) when a
// directory changed too close to start to be trusted.
func (s dirStamp) settled(start time.Time) dirStamp {
	limit := start.Add(-stampMargin).UnixNano()
	if s.cur > limit || s.new > limit {
		return dirStamp{}
	}
	return s
}

// proves reports whether a recorded stamp shows that nothing changed.
func (s dirStamp) proves(recorded dirStamp) bool {
	return recorded != dirStamp{} && s == recorded
}

// scanNames lists duomail's message files in cur/ and new/ by key, as
// "sub/name". Of two copies the one in cur/ is kept (recovery removes the
// other).
func scanNames(mdir string) (map[string]string, error) {
	files := map[string]string{}
	for _, sub := range []string{"cur", "new"} {
		names, err := readNames(filepath.Join(mdir, sub))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if key, _, _, ok := parseFileName(n); ok {
				if _, dup := files[key]; !dup {
					files[key] = sub + "/" + n
				}
			}
		}
	}
	return files, nil
}

// mergeLetters returns the flags a message has once the Maildir info of
// the file at path is taken as the truth for the flags that have a letter:
// the others (keywords) come from the index.
func mergeLetters(indexFlags []client.Flag, path string) []client.Flag {
	out := make([]client.Flag, 0, len(indexFlags)+len(flagLetters))
	for _, fl := range indexFlags {
		if !hasLetter(fl) {
			out = append(out, fl)
		}
	}
	return append(out, flagsFromInfo(path)...)
}

func hasLetter(fl client.Flag) bool {
	for _, l := range flagLetters {
		if l.flag == fl {
			return true
		}
	}
	return false
}

// sameFlagSet compares flags ignoring order.
func sameFlagSet(a, b []client.Flag) bool {
	if len(a) != len(b) {
		return false
	}
	for _, fl := range a {
		if !client.HasFlag(b, fl) {
			return false
		}
	}
	return true
}

// outsideChange is what a folder's file names say about one message that
// its index row does not say yet.
type outsideChange struct {
	flags []client.Flag // flags from the file name; nil when unchanged
	lost  bool          // the file is gone, and so is the server's copy
}

// outsideChanges compares the folder's file names with its index rows,
// without writing: reading commands show what another program changed
// before the index records it (recovery does, at the next Open or sync
// that finds no sync running), and on a cache they cannot write at all.
// It returns nil, having read no directory, when the recorded stamp
// proves nothing changed.
func (c *Cache) outsideChanges(ctx context.Context, f folderRow) (map[string]outsideChange, error) {
	st, err := readStamp(f.path)
	if err != nil || st.proves(f.stamp) {
		return nil, nil // no Maildir: a moved directory, which recovery also leaves alone
	}
	files, err := scanNames(f.path)
	if err != nil {
		return nil, nil
	}
	rows, err := c.db.QueryContext(ctx, `SELECT id, flags, body_path, on_server FROM messages WHERE folder_id = ? AND uidvalidity = ? AND body_path != '' AND lost = 0`, f.id, int64(f.uidValidity))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out map[string]outsideChange
	for rows.Next() {
		var r fileRef
		var flags string
		var onServer bool
		if err := rows.Scan(&r.id, &flags, &r.path, &onServer); err != nil {
			return nil, err
		}
		r.uidValidity = f.uidValidity
		p, ok := files[r.key()]
		if !ok {
			// Renamed while the directories were read, or gone.
			if p, err = locateFlags(f.path, r, nil, false); err != nil {
				return nil, err
			}
		}
		if p == r.path {
			continue
		}
		var ch outsideChange
		if p == "" {
			if onServer {
				continue // the server still has it: fetch gets it from there
			}
			ch.lost = true
		} else {
			old := parseFlags(flags)
			if ch.flags = mergeLetters(old, p); sameFlagSet(ch.flags, old) {
				continue
			}
		}
		if out == nil {
			out = map[string]outsideChange{}
		}
		out[r.id] = ch
	}
	return out, rows.Err()
}
