package popsrc

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net/textproto"
	"strings"
	"testing"
	"testing/iotest"
)

// stuff dot-stuffs raw as a server would (independently of pop3test, so
// the two cannot share a mistake) and appends the terminator and a
// following response that must stay unread.
func stuff(raw string) string {
	var b strings.Builder
	bol := true
	for i := 0; i < len(raw); i++ {
		if bol && raw[i] == '.' {
			b.WriteByte('.')
		}
		b.WriteByte(raw[i])
		bol = raw[i] == '\n'
	}
	if !bol {
		b.WriteString("\r\n")
	}
	b.WriteString(".\r\n+OK next\r\n")
	return b.String()
}

// readAllDot reads one body through r built by mk and returns it with what
// is left on the wire.
func readAllDot(t *testing.T, wire string, bufSize int, src func(io.Reader) io.Reader, read func(*dotReader) ([]byte, error)) ([]byte, string) {
	t.Helper()
	br := bufio.NewReaderSize(src(strings.NewReader(wire)), bufSize)
	got, err := read(newDotReader(br, nil))
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	rest, _ := io.ReadAll(br)
	return got, string(rest)
}

var readers = map[string]func(*dotReader) ([]byte, error){
	"ReadAll": func(d *dotReader) ([]byte, error) { return io.ReadAll(d) },
	"WriteTo": func(d *dotReader) ([]byte, error) {
		var b bytes.Buffer
		_, err := d.WriteTo(&b)
		return b.Bytes(), err
	},
	"OneByte": func(d *dotReader) ([]byte, error) { return io.ReadAll(iotest.OneByteReader(d)) },
	"Odd7": func(d *dotReader) ([]byte, error) {
		var out []byte
		p := make([]byte, 7)
		for {
			n, err := d.Read(p)
			out = append(out, p[:n]...)
			if err == io.EOF {
				return out, nil
			}
			if err != nil {
				return out, err
			}
		}
	},
}

var sources = map[string]func(io.Reader) io.Reader{
	"whole":   func(r io.Reader) io.Reader { return r },
	"onebyte": iotest.OneByteReader,
	"half":    iotest.HalfReader,
}

func TestDotReaderByteExact(t *testing.T) {
	cases := map[string]string{
		"empty":          "",
		"crlf":           "Subject: x\r\n\r\nbody\r\n",
		"dot lines":      ".\r\n..\r\n.hidden\r\n...three\r\nmid.dle\r\n.",
		"single dot":     "a\r\n.\r\nb\r\n",
		"bare LF":        "Subject: x\n\nline\n.dot\n.\n\nend\n",
		"lone CR":        "a\rb\r\n.\rc\r\n\r.\r\n",
		"mixed endings":  "a\r\nb\nc\r\n\n.\n.\r\n",
		"8-bit":          "Subject: Gr\xfc\xdfe\r\n\r\n\xff\xfe\x00\x01 caf\xc3\xa9\r\n",
		"no final EOL":   "last line without ending",
		"long line":      strings.Repeat("x", 10000) + "\r\n." + strings.Repeat("y", 70000) + "\r\n",
		"dot after long": strings.Repeat("z", 300) + "\r\n.\r\n",
	}
	for name, raw := range cases {
		want := raw
		if raw != "" && !strings.HasSuffix(raw, "\n") {
			want += "\r\n"
		}
		wire := stuff(raw)
		for rname, read := range readers {
			for sname, src := range sources {
				for _, size := range []int{16, 4096} {
					got, rest := readAllDot(t, wire, size, src, read)
					if string(got) != want {
						t.Errorf("%s/%s/%s/%d: got %q, want %q", name, rname, sname, size, clipBytes(got), clipBytes([]byte(want)))
					}
					if rest != "+OK next\r\n" {
						t.Errorf("%s/%s/%s/%d: left %q on the wire", name, rname, sname, size, rest)
					}
				}
			}
		}
	}
}

func clipBytes(b []byte) string {
	if len(b) > 80 {
		return string(b[:40]) + "..." + string(b[len(b)-40:])
	}
	return string(b)
}

func TestDotReaderLenientTerminator(t *testing.T) {
	br := bufio.NewReader(strings.NewReader("a\n..b\n.\nrest"))
	got, err := io.ReadAll(newDotReader(br, nil))
	if err != nil || string(got) != "a\n.b\n" {
		t.Fatalf("got %q, %v", got, err)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "rest" {
		t.Fatalf("rest %q", rest)
	}
}

func TestDotReaderTruncated(t *testing.T) {
	for _, wire := range []string{"", "abc", "abc\r\n", "abc\r\n.", "abc\r\n.\r", "..\r\n"} {
		wrapped := errors.New("wrapped")
		br := bufio.NewReader(strings.NewReader(wire))
		_, err := io.ReadAll(newDotReader(br, func(err error) error {
			if err != io.ErrUnexpectedEOF {
				t.Errorf("%q: underlying error %v, want ErrUnexpectedEOF", wire, err)
			}
			return wrapped
		}))
		if err != wrapped {
			t.Errorf("%q: err %v, want the wrapped error", wire, err)
		}
	}
}

// The reader must not wait for bytes after the terminator: the server
// sends nothing more until the next command.
func TestDotReaderDoesNotReadPastTerminator(t *testing.T) {
	for _, term := range []string{".\r\n", ".\n"} {
		pr, pw := io.Pipe()
		go pw.Write([]byte("line\r\n" + term)) // then silence, never closed
		done := make(chan error, 1)
		go func() {
			_, err := io.ReadAll(newDotReader(bufio.NewReader(pr), nil))
			done <- err
		}()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		pr.Close()
	}
}

// A multi-megabyte line passes in bounded memory, through a small buffer.
func TestDotReaderHugeLine(t *testing.T) {
	line := bytes.Repeat([]byte("0123456789abcdef"), 4<<20/16)
	wire := io.MultiReader(bytes.NewReader(line), strings.NewReader("\r\n.\r\n"))
	n, err := io.Copy(io.Discard, newDotReader(bufio.NewReaderSize(wire, 4096), nil))
	if err != nil || n != int64(len(line)+2) {
		t.Fatalf("copied %d, %v", n, err)
	}
}

// Random messages built from the awkward pieces round-trip exactly.
func TestDotReaderRandomRoundTrip(t *testing.T) {
	pieces := []string{".", "..", "\r\n", "\n", "\r", "a", "x.y", " ", "\xff", "\r\n.\r\n", "\n.\n", ".\r", strings.Repeat("L", 5000)}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 300; i++ {
		var b strings.Builder
		for n := rng.IntN(40); n > 0; n-- {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		raw := b.String() + "\r\n"
		for rname, read := range readers {
			got, rest := readAllDot(t, stuff(raw), 16+rng.IntN(100), iotest.HalfReader, read)
			if string(got) != raw || rest != "+OK next\r\n" {
				t.Fatalf("%s: round trip of %q gave %q, left %q", rname, raw, got, rest)
			}
		}
	}
}

// FuzzDotReader checks the reader two ways. As wire input, it must agree
// with net/textproto's DotReader: the same bytes once line endings are
// normalised to LF, the same success or failure, the same bytes left after
// the terminator. As a message, dot-stuffing it and reading it back must
// give it back exactly. Run the fuzzer with:
//
//	go test -run XXX -fuzz FuzzDotReader ./popsrc
func FuzzDotReader(f *testing.F) {
	for _, s := range []string{
		"a\r\n.\r\n", "..\r\n.\r\n", ".\n", ".\r\n", ".x\r\n.\r\n", "\r\n\r\n.\r\n",
		"a\rb\r\n.\r\n", ".\r.\r\n", "\r.\r\n.\r\n", "x\n..\n.\nrest", "no end", "\r\r\n.\r\n",
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Fuzz(func(t *testing.T, data []byte, bufSize uint8) {
		size := 16 + int(bufSize)
		for rname, read := range readers {
			// As a message: exact round trip.
			br := bufio.NewReaderSize(iotest.HalfReader(strings.NewReader(stuff(string(data)))), size)
			got, err := read(newDotReader(br, nil))
			want := string(data)
			if len(data) > 0 && data[len(data)-1] != '\n' {
				want += "\r\n"
			}
			if err != nil || string(got) != want {
				t.Fatalf("%s: round trip of %q gave %q, %v", rname, data, got, err)
			}
		}
		// textproto's DotReader does not treat a bare LF at the start of
		// a line as ending an (empty) line, so after one it no longer
		// sees a dot as starting a line; compare only where that quirk
		// cannot arise.
		if bytes.HasPrefix(data, []byte("\n")) || bytes.Contains(data, []byte("\n\n")) {
			return
		}
		tr := textproto.NewReader(bufio.NewReader(bytes.NewReader(data)))
		want, wantErr := io.ReadAll(tr.DotReader())
		wantRest, _ := io.ReadAll(tr.R)
		for rname, read := range readers {
			br := bufio.NewReaderSize(iotest.HalfReader(bytes.NewReader(data)), size)
			got, err := read(newDotReader(br, nil))
			if (err != nil) != (wantErr != nil) {
				t.Fatalf("%s: err %v, textproto err %v", rname, err, wantErr)
			}
			if err != nil {
				continue
			}
			if norm := bytes.ReplaceAll(got, []byte("\r\n"), []byte("\n")); !bytes.Equal(norm, want) {
				t.Fatalf("%s: got %q (normalised %q), textproto %q", rname, got, norm, want)
			}
			if rest, _ := io.ReadAll(br); !bytes.Equal(rest, wantRest) {
				t.Fatalf("%s: left %q, textproto left %q", rname, rest, wantRest)
			}
		}
	})
}

func BenchmarkDotReader(b *testing.B) {
	var msg bytes.Buffer
	for msg.Len() < 1<<20 {
		msg.WriteString("VGhpcyBpcyBhIGJhc2U2NCBsaW5lIG9mIHRoZSB1c3VhbCBsZW5ndGggZm9yIGF0dGFjaG1lbnRz\r\n")
	}
	wire := []byte(stuff(msg.String()))
	b.SetBytes(int64(msg.Len()))
	r := bytes.NewReader(wire)
	br := bufio.NewReaderSize(r, readBufferSize)
	for b.Loop() {
		r.Reset(wire)
		br.Reset(r)
		if _, err := io.Copy(io.Discard, newDotReader(br, nil)); err != nil {
			b.Fatal(err)
		}
	}
}
