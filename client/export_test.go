package client

import "time"

// SetNowForTest replaces the clock (retention by age) and returns a restore func.
func SetNowForTest(now func() time.Time) (restore func()) {
	old := nowFunc
	nowFunc = now
	return func() { nowFunc = old }
}
