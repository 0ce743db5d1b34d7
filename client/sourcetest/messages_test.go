package sourcetest

import (
	"strings"
	"testing"
)

// Tests that size their memory bounds by BigMessage's size need it close
// to what they asked for.
func TestBigMessageSize(t *testing.T) {
	for _, size := range []int{70 << 10, 1 << 20, 8 << 20} {
		raw := BigMessage(size)
		if d := len(raw) - size; d < -200 || d > 200 {
			t.Errorf("BigMessage(%d) is %d bytes", size, len(raw))
		}
		if !strings.HasSuffix(string(raw[len(raw)-100:]), "\r\n--mix--\r\n") {
			t.Errorf("BigMessage(%d) does not end its multipart", size)
		}
	}
}
