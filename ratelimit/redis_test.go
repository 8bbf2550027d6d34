package ratelimit

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dune-mcp/dune-mcp/dune"
)

// startRedis runs a real redis-server on a free loopback port, without
// persistence, for the test's life, and returns a client to it. It skips
// the test when redis-server is not installed (CI installs it: .ci/run).
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (apt-get install redis-server): skipping the Redis store tests")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	t.Cleanup(func() { _ = rdb.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for rdb.Ping(ctx).Err() != nil {
		select {
		case <-ctx.Done():
			t.Fatal("redis-server did not answer within 10s")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return rdb
}

// near reports whether got is want within the time the test's own calls
// to Redis may have taken (the script reads the server's clock).
func near(got, want time.Duration) bool { return got <= want && got > want-2*time.Second }

// TestRedisReserveAndHold runs the walk of TestMemoryReserve on the Lua
// script, on the server's clock: a burst of 3 (a slot every 10 s), queued
// waits, refusals that take nothing, and a hold.
func TestRedisReserveAndHold(t *testing.T) {
	s := NewRedis(startRedis(t), "")
	ctx := context.Background()
	b := Bucket{Interval: 10 * time.Second, Tolerance: 20 * time.Second}
	step := func(maxWait, wantWait time.Duration, wantOK bool) {
		t.Helper()
		wait, ok, err := s.Reserve(ctx, "k:read", b, maxWait)
		if err != nil || ok != wantOK || !near(wait, wantWait) {
			t.Fatalf("Reserve(maxWait %v) = %v, %v, %v; want ≈%v, %v", maxWait, wait, ok, err, wantWait, wantOK)
		}
	}
	for range 3 {
		step(0, 0, true)
	}
	step(5*time.Second, 10*time.Second, false)
	step(15*time.Second, 10*time.Second, true)
	step(15*time.Second, 20*time.Second, false) // refused: took nothing
	step(25*time.Second, 20*time.Second, true)
	if err := s.Hold(ctx, "k:read", 90*time.Second); err != nil {
		t.Fatal(err)
	}
	step(time.Minute, 70*time.Second, false) // 90 s ahead less the 20 s tolerance
	if err := s.Hold(ctx, "k:read", time.Second); err != nil {
		t.Fatal(err)
	}
	step(time.Minute, 70*time.Second, false) // a shorter hold changes nothing
	wait, ok, err := s.Reserve(ctx, "other:read", b, 0)
	if err != nil || !ok || wait != 0 {
		t.Fatalf("another bucket: %v, %v, %v", wait, ok, err)
	}
}

// TestRedisReplicasShareOneBucket: three limiters, each with its own
// connection (three replicas), reserve 45 slots at once from one bucket. The
// slots they get are the bucket's, each taken once: sorted, the waits are
// the burst, then one interval apart.
func TestRedisReplicasShareOneBucket(t *testing.T) {
	first := startRedis(t)
	var limiters []*Limiter
	for range 3 {
		rdb := redis.NewClient(&redis.Options{Addr: first.Options().Addr})
		t.Cleanup(func() { rdb.Close() })
		limiters = append(limiters, New(Config{Quota: dune.Quota{Read: 40}, Store: NewRedis(rdb, "")}))
	}
	b, _ := BucketFor(40, time.Minute)
	var (
		mu    sync.Mutex
		waits []time.Duration
		wg    sync.WaitGroup
	)
	for i := range 45 {
		wg.Go(func() {
			w, ok, err := limiters[i%3].reserve(context.Background(), bucketName("fp", dune.ClassRead), b, time.Hour)
			if err != nil || !ok {
				t.Errorf("reserve: %v, %v", ok, err)
			}
			mu.Lock()
			waits = append(waits, w)
			mu.Unlock()
		})
	}
	wg.Wait()
	slices.Sort(waits)
	for i, w := range waits {
		want := max(0, time.Duration(i-3)*b.Interval) // slots 0-3: the burst of 4
		if !near(w, want) {
			t.Fatalf("slot %d: wait %v, want ≈%v (all: %v)", i, w, want, waits)
		}
	}
}
