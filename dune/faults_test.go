package dune_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/faultproxy"
)

// Tests with a fault-injecting proxy between the client and the emulator
// (issue 11): answers checked against requests, and attempts that stall.

// proxied starts an emulator with queries 1001 (DEX trades) and 2002 (a
// 5-column table) and a proxy in front of it.
func proxied(t *testing.T) (*emulator.Server, *faultproxy.Proxy) {
	t.Helper()
	s := emulator.NewServer()
	t.Cleanup(s.Close)
	s.AddQuery(1001, emulator.DEXTrades(200, 7))
	s.AddQuery(2002, emulator.Wide(50, 5, 3))
	p := faultproxy.New(s.URL)
	t.Cleanup(p.Close)
	return s, p
}

func proxyClient(p *faultproxy.Proxy, pol dune.RetryPolicy) *dune.Client {
	return dune.NewClient(dune.Config{BaseURL: p.URL, APIKey: emulator.DefaultAPIKey, Retry: pol})
}

func wantMismatch(t *testing.T, res *dune.Result, err error, field string) *dune.MismatchError {
	t.Helper()
	var me *dune.MismatchError
	if !errors.As(err, &me) || me.Field != field {
		t.Fatalf("err = %v, want a *MismatchError on %s", err, field)
	}
	if res != nil {
		t.Errorf("a mismatched answer was handed out: %d rows", len(res.Rows))
	}
	return me
}

// A 200 answer that belongs to another query is refused, not retried.
func TestWrongQueryAnswerIsRefused(t *testing.T) {
	_, p := proxied(t)
	p.Inject(faultproxy.Fault{Path: "/api/v1/query/1001/", RewritePath: "/api/v1/query/2002/results"})
	c := proxyClient(p, quick)
	res, err := c.GetLatestResult(context.Background(), 1001, dune.Options{Limit: 10})
	me := wantMismatch(t, res, err, "query_id")
	if me.Want != "1001" || me.Got != "2002" {
		t.Errorf("mismatch = %+v", me)
	}
	if p.Requests() != 1 {
		t.Errorf("%d requests: a mismatch must not be retried", p.Requests())
	}
	// Without the fault the same call reads query 1001.
	res, err = c.GetLatestResult(context.Background(), 1001, dune.Options{Limit: 10})
	if err != nil || res.QueryID != 1001 || len(res.Rows) != 10 {
		t.Fatalf("clean call: %v", err)
	}
}

// A page of another execution is refused when the request pins one.
func TestWrongExecutionAnswerIsRefused(t *testing.T) {
	s, p := proxied(t)
	c := proxyClient(p, quick)
	first, err := c.GetLatestResult(context.Background(), 1001, dune.Options{Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	other := s.Rerun(1001, emulator.DEXTrades(200, 8))
	p.Inject(faultproxy.Fault{Path: "/api/v1/execution/", RewritePath: "/api/v1/execution/" + other + "/results"})
	res, err := c.GetExecutionResult(context.Background(), first.ExecutionID, dune.Options{Offset: 10, Limit: 10})
	me := wantMismatch(t, res, err, "execution_id")
	if me.Want != first.ExecutionID || me.Got != other {
		t.Errorf("mismatch = %+v", me)
	}
}

// Columns other than the ones asked for are refused.
func TestWrongColumnsAnswerIsRefused(t *testing.T) {
	_, p := proxied(t)
	p.Inject(faultproxy.Fault{Path: "/api/v1/query/1001/", RewriteQuery: func(raw string) string {
		return strings.Replace(raw, "columns=project%2Cblockchain", "columns=project%2Ctx_hash", 1)
	}})
	c := proxyClient(p, quick)
	res, err := c.GetLatestResult(context.Background(), 1001, dune.Options{Limit: 10, Columns: []string{"project", "blockchain"}})
	me := wantMismatch(t, res, err, "columns")
	if !strings.Contains(me.Got, `"tx_hash"`) || !strings.Contains(me.Want, `"blockchain"`) {
		t.Errorf("mismatch = %+v", me)
	}
}

// budget6s allows two attempts within a 6 s call budget: the schedule gives
// the first 3 s and keeps the rest for the second (before the schedule,
// the first attempt could take all 6 s). The time only bounds the stalled
// attempt; nothing is asserted about durations.
var budget6s = dune.RetryPolicy{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond, MaxBackoff: time.Second, MaxElapsed: 6 * time.Second}

// One hung connection does not eat the call's budget: the attempt times out
// with room left, and the retry reads the page.
func TestHungAttemptLeavesRoomForARetry(t *testing.T) {
	_, p := proxied(t)
	p.Inject(faultproxy.Fault{Hang: true})
	c := proxyClient(p, budget6s)
	ctx, usage := dune.WithUsage(context.Background())
	res, err := c.GetLatestResult(ctx, 1001, dune.Options{Limit: 20})
	if err != nil {
		t.Fatalf("err = %v, want the retry's page", err)
	}
	<-p.Hung
	<-p.Released // the first attempt was given up, not left hanging
	if len(res.Rows) != 20 || res.QueryID != 1001 || usage.Requests.Load() != 2 {
		t.Errorf("%d rows, query %d, %d requests", len(res.Rows), res.QueryID, usage.Requests.Load())
	}
}

// A body that arrives a byte at a time is cut at the attempt's timeout and
// read again.
func TestSlowDripAttemptIsRetried(t *testing.T) {
	_, p := proxied(t)
	p.Inject(faultproxy.Fault{DripEvery: 20 * time.Millisecond})
	c := proxyClient(p, budget6s)
	ctx, usage := dune.WithUsage(context.Background())
	res, err := c.GetLatestResult(ctx, 1001, dune.Options{Limit: 20})
	if err != nil {
		t.Fatalf("err = %v, want the retry's page", err)
	}
	if len(res.Rows) != 20 || usage.Requests.Load() != 2 {
		t.Errorf("%d rows, %d requests", len(res.Rows), usage.Requests.Load())
	}
}

// A connection closed in the middle of the body is retried.
func TestMidBodyCloseIsRetried(t *testing.T) {
	_, p := proxied(t)
	p.Inject(faultproxy.Fault{CloseAfter: 300})
	c := proxyClient(p, quick)
	ctx, usage := dune.WithUsage(context.Background())
	res, err := c.GetLatestResult(ctx, 1001, dune.Options{Limit: 20})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Rows) != 20 || usage.Requests.Load() != 2 {
		t.Errorf("%d rows, %d requests", len(res.Rows), usage.Requests.Load())
	}
}
