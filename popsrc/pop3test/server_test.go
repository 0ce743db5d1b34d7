package pop3test

import (
	"io"
	"net"
	"net/textproto"
	"strings"
	"testing"
)

// The server's answers, read with net/textproto (an independent reader):
// dot-stuffing, TOP, per-session command log, rollback without QUIT.
func TestServerProtocol(t *testing.T) {
	srv, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	srv.AddUser("u", "pw")
	msg := "Subject: s\r\n\r\n.one\r\n.\r\ntwo\r\n" + strings.Repeat("x", 100000) + "\r\n"
	srv.Add("u", []byte(msg))
	srv.Add("u", []byte("no final newline"))

	c, err := net.Dial("tcp", srv.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tp := textproto.NewConn(c)
	expectOK := func(cmd string) string {
		t.Helper()
		if cmd != "" {
			tp.PrintfLine("%s", cmd)
		}
		line, err := tp.ReadLine()
		if err != nil || !strings.HasPrefix(line, "+OK") {
			t.Fatalf("%s: %q %v", cmd, line, err)
		}
		return line
	}
	body := func() string {
		t.Helper()
		b, err := io.ReadAll(tp.DotReader())
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	expectOK("")
	expectOK("USER u")
	expectOK("PASS pw")
	expectOK("RETR 1")
	if got, want := body(), strings.ReplaceAll(msg, "\r\n", "\n"); got != want {
		t.Fatalf("RETR 1: %q", got)
	}
	expectOK("RETR 2")
	if got := body(); got != "no final newline\n" {
		t.Fatalf("RETR 2: %q", got)
	}
	expectOK("TOP 1 1")
	if got := body(); got != "Subject: s\n\n.one\n" {
		t.Fatalf("TOP 1 1: %q", got)
	}
	expectOK("DELE 1")
	if line := expectOK("STAT"); line != "+OK 1 18" {
		t.Fatalf("STAT after DELE: %q", line)
	}
	c.Close() // no QUIT: nothing deleted
	if got := srv.Commands(); strings.Join(got, ",") != "USER u,PASS [redacted],RETR 1,RETR 2,TOP 1 1,DELE 1,STAT" {
		t.Fatalf("log %q", got)
	}
	// The server notices the drop asynchronously; the mailbox never changed.
	if n := len(srv.Messages("u")); n != 2 {
		t.Fatalf("%d messages after a drop", n)
	}
}
