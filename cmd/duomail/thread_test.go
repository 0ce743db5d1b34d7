package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/mimepart"
	"github.com/duomail/duomail/client/sourcetest"
	"github.com/duomail/duomail/client/thread"
)

func corpusEnvelopes(t *testing.T) []client.Envelope {
	t.Helper()
	var envs []client.Envelope
	for _, m := range sourcetest.SearchCorpus() {
		env, _, err := mimepart.ParseMessage(bytes.NewReader(m.Raw))
		if err != nil {
			t.Fatal(err)
		}
		env.ID, env.Folder = m.ID[:3], client.Inbox
		envs = append([]client.Envelope{env}, envs...) // newest first, as list gives them
	}
	return envs
}

// list --thread: replies indented under their parents on a terminal, a
// reply whose parent is missing at the top; thread and depth in JSON.
func TestListThreadTableAndJSON(t *testing.T) {
	envs := thread.Annotate(corpusEnvelopes(t))
	p, out := testPrinter(true, false, 200)
	if err := p.print(&listResult{Folder: client.Inbox, Messages: envs}); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"└ Re: Quarterly report", "└ Re: Re: Project kickoff"} {
		if !strings.Contains(text, want) {
			t.Errorf("table lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "└ Re: Old thread") {
		t.Errorf("the reply to a missing message is indented:\n%s", text)
	}
	if i, j := strings.Index(text, "Project kickoff"), strings.Index(text, "Re: Re: Project kickoff"); i < 0 || j < i {
		t.Errorf("reply before its parent:\n%s", text)
	}

	p, out = testPrinter(false, true, 0)
	if err := p.print(&listResult{Folder: client.Inbox, Messages: envs}); err != nil {
		t.Fatal(err)
	}
	if err := p.finish(nil); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Messages []struct {
			ID     string `json:"id"`
			Thread string `json:"thread"`
			Depth  *int   `json:"depth"`
		} `json:"messages"`
	}
	if err := json.Unmarshal([]byte(out.String()), &res); err != nil {
		t.Fatal(err)
	}
	byID := map[string]int{}
	threads := map[string]string{}
	for _, m := range res.Messages {
		if m.Depth == nil || m.Thread == "" {
			t.Fatalf("message %s without thread or depth: %s", m.ID, out)
		}
		byID[m.ID] = *m.Depth
		threads[m.ID] = m.Thread
	}
	if len(res.Messages) != 12 || byID["s02"] != 1 || byID["s09"] != 1 || byID["s12"] != 0 || byID["s01"] != 0 {
		t.Errorf("depths %v", byID)
	}
	if threads["s01"] != threads["s02"] || threads["s05"] != threads["s09"] || threads["s01"] == threads["s05"] {
		t.Errorf("threads %v", threads)
	}

	// Without --thread the JSON has neither key.
	p, out = testPrinter(false, true, 0)
	if err := p.print(&listResult{Folder: client.Inbox, Messages: corpusEnvelopes(t)}); err != nil {
		t.Fatal(err)
	}
	if err := p.finish(nil); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), `"thread"`) || strings.Contains(out.String(), `"depth"`) {
		t.Errorf("plain list JSON has thread keys: %s", out)
	}
}
