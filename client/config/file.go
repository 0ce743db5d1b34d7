package config

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/pelletier/go-toml/v2"
	"github.com/spf13/viper"
)

// Keys allowed in the file. Anything else is an error, so a misspelt
// "pasword_cmd" is caught instead of silently ignored.
var (
	topLevelKeys = []string{"default", "cache_dir", "html_filter", "pager", "accounts"}
	accountKeys  = []string{
		"protocol", "host", "port", "tls", "username",
		"password", "password_cmd", "password_env", "ca_file", "timeout",
		"keep_on_server", "keep_days", "html_filter", "auth", "password_keyring",
		"oauth2_provider", "oauth2_tenant", "oauth2_client_id", "oauth2_client_secret",
		"oauth2_client_secret_cmd", "oauth2_client_secret_env", "oauth2_auth_url",
		"oauth2_token_url", "oauth2_device_url", "oauth2_revoke_url", "oauth2_scopes",
		"oauth2_token_cmd", "oauth2_token_store",
	}
	accountNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

// envName is the variable that overrides a dotted key:
// accounts.my-work.port is DUOMAIL_ACCOUNTS_MY_WORK_PORT.
func envName(key string) string {
	return envPrefix + strings.ToUpper(strings.NewReplacer(".", "_", "-", "_").Replace(key))
}

// layers is the file read once by viper, with the environment laid over
// it. viper keeps the two layers (the file as its config, each override
// set above it) and answers a key from the top one; layers remembers which
// keys the environment set, so an error names the variable, not the file.
type layers struct {
	v      *viper.Viper
	file   string
	data   map[string]any    // the file alone, as decoded
	env    map[string]string // key -> variable, for keys the environment set
	getenv Getenv
}

// newLayers parses the file, checks it strictly (keys, shapes, types), and
// lays the environment over every key the file could have.
func newLayers(path string, data []byte, getenv Getenv) (*layers, error) {
	v := viper.New()
	v.SetConfigType("toml")
	if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
		return nil, syntaxError(path, err)
	}
	l := &layers{v: v, file: path, data: v.AllSettings(), env: map[string]string{}, getenv: getenv}
	if err := checkKeys(path, l.data); err != nil {
		return nil, err
	}
	// The environment overrides only what the file could say: the
	// top-level settings and the keys of the accounts it defines.
	keys := []string{"cache_dir", "default", "html_filter"}
	for _, name := range l.accountNames() {
		for _, f := range accountKeys {
			keys = append(keys, "accounts."+name+"."+f)
		}
	}
	for _, k := range keys {
		if s, ok := getenv.lookup(envName(k)); ok {
			v.Set(k, s)
			l.env[k] = envName(k)
		}
	}
	return l, nil
}

// get returns a key's value from the top layer that has it.
func (l *layers) get(key string) (value, bool) {
	if !l.v.IsSet(key) {
		return value{}, false
	}
	at := origin{file: l.file}
	if i := strings.LastIndexByte(key, '.'); i > 0 && strings.HasPrefix(key, "accounts.") {
		at.account = key[len("accounts."):i]
	}
	if env, ok := l.env[key]; ok {
		at.env = env
	}
	return value{v: l.v.Get(key), at: at}, true
}

// inFile says whether the file itself sets key.
func (l *layers) inFile(key string) bool {
	var cur any = l.data
	for _, part := range strings.Split(key, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

// accountNames are the accounts the file defines, sorted.
func (l *layers) accountNames() []string {
	accounts, _ := l.data["accounts"].(map[string]any)
	names := make([]string, 0, len(accounts))
	for n := range accounts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// account collects one account's settings, each from its top layer.
func (l *layers) account(name string) fields {
	f := fields{at: origin{file: l.file, account: name}, vals: map[string]value{}}
	for _, k := range accountKeys {
		if v, ok := l.get("accounts." + name + "." + k); ok {
			f.vals[k] = v
		}
	}
	return f
}

// syntaxError turns a TOML parse error into one naming the line.
func syntaxError(path string, err error) error {
	var de *toml.DecodeError
	if errors.As(err, &de) {
		row, _ := de.Position()
		return &Error{File: path, Line: row, Msg: "syntax error: " + de.Error()}
	}
	msg := strings.TrimPrefix(err.Error(), "While parsing config: ")
	return &Error{File: path, Msg: "syntax error: " + msg}
}

// checkKeys rejects unknown keys, account tables of the wrong shape and
// values of the wrong type, in the file alone: a bad value there is an
// error even while the environment happens to override it.
func checkKeys(path string, settings map[string]any) error {
	bad := func(key, msg string) error { return &Error{File: path, Key: key, Msg: msg} }
	for _, k := range sortedKeys(settings) {
		if !slices.Contains(topLevelKeys, k) {
			return bad(k, "unknown key"+suggest(k, topLevelKeys))
		}
		if k != "accounts" {
			if msg := checkType(k, settings[k]); msg != "" {
				return bad(k, msg)
			}
		}
	}
	raw, ok := settings["accounts"]
	if !ok {
		return nil
	}
	accounts, ok := raw.(map[string]any)
	if !ok {
		return bad("accounts", "must be a table of accounts ([accounts.NAME])")
	}
	for _, name := range sortedKeys(accounts) {
		key := "accounts." + name
		if msg := checkAccountName(name); msg != "" {
			return bad(key, msg)
		}
		fields, ok := accounts[name].(map[string]any)
		if !ok {
			return bad(key, "must be a table (["+key+"])")
		}
		for _, f := range sortedKeys(fields) {
			if _, nested := fields[f].(map[string]any); nested {
				return bad(key+"."+f, "unexpected table (account names cannot contain dots)")
			}
			if !slices.Contains(accountKeys, f) {
				return bad(key+"."+f, "unknown key"+suggest(f, accountKeys))
			}
			if msg := checkType(f, fields[f]); msg != "" {
				return bad(key+"."+f, msg)
			}
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// checkType checks a value as written in the file, where TOML gives it a
// type; the environment gives strings, which validate converts.
func checkType(field string, v any) string {
	switch field {
	case "port", "keep_days":
		if _, ok := v.(int64); !ok {
			return "want an integer, got " + describeValue(v)
		}
	case "keep_on_server", "password_keyring":
		if _, ok := v.(bool); !ok {
			return "want true or false, got " + describeValue(v)
		}
	default:
		if _, ok := v.(string); !ok {
			return "want a string, got " + describeValue(v)
		}
	}
	return ""
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
