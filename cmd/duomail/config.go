package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/viper"
)

// Config is the parsed configuration file.
type Config struct {
	File     string // the file read; "" when there is none
	Default  string // the account used without -a; "" when there is no single choice
	CacheDir string // root of every account's cache
	Accounts map[string]*AccountConfig
}

// AccountConfig is one [accounts.NAME] table.
type AccountConfig struct {
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

// configError names the file and the key or line that is wrong.
type configError struct {
	File string
	Key  string // dotted key, e.g. accounts.work.tls
	Line int    // for syntax errors
	Msg  string
}

func (e *configError) Error() string {
	var b strings.Builder
	b.WriteString("config ")
	b.WriteString(e.File)
	if e.Line > 0 {
		fmt.Fprintf(&b, ", line %d", e.Line)
	}
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Keys allowed in the file. Anything else is an error, so a misspelt
// "pasword_cmd" is caught instead of silently ignored.
var (
	topLevelKeys = []string{"default", "cache_dir", "accounts"}
	accountKeys  = []string{
		"protocol", "host", "port", "tls", "username",
		"password", "password_cmd", "password_env", "ca_file", "timeout",
		"keep_on_server", "keep_days",
	}
	accountNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

// configPaths says where things live by default (XDG base directories).
type configPaths struct {
	ConfigFile string // $XDG_CONFIG_HOME/duomail/config.toml
	DataDir    string // $XDG_DATA_HOME/duomail
}

func defaultPaths(getenv func(string) string) configPaths {
	home := getenv("HOME")
	cfg := getenv("XDG_CONFIG_HOME")
	if cfg == "" || !filepath.IsAbs(cfg) {
		cfg = filepath.Join(home, ".config")
	}
	data := getenv("XDG_DATA_HOME")
	if data == "" || !filepath.IsAbs(data) {
		data = filepath.Join(home, ".local", "share")
	}
	return configPaths{
		ConfigFile: filepath.Join(cfg, "duomail", "config.toml"),
		DataDir:    filepath.Join(data, "duomail"),
	}
}

// loadConfig reads the TOML configuration through v (which has env and
// flag bindings for "account" already, but no other keys). path is the
// --config file; when empty the default location is used and may be
// missing. warn receives the permission warning.
func loadConfig(v *viper.Viper, path string, paths configPaths, warn func(string)) (*Config, error) {
	explicit := path != ""
	if !explicit {
		path = paths.ConfigFile
	}
	cfg := &Config{CacheDir: paths.DataDir, Accounts: map[string]*AccountConfig{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return applyEnvOnly(v, cfg)
	}
	if err != nil {
		return nil, &configError{File: path, Msg: describeFileError(err)}
	}
	cfg.File = path

	// Read the file alone first, so validation sees only what it says.
	fv := viper.New()
	fv.SetConfigType("toml")
	if err := fv.ReadConfig(strings.NewReader(string(data))); err != nil {
		return nil, syntaxError(path, err)
	}
	if err := checkKeys(path, fv.AllSettings()); err != nil {
		return nil, err
	}

	// Then read it again through v, where environment variables
	// (DUOMAIL_CACHE_DIR, DUOMAIL_ACCOUNTS_WORK_HOST...) override it.
	v.SetConfigType("toml")
	if err := v.ReadConfig(strings.NewReader(string(data))); err != nil {
		return nil, syntaxError(path, err)
	}
	get := typedGetter{v: v, file: path}
	if s := get.str("cache_dir"); s != "" {
		cfg.CacheDir = expandHome(s)
	}
	accounts, _ := fv.AllSettings()["accounts"].(map[string]any)
	passwordInFile := false
	for name := range accounts {
		ac, err := readAccount(get, name)
		if err != nil {
			return nil, err
		}
		if _, ok := accounts[name].(map[string]any)["password"]; ok {
			passwordInFile = true
		}
		cfg.Accounts[name] = ac
	}
	cfg.Default = get.str("default")
	if get.err != nil {
		return nil, get.err
	}
	if cfg.Default != "" {
		if _, ok := cfg.Accounts[strings.ToLower(cfg.Default)]; !ok {
			return nil, &configError{File: path, Key: "default", Msg: fmt.Sprintf("no account named %q", cfg.Default)}
		}
		cfg.Default = strings.ToLower(cfg.Default)
	} else if len(cfg.Accounts) == 1 {
		cfg.Default = cfg.Names()[0]
	}
	if passwordInFile {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o044 != 0 {
			warn(fmt.Sprintf("config %s contains a password and is readable by other users; run: chmod 600 %s", path, path))
		}
	}
	return cfg, nil
}

// applyEnvOnly fills what the environment says when there is no file.
func applyEnvOnly(v *viper.Viper, cfg *Config) (*Config, error) {
	if s := v.GetString("cache_dir"); s != "" {
		cfg.CacheDir = expandHome(s)
	}
	return cfg, nil
}

func describeFileError(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// syntaxError turns a TOML parse error into one naming the line.
func syntaxError(path string, err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		return &configError{File: path, Line: row, Msg: "syntax error: " + de.Error()}
	}
	msg := strings.TrimPrefix(err.Error(), "While parsing config: ")
	return &configError{File: path, Msg: "syntax error: " + msg}
}

// checkKeys rejects unknown keys and account tables of the wrong shape.
func checkKeys(path string, settings map[string]any) error {
	var keys []string
	for k := range settings {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !slices.Contains(topLevelKeys, k) {
			return &configError{File: path, Key: k, Msg: "unknown key" + suggest(k, topLevelKeys)}
		}
		if k != "accounts" {
			if msg := checkType(k, settings[k]); msg != "" {
				return &configError{File: path, Key: k, Msg: msg}
			}
		}
	}
	raw, ok := settings["accounts"]
	if !ok {
		return nil
	}
	accounts, ok := raw.(map[string]any)
	if !ok {
		return &configError{File: path, Key: "accounts", Msg: "must be a table of accounts ([accounts.NAME])"}
	}
	names := make([]string, 0, len(accounts))
	for n := range accounts {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		key := "accounts." + name
		if !accountNameRE.MatchString(name) {
			return &configError{File: path, Key: key, Msg: "account names use letters, digits, '-' and '_'"}
		}
		fields, ok := accounts[name].(map[string]any)
		if !ok {
			return &configError{File: path, Key: key, Msg: "must be a table ([" + key + "])"}
		}
		var fk []string
		for f := range fields {
			fk = append(fk, f)
		}
		slices.Sort(fk)
		for _, f := range fk {
			if _, nested := fields[f].(map[string]any); nested {
				return &configError{File: path, Key: key + "." + f, Msg: "unexpected table (account names cannot contain dots)"}
			}
			if !slices.Contains(accountKeys, f) {
				return &configError{File: path, Key: key + "." + f, Msg: "unknown key" + suggest(f, accountKeys)}
			}
			if msg := checkType(f, fields[f]); msg != "" {
				return &configError{File: path, Key: key + "." + f, Msg: msg}
			}
		}
	}
	return nil
}

// checkType checks a value as written in the file (the environment gives
// strings, which typedGetter converts).
func checkType(field string, v any) string {
	switch field {
	case "port", "keep_days":
		if _, ok := v.(int64); !ok {
			return fmt.Sprintf("want an integer, got %v", describeValue(v))
		}
	case "keep_on_server":
		if _, ok := v.(bool); !ok {
			return fmt.Sprintf("want true or false, got %v", describeValue(v))
		}
	default:
		if _, ok := v.(string); !ok {
			return fmt.Sprintf("want a string, got %v", describeValue(v))
		}
	}
	return ""
}

func describeValue(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// suggest names a known key that differs from k by little, for typos.
func suggest(k string, known []string) string {
	best, bestD := "", 3
	for _, c := range known {
		if d := editDistance(k, c); d < bestD {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// typedGetter reads keys through viper (so environment variables apply),
// checking types and remembering the first error.
type typedGetter struct {
	v    *viper.Viper
	file string
	err  error
}

func (g *typedGetter) fail(key, msg string) {
	if g.err == nil {
		g.err = &configError{File: g.file, Key: key, Msg: msg}
	}
}

func (g *typedGetter) str(key string) string {
	switch x := g.v.Get(key).(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		g.fail(key, fmt.Sprintf("want a string, got %v", x))
		return ""
	}
}

func (g *typedGetter) integer(key string) (int, bool) {
	switch x := g.v.Get(key).(type) {
	case nil:
		return 0, false
	case int64:
		return int(x), true
	case int:
		return x, true
	case string: // from the environment
		n, err := strconv.Atoi(strings.TrimSpace(x))
		if err != nil {
			g.fail(key, fmt.Sprintf("want an integer, got %q", x))
		}
		return n, err == nil
	default:
		g.fail(key, fmt.Sprintf("want an integer, got %v", x))
		return 0, false
	}
}

func (g *typedGetter) boolean(key string) (bool, bool) {
	switch x := g.v.Get(key).(type) {
	case nil:
		return false, false
	case bool:
		return x, true
	case string: // from the environment
		b, err := strconv.ParseBool(strings.TrimSpace(x))
		if err != nil {
			g.fail(key, fmt.Sprintf("want true or false, got %q", x))
		}
		return b, err == nil
	default:
		g.fail(key, fmt.Sprintf("want true or false, got %v", x))
		return false, false
	}
}

func readAccount(g typedGetter, name string) (*AccountConfig, error) {
	k := func(f string) string { return "accounts." + name + "." + f }
	ac := &AccountConfig{
		Name:        name,
		Protocol:    strings.ToLower(g.str(k("protocol"))),
		Host:        g.str(k("host")),
		Username:    g.str(k("username")),
		Password:    g.str(k("password")),
		PasswordCmd: g.str(k("password_cmd")),
		PasswordEnv: g.str(k("password_env")),
		CAFile:      g.str(k("ca_file")),
		TLS:         client.TLSMode(strings.ToLower(g.str(k("tls")))),
	}
	port, hasPort := g.integer(k("port"))
	keep, hasKeep := g.boolean(k("keep_on_server"))
	keepDays, hasKeepDays := g.integer(k("keep_days"))
	timeout := g.str(k("timeout"))
	if g.err != nil {
		return nil, g.err
	}
	bad := func(f, msg string) error { return &configError{File: g.file, Key: k(f), Msg: msg} }

	switch ac.Protocol {
	case client.IMAP, client.POP3:
	case "":
		return nil, bad("protocol", `missing (set "imap" or "pop3")`)
	default:
		return nil, bad("protocol", fmt.Sprintf(`unknown protocol %q (want "imap" or "pop3")`, ac.Protocol))
	}
	switch ac.TLS {
	case client.TLSImplicit, client.TLSStartTLS, client.TLSNone:
	case "":
		ac.TLS = client.TLSImplicit
	default:
		return nil, bad("tls", fmt.Sprintf(`unknown tls mode %q (want "implicit", "starttls" or "none")`, ac.TLS))
	}
	if ac.Host == "" {
		return nil, bad("host", "missing")
	}
	if ac.Username == "" {
		return nil, bad("username", "missing")
	}
	ac.Port = client.DefaultPort(ac.Protocol, ac.TLS)
	if hasPort {
		if port < 1 || port > 65535 {
			return nil, bad("port", fmt.Sprintf("%d is not a port number", port))
		}
		ac.Port = port
	}
	set := 0
	for _, s := range []string{ac.Password, ac.PasswordCmd, ac.PasswordEnv} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return nil, bad("password", "set only one of password, password_cmd and password_env")
	}
	if ac.CAFile != "" {
		ac.CAFile = expandHome(ac.CAFile)
	}
	if timeout != "" {
		d, err := time.ParseDuration(timeout)
		if err != nil || d <= 0 {
			return nil, bad("timeout", fmt.Sprintf("%q is not a duration like \"30s\" or \"2m\"", timeout))
		}
		ac.Timeout = d
	}
	// POP3 retention: keep mail on the server unless told otherwise.
	ac.KeepOnServer = true
	if hasKeep || hasKeepDays {
		if ac.Protocol != client.POP3 {
			f := "keep_on_server"
			if !hasKeep {
				f = "keep_days"
			}
			return nil, bad(f, "applies to pop3 accounts only (an IMAP server is where mail is kept)")
		}
	}
	if hasKeep {
		ac.KeepOnServer = keep
	}
	if hasKeepDays {
		if keepDays < 0 {
			return nil, bad("keep_days", "must be 0 or more")
		}
		ac.KeepDays = keepDays
	}
	return ac, nil
}

// expandHome expands a leading "~/" to the home directory.
func expandHome(p string) string {
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, p[2:])
		}
	}
	return p
}
