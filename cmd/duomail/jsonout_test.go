package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

// carol is a message whose fields hold what HTML escaping would rewrite.
var carol = client.Envelope{
	ID: "7", Folder: "INBOX", Date: time.Date(2025, 3, 4, 9, 5, 0, 0, time.UTC),
	From: "Carol <carol@example.org>", To: []string{"Dave & Erin <team@example.org>"}, Subject: "Q&A <draft>", Size: 42,
}

// TestJSONKeepsAddressesLiteral: every kind of --json output (a result
// held until the end, a result whose envelope fields sit at the top
// level, a streamed watch line) writes <, > and & as they are.
func TestJSONKeepsAddressesLiteral(t *testing.T) {
	text := "Hello <b>"
	outputs := map[string]func(p *printer) error{
		"list": func(p *printer) error {
			if err := p.print(&listResult{Folder: "INBOX", Messages: []client.Envelope{carol}}); err != nil {
				return err
			}
			return p.finish(nil)
		},
		"fetch": func(p *printer) error {
			if err := p.print(&fetchResult{EnvelopeJSON: carol.JSON(), Parts: &client.Part{Type: "text/plain"}, Text: &text}); err != nil {
				return err
			}
			return p.finish(nil)
		},
		"watch": func(p *printer) error { return p.envelopeLine("work", carol) },
	}
	for name, write := range outputs {
		for _, tty := range []bool{false, true} {
			p, out := testPrinter(tty, true, 0)
			if err := write(p); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			for _, want := range []string{`"Carol <carol@example.org>"`, `"Dave & Erin <team@example.org>"`, `"Q&A <draft>"`} {
				if !strings.Contains(out.String(), want) {
					t.Errorf("%s (terminal %v): %s missing from %s", name, tty, want, out)
				}
			}
			if strings.Contains(out.String(), `\u003c`) || strings.Contains(out.String(), `\u0026`) {
				t.Errorf("%s (terminal %v): HTML-escaped: %s", name, tty, out)
			}
			if !json.Valid([]byte(out.String())) {
				t.Errorf("%s (terminal %v): not one JSON document: %s", name, tty, out)
			}
		}
	}
}

// TestFetchJSONFlat: fetch --json carries the envelope's fields at the top
// level, then the parts and the text, as one object; a missing date is
// null.
func TestFetchJSONFlat(t *testing.T) {
	p, out := testPrinter(false, true, 0)
	text := "body"
	e := carol
	e.Date = time.Time{}
	p.print(&fetchResult{EnvelopeJSON: e.JSON(), Parts: &client.Part{Type: "text/plain"}, Text: &text})
	if err := p.finish(nil); err != nil {
		t.Fatal(err)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	for key, want := range map[string]string{"id": `"7"`, "from": `"Carol <carol@example.org>"`, "date": "null",
		"flags": "[]", "text": `"body"`} {
		if string(got[key]) != want {
			t.Errorf("%s = %s, want %s in %s", key, got[key], want, out)
		}
	}
	if _, ok := got["parts"]; !ok {
		t.Errorf("no parts: %s", out)
	}
	for _, absent := range []string{"header", "saved", "stats"} {
		if _, ok := got[absent]; ok {
			t.Errorf("%s present: %s", absent, out)
		}
	}
	if i, j := strings.Index(out.String(), `"id"`), strings.Index(out.String(), `"parts"`); i < 0 || j < i {
		t.Errorf("envelope fields should come first: %s", out)
	}
}

// TestEveryResultTakesStats: with --stats, each command's JSON object
// gets its "stats" field, last, and stays one valid object.
func TestEveryResultTakesStats(t *testing.T) {
	text := "t"
	results := map[string]result{
		"accounts":     &accountsResult{},
		"folders":      &foldersResult{},
		"list":         &listResult{Folder: "INBOX"},
		"search":       &searchResult{Query: "x", Folder: "INBOX"},
		"fetch":        &fetchResult{EnvelopeJSON: carol.JSON(), Text: &text},
		"saved":        &savedResult{},
		"delete":       &deleteResult{Folder: "INBOX"},
		"move":         &moveResult{Folder: "INBOX"},
		"flag":         &flagResult{Folder: "INBOX"},
		"sync":         &syncResult{},
		"capabilities": &capabilitiesResult{},
		"compare":      &compareResult{},
		"check":        &checkResult{},
	}
	for name, r := range results {
		p, out := testPrinter(false, true, 0)
		if err := p.print(r); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		stats := client.NewWireStats("imap")
		stats.Command()
		if err := p.finish(newStatsJSON(stats)); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got map[string]json.RawMessage
		if err := json.Unmarshal([]byte(out.String()), &got); err != nil {
			t.Fatalf("%s: %v: %s", name, err, out)
		}
		var st statsJSON
		if err := json.Unmarshal(got["stats"], &st); err != nil || st.Protocol != "imap" || st.Commands != 1 {
			t.Errorf("%s: stats %s (%v)", name, got["stats"], err)
		}
		if !strings.HasSuffix(out.String(), "}}\n") {
			t.Errorf("%s: stats should close the object: %s", name, out)
		}
	}
}
