// Package clock is the time that waits are measured in: the wall clock in
// production, and in tests a clock that jumps instead of sleeping (so that an
// emulated execution of minutes is waited for in no time).
package clock

import (
	"context"
	"sync"
	"time"
)

// Clock tells the time and waits.
type Clock interface {
	Now() time.Time
	// Sleep waits d, or until ctx ends (returning ctx's error).
	Sleep(ctx context.Context, d time.Duration) error
}

// Wall is the wall clock.
type Wall struct{}

// Now returns time.Now().
func (Wall) Now() time.Time { return time.Now() }

// Sleep waits d on a timer, or until ctx ends.
func (Wall) Sleep(ctx context.Context, d time.Duration) error { return Sleep(ctx, d) }

// Sleep waits d, or until ctx ends (returning its error). A d ≤ 0 returns
// at once, with ctx's error if it has ended.
func Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Jump is a clock for tests: Sleep moves its time forward at once instead of
// waiting, so an emulated wait of minutes takes no time. Share one Jump
// between the code under test and the Dune emulator (emulator.WithClock) to
// run executions through their states deterministically. Safe for concurrent
// use.
type Jump struct {
	mu sync.Mutex
	t  time.Time
}

// NewJump returns a Jump clock showing t.
func NewJump(t time.Time) *Jump { return &Jump{t: t} }

// Now returns the clock's time.
func (c *Jump) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Sleep moves the clock d forward, unless ctx has ended.
func (c *Jump) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	c.Advance(d)
	return nil
}

// Advance moves the clock d forward.
func (c *Jump) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(max(d, 0))
	c.mu.Unlock()
}
