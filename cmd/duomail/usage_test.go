package main

import (
	"context"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/spf13/cobra"
)

// runInProcess runs one duomail command line in this process, with no
// configuration and no terminal, and returns its exit status and output.
func runInProcess(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errs strings.Builder
	dir := t.TempDir()
	env := map[string]string{"XDG_CONFIG_HOME": dir, "XDG_DATA_HOME": dir, "HOME": dir}
	a := newApp(streams{in: strings.NewReader(""), inFd: -1, out: &out, err: &errs}, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	code = a.execute(context.Background(), args)
	return code, out.String(), errs.String()
}

// TestUsageErrorsExitTwo: mistakes on the command line end with exit
// status 2 and one line saying what is wrong, before any configuration
// is read or any server dialled (there is neither here).
func TestUsageErrorsExitTwo(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"list", "--limit", "-1"}, "--limit must be 0 (all) or more"},
		{[]string{"list", "--offline", "--headers-only"}, "--offline and --headers-only exclude each other"},
		{[]string{"list", "extra"}, `unexpected argument "extra"`},
		{[]string{"list", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"list", "--limit", "many"}, `invalid argument "many"`},
		{[]string{"fetch"}, "missing the message ID"},
		{[]string{"fetch", "1", "2"}, "too many arguments"},
		{[]string{"fetch", "1", "--headers", "--part", "1"}, "choose one of --headers, --part and --save-attachments"},
		{[]string{"fetch", "1", "--force"}, "--force goes with --save-attachments"},
		{[]string{"fetch", "1", "--raw", "--save-attachments", "d"}, "--raw does not apply to --save-attachments"},
		{[]string{"--json", "fetch", "1", "--raw"}, "--raw writes bytes; it cannot be combined with --json"},
		{[]string{"fetch", "1", "--part", "1", "--json"}, "--part writes the part itself"},
		{[]string{"fetch", "1", "--part", "x.y"}, `--part "x.y": a part is numbered like 1 or 1.2`},
		{[]string{"flag", "1"}, "missing --add FLAG or --remove FLAG"},
		{[]string{"flag", "1", "--add", "seen", "--remove", "flagged"}, "give --add or --remove, not both"},
		{[]string{"flag", "1", "--add", "deleted"}, `unknown flag "deleted"`},
		{[]string{"flag", "1", "--add", ","}, "no flag given"},
		{[]string{"flag", "--add", "seen"}, "missing the IDs of the messages"},
		{[]string{"move", "1"}, "missing --to FOLDER"},
		{[]string{"delete"}, "missing the IDs of the messages to delete"},
		{[]string{"compare", "a"}, "missing two accounts"},
		{[]string{"compare", "a", "b", "c"}, "too many arguments"},
		{[]string{"compare", "a", "b", "--count", "0"}, "--count must be at least 1"},
		{[]string{"-a", "x", "compare", "a", "b"}, "compare takes its two accounts as arguments"},
		{[]string{"--url", "imaps://u@h", "compare", "a", "b"}, "compare takes its two accounts as arguments"},
		{[]string{"-a", "x", "check", "--all"}, "--all checks every configured account"},
		{[]string{"check", "-f", "Archive", "--folders"}, "-f and --folders exclude each other"},
		{[]string{"watch", "--interval", "500ms"}, "--interval must be at least 1s"},
		{[]string{"accounts", "extra"}, `unexpected argument "extra"`},
		{[]string{"bogus"}, `unknown command "bogus"`},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			code, stdout, stderr := runInProcess(t, tc.args...)
			if code != exitUsage {
				t.Errorf("exit status %d, want %d; stderr: %s", code, exitUsage, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q, want nothing", stdout)
			}
			first, _, _ := strings.Cut(stderr, "\n")
			if !strings.HasPrefix(first, "duomail: ") || !strings.Contains(first, tc.want) {
				t.Errorf("stderr %q, want a line with %q", stderr, tc.want)
			}
		})
	}
}

// TestFlagErrorsPointAtHelp: a flag cobra itself rejects is followed by
// where to read the usage of that command.
func TestFlagErrorsPointAtHelp(t *testing.T) {
	_, _, stderr := runInProcess(t, "sync", "--nope")
	if !strings.Contains(stderr, "Run 'duomail sync --help' for usage.") {
		t.Errorf("stderr %q", stderr)
	}
}

// runCommand runs one command built with a test's run function in place
// of its own, so that flag parsing and validation are tested without a
// server.
func runCommand(t *testing.T, cmd *cobra.Command, args ...string) error {
	t.Helper()
	cmd.SetArgs(args)
	cmd.SetOut(io.Discard)
	cmd.SetErr(io.Discard)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	return cmd.ExecuteContext(context.Background())
}

func testOptionsApp() *app {
	return newApp(streams{in: strings.NewReader(""), inFd: -1, out: io.Discard, err: io.Discard}, func(string) (string, bool) { return "", false })
}

// TestFlagsReachOptions: what is on the command line arrives in the
// command's options, and the run function is what runs once they are
// valid.
func TestFlagsReachOptions(t *testing.T) {
	t.Run("list", func(t *testing.T) {
		var got *listOptions
		cmd := newListCmd(testOptionsApp(), func(_ context.Context, o *listOptions) error { got = o; return nil })
		if err := runCommand(t, cmd, "-f", "Archive", "--limit", "0", "--unseen", "--offline"); err != nil {
			t.Fatal(err)
		}
		if got == nil || got.Folder != "Archive" || got.Limit != 0 || !got.Unseen || !got.Offline || got.HeadersOnly {
			t.Errorf("options %+v", got)
		}
	})
	t.Run("list defaults", func(t *testing.T) {
		var got *listOptions
		cmd := newListCmd(testOptionsApp(), func(_ context.Context, o *listOptions) error { got = o; return nil })
		if err := runCommand(t, cmd); err != nil {
			t.Fatal(err)
		}
		if got == nil || got.Folder != "" || got.Limit != 50 {
			t.Errorf("options %+v", got)
		}
	})
	t.Run("fetch", func(t *testing.T) {
		a := testOptionsApp()
		a.flags.json = true
		var got *fetchOptions
		cmd := newFetchCmd(a, func(_ context.Context, o *fetchOptions) error { got = o; return nil })
		if err := runCommand(t, cmd, "42", "--headers", "--peek", "-f", "Sent"); err != nil {
			t.Fatal(err)
		}
		if got == nil || got.ID != "42" || !got.Headers || !got.Peek || got.Folder != "Sent" || !got.JSON || got.Raw {
			t.Errorf("options %+v", got)
		}
	})
	t.Run("flag", func(t *testing.T) {
		var got *flagOptions
		cmd := newFlagCmd(testOptionsApp(), func(_ context.Context, o *flagOptions) error { got = o; return nil })
		if err := runCommand(t, cmd, "3", "4", "--remove", "Seen, flagged", "--remove", "seen"); err != nil {
			t.Fatal(err)
		}
		if got == nil || got.Op != client.FlagRemove || !reflect.DeepEqual(got.IDs, []string{"3", "4"}) ||
			!reflect.DeepEqual(got.Flags, []client.Flag{client.FlagSeen, client.FlagFlagged}) {
			t.Errorf("options %+v", got)
		}
	})
	t.Run("check", func(t *testing.T) {
		var got *checkOptions
		cmd := newCheckCmd(testOptionsApp(), func(_ context.Context, o *checkOptions) error { got = o; return nil })
		if err := runCommand(t, cmd, "--all", "--folders"); err != nil {
			t.Fatal(err)
		}
		if got == nil || !got.All || !got.AllFolders || got.Folder != "" {
			t.Errorf("options %+v", got)
		}
	})
	t.Run("compare", func(t *testing.T) {
		var got *compareOptions
		cmd := newCompareCmd(testOptionsApp(), func(_ context.Context, o *compareOptions) error { got = o; return nil })
		if err := runCommand(t, cmd, "imap", "pop3s://u@h", "--with-delete", "--count", "5"); err != nil {
			t.Fatal(err)
		}
		if got == nil || got.Accounts != [2]string{"imap", "pop3s://u@h"} || !got.WithDelete || got.Count != 5 {
			t.Errorf("options %+v", got)
		}
	})
	t.Run("watch", func(t *testing.T) {
		var got *watchOptions
		cmd := newWatchCmd(testOptionsApp(), func(_ context.Context, o *watchOptions) error { got = o; return nil })
		if err := runCommand(t, cmd, "--interval", "2m", "--exec", "true"); err != nil {
			t.Fatal(err)
		}
		if got == nil || got.Interval != 2*time.Minute || got.Exec != "true" {
			t.Errorf("options %+v", got)
		}
	})
	t.Run("move", func(t *testing.T) {
		var got *moveOptions
		cmd := newMoveCmd(testOptionsApp(), func(_ context.Context, o *moveOptions) error { got = o; return nil })
		if err := runCommand(t, cmd, "5", "--to", "inbox"); err != nil {
			t.Fatal(err)
		}
		if got == nil || got.To != "inbox" || !reflect.DeepEqual(got.IDs, []string{"5"}) {
			t.Errorf("options %+v", got)
		}
	})
}

// TestInvalidOptionsDoNotRun: validation rejects before the run function
// is reached, with an error that exits 2.
func TestInvalidOptionsDoNotRun(t *testing.T) {
	ran := false
	cmds := map[string]func() (*cobra.Command, []string){
		"list": func() (*cobra.Command, []string) {
			return newListCmd(testOptionsApp(), func(context.Context, *listOptions) error { ran = true; return nil }), []string{"--limit", "-2"}
		},
		"fetch": func() (*cobra.Command, []string) {
			return newFetchCmd(testOptionsApp(), func(context.Context, *fetchOptions) error { ran = true; return nil }), []string{"1", "--part", "0..1"}
		},
		"flag": func() (*cobra.Command, []string) {
			return newFlagCmd(testOptionsApp(), func(context.Context, *flagOptions) error { ran = true; return nil }), []string{"1", "--add", "junk"}
		},
		"watch": func() (*cobra.Command, []string) {
			return newWatchCmd(testOptionsApp(), func(context.Context, *watchOptions) error { ran = true; return nil }), []string{"--interval", "0s"}
		},
		"check": func() (*cobra.Command, []string) {
			return newCheckCmd(testOptionsApp(), func(context.Context, *checkOptions) error { ran = true; return nil }), []string{"-f", "A", "--folders"}
		},
	}
	for name, mk := range cmds {
		ran = false
		cmd, args := mk()
		err := runCommand(t, cmd, args...)
		if ran {
			t.Errorf("%s %q: ran despite invalid options", name, args)
		}
		if exitCode(err) != exitUsage {
			t.Errorf("%s %q: error %v exits %d, want %d", name, args, err, exitCode(err), exitUsage)
		}
	}
}
