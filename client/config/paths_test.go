package config

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestPlatformPaths(t *testing.T) {
	unix := map[string]string{"HOME": "/home/u"}
	mac := map[string]string{"HOME": "/Users/u"}
	win := map[string]string{
		"USERPROFILE":  `C:\Users\u`,
		"AppData":      `C:\Users\u\AppData\Roaming`,
		"LocalAppData": `C:\Users\u\AppData\Local`,
	}
	with := func(base map[string]string, kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name     string
		goos     string
		env      map[string]string
		existing []string
		config   string
		data     string
	}{
		{"linux XDG defaults", "linux", unix, nil,
			"/home/u/.config/duomail/config.toml", "/home/u/.local/share/duomail"},
		{"freebsd XDG defaults", "freebsd", unix, nil,
			"/home/u/.config/duomail/config.toml", "/home/u/.local/share/duomail"},
		{"openbsd XDG defaults", "openbsd", unix, nil,
			"/home/u/.config/duomail/config.toml", "/home/u/.local/share/duomail"},
		{"linux XDG set", "linux", with(unix, "XDG_CONFIG_HOME", "/x/c", "XDG_DATA_HOME", "/x/d/"), nil,
			"/x/c/duomail/config.toml", "/x/d/duomail"},
		{"linux relative XDG ignored", "linux", with(unix, "XDG_CONFIG_HOME", "rel", "XDG_DATA_HOME", "rel"), nil,
			"/home/u/.config/duomail/config.toml", "/home/u/.local/share/duomail"},
		{"linux no home: relative, as before", "linux", map[string]string{}, nil,
			".config/duomail/config.toml", ".local/share/duomail"},

		{"macOS convention", "darwin", mac, nil,
			"/Users/u/Library/Application Support/duomail/config.toml", "/Users/u/Library/Application Support/duomail"},
		{"macOS XDG set wins", "darwin", with(mac, "XDG_CONFIG_HOME", "/Users/u/.config", "XDG_DATA_HOME", "/Users/u/.local/share"), nil,
			"/Users/u/.config/duomail/config.toml", "/Users/u/.local/share/duomail"},
		{"macOS existing ~/.config setup kept", "darwin", mac,
			[]string{"/Users/u/.config/duomail/config.toml", "/Users/u/.local/share/duomail"},
			"/Users/u/.config/duomail/config.toml", "/Users/u/.local/share/duomail"},
		{"macOS own files win over ~/.config", "darwin", mac,
			[]string{"/Users/u/.config/duomail/config.toml", "/Users/u/Library/Application Support/duomail/config.toml", "/Users/u/Library/Application Support/duomail"},
			"/Users/u/Library/Application Support/duomail/config.toml", "/Users/u/Library/Application Support/duomail"},

		{"windows convention", "windows", win, nil,
			`C:\Users\u\AppData\Roaming\duomail\config.toml`, `C:\Users\u\AppData\Local\duomail`},
		{"windows without AppData variables", "windows", map[string]string{"USERPROFILE": `D:\home\u`}, nil,
			`D:\home\u\AppData\Roaming\duomail\config.toml`, `D:\home\u\AppData\Local\duomail`},
		{"windows XDG set wins", "windows", with(win, "XDG_CONFIG_HOME", `C:\xdg\config`, "XDG_DATA_HOME", `\\server\share\data`), nil,
			`C:\xdg\config\duomail\config.toml`, `\\server\share\data\duomail`},
		{"windows relative XDG ignored", "windows", with(win, "XDG_CONFIG_HOME", `xdg\config`, "XDG_DATA_HOME", `/x/d`), nil,
			`C:\Users\u\AppData\Roaming\duomail\config.toml`, `C:\Users\u\AppData\Local\duomail`},
		{"windows existing ~/.config setup kept", "windows", win,
			[]string{`C:\Users\u\.config\duomail\config.toml`},
			`C:\Users\u\.config\duomail\config.toml`, `C:\Users\u\AppData\Local\duomail`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			existing := map[string]bool{}
			for _, p := range tc.existing {
				existing[p] = true
			}
			env := tc.env
			p := PlatformPaths(tc.goos, func(k string) (string, bool) {
				v, ok := env[k]
				return v, ok
			}, func(p string) bool { return existing[p] })
			if p.ConfigFile != tc.config || p.DataDir != tc.data {
				t.Errorf("got  config %s\n     data   %s\nwant config %s\n     data   %s", p.ConfigFile, p.DataDir, tc.config, tc.data)
			}
		})
	}
}

// On the platform the tests run on, the default directories are the ones
// the Go standard library names for it, so the table above describes
// what the real functions do.
func TestDefaultPathsFollowTheStandardLibrary(t *testing.T) {
	for _, k := range []string{"XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	home := t.TempDir()
	t.Setenv("HOME", home)
	p := DefaultPaths(os.LookupEnv)
	cfgDir, err := os.UserConfigDir()
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(cfgDir, "duomail", "config.toml"); p.ConfigFile != want {
		t.Errorf("config %s, want %s (os.UserConfigDir)", p.ConfigFile, want)
	}
	wantData := filepath.Join(home, ".local", "share", "duomail")
	switch runtime.GOOS {
	case "darwin", "ios":
		wantData = filepath.Dir(p.ConfigFile)
	case "windows":
		cacheDir, err := os.UserCacheDir()
		if err != nil {
			t.Fatal(err)
		}
		wantData = filepath.Join(cacheDir, "duomail")
	}
	if p.DataDir != wantData {
		t.Errorf("data %s, want %s", p.DataDir, wantData)
	}

	// An existing XDG setup is the user's choice on every platform.
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, "xdg-config"))
	t.Setenv("XDG_DATA_HOME", filepath.Join(home, "xdg-data"))
	p = DefaultPaths(os.LookupEnv)
	if want := filepath.Join(home, "xdg-config", "duomail", "config.toml"); p.ConfigFile != want {
		t.Errorf("XDG config %s, want %s", p.ConfigFile, want)
	}
	if want := filepath.Join(home, "xdg-data", "duomail"); p.DataDir != want {
		t.Errorf("XDG data %s, want %s", p.DataDir, want)
	}
}

func TestDescribePaths(t *testing.T) {
	for goos, want := range map[string]Paths{
		"linux":   {"~/.config/duomail/config.toml", "~/.local/share/duomail"},
		"darwin":  {"~/Library/Application Support/duomail/config.toml", "~/Library/Application Support/duomail"},
		"windows": {`%AppData%\duomail\config.toml`, `%LocalAppData%\duomail`},
	} {
		if got := DescribePaths(goos); got != want {
			t.Errorf("%s: %+v, want %+v", goos, got, want)
		}
	}
}
