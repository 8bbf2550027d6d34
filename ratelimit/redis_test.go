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
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/metrics"
)

// startRedis runs a real redis-server on a free loopback port, without
// persistence, for the test's life, and returns a client to it. It skips
// the test when redis-server is not installed (CI installs it: .ci/run).
func startRedis(t *testing.T) *redis.Client {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	runRedis(t, port)
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	t.Cleanup(func() { _ = rdb.Close() })
	return rdb
}

// runRedis starts redis-server on port, waits until it answers, and returns
// a function that kills it (also called at cleanup).
func runRedis(t *testing.T, port int) (kill func()) {
	t.Helper()
	path, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (apt-get install redis-server): skipping the Redis store tests")
	}
	cmd := exec.Command(path, "--port", strconv.Itoa(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill = func() { once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) }
	t.Cleanup(kill)
	probe := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port)})
	defer probe.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for probe.Ping(ctx).Err() != nil {
		select {
		case <-ctx.Done():
			t.Fatal("redis-server did not answer within 10s")
		case <-time.After(20 * time.Millisecond): // polling a child process, not synchronising goroutines
		}
	}
	return kill
}

// near reports whether got is want less at most the time the test has
// spent since began (the script reads the server's clock, which moves on
// while the test runs): no fixed margin, so a slow machine is no failure.
func near(got, want time.Duration, began time.Time) bool {
	return got <= want && got >= want-time.Since(began)
}

// TestRedisReserveAndHold runs the walk of TestMemoryReserve on the Lua
// script, on the server's clock: a burst of 3 (a slot every 10 s), queued
// waits, refusals that take nothing, and a hold.
func TestRedisReserveAndHold(t *testing.T) {
	s := NewRedis(startRedis(t), "")
	ctx := context.Background()
	b := Bucket{Interval: 10 * time.Second, Tolerance: 20 * time.Second}
	began := time.Now()
	step := func(maxWait, wantWait time.Duration, wantOK bool) {
		t.Helper()
		wait, ok, err := s.Reserve(ctx, "k:read", b, maxWait)
		if err != nil || ok != wantOK || !near(wait, wantWait, began) {
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
	began := time.Now()
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
		if !near(w, want, began) {
			t.Fatalf("slot %d: wait %v, want ≈%v (all: %v)", i, w, want, waits)
		}
	}
}

// TestRedisOutageAndRecovery: the limiter keeps limiting in this process
// while Redis is down (counting the error once), and goes back to the
// shared bucket once Redis answers again.
func TestRedisOutageAndRecovery(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	kill := runRedis(t, port)
	rdb := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
	t.Cleanup(func() { rdb.Close() })
	clk := clock.NewJump(time.Now())
	m := metrics.New()
	l := New(Config{Quota: dune.Quota{Read: 40}, Store: NewRedis(rdb, ""), Clock: clk, Metrics: m})
	ctx := context.Background()
	req := dune.Request{Class: dune.ClassRead, Key: "fp"}
	key := DefaultRedisPrefix + bucketName("fp", dune.ClassRead)
	inRedis := func() bool { return rdb.Exists(ctx, key).Val() == 1 }

	if err := l.Wait(ctx, req); err != nil || !inRedis() {
		t.Fatalf("Redis up: %v, bucket in Redis %v", err, inRedis())
	}
	kill()
	for i := range 3 { // the in-process bucket: 3 more of the burst of 4, no wait
		before := clk.Now()
		if err := l.Wait(ctx, req); err != nil || clk.Now() != before {
			t.Fatalf("Redis down, request %d: %v, waited %v", i, err, clk.Now().Sub(before))
		}
	}
	if n := redisErrors(t, m); n != 1 {
		t.Fatalf("redis_errors_total = %v; want 1 (the store is skipped for %v after a failure)", n, storeRetry)
	}
	runRedis(t, port) // back, empty
	clk.Advance(storeRetry)
	if err := l.Wait(ctx, req); err != nil || !inRedis() {
		t.Fatalf("Redis back: %v, bucket in Redis %v", err, inRedis())
	}
}

func redisErrors(t *testing.T, m *metrics.Metrics) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "dune_mcp_redis_errors_total" {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
	}
	return 0
}
