package ratelimit_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/redisconn"
	"github.com/dune-mcp/dune-mcp/internal/testio"
	"github.com/dune-mcp/dune-mcp/metrics"
	"github.com/dune-mcp/dune-mcp/ratelimit"
)

// node is one dune-mcp process's client against an emulator with Free-plan
// limits, both on one jumping clock: the limiter's waits take no time and
// the emulator counts them as passed.
func node(t *testing.T, limiter func(clk clock.Clock) dune.Limiter) (*dune.Client, *emulator.Server, *clock.Jump) {
	t.Helper()
	clk := clock.NewJump(time.Now())
	free, _ := emulator.PlanRateLimits(dune.PlanFree)
	emu := emulator.NewServer(emulator.WithClock(clk.Now), emulator.WithRateLimits(free))
	t.Cleanup(emu.Close)
	emu.AddQuery(1001, emulator.Tiny())
	cfg := dune.Config{BaseURL: emu.URL, APIKey: emulator.DefaultAPIKey, Retry: dune.RetryPolicy{MaxAttempts: 1}}
	if limiter != nil {
		cfg.Limiter = limiter(clk)
	}
	return dune.NewClient(cfg), emu, clk
}

// TestOneNodeStaysUnderFreeLimits: 200 reads in a row, five minutes' worth
// of the Free plan's 40 a minute, all succeed without one 429 when the
// in-process limiter paces them; without it the emulator refuses most.
func TestOneNodeStaysUnderFreeLimits(t *testing.T) {
	q, _ := dune.PlanQuota(dune.PlanFree)
	c, emu, clk := node(t, func(clk clock.Clock) dune.Limiter { return ratelimit.New(ratelimit.Config{Quota: q, Clock: clk}) })
	start := clk.Now()
	for i := range 200 {
		if _, err := c.GetLatestResult(context.Background(), 1001, dune.Options{Limit: 1}); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	if st := emu.Stats(); st.RateLimited != 0 || st.Requests != 200 {
		t.Fatalf("emulator: %d requests, %d refused with 429; want 200, 0", st.Requests, st.RateLimited)
	}
	perMinute := 200 / clk.Now().Sub(start).Minutes()
	if perMinute > 40 || perMinute < 34 {
		t.Fatalf("paced at %.1f reads a minute; want within [34, 40] (Free: 40)", perMinute)
	}

	bare, emu2, _ := node(t, nil)
	refused := 0
	for range 200 {
		_, err := bare.GetLatestResult(context.Background(), 1001, dune.Options{Limit: 1})
		var ae *dune.APIError
		if errors.As(err, &ae) && ae.StatusCode == http.StatusTooManyRequests {
			refused++
		}
	}
	if refused != 160 || emu2.Stats().RateLimited != 160 {
		t.Fatalf("without a limiter: %d 429s (emulator counted %d); want 160 (200 − 40)", refused, emu2.Stats().RateLimited)
	}
}

// TestWaitPastDeadlineIsThrottled: once the burst is spent, a request whose
// slot lies beyond its deadline is not sent and says when to retry.
func TestWaitPastDeadlineIsThrottled(t *testing.T) {
	m := metrics.New()
	q, _ := dune.PlanQuota(dune.PlanFree)
	c, emu, _ := node(t, func(clk clock.Clock) dune.Limiter {
		return ratelimit.New(ratelimit.Config{Quota: q, Clock: clk, Metrics: m})
	})
	for i := range 4 { // the burst: no wait
		if _, err := c.GetLatestResult(context.Background(), 1001, dune.Options{Limit: 1}); err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
	}
	// The next slot is 1.5 s away; with 1 s left (less the reserve to
	// send), it is out of reach; a starved machine only leaves less time.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := c.GetLatestResult(ctx, 1001, dune.Options{Limit: 1})
	var te *dune.ThrottledError
	if !errors.As(err, &te) {
		t.Fatalf("5th read within 1s: %v; want a *dune.ThrottledError", err)
	}
	b, _ := ratelimit.BucketFor(40, time.Minute)
	if te.Class != dune.ClassRead || te.Limit != 40 || te.RetryAfter != b.Interval {
		t.Fatalf("ThrottledError %+v; want read, 40 a minute, retry after %v", te, b.Interval)
	}
	if n := emu.Stats().Requests; n != 4 {
		t.Fatalf("emulator saw %d requests; want 4 (the throttled one is not sent)", n)
	}
	if got := counter(t, m, "dune_mcp_ratelimit_refused_total"); got != 1 {
		t.Fatalf("ratelimit_refused_total = %v; want 1", got)
	}
}

// TestHeadersAdjust: the RateLimit-Policy of an answer replaces the plan's
// guess (but not an explicit ceiling), and RateLimit r=0 holds the bucket
// until the reset.
func TestHeadersAdjust(t *testing.T) {
	jc := clock.NewJump(time.Now())
	ctx := context.Background()
	req := dune.Request{Class: dune.ClassRead, Key: "fp"}
	plus := http.Header{"Ratelimit-Policy": {`"ip";q=1000;w=1, "read";q=200;w=60`}}
	b200, _ := ratelimit.BucketFor(200, time.Minute)

	// A Free guess, then Dune says the key is Plus: 20 at once, not 4.
	l := ratelimit.New(ratelimit.Config{Quota: dune.Quota{Read: 40, Write: 15}, Clock: jc})
	l.Observe(req, 200, plus)
	if n := burst(ctx, l, jc, req); n != b200.Burst() {
		t.Fatalf("after a q=200 policy: burst of %d; want %d", n, b200.Burst())
	}
	// An explicit ceiling of 40 stays.
	l = ratelimit.New(ratelimit.Config{Quota: dune.Quota{Read: 40}, FixedRead: true, Clock: jc})
	l.Observe(req, 200, plus)
	if n := burst(ctx, l, jc, req); n != 4 {
		t.Fatalf("--dune-rpm-read 40 and a q=200 policy: burst of %d; want 4", n)
	}
	// r=0;t=30: the next request waits until the reset.
	clk := clock.NewJump(time.Now())
	l = ratelimit.New(ratelimit.Config{Quota: dune.Quota{Read: 40}, Clock: clk})
	l.Observe(req, 200, http.Header{"Ratelimit": {`"read";r=0;t=30`}})
	before := clk.Now()
	if err := l.Wait(ctx, req); err != nil || clk.Now().Sub(before) != 30*time.Second {
		t.Fatalf("after r=0;t=30: waited %v (%v); want 30s", clk.Now().Sub(before), err)
	}
	// A 429's Retry-After likewise.
	l = ratelimit.New(ratelimit.Config{Quota: dune.Quota{Read: 40}, Clock: clk})
	l.Observe(req, 429, http.Header{"Retry-After": {"12"}})
	before = clk.Now()
	if err := l.Wait(ctx, req); err != nil || clk.Now().Sub(before) != 12*time.Second {
		t.Fatalf("after a 429 with Retry-After 12: waited %v (%v); want 12s", clk.Now().Sub(before), err)
	}
	// Without a plan, requests pass until Dune's first answer gives the
	// limit; then the bucket pays for them: 3 sent, 1 left of the burst.
	l = ratelimit.New(ratelimit.Config{Clock: jc})
	for i := range 3 {
		if err := l.Wait(ctx, req); err != nil {
			t.Fatalf("unlimited request %d: %v", i, err)
		}
	}
	l.Observe(req, 200, http.Header{"Ratelimit-Policy": {`"read";q=40;w=60`}})
	if n := burst(ctx, l, jc, req); n != 1 {
		t.Fatalf("after 3 unpaced requests and a q=40 policy: burst of %d; want 1 (4 − 3)", n)
	}
	// A write policy does not limit reads.
	l = ratelimit.New(ratelimit.Config{Quota: dune.Quota{Read: 40}, Clock: jc})
	l.Observe(req, 200, http.Header{"Ratelimit-Policy": {`"write";q=15;w=60`}})
	if n := burst(ctx, l, jc, req); n != 4 {
		t.Fatalf("a write policy changed the read bucket: burst %d", n)
	}
}

// TestFixedZeroIsOff: --dune-rpm-read 0 turns the read limit off.
func TestFixedZeroIsOff(t *testing.T) {
	jc := clock.NewJump(time.Now())
	l := ratelimit.New(ratelimit.Config{Quota: dune.Quota{Write: 15}, FixedRead: true, Clock: jc})
	if n := burst(context.Background(), l, jc, dune.Request{Class: dune.ClassRead, Key: "fp"}); n != 1000 {
		t.Fatalf("read limit off: %d passed at once; want all 1000", n)
	}
}

// TestRedisDownFallsBackInProcess: with Redis unreachable from the start
// the limiter still limits, in this process, and sends Redis nothing while
// the connection leaves it alone: the one error counted is the
// connection's first PING, and the limiter logs nothing of its own.
func TestRedisDownFallsBackInProcess(t *testing.T) {
	jc := clock.NewJump(time.Now())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	m := metrics.New()
	logs := &testio.SyncBuffer{}
	conn, err := redisconn.Open(context.Background(), "redis://"+addr+"/0",
		redisconn.Options{Logger: zerolog.New(logs), RetryAfter: time.Hour, OnErrorOf: m.RedisError})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	l := ratelimit.New(ratelimit.Config{Quota: dune.Quota{Read: 40}, Store: ratelimit.NewRedis(conn, ""), Clock: jc, Metrics: m})
	if n := burst(context.Background(), l, jc, dune.Request{Class: dune.ClassRead, Key: "fp"}); n != 4 {
		t.Fatalf("Redis down: burst of %d; want the in-process bucket's 4", n)
	}
	if got := counter(t, m, "dune_mcp_redis_errors_total"); got != 1 || conn.Errors() != 1 {
		t.Fatalf("redis_errors_total = %v, Conn.Errors %d; want 1 (Open's PING; then Redis is left alone)", got, conn.Errors())
	}
	if n := strings.Count(logs.String(), `"level":"warn"`); n != 1 || !strings.Contains(logs.String(), "redis unavailable") {
		t.Fatalf("%d warnings; want the connection's one:\n%s", n, logs.String())
	}
}

// burst counts the requests the limiter lets through without waiting (up
// to 1000) on clk.
func burst(ctx context.Context, l *ratelimit.Limiter, clk *clock.Jump, r dune.Request) int {
	dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	for n := range 1000 {
		before := clk.Now()
		if l.Wait(dctx, r) != nil || clk.Now() != before {
			return n
		}
	}
	return 1000
}

// counter reads the sum of a counter family from the registry.
func counter(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range fams {
		if f.GetName() == name {
			for _, mt := range f.GetMetric() {
				sum += mt.GetCounter().GetValue()
			}
		}
	}
	return sum
}
