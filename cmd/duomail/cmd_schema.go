package main

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/spf13/cobra"
)

type schemaOptions struct {
	app     *app
	Command string // "" for the list of commands
}

func newSchemaCmd(a *app, runF func(context.Context, *schemaOptions) error) *cobra.Command {
	opts := &schemaOptions{app: a}
	return &cobra.Command{
		Use:   "schema [COMMAND]",
		Short: "Print the JSON Schema of a command's --json output",
		Long: `Print the JSON Schema (draft 2020-12) of what COMMAND prints with --json.
The schema is generated from the very Go types the output is encoded from,
and the tests check every command's real output against it, so the two
agree. Nested types are under "$defs". For watch, whose --json output is
JSON Lines, the schema is that of one line. The "stats" field is there
with --stats only.

Without COMMAND, list the commands that have a schema (with --json, as
an object whose schema is "duomail schema schema").

Errors are never JSON: they go to stderr as one line, with the exit
status saying what kind (see the README). A command acting on several
accounts or folders (check) lists the ones that failed in its object.`,
		Example: `  duomail schema list
  duomail schema watch > watch-line.schema.json
  duomail schema`,
		RunE: a.runE(func(ctx context.Context, args []string) error {
			opts.Command = strings.Join(args, " ")
			if runF != nil {
				return runF(ctx, opts)
			}
			return runSchema(ctx, opts)
		}),
	}
}

func runSchema(_ context.Context, opts *schemaOptions) error {
	a := opts.app
	if opts.Command == "" {
		r := &schemaIndexResult{Commands: []schemaIndexEntry{}}
		for _, o := range jsonOutputs {
			r.Commands = append(r.Commands, schemaIndexEntry{Command: o.command, Lines: o.lines, About: o.about})
		}
		return a.out.print(r)
	}
	o, ok := findJSONOutput(opts.Command)
	if !ok {
		if why, ok := withoutJSONOutput[opts.Command]; ok {
			return usageErrorf("%s prints no JSON: %s", opts.Command, why)
		}
		names := make([]string, len(jsonOutputs))
		for i, o := range jsonOutputs {
			names[i] = o.command
		}
		return usageErrorf("no schema for %q; commands with one: %s", opts.Command, strings.Join(names, ", "))
	}
	s, err := schemaDocument(o)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	_, err = a.io.out.Write(append(b, '\n'))
	return err
}

// schemaIndexResult: duomail schema, without COMMAND.
type schemaIndexResult struct {
	Commands []schemaIndexEntry `json:"commands"`
	jsonStats
}

type schemaIndexEntry struct {
	Command string `json:"command"`
	Lines   bool   `json:"lines"` // JSON Lines: the schema is that of one line
	About   string `json:"about"`
}

func (r *schemaIndexResult) jsonObject() any { return r }

func (r *schemaIndexResult) table() table {
	t := table{cols: []column{{title: "COMMAND"}, {title: "OUTPUT"}, {title: "WHAT", flex: true}}}
	for _, e := range r.Commands {
		form := "one object"
		if e.Lines {
			form = "JSON Lines"
		}
		t.rows = append(t.rows, []cell{textCell(e.Command), textCell(form), textCell(e.About)})
	}
	return t
}
