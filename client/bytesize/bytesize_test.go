package bytesize

import "testing"

func TestFormat(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{
		{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KB"}, {1229, "1.2 KB"}, {10188, "9.9 KB"}, {10189, "10 KB"},
		{12 * 1024, "12 KB"}, {49152, "48 KB"}, {148173, "145 KB"}, {1023 * 1024, "1023 KB"},
		{5 << 20, "5.0 MB"}, {3 << 30, "3.0 GB"}, {2 << 40, "2.0 TB"}, {2000 << 40, "2000 TB"},
	} {
		if got := Format(tc.n); got != tc.want {
			t.Errorf("Format(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
}
