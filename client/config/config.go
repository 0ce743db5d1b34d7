// Package config turns what the user wrote into checked accounts: the TOML
// file (found at --config, DUOMAIL_CONFIG or the platform's default), environment
// overrides of any of its keys, and accounts given as a --url. All three
// end in one validator, so a port, a timeout or a TLS mode is judged by the
// same rule wherever it came from, and an error points at where the value
// was written: the file and key, the environment variable, or the URL.
package config

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
)

// Getenv looks up an environment variable. Everything this package reads
// from the environment goes through the one Getenv given to it, so a
// caller (the demo, a test) can give its own environment without touching
// the process's.
type Getenv func(key string) (string, bool)

// envPrefix starts every variable that overrides a key of the file:
// DUOMAIL_CACHE_DIR, DUOMAIL_ACCOUNTS_WORK_PORT.
const envPrefix = "DUOMAIL_"

// lookup returns a variable's value; an empty one counts as unset, so
// "DUOMAIL_ACCOUNT= duomail ..." means no account rather than account "".
func (g Getenv) lookup(key string) (string, bool) {
	if g == nil {
		return "", false
	}
	v, ok := g(key)
	if !ok || v == "" {
		return "", false
	}
	return v, true
}

// Config is what the configuration says.
type Config struct {
	File     string // the file read; "" when there is none
	Default  string // the account used without -a; "" when there is no single choice
	CacheDir string // root of every account's cache
	// HTMLFilter is the command that renders HTML parts as text for
	// every account that does not name its own; "" for the built-in
	// renderer.
	HTMLFilter string
	// Pager is the pager key: the command long output on a terminal goes
	// through ("" or "cat": none); nil when the file does not say.
	Pager    *string
	Accounts map[string]*Account
}

// Account is one checked account: from an [accounts.NAME] table (with its
// environment overrides) or from a --url. Port is always set (the
// protocol's default when none was given) and TLS is one of the three
// modes.
type Account struct {
	Name         string
	Protocol     string
	Host         string
	Port         int
	TLS          client.TLSMode
	Username     string
	Password     string
	PasswordCmd  string
	PasswordEnv  string
	CAFile       string
	Timeout      time.Duration
	KeepOnServer bool
	KeepDays     int
	// Auth is client.AuthPassword or client.AuthOAuth2; OAuth2 is set
	// exactly for the latter.
	Auth   string
	OAuth2 *OAuth2
	// PasswordKeyring: the password is in the system keyring, put there
	// by "duomail auth set-password".
	PasswordKeyring bool
	// HTMLFilter is the account's html_filter, when HTMLFilterSet; an
	// empty one means the built-in renderer even where a global
	// html_filter is set. See Config.HTMLFilterFor.
	HTMLFilter    string
	HTMLFilterSet bool
}

// HTMLFilterFor is the html_filter that applies to ac: its own, else the
// global one; "" for the built-in renderer.
func (c *Config) HTMLFilterFor(ac *Account) string {
	if ac != nil && ac.HTMLFilterSet {
		return ac.HTMLFilter
	}
	if c == nil {
		return ""
	}
	return c.HTMLFilter
}

// Names returns the account names, sorted.
func (c *Config) Names() []string {
	names := make([]string, 0, len(c.Accounts))
	for n := range c.Accounts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Client returns the account as the library wants it, its cache under
// cacheRoot. The password is a function so that it is resolved only when a
// server asks for it.
func (a *Account) Client(cacheRoot string, password func(context.Context) (string, error)) *client.Account {
	return &client.Account{
		Name:         a.Name,
		Protocol:     a.Protocol,
		Host:         a.Host,
		Port:         a.Port,
		TLS:          a.TLS,
		Username:     a.Username,
		Password:     password,
		Auth:         a.Auth,
		CAFile:       a.CAFile,
		Timeout:      a.Timeout,
		KeepOnServer: a.KeepOnServer,
		KeepDays:     a.KeepDays,
		CacheDir:     filepath.Join(cacheRoot, a.Name),
	}
}

// Options are what the command line says about the configuration.
type Options struct {
	// File is --config. When empty, DUOMAIL_CONFIG, else the default file,
	// which (unlike a named file) may be missing.
	File string
	// Warn receives warnings for the user (a readable file with a
	// password in it). Nil for none.
	Warn func(msg string)
}

// Load reads and checks the configuration. Every environment variable is
// read through getenv.
func Load(opts Options, getenv Getenv) (*Config, error) {
	paths := DefaultPaths(getenv)
	path := opts.File
	if path == "" {
		path, _ = getenv.lookup(envPrefix + "CONFIG")
	}
	explicit := path != ""
	if !explicit {
		path = paths.ConfigFile
	}
	cfg := &Config{CacheDir: paths.DataDir, Accounts: map[string]*Account{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		// No file: only the cache location can come from the environment.
		if s, ok := getenv.lookup(envName("cache_dir")); ok {
			cfg.CacheDir = expandHome(s, getenv)
		}
		if s, ok := getenv.lookup(envName("html_filter")); ok {
			cfg.HTMLFilter = strings.TrimSpace(s)
		}
		return cfg, nil
	}
	if err != nil {
		return nil, &Error{File: path, Msg: describeFileError(err)}
	}
	cfg.File = path

	l, err := newLayers(path, data, getenv)
	if err != nil {
		return nil, err
	}
	if v, ok := l.get("cache_dir"); ok {
		s, err := v.str("cache_dir")
		if err != nil {
			return nil, err
		}
		cfg.CacheDir = l.resolveDir(s, v)
	}
	if v, ok := l.get("html_filter"); ok {
		s, err := v.str("html_filter")
		if err != nil {
			return nil, err
		}
		cfg.HTMLFilter = strings.TrimSpace(s)
	}
	if v, ok := l.get("pager"); ok {
		s, err := v.str("pager")
		if err != nil {
			return nil, err
		}
		cfg.Pager = &s
	}
	passwordInFile := false
	for _, name := range l.accountNames() {
		ac, err := validate(name, l.account(name), getenv)
		if err != nil {
			return nil, err
		}
		cfg.Accounts[name] = ac
		passwordInFile = passwordInFile || l.inFile("accounts."+name+".password")
	}
	if v, ok := l.get("default"); ok {
		def, err := v.str("default")
		if err != nil {
			return nil, err
		}
		if _, ok := cfg.Accounts[strings.ToLower(def)]; !ok {
			return nil, v.fail("default", fmt.Sprintf("no account named %q", def))
		}
		cfg.Default = strings.ToLower(def)
	}
	if cfg.Default == "" && len(cfg.Accounts) == 1 {
		cfg.Default = cfg.Names()[0]
	}
	if passwordInFile && opts.Warn != nil {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o044 != 0 {
			opts.Warn(fmt.Sprintf("config %s contains a password and is readable by other users; run: chmod 600 %s", path, path))
		}
	}
	return cfg, nil
}

// resolveDir makes a directory named in the configuration usable: "~/"
// is the home directory, and a relative path in the file is relative to
// the file (where its author was looking), not to wherever duomail
// happens to be started. A relative path from the environment is
// relative to the current directory, as any path given to a command is.
func (l *layers) resolveDir(dir string, v value) string {
	dir = expandHome(dir, l.getenv)
	if v.at.env != "" || filepath.IsAbs(dir) {
		return dir
	}
	base := filepath.Dir(l.file)
	if abs, err := filepath.Abs(base); err == nil {
		base = abs
	}
	return filepath.Join(base, dir)
}

func describeFileError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// expandHome expands "~" and a leading "~/" to the home directory ($HOME,
// else Windows' %USERPROFILE%; left alone when neither is set).
func expandHome(p string, getenv Getenv) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		home, ok := getenv.lookup("HOME")
		if !ok {
			home, ok = getenv.lookup("USERPROFILE") // Windows
		}
		if ok {
			return filepath.Join(home, p[1:])
		}
	}
	return p
}
