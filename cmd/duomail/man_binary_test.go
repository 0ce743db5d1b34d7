package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// needMan returns man's path; without it the test cannot run, which CI
// (that installs man-db) must not let pass as a skip.
func needMan(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("man")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("man is not installed (.ci/run installs man-db): %v", err)
		}
		t.Skipf("man is not installed: %v", err)
	}
	return p
}

// commandTree lists every command a user can run, walked here rather
// than with the code under test: not hidden, not cobra's __complete.
func commandTree(c *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{c}
	for _, sub := range c.Commands() {
		if sub.Hidden || sub.Deprecated != "" || strings.HasPrefix(sub.Name(), "__") || sub.Name() == "help" {
			continue
		}
		out = append(out, commandTree(sub)...)
	}
	return out
}

// Every command has a page in the MANPATH directory --dir writes, and
// every page renders with man -l without a warning and carries the
// sections a reader looks for, its examples and its exit statuses.
func TestBinaryManPagesForEveryCommandRender(t *testing.T) {
	t.Parallel()
	manPath := needMan(t)
	c := newCLI(t)
	dir := filepath.Join(c.home, "man")
	r := c.ok("man", "--dir", dir)
	if !strings.Contains(r.stderr, filepath.Join(dir, "man1")) {
		t.Errorf("--dir does not say where the pages went: %v", r)
	}
	entries, err := os.ReadDir(filepath.Join(dir, "man1"))
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, e := range entries {
		files = append(files, e.Name())
	}

	root := newRootCmd(newApp(streams{}, func(string) (string, bool) { return "", false }))
	var want []string
	byPage := map[string]*cobra.Command{}
	for _, cmd := range commandTree(root) {
		name := strings.ReplaceAll(cmd.CommandPath(), " ", "-") + ".1"
		want = append(want, name)
		byPage[name] = cmd
	}
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Fatalf("pages %q\nwant one per command %q", files, want)
	}
	for _, must := range []string{"duomail.1", "duomail-list.1", "duomail-fetch.1", "duomail-completion-zsh.1", "duomail-man.1"} {
		if !slices.Contains(files, must) {
			t.Errorf("no page %s", must)
		}
	}

	for _, name := range files {
		cmd := byPage[name]
		render := exec.Command(manPath, "-l", filepath.Join(dir, "man1", name))
		render.Env = append(c.environ(), "MANWIDTH=100", "MANROFFSEQ=", "MAN_KEEP_FORMATTING=", "LC_ALL=C.UTF-8") // examples are UTF-8
		var stdout, stderr bytes.Buffer
		render.Stdout, render.Stderr = &stdout, &stderr
		if err := render.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("man -l %s: %v\n%s", name, err, stderr.String())
			continue
		}
		text := stdout.String()
		sections := []string{"NAME", "SYNOPSIS", "DESCRIPTION", "EXAMPLES", "EXIT STATUS", "SEE ALSO"}
		if !strings.HasPrefix(cmd.CommandPath(), "duomail completion") && cmd.Name() != "man" {
			sections = append(sections, "ENVIRONMENT", "FILES")
		}
		for _, s := range sections {
			if !regexp.MustCompile(`(?m)^` + s + `$`).MatchString(text) {
				t.Errorf("%s: no %s section:\n%s", name, s, text)
			}
		}
		if strings.Contains(text, "\n.SH") || strings.Contains(text, `\fB`) {
			t.Errorf("%s: roff left in the rendered page", name)
		}
		// The examples are the command's own, and the statuses the table's.
		for _, line := range strings.Split(cmd.Example, "\n") {
			if !strings.Contains(text, strings.TrimSpace(line)) {
				t.Errorf("%s: example %q not in the page", name, line)
			}
		}
		meanings := exitMeanings
		if cmd.Name() == "check" {
			meanings = checkExitMeanings()
		}
		exit := text[strings.Index(text, "EXIT STATUS"):]
		for _, m := range meanings {
			if !regexp.MustCompile(fmt.Sprintf(`(?m)^\s+%d\s`, m.code)).MatchString(exit) {
				t.Errorf("%s: exit status %d (%s) missing", name, m.code, m.meaning)
			}
		}
	}
	// The Windows paths keep their backslashes through roff.
	page, _ := exec.Command(manPath, "-l", filepath.Join(dir, "man1", "duomail-list.1")).Output()
	if !strings.Contains(string(page), `%AppData%\duomail\config.toml`) {
		t.Errorf("FILES lost the Windows path:\n%s", page)
	}
}

// duomail man shows one page through man; without man it prints the page
// as plain text; --roff prints the source; an unknown command is a
// usage error.
func TestBinaryManShowsOnePage(t *testing.T) {
	t.Parallel()
	needMan(t)
	c := newCLI(t)
	r := c.ok("man", "fetch")
	if !strings.Contains(r.stdout, "DUOMAIL-FETCH(1)") || !strings.Contains(r.stdout, "EXIT STATUS") || strings.Contains(r.stdout, ".SH") {
		t.Errorf("man fetch through man:\n%s", r.stdout)
	}
	if r := c.ok("man"); !strings.Contains(r.stdout, "DUOMAIL(1)") || !strings.Contains(r.stdout, "duomail-fetch(1)") {
		t.Errorf("man (duomail's own page, naming the commands' pages):\n%s", r.stdout)
	}
	if r := c.ok("man", "completion", "fish"); !strings.Contains(r.stdout, "DUOMAIL-COMPLETION-FISH(1)") {
		t.Errorf("man completion fish:\n%s", r.stdout)
	}
	roff := c.ok("man", "--roff", "fetch").stdout
	if !strings.HasPrefix(roff, ".nh\n.TH \"DUOMAIL-FETCH\" \"1\"") || !strings.Contains(roff, "\n.SH EXIT STATUS\n") {
		t.Errorf("--roff:\n%.400s", roff)
	}

	// No man on PATH (Windows, a minimal container): plain text.
	noMan := newCLI(t)
	noMan.env["PATH"] = t.TempDir()
	r = noMan.ok("man", "fetch")
	for _, want := range []string{"DUOMAIL-FETCH(1)", "Usage:", "duomail fetch ID", "EXIT STATUS", "ENVIRONMENT", "FILES", "duomail fetch 42 --headers"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plain page lacks %q:\n%s", want, r.stdout)
		}
	}

	c.fails(exitUsage, "man", "nosuch")
	c.fails(exitUsage, "man", "--dir", t.TempDir(), "fetch")
}
