package imapsrc

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
)

// chunkConn serves a fixed byte stream in reads of the given sizes, in turn.
type chunkConn struct {
	net.Conn
	data  string
	sizes []int
	i     int
}

func (c *chunkConn) Read(p []byte) (int, error) {
	if c.data == "" {
		return 0, io.EOF
	}
	n := min(len(p), len(c.data), c.sizes[c.i%len(c.sizes)])
	c.i++
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// Mailutils' "* N EXPUNGED" reaches imapclient as "* N EXPUNGE" and its
// unquoted STATUS names quoted, however the stream is cut into reads,
// while the same bytes inside a literal (a message that quotes the lines)
// and in any other line pass unchanged.
func TestMendConnMendsOnlyTheResponses(t *testing.T) {
	body := "Subject: x\r\n\r\n* 2 EXPUNGED\r\n* STATUS Sent Items (MESSAGES 2)\r\nquoted\r\n"
	long := "* OK " + strings.Repeat("x", 3*maxHeldLine) + " EXPUNGED\r\n"
	in := "* 2 EXPUNGED\r\n* 2 EXISTS\r\n" +
		"* 1 FETCH (UID 7 BODY[] {" + strconv.Itoa(len(body)) + "}\r\n" + body + ")\r\n" +
		"* 12 expunged\r\n* 3 EXPUNGED extra\r\n* x EXPUNGED\r\n" + long +
		"* STATUS Sent Items (MESSAGES 2 UNSEEN 1)\r\n* STATUS \"Old Mail\" (MESSAGES 1)\r\n" +
		"* STATUS INBOX (MESSAGES 3)\r\n* status a\"b\\c d (MESSAGES 0)\r\n* STATUS {8}\r\nOld Mail (MESSAGES 1)\r\n" +
		"T1 OK EXPUNGE Completed\r\n"
	want := "* 2 EXPUNGE\r\n* 2 EXISTS\r\n" +
		"* 1 FETCH (UID 7 BODY[] {" + strconv.Itoa(len(body)) + "}\r\n" + body + ")\r\n" +
		"* 12 EXPUNGE\r\n* 3 EXPUNGED extra\r\n* x EXPUNGED\r\n" + long +
		"* STATUS \"Sent Items\" (MESSAGES 2 UNSEEN 1)\r\n* STATUS \"Old Mail\" (MESSAGES 1)\r\n" +
		"* STATUS INBOX (MESSAGES 3)\r\n* status \"a\\\"b\\\\c d\" (MESSAGES 0)\r\n* STATUS {8}\r\nOld Mail (MESSAGES 1)\r\n" +
		"T1 OK EXPUNGE Completed\r\n"
	for _, sizes := range [][]int{{1}, {2}, {3}, {5, 1}, {7}, {13}, {4096}, {1, 4096}} {
		for _, readSize := range []int{1, 3, 64, 4096} {
			c := newMendConn(&chunkConn{data: in, sizes: sizes})
			var got strings.Builder
			buf := make([]byte, readSize)
			for {
				n, err := c.Read(buf)
				got.Write(buf[:n])
				if err == io.EOF {
					break
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			if got.String() != want {
				t.Fatalf("reads of %v into %d bytes:\n got %q\nwant %q", sizes, readSize, got.String(), want)
			}
		}
	}
}
