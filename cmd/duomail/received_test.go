package main

import (
	"encoding/json"
	"testing"
	"time"
)

const noDateMessage = "From: a@example.org\r\nTo: b@example.org\r\nSubject: undated\r\nMessage-ID: <undated@example.org>\r\n\r\nno Date header\r\n"

// envelopeTimes is what list --json says of a message's dates.
type envelopeTimes struct {
	Subject  string     `json:"subject"`
	Date     *time.Time `json:"date"`
	Received *time.Time `json:"received"`
}

func listTimes(t *testing.T, p *inproc, args ...string) map[string]envelopeTimes {
	t.Helper()
	code, out, errs := p.run(append(args, "list", "--json")...)
	var l struct {
		Messages []envelopeTimes `json:"messages"`
	}
	if err := json.Unmarshal([]byte(out), &l); code != 0 || err != nil {
		t.Fatalf("%q: exit %d, %v\n%s", args, code, err, errs)
	}
	m := map[string]envelopeTimes{}
	for _, e := range l.Messages {
		m[e.Subject] = e
	}
	return m
}

// date is the Date header on both protocols (null when missing); received
// is when the message arrived: IMAP INTERNALDATE, POP3 when downloaded,
// and the cache keeps it for --offline.
func TestDateIsTheHeaderReceivedIsArrival(t *testing.T) {
	arrived := time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)
	t.Run("imap", func(t *testing.T) {
		srv, _ := startIMAPTest(t)
		if err := srv.Append("alice", "INBOX", []byte(noDateMessage), nil, arrived); err != nil {
			t.Fatal(err)
		}
		p := newInproc(t)
		url := imapURL(srv.Port())
		got := listTimes(t, p, "--url", url)
		checkUndated(t, "imap", got, func(r time.Time) bool { return r.Equal(arrived) })
		if w := got["Welcome to duomail"]; w.Date == nil || w.Received == nil {
			t.Errorf("dated message: %+v", w)
		}
		checkUndated(t, "imap offline", listTimesOffline(t, p, "--url", url), func(r time.Time) bool { return r.Equal(arrived) })
	})
	t.Run("pop3", func(t *testing.T) {
		srv, _, _ := startPOP3Test(t)
		srv.Add("alice", []byte(noDateMessage))
		p := newInproc(t)
		url := popURL(srv.Port())
		before := time.Now().Add(-time.Second)
		got := listTimes(t, p, "--url", url)
		after := time.Now().Add(time.Second)
		inRun := func(r time.Time) bool { return r.After(before) && r.Before(after) }
		checkUndated(t, "pop3", got, inRun)
		offline := listTimesOffline(t, p, "--url", url)
		checkUndated(t, "pop3 offline", offline, func(r time.Time) bool { return r.Equal(*got["undated"].Received) })
	})
}

func listTimesOffline(t *testing.T, p *inproc, args ...string) map[string]envelopeTimes {
	t.Helper()
	code, out, errs := p.run(append(args, "list", "--offline", "--json")...)
	var l struct {
		Messages []envelopeTimes `json:"messages"`
	}
	if err := json.Unmarshal([]byte(out), &l); code != 0 || err != nil {
		t.Fatalf("%q: exit %d, %v\n%s", args, code, err, errs)
	}
	m := map[string]envelopeTimes{}
	for _, e := range l.Messages {
		m[e.Subject] = e
	}
	return m
}

func checkUndated(t *testing.T, what string, got map[string]envelopeTimes, receivedOK func(time.Time) bool) {
	t.Helper()
	e, ok := got["undated"]
	if !ok {
		t.Fatalf("%s: undated message not listed", what)
	}
	if e.Date != nil {
		t.Errorf("%s: date %v for a message without a Date header, want null", what, e.Date)
	}
	if e.Received == nil || !receivedOK(*e.Received) {
		t.Errorf("%s: received %v", what, e.Received)
	}
}
