package main

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/invopop/jsonschema"
)

// jsonOutput is what one command prints with --json: its result (or, for
// a stream, the type of one line), from whose encoded type the JSON Schema
// is reflected, so the schema cannot say one thing while the command
// prints another.
type jsonOutput struct {
	command string // the command's path under duomail: "list", "config init"
	value   any
	// lines: the output is JSON Lines, one such object per line, written
	// as things happen (watch), rather than one object at the end.
	lines bool
	about string
}

// jsonOutputs is the one place a command's --json output is registered.
// A command that takes --json (every command does: it is a global flag)
// appears here or in withoutJSONOutput; a test walks the command tree to
// hold every command to that.
var jsonOutputs = []jsonOutput{
	{command: "accounts", value: &accountsResult{}, about: "the configured accounts"},
	{command: "folders", value: &foldersResult{}, about: "the account's folders with their counts"},
	{command: "list", value: &listResult{}, about: "the envelopes of a folder's messages"},
	{command: "search", value: &searchResult{}, about: "the envelopes of the messages a query matched, each with its folder"},
	{command: "fetch", value: &fetchResult{}, about: "one message: its envelope, MIME tree, and text, header or saved attachments"},
	{command: "delete", value: &deleteResult{}, about: "what was deleted, and how"},
	{command: "move", value: &moveResult{}, about: "what was moved"},
	{command: "flag", value: &flagResult{}, about: "the flag change and where it happened"},
	{command: "sync", value: &syncResult{}, about: "what each folder's sync did"},
	{command: "capabilities", value: &capabilitiesResult{}, about: "what the server announced and what duomail can do with it"},
	{command: "compare", value: &compareResult{}, about: "the two accounts' scenarios side by side, with their wire costs"},
	{command: "check", value: &checkResult{}, about: "new and unseen mail per folder, and the accounts or folders that failed"},
	{command: "watch", value: newWatchLine("", client.Envelope{}), lines: true, about: "one new message per line"},
	{command: "schema", value: &schemaIndexResult{}, about: "the commands that have a schema (without COMMAND)"},
	{command: "auth login", value: &authLoginResult{}, about: "the account signed in, where its tokens are kept, their expiry and scopes"},
	{command: "auth status", value: &authStatusResult{}, about: "each OAuth2 account: signed in or not, where the tokens are kept, expiry and scopes; never a token"},
	{command: "auth logout", value: &authLogoutResult{}, about: "whether tokens were forgotten and revoked"},
	{command: "auth set-password", value: &setPasswordResult{}, about: "the account whose password the keyring now holds"},
}

// withoutJSONOutput are the commands that accept the global --json but
// print no JSON, and why.
var withoutJSONOutput = map[string]string{
	"demo":        "a tour for people: its steps show tables and sentences",
	"config init": "a conversation that writes the configuration file",
}

// empty returns a new, empty result of the output's type; false for an
// output that is not a result (a watch line).
func (o jsonOutput) empty() (result, bool) {
	if _, ok := o.value.(result); !ok {
		return nil, false
	}
	return reflect.New(reflect.TypeOf(o.value).Elem()).Interface().(result), true
}

// encodedType is the type written for the output: what the result's
// jsonObject returns, as the printer encodes that.
func (o jsonOutput) encodedType() reflect.Type {
	if r, ok := o.empty(); ok {
		return reflect.TypeOf(r.jsonObject())
	}
	return reflect.TypeOf(o.value)
}

// findJSONOutput returns the output registered for a command path.
func findJSONOutput(command string) (jsonOutput, bool) {
	for _, o := range jsonOutputs {
		if o.command == command {
			return o, true
		}
	}
	return jsonOutput{}, false
}

// schemaAlias is the method a type with its own MarshalJSON has, giving
// the type it actually encodes (client.Envelope gives EnvelopeJSON); the
// reflector follows it.
type schemaAlias interface{ JSONSchemaAlias() any }

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	schemaAliasType   = reflect.TypeFor[schemaAlias]()
	timeType          = reflect.TypeFor[time.Time]()
)

// schemaDocument is the JSON Schema (2020-12) of a command's --json
// output: the result object at the root, the types inside it in $defs.
func schemaDocument(o jsonOutput) (*jsonschema.Schema, error) {
	t := o.encodedType()
	var bad []string
	names := map[string]reflect.Type{}
	r := &jsonschema.Reflector{
		Anonymous:      true,
		ExpandedStruct: true,
		// A type that marshals itself must say what it writes (see
		// schemaAlias): its Go fields are not what is printed.
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			if t != timeType && !t.Implements(schemaAliasType) &&
				(t.Implements(jsonMarshalerType) || reflect.PointerTo(t).Implements(jsonMarshalerType) ||
					t.Implements(textMarshalerType) || reflect.PointerTo(t).Implements(textMarshalerType)) {
				bad = append(bad, t.String()+" marshals itself but has no JSONSchemaAlias")
			}
			return nil
		},
		// Two types of one name would share one definition.
		Namer: func(t reflect.Type) string {
			if prev, ok := names[t.Name()]; ok && prev != t && t.Name() != "" {
				bad = append(bad, fmt.Sprintf("%s and %s are both named %s", prev, t, t.Name()))
			}
			names[t.Name()] = t
			return t.Name()
		},
	}
	s := r.ReflectFromType(t)
	if len(bad) > 0 {
		return nil, fmt.Errorf("schema of %s: %s", o.command, strings.Join(bad, "; "))
	}
	nullablePointers(s, t, s.Definitions, map[reflect.Type]bool{})
	s.Title = "duomail " + o.command + " --json"
	s.Description = o.about
	if o.lines {
		s.Description += ". The output is JSON Lines: this schema is that of one line."
	}
	return s, nil
}

// nullablePointers lets null through where encoding/json writes it: a
// pointer field without omitempty (a date the message lacks). The
// reflector would otherwise demand the pointed-to type. Lists are not
// among them: the results write [] for an empty list, never null.
func nullablePointers(s *jsonschema.Schema, t reflect.Type, defs jsonschema.Definitions, seen map[reflect.Type]bool) {
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
		t = t.Elem()
	}
	if t.Implements(schemaAliasType) {
		t = reflect.TypeOf(reflect.Zero(t).Interface().(schemaAlias).JSONSchemaAlias())
	}
	if t.Kind() != reflect.Struct || t == timeType || seen[t] {
		return
	}
	seen[t] = true
	if s == nil {
		s = defs[t.Name()]
	}
	for _, f := range reflect.VisibleFields(t) {
		name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && name == "" {
			continue // its fields are among t's visible fields
		}
		nullablePointers(nil, f.Type, defs, seen)
		if f.Type.Kind() != reflect.Pointer || slices.Contains(strings.Split(opts, ","), "omitempty") {
			continue
		}
		if name == "" {
			name = f.Name
		}
		if s == nil || s.Properties == nil {
			continue
		}
		if p, ok := s.Properties.Get(name); ok {
			s.Properties.Set(name, &jsonschema.Schema{OneOf: []*jsonschema.Schema{p, {Type: "null"}}})
		}
	}
}
