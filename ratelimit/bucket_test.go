package ratelimit

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/internal/clock"
)

var t0 = time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC)

// TestBucketFor pins the arithmetic of the plans' buckets, worked out by
// hand: burst quota/10 (at least 1), one slot every (60 s + 2 s) / (quota −
// burst), rounded up to the nanosecond.
func TestBucketFor(t *testing.T) {
	for _, tc := range []struct {
		quota    int
		burst    int
		interval time.Duration
	}{
		{40, 4, 1722222223},      // Free read: 62 s / 36
		{15, 1, 4428571429},      // Free write: 62 s / 14
		{200, 20, 344444445},     // Plus read: 62 s / 180
		{70, 7, 984126985},       // Plus write: 62 s / 63
		{1000, 100, 68888889},    // Premium read: 62 s / 900
		{350, 35, 196825397},     // Premium write: 62 s / 315
		{1, 1, 62 * time.Second}, // one a minute
		{2, 1, 62 * time.Second}, // burst 1 plus one more in 62 s
	} {
		b, ok := BucketFor(tc.quota, time.Minute)
		if !ok || b.Interval != tc.interval || b.Burst() != tc.burst || b.Tolerance != time.Duration(tc.burst-1)*tc.interval {
			t.Errorf("BucketFor(%d) = %+v (burst %d), %v; want interval %v, burst %d", tc.quota, b, b.Burst(), ok, tc.interval, tc.burst)
		}
	}
	if _, ok := BucketFor(0, time.Minute); ok {
		t.Error("BucketFor(0) is a limit; want none")
	}
}

// TestMemoryReserve walks one Free read bucket through a burst, queued
// waits, a refusal that takes nothing, and a refill.
func TestMemoryReserve(t *testing.T) {
	clk := clock.NewJump(t0)
	m := NewMemory(clk)
	b, _ := BucketFor(40, time.Minute)
	ctx := context.Background()
	iv := b.Interval
	step := func(maxWait, wantWait time.Duration, wantOK bool) {
		t.Helper()
		wait, ok, err := m.Reserve(ctx, "k:read", b, maxWait)
		if err != nil || ok != wantOK || wait != wantWait {
			t.Fatalf("Reserve(maxWait %v) = %v, %v, %v; want %v, %v", maxWait, wait, ok, err, wantWait, wantOK)
		}
	}
	for range 4 { // the burst
		step(0, 0, true)
	}
	step(0, iv, false) // full: refused, nothing taken
	step(0, iv, false)
	step(5*time.Second, iv, true) // queued behind the burst
	step(5*time.Second, 2*iv, true)
	step(5*time.Second, 3*iv, false) // 5.17 s > 5 s
	step(6*time.Second, 3*iv, true)
	// Another key is another bucket.
	if wait, ok, _ := m.Reserve(ctx, "other:read", b, 0); !ok || wait != 0 {
		t.Fatalf("another key waited %v, %v", wait, ok)
	}
	clk.Advance(2 * time.Second)
	step(time.Minute, 4*iv-2*time.Second, true)
	// An hour later the bucket is full again: the burst passes at once.
	clk.Advance(time.Hour)
	for range 4 {
		step(0, 0, true)
	}
	step(0, iv, false)
}

// TestMemoryHold: Hold pushes the next slot out and never pulls it in.
func TestMemoryHold(t *testing.T) {
	clk := clock.NewJump(t0)
	m := NewMemory(clk)
	b, _ := BucketFor(40, time.Minute)
	ctx := context.Background()
	_ = m.Hold(ctx, "k", 30*time.Second+b.Tolerance) // as after `r=0;t=30`
	if wait, ok, _ := m.Reserve(ctx, "k", b, time.Minute); !ok || wait != 30*time.Second {
		t.Fatalf("after a 30 s hold: wait %v, %v; want 30s", wait, ok)
	}
	_ = m.Hold(ctx, "k", time.Second) // earlier than the bucket: no effect
	if wait, _, _ := m.Reserve(ctx, "k", b, time.Minute); wait != 30*time.Second+b.Interval {
		t.Fatalf("a shorter hold moved the bucket: wait %v", wait)
	}
}

// TestMemoryNeverExceedsQuota drives buckets with random arrivals and
// deadlines for simulated hours and checks, by counting admissions, that
// no span of a minute plus Skew holds more than the quota, and that a busy
// bucket uses at least 85% of it.
func TestMemoryNeverExceedsQuota(t *testing.T) {
	for _, quota := range []int{15, 40, 200} {
		clk := clock.NewJump(t0)
		m := NewMemory(clk)
		b, _ := BucketFor(quota, time.Minute)
		rng := rand.New(rand.NewPCG(uint64(quota), 7))
		var grants []time.Time
		end := t0.Add(2 * time.Hour)
		for clk.Now().Before(end) {
			clk.Advance(time.Duration(rng.IntN(int(2 * time.Minute / time.Duration(quota) / 3)))) // ~6× the quota
			maxWait := time.Duration(rng.IntN(int(20 * time.Second)))
			if wait, ok, _ := m.Reserve(context.Background(), "k", b, maxWait); ok {
				grants = append(grants, clk.Now().Add(wait))
			}
		}
		span := time.Minute + Skew
		lo := 0
		for hi, g := range grants {
			for !grants[lo].Add(span).After(g) {
				lo++
			}
			if n := hi - lo + 1; n > quota {
				t.Fatalf("quota %d: %d admissions in the %v from %v", quota, n, span, grants[lo])
			}
		}
		perMinute := float64(len(grants)) / end.Sub(t0).Minutes()
		if perMinute < 0.85*float64(quota) {
			t.Errorf("quota %d: only %.1f admissions a minute under load", quota, perMinute)
		}
		t.Logf("quota %d: %.1f admissions a minute", quota, perMinute)
	}
}
