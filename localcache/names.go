package localcache

import (
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/duomail/duomail/client"
)

// reservedNames may not be folder directories: they are Maildir
// subdirectories or the index and lock files living next to the folders.
// Compared case-insensitively so the cache also survives being copied to a
// case-insensitive file system.
var reservedNames = []string{"cur", "new", "tmp", "lock"}

const indexPrefix = "index.sqlite" // also covers -wal, -shm, -journal

// maxDirName is the usual NAME_MAX of Linux file systems.
const maxDirName = 255

// EncodeFolder returns the directory name of a folder's Maildir. Plain names
// (INBOX, Sent, Archive, UTF-8 names) stay readable; only bytes that would
// be unsafe in one path element are percent-encoded: "%" itself, "/", "\",
// control bytes, invalid UTF-8, a leading "." (hidden files, "." and "..")
// and the first byte of a reserved name ("cur" becomes "%63ur"). Names
// longer than a file name may be are shortened with a hash (see shorten).
func EncodeFolder(folder string) (string, error) {
	if folder == "" {
		return "", errors.New("empty folder name")
	}
	var b strings.Builder
	for i := 0; i < len(folder); {
		r, size := utf8.DecodeRuneInString(folder[i:])
		c := folder[i]
		switch {
		case r == utf8.RuneError && size <= 1,
			c == '%', c == '/', c == '\\', c < 0x20, c == 0x7f,
			i == 0 && c == '.':
			fmt.Fprintf(&b, "%%%02X", c)
			i++
			continue
		}
		b.WriteString(folder[i : i+size])
		i += size
	}
	enc := b.String()
	lower := strings.ToLower(enc)
	if slices.Contains(reservedNames, lower) || strings.HasPrefix(lower, indexPrefix) {
		enc = fmt.Sprintf("%%%02X", enc[0]) + enc[1:]
	}
	if len(enc) > maxDirName {
		enc = shorten(enc, folder)
	}
	return enc, nil
}

// shorten makes a directory name for a folder whose encoded name is longer
// than a file name may be: a readable prefix, then "%~" (never produced by
// percent-encoding, so no collision with a short name) and a hash of the
// whole name. Such names cannot be decoded; recovery finds these folders
// through the index only.
func shorten(enc, folder string) string {
	cut := maxDirName - 2 - 16 - 40
	for cut > 0 && (enc[cut-1] == '%' || enc[cut-2] == '%' || enc[cut]&0xc0 == 0x80) {
		cut--
	}
	sum := sha256.Sum256([]byte(folder))
	return enc[:cut] + "%~" + hex.EncodeToString(sum[:8])
}

// DecodeFolder is the inverse of EncodeFolder. It accepts only names that
// EncodeFolder produces, so stray directories are not taken for folders.
func DecodeFolder(dir string) (string, bool) {
	var b strings.Builder
	for i := 0; i < len(dir); i++ {
		if dir[i] != '%' {
			b.WriteByte(dir[i])
			continue
		}
		if i+2 >= len(dir) {
			return "", false
		}
		n, err := strconv.ParseUint(dir[i+1:i+3], 16, 8)
		if err != nil {
			return "", false
		}
		b.WriteByte(byte(n))
		i += 2
	}
	folder := b.String()
	if enc, err := EncodeFolder(folder); err != nil || enc != dir {
		return "", false
	}
	return folder, true
}

// keyPrefix starts every Maildir key duomail writes, so recovery only ever
// touches its own files.
const keyPrefix = "duomail-"

var idEncoding = base32.HexEncoding.WithPadding(base32.NoPadding)

// maxIDLen keeps a file name (key plus ":2," and five flag letters, plus
// letters other tools add) under 255 bytes. RFC 1939 limits a UIDL to 70
// characters and IMAP UIDs have at most 10 digits.
const maxIDLen = 140

func checkID(id string) error {
	switch {
	case id == "":
		return errors.New("empty message id")
	case len(id) > maxIDLen:
		return fmt.Errorf("message id of %d bytes is too long to store (at most %d)", len(id), maxIDLen)
	}
	return nil
}

// fileKey is the Maildir key of a message: deterministic, so a file whose
// index row was lost is recognised, and a second download of the same
// message lands on the same name instead of making a copy.
func fileKey(uidValidity uint32, id string) string {
	return fmt.Sprintf("%s%08x-%s", keyPrefix, uidValidity, strings.ToLower(idEncoding.EncodeToString([]byte(id))))
}

// parseFileName reads the key (and from it UIDVALIDITY and ID) out of a
// Maildir file name, with or without ":2,<flags>" info.
func parseFileName(name string) (key string, uidValidity uint32, id string, ok bool) {
	key, _, _ = strings.Cut(name, ":")
	rest, found := strings.CutPrefix(key, keyPrefix)
	if !found || len(rest) < 10 || rest[8] != '-' {
		return "", 0, "", false
	}
	v, err := strconv.ParseUint(rest[:8], 16, 32)
	if err != nil {
		return "", 0, "", false
	}
	raw, err := idEncoding.DecodeString(strings.ToUpper(rest[9:]))
	if err != nil || len(raw) == 0 {
		return "", 0, "", false
	}
	if fileKey(uint32(v), string(raw)) != key {
		return "", 0, "", false // not canonical: not written by duomail
	}
	return key, uint32(v), string(raw), true
}

// Maildir info letters of the flags that have one; keywords live only in
// the index.
var flagLetters = []struct {
	flag   client.Flag
	letter byte
}{
	{client.FlagDraft, 'D'},
	{client.FlagFlagged, 'F'},
	{client.FlagAnswered, 'R'},
	{client.FlagSeen, 'S'},
	{client.FlagDeleted, 'T'},
}

func isManagedLetter(c byte) bool {
	for _, fl := range flagLetters {
		if fl.letter == c {
			return true
		}
	}
	return false
}

// letters returns the Maildir info letters of flags, in ASCII order as the
// Maildir specification requires.
func letters(flags []client.Flag) string {
	var b []byte
	for _, fl := range flagLetters {
		if client.HasFlag(flags, fl.flag) {
			b = append(b, fl.letter)
		}
	}
	return string(b)
}

// flagsFromInfo maps the info letters of a file name back to flags.
func flagsFromInfo(name string) []client.Flag {
	_, info, ok := strings.Cut(name, ":2,")
	if !ok {
		return nil
	}
	var out []client.Flag
	for _, fl := range flagLetters {
		if strings.IndexByte(info, fl.letter) >= 0 {
			out = append(out, fl.flag)
		}
	}
	return out
}

// bodyPath is where a message file with these flags belongs, relative to
// the folder's Maildir. current is its present location ("" when new):
// letters that other tools set and duomail does not manage (P, keywords)
// are kept, and a file already in cur stays there, as mutt does.
func bodyPath(key string, flags []client.Flag, current string) string {
	var keep []byte
	inCur := strings.HasPrefix(current, "cur/")
	if _, info, ok := strings.Cut(current, ":2,"); ok {
		for i := 0; i < len(info); i++ {
			if !isManagedLetter(info[i]) {
				keep = append(keep, info[i])
			}
		}
	}
	l := []byte(letters(flags))
	if len(l) == 0 && len(keep) == 0 && !inCur {
		return "new/" + key
	}
	all := append(l, keep...)
	slices.Sort(all)
	all = slices.Compact(all)
	return "cur/" + key + ":2," + string(all)
}

// formatFlags and parseFlags store flags in one index column. Flags never
// contain spaces (IMAP atoms).
func formatFlags(flags []client.Flag) string {
	var b strings.Builder
	seen := map[client.Flag]bool{}
	for _, f := range flags {
		if f == "" || seen[f] || strings.ContainsFunc(string(f), unicode.IsSpace) {
			continue
		}
		seen[f] = true
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(string(f))
	}
	return b.String()
}

func parseFlags(s string) []client.Flag {
	if s == "" {
		return []client.Flag{}
	}
	fields := strings.Fields(s)
	out := make([]client.Flag, len(fields))
	for i, f := range fields {
		out[i] = client.Flag(f)
	}
	return out
}
