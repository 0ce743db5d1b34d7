package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaCheck validates what the binary prints with --json against the
// schema the binary itself prints (duomail schema COMMAND), with a
// validator that shares no code with the reflector that wrote the schema.
type schemaCheck struct {
	t       *testing.T
	c       *cli
	schemas map[string]*jsonschema.Schema
	// checked: command -> the protocols whose real output passed.
	checked map[string]map[string]bool
}

func newSchemaCheck(t *testing.T, c *cli) *schemaCheck {
	return &schemaCheck{t: t, c: c, schemas: map[string]*jsonschema.Schema{}, checked: map[string]map[string]bool{}}
}

func (s *schemaCheck) schema(command string) *jsonschema.Schema {
	s.t.Helper()
	if sch, ok := s.schemas[command]; ok {
		return sch
	}
	r := s.c.ok(append([]string{"schema"}, strings.Fields(command)...)...)
	sch, err := compileSchema(command, r.stdout)
	if err != nil {
		s.t.Fatal(err)
	}
	s.schemas[command] = sch
	return sch
}

// compileSchema compiles one printed schema document, asserting formats
// (date-time) as well as structure.
func compileSchema(command, doc string) (*jsonschema.Schema, error) {
	parsed, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("schema of %s is not JSON: %v", command, err)
	}
	comp := jsonschema.NewCompiler()
	comp.AssertFormat()
	url := "schema/" + strings.ReplaceAll(command, " ", "-") + ".json"
	if err := comp.AddResource(url, parsed); err != nil {
		return nil, err
	}
	sch, err := comp.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("schema of %s does not compile: %v", command, err)
	}
	return sch, nil
}

// validateJSON checks one JSON document against a schema.
func validateJSON(sch *jsonschema.Schema, doc string) error {
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(doc))
	if err != nil {
		return fmt.Errorf("not JSON: %v", err)
	}
	return sch.Validate(v)
}

// output validates a run's stdout: one document, or for a command whose
// output is JSON Lines, every line.
func (s *schemaCheck) output(command, protocol string, r runResult) {
	s.t.Helper()
	o, ok := findJSONOutput(command)
	if !ok {
		s.t.Fatalf("%s is not registered in jsonOutputs", command)
	}
	docs := []string{r.stdout}
	if o.lines {
		docs = strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	}
	for _, doc := range docs {
		if err := validateJSON(s.schema(command), doc); err != nil {
			s.t.Errorf("%s (%s): the output does not match its schema: %v\n%s", command, protocol, err, doc)
			return
		}
	}
	if s.checked[command] == nil {
		s.checked[command] = map[string]bool{}
	}
	s.checked[command][protocol] = true
}

// run runs a command with --json, requires the exit status, and validates
// the output.
func (s *schemaCheck) run(protocol string, code int, args ...string) runResult {
	s.t.Helper()
	r := s.c.run(append([]string{"--json"}, args...)...)
	if r.code != code {
		s.t.Fatalf("want exit %d: %v", code, r)
	}
	s.output(commandOf(args), protocol, r)
	return r
}

// commandOf is the registered command a command line runs: its leading
// words that are not flags or flag values, as registered.
func commandOf(args []string) string {
	var words []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if strings.HasPrefix(a, "-") {
			if a == "-a" || a == "--account" || a == "--url" || a == "--config" {
				i++
			}
			continue
		}
		words = append(words, a)
		if _, ok := findJSONOutput(strings.Join(words, " ")); ok {
			return strings.Join(words, " ")
		}
	}
	return strings.Join(words, " ")
}

// TestBinaryJSONOutputsMatchSchemas runs every command that prints JSON,
// over IMAP and over POP3 against Dovecot, and validates what it printed
// against the schema duomail prints for it; then it requires that every
// registered command was covered on both protocols (or says why not).
func TestBinaryJSONOutputsMatchSchemas(t *testing.T) {
	t.Parallel()
	d := sourcetest.StartDovecot(t, sourcetest.DovecotOptions{})
	// A message without a Date header: its "date" is null.
	noDate := []byte("From: Nobody <nobody@example.org>\r\nTo: alice@example.org\r\nSubject: No date\r\n" +
		"Message-ID: <no-date@example.org>\r\nMIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nWhen was this sent?\r\n")
	for _, m := range sampleMail() {
		d.Deliver(t, "alice", m.Folder, m.Raw)
		if m.Folder == client.Inbox {
			d.Deliver(t, "bob", client.Inbox, m.Raw)
		}
	}
	d.Deliver(t, "alice", client.Inbox, noDate)
	d.Deliver(t, "bob", client.Inbox, noDate)

	c := newCLI(t)
	c.env["DOVECOT_PW"] = sourcetest.Password
	c.writeConfig("default = \"imap\"\n\n" + accountsTOML(
		tomlAccount{Name: "imap", Protocol: "imap", Host: d.Host, Port: d.IMAPSPort, Username: "alice", PasswordEnv: "DOVECOT_PW", CAFile: d.CAFile},
		tomlAccount{Name: "pop", Protocol: "pop3", Host: d.Host, Port: d.POP3SPort, Username: "bob", PasswordEnv: "DOVECOT_PW", CAFile: d.CAFile},
		tomlAccount{Name: "down", Protocol: "imap", Host: "127.0.0.1", Port: closedPort(t), TLS: "none", Username: "x", Password: "x", Timeout: "5s"},
	))
	s := newSchemaCheck(t, c)

	s.run("", 0, "accounts")
	s.run("", 0, "schema")

	for _, p := range []struct{ account, protocol, user string }{{"imap", "imap", "alice"}, {"pop", "pop3", "bob"}} {
		acct := []string{"-a", p.account}
		s.run(p.protocol, 0, append(acct, "folders")...)
		s.run(p.protocol, 0, append(acct, "--stats", "folders")...)
		list := jsonOf[listJSON](t, s.run(p.protocol, 0, append(acct, "list", "--limit", "0")...))
		undated := findEnvelope(t, list, "No date")
		if !undated.Date.IsZero() {
			t.Errorf("%s: the message without Date has date %v", p.protocol, undated.Date)
		}
		s.run(p.protocol, 0, append(acct, "--stats", "list", "--limit", "3")...)
		s.run(p.protocol, 0, append(acct, "search", "subject:invoice OR has:attachment")...)
		s.run(p.protocol, 0, append(acct, "--stats", "search", "--all-folders", "nothing-matches-this")...)
		for _, args := range [][]string{
			{"fetch", undated.ID},
			{"fetch", "--headers", list.id(t, "Release notes")},
			{"fetch", "--save-attachments", filepath.Join(c.home, p.protocol+"-saved"), list.id(t, "Expenses and minutes")},
			{"--stats", "fetch", list.id(t, "Invoice March 2025")},
		} {
			r := s.run(p.protocol, 0, append(acct, args...)...)
			if args[0] == "fetch" && args[1] == undated.ID && !strings.Contains(r.stdout, `"date":null`) {
				t.Errorf("%s: fetch of the message without Date:\n%s", p.protocol, r.stdout)
			}
		}
		s.run(p.protocol, 0, append(acct, "flag", list.id(t, "Lunch on Friday?"), "--add", "flagged")...)
		s.run(p.protocol, 0, append(acct, "flag", list.id(t, "Lunch on Friday?"), "--remove", "flagged,seen")...)
		s.run(p.protocol, 0, append(acct, "sync")...)
		s.run(p.protocol, 0, append(acct, "--stats", "sync")...)
		s.run(p.protocol, 0, append(acct, "capabilities")...)
		s.run(p.protocol, 0, append(acct, "check")...)
		s.run(p.protocol, 0, append(acct, "delete", list.id(t, "Spring sale"))...)
		if p.protocol == client.IMAP {
			s.run(p.protocol, 0, append(acct, "move", list.id(t, "Café à Paris"), "--to", "Archive")...)
		}

		// watch --json: every line is one new message.
		wargs := append(acct, "--json", "--debug", "watch", "--interval", "1s")
		w := c.startWatch(wargs...)
		if p.protocol == client.IMAP {
			if !w.waitErr(10*time.Second, idling) {
				t.Fatalf("watch is not idling:\n%s", w.errText())
			}
		} else if !w.waitErr(10*time.Second, func(s string) bool { return strings.Contains(s, "QUIT") }) {
			// The first look learns what is there; wait for its end.
			t.Fatalf("watch did not look at the mailbox:\n%s", w.errText())
		}
		d.Deliver(t, p.user, client.Inbox, plainMessage("Watched "+p.protocol, "hello"))
		line := w.next(10*time.Second, "new message")
		w.stop()
		s.output("watch", p.protocol, runResult{args: wargs, stdout: line + "\n"})
	}

	s.run("imap+pop3", 0, "compare", "imap", "pop")
	// An account that cannot be reached is listed in check's errors (and
	// the exit status says the network failed).
	r := s.run("imap+pop3", 4, "--stats", "check", "--all")
	if !strings.Contains(r.stdout, `"account":"down"`) {
		t.Errorf("check --all does not list the unreachable account:\n%s", r.stdout)
	}

	// Every command with a schema was checked, on both protocols where it
	// talks to a server.
	noServer := []string{"accounts", "schema"}
	imapOnly := map[string]string{"move": "POP3 has one folder: nothing to move to"}
	// The sign-in commands need an identity provider and a Dovecot that
	// trusts it, or a keyring: their tests validate the output.
	elsewhere := map[string]string{
		"auth login": "TestBinaryOAuthSignIn", "auth status": "TestBinaryOAuthSignIn",
		"auth logout": "TestBinaryOAuthSignIn", "auth set-password": "TestBinaryKeyring",
	}
	for _, o := range jsonOutputs {
		got := s.checked[o.command]
		switch {
		case elsewhere[o.command] != "":
		case slices.Contains(noServer, o.command):
			if !got[""] {
				t.Errorf("%s: output never validated", o.command)
			}
		case got["imap+pop3"]:
		case imapOnly[o.command] != "":
			if !got[client.IMAP] {
				t.Errorf("%s: IMAP output never validated", o.command)
			}
		default:
			if !got[client.IMAP] || !got[client.POP3] {
				t.Errorf("%s: output validated only for %v", o.command, got)
			}
		}
	}
}

// TestSchemaFitsEveryResultsEmptyForm: each result as it stands before a
// command fills it, encoded as the printer encodes it with and without
// --stats, matches its schema: no list is null, every pointer the
// schema does not allow as null is set or left out.
func TestSchemaFitsEveryResultsEmptyForm(t *testing.T) {
	for _, o := range jsonOutputs {
		doc, err := schemaDocument(o)
		if err != nil {
			t.Fatal(err)
		}
		b, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		sch, err := compileSchema(o.command, string(b))
		if err != nil {
			t.Fatal(err)
		}
		for _, stats := range []bool{false, true} {
			var out strings.Builder
			if r, ok := o.empty(); ok {
				p := &printer{out: &out, json: true}
				if err := p.print(r); err != nil {
					t.Fatal(err)
				}
				var st *statsJSON
				if stats {
					st = newStatsJSON(client.NewWireStats("imap"))
				}
				if err := p.finish(st); err != nil {
					t.Fatal(err)
				}
			} else if err := writeJSON(&out, o.value, false); err != nil {
				t.Fatal(err)
			}
			if err := validateJSON(sch, out.String()); err != nil {
				t.Errorf("%s (stats %v): %v\n%s", o.command, stats, err, out.String())
			}
		}
	}
}
