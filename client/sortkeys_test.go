package client

import "testing"

func TestSortKeys(t *testing.T) {
	for in, want := range map[string]string{
		"Re: Re: Project kickoff":   "project kickoff",
		"[dev] RE: Fwd: Plan (fwd)": "plan",
		"AW: Termin":                "termin",
		"Quarterly report":          "quarterly report",
		"":                          "",
		"Re:":                       "",
		"[only a tag]":              "[only a tag]",
	} {
		if got := BaseSubject(in); got != want {
			t.Errorf("BaseSubject(%q) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[string]string{
		"Alice Example <Alice@example.org>": "alice",
		"bob@example.net":                   "bob",
		"Undisclosed":                       "undisclosed",
		"":                                  "",
	} {
		if got := SortFromKey(in); got != want {
			t.Errorf("SortFromKey(%q) = %q, want %q", in, got, want)
		}
	}
}
