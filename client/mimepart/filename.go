package mimepart

import (
	"mime"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/duomail/duomail/client"
)

// maxFilenameBytes keeps names under every common filesystem's limit (255)
// with room for a de-duplicating suffix.
const maxFilenameBytes = 200

// SafeFilename turns the file name a sender chose into one that can only
// name a plain file directly inside the target folder: the last element of
// any path (either slash), no control or bidi-formatting characters, no
// leading dot (no hidden files, no "." or ".."), characters Windows forbids
// replaced, bounded length. An empty result becomes "attachment-<part>"
// with an extension from the part's type.
func SafeFilename(name string, p *client.Part) string {
	if i := strings.LastIndexAny(name, `/\`); i >= 0 {
		name = name[i+1:]
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 && i < 2 {
		name = name[i+1:] // "C:x" drive-relative names
	}
	var b strings.Builder
	for _, r := range name {
		switch {
		case r == utf8.RuneError, unicode.IsControl(r), unicode.In(r, unicode.Cf, unicode.Zl, unicode.Zp):
			continue
		case strings.ContainsRune(`<>:"|?*`, r):
			b.WriteRune('_')
		default:
			b.WriteRune(r)
		}
	}
	name = strings.TrimSpace(b.String())
	name = strings.TrimLeft(name, ". ")
	name = strings.TrimRight(name, ". ")
	if len(name) > maxFilenameBytes {
		ext := filepath.Ext(name)
		if len(ext) > 20 || !utf8.ValidString(ext) {
			ext = ""
		}
		cut := maxFilenameBytes - len(ext)
		for cut > 0 && !utf8.RuneStart(name[cut]) {
			cut--
		}
		name = name[:cut] + ext
	}
	if name == "" {
		name = "attachment"
		if p != nil && p.Path != "" {
			name += "-" + strings.ReplaceAll(p.Path, ".", "-")
		}
		if p != nil {
			if exts, _ := mime.ExtensionsByType(p.Type); len(exts) > 0 {
				name += exts[0]
			}
		}
	}
	return name
}
