package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/duomail/duomail/client"
)

// Results of the commands, and how the printer shows each: its table or
// sentence, and its JSON object. The JSON shapes are the documented schema
// (see the README): every --json output is one object; lists sit under a
// named key; "stats" is added by --stats.

// accountsResult: duomail accounts.
type accountsResult struct {
	ConfigFile string        `json:"config_file"`
	Accounts   []accountJSON `json:"accounts"`
}

type accountJSON struct {
	Name         string `json:"name"`
	Protocol     string `json:"protocol"`
	Host         string `json:"host"`
	Port         int    `json:"port"`
	TLS          string `json:"tls"`
	Username     string `json:"username"`
	Default      bool   `json:"default"`
	PasswordFrom string `json:"password_from"` // password, password_cmd, password_env or prompt; never the password
	KeepOnServer *bool  `json:"keep_on_server,omitempty"`
	KeepDays     *int   `json:"keep_days,omitempty"`
	URL          string `json:"url"` // the --url that reaches the same server
}

func newAccountsResult(cfg *Config) *accountsResult {
	r := &accountsResult{ConfigFile: cfg.File, Accounts: []accountJSON{}}
	for _, name := range cfg.Names() {
		ac := cfg.Accounts[name]
		j := accountJSON{
			Name: ac.Name, Protocol: ac.Protocol, Host: ac.Host, Port: ac.Port,
			TLS: string(ac.TLS), Username: ac.Username, Default: name == cfg.Default,
			PasswordFrom: "prompt", URL: accountURL(ac),
		}
		switch {
		case ac.Password != "":
			j.PasswordFrom = "password"
		case ac.PasswordCmd != "":
			j.PasswordFrom = "password_cmd"
		case ac.PasswordEnv != "":
			j.PasswordFrom = "password_env"
		}
		if ac.Protocol == client.POP3 {
			keep, days := ac.KeepOnServer, ac.KeepDays
			j.KeepOnServer, j.KeepDays = &keep, &days
		}
		r.Accounts = append(r.Accounts, j)
	}
	return r
}

func (r *accountsResult) jsonObject() any { return r }

func (r *accountsResult) table() table {
	t := table{
		cols: []column{{title: "NAME"}, {title: "PROTOCOL"}, {title: "HOST", flex: true}, {title: "PORT"},
			{title: "TLS"}, {title: "USERNAME", flex: true}, {title: "DEFAULT"}},
		empty: "no accounts configured",
	}
	for _, ac := range r.Accounts {
		t.rows = append(t.rows, []cell{textCell(ac.Name), textCell(ac.Protocol), textCell(ac.Host),
			numCell(ac.Port), textCell(ac.TLS), textCell(ac.Username), boolCell(ac.Default)})
	}
	return t
}

// foldersResult: duomail folders.
type foldersResult struct {
	Folders []client.Folder `json:"folders"`
}

func (r *foldersResult) jsonObject() any {
	if r.Folders == nil {
		r.Folders = []client.Folder{}
	}
	return r
}

func (r *foldersResult) table() table {
	t := table{cols: []column{{title: "NAME", flex: true}, {title: "ROLE"}, {title: "TOTAL"}, {title: "UNSEEN"}}, empty: "no folders"}
	for _, f := range r.Folders {
		t.rows = append(t.rows, []cell{textCell(f.Name), textCell(f.Role), numCell(f.Total), numCell(f.Unseen)})
	}
	return t
}

// listResult: duomail list.
type listResult struct {
	Folder   string            `json:"folder"`
	Messages []client.Envelope `json:"messages"`
}

func (r *listResult) jsonObject() any {
	out := &listResult{Folder: r.Folder, Messages: make([]client.Envelope, len(r.Messages))}
	for i, e := range r.Messages {
		out.Messages[i] = stableEnvelope(e)
	}
	return out
}

// stableEnvelope gives lists as [] rather than null, so consumers need not
// tell the two apart.
func stableEnvelope(e client.Envelope) client.Envelope {
	if e.To == nil {
		e.To = []string{}
	}
	if e.Flags == nil {
		e.Flags = []client.Flag{}
	}
	return e
}

func (r *listResult) table() table {
	t := table{
		cols: []column{{title: "ID"}, {title: "DATE"}, {title: "FROM", flex: true}, {title: "SUBJECT", flex: true},
			{title: "SIZE"}, {title: "FLAGS"}},
		empty: "no messages in " + r.Folder,
	}
	for _, e := range r.Messages {
		t.rows = append(t.rows, []cell{textCell(e.ID), dateCell(e.Date), textCell(e.From), textCell(e.Subject),
			sizeCell(e.Size), flagsCell(e.Flags, e.HasAttachments)})
	}
	return t
}

// fetchResult: duomail fetch --json. The envelope's fields are at the top
// level, then the MIME tree, then what the mode produced.
type fetchResult struct {
	client.Envelope
	Parts  *client.Part              `json:"parts"`
	Text   *string                   `json:"text,omitempty"`   // default mode: the readable text
	Header *string                   `json:"header,omitempty"` // --headers: the header block as stored
	Saved  *[]client.SavedAttachment `json:"saved,omitempty"`  // --save-attachments
}

// jsonObject flattens the envelope (with its own JSON rules: a missing date
// is null) and the mode's fields into one object. Embedding alone would let
// Envelope's MarshalJSON swallow the other fields.
func (r *fetchResult) jsonObject() any {
	env, err := marshalPlain(stableEnvelope(r.Envelope))
	if err != nil {
		return r
	}
	rest, err := marshalPlain(struct {
		Parts  *client.Part              `json:"parts"`
		Text   *string                   `json:"text,omitempty"`
		Header *string                   `json:"header,omitempty"`
		Saved  *[]client.SavedAttachment `json:"saved,omitempty"`
	}{r.Parts, r.Text, r.Header, r.Saved})
	if err != nil {
		return r
	}
	merged := append(env[:len(env)-1:len(env)-1], ',')
	return json.RawMessage(append(merged, rest[1:]...))
}

// marshalPlain encodes like marshalJSON's encoder (no HTML escaping), as
// one line without the trailing newline.
func marshalPlain(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// savedResult: duomail fetch --save-attachments, without --json.
type savedResult struct {
	Saved []client.SavedAttachment
}

func (r *savedResult) jsonObject() any { return map[string]any{"saved": r.Saved} }

func (r *savedResult) table() table {
	t := table{cols: []column{{title: "PART"}, {title: "SIZE"}, {title: "FILE", flex: true}}, empty: "the message has no attachments"}
	for _, s := range r.Saved {
		if s.Error != "" {
			continue // reported as an error
		}
		t.rows = append(t.rows, []cell{textCell(s.Part), sizeCell(s.Size), textCell(s.Path)})
	}
	return t
}

// deleteResult: duomail delete.
type deleteResult struct {
	Folder string   `json:"folder"`
	IDs    []string `json:"ids"`
	client.DeleteResult
	// Local says the cache held the only other copy (POP3): the messages
	// were deleted on the server and from the cache.
	Local bool `json:"local"`
}

func (r *deleteResult) jsonObject() any { return r }

func (r *deleteResult) sentence(f *format) string {
	n := plural(len(r.IDs), "message")
	switch {
	case r.MovedTo != "":
		return fmt.Sprintf("Moved %s from %s to %s.", n, f.text(r.Folder), f.text(r.MovedTo))
	case r.Local:
		return fmt.Sprintf("Deleted %s on the server and from the local cache.", n)
	case r.Pending:
		return fmt.Sprintf("Marked %s for deletion; the server removes them when the session ends.", n)
	}
	return fmt.Sprintf("Deleted %s from %s for good (expunged).", n, f.text(r.Folder))
}

// moveResult: duomail move.
type moveResult struct {
	Folder string   `json:"folder"`
	IDs    []string `json:"ids"`
	To     string   `json:"to"`
}

func (r *moveResult) jsonObject() any { return r }

func (r *moveResult) sentence(f *format) string {
	return fmt.Sprintf("Moved %s from %s to %s.", plural(len(r.IDs), "message"), f.text(r.Folder), f.text(r.To))
}

// flagResult: duomail flag.
type flagResult struct {
	Folder string        `json:"folder"`
	IDs    []string      `json:"ids"`
	Op     string        `json:"op"` // "add" or "remove"
	Flags  []client.Flag `json:"flags"`
	client.FlagResult
}

func (r *flagResult) jsonObject() any { return r }

func (r *flagResult) sentence(f *format) string {
	names := make([]string, len(r.Flags))
	for i, fl := range r.Flags {
		names[i] = string(fl)
	}
	verb, prep := "Added", "to"
	if r.Op == "remove" {
		verb, prep = "Removed", "from"
	}
	s := fmt.Sprintf("%s %s %s %s in %s.", verb, strings.Join(names, ", "), prep, plural(len(r.IDs), "message"), f.text(r.Folder))
	if r.Local {
		s += " The change is in the local cache only"
		if r.Reason != "" {
			s += ": " + f.text(r.Reason)
		}
		s += "."
	}
	return s
}

// syncResult: duomail sync, one row per folder synced.
type syncResult struct {
	Synced []client.SyncReport `json:"synced"`
}

func (r *syncResult) jsonObject() any { return r }

func (r *syncResult) table() table {
	t := table{cols: []column{{title: "FOLDER", flex: true}, {title: "ON SERVER"}, {title: "NEW"}, {title: "DOWNLOADED"},
		{title: "SIZE"}, {title: "DELETED"}, {title: "VANISHED"}, {title: "FLAG CHANGES"}}}
	for _, s := range r.Synced {
		t.rows = append(t.rows, []cell{textCell(s.Folder), numCell(s.OnServer), numCell(s.New), numCell(s.Downloaded),
			sizeCell(s.Bytes), numCell(s.Deleted), numCell(s.Vanished), numCell(s.FlagChanges)})
	}
	return t
}
