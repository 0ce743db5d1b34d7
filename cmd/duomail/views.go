package main

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/bearer"
	"github.com/duomail/duomail/client/bytesize"
	"github.com/duomail/duomail/client/compare"
	"github.com/duomail/duomail/client/fetch"
	"github.com/duomail/duomail/client/textlayout"
)

// Results of the commands, and how the printer shows each: its table or
// sentence, and its JSON object. The JSON shapes are the documented schema
// (see the README): every --json output is one object; lists sit under a
// named key; "stats" is added by --stats.

// accountsResult: duomail accounts.
type accountsResult struct {
	ConfigFile string        `json:"config_file"`
	Accounts   []accountJSON `json:"accounts"`
	jsonStats
}

type accountJSON struct {
	Name         string `json:"name"`
	Protocol     string `json:"protocol"`
	Host         string `json:"host"`
	Port         int    `json:"port"`
	TLS          string `json:"tls"`
	Username     string `json:"username"`
	Default      bool   `json:"default"`
	PasswordFrom string `json:"password_from"` // password, password_cmd, password_env, password_keyring, prompt, or for OAuth2 oauth2_token_cmd, oauth2 (keyring), oauth2 (file); never the secret
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
		case ac.PasswordKeyring:
			j.PasswordFrom = "password_keyring"
		}
		if o := ac.OAuth2; o != nil {
			j.PasswordFrom = "oauth2 (" + o.TokenStore + ")"
			if o.TokenCmd != "" {
				j.PasswordFrom = "oauth2_token_cmd"
			}
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
			{title: "TLS"}, {title: "USERNAME", flex: true}, {title: "DEFAULT"}, {title: "SECRET FROM"}},
		empty: "no accounts configured",
	}
	for _, ac := range r.Accounts {
		t.rows = append(t.rows, []cell{textCell(ac.Name), textCell(ac.Protocol), textCell(ac.Host),
			numCell(ac.Port), textCell(ac.TLS), textCell(ac.Username), boolCell(ac.Default), textCell(ac.PasswordFrom)})
	}
	return t
}

// foldersResult: duomail folders.
type foldersResult struct {
	Folders []client.Folder `json:"folders"`
	jsonStats
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
		t.rows = append(t.rows, []cell{textCell(f.Name), roleCell(f.Role, f.RoleGuessed), numCell(f.Total), numCell(f.Unseen)})
	}
	return t
}

// roleCell shows a person that a role was guessed from the folder's name
// (the server marks none), as the guess can be wrong; piped output keeps
// the bare role, as --json carries role_guessed.
func roleCell(role string, guessed bool) cell {
	return func(f *format) string {
		if f.tty && guessed && role != "" {
			return f.text(role) + " (by name)"
		}
		return f.text(role)
	}
}

// listResult: duomail list.
type listResult struct {
	Folder   string            `json:"folder"`
	Messages []client.Envelope `json:"messages"`
	jsonStats
	empty string // what an empty table says; "-" for nothing (already explained)
}

func (r *listResult) jsonObject() any {
	if r.Messages == nil {
		r.Messages = []client.Envelope{}
	}
	return r
}

func (r *listResult) table() table {
	empty := "no messages in " + r.Folder
	switch r.empty {
	case "-":
		empty = ""
	case "":
	default:
		empty = r.empty
	}
	return envelopeTable(r.Messages, false, empty)
}

// envelopeTable is the one table of messages list and search print; with
// folders, a FOLDER column says where each one is.
func envelopeTable(envs []client.Envelope, folders bool, empty string) table {
	t := table{
		cols: []column{{title: "ID"}, {title: "DATE"}, {title: "FROM", flex: true}, {title: "SUBJECT", flex: true},
			{title: "SIZE"}, {title: "FLAGS"}},
		empty: empty,
	}
	if folders {
		t.cols = append([]column{{title: "FOLDER"}}, t.cols...)
	}
	for _, e := range envs {
		row := []cell{textCell(e.ID), dateCell(e.ListDate()), textCell(e.From), threadedSubjectCell(e),
			sizeCell(e.Size), flagsCell(e.Flags, e.HasAttachments)}
		if folders {
			row = append([]cell{textCell(e.Folder)}, row...)
		}
		t.rows = append(t.rows, row)
		t.strong = append(t.strong, !client.HasFlag(e.Flags, client.FlagSeen))
	}
	return t
}

// threadedSubjectCell indents a reply's subject under its parent's in a
// --thread listing on a terminal; TSV keeps the subject as it is (JSON
// has the depth).
func threadedSubjectCell(e client.Envelope) cell {
	return func(f *format) string {
		s := subjectCell(e.Subject)(f)
		if !f.tty || e.Depth == nil || *e.Depth == 0 {
			return s
		}
		return strings.Repeat("  ", *e.Depth-1) + "└ " + s
	}
}

// fetchResult: duomail fetch --json. The envelope's fields are at the top
// level, then the MIME tree, then what the mode produced.
type fetchResult struct {
	client.EnvelopeJSON
	Parts *client.Part `json:"parts"`
	Text  *string      `json:"text,omitempty"` // default mode: the readable text
	// Contents lists, in the default mode, the parts the text does not
	// show (attachments, inline images, forwarded messages), as the text
	// output does after the text.
	Contents *[]fetch.ListedPart      `json:"contents,omitempty"`
	Header   *string                  `json:"header,omitempty"` // --headers: the header block as stored
	Saved    *[]fetch.SavedAttachment `json:"saved,omitempty"`  // --save-attachments
	jsonStats
}

func (r *fetchResult) jsonObject() any { return r }

// savedResult: duomail fetch --save-attachments, without --json.
type savedResult struct {
	Saved []fetch.SavedAttachment `json:"saved"`
	jsonStats
}

func (r *savedResult) jsonObject() any { return r }

func (r *savedResult) table() table {
	t := table{cols: []column{{title: "PART"}, {title: "SIZE"}, {title: "STATUS"}, {title: "FILE", flex: true}}, empty: "the message has no attachments"}
	for _, s := range r.Saved {
		t.rows = append(t.rows, []cell{textCell(s.Part), sizeCell(s.Size), textCell(s.Status), textCell(s.Path)})
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
	jsonStats
}

func (r *deleteResult) jsonObject() any {
	if r.Messages == nil {
		r.Messages = []client.Acted{}
	}
	return r
}

func (r *deleteResult) sentence(f *format) string {
	n := plural(len(r.IDs), "message")
	names := actedList(f, r.Messages, r.MovedTo)
	also := ""
	if r.OthersExpunged > 0 {
		also = fmt.Sprintf(" %s already flagged \\Deleted went too.", plural(r.OthersExpunged, "other message"))
	}
	switch {
	case r.MovedTo != "":
		return fmt.Sprintf("Moved %s from %s to %s%s%s", n, f.text(r.Folder), f.text(r.MovedTo), names, also)
	case r.Local:
		return fmt.Sprintf("Deleted %s on the server and from the local cache%s", n, names)
	case r.Pending:
		return fmt.Sprintf("Marked %s for deletion; the server removes them when the session ends%s", n, names)
	}
	return fmt.Sprintf("Deleted %s from %s for good (expunged)%s%s", n, f.text(r.Folder), names, also)
}

// moveResult: duomail move.
type moveResult struct {
	Folder string   `json:"folder"`
	IDs    []string `json:"ids"`
	To     string   `json:"to"`
	client.MoveResult
	jsonStats
}

func (r *moveResult) jsonObject() any {
	if r.Messages == nil {
		r.Messages = []client.Acted{}
	}
	return r
}

func (r *moveResult) sentence(f *format) string {
	return fmt.Sprintf("Moved %s from %s to %s%s", plural(len(r.IDs), "message"), f.text(r.Folder), f.text(r.To), actedList(f, r.Messages, r.To))
}

// actedShown is how many messages a confirmation names before "and N more".
const actedShown = 3

// actedList names what a delete or move acted on, ": 3 "Subject" from
// Sender (now ID 12 in Archive); ... and 4 more.", so that an ID meant for
// another folder is noticed; "." when nothing is known.
func actedList(f *format, acted []client.Acted, dest string) string {
	var parts []string
	for i, a := range acted {
		if i == actedShown {
			parts = append(parts, fmt.Sprintf("and %d more", len(acted)-actedShown))
			break
		}
		s := f.text(a.ID)
		if a.Subject != "" || a.From != "" {
			s += fmt.Sprintf(" %q from %s", f.text(a.Subject), f.text(a.From))
		}
		if a.NewID != "" {
			s += fmt.Sprintf(" (now ID %s in %s)", f.text(a.NewID), f.text(dest))
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return "."
	}
	return ": " + strings.Join(parts, "; ") + "."
}

// flagResult: duomail flag.
type flagResult struct {
	Folder string        `json:"folder"`
	IDs    []string      `json:"ids"`
	Op     string        `json:"op"` // "add" or "remove"
	Flags  []client.Flag `json:"flags"`
	client.FlagResult
	jsonStats
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
	jsonStats
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

// featureNames are the features as users know them, for capabilities.
var featureNames = map[client.Feature]string{
	client.FeatureFolders:          "several folders",
	client.FeatureHeadersFirst:     "list headers without downloading",
	client.FeatureHeadersOnly:      "headers alone on request",
	client.FeaturePartialFetch:     "partial fetch (one MIME part)",
	client.FeatureServerFlags:      "flags kept on the server",
	client.FeatureServerMove:       "move on the server",
	client.FeatureServerSearch:     "search on the server",
	client.FeatureServerSort:       "sort on the server",
	client.FeaturePush:             "new mail pushed by the server",
	client.FeatureMailOnServer:     "mail stays on the server",
	client.FeatureDeleteNoDownload: "delete without download",
	client.FeatureExpunge:          "remove chosen messages for good",
	client.FeatureTrash:            "delete to Trash",
	client.FeatureChangeTracking:   "fetch only what changed",
	client.FeaturePipelining:       "pipelining",
}

func featureName(f client.Feature) string {
	if n, ok := featureNames[f]; ok {
		return n
	}
	return string(f)
}

// capabilitiesResult: duomail capabilities.
type capabilitiesResult struct {
	Account   string   `json:"account"`
	Server    string   `json:"server"`
	Protocol  string   `json:"protocol"`
	TLS       string   `json:"tls"`
	Announced []string `json:"announced"`
	Auth      []string `json:"auth_mechanisms"`
	// OAuth are the token mechanisms offered, best first, and OAuthUse
	// the one an OAuth2 account would sign in with ("" for none).
	OAuth    []string      `json:"oauth_mechanisms"`
	OAuthUse string        `json:"oauth_mechanism"`
	Features []featureJSON `json:"features"`
	jsonStats
}

type featureJSON struct {
	Name      client.Feature `json:"name"`
	Supported bool           `json:"supported"`
	How       string         `json:"how"` // how duomail does it, or why it cannot
}

func newCapabilitiesResult(acct *client.Account, caps client.Capabilities) *capabilitiesResult {
	r := &capabilitiesResult{
		Account: acct.Name, Server: acct.Address(), Protocol: caps.Protocol, TLS: caps.TLS,
		Announced: caps.Announced, Auth: caps.Auth, Features: []featureJSON{},
	}
	if r.Announced == nil {
		r.Announced = []string{}
	}
	if r.Auth == nil {
		r.Auth = []string{}
	}
	r.OAuth = bearer.Offered(r.Auth)
	if r.OAuth == nil {
		r.OAuth = []string{}
	}
	r.OAuthUse = bearer.Choose(r.Auth)
	if r.Protocol == "" {
		r.Protocol = acct.Protocol
	}
	// Every feature duomail knows, in its order, then any the driver added.
	order := append([]client.Feature(nil), client.AllFeatures...)
	for _, f := range caps.Sorted() {
		if !slices.Contains(order, f) {
			order = append(order, f)
		}
	}
	for _, f := range order {
		s, ok := caps.Features[f]
		if !ok {
			s.How = "not reported by the " + strings.ToUpper(r.Protocol) + " driver"
		}
		r.Features = append(r.Features, featureJSON{Name: f, Supported: s.Supported, How: s.How})
	}
	return r
}

func (r *capabilitiesResult) jsonObject() any { return r }

func (r *capabilitiesResult) layout(f *format, width int) string {
	var b strings.Builder
	const labelW = 11
	field := func(label, value string) {
		for i, line := range textlayout.Wrap(f.text(value), max(20, width-labelW)) {
			if i == 0 {
				b.WriteString(textlayout.PadRight(label, labelW))
			} else {
				b.WriteString(strings.Repeat(" ", labelW))
			}
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	field("Account:", fmt.Sprintf("%s (%s, %s)", r.Account, strings.ToUpper(r.Protocol), r.Server))
	field("TLS:", r.TLS)
	field("Announced:", orNone(strings.Join(r.Announced, " ")))
	field("Auth:", orNone(strings.Join(r.Auth, " ")))
	field("OAuth2:", r.oauthSummary())
	b.WriteByte('\n')

	nameW := textlayout.Width("FEATURE")
	for _, ft := range r.Features {
		nameW = max(nameW, textlayout.Width(featureName(ft.Name)))
	}
	yesW := textlayout.Width("AVAILABLE")
	howX := nameW + columnGap + yesW + columnGap
	b.WriteString(textlayout.PadRight("FEATURE", nameW+columnGap) + textlayout.PadRight("AVAILABLE", yesW+columnGap) + "HOW, OR WHY NOT")
	b.WriteByte('\n')
	for _, ft := range r.Features {
		yes := "no"
		if ft.Supported {
			yes = "yes"
		}
		for i, line := range textlayout.Wrap(f.text(ft.How), max(20, width-howX)) {
			if i == 0 {
				b.WriteString(textlayout.PadRight(featureName(ft.Name), nameW+columnGap) + textlayout.PadRight(yes, yesW+columnGap))
			} else {
				b.WriteString(strings.Repeat(" ", howX))
			}
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	return b.String()
}

// records: "key<TAB>value" lines, then one line per feature: its JSON
// name, true or false, and how (or why not).
func (r *capabilitiesResult) records(f *format) [][]string {
	rows := [][]string{
		{"account", f.text(r.Account)},
		{"server", f.text(r.Server)},
		{"protocol", r.Protocol},
		{"tls", f.text(r.TLS)},
		{"announced", f.text(strings.Join(r.Announced, " "))},
		{"auth_mechanisms", f.text(strings.Join(r.Auth, " "))},
		{"oauth_mechanisms", strings.Join(r.OAuth, " ")},
		{"oauth_mechanism", r.OAuthUse},
	}
	for _, ft := range r.Features {
		rows = append(rows, []string{string(ft.Name), fmt.Sprint(ft.Supported), f.text(ft.How)})
	}
	return rows
}

// oauthSummary says which token mechanisms the server offers and which
// one an OAuth2 account would use.
func (r *capabilitiesResult) oauthSummary() string {
	if r.OAuthUse == "" {
		return "(none: an OAuth2 account cannot sign in here)"
	}
	return strings.Join(r.OAuth, " ") + "; duomail would use " + r.OAuthUse
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// compareResult: duomail compare. The JSON is compare.Report.
type compareResult struct {
	compare.Report
	jsonStats
}

func (r *compareResult) jsonObject() any {
	if r.Rows == nil {
		r.Rows = []compare.Row{}
	}
	return r
}

// totals sums what each side's rows cost on the wire.
func (r *compareResult) totals() [2]client.Counts {
	var t [2]client.Counts
	for _, row := range r.Rows {
		for i, s := range row.Sides {
			t[i].Commands += s.Commands
			t[i].Sent += s.Sent
			t[i].Received += s.Received
			t[i].Elapsed += s.Elapsed
		}
	}
	return t
}

// layout shows the scenarios side by side: a column per account, a block
// of lines per scenario, each cell starting with its cost so the two sides'
// figures stand on the same lines.
func (r *compareResult) layout(f *format, width int) string {
	width = max(width, 60)
	const gap = 3
	scenW := min(max(width/5, 16), 30)
	sideW := (width - scenW - 2*gap) / 2

	// The cost takes one line where every cell's fits, else two (bytes,
	// then commands and time) in every cell, else four, so the figures of
	// the two sides always face each other.
	costs := []client.Counts{}
	for _, row := range r.Rows {
		costs = append(costs, row.Sides[0].Counts, row.Sides[1].Counts)
	}
	t := r.totals()
	costs = append(costs, t[0], t[1])
	split := 0
	for split < 2 {
		fits := true
		for _, c := range costs {
			for _, l := range costLine(c, split) {
				fits = fits && textlayout.Width(l) <= sideW
			}
		}
		if fits {
			break
		}
		split++
	}

	var b strings.Builder
	block := func(left string, cells [2][]string) {
		lines := textlayout.Wrap(left, scenW)
		n := max(len(lines), len(cells[0]), len(cells[1]))
		for i := range n {
			var parts [3]string
			if i < len(lines) {
				parts[0] = lines[i]
			}
			for s := range 2 {
				if i < len(cells[s]) {
					parts[s+1] = cells[s][i]
				}
			}
			line := textlayout.PadRight(parts[0], scenW+gap) + textlayout.PadRight(parts[1], sideW+gap) + parts[2]
			b.WriteString(strings.TrimRight(line, " "))
			b.WriteByte('\n')
		}
	}
	var head [2][]string
	for i, acct := range r.Accounts {
		head[i] = append(textlayout.Wrap(f.text(fmt.Sprintf("%s (%s)", acct.Name, strings.ToUpper(acct.Protocol))), sideW),
			textlayout.Wrap(f.text(acct.Server), sideW)...)
	}
	block("SCENARIO", head)
	b.WriteString(strings.Repeat("-", scenW) + strings.Repeat(" ", gap) + strings.Repeat("-", sideW) +
		strings.Repeat(" ", gap) + strings.Repeat("-", sideW) + "\n")
	// A side that could not connect says why once, in the connect row.
	var down [2]bool
	for _, row := range r.Rows {
		if row.Scenario == compare.ScenarioConnect {
			down = [2]bool{row.Sides[0].Error != "", row.Sides[1].Error != ""}
		}
	}
	for _, row := range r.Rows {
		var cells [2][]string
		for i, s := range row.Sides {
			cells[i] = compareCell(f, s, sideW, split)
			if down[i] && row.Scenario != compare.ScenarioConnect && s.Commands == 0 {
				cells[i] = []string{"not connected"}
			}
		}
		block(f.text(row.Scenario), cells)
		b.WriteByte('\n')
	}
	var cells [2][]string
	for i, t := range r.totals() {
		for _, l := range costLine(t, split) {
			cells[i] = append(cells[i], textlayout.Wrap(l, sideW)...)
		}
	}
	block("total", cells)
	return b.String()
}

// compareCell is one side of a scenario: the cost, what the protocol did,
// what came out, or the error.
func compareCell(f *format, s compare.ScenarioSide, width int, split int) []string {
	var lines []string
	if s.Commands > 0 || s.Sent > 0 || s.Received > 0 {
		for _, l := range costLine(s.Counts, split) {
			lines = append(lines, textlayout.Wrap(l, width)...)
		}
	}
	lines = append(lines, textlayout.Wrap(f.text(s.Did), width)...)
	if s.Result != "" {
		lines = append(lines, textlayout.Wrap("=> "+f.text(s.Result), width)...)
	}
	if s.Error != "" {
		lines = append(lines, textlayout.Wrap("ERROR: "+f.text(s.Error), width)...)
	}
	return lines
}

// costLine says what an operation cost on the wire, received bytes first
// as they differ most: in one line (split 0), two (bytes, then commands
// and time) or four.
func costLine(c client.Counts, split int) []string {
	parts := []string{
		bytesize.Format(c.Received) + " in", bytesize.Format(c.Sent) + " out",
		plural(c.Commands, "command"), humanDuration(c.Elapsed),
	}
	switch split {
	case 0:
		return []string{strings.Join(parts, ", ")}
	case 1:
		return []string{parts[0] + ", " + parts[1], parts[2] + ", " + parts[3]}
	}
	return parts
}

// humanDuration shows a duration in the unit that suits it.
func humanDuration(d time.Duration) string {
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < 10*time.Second:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

// records: one line per scenario and side: SCENARIO, ACCOUNT, PROTOCOL,
// SUPPORTED, DID, RESULT, COMMANDS, BYTES SENT, BYTES RECEIVED, SECONDS,
// ERROR.
func (r *compareResult) records(f *format) [][]string {
	var rows [][]string
	for _, row := range r.Rows {
		for i, s := range row.Sides {
			acct := r.Accounts[i]
			rows = append(rows, []string{
				f.text(row.Scenario), f.text(acct.Name), acct.Protocol, fmt.Sprint(s.Supported),
				f.text(s.Did), f.text(s.Result), fmt.Sprint(s.Commands), fmt.Sprint(s.Sent), fmt.Sprint(s.Received),
				fmt.Sprintf("%.3f", s.Elapsed.Seconds()), f.text(s.Error),
			})
		}
	}
	return rows
}

// checkResult: duomail check.
type checkResult struct {
	Checks []client.FolderCheck `json:"checks"`
	Errors []checkError         `json:"errors"`
	jsonStats
}

type checkError struct {
	Account string `json:"account"`
	Folder  string `json:"folder,omitempty"`
	Error   string `json:"error"`
}

func (r *checkResult) jsonObject() any {
	if r.Checks == nil {
		r.Checks = []client.FolderCheck{}
	}
	if r.Errors == nil {
		r.Errors = []checkError{}
	}
	return r
}

func (r *checkResult) table() table {
	t := table{cols: []column{{title: "ACCOUNT"}, {title: "FOLDER", flex: true}, {title: "TOTAL"}, {title: "UNSEEN"}, {title: "NEW"}}}
	for _, c := range r.Checks {
		t.rows = append(t.rows, []cell{textCell(c.Account), textCell(c.Folder), numCell(c.Total), numCell(c.Unseen), numCell(c.New)})
	}
	return t
}
