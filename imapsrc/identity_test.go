package imapsrc

import (
	"testing"
	"time"
)

// An INTERNALDATE within the clock skew of the answer is the server's
// clock (GNU Mailutils for a message without Date) and is not compared;
// one from before that is an arrival time.
func TestMadeUpNow(t *testing.T) {
	now := time.Date(2026, 12, 3, 6, 40, 0, 0, time.UTC)
	for _, c := range []struct {
		date time.Time
		want bool
	}{
		{now, true},
		{now.Add(-1500 * time.Millisecond), true},
		{now.Add(time.Second), true},
		{now.Add(-3 * time.Second), false},
		{now.Add(-24 * time.Hour), false},
		{now.Add(time.Hour), false},
		{time.Time{}, false},
	} {
		if got := madeUpNow(c.date, now); got != c.want {
			t.Errorf("madeUpNow(%v) = %v, want %v", c.date, got, c.want)
		}
	}
}
