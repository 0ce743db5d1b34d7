package client

import (
	"sync"
	"time"
)

// Counts is what one operation (or a whole run) cost on the wire.
type Counts struct {
	Commands int           `json:"commands"` // commands sent, i.e. round trips asked for
	Sent     int64         `json:"bytes_sent"`
	Received int64         `json:"bytes_received"`
	Elapsed  time.Duration `json:"elapsed_ns"`
}

func (c *Counts) add(o Counts) {
	c.Commands += o.Commands
	c.Sent += o.Sent
	c.Received += o.Received
	c.Elapsed += o.Elapsed
}

// OpCounts is the cost of one named operation.
type OpCounts struct {
	Op string `json:"op"`
	Counts
}

// WireStats accumulates wire costs for one Source. wire.Dial counts every
// byte of the Source's connection into it, the Source calls Command for
// every command it sends, and callers bracket operations with Begin so
// costs are attributed.
// All methods are safe on a nil *WireStats (they do nothing) and for
// concurrent use.
type WireStats struct {
	Protocol string

	mu      sync.Mutex
	total   Counts
	ops     []OpCounts
	cur     int // index into ops, -1 when no operation is open
	started time.Time
	began   bool
}

// NewWireStats returns empty statistics for a protocol.
func NewWireStats(protocol string) *WireStats {
	return &WireStats{Protocol: protocol, cur: -1}
}

// Begin attributes what follows to op until the returned function is called.
func (s *WireStats) Begin(op string) (end func()) {
	if s == nil {
		return func() {}
	}
	s.mu.Lock()
	s.ops = append(s.ops, OpCounts{Op: op})
	idx := len(s.ops) - 1
	prev := s.cur
	s.cur = idx
	if !s.began {
		s.began, s.started = true, time.Now()
	}
	s.mu.Unlock()
	start := time.Now()
	return func() {
		d := time.Since(start)
		s.mu.Lock()
		s.ops[idx].Elapsed += d
		if s.cur == idx {
			s.cur = prev
		}
		s.mu.Unlock()
	}
}

// Command records one command sent.
func (s *WireStats) Command() { s.Record(Counts{Commands: 1}) }

// Record adds c to the total and to the open operation; the connection
// wire.Dial returns reports the bytes it carries with it.
func (s *WireStats) Record(c Counts) {
	if s == nil {
		return
	}
	s.mu.Lock()
	if !s.began {
		s.began, s.started = true, time.Now()
	}
	s.total.add(c)
	if s.cur >= 0 {
		s.ops[s.cur].add(c)
	}
	s.mu.Unlock()
}

// Total returns the counts of everything so far; Elapsed runs from the first
// recorded activity to now.
func (s *WireStats) Total() Counts {
	if s == nil {
		return Counts{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.total
	if s.began {
		t.Elapsed = time.Since(s.started)
	}
	return t
}

// Ops returns a copy of the per-operation counts, in the order begun.
func (s *WireStats) Ops() []OpCounts {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]OpCounts(nil), s.ops...)
}

// Measure runs fn as operation op and returns what it cost on the wire.
func (s *WireStats) Measure(op string, fn func() error) (Counts, error) {
	if s == nil {
		start := time.Now()
		err := fn()
		return Counts{Elapsed: time.Since(start)}, err
	}
	end := s.Begin(op)
	s.mu.Lock()
	idx := s.cur
	s.mu.Unlock()
	err := fn()
	end()
	s.mu.Lock()
	c := s.ops[idx].Counts
	s.mu.Unlock()
	return c, err
}
