package localcache

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
)

// BenchmarkCommit stores batches of 100 messages of 70 KB: Add streams them
// to tmp/, Commit makes them durable and records them. commit-ms/op is the
// part spent in Commit.
//
// BenchmarkCommit/busy does the same while another goroutine keeps writing
// a large file without syncing it, as a download or a build would: syncfs
// must flush that data too, fsync only duomail's.
func BenchmarkCommit(b *testing.B) {
	variants := []struct {
		name     string
		d        Durability
		parallel int
	}{
		{"fsync", DurabilityFsync, fsyncParallelism},
		{"fsync-serial", DurabilityFsync, 1},
		{"syncfs", DurabilitySyncfs, fsyncParallelism},
	}
	for _, busy := range []bool{false, true} {
		for _, v := range variants {
			name := v.name
			if busy {
				name = "busy/" + name
			}
			b.Run(name, func(b *testing.B) {
				defer func(p int) { fsyncParallelism = p }(fsyncParallelism)
				fsyncParallelism = v.parallel
				if busy {
					defer backgroundWriter(b)()
				}
				benchmarkCommit(b, v.d)
			})
		}
	}
}

// backgroundWriter keeps dirtying page cache in a file next to the cache
// until the returned function is called.
func backgroundWriter(b *testing.B) (stop func()) {
	f, err := os.CreateTemp(b.TempDir(), "busy")
	if err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		defer f.Close()
		buf := make([]byte, 1<<20)
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			default:
			}
			if i%256 == 0 { // keep the file at 256 MB
				f.Seek(0, 0)
			}
			if _, err := f.Write(buf); err != nil {
				return
			}
		}
	}()
	return func() { close(done); <-finished }
}

func benchmarkCommit(b *testing.B, d Durability) {
	{
		{
			const perBatch, size = 100, 70 << 10
			c, err := OpenWithOptions(b.TempDir(), Options{Durability: d})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			msgs := make([][]byte, perBatch)
			for i := range msgs {
				msgs[i] = testMessage(fmt.Sprint(i), size)
			}
			b.SetBytes(perBatch * size)
			var inCommit, inAdd time.Duration
			b.ResetTimer()
			for i := range b.N {
				batch, err := c.NewBatch(ctx, client.Inbox)
				if err != nil {
					b.Fatal(err)
				}
				addStart := time.Now()
				for j, m := range msgs {
					if err := batch.Add(ctx, fmt.Sprintf("%d.%d", i, j), 0, nil, bytes.NewReader(m)); err != nil {
						b.Fatal(err)
					}
				}
				start := time.Now()
				inAdd += start.Sub(addStart)
				if _, err := batch.Commit(ctx); err != nil {
					b.Fatal(err)
				}
				inCommit += time.Since(start)
			}
			b.ReportMetric(float64(inCommit.Microseconds())/1000/float64(b.N), "commit-ms/op")
			b.ReportMetric(float64(inAdd.Microseconds())/1000/float64(b.N), "add-ms/op")
		}
	}
}

// BenchmarkPutEnvelopes records 2000 envelopes in one call, as a first
// IMAP sync of a folder does.
func BenchmarkPutEnvelopes(b *testing.B) {
	for _, mode := range []string{"insert", "update"} {
		b.Run(mode, func(b *testing.B) {
			c, err := Open(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			ctx := context.Background()
			envs := make([]client.Envelope, 2000)
			for i := range envs {
				envs[i] = client.Envelope{
					From: "Someone <someone@example.org>", To: []string{"me@example.org"},
					Subject: fmt.Sprintf("subject number %d", i), Date: time.Now(), Size: 12345,
					Flags: []client.Flag{client.FlagSeen}, MessageID: fmt.Sprintf("<%d@example.org>", i), UIDValidity: 1,
				}
			}
			b.ResetTimer()
			for i := range b.N {
				for j := range envs {
					n := j
					if mode == "insert" {
						n += i * len(envs)
					}
					envs[j].ID = fmt.Sprint(n + 1)
				}
				if err := c.PutEnvelopes(ctx, "INBOX", envs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkRecovery measures, on a cache of 10000 stored messages, Open
// of a cache that nobody changed since the last comparison (it compares a
// Maildir with the index only where an interrupted write left signs or
// another program changed cur/ or new/) and Lock (which compares every
// folder).
func BenchmarkRecovery(b *testing.B) {
	dir := b.TempDir()
	c, err := Open(dir)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	msg := testMessage("x", 1000)
	for i := range 10 {
		batch, _ := c.NewBatch(ctx, client.Inbox)
		for j := range 1000 {
			if err := batch.Add(ctx, fmt.Sprintf("%d.%d", i, j), 0, nil, bytes.NewReader(msg)); err != nil {
				b.Fatal(err)
			}
		}
		if _, err := batch.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	// The last change long ago, and compared since: the usual case.
	old := time.Now().Add(-time.Hour)
	for _, sub := range []string{"cur", "new"} {
		if err := os.Chtimes(filepath.Join(c.MaildirPath(client.Inbox), sub), old, old); err != nil {
			b.Fatal(err)
		}
	}
	if unlock, err := c.Lock(ctx); err != nil {
		b.Fatal(err)
	} else {
		unlock()
	}
	b.Run("Open", func(b *testing.B) {
		for range b.N {
			c, err := Open(dir)
			if err != nil {
				b.Fatal(err)
			}
			c.Close()
		}
	})
	b.Run("Lock", func(b *testing.B) {
		for range b.N {
			unlock, err := c.Lock(ctx)
			if err != nil {
				b.Fatal(err)
			}
			unlock()
		}
	})
	c.Close()
}
