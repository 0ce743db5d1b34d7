package localcache

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

// lineReader produces n bytes of a message without holding them: a header,
// then the same body line over and over.
type lineReader struct {
	header []byte
	line   []byte
	left   int64
	pos    int
}

func (r *lineReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) && r.left > 0 {
		var src []byte
		if len(r.header) > 0 {
			src = r.header
		} else {
			src = r.line[r.pos:]
		}
		k := copy(p[n:], src[:min(int64(len(src)), r.left)])
		if len(r.header) > 0 {
			r.header = r.header[k:]
		} else {
			r.pos = (r.pos + k) % len(r.line)
		}
		n += k
		r.left -= int64(k)
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}

func TestLargeMessageBoundedMemory(t *testing.T) {
	const size = 50 << 20
	c := openCache(t, t.TempDir())
	ctx := context.Background()
	newReader := func() io.Reader {
		return &lineReader{
			header: []byte("From: big@example.org\r\nSubject: fifty megabytes\r\nContent-Type: text/plain\r\n\r\n"),
			line:   []byte("0123456789 abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ .\r\n"),
			left:   size,
		}
	}
	want := sha256.New()
	io.Copy(want, newReader())

	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	var peak atomic.Uint64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapAlloc > peak.Load() {
				peak.Store(ms.HeapAlloc)
			}
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
		}
	}()
	b, err := c.NewBatch(ctx, client.Inbox)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Add(ctx, "big", 0, nil, newReader()); err != nil {
		t.Fatal(err)
	}
	envs, err := b.Commit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := c.Open(ctx, client.Inbox, "big")
	if err != nil {
		t.Fatal(err)
	}
	got := sha256.New()
	n, err := io.Copy(got, rc)
	rc.Close()
	close(stop)
	wg.Wait()
	if err != nil || n != size || !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Errorf("read back %d bytes (%v), want %d identical ones", n, err, size)
	}
	if envs[0].Size != size || envs[0].Subject != "fifty megabytes" {
		t.Errorf("envelope = %+v", envs[0])
	}
	growth := int64(peak.Load()) - int64(base)
	t.Logf("peak heap growth while storing and reading %d MB: %.1f MB", size>>20, float64(growth)/(1<<20))
	if growth > 16<<20 {
		t.Errorf("heap grew by %d bytes for a %d-byte message: not streamed", growth, size)
	}
}

// TestConcurrentReader reads the cache from a second Cache (as another
// duomail process would) while the first commits batches: no busy errors,
// counts never go backwards, every listed message opens with its body.
func TestConcurrentReader(t *testing.T) {
	dir := t.TempDir()
	writer := openCache(t, dir)
	reader := openCache(t, dir)
	ctx := context.Background()
	const batches, perBatch = 30, 5
	raw := func(id string) []byte { return testMessage(id, 3000) }
	done := make(chan error, 1)
	go func() {
		for i := range batches {
			b, err := writer.NewBatch(ctx, client.Inbox)
			if err != nil {
				done <- err
				return
			}
			for j := range perBatch {
				id := fmt.Sprintf("w%d-%d", i, j)
				if err := b.Add(ctx, id, 0, []client.Flag{}, bytes.NewReader(raw(id))); err != nil {
					done <- err
					return
				}
			}
			if _, err := b.Commit(ctx); err != nil {
				done <- err
				return
			}
			if err := writer.ChangeFlags(ctx, client.Inbox, []string{fmt.Sprintf("w%d-0", i)}, client.FlagAdd, []client.Flag{client.FlagSeen}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	last, reads := 0, 0
	for finished := false; !finished; {
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("writer: %v", err)
			}
			finished = true
		default:
		}
		var listed []string
		err := reader.List(ctx, client.Inbox, client.ListOptions{}, func(e client.Envelope) error {
			listed = append(listed, e.ID)
			return nil
		})
		if err != nil {
			t.Fatalf("List while writing: %v", err)
		}
		if len(listed) < last || len(listed)%perBatch != 0 {
			t.Fatalf("listed %d messages after %d: not whole batches", len(listed), last)
		}
		last = len(listed)
		for _, id := range listed {
			// A file may be renamed (flags) between List and Open: Open copes.
			if !bytes.Equal(readBody(t, reader, client.Inbox, id), raw(id)) {
				t.Fatalf("%s: body differs", id)
			}
		}
		if _, err := reader.Entries(ctx, client.Inbox); err != nil {
			t.Fatalf("Entries while writing: %v", err)
		}
		reads++
	}
	if last != batches*perBatch {
		t.Errorf("listed %d at the end, want %d", last, batches*perBatch)
	}
	t.Logf("%d consistent reads during %d commits", reads, batches)
}
