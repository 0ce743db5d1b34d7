package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/duomail/duomail/client/config"
	"github.com/duomail/duomail/client/mailcheck"
	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"
)

type manOptions struct {
	app  *app
	Path []string // the command whose page is shown; empty for duomail(1)
	Dir  string   // --dir: write every page into Dir/man1
	Roff bool     // --roff: print the page's source
}

func newManCmd(a *app, runF func(context.Context, *manOptions) error) *cobra.Command {
	opts := &manOptions{app: a}
	cmd := &cobra.Command{
		Use:   "man [COMMAND...]",
		Short: "Show the manual page of duomail or of a command, or install them all",
		Long: `Show a manual page, generated from the commands themselves: duomail(1),
or with a command duomail-COMMAND(1). It is shown with man(1) where there
is one (paged on a terminal), else printed as plain text.

--dir DIR writes every page into DIR/man1, for man to find: DIR is a
MANPATH directory such as ~/.local/share/man (which man already searches
when ~/.local/bin is on PATH) or /usr/local/share/man.`,
		RunE: a.runE(func(ctx context.Context, args []string) error {
			opts.Path = args
			if opts.Dir != "" && len(args) > 0 {
				return usageErrorf("--dir writes every page; it takes no command")
			}
			if runF != nil {
				return runF(ctx, opts)
			}
			return runMan(ctx, opts)
		}),
		ValidArgsFunction: func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
			parent, _, err := cmd.Root().Find(args)
			if err != nil || (len(args) > 0 && parent == cmd.Root()) {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			var out []string
			for _, c := range manCommands(parent) {
				if c.Parent() == parent && strings.HasPrefix(c.Name(), toComplete) {
					out = append(out, c.Name()+"\t"+c.Short)
				}
			}
			return out, cobra.ShellCompDirectiveNoFileComp
		},
	}
	cmd.Flags().StringVar(&opts.Dir, "dir", "", "write every page into `DIR`/man1")
	cmd.Flags().BoolVar(&opts.Roff, "roff", false, "print the page's roff source")
	_ = cmd.MarkFlagDirname("dir")
	return cmd
}

func runMan(ctx context.Context, opts *manOptions) error {
	a := opts.app
	root := newRootCmd(newApp(streams{}, a.getenv)) // a fresh tree: the running one has parsed flags
	if opts.Dir != "" {
		dir := filepath.Join(opts.Dir, "man1")
		n, err := writeManPages(root, dir)
		if err != nil {
			return err
		}
		a.notice(fmt.Sprintf("wrote %d manual pages to %s", n, dir))
		return nil
	}
	target := root
	if len(opts.Path) > 0 {
		c, rest, err := root.Find(opts.Path)
		if err != nil || len(rest) > 0 || c == root || !c.IsAvailableCommand() {
			return usageErrorf("no manual page for %q (see duomail man --help)", strings.Join(opts.Path, " "))
		}
		target = c
	}
	page, err := manPage(target)
	if err != nil {
		return err
	}
	if opts.Roff {
		_, err := a.io.out.Write(page)
		return err
	}
	manPath, err := exec.LookPath("man")
	if err != nil {
		return writePlainPage(a.io.out, target)
	}
	// man -l reads a file; a named one, as not every man reads stdin.
	f, err := os.CreateTemp("", "duomail-*.1")
	if err != nil {
		return fmt.Errorf("man: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(page); err != nil {
		f.Close()
		return fmt.Errorf("man: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("man: %w", err)
	}
	cmd := exec.CommandContext(ctx, manPath, "-l", f.Name())
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.io.in, a.io.out, a.io.err
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("man -l: %w", err)
	}
	return nil
}

// manCommands is every command with a page: the available ones, not
// cobra's help topics.
func manCommands(root *cobra.Command) []*cobra.Command {
	out := []*cobra.Command{root}
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() && !c.IsAdditionalHelpTopicCommand() {
			out = append(out, manCommands(c)...)
		}
	}
	return out
}

// manPageName is the page's file name: "duomail-completion-bash.1".
func manPageName(c *cobra.Command) string {
	return strings.ReplaceAll(c.CommandPath(), " ", "-") + ".1"
}

// writeManPages writes every page into dir, returning how many.
func writeManPages(root *cobra.Command, dir string) (int, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, fmt.Errorf("man: %w", err)
	}
	cmds := manCommands(root)
	for _, c := range cmds {
		page, err := manPage(c)
		if err != nil {
			return 0, err
		}
		if err := os.WriteFile(filepath.Join(dir, manPageName(c)), page, 0o644); err != nil {
			return 0, fmt.Errorf("man: %w", err)
		}
	}
	return len(cmds), nil
}

// manPage is c's page in roff: cobra's NAME, SYNOPSIS, DESCRIPTION,
// OPTIONS, EXAMPLES and SEE ALSO, with EXIT STATUS, ENVIRONMENT and FILES
// before SEE ALSO, where man-pages(7) puts them.
func manPage(c *cobra.Command) ([]byte, error) {
	header := &doc.GenManHeader{
		Title:   strings.ToUpper(strings.ReplaceAll(c.CommandPath(), " ", "-")),
		Section: "1",
		Source:  "duomail " + readBuildInfo().Version,
		Manual:  "duomail manual",
		Date:    manDate(),
	}
	var buf bytes.Buffer
	if err := doc.GenMan(c, header, &buf); err != nil {
		return nil, fmt.Errorf("man page %s: %w", c.CommandPath(), err)
	}
	page := strings.Replace(buf.String(), "\n.SH EXAMPLE\n", "\n.SH EXAMPLES\n", 1)
	var extra strings.Builder
	for _, s := range manSections(c) {
		s.roff(&extra)
	}
	if i := strings.Index(page, "\n.SH SEE ALSO\n"); i >= 0 {
		page = page[:i+1] + extra.String() + page[i+1:]
	} else {
		page += extra.String()
	}
	return []byte(page), nil
}

// manDate is the commit's date where the build knows it, so the same
// source gives the same pages; else today.
func manDate() *time.Time {
	if t, err := time.Parse(time.RFC3339, readBuildInfo().Date); err == nil {
		return &t
	}
	return nil
}

// manSection is a section duomail adds to cobra's pages: a paragraph, then
// tagged items.
type manSection struct {
	title string
	text  string
	items [][2]string // term, explanation
}

func manSections(c *cobra.Command) []manSection {
	exit := manSection{title: "EXIT STATUS"}
	meanings := exitMeanings
	if c.Name() == "check" {
		meanings = checkExitMeanings()
	}
	for _, m := range meanings {
		exit.items = append(exit.items, [2]string{fmt.Sprint(m.code), m.meaning})
	}

	env := manSection{title: "ENVIRONMENT", items: [][2]string{
		{"DUOMAIL_CONFIG", "the configuration file, when --config is not given"},
		{"DUOMAIL_ACCOUNT", "the account, when -a is not given"},
		{"DUOMAIL_PASSWORD", "the password of an account whose configuration names no password source"},
		{"DUOMAIL_CACHE_DIR", "the cache root (cache_dir)"},
		{"DUOMAIL_DEFAULT", "the default account (default)"},
		{"DUOMAIL_ACCOUNTS_NAME_KEY", "overrides KEY of account NAME in the file, e.g. DUOMAIL_ACCOUNTS_WORK_PORT=1993"},
		{"XDG_CONFIG_HOME, XDG_DATA_HOME", "where the configuration and the cache are, on every platform, when set to absolute paths"},
		{"HOME", "the home directory, for ~ and the default locations (USERPROFILE, AppData and LocalAppData on Windows)"},
	}}

	files := manSection{title: "FILES"}
	for _, p := range []struct{ name, goos string }{
		{"Linux and the BSDs", "linux"}, {"macOS", "darwin"}, {"Windows", "windows"},
	} {
		d := config.DescribePaths(p.goos)
		files.items = append(files.items,
			[2]string{d.ConfigFile, "the configuration file on " + p.name},
			[2]string{d.DataDir, "the cache root on " + p.name + ": one directory per account, with index.sqlite, a Maildir per folder and " + mailcheck.StateFile})
	}
	if c.Name() == "man" || c.Name() == "help" || strings.HasPrefix(c.CommandPath(), "duomail completion") {
		return []manSection{exit} // about duomail itself, not about mail
	}
	return []manSection{exit, env, files}
}

func (s manSection) roff(w io.Writer) {
	fmt.Fprintf(w, ".SH %s\n", s.title)
	if s.text != "" {
		fmt.Fprintf(w, ".PP\n%s\n", roffText(s.text))
	}
	for _, it := range s.items {
		fmt.Fprintf(w, ".TP\n.B \"%s\"\n%s\n", roffText(it[0]), roffText(it[1]))
	}
}

func (s manSection) plain(w io.Writer) {
	fmt.Fprintf(w, "\n%s\n", s.title)
	if s.text != "" {
		fmt.Fprintf(w, "  %s\n", s.text)
	}
	for _, it := range s.items {
		fmt.Fprintf(w, "  %s\n      %s\n", it[0], it[1])
	}
}

// roffText escapes text for a roff line: backslashes (Windows paths), a
// leading dot or quote (read as a request), hyphens in option names.
func roffText(s string) string {
	s = strings.ReplaceAll(s, `\`, `\e`)
	s = strings.ReplaceAll(s, "-", `\-`)
	if strings.HasPrefix(s, ".") || strings.HasPrefix(s, "'") {
		s = `\&` + s
	}
	return s
}

// writePlainPage prints a page without man: the command's help, then
// the sections only the manual has.
func writePlainPage(w io.Writer, c *cobra.Command) error {
	var help bytes.Buffer
	c.SetOut(&help)
	err := c.Help()
	c.SetOut(nil)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	name := strings.ReplaceAll(c.CommandPath(), " ", "-")
	fmt.Fprintf(&b, "%s(1)\n\nNAME\n  %s - %s\n\n", strings.ToUpper(name), name, c.Short)
	b.Write(help.Bytes())
	for _, s := range manSections(c) {
		s.plain(&b)
	}
	_, err = w.Write(b.Bytes())
	return err
}
