package localcache

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/duomail/duomail/client"
	"github.com/duomail/duomail/client/query"
)

// benchCorpusSize is the number of messages BenchmarkSearch stores; a
// variable so that a quick run can use fewer
// (DUOMAIL_BENCH_MESSAGES=5000).
var benchCorpusSize = 50_000

// benchWords is a vocabulary of made-up words drawn with a Zipf
// distribution, as words in real mail are: a few very common, most rare.
func benchWords(n int) []string {
	syll := []string{"ka", "lo", "mi", "nu", "ra", "te", "so", "vi", "de", "pa", "zu", "ne", "bo", "li", "ge", "tu"}
	r := rand.New(rand.NewSource(1))
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		var b strings.Builder
		for k := 2 + r.Intn(3); k > 0; k-- {
			b.WriteString(syll[r.Intn(len(syll))])
		}
		if w := b.String(); !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}

type benchCorpus struct {
	dir        string
	c          *Cache
	textBytes  int64 // body text as indexed
	hdrBytes   int64 // sender, recipients, cc and subject
	fileBytes  int64 // whole messages
	storeTime  time.Duration
	indexTime  time.Duration
	words      []string
	oneWord    string // a word in about 1% of messages
	senders    []string
	newestDate time.Time
}

// buildBenchCorpus stores n generated messages (about 2 KB of text each,
// from 300 senders, over three years) the way a POP3 sync does, in
// batches of 5000 (few syncfs calls: the build is not what is measured
// most).
func buildBenchCorpus(b *testing.B, n int) *benchCorpus {
	dir, err := os.MkdirTemp("", "duomail-search-bench")
	if err != nil {
		b.Fatal(err)
	}
	c, err := OpenWithOptions(dir, Options{Durability: DurabilitySyncfs})
	if err != nil {
		b.Fatal(err)
	}
	bc := &benchCorpus{dir: dir, c: c, words: benchWords(20_000)}
	for i := range 300 {
		bc.senders = append(bc.senders, fmt.Sprintf("%s %s <%s.%d@example%d.org>", capitalised(bc.words[i*7]), capitalised(bc.words[i*7+3]), bc.words[i*7], i, i%17))
	}
	r := rand.New(rand.NewSource(2))
	zipf := rand.NewZipf(r, 1.1, 2, uint64(len(bc.words)-1))
	start := time.Date(2023, 1, 1, 9, 0, 0, 0, time.UTC)
	ctx := context.Background()
	var batch client.Batch
	t0 := time.Now()
	var body strings.Builder
	for i := range n {
		if batch == nil {
			if batch, err = c.NewBatch(ctx, client.Inbox); err != nil {
				b.Fatal(err)
			}
		}
		body.Reset()
		for body.Len() < 2000 {
			for k := 0; k < 12; k++ {
				body.WriteString(bc.words[zipf.Uint64()])
				body.WriteByte(' ')
			}
			body.WriteString(".\r\n")
		}
		from := bc.senders[r.Intn(len(bc.senders))]
		to := bc.senders[r.Intn(len(bc.senders))]
		subject := bc.words[zipf.Uint64()] + " " + bc.words[zipf.Uint64()] + " " + bc.words[r.Intn(len(bc.words))]
		date := start.Add(time.Duration(i) * 3 * 365 * 24 * time.Hour / time.Duration(n))
		bc.newestDate = date
		raw := "From: " + from + "\r\nTo: " + to + "\r\nSubject: " + subject + "\r\nDate: " + date.Format(time.RFC1123Z) +
			"\r\nMessage-ID: <" + strconv.Itoa(i) + "@bench.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body.String()
		bc.textBytes += int64(body.Len())
		bc.hdrBytes += int64(len(from) + len(to) + len(subject))
		bc.fileBytes += int64(len(raw))
		if err := batch.Add(ctx, "m"+strconv.Itoa(i), 0, nil, strings.NewReader(raw)); err != nil {
			b.Fatal(err)
		}
		if msgs, _ := batch.Pending(); msgs == 5000 || i == n-1 {
			if _, err := batch.Commit(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	bc.storeTime = time.Since(t0)

	// The index alone: drop the text and fill it again from the files,
	// as the one-time filling of an existing cache does.
	if _, err := c.db.Exec(`DELETE FROM text_index; UPDATE messages SET text_indexed = 0`); err != nil {
		b.Fatal(err)
	}
	t0 = time.Now()
	if err := c.IndexText(ctx, nil); err != nil {
		b.Fatal(err)
	}
	bc.indexTime = time.Since(t0)
	// As the next command would find it: opened again once the Maildir
	// has settled, so that Open records that the file names match the
	// index and searches need not list the directories.
	c.Close()
	time.Sleep(stampMargin + 100*time.Millisecond)
	if c, err = Open(dir); err != nil {
		b.Fatal(err)
	}
	bc.c = c

	// A word that a search anywhere finds in about 1% of the messages
	// (in headers it matches as a substring, so also inside other words).
	for _, w := range bc.words[200:] {
		var hits int
		c.db.QueryRow(`SELECT count(*) FROM messages WHERE seq IN (SELECT rowid FROM text_index WHERE text_index MATCH ?)
			OR seq IN (SELECT rowid FROM header_index WHERE header_index MATCH ?)`, `"`+w+`" *`, `"`+w+`"`).Scan(&hits)
		if hits >= n/150 && hits <= n/75 {
			bc.oneWord = w
			break
		}
	}
	return bc
}

func (bc *benchCorpus) close() {
	bc.c.Close()
	os.RemoveAll(bc.dir)
}

// sizeOf sums the pages of the tables whose names start with prefix.
func (bc *benchCorpus) sizeOf(b *testing.B, prefix string) int64 {
	var n int64
	if err := bc.c.db.QueryRow(`SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name LIKE ?`, prefix+"%").Scan(&n); err != nil {
		b.Fatal(err)
	}
	return n
}

// BenchmarkSearch builds a cache of 50,000 messages and times searches in
// it: one word (limit 50, the default listing), a three-term query with a
// date range, and the same without a limit (every hit, as a count needs).
// ms-median is the median of the iterations' wall time, cpu-ms/op the
// CPU time per search (which a machine busy with other work inflates less). The build reports how fast
// messages were stored (files, durability and index) and how fast the
// text index alone is filled from the files, and the index sizes as a
// fraction of the text they index and of the cached mail.
//
//	go test ./localcache -run '^$' -bench BenchmarkSearch -benchtime 50x
func BenchmarkSearch(b *testing.B) {
	n := benchCorpusSize
	if s := os.Getenv("DUOMAIL_BENCH_MESSAGES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	bc := buildBenchCorpus(b, n)
	defer bc.close()
	textIdx, hdrIdx := bc.sizeOf(b, "text_index"), bc.sizeOf(b, "header_index")
	msgTable := bc.sizeOf(b, "messages")
	b.Logf("%d messages: %.1f MB of mail, %.1f MB of body text, %.1f MB of header text", n,
		float64(bc.fileBytes)/1e6, float64(bc.textBytes)/1e6, float64(bc.hdrBytes)/1e6)
	b.Logf("stored at %.0f messages/s (files, durability, index); text index alone filled at %.0f messages/s (%.1f MB text/s)",
		float64(n)/bc.storeTime.Seconds(), float64(n)/bc.indexTime.Seconds(), float64(bc.textBytes)/1e6/bc.indexTime.Seconds())
	b.Logf("text_index %.1f MB = %.2f of body text; header_index %.1f MB = %.2f of header text; both = %.2f of cached mail; messages table %.1f MB",
		float64(textIdx)/1e6, float64(textIdx)/float64(bc.textBytes), float64(hdrIdx)/1e6, float64(hdrIdx)/float64(bc.hdrBytes),
		float64(textIdx+hdrIdx)/float64(bc.fileBytes), float64(msgTable)/1e6)
	b.Logf("one word: %q", bc.oneWord)

	year := bc.newestDate.AddDate(-1, 0, 0)
	sender := strings.Fields(bc.senders[5])[1] // a surname: one sender in 300
	queries := []struct {
		name string
		q    query.Node
		opts client.ListOptions
	}{
		{"one-word", query.Text{Value: bc.oneWord}, client.ListOptions{Limit: 50}},
		{"one-word-by-date", query.Text{Value: bc.oneWord}, client.ListOptions{Limit: 50, Sort: client.SortDate}},
		{"one-word-all-hits", query.Text{Value: bc.oneWord}, client.ListOptions{}},
		// Three terms a user would type: a word, a body word and a
		// sender's name, with the last year.
		{"three-terms-date-range", query.And{Terms: []query.Node{
			query.Text{Value: bc.words[150]},
			query.Text{Field: query.Body, Value: bc.words[400]},
			query.Text{Field: query.From, Value: sender},
			query.Date{Since: year, Before: bc.newestDate.AddDate(0, 0, 1)},
		}}, client.ListOptions{Limit: 50}},
		{"three-terms-date-range-all-hits", query.And{Terms: []query.Node{
			query.Text{Value: bc.words[150]},
			query.Text{Field: query.Body, Value: bc.words[400]},
			query.Text{Field: query.From, Value: sender},
			query.Date{Since: year, Before: bc.newestDate.AddDate(0, 0, 1)},
		}}, client.ListOptions{}},
		// The worst case: two of the commonest words as prefixes (each
		// expands to every word it begins) and a header substring made
		// of trigrams every address has.
		{"three-common-terms-date-range", query.And{Terms: []query.Node{
			query.Text{Field: query.Body, Value: bc.words[10]},
			query.Text{Field: query.Body, Value: bc.words[60]},
			query.Text{Field: query.From, Value: "example3.org"},
			query.Date{Since: year, Before: bc.newestDate.AddDate(0, 0, 1)},
		}}, client.ListOptions{Limit: 50}},
	}
	ctx := context.Background()
	for _, qc := range queries {
		b.Run(qc.name, func(b *testing.B) {
			var times []time.Duration
			hits := 0
			cpu0 := cpuTime()
			for b.Loop() {
				hits = 0
				t0 := time.Now()
				err := bc.c.Search(ctx, client.Inbox, qc.q, qc.opts, func(client.Envelope) error { hits++; return nil })
				times = append(times, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/1000/float64(len(times)), "cpu-ms/op")
			slices.Sort(times)
			b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "ms-median")
			b.ReportMetric(float64(hits), "hits")
		})
	}
}

// capitalised upper-cases the first letter of a generated (ASCII) word, as a
// sender's name is written.
func capitalised(word string) string {
	if word == "" {
		return word
	}
	return strings.ToUpper(word[:1]) + word[1:]
}
