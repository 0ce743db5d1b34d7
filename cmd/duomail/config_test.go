package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/spf13/viper"
)

func newTestViper() *viper.Viper {
	a := newApp(streams{}, os.Getenv)
	return a.v
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

func load(t *testing.T, content string) (*Config, []string, error) {
	t.Helper()
	path := writeFile(t, content, 0o600)
	var warnings []string
	cfg, err := loadConfig(newTestViper(), path, configPaths{DataDir: "/data/duomail"}, func(s string) { warnings = append(warnings, s) })
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
	want := AccountConfig{Name: "work", Protocol: "imap", Host: "imap.example.com", Port: 1993, TLS: client.TLSStartTLS,
		Username: "me@example.com", PasswordCmd: "pass show mail/work", CAFile: "/etc/ca.pem", Timeout: 45 * time.Second, KeepOnServer: true}
	if *w != want {
		t.Errorf("work = %+v\nwant %+v", *w, want)
	}
	h := cfg.Accounts["home"] // names are case-insensitive
	if h == nil || h.Protocol != "pop3" || h.TLS != client.TLSImplicit || h.Port != 995 || h.KeepOnServer || h.KeepDays != 14 || h.PasswordEnv != "HOME_PW" {
		t.Errorf("home = %+v", h)
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
			if code := exitCode(err); code != exitError {
				t.Errorf("exit code %d, want %d", code, exitError)
			}
		})
	}
}

func TestConfigMissingFile(t *testing.T) {
	dir := t.TempDir()
	paths := configPaths{ConfigFile: filepath.Join(dir, "none.toml"), DataDir: "/d"}
	cfg, err := loadConfig(newTestViper(), "", paths, func(string) {})
	if err != nil || len(cfg.Accounts) != 0 || cfg.File != "" || cfg.CacheDir != "/d" {
		t.Errorf("missing default file: %+v, %v", cfg, err)
	}
	_, err = loadConfig(newTestViper(), filepath.Join(dir, "given.toml"), paths, func(string) {})
	if err == nil || !strings.Contains(err.Error(), "given.toml") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing --config file: %v", err)
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
		if _, err := loadConfig(newTestViper(), path, configPaths{}, func(s string) { warnings = append(warnings, s) }); err != nil {
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
	t.Setenv("DUOMAIL_ACCOUNTS_WORK_PORT", "2993")
	t.Setenv("DUOMAIL_ACCOUNTS_WORK_HOST", "other.example.com")
	t.Setenv("DUOMAIL_CACHE_DIR", "/env/cache")
	cfg, _, err := load(t, fullConfig)
	if err != nil {
		t.Fatal(err)
	}
	if w := cfg.Accounts["work"]; w.Port != 2993 || w.Host != "other.example.com" || cfg.CacheDir != "/env/cache" {
		t.Errorf("env overrides not applied: %+v, cache %s", w, cfg.CacheDir)
	}
	t.Setenv("DUOMAIL_ACCOUNTS_WORK_PORT", "many")
	if _, _, err := load(t, fullConfig); err == nil || !strings.Contains(err.Error(), "accounts.work.port") {
		t.Errorf("bad env value: %v", err)
	}
}

func TestDefaultPaths(t *testing.T) {
	env := map[string]string{"HOME": "/home/u"}
	p := defaultPaths(func(k string) string { return env[k] })
	if p.ConfigFile != "/home/u/.config/duomail/config.toml" || p.DataDir != "/home/u/.local/share/duomail" {
		t.Errorf("%+v", p)
	}
	env["XDG_CONFIG_HOME"], env["XDG_DATA_HOME"] = "/x/c", "/x/d"
	p = defaultPaths(func(k string) string { return env[k] })
	if p.ConfigFile != "/x/c/duomail/config.toml" || p.DataDir != "/x/d/duomail" {
		t.Errorf("%+v", p)
	}
	env["XDG_CONFIG_HOME"] = "relative" // the spec says to ignore relative paths
	if p := defaultPaths(func(k string) string { return env[k] }); p.ConfigFile != "/home/u/.config/duomail/config.toml" {
		t.Errorf("%+v", p)
	}
}
