package client

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestEnvelopeJSONSchema(t *testing.T) {
	b, err := json.Marshal(Envelope{ID: "7", Folder: "INBOX"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"id":"7"`, `"date":null`, `"to":[]`, `"flags":[]`, `"has_attachments":false`, `"size":0`, `"from":""`, `"subject":""`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	d := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	b, _ = json.Marshal(Envelope{ID: "8", Date: d, Flags: []Flag{FlagSeen}})
	if !strings.Contains(string(b), `"date":"2024-01-02T03:04:05Z"`) || !strings.Contains(string(b), `"flags":["seen"]`) {
		t.Errorf("%s", b)
	}
	if strings.Count(string(b), `"date"`) != 1 {
		t.Errorf("date twice: %s", b)
	}
}

func TestFolderName(t *testing.T) {
	for in, want := range map[string]string{"": "INBOX", "inbox": "INBOX", "InBoX": "INBOX", "INBOX": "INBOX",
		"Archive": "Archive", "INBOX/Sub": "INBOX/Sub", "inbox.sub": "inbox.sub"} {
		if got := FolderName(in); got != want {
			t.Errorf("FolderName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestEnvelopeJSONKeepsAddressesLiteral: <, > and & stay as they are in
// an envelope encoded without HTML escaping, as --json does.
func TestEnvelopeJSONKeepsAddressesLiteral(t *testing.T) {
	var buf strings.Builder
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(Envelope{ID: "1", From: "Carol <carol@example.org>", Subject: "Q&A"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"from":"Carol <carol@example.org>"`, `"subject":"Q&A"`, `"to":[]`, `"flags":[]`, `"date":null`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("%s lacks %s", buf.String(), want)
		}
	}
}
