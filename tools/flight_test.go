package tools

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// gatedFetcher holds its first execution-page request until release closes.
type gatedFetcher struct {
	Fetcher
	calls   atomic.Int32
	started chan struct{}
	release chan struct{}
}

func (g *gatedFetcher) GetExecutionResult(ctx context.Context, executionID string, o dune.Options) (*dune.Result, error) {
	if g.calls.Add(1) == 1 {
		close(g.started)
		<-g.release
	}
	return g.Fetcher.GetExecutionResult(ctx, executionID, o)
}

// Two calls that need the same rows of an execution at the same moment
// make one Dune request: the second waits for the first one's answer, gets the same
// rows, and spends no datapoints.
func TestIdenticalRequestsInFlightAreSharedOnce(t *testing.T) {
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	emu.AddQuery(9, emulator.DEXTrades(500, 9))
	g := &gatedFetcher{started: make(chan struct{}), release: make(chan struct{})}
	e := newEnvConfig(t, emu, emulator.DefaultAPIKey, func(c *Config) { g.Fetcher = c.Fetcher; c.Fetcher = g })
	joined := make(chan struct{}, 1)
	e.ts.flights.joined = func() { joined <- struct{}{} }

	// An explicit limit: the first page is the 20 rows asked for, nothing
	// past them is cached, so the next page is fetched.
	first := e.callExact(t, schemas.GetLatestResult, map[string]any{"query_id": 9, "limit": 20})
	if first.IsError || first.S.NextCursor == "" {
		t.Fatalf("first page: %s", first.Text)
	}
	before := emu.Stats().Requests
	args := map[string]any{"cursor": first.S.NextCursor}
	results := make(chan result, 2)
	go func() { results <- e.callExact(t, schemas.NextPage, args) }()
	<-g.started // the first call's request is in flight
	go func() { results <- e.callExact(t, schemas.NextPage, args) }()
	select {
	case <-joined:
	case <-time.After(30 * time.Second): // a failure bound, not synchronisation
		t.Error("the second call did not wait for the request in flight")
	}
	close(g.release)
	a, b := <-results, <-results
	if a.IsError || b.IsError || len(a.S.Rows) != 20 || mustJSON(a.S.Rows) != mustJSON(b.S.Rows) {
		t.Fatalf("results differ or failed:\n%s\n%s", a.Text, b.Text)
	}
	if n := emu.Stats().Requests - before; n != 1 || g.calls.Load() != 1 || a.S.Offset != 20 {
		t.Errorf("%d upstream requests (%d through the fetcher) for the page at %d, want 1 at 20", n, g.calls.Load(), a.S.Offset)
	}
	if a.S.Datapoints+b.S.Datapoints != 20*len(a.S.Columns) || min(a.S.Datapoints, b.S.Datapoints) != 0 {
		t.Errorf("datapoints %d and %d: want the one request's to one call, 0 to the other", a.S.Datapoints, b.S.Datapoints)
	}
}

// Only answers are shared: when the request in flight fails, a call that
// waited for it fetches for itself; a call with another key never waits.
func TestFlightFailureIsNotShared(t *testing.T) {
	var f flights
	joined := make(chan struct{}, 1)
	f.joined = func() { joined <- struct{}{} }
	release := make(chan struct{})
	started := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		_, err := f.do(context.Background(), "k", func() (*dune.Result, error) {
			close(started)
			<-release
			return nil, context.DeadlineExceeded // the first call's own deadline
		})
		first <- err
	}()
	<-started
	if res, err := f.do(context.Background(), "other", func() (*dune.Result, error) { return &dune.Result{ExecutionID: "o"}, nil }); err != nil || res.ExecutionID != "o" {
		t.Fatalf("another key: %v, %v", res, err)
	}
	second := make(chan *dune.Result, 1)
	go func() {
		res, _ := f.do(context.Background(), "k", func() (*dune.Result, error) { return &dune.Result{ExecutionID: "own"}, nil })
		second <- res
	}()
	<-joined
	close(release)
	if err := <-first; err != context.DeadlineExceeded {
		t.Errorf("first call: %v", err)
	}
	if res := <-second; res == nil || res.ExecutionID != "own" {
		t.Errorf("the waiting call got %+v, want its own fetch", res)
	}
}
