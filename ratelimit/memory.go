package ratelimit

import (
	"context"
	"sync"
	"time"

	"github.com/dune-mcp/dune-mcp/internal/clock"
)

// Memory is a Store in this process's memory.
type Memory struct {
	clk clock.Clock
	mu  sync.Mutex
	tat map[string]time.Time // theoretical arrival time of each bucket's next request
}

// maxMemoryBuckets is the bucket count above which Reserve drops the idle
// ones (those whose arrival time has passed: they are full, the same as
// absent).
const maxMemoryBuckets = 10000

// NewMemory returns an empty Memory store on clk (nil: the wall clock).
func NewMemory(clk clock.Clock) *Memory {
	if clk == nil {
		clk = clock.Wall{}
	}
	return &Memory{clk: clk, tat: map[string]time.Time{}}
}

// Reserve implements Store.
func (m *Memory) Reserve(_ context.Context, key string, b Bucket, maxWait time.Duration) (time.Duration, bool, error) {
	now := m.clk.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	tat := m.tat[key]
	if tat.Before(now) {
		tat = now
	}
	wait := max(tat.Add(-b.Tolerance).Sub(now), 0)
	if wait > maxWait {
		return wait, false, nil
	}
	if len(m.tat) >= maxMemoryBuckets {
		for k, t := range m.tat {
			if !t.After(now) {
				delete(m.tat, k)
			}
		}
	}
	m.tat[key] = tat.Add(b.Interval)
	return wait, true, nil
}

// Hold implements Store.
func (m *Memory) Hold(_ context.Context, key string, ahead time.Duration) error {
	want := m.clk.Now().Add(ahead)
	m.mu.Lock()
	defer m.mu.Unlock()
	if want.After(m.tat[key]) {
		m.tat[key] = want
	}
	return nil
}
