package config

import (
	"os"
	"runtime"
	"strings"
)

// Paths says where things live by default.
type Paths struct {
	ConfigFile string // the configuration file read without --config
	DataDir    string // root of the accounts' caches (the cache_dir default)
}

// DefaultPaths returns the locations for the running platform.
func DefaultPaths(getenv Getenv) Paths {
	return PlatformPaths(runtime.GOOS, getenv, exists)
}

// DescribePaths returns the locations on goos as a user reads them in
// help and manuals: "~/.config/duomail/config.toml",
// "%AppData%\duomail\config.toml".
func DescribePaths(goos string) Paths {
	symbolic := map[string]string{
		"HOME":         "~",
		"USERPROFILE":  "%USERPROFILE%",
		"AppData":      "%AppData%",
		"LocalAppData": "%LocalAppData%",
	}
	return PlatformPaths(goos, func(k string) (string, bool) {
		v, ok := symbolic[k]
		return v, ok
	}, func(string) bool { return false })
}

// PlatformPaths says where duomail keeps its configuration and its
// caches on goos, given that platform's environment and a way to see
// whether a path exists. It is what DefaultPaths does, made a pure
// function so that every platform's answer can be checked anywhere.
//
// XDG_CONFIG_HOME and XDG_DATA_HOME, when set to absolute paths, are
// used on every platform: whoever set them wants them (relative values are
// ignored, as the XDG specification says). Unset, each platform's own
// convention applies: XDG's defaults on Linux and the BSDs; on macOS
// ~/Library/Application Support (os.UserConfigDir); on Windows the
// roaming %AppData% for the configuration and the machine-local
// %LocalAppData% (os.UserCacheDir) for the mail, which may be large. The
// mail is data, not a cache the system may clear: for POP3 it can be the
// only copy, so it is never put in ~/Library/Caches or ~/.cache.
//
// On macOS and Windows, a configuration or data directory already at the
// XDG default (~/.config/duomail, ~/.local/share/duomail) is used while
// the platform's own does not exist, so dotfiles written for a Unix
// setup keep working.
func PlatformPaths(goos string, getenv Getenv, exists func(path string) bool) Paths {
	sep := "/"
	if goos == "windows" {
		sep = `\`
	}
	join := func(elem ...string) string {
		if elem[0] == "" {
			elem = elem[1:] // no home: relative, as filepath.Join makes it
		}
		for i := range elem[:len(elem)-1] {
			elem[i] = strings.TrimRight(elem[i], `/\`)
		}
		return strings.Join(elem, sep)
	}
	home, _ := getenv.lookup("HOME")
	if goos == "windows" {
		if p, ok := getenv.lookup("USERPROFILE"); ok {
			home = p
		}
	}
	xdgConfig := join(home, ".config", "duomail", "config.toml")
	xdgData := join(home, ".local", "share", "duomail")

	var p Paths
	switch goos {
	case "darwin", "ios":
		support := join(home, "Library", "Application Support", "duomail")
		p = Paths{ConfigFile: join(support, "config.toml"), DataDir: support}
	case "windows":
		roaming, ok := getenv.lookup("AppData")
		if !ok {
			roaming = join(home, "AppData", "Roaming")
		}
		local, ok := getenv.lookup("LocalAppData")
		if !ok {
			local = join(home, "AppData", "Local")
		}
		p = Paths{ConfigFile: join(roaming, "duomail", "config.toml"), DataDir: join(local, "duomail")}
	default:
		p = Paths{ConfigFile: xdgConfig, DataDir: xdgData}
	}
	if p.ConfigFile != xdgConfig && !exists(p.ConfigFile) && exists(xdgConfig) {
		p.ConfigFile = xdgConfig
	}
	if p.DataDir != xdgData && !exists(p.DataDir) && exists(xdgData) {
		p.DataDir = xdgData
	}
	if dir, ok := getenv.lookup("XDG_CONFIG_HOME"); ok && isAbs(goos, dir) {
		p.ConfigFile = join(dir, "duomail", "config.toml")
	}
	if dir, ok := getenv.lookup("XDG_DATA_HOME"); ok && isAbs(goos, dir) {
		p.DataDir = join(dir, "duomail")
	}
	return p
}

// isAbs is filepath.IsAbs for goos rather than the running platform.
func isAbs(goos, p string) bool {
	if goos != "windows" {
		return strings.HasPrefix(p, "/")
	}
	if strings.HasPrefix(p, `\\`) || strings.HasPrefix(p, "//") {
		return true // UNC
	}
	return len(p) >= 3 && p[1] == ':' && (p[2] == '\\' || p[2] == '/') &&
		('a' <= p[0]|0x20 && p[0]|0x20 <= 'z')
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
