package client_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

func TestIdentityDifferences(t *testing.T) {
	at := time.Date(2023, 1, 3, 10, 0, 0, 0, time.UTC)
	listed := client.Identity{MessageID: "a@example.org", Size: 120, Received: at}
	cases := []struct {
		name string
		now  client.Identity
		want []string
	}{
		{"the same message, arrival in another zone", client.Identity{MessageID: "a@example.org", Size: 120, Received: at.In(time.FixedZone("", 3600))}, nil},
		{"another message", client.Identity{MessageID: "b@example.org", Size: 4000, Received: at.Add(time.Hour)},
			[]string{"Message-ID <a@example.org> → <b@example.org>", "size 120 → 4000", "received 2023-01-03T10:00:00Z → 2023-01-03T11:00:00Z"}},
		{"Message-ID gone", client.Identity{Size: 120, Received: at}, []string{"Message-ID <a@example.org> → none"}},
		{"arrival unknown now", client.Identity{MessageID: "a@example.org", Size: 120}, nil},
	}
	for _, tc := range cases {
		if got := listed.Differences(tc.now); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	// What was not recorded is not held against the server's answer.
	if got := (client.Identity{}).Differences(client.Identity{MessageID: "x", Size: 1, Received: at}); got != nil {
		t.Errorf("nothing recorded: %q", got)
	}
}

func TestStaleIDsSayWhatToDo(t *testing.T) {
	cases := []struct {
		err  error
		want string
	}{
		{&client.StaleIDsError{Folder: "INBOX", Listed: 7, Now: 9},
			"INBOX was renumbered by the server (UIDVALIDITY 7 → 9) since it was listed; run duomail list and use the new IDs"},
		{&client.StaleIDsError{Folder: "Old Mail", Listed: 7, Now: 9},
			"Old Mail was renumbered by the server (UIDVALIDITY 7 → 9) since it was listed; run duomail list --folder 'Old Mail' and use the new IDs"},
		{&client.NotListedError{Folder: "Archive", ID: "29", Differences: []string{"size 1 → 2"}},
			"message 29 in Archive is not the one listed under that ID (size 1 → 2); nothing was changed; run duomail list --folder Archive and use the new IDs"},
	}
	for _, tc := range cases {
		if tc.err.Error() != tc.want {
			t.Errorf("%q\nwant %q", tc.err.Error(), tc.want)
		}
		if !errors.Is(tc.err, client.ErrStaleIDs) {
			t.Errorf("%v does not match ErrStaleIDs", tc.err)
		}
	}
}
