package main

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/config"
	"github.com/duomail/duomail/client/query"
	"github.com/duomail/duomail/client/termtext"
	"github.com/duomail/duomail/localcache"
	"github.com/spf13/cobra"
)

// Shell completion offers what the user has: accounts from the
// configuration, folders and messages from the local cache. It never
// connects, never asks for or runs anything to get a password, and never
// prints an error: a shell calls it on every Tab, and with no
// configuration or cache yet it offers nothing, at once.

// completionBudget bounds the cache queries of one completion, so a Tab
// never hangs on a busy or huge cache.
const completionBudget = 500 * time.Millisecond

// maxMessageCandidates bounds the message IDs offered, newest first.
const maxMessageCandidates = 100

const noFiles = cobra.ShellCompDirectiveNoFileComp

// flagNames are the flags flag --add and --remove take.
var flagNames = []string{
	"seen\tread",
	"flagged\tstarred, important",
	"answered\treplied to",
	"draft\tnot yet sent",
}

// searchKeyHelp describes the search language's keys and values as a
// completion shows them; the keys themselves come from package query.
var searchKeyHelp = map[string]string{
	"from:":          "sender contains",
	"to:":            "recipient contains",
	"cc:":            "Cc recipient contains",
	"subject:":       "subject contains",
	"body:":          "text contains",
	"is:unread":      "not yet seen",
	"is:read":        "seen",
	"is:flagged":     "flagged",
	"is:unflagged":   "not flagged",
	"is:answered":    "replied to",
	"is:unanswered":  "not replied to",
	"is:draft":       "draft",
	"has:attachment": "has an attachment",
	"after:":         "on or after a date (2026-03-01, yesterday, 7d)",
	"since:":         "on or after a date",
	"before:":        "before a date",
	"date:":          "a range: date:2026-03-01..2026-03-31",
	"larger:":        "bigger than a size (500k, 2M)",
	"smaller:":       "smaller than a size",
	"OR":             "either side matches",
	"NOT":            "negates the next term (or -term)",
}

// searchKeys lists what a query term can start with: each key of the
// language, is: and has: with each of their values.
func searchKeys() []string {
	var out []string
	for _, k := range query.Keys {
		switch k {
		case "is":
			for _, v := range query.IsValues {
				out = append(out, "is:"+v)
			}
		case "has":
			for _, v := range query.HasValues {
				out = append(out, "has:"+v)
			}
		default:
			out = append(out, k+":")
		}
	}
	return append(out, "OR", "NOT")
}

// setupCompletion attaches completion to the command tree: the flags and
// arguments that name accounts, folders, messages and flags.
func setupCompletion(a *app, root *cobra.Command) {
	_ = root.RegisterFlagCompletionFunc("account", a.completeAccounts)
	for _, cmd := range root.Commands() {
		if cmd.Flags().Lookup("folder") != nil {
			_ = cmd.RegisterFlagCompletionFunc("folder", a.completeFolders)
		}
		switch cmd.Name() {
		case "fetch":
			cmd.ValidArgsFunction = a.completeMessages(1)
			_ = cmd.MarkFlagDirname("save-attachments")
		case "delete", "flag":
			cmd.ValidArgsFunction = a.completeMessages(0)
		case "move":
			cmd.ValidArgsFunction = a.completeMessages(0)
			_ = cmd.RegisterFlagCompletionFunc("to", a.completeDestination)
		case "compare":
			cmd.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				if len(args) >= 2 {
					return nil, noFiles
				}
				names, dir := a.completeAccounts(cmd, args, toComplete)
				return slices.DeleteFunc(names, func(n string) bool {
					name, _, _ := strings.Cut(n, "\t")
					return slices.Contains(args, name)
				}), dir
			}
		case "search":
			if cmd.ValidArgsFunction == nil {
				cmd.ValidArgsFunction = completeSearchQuery
			}
		}
		if cmd.Flags().Lookup("add") != nil && cmd.Flags().Lookup("remove") != nil {
			_ = cmd.RegisterFlagCompletionFunc("add", completeFlagNames)
			_ = cmd.RegisterFlagCompletionFunc("remove", completeFlagNames)
		}
		if cmd.ValidArgsFunction == nil {
			// No command takes file names as arguments: the shell must not offer them.
			cmd.ValidArgsFunction = cobra.NoFileCompletions
		}
	}
}

// completeAccounts offers the configured accounts, with protocol and host.
func (a *app) completeAccounts(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	cfg, err := a.completionConfig()
	if err != nil {
		return nil, noFiles
	}
	var out []string
	for _, name := range cfg.Names() {
		if strings.HasPrefix(name, strings.ToLower(toComplete)) {
			ac := cfg.Accounts[name]
			out = append(out, name+"\t"+describe(ac.Protocol+" "+ac.Host))
		}
	}
	return out, noFiles
}

// completeFolders offers INBOX and the folders the account's cache knows.
func (a *app) completeFolders(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return a.folderCandidates(cmd, toComplete, ""), noFiles
}

// completeDestination offers the folders a move can go to: not the one
// the messages are in.
func (a *app) completeDestination(cmd *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	return a.folderCandidates(cmd, toComplete, folderFlag(cmd)), noFiles
}

func (a *app) folderCandidates(cmd *cobra.Command, toComplete, exclude string) []string {
	folders := []string{client.Inbox}
	_ = a.withCompletionCache(cmd, func(ctx context.Context, c *localcache.Cache) error {
		names, err := c.Folders(ctx)
		folders = append(folders, names...)
		return err
	})
	slices.Sort(folders)
	var out []string
	for _, f := range slices.Compact(folders) {
		if f != exclude && strings.HasPrefix(strings.ToLower(f), strings.ToLower(toComplete)) {
			out = append(out, f)
		}
	}
	return out
}

// completeMessages offers the IDs of the cached messages of the folder
// given with -f (INBOX without), newest first, each with its subject;
// IDs already on the command line are left out. max is how many IDs
// the command takes (0: any number).
func (a *app) completeMessages(max int) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
		if max > 0 && len(args) >= max {
			return nil, noFiles
		}
		folder := folderFlag(cmd)
		var out []string
		_ = a.withCompletionCache(cmd, func(ctx context.Context, c *localcache.Cache) error {
			return c.List(ctx, folder, client.ListOptions{}, func(e client.Envelope) error {
				if !strings.HasPrefix(e.ID, toComplete) || slices.Contains(args, e.ID) {
					return nil
				}
				subject := describe(e.Subject)
				if subject == "" {
					subject = "(no subject)"
				}
				out = append(out, e.ID+"\t"+subject)
				if len(out) == maxMessageCandidates {
					return errEnough
				}
				return nil
			})
		})
		return out, noFiles | cobra.ShellCompDirectiveKeepOrder
	}
}

var errEnough = errors.New("enough candidates")

// completeFlagNames completes one element of a comma-separated flag list.
func completeFlagNames(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	done, last := "", toComplete
	if i := strings.LastIndex(toComplete, ","); i >= 0 {
		done, last = toComplete[:i+1], toComplete[i+1:]
	}
	given := strings.Split(strings.ToLower(done), ",")
	var out []string
	for _, f := range flagNames {
		name, _, _ := strings.Cut(f, "\t")
		if strings.HasPrefix(name, strings.ToLower(last)) && !slices.Contains(given, name) {
			out = append(out, done+f)
		}
	}
	return out, noFiles
}

// completeSearchQuery completes the keys of the search language; a key
// that takes a value ("from:") leaves the cursor after the colon.
func completeSearchQuery(_ *cobra.Command, _ []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	prefix := ""
	word := toComplete
	if strings.HasPrefix(word, "-") { // -is:unread negates
		prefix, word = "-", word[1:]
	}
	directive := noFiles
	var out []string
	for _, key := range searchKeys() {
		if prefix != "" && (key == "OR" || key == "NOT") {
			continue
		}
		if strings.HasPrefix(strings.ToLower(key), strings.ToLower(word)) {
			c := prefix + key
			if help := searchKeyHelp[key]; help != "" {
				c += "\t" + help
			}
			out = append(out, c)
			if strings.HasSuffix(key, ":") {
				directive |= cobra.ShellCompDirectiveNoSpace
			}
		}
	}
	return out, directive
}

// folderFlag is the folder a command's -f names, INBOX without.
func folderFlag(cmd *cobra.Command) string {
	if f := cmd.Flags().Lookup("folder"); f != nil && f.Value.String() != "" {
		return f.Value.String()
	}
	return client.Inbox
}

// withCompletionCache opens the cache of the account the command line
// names (as the command itself would choose it) for reading, and runs fn
// within the completion budget. Anything missing (no configuration, no
// such account, no cache yet) is an error that the callers ignore.
func (a *app) withCompletionCache(cmd *cobra.Command, fn func(context.Context, *localcache.Cache) error) error {
	if _, err := a.completionConfig(); err != nil {
		return err
	}
	a.accountFlag = cmd.Flags().Changed("account")
	ac, cfg, err := a.accountConfig()
	if err != nil {
		return err
	}
	c, err := localcache.OpenReader(ac.Client(cfg.CacheDir, nil).CacheDir)
	if err != nil {
		return err
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(cmd.Context(), completionBudget)
	defer cancel()
	if err := fn(ctx, c); err != nil && !errors.Is(err, errEnough) {
		return err
	}
	return nil
}

// completionConfig reads the configuration as a command would, but
// without warnings: completion prints nothing but candidates.
func (a *app) completionConfig() (*Config, error) {
	if a.cfg == nil {
		cfg, err := config.Load(config.Options{File: a.flags.config}, a.getenv)
		if err != nil {
			return nil, err
		}
		a.cfg = cfg
	}
	return a.cfg, nil
}

// describe makes server text fit a completion description: one line,
// no control sequences, no tabs.
func describe(s string) string {
	return strings.Join(strings.Fields(termtext.Field(s)), " ")
}
