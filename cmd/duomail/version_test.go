package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestBuildInfoFromSettings(t *testing.T) {
	info := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/duomail/duomail", Version: "(devel)"},
		Settings: []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
			{Key: "vcs.time", Value: "2026-12-02T16:00:00Z"},
			{Key: "vcs.modified", Value: "true"},
		},
	}
	b := buildInfoFrom(info, "")
	out := b.String()
	for _, want := range []string{
		"duomail devel\n",
		"commit: 0123456789abcdef0123456789abcdef01234567 (with uncommitted changes)\n",
		"date:   2026-12-02T16:00:00Z\n",
		"go:     go1.26.8 ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in\n%s", want, out)
		}
	}
	if !strings.HasPrefix(out, "duomail devel\n") {
		t.Errorf("first line must be the version:\n%s", out)
	}

	// go install module@version records the module version; no VCS.
	info = &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.4.0"}}
	out = buildInfoFrom(info, "").String()
	if !strings.HasPrefix(out, "duomail v1.4.0\n") || strings.Contains(out, "commit:") || strings.Contains(out, "date:") {
		t.Errorf("module version build:\n%s", out)
	}
	// A packager's -X main.version wins over the module version.
	if b := buildInfoFrom(info, "1.4.0-3ubuntu1"); b.Version != "1.4.0-3ubuntu1" {
		t.Errorf("ldflags version: %+v", b)
	}
}
