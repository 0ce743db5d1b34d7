package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestEveryCommandDeclaresItsJSON walks the command tree: every command
// takes the global --json, so each one that runs has a registered
// output (a schema) or is listed as printing no JSON, and nothing is
// registered for a command that does not exist.
func TestEveryCommandDeclaresItsJSON(t *testing.T) {
	root := newRootCmd(newApp(streams{inFd: -1}, nil))
	exists := map[string]bool{}
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if c == root || !c.Runnable() {
			return
		}
		path := strings.TrimPrefix(c.CommandPath(), root.Name()+" ")
		exists[path] = true
		if c.Flags().Lookup("json") == nil {
			return
		}
		_, has := findJSONOutput(path)
		_, without := withoutJSONOutput[path]
		switch {
		case has && without:
			t.Errorf("%s is registered both with a JSON output and without", path)
		case !has && !without:
			t.Errorf("%s takes --json but registers no output type (jsonOutputs) and is not in withoutJSONOutput", path)
		}
	}
	walk(root)
	for _, o := range jsonOutputs {
		if !exists[o.command] {
			t.Errorf("jsonOutputs names %q, which is no command", o.command)
		}
	}
	for name := range withoutJSONOutput {
		if !exists[name] {
			t.Errorf("withoutJSONOutput names %q, which is no command", name)
		}
	}
}

// selfMarshaled writes something else than its fields.
type selfMarshaled struct{ A int }

func (selfMarshaled) MarshalJSON() ([]byte, error) { return []byte(`"a"`), nil }

type holdsSelfMarshaled struct {
	X selfMarshaled `json:"x"`
}

type pairOf[A, B any] struct {
	A A `json:"a"`
	B B `json:"b"`
}

// TestSchemaRefusesWhatItCannotSee: a type that marshals itself without
// saying what it writes cannot get a schema made from its fields, which
// would describe something else; nor can two types that share a name.
func TestSchemaRefusesWhatItCannotSee(t *testing.T) {
	_, err := schemaDocument(jsonOutput{command: "x", value: holdsSelfMarshaled{}})
	if err == nil || !strings.Contains(err.Error(), "selfMarshaled marshals itself") {
		t.Errorf("want a refusal naming selfMarshaled, got %v", err)
	}
	// Two types of one name would share a definition in $defs.
	type dup struct{ N int }
	type first = dup
	var two any
	{
		type dup struct{ S string }
		two = pairOf[first, dup]{}
	}
	_, err = schemaDocument(jsonOutput{command: "y", value: two})
	if err == nil || !strings.Contains(err.Error(), "are both named dup") {
		t.Errorf("want a refusal of two types named dup, got %v", err)
	}
	if _, err := schemaDocument(jsonOutput{command: "z", value: pairOf[first, first]{}}); err != nil {
		t.Errorf("one type used twice: %v", err)
	}
}

// TestSchemaNullOnlyWherePrinted: a date the message lacks and a fetch
// without a MIME tree may be null; a list may not, nor a field left out
// when empty.
func TestSchemaNullOnlyWherePrinted(t *testing.T) {
	o, _ := findJSONOutput("fetch")
	doc, err := schemaDocument(o)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(doc)
	sch, err := compileSchema("fetch", string(b))
	if err != nil {
		t.Fatal(err)
	}
	base := `"id":"1","folder":"INBOX","received":null,"from":"","to":[],"cc":[],"subject":"","size":0,"flags":[],"has_attachments":false,"parts":null`
	for _, c := range []struct {
		doc string
		ok  bool
	}{
		{`{"date":null,` + base + `}`, true},
		{`{"date":"2025-03-04T10:00:00Z",` + base + `}`, true},
		{`{"date":"yesterday",` + base + `}`, false},
		{`{"date":null,` + strings.Replace(base, `"to":[]`, `"to":null`, 1) + `}`, false},
		{`{"date":null,` + base + `,"text":null}`, false},
		{`{"date":null,` + base + `,"surprise":1}`, false},
		{`{` + base + `}`, false},
	} {
		err := validateJSON(sch, c.doc)
		if (err == nil) != c.ok {
			t.Errorf("valid %v, want %v (%v): %s", err == nil, c.ok, err, c.doc)
		}
	}
}

// TestSchemaCommand: the list, one document, and the mistakes.
func TestSchemaCommand(t *testing.T) {
	code, out, errs := runInProcess(t, "schema")
	if code != 0 || !strings.Contains(out, "watch\tJSON Lines\t") || !strings.Contains(out, "list\tone object\t") {
		t.Errorf("schema: exit %d\n%s%s", code, out, errs)
	}
	code, out, errs = runInProcess(t, "schema", "list")
	if code != 0 {
		t.Fatalf("schema list: exit %d: %s", code, errs)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("schema list: %v\n%s", err, out)
	}
	if doc["$schema"] != "https://json-schema.org/draft/2020-12/schema" || doc["title"] != "duomail list --json" {
		t.Errorf("schema list: %s", out)
	}
	if _, err := compileSchema("list", out); err != nil {
		t.Error(err)
	}
	code, out, _ = runInProcess(t, "schema", "watch")
	if code != 0 || !strings.Contains(out, "JSON Lines") {
		t.Errorf("schema watch does not say it is one line's: %s", out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"schema", "nosuch"}, `no schema for "nosuch"; commands with one: accounts, folders, list`},
		{[]string{"schema", "demo"}, "demo prints no JSON"},
	} {
		code, _, errs := runInProcess(t, c.args...)
		if code != exitUsage || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", c.args, code, errs, exitUsage, c.want)
		}
	}
}
