package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// version is set at build time:
//
//	go build -ldflags "-X main.version=1.2.3" ./cmd/duomail
//
// Without it, the module version recorded by "go install module@version"
// is used, else "devel".
var version = ""

// buildInfo is what a bug report needs to know about this binary. Fields
// the build did not record are empty.
type buildInfo struct {
	Version  string // release version, or "devel"
	Commit   string // full VCS revision
	Date     string // commit time, RFC 3339
	Modified bool   // built from a work tree with uncommitted changes
	Go       string // toolchain version
	Platform string // GOOS/GOARCH
}

func readBuildInfo() buildInfo {
	b := buildInfo{Version: version, Go: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	info, ok := debug.ReadBuildInfo()
	if ok {
		b = buildInfoFrom(info, version)
	}
	return b
}

// buildInfoFrom reads debug.BuildInfo; ldflagsVersion, when set, wins over
// the module version (a packager's own numbering).
func buildInfoFrom(info *debug.BuildInfo, ldflagsVersion string) buildInfo {
	b := buildInfo{Version: ldflagsVersion, Go: info.GoVersion, Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if b.Version == "" {
		if v := info.Main.Version; v != "" && v != "(devel)" {
			b.Version = v
		}
	}
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
		case "vcs.time":
			b.Date = s.Value
		case "vcs.modified":
			b.Modified = s.Value == "true"
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}

// String is what --version prints: the version on the first line, as
// scripts read it, then what is known of the build, one fact a line.
func (b buildInfo) String() string {
	var s strings.Builder
	fmt.Fprintf(&s, "duomail %s\n", b.Version)
	if b.Commit != "" {
		commit := b.Commit
		if b.Modified {
			commit += " (with uncommitted changes)"
		}
		fmt.Fprintf(&s, "commit: %s\n", commit)
	}
	if b.Date != "" {
		fmt.Fprintf(&s, "date:   %s\n", b.Date)
	}
	fmt.Fprintf(&s, "go:     %s %s\n", b.Go, b.Platform)
	return s.String()
}
