// Package bytesize says how big something is, in the form duomail shows
// people everywhere: tables, compare's cells, the --stats line, warnings.
package bytesize

import "fmt"

// Format renders a byte count in binary units (1 KB = 1024 bytes): bytes
// as they are ("426 B"), larger values with one decimal below 10 ("1.2
// KB") and none from 10 on ("12 KB", "145 KB").
func Format(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	v := float64(n)
	units := []string{"KB", "MB", "GB", "TB"}
	var unit string
	for _, unit = range units {
		v /= 1024
		if v < 1024 {
			break
		}
	}
	if v < 9.95 {
		return fmt.Sprintf("%.1f %s", v, unit)
	}
	return fmt.Sprintf("%.0f %s", v, unit)
}
