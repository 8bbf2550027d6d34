package ratelimit

import (
	"context"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/internal/redisconn"
	"github.com/dune-mcp/dune-mcp/internal/redistest"
	"github.com/dune-mcp/dune-mcp/internal/testio"
	"github.com/dune-mcp/dune-mcp/metrics"
)

// startRedis runs a real server of kind k (redis-server or valkey-server)
// on a free loopback port, without persistence, for the test's life, and
// returns it with a connection to it as serve opens one (redistest skips
// or, in CI, fails the test when the server is not installed).
func startRedis(t *testing.T, k redistest.Kind) (*redistest.Server, *redisconn.Conn) {
	t.Helper()
	srv := redistest.StartKind(t, k)
	return srv, openConn(t, srv, io.Discard, redisconn.Options{})
}

// openConn opens a connection to srv as serve does, logging to logs.
func openConn(t *testing.T, srv *redistest.Server, logs io.Writer, o redisconn.Options) *redisconn.Conn {
	t.Helper()
	o.Logger = zerolog.New(logs)
	c, err := redisconn.Open(context.Background(), srv.URL(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
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
	redistest.Each(t, testRedisReserveAndHold)
}

func testRedisReserveAndHold(t *testing.T, k redistest.Kind) {
	_, conn := startRedis(t, k)
	s := NewRedis(conn, "")
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
	redistest.Each(t, testRedisReplicasShareOneBucket)
}

func testRedisReplicasShareOneBucket(t *testing.T, k redistest.Kind) {
	srv := redistest.StartKind(t, k)
	var (
		limiters []*Limiter
		conns    []*redisconn.Conn
	)
	for range 3 {
		conn := openConn(t, srv, io.Discard, redisconn.Options{})
		conns = append(conns, conn)
		limiters = append(limiters, New(Config{Quota: dune.Quota{Read: 40}, Store: NewRedis(conn, "")}))
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
			t.Fatalf("slot %d: wait %v, want ≈%v (all: %v; failed Redis commands, which fall back in-process: %d %d %d)",
				i, w, want, waits, conns[0].Errors(), conns[1].Errors(), conns[2].Errors())
		}
	}
}

// TestRedisSlowReplyFallsBackQuietly: Redis paused (SIGSTOP: it accepts
// connections and answers nothing, as a starved server would) during
// limiter calls. The first call's script runs out of the connection's time
// and the call limits in this process; the connection's probe waits for a
// PING meanwhile, so the next calls skip Redis and limit in this process
// too. Redis resumes, the PING answers: no warning from anyone (a slow reply
// is not an outage), one error counted for the rate limiter, and the
// limiter uses Redis again.
func TestRedisSlowReplyFallsBackQuietly(t *testing.T) {
	redistest.Each(t, testRedisSlowReplyFallsBackQuietly)
}

func testRedisSlowReplyFallsBackQuietly(t *testing.T, k redistest.Kind) {
	srv := redistest.StartKind(t, k)
	logs := &testio.SyncBuffer{}
	m := metrics.New()
	probed := make(chan bool, 8)
	conn := openConn(t, srv, logs, redisconn.Options{ProbeTimeout: time.Minute, OnErrorOf: m.RedisError,
		OnProbe: func(up bool) { probed <- up }})
	clk := clock.NewJump(time.Now())
	l := New(Config{Quota: dune.Quota{Read: 40}, Store: NewRedis(conn, ""), Clock: clk, Metrics: m})
	ctx := context.Background()
	inRedis := func(fp string) bool {
		return conn.Client().Exists(ctx, DefaultRedisPrefix+bucketName(fp, dune.ClassRead)).Val() == 1
	}
	passes := func(fp string) error { // Wait lets the request through at once
		t.Helper()
		before := clk.Now()
		err := l.Wait(ctx, dune.Request{Class: dune.ClassRead, Key: fp})
		if err == nil && clk.Now() != before {
			t.Fatalf("%s: waited %v; want none", fp, clk.Now().Sub(before))
		}
		return err
	}

	if err := passes("fp"); err != nil || !inRedis("fp") {
		t.Fatalf("Redis up: %v, bucket in Redis %v", err, inRedis("fp"))
	}
	srv.Pause()
	// Four more requests on the bucket: five in all, more than Free's burst
	// of 4 in one bucket, so they pass at once only on a fresh one, this
	// process's (the paused Redis answers nothing).
	for i := range 4 {
		if err := passes("fp"); err != nil {
			t.Fatalf("Redis paused, request %d: %v", i, err)
		}
	}
	srv.Resume()
	if up := probeOutcome(t, probed); !up {
		t.Fatalf("the probe failed although Redis resumed; logs:\n%s", logs.String())
	}
	if err := passes("fp2"); err != nil || !inRedis("fp2") {
		t.Fatalf("after the probe answered: %v, bucket in Redis %v", err, inRedis("fp2"))
	}
	if n := warnings(logs.String()); n != 0 || strings.Contains(logs.String(), "redis is back") {
		t.Errorf("a slow reply was logged as an outage (%d warnings):\n%s", n, logs.String())
	}
	if got := redisErrorsOf(t, m); got["ratelimit"] != 1 || len(got) != 1 {
		t.Errorf("redis_errors_total by op = %v; want ratelimit 1 (the timed-out script; the others skipped Redis)", got)
	}
}

// TestRedisKilledOneWarningThenShared: one connection serves the page cache
// and two limiters (as in serve). Redis is killed: the cache's miss starts
// the probe, which fails, so the connection logs the outage once; the
// limiters' calls keep passing, in this process, with no warning of their
// own. Redis restarts empty: the next command logs that it is back, and the
// two limiters share one bucket again (the scripts, gone with the restart,
// are sent again: that NOSCRIPT is no error).
func TestRedisKilledOneWarningThenShared(t *testing.T) {
	redistest.Each(t, testRedisKilledOneWarningThenShared)
}

func testRedisKilledOneWarningThenShared(t *testing.T, k redistest.Kind) {
	srv := redistest.StartKind(t, k)
	logs := &testio.SyncBuffer{}
	m := metrics.New()
	probed := make(chan bool, 8)
	// RetryAfter 1 ns: while down, every command is tried (and fails at
	// once: the port refuses), so the first one after the restart reaches
	// Redis. The test sends few of them: after as many dial errors as the
	// pool has connections (10 a CPU), go-redis would refuse to dial for up
	// to a second.
	conn := openConn(t, srv, logs, redisconn.Options{RetryAfter: time.Nanosecond, OnErrorOf: m.RedisError,
		OnProbe: func(up bool) { probed <- up }})
	clk := clock.NewJump(time.Now())
	a := New(Config{Quota: dune.Quota{Read: 40}, Store: NewRedis(conn, ""), Clock: clk, Metrics: m})
	b := New(Config{Quota: dune.Quota{Read: 40}, Store: NewRedis(conn, ""), Clock: clk, Metrics: m})
	ctx := context.Background()
	interval := func() time.Duration { bk, _ := BucketFor(40, time.Minute); return bk.Interval }()
	wait := func(l *Limiter, fp string) (time.Duration, error) {
		before := clk.Now()
		err := l.Wait(ctx, dune.Request{Class: dune.ClassRead, Key: fp})
		return clk.Now().Sub(before), err
	}
	// shareOneBucket: a and b take Free's burst of 4 together, 2 each at
	// once; b's next request waits for the next slot. On buckets of their
	// own, b would have 2 more at once.
	shareOneBucket := func(when, fp string) {
		t.Helper()
		began := time.Now()
		for i, l := range []*Limiter{a, a, b, b} {
			if w, err := wait(l, fp); err != nil || w != 0 {
				t.Fatalf("%s: request %d waited %v (%v); want none (the burst)", when, i, w, err)
			}
		}
		if w, err := wait(b, fp); err != nil || !near(w, interval, began) {
			t.Fatalf("%s: 5th request on the bucket waited %v (%v); want ≈%v (a and b share one bucket)", when, w, err, interval)
		}
	}

	shareOneBucket("Redis up", "fp1")
	conn.Set(ctx, "page", []byte("rows"), time.Minute)
	srv.Stop()
	if _, ok := conn.Get(ctx, "page"); ok {
		t.Fatal("the cache read a page from a killed Redis")
	}
	if up := probeOutcome(t, probed); up {
		t.Fatal("the probe of a killed Redis says it answered")
	}
	for i, l := range []*Limiter{a, b} { // each on its own bucket now: at once
		if w, err := wait(l, "fp2"); err != nil || w != 0 {
			t.Fatalf("Redis down, limiter %d: waited %v (%v); want none (its own burst)", i, w, err)
		}
	}
	if _, ok := conn.Get(ctx, "page"); ok {
		t.Fatal("the cache read a page from a killed Redis")
	}
	if n := warnings(logs.String()); n != 1 || strings.Count(logs.String(), "redis unavailable") != 1 {
		t.Fatalf("Redis killed: %d warnings; want exactly one, 'redis unavailable':\n%s", n, logs.String())
	}
	// The cache's Get, the probe it started, its second Get; the two
	// limiters' scripts, each tried.
	if got := redisErrorsOf(t, m); got["cache"] != 3 || got["ratelimit"] != 2 || len(got) != 2 {
		t.Errorf("redis_errors_total by op = %v; want cache 3, ratelimit 2", got)
	}

	srv.Start() // empty: no buckets, no scripts
	shareOneBucket("Redis back", "fp3")
	if n := strings.Count(logs.String(), "redis is back"); n != 1 || warnings(logs.String()) != 1 {
		t.Errorf("Redis back: %d 'redis is back' lines, %d warnings; want 1 and 1:\n%s", n, warnings(logs.String()), logs.String())
	}
	if got := redisErrorsOf(t, m); got["cache"] != 3 || got["ratelimit"] != 2 {
		t.Errorf("redis_errors_total by op = %v after the restart; want no more (cache 3, ratelimit 2)", got)
	}
	if b, ok := conn.Get(ctx, "page"); ok {
		t.Errorf("the restarted Redis holds page %q; want it empty (no persistence)", b)
	}
}

// probeOutcome returns the outcome of the connection's next probe.
func probeOutcome(t *testing.T, probed <-chan bool) bool {
	t.Helper()
	select {
	case up := <-probed:
		return up
	case <-time.After(2 * time.Minute): // a failure bound: probes here end within a minute
		t.Fatal("no probe outcome: no failed command started a probe")
		return false
	}
}

// warnings counts the log lines at warning level or above.
func warnings(logs string) int {
	return strings.Count(logs, `"level":"warn"`) + strings.Count(logs, `"level":"error"`)
}

// redisErrorsOf returns dune_mcp_redis_errors_total by its op label.
func redisErrorsOf(t *testing.T, m *metrics.Metrics) map[string]float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, f := range fams {
		if f.GetName() != "dune_mcp_redis_errors_total" {
			continue
		}
		for _, mt := range f.GetMetric() {
			for _, lp := range mt.GetLabel() {
				if lp.GetName() == "op" {
					got[lp.GetValue()] += mt.GetCounter().GetValue()
				}
			}
		}
	}
	return got
}
