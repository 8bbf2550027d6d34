package dune_test

import (
	"context"
	"errors"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// spyLimiter records what the client tells a Limiter and refuses the
// classes in refuse.
type spyLimiter struct {
	mu       sync.Mutex
	waits    []dune.Request
	observed []int
	headers  []http.Header
	refuse   map[dune.Class]bool
}

func (s *spyLimiter) Wait(ctx context.Context, r dune.Request) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waits = append(s.waits, r)
	if s.refuse[r.Class] {
		return &dune.ThrottledError{Class: r.Class, RetryAfter: 7 * time.Second, Limit: 15, Window: time.Minute}
	}
	return nil
}

func (s *spyLimiter) Observe(r dune.Request, status int, h http.Header) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.observed = append(s.observed, status)
	s.headers = append(s.headers, h)
}

// TestHooksSeeEveryAttempt: the limiter is asked before, and the observer
// told after, every attempt, with the endpoint's class, name and the key's
// fingerprint; Dune's rate-limit headers reach the limiter.
func TestHooksSeeEveryAttempt(t *testing.T) {
	free, _ := emulator.PlanRateLimits(dune.PlanFree)
	emu := emulator.NewServer(emulator.WithRateLimits(free))
	t.Cleanup(emu.Close)
	emu.AddQuery(7, emulator.Tiny())
	spy := &spyLimiter{}
	var (
		mu   sync.Mutex
		seen []dune.Exchange
	)
	c := dune.NewClient(dune.Config{BaseURL: emu.URL, APIKey: emulator.DefaultAPIKey, Limiter: spy,
		Observe: func(e dune.Exchange) { mu.Lock(); seen = append(seen, e); mu.Unlock() }})
	ctx := context.Background()
	if _, err := c.GetLatestResult(ctx, 7, dune.Options{Limit: 1}); err != nil {
		t.Fatal(err)
	}
	ex, err := c.ExecuteQuery(ctx, 7, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetExecutionStatus(ctx, ex.ExecutionID); err != nil {
		t.Fatal(err)
	}
	fp := dune.KeyFingerprint(emulator.DefaultAPIKey)
	want := []dune.Request{
		{Class: dune.ClassRead, Endpoint: "query_results", Key: fp},
		{Class: dune.ClassWrite, Endpoint: "execute", Key: fp},
		{Class: dune.ClassRead, Endpoint: "status", Key: fp},
	}
	if !reflect.DeepEqual(spy.waits, want) {
		t.Fatalf("Wait saw %+v; want %+v", spy.waits, want)
	}
	if !reflect.DeepEqual(spy.observed, []int{200, 200, 200}) {
		t.Fatalf("Observe saw statuses %v", spy.observed)
	}
	if got := spy.headers[1].Get("RateLimit-Policy"); got != `"write";q=15;w=60` {
		t.Fatalf("execute's RateLimit-Policy reached the limiter as %q", got)
	}
	if len(seen) != 3 || seen[0].Request != want[0] || seen[0].Status != 200 || seen[1].Request != want[1] {
		t.Fatalf("Observe got %+v", seen)
	}
}

// TestThrottledExecuteNeverStarted: a run the limiter holds back is a
// *ThrottledError that does not claim the run may have started, and no
// request reaches Dune.
func TestThrottledExecuteNeverStarted(t *testing.T) {
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	emu.AddQuery(7, emulator.Tiny())
	c := dune.NewClient(dune.Config{BaseURL: emu.URL, APIKey: emulator.DefaultAPIKey, Limiter: &spyLimiter{refuse: map[dune.Class]bool{dune.ClassWrite: true}}})
	_, err := c.ExecuteQuery(context.Background(), 7, nil, "")
	var te *dune.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter != 7*time.Second {
		t.Fatalf("err = %v; want a *ThrottledError with RetryAfter 7s", err)
	}
	if errors.Is(err, dune.ErrMayHaveStarted) {
		t.Fatalf("err %v claims the run may have started", err)
	}
	if st := emu.Stats(); st.Requests != 0 || st.Executions != 0 {
		t.Fatalf("emulator saw %d requests, %d executions; want none", st.Requests, st.Executions)
	}
}

func TestParseRateLimitHeaders(t *testing.T) {
	h := http.Header{}
	h.Add("RateLimit-Policy", `"ip";q=1000;w=1, "read";q=40;w=60`)
	h.Add("RateLimit-Policy", `"write";q=0;w=60, junk`)
	h.Add("RateLimit", `"read";r=3;t=12, "ip";r=999;t=1, "write";r=2`)
	pol := dune.ParseRateLimitPolicy(h)
	wantPol := []dune.RateLimitPolicy{{Name: "ip", Quota: 1000, Window: time.Second}, {Name: "read", Quota: 40, Window: time.Minute}}
	if !reflect.DeepEqual(pol, wantPol) {
		t.Errorf("policies %+v; want %+v", pol, wantPol)
	}
	st := dune.ParseRateLimit(h)
	wantSt := []dune.RateLimitState{{Name: "read", Remaining: 3, Reset: 12 * time.Second}, {Name: "ip", Remaining: 999, Reset: time.Second}}
	if !reflect.DeepEqual(st, wantSt) {
		t.Errorf("states %+v; want %+v", st, wantSt)
	}
}

func TestKeyFingerprint(t *testing.T) {
	a, b := dune.KeyFingerprint("sk_live_a"), dune.KeyFingerprint("sk_live_b")
	if len(a) != 16 || a == b || a != dune.KeyFingerprint("sk_live_a") {
		t.Fatalf("fingerprints %q %q: want 16 hex digits, distinct per key, stable", a, b)
	}
}
