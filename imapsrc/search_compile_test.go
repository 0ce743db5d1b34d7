package imapsrc

import (
	"reflect"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
)

func TestCompileFoldsHasAttachmentAndNestsOr(t *testing.T) {
	day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
	from := func(v string) imap.SearchCriteria {
		return imap.SearchCriteria{Header: []imap.SearchCriteriaHeaderField{{Key: "From", Value: v}}}
	}
	tests := []struct {
		q        string
		has      bool
		want     *imap.SearchCriteria
		wantKind kind
	}{
		{"has:attachment from:ann", false, nil, never},
		{"has:attachment from:ann", true, &imap.SearchCriteria{Header: from("ann").Header}, criteria},
		{"-has:attachment", false, nil, always},
		{"has:attachment OR from:ann", true, nil, always},
		{"has:attachment OR from:ann", false, &imap.SearchCriteria{Header: from("ann").Header}, criteria},
		{"from:a OR from:b OR from:c", false, &imap.SearchCriteria{Or: [][2]imap.SearchCriteria{{from("a"),
			{Or: [][2]imap.SearchCriteria{{from("b"), from("c")}}}}}}, criteria},
		{"-from:a is:unread", false, &imap.SearchCriteria{NotFlag: []imap.Flag{imap.FlagSeen}, Not: []imap.SearchCriteria{from("a")}}, criteria},
		{"body:x subject:y cc:z word", false, &imap.SearchCriteria{Body: []string{"x"}, Text: []string{"word"},
			Header: []imap.SearchCriteriaHeaderField{{Key: "Subject", Value: "y"}, {Key: "Cc", Value: "z"}}}, criteria},
		{"date:2026-03-02..2026-03-04 larger:1k", false, &imap.SearchCriteria{SentSince: day(2), SentBefore: day(5), Larger: 1024}, criteria},
		// A second bound of the same kind stays its own key.
		{"after:2026-03-02 after:2026-03-04", false, &imap.SearchCriteria{SentSince: day(2),
			Not: []imap.SearchCriteria{{Not: []imap.SearchCriteria{{SentSince: day(4)}}}}}, criteria},
		{"is:flagged is:answered is:draft is:read", false, &imap.SearchCriteria{Flag: []imap.Flag{imap.FlagFlagged, imap.FlagAnswered, imap.FlagDraft, imap.FlagSeen}}, criteria},
	}
	for _, tt := range tests {
		got, k := compile(mustParse(t, tt.q), tt.has)
		if k != tt.wantKind || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("compile(%q, %v) = %+v, %v; want %+v, %v", tt.q, tt.has, got, k, tt.want, tt.wantKind)
		}
	}
}
