package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

// envMap is an environment for Load: nothing but what the test says.
func envMap(m map[string]string) Getenv {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

func writeFile(t *testing.T, content string, mode os.FileMode) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.toml")
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

// loadEnv writes content to a file and loads it with the given environment
// (XDG_DATA_HOME=/data unless set).
func loadEnv(t *testing.T, content string, env map[string]string) (*Config, string, []string, error) {
	t.Helper()
	path := writeFile(t, content, 0o600)
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["XDG_DATA_HOME"]; !ok {
		env["XDG_DATA_HOME"] = "/data"
	}
	var warnings []string
	cfg, err := Load(Options{File: path, Warn: func(s string) { warnings = append(warnings, s) }}, envMap(env))
	return cfg, path, warnings, err
}

func load(t *testing.T, content string) (*Config, []string, error) {
	t.Helper()
	cfg, _, warnings, err := loadEnv(t, content, nil)
	return cfg, warnings, err
}

const fullConfig = `
default = "work"
cache_dir = "/var/cache/mail"

[accounts.work]
protocol = "imap"
host = "imap.example.com"
port = 1993
tls = "starttls"
username = "me@example.com"
password_cmd = "pass show mail/work"
ca_file = "/etc/ca.pem"
timeout = "45s"

[accounts.Home]
protocol = "POP3"
host = "pop.example.com"
username = "me"
password_env = "HOME_PW"
keep_on_server = false
keep_days = 14
`

func TestConfigValid(t *testing.T) {
	cfg, warnings, err := load(t, fullConfig)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) > 0 {
		t.Errorf("warnings %q", warnings)
	}
	if cfg.Default != "work" || cfg.CacheDir != "/var/cache/mail" || len(cfg.Accounts) != 2 {
		t.Fatalf("config %+v", cfg)
	}
	w := cfg.Accounts["work"]
	want := Account{Name: "work", Protocol: "imap", Host: "imap.example.com", Port: 1993, TLS: client.TLSStartTLS,
		Username: "me@example.com", PasswordCmd: "pass show mail/work", CAFile: "/etc/ca.pem", Timeout: 45 * time.Second, KeepOnServer: true, Auth: client.AuthPassword}
	if *w != want {
		t.Errorf("work = %+v\nwant %+v", *w, want)
	}
	h := cfg.Accounts["home"] // names are case-insensitive
	if h == nil || h.Protocol != "pop3" || h.TLS != client.TLSImplicit || h.Port != 995 || h.KeepOnServer || h.KeepDays != 14 || h.PasswordEnv != "HOME_PW" {
		t.Errorf("home = %+v", h)
	}
	ca := w.Client("/cache", nil)
	if ca.CacheDir != "/cache/work" || ca.Port != 1993 || ca.TLS != client.TLSStartTLS || ca.Timeout != 45*time.Second {
		t.Errorf("client account %+v", ca)
	}
}

func TestConfigDefaults(t *testing.T) {
	cfg, _, err := load(t, "[accounts.only]\nprotocol = \"pop3\"\nhost = \"h\"\nusername = \"u\"\ntls = \"none\"\n")
	if err != nil {
		t.Fatal(err)
	}
	only := cfg.Accounts["only"]
	if cfg.Default != "only" || cfg.CacheDir != "/data/duomail" || only.Port != 110 || !only.KeepOnServer || only.KeepDays != 0 || only.Timeout != 0 {
		t.Errorf("defaults: %+v %+v", cfg, only)
	}
	cfg, _, err = load(t, fullConfig+"\n[accounts.third]\nprotocol=\"imap\"\nhost=\"h\"\nusername=\"u\"\n")
	if err != nil || cfg.Default != "work" {
		t.Errorf("explicit default kept among three: %v %v", cfg, err)
	}
	cfg, _, err = load(t, strings.Replace(fullConfig, `default = "work"`, "", 1))
	if err != nil || cfg.Default != "" {
		t.Errorf("no default among two: %q %v", cfg.Default, err)
	}
}

func TestConfigErrors(t *testing.T) {
	base := "[accounts.work]\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\n"
	tests := []struct {
		name, content string
		want          []string
	}{
		{"unknown top-level key", "defualt = \"x\"\n" + base, []string{"defualt: unknown key", `did you mean "default"`}},
		{"unknown account key", base + "pasword_cmd = \"x\"\n", []string{"accounts.work.pasword_cmd: unknown key", `"password_cmd"`}},
		{"unknown key without suggestion", base + "colour = \"red\"\n", []string{"accounts.work.colour: unknown key"}},
		{"bad protocol", strings.Replace(base, `"imap"`, `"smtp"`, 1), []string{"accounts.work.protocol", `unknown protocol "smtp"`}},
		{"missing protocol", "[accounts.work]\nhost = \"h\"\nusername = \"u\"\n", []string{"accounts.work.protocol: missing"}},
		{"bad tls", base + "tls = \"ssl\"\n", []string{"accounts.work.tls", `unknown tls mode "ssl"`}},
		{"syntax error with line", base + "port = \n", []string{"line 5", "syntax error"}},
		{"unclosed table", "[accounts.work\n", []string{"line 1"}},
		{"missing host", "[accounts.work]\nprotocol = \"imap\"\nusername = \"u\"\n", []string{"accounts.work.host: missing"}},
		{"missing username", "[accounts.work]\nprotocol = \"imap\"\nhost = \"h\"\n", []string{"accounts.work.username: missing"}},
		{"port type", base + "port = \"993\"\n", []string{"accounts.work.port: want an integer"}},
		{"port range", base + "port = 70000\n", []string{"accounts.work.port", "not a port number"}},
		{"port zero", base + "port = 0\n", []string{"accounts.work.port", "0 is not a port number"}},
		{"two password sources", base + "password = \"a\"\npassword_cmd = \"b\"\n", []string{"only one of password, password_cmd and password_env"}},
		{"bad timeout", base + "timeout = \"soon\"\n", []string{"accounts.work.timeout", `"soon"`}},
		{"keep_days on imap", base + "keep_days = 3\n", []string{"accounts.work.keep_days", "pop3 accounts only"}},
		{"keep_on_server type", strings.Replace(base, `"imap"`, `"pop3"`, 1) + "keep_on_server = \"yes\"\n", []string{"accounts.work.keep_on_server: want true or false"}},
		{"negative keep_days", strings.Replace(base, `"imap"`, `"pop3"`, 1) + "keep_days = -1\n", []string{"keep_days", "0 or more"}},
		{"unknown default", "default = \"play\"\n" + base, []string{"default", `no account named "play"`}},
		{"accounts not a table", "accounts = 3\n", []string{"accounts: must be a table"}},
		{"account not a table", "[accounts]\nwork = \"x\"\n", []string{"accounts.work: must be a table"}},
		{"bad account name", "[accounts.\"my.work\"]\nprotocol = \"imap\"\n", []string{"cannot contain dots"}},
		{"bad account name characters", "[accounts.\"my work\"]\nprotocol = \"imap\"\n", []string{"account names use"}},
		{"string type", base + "ca_file = 3\n", []string{"accounts.work.ca_file: want a string"}},
		{"cache_dir type", "cache_dir = 3\n" + base, []string{"cache_dir: want a string, got 3"}},
		{"html_filter type", "html_filter = true\n" + base, []string{"html_filter: want a string, got true"}},
		{"account html_filter type", base + "html_filter = [\"w3m\"]\n", []string{"accounts.work.html_filter: want a string"}},
		{"misspelt html_filter", base + "html_filer = \"w3m\"\n", []string{"accounts.work.html_filer: unknown key", `"html_filter"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := load(t, tc.content)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "config /") || !strings.Contains(msg, "config.toml") {
				t.Errorf("error does not name the file: %s", msg)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			// A broken file is not a mistake on the command line.
			if errors.Is(err, client.ErrUsage) {
				t.Errorf("config error is a usage error: %v", err)
			}
		})
	}
}

// The whole message for a misspelt key and for a wrong type, as the user
// sees it: file, dotted key, and the suggestion.
func TestConfigStrictMessages(t *testing.T) {
	base := "[accounts.work]\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\n"
	_, path, _, err := loadEnv(t, base+"pasword_cmd = \"pass x\"\n", nil)
	if want := "config " + path + `: accounts.work.pasword_cmd: unknown key (did you mean "password_cmd"?)`; err == nil || err.Error() != want {
		t.Errorf("unknown key:\n got %v\nwant %s", err, want)
	}
	_, path, _, err = loadEnv(t, "cahce_dir = \"/c\"\n"+base, nil)
	if want := "config " + path + `: cahce_dir: unknown key (did you mean "cache_dir"?)`; err == nil || err.Error() != want {
		t.Errorf("unknown top-level key:\n got %v\nwant %s", err, want)
	}
	_, path, _, err = loadEnv(t, base+"port = \"993\"\n", nil)
	if want := "config " + path + `: accounts.work.port: want an integer, got "993"`; err == nil || err.Error() != want {
		t.Errorf("wrong type:\n got %v\nwant %s", err, want)
	}
	_, path, _, err = loadEnv(t, strings.Replace(base, `"imap"`, `"pop3"`, 1)+"keep_on_server = 1\n", nil)
	if want := "config " + path + `: accounts.work.keep_on_server: want true or false, got 1`; err == nil || err.Error() != want {
		t.Errorf("wrong type:\n got %v\nwant %s", err, want)
	}
	// A wrong type in the file is an error even while the environment
	// overrides the key: the file is checked as written.
	_, _, _, err = loadEnv(t, base+"port = \"993\"\n", map[string]string{"DUOMAIL_ACCOUNTS_WORK_PORT": "993"})
	if err == nil || !strings.Contains(err.Error(), "accounts.work.port: want an integer") {
		t.Errorf("wrong type hidden by the environment: %v", err)
	}
}

func TestConfigMissingFile(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": dir, "XDG_DATA_HOME": "/d"}
	cfg, err := Load(Options{}, envMap(env))
	if err != nil || len(cfg.Accounts) != 0 || cfg.File != "" || cfg.CacheDir != "/d/duomail" {
		t.Errorf("missing default file: %+v, %v", cfg, err)
	}
	_, err = Load(Options{File: filepath.Join(dir, "given.toml")}, envMap(env))
	if err == nil || !strings.Contains(err.Error(), "given.toml") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing --config file: %v", err)
	}
	env["DUOMAIL_CONFIG"] = filepath.Join(dir, "from-env.toml")
	_, err = Load(Options{}, envMap(env))
	if err == nil || !strings.Contains(err.Error(), "from-env.toml") {
		t.Errorf("missing DUOMAIL_CONFIG file: %v", err)
	}
}

func TestConfigFileLocation(t *testing.T) {
	dir := t.TempDir()
	content := "[accounts.a]\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\n"
	xdg := filepath.Join(dir, "duomail", "config.toml")
	other := filepath.Join(dir, "other.toml")
	flag := filepath.Join(dir, "flag.toml")
	for _, p := range []string{xdg, other, flag} {
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"XDG_CONFIG_HOME": dir}
	for _, tc := range []struct {
		flag, envConfig, want string
	}{
		{"", "", xdg},
		{"", other, other},
		{flag, other, flag},
	} {
		env["DUOMAIL_CONFIG"] = tc.envConfig
		cfg, err := Load(Options{File: tc.flag}, envMap(env))
		if err != nil || cfg.File != tc.want {
			t.Errorf("--config %q, DUOMAIL_CONFIG %q: read %v (%v), want %s", tc.flag, tc.envConfig, cfg, err, tc.want)
		}
	}
}

func TestConfigPermissionWarning(t *testing.T) {
	withPassword := "[accounts.work]\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\npassword = \"hunter2\"\n"
	withCmd := "[accounts.work]\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\npassword_cmd = \"pass x\"\n"
	for _, tc := range []struct {
		content string
		mode    os.FileMode
		warn    bool
	}{
		{withPassword, 0o644, true},
		{withPassword, 0o640, true},
		{withPassword, 0o604, true},
		{withPassword, 0o600, false},
		{withCmd, 0o644, false},
	} {
		path := writeFile(t, tc.content, tc.mode)
		var warnings []string
		if _, err := Load(Options{File: path, Warn: func(s string) { warnings = append(warnings, s) }}, envMap(nil)); err != nil {
			t.Fatal(err)
		}
		if got := len(warnings) > 0; got != tc.warn {
			t.Errorf("mode %o, password %v: warnings %q", tc.mode, strings.Contains(tc.content, "hunter2"), warnings)
		}
		for _, w := range warnings {
			if !strings.Contains(w, path) || !strings.Contains(w, "chmod 600") || strings.Contains(w, "hunter2") {
				t.Errorf("warning %q", w)
			}
		}
	}
}

func TestConfigEnvOverrides(t *testing.T) {
	env := map[string]string{
		"DUOMAIL_ACCOUNTS_WORK_PORT": "2993",
		"DUOMAIL_ACCOUNTS_WORK_HOST": "other.example.com",
		"DUOMAIL_ACCOUNTS_HOME_TLS":  "starttls", // a key the file does not set
		"DUOMAIL_CACHE_DIR":          "/env/cache",
		"DUOMAIL_DEFAULT":            "home",
		"DUOMAIL_ACCOUNTS_PLAY_HOST": "ignored", // no such account in the file
		"DUOMAIL_ACCOUNTS_WORK_TLS":  "",        // empty counts as unset
	}
	cfg, _, _, err := loadEnv(t, fullConfig, env)
	if err != nil {
		t.Fatal(err)
	}
	w, h := cfg.Accounts["work"], cfg.Accounts["home"]
	if w.Port != 2993 || w.Host != "other.example.com" || w.TLS != client.TLSStartTLS || cfg.CacheDir != "/env/cache" || cfg.Default != "home" {
		t.Errorf("env overrides not applied: %+v, cache %s, default %s", w, cfg.CacheDir, cfg.Default)
	}
	if h.TLS != client.TLSStartTLS || h.Port != 110 {
		t.Errorf("env override of an unset key: %+v", h)
	}
	if len(cfg.Accounts) != 2 {
		t.Errorf("the environment made an account: %v", cfg.Names())
	}
}

// Only the Getenv given is read: the process's environment plays no part.
func TestConfigReadsOnlyTheGivenEnvironment(t *testing.T) {
	t.Setenv("DUOMAIL_ACCOUNTS_WORK_PORT", "many")
	t.Setenv("DUOMAIL_CACHE_DIR", "/process/cache")
	cfg, _, _, err := loadEnv(t, fullConfig, nil)
	if err != nil || cfg.Accounts["work"].Port != 1993 || cfg.CacheDir != "/var/cache/mail" {
		t.Errorf("process environment leaked in: %v %+v", err, cfg)
	}
}

// An override that is wrong names the variable, not the file (which is
// fine as written).
func TestConfigEnvErrorNamesVariable(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DUOMAIL_ACCOUNTS_WORK_PORT": "99999"}, "DUOMAIL_ACCOUNTS_WORK_PORT: 99999 is not a port number"},
		{map[string]string{"DUOMAIL_ACCOUNTS_WORK_PORT": "many"}, `DUOMAIL_ACCOUNTS_WORK_PORT: want an integer, got "many"`},
		{map[string]string{"DUOMAIL_ACCOUNTS_WORK_TLS": "ssl"}, `DUOMAIL_ACCOUNTS_WORK_TLS: unknown tls mode "ssl" (want "implicit", "starttls" or "none")`},
		{map[string]string{"DUOMAIL_ACCOUNTS_WORK_TIMEOUT": "soon"}, `DUOMAIL_ACCOUNTS_WORK_TIMEOUT: "soon" is not a duration like "30s" or "2m"`},
		{map[string]string{"DUOMAIL_ACCOUNTS_HOME_KEEP_ON_SERVER": "perhaps"}, `DUOMAIL_ACCOUNTS_HOME_KEEP_ON_SERVER: want true or false, got "perhaps"`},
		{map[string]string{"DUOMAIL_ACCOUNTS_WORK_KEEP_DAYS": "3"}, "DUOMAIL_ACCOUNTS_WORK_KEEP_DAYS: applies to pop3 accounts only"},
		{map[string]string{"DUOMAIL_ACCOUNTS_WORK_PROTOCOL": "smtp"}, `DUOMAIL_ACCOUNTS_WORK_PROTOCOL: unknown protocol "smtp"`},
		{map[string]string{"DUOMAIL_DEFAULT": "play"}, `DUOMAIL_DEFAULT: no account named "play"`},
	} {
		_, path, _, err := loadEnv(t, fullConfig, tc.env)
		if err == nil {
			t.Errorf("%v: no error", tc.env)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) || strings.Contains(err.Error(), path) {
			t.Errorf("%v:\n got %v\nwant %s...", tc.env, err, tc.want)
		}
		var ce *Error
		if !errors.As(err, &ce) || ce.File != "" || ce.Key == "" {
			t.Errorf("%v: error %#v", tc.env, err)
		}
	}
}

// A relative cache_dir in the file is relative to the file, wherever
// duomail is started; "~/" is the home directory. From the environment a
// relative directory is relative to the current directory.
func TestCacheDirResolution(t *testing.T) {
	dir := t.TempDir()
	confDir := filepath.Join(dir, "conf")
	os.MkdirAll(confDir, 0o700)
	elsewhere := filepath.Join(dir, "elsewhere")
	os.MkdirAll(elsewhere, 0o700)
	t.Chdir(elsewhere)
	account := "\n[accounts.a]\nprotocol = \"imap\"\nhost = \"h\"\nusername = \"u\"\n"
	for _, tc := range []struct {
		cacheDir string
		env      map[string]string
		want     string
	}{
		{"mail-cache", nil, filepath.Join(confDir, "mail-cache")},
		{"./a/../b", nil, filepath.Join(confDir, "b")},
		{"../shared", nil, filepath.Join(dir, "shared")},
		{"~/mail-cache", nil, "/home/u/mail-cache"},
		{"~", nil, "/home/u"},
		{"/abs/cache", nil, "/abs/cache"},
		{"mail-cache", map[string]string{"DUOMAIL_CACHE_DIR": "env-cache"}, "env-cache"},
		{"mail-cache", map[string]string{"DUOMAIL_CACHE_DIR": "~/env-cache"}, "/home/u/env-cache"},
	} {
		path := filepath.Join(confDir, "config.toml")
		if err := os.WriteFile(path, []byte("cache_dir = \""+tc.cacheDir+"\"\n"+account), 0o600); err != nil {
			t.Fatal(err)
		}
		env := map[string]string{"HOME": "/home/u"}
		for k, v := range tc.env {
			env[k] = v
		}
		cfg, err := Load(Options{File: path}, envMap(env))
		if err != nil || cfg.CacheDir != tc.want {
			t.Errorf("cache_dir %q, env %v: %v (%v), want %s", tc.cacheDir, tc.env, cfg, err, tc.want)
		}
	}
	// A relative --config: the file's directory is made absolute, so the
	// cache does not move if the process later changes directory.
	rel, _ := filepath.Rel(elsewhere, filepath.Join(confDir, "config.toml"))
	cfg, err := Load(Options{File: rel}, envMap(nil))
	if err != nil || cfg.CacheDir != filepath.Join(confDir, "mail-cache") {
		t.Errorf("relative --config: %+v, %v", cfg, err)
	}
	// No file: the environment's relative directory, as given.
	cfg, err = Load(Options{}, envMap(map[string]string{"XDG_CONFIG_HOME": dir, "DUOMAIL_CACHE_DIR": "env-cache"}))
	if err != nil || cfg.File != "" || cfg.CacheDir != "env-cache" {
		t.Errorf("no file: %+v, %v", cfg, err)
	}
}

// html_filter: a global command, replaced by an account's own, where ""
// means the built-in renderer; the environment overrides both.
func TestConfigHTMLFilter(t *testing.T) {
	content := `html_filter = "w3m -T text/html -dump"
[accounts.a]
protocol = "imap"
host = "h"
username = "u"
[accounts.b]
protocol = "imap"
host = "h"
username = "u"
html_filter = "lynx -stdin -dump"
[accounts.c]
protocol = "imap"
host = "h"
username = "u"
html_filter = ""
`
	cfg, _, err := load(t, content)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"a": "w3m -T text/html -dump", "b": "lynx -stdin -dump", "c": ""} {
		if got := cfg.HTMLFilterFor(cfg.Accounts[name]); got != want {
			t.Errorf("account %s: html_filter %q, want %q", name, got, want)
		}
	}
	cfg, _, _, err = loadEnv(t, content, map[string]string{"DUOMAIL_HTML_FILTER": "cat", "DUOMAIL_ACCOUNTS_B_HTML_FILTER": "sed s/x/y/"})
	if err != nil {
		t.Fatal(err)
	}
	if a, b := cfg.HTMLFilterFor(cfg.Accounts["a"]), cfg.HTMLFilterFor(cfg.Accounts["b"]); a != "cat" || b != "sed s/x/y/" {
		t.Errorf("environment not applied: a %q, b %q", a, b)
	}
}
