package main

import (
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// words splits an example line as a shell would, far enough for these
// examples: quotes, a trailing comment, and a redirection or pipe that
// ends the command.
func words(line string) []string {
	var out []string
	var cur strings.Builder
	inWord := false
	var quote rune
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t':
			if inWord {
				out = append(out, cur.String())
				cur.Reset()
				inWord = false
			}
		case !inWord && (r == '#' || r == '>' || r == '|'):
			return out
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		out = append(out, cur.String())
	}
	return out
}

// Every command has examples, and every example is a command line that
// duomail accepts: the command exists and its flags parse.
func TestExamplesAreValidCommandLines(t *testing.T) {
	root := newRootCmd(newApp(streams{}, func(string) (string, bool) { return "", false }))
	for _, cmd := range commandTree(root) {
		if strings.TrimSpace(cmd.Example) == "" {
			t.Errorf("%s has no example", cmd.CommandPath())
			continue
		}
		for _, line := range strings.Split(cmd.Example, "\n") {
			args := words(strings.TrimSpace(line))
			if len(args) == 0 || args[0] != "duomail" {
				continue // shell around the command (source <(...))
			}
			args = searchNegations(root, args[1:]) // as execute reads a command line
			found, rest, err := root.Find(args)
			if err != nil {
				t.Errorf("%s: example %q: %v", cmd.CommandPath(), line, err)
				continue
			}
			if !strings.HasPrefix(found.CommandPath(), cmd.CommandPath()) {
				t.Errorf("%s: example %q runs %s", cmd.CommandPath(), line, found.CommandPath())
			}
			fresh := newRootCmd(newApp(streams{}, func(string) (string, bool) { return "", false }))
			c, _, _ := fresh.Find(args)
			if err := c.ParseFlags(rest); err != nil {
				t.Errorf("%s: example %q: %v", cmd.CommandPath(), line, err)
			}
		}
	}
}

// The README's exit status table and the one the manual pages are
// generated from list the same statuses.
func TestReadmeExitStatusesMatchTheTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	text := string(readme)
	start := strings.Index(text, "\n## Exit status\n")
	if start < 0 {
		t.Fatal("README has no Exit status section")
	}
	section := text[start+1:]
	section = section[:strings.Index(section[3:], "\n## ")+3]
	var inReadme []int
	for _, m := range regexp.MustCompile(`(?m)^\| (\d+) \|`).FindAllStringSubmatch(section, -1) {
		n, _ := strconv.Atoi(m[1])
		inReadme = append(inReadme, n)
	}
	var inTable []int
	for _, m := range exitMeanings {
		inTable = append(inTable, m.code)
	}
	if !slices.Equal(inReadme, inTable) {
		t.Errorf("README lists %v, the table %v", inReadme, inTable)
	}
	var check []int
	for _, m := range checkExitMeanings() {
		check = append(check, m.code)
	}
	if !slices.Equal(check, []int{exitOK, exitError, exitUsage, exitAuth, exitNetwork, exitUnsupported, exitOther, exitLocked, exitInterrupted, exitTerminated}) {
		t.Errorf("check's statuses %v", check)
	}
}
