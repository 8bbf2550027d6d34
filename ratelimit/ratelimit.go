// Package ratelimit keeps dune-mcp under Dune's rate limits: a bucket per
// API key (fingerprint) and endpoint class (read, write), shared by every
// replica through Redis when one is configured, in-process otherwise. A
// *Limiter is the dune.Limiter that dune.Client calls before every HTTP
// attempt.
//
// # The bucket
//
// GCRA (the generic cell rate algorithm, a token bucket kept as one
// timestamp, the "theoretical arrival time"), in its reserving form: a
// request takes the next free slot and sleeps until it, so callers queue in
// order instead of polling, and one that would wait past its deadline takes
// nothing and is told when to come back (*dune.ThrottledError).
//
// For a quota of q requests per window w (Dune's "40 per minute"), the
// bucket holds b = max(1, q/10) slots and refills one every
// (w + Skew) / (q − b). Any span of w + Skew then admits at most q requests,
// so Dune, counting over w, never sees more than q even when the requests
// reach it up to Skew later or earlier than they were admitted. The price
// is about 13% of the published rate on a busy key (34.8 of Free's 40 reads
// a minute): the burst's tenth, and 2 s in 62.
//
// # Why not a library
//
// golang.org/x/time/rate reserves but keeps its state in one process;
// github.com/go-redis/redis_rate shares it in Redis but only answers
// "allowed now / retry in d", so replicas poll and the queue is not fair,
// and neither can follow Dune's headers (a RateLimit "r=0" must stop every
// replica at once). The algorithm is a dozen lines, written twice over the
// same arithmetic: in Go (Memory) and in a Lua script run atomically by
// Redis on its own clock (Redis), tested against the same table.
//
// # Dune's headers
//
// Observe reads every answer: a RateLimit-Policy `"read";q=200;w=60` sets the
// key's quota for that class (the plan given on the command line is only a
// starting guess; limits given explicitly are ceilings the header can lower
// but not raise; without either, requests pass until the first answer, and
// the bucket then takes a slot for each of them); a RateLimit `"read";r=1;t=20` with fewer requests
// remaining than the bucket would allow at once drains the bucket to match,
// and r=0 (or a 429's Retry-After) holds the class until the reset.
//
// # Redis unavailable
//
// A Redis failure never fails a request: an operation the shared store
// cannot do (Redis slow, down, or left alone meanwhile) is done on this
// process's buckets instead, for that request only, and the next one asks
// Redis again. When Redis counts as down, and when it is back, is not the
// limiter's to decide: the store's scripts go through the process's one
// connection (internal/redisconn), whose rule covers the page cache, the
// executions and the limits at once, with one warning per outage and the
// errors counted under "ratelimit". While it lasts each replica limits on
// its own, so N replicas may together send up to N times a key's rate.
package ratelimit

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/metrics"
)

// Skew is the spread between when a request is admitted and when Dune
// counts it that the bucket absorbs (see the package doc).
const Skew = 2 * time.Second

// Bucket is the arithmetic of one GCRA bucket: a slot every Interval, and
// Tolerance = (burst − 1) × Interval of slack (burst slots at once).
type Bucket struct {
	Interval  time.Duration
	Tolerance time.Duration
}

// Burst is how many requests the bucket admits at once when it is full.
func (b Bucket) Burst() int { return int(b.Tolerance/b.Interval) + 1 }

// BucketFor returns the bucket that keeps any span of window + Skew within
// quota requests: burst max(1, quota/10), one slot every
// (window + Skew) / (quota − burst). ok is false for a quota < 1 (no limit).
func BucketFor(quota int, window time.Duration) (b Bucket, ok bool) {
	if quota < 1 || window <= 0 {
		return Bucket{}, false
	}
	burst := max(1, quota/10)
	span := window + Skew
	if quota == 1 {
		return Bucket{Interval: span}, true
	}
	iv := span / time.Duration(quota-burst)
	if span%time.Duration(quota-burst) != 0 {
		iv++ // round up: never faster than the quota
	}
	return Bucket{Interval: iv, Tolerance: time.Duration(burst-1) * iv}, true
}

// Store keeps the buckets' state: Memory for one process, Redis for
// replicas.
type Store interface {
	// Reserve takes the next slot of bucket key and returns how long until
	// it. When that is longer than maxWait it takes nothing and returns
	// false with the wait.
	Reserve(ctx context.Context, key string, b Bucket, maxWait time.Duration) (wait time.Duration, ok bool, err error)
	// Hold makes the next slot of bucket key come no earlier than ahead
	// from now, ahead already including b's tolerance (see hold).
	Hold(ctx context.Context, key string, ahead time.Duration) error
}

// Config configures a Limiter.
type Config struct {
	// Quota is the starting limit of each class, requests per minute:
	// a plan's (dune.PlanQuota) or given explicitly. 0 means no limit.
	Quota dune.Quota
	// FixedRead and FixedWrite mark quotas given explicitly: Dune's
	// RateLimit-Policy may lower them, never raise them, and a fixed 0
	// stays off.
	FixedRead, FixedWrite bool
	// Store holds the buckets; nil keeps them in this process (Memory).
	// With a shared store (Redis), an operation that fails is done on this
	// process's buckets instead, that time (see the package doc).
	Store Store
	// Clock is what waits are slept on (nil: the wall clock).
	Clock clock.Clock
	// Metrics records waits, refusals and adjustments (nil: none).
	Metrics *metrics.Metrics
}

// Limiter is a dune.Limiter. It is safe for concurrent use.
type Limiter struct {
	cfg   Config
	clk   clock.Clock
	local *Memory

	mu      sync.Mutex
	learned map[string]dune.RateLimitPolicy // by bucket name: Dune's policy for that key and class
	unpaced map[string]int                  // by bucket name: requests sent before any limit was known
}

// maxLearned bounds the policies remembered (one per key and class).
const maxLearned = 10000

// New returns a limiter for cfg.
func New(cfg Config) *Limiter {
	clk := cfg.Clock
	if clk == nil {
		clk = clock.Wall{}
	}
	return &Limiter{cfg: cfg, clk: clk, local: NewMemory(clk), learned: map[string]dune.RateLimitPolicy{}, unpaced: map[string]int{}}
}

// bucketName names the bucket of a key fingerprint and class.
func bucketName(key string, c dune.Class) string { return key + ":" + string(c) }

// policy returns the limit in force for a key and class; ok is false when
// the class is not limited.
func (l *Limiter) policy(name string, c dune.Class) (p dune.RateLimitPolicy, ok bool) {
	configured := l.cfg.Quota.For(c)
	fixed := l.cfg.FixedRead
	if c == dune.ClassWrite {
		fixed = l.cfg.FixedWrite
	}
	if fixed && configured == 0 {
		return p, false
	}
	p = dune.RateLimitPolicy{Name: string(c), Quota: configured, Window: dune.RateWindow}
	l.mu.Lock()
	got, seen := l.learned[name]
	l.mu.Unlock()
	switch {
	case !seen:
	case !fixed || configured == 0:
		p = got
	case got.Quota*int(p.Window/time.Second) < configured*int(got.Window/time.Second): // Dune's is the lower rate
		p = got
	}
	return p, p.Quota > 0
}

// untilTold reports whether class c has no limit until Dune's headers give
// one: no quota configured (a fixed 0 stays off).
func (l *Limiter) untilTold(c dune.Class) bool {
	if c == dune.ClassWrite {
		return l.cfg.Quota.Write == 0 && !l.cfg.FixedWrite
	}
	return l.cfg.Quota.Read == 0 && !l.cfg.FixedRead
}

// Wait implements dune.Limiter: it takes the next slot of the key's bucket
// for r's class and sleeps until it, or returns a *dune.ThrottledError,
// without taking a slot, when that slot lies beyond ctx's deadline (less
// the time the request itself needs).
func (l *Limiter) Wait(ctx context.Context, r dune.Request) error {
	name := bucketName(r.Key, r.Class)
	p, ok := l.policy(name, r.Class)
	if !ok {
		if l.untilTold(r.Class) {
			// No limit yet: count the request, so that the bucket pays
			// for it once Dune's first answer says what the limit is.
			l.mu.Lock()
			if len(l.unpaced) < maxLearned {
				l.unpaced[name]++
			}
			l.mu.Unlock()
		}
		return nil
	}
	b, _ := BucketFor(p.Quota, p.Window)
	maxWait := time.Duration(1<<63 - 1)
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl)                      // deadlines are on the wall clock
		maxWait = left - min(left/5, 2*time.Second) // keep time to send the request
	}
	wait, ok, err := l.reserve(ctx, name, b, max(maxWait, 0))
	if err != nil {
		return err
	}
	if !ok {
		l.cfg.Metrics.RateLimitRefused(string(r.Class))
		return &dune.ThrottledError{Class: r.Class, RetryAfter: wait, Limit: p.Quota, Window: p.Window}
	}
	if wait <= 0 {
		return nil
	}
	l.cfg.Metrics.RateLimitWait(string(r.Class), wait)
	return l.clk.Sleep(ctx, wait)
}

// reserve asks the shared store, or this process's buckets when there is
// none or it did not answer this time (its connection bounds, counts and
// logs that: see the package doc).
func (l *Limiter) reserve(ctx context.Context, name string, b Bucket, maxWait time.Duration) (time.Duration, bool, error) {
	if s := l.cfg.Store; s != nil {
		wait, ok, err := s.Reserve(ctx, name, b, maxWait)
		if err == nil {
			return wait, ok, nil
		}
		if ctx.Err() != nil {
			return 0, false, ctx.Err()
		}
	}
	return l.local.Reserve(ctx, name, b, maxWait)
}

// Observe implements dune.Limiter: Dune's RateLimit-Policy sets the key's
// quota for the class; RateLimit with few requests remaining, and a 429's
// Retry-After, hold the bucket back.
func (l *Limiter) Observe(r dune.Request, status int, h http.Header) {
	if h == nil {
		return
	}
	name := bucketName(r.Key, r.Class)
	unpaced := 0
	if pol, ok := pick(dune.ParseRateLimitPolicy(h), r.Class, func(p dune.RateLimitPolicy) string { return p.Name }); ok {
		l.mu.Lock()
		old, seen := l.learned[name]
		if !seen && len(l.learned) >= maxLearned {
			clear(l.learned)
		}
		l.learned[name] = pol
		unpaced = l.unpaced[name]
		delete(l.unpaced, name)
		l.mu.Unlock()
		if !seen || old != pol {
			l.cfg.Metrics.RateLimitAdjusted(string(r.Class), "policy")
		}
	}
	p, ok := l.policy(name, r.Class)
	if !ok {
		return
	}
	b, _ := BucketFor(p.Quota, p.Window)
	// The requests sent before the limit was known take their slots now,
	// as if they had waited for them.
	for range min(unpaced, p.Quota) {
		if _, _, err := l.reserve(context.Background(), name, b, 24*time.Hour); err != nil {
			break
		}
	}
	var ahead time.Duration
	reason := ""
	if st, ok := pick(dune.ParseRateLimit(h), r.Class, func(s dune.RateLimitState) string { return s.Name }); ok && st.Remaining < b.Burst() {
		ahead, reason = hold(b, st.Remaining, st.Reset), "remaining"
	}
	if status == http.StatusTooManyRequests {
		if secs, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && secs >= 0 {
			if a := hold(b, 0, time.Duration(secs)*time.Second); a > ahead {
				ahead, reason = a, "retry_after"
			}
		}
	}
	if reason == "" {
		return
	}
	l.cfg.Metrics.RateLimitAdjusted(string(r.Class), reason)
	if s := l.cfg.Store; s != nil && s.Hold(context.Background(), name, ahead) == nil {
		return
	}
	_ = l.local.Hold(context.Background(), name, ahead)
}

// hold returns how far ahead of now the bucket's arrival time must be for
// at most remaining requests to pass at once and, with none remaining, for
// the next one to wait until reset: (burst − remaining) × interval, and
// with none remaining at least reset + tolerance.
func hold(b Bucket, remaining int, reset time.Duration) time.Duration {
	ahead := time.Duration(b.Burst()-remaining) * b.Interval
	if remaining == 0 {
		ahead = max(ahead, reset+b.Tolerance)
	}
	return ahead
}

// pick returns the header entry for class c: the one named after it, else
// the only entry with a name that is neither a class nor the per-IP policy.
func pick[T any](entries []T, c dune.Class, name func(T) string) (T, bool) {
	var (
		other T
		n     int
	)
	for _, e := range entries {
		switch name(e) {
		case string(c):
			return e, true
		case "ip", string(dune.ClassRead), string(dune.ClassWrite):
		default:
			other, n = e, n+1
		}
	}
	return other, n == 1
}
