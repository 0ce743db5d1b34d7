package iocount

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// A copy that fails on the reader's side leaves the count of what arrived
// and the reader's first error; the normal end (io.EOF) is no failure.
func TestReaderCountsAndKeepsFirstFailure(t *testing.T) {
	cut := errors.New("connection reset")
	r := &Reader{R: io.MultiReader(strings.NewReader("hello"), iotest.ErrReader(cut))}
	if _, err := io.Copy(io.Discard, r); !errors.Is(err, cut) {
		t.Fatalf("copy: %v", err)
	}
	if _, err := r.Read(make([]byte, 4)); err == nil {
		t.Fatal("second read after the failure succeeded")
	}
	if r.N != 5 || !errors.Is(r.Err, cut) {
		t.Errorf("N %d Err %v, want 5 and the first failure", r.N, r.Err)
	}
	whole := &Reader{R: strings.NewReader("abc")}
	if _, err := io.ReadAll(whole); err != nil || whole.N != 3 || whole.Err != nil {
		t.Errorf("clean read: err %v N %d Err %v", err, whole.N, whole.Err)
	}
}

// A writer that fails is told apart from the reader by Err; without a
// destination the bytes are only counted.
func TestWriterCountsAndKeepsFirstFailure(t *testing.T) {
	full := errors.New("disk full")
	w := &Writer{W: failAfter{n: 3, err: full}}
	if _, err := io.Copy(w, strings.NewReader("hello")); !errors.Is(err, full) {
		t.Fatalf("copy: %v", err)
	}
	if n, err := w.Write([]byte("x")); n != 0 || !errors.Is(err, full) {
		t.Errorf("write after the failure: %d, %v", n, err)
	}
	if w.N != 3 || !errors.Is(w.Err, full) {
		t.Errorf("N %d Err %v, want 3 and the writer's failure", w.N, w.Err)
	}
	var count Writer
	if n, err := io.Copy(&count, strings.NewReader("hello")); err != nil || n != 5 || count.N != 5 {
		t.Errorf("counting only: n %d err %v N %d", n, err, count.N)
	}
}

// failAfter accepts n bytes, then fails.
type failAfter struct {
	n   int
	err error
}

func (f failAfter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		return f.n, f.err
	}
	return len(p), nil
}
