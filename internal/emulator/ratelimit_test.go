package emulator_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// post sends POST base+path with key.
func post(t *testing.T, s *emulator.Server, path, key string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+path, nil)
	req.Header.Set("X-Dune-Api-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return response{Status: resp.StatusCode, Header: resp.Header}
}

// TestFreePlanLimits: 40 reads a minute per key, counted over a sliding
// minute, with the headers Dune sends; executes count apart (15); another
// key has its own limits; refusals are not counted against the key.
func TestFreePlanLimits(t *testing.T) {
	clk := clock.NewJump(time.Date(2026, 12, 3, 10, 0, 0, 0, time.UTC))
	free, ok := emulator.PlanRateLimits(dune.PlanFree)
	if !ok || free.Read != 40 || free.Write != 15 {
		t.Fatalf("Free limits %+v", free)
	}
	s := emulator.NewServer(emulator.WithClock(clk.Now), emulator.WithRateLimits(free), emulator.WithAPIKey("a"), emulator.WithAPIKey("b"))
	t.Cleanup(s.Close)
	s.AddQuery(1, emulator.Tiny())
	read := func(key string) response {
		return do(t, s.URL+"/api/v1/query/1/results?limit=1", map[string]string{"X-Dune-Api-Key": key})
	}
	for i := range 40 {
		r := read("a")
		// t is the time until the oldest request leaves the window.
		if r.Status != 200 || r.Header.Get("RateLimit-Policy") != `"read";q=40;w=60` || r.Header.Get("RateLimit") != fmt.Sprintf(`"read";r=%d;t=%d`, 39-i, 60-i) {
			t.Fatalf("read %d: %d, policy %q, state %q", i, r.Status, r.Header.Get("RateLimit-Policy"), r.Header.Get("RateLimit"))
		}
		clk.Advance(time.Second)
	}
	// 40 s in: the 41st is refused until the first leaves the window.
	r := read("a")
	if r.Status != 429 || r.Header.Get("Retry-After") != "20" || r.Header.Get("RateLimit") != `"read";r=0;t=20` {
		t.Fatalf("41st read: %d, Retry-After %q, RateLimit %q; want 429, 20, r=0;t=20", r.Status, r.Header.Get("Retry-After"), r.Header.Get("RateLimit"))
	}
	if r := read("b"); r.Status != 200 {
		t.Fatalf("key b's first read: %d", r.Status)
	}
	for i := range 15 {
		if r := post(t, s, "/api/v1/query/1/execute", "a"); r.Status != 200 || r.Header.Get("RateLimit") != fmt.Sprintf(`"write";r=%d;t=60`, 14-i) {
			t.Fatalf("execute %d: %d %q", i, r.Status, r.Header.Get("RateLimit"))
		}
	}
	if r := post(t, s, "/api/v1/query/1/execute", "a"); r.Status != 429 {
		t.Fatalf("16th execute: %d; want 429", r.Status)
	}
	clk.Advance(20 * time.Second) // the first read (at 0 s) leaves the window
	if r := read("a"); r.Status != 200 || r.Header.Get("RateLimit") != `"read";r=0;t=1` {
		t.Fatalf("read at 60 s: %d %q; want 200, r=0;t=1", r.Status, r.Header.Get("RateLimit"))
	}
	if r := read("a"); r.Status != 429 {
		t.Fatalf("second read at 60 s: %d; want 429", r.Status)
	}
	if st := s.Stats(); st.RateLimited != 3 {
		t.Fatalf("Stats.RateLimited = %d; want 3", st.RateLimited)
	}
	// A wrong key gets 401 without rate-limit headers, as on Dune.
	if r := read("wrong"); r.Status != 401 || r.Header.Get("RateLimit") != "" {
		t.Fatalf("wrong key: %d %q", r.Status, r.Header.Get("RateLimit"))
	}
}
