package ratelimit

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/internal/redistest"
	"github.com/dune-mcp/dune-mcp/metrics"
)

// startRedis runs a real server of kind k (redis-server or valkey-server)
// on a free loopback port, without persistence, for the test's life, and
// returns it with a client to it (redistest skips or, in CI, fails the test
// when the server is not installed).
func startRedis(t *testing.T, k redistest.Kind) (*redistest.Server, *redis.Client) {
	t.Helper()
	srv := redistest.StartKind(t, k)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
	t.Cleanup(func() { _ = rdb.Close() })
	return srv, rdb
}

// near reports whether got is want within the time the test's own calls
// to Redis may have taken (the script reads the server's clock).
func near(got, want time.Duration) bool { return got <= want && got > want-2*time.Second }

// TestRedisReserveAndHold runs the walk of TestMemoryReserve on the Lua
// script, on the server's clock: a burst of 3 (a slot every 10 s), queued
// waits, refusals that take nothing, and a hold.
func TestRedisReserveAndHold(t *testing.T) {
	redistest.Each(t, testRedisReserveAndHold)
}

func testRedisReserveAndHold(t *testing.T, k redistest.Kind) {
	_, rdb := startRedis(t, k)
	s := NewRedis(rdb, "")
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
	redistest.Each(t, testRedisReplicasShareOneBucket)
}

func testRedisReplicasShareOneBucket(t *testing.T, k redistest.Kind) {
	srv, _ := startRedis(t, k)
	var limiters []*Limiter
	for range 3 {
		rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, DisableIdentity: true})
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

// TestRedisOutageAndRecovery: the limiter keeps limiting in this process
// while Redis is down (counting the error once), and goes back to the
// shared bucket once Redis answers again.
func TestRedisOutageAndRecovery(t *testing.T) {
	redistest.Each(t, testRedisOutageAndRecovery)
}

func testRedisOutageAndRecovery(t *testing.T, k redistest.Kind) {
	srv := redistest.StartKind(t, k)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr, MaxRetries: -1, DisableIdentity: true})
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
	srv.Stop()
	for i := range 3 { // the in-process bucket: 3 more of the burst of 4, no wait
		before := clk.Now()
		if err := l.Wait(ctx, req); err != nil || clk.Now() != before {
			t.Fatalf("Redis down, request %d: %v, waited %v", i, err, clk.Now().Sub(before))
		}
	}
	if n := redisErrors(t, m); n != 1 {
		t.Fatalf("redis_errors_total = %v; want 1 (the store is skipped for %v after a failure)", n, storeRetry)
	}
	srv.Start() // back, empty
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
