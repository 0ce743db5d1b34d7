// Package iocount holds the stream wrappers duomail's copies share: they
// count the bytes that pass and remember the first failure of the stream
// they wrap, so after a copy the caller can tell whose side failed — the
// reader (a connection cut), the writer (a full disk), or neither (then the
// data itself was malformed).
package iocount

import "io"

// Reader counts the bytes read from R and remembers R's first failure
// other than io.EOF.
type Reader struct {
	R   io.Reader
	N   int64
	Err error
}

func (r *Reader) Read(p []byte) (int, error) {
	n, err := r.R.Read(p)
	r.N += int64(n)
	if err != nil && err != io.EOF && r.Err == nil {
		r.Err = err
	}
	return n, err
}

// Writer counts the bytes written to W and remembers W's first failure,
// after which it writes nothing more and returns that failure, so a series
// of writes can be checked once at the end. With W nil the bytes are only
// counted.
type Writer struct {
	W   io.Writer
	N   int64
	Err error
}

func (w *Writer) Write(p []byte) (int, error) {
	if w.Err != nil {
		return 0, w.Err
	}
	if w.W == nil {
		w.N += int64(len(p))
		return len(p), nil
	}
	n, err := w.W.Write(p)
	w.N += int64(n)
	if err != nil && w.Err == nil {
		w.Err = err
	}
	return n, err
}
