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
