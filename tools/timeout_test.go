package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/testio"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// timeoutEnv is a Toolset with the given per-call timeout in front of the
// emulator, through a dune client that retries (as in production).
func timeoutEnv(t *testing.T, timeout time.Duration) (*emulator.Server, *Toolset, *testio.SyncBuffer) {
	t.Helper()
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	emu.AddQuery(1, emulator.DEXTrades(1000, 1))
	dc := dune.NewClient(dune.Config{
		BaseURL: emu.URL,
		APIKey:  emulator.DefaultAPIKey,
		Retry:   dune.RetryPolicy{MaxAttempts: 5, MaxBackoff: time.Minute, MaxElapsed: 5 * time.Minute},
	})
	logs := &testio.SyncBuffer{}
	ts, err := New(Config{Fetcher: dc, CursorSecret: []byte("t"), CallTimeout: timeout, Logger: zerolog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	return emu, ts, logs
}

func handlerOf(t *testing.T, ts *Toolset, name string) func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
	t.Helper()
	for _, st := range ts.ServerTools() {
		if st.Tool.Name == name {
			return st.Handler
		}
	}
	t.Fatalf("no tool %s", name)
	return nil
}

func latestReq(args string) mcp.CallToolRequest {
	req := mcp.CallToolRequest{}
	req.Params.Name = schemas.GetLatestResult
	req.Params.RawArguments = json.RawMessage(args)
	return req
}

// If the deadline did not apply, these calls would wait for Dune's answer
// (30 s) and then succeed: the assertions are on the result, not on time.
func TestCallTimeoutBoundsTheWaitOnDune(t *testing.T) {
	emu, ts, logs := timeoutEnv(t, 300*time.Millisecond)
	emu.InjectFault(emulator.Fault{Latency: 30 * time.Second, Count: 1})
	res, err := handlerOf(t, ts, schemas.GetLatestResult)(context.Background(), latestReq(`{"query_id":1,"limit":5}`))
	if err != nil {
		t.Fatal(err)
	}
	msg := resultText(t, res)
	if !res.IsError {
		t.Fatalf("not an error: %.200s", msg)
	}
	for _, w := range []string{"Timed out after 300ms waiting for Dune", "DUNE_MCP_CALL_TIMEOUT", "try again", "fewer columns"} {
		if !strings.Contains(msg, w) {
			t.Errorf("message %q lacks %q", msg, w)
		}
	}
	if len(msg) > schemas.MaxMessageLen {
		t.Errorf("message is %d bytes", len(msg))
	}
	if !strings.Contains(logs.String(), `"error_kind":"timeout"`) {
		t.Errorf("log line: %s", logs.String())
	}
	// The fault is spent: the next call works (the deadline is per call).
	res, _ = handlerOf(t, ts, schemas.GetLatestResult)(context.Background(), latestReq(`{"query_id":1,"limit":5}`))
	if res.IsError {
		t.Fatalf("next call: %s", resultText(t, res))
	}
}

func TestCallTimeoutIncludesRetries(t *testing.T) {
	// Dune answers 503 asking for a 20 s pause: the client would sleep and
	// retry, but the call's deadline ends the wait first.
	emu, ts, _ := timeoutEnv(t, 300*time.Millisecond)
	emu.InjectFault(emulator.Fault{Status: 503, RetryAfter: 20 * time.Second, Count: 10})
	res, _ := handlerOf(t, ts, schemas.GetLatestResult)(context.Background(), latestReq(`{"query_id":1,"limit":5}`))
	msg := resultText(t, res)
	if !res.IsError || !strings.Contains(msg, "Timed out after 300ms") {
		t.Fatalf("got %v %q", res.IsError, msg)
	}
	if n := emu.Stats().Requests; n != 1 {
		t.Errorf("%d upstream requests, want 1 (no retry after the deadline)", n)
	}
}

func TestClientCancellationIsNotATimeout(t *testing.T) {
	emu, ts, logs := timeoutEnv(t, time.Minute)
	emu.InjectFault(emulator.Fault{Latency: 30 * time.Second, Count: 1})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *mcp.CallToolResult, 1)
	go func() {
		res, _ := handlerOf(t, ts, schemas.GetLatestResult)(ctx, latestReq(`{"query_id":1,"limit":5}`))
		done <- res
	}()
	// Cancel once the request reached the emulator.
	for emu.Stats().Requests == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	res := <-done
	msg := resultText(t, res)
	if !res.IsError || !strings.Contains(msg, "cancelled by the client") || strings.Contains(msg, "Timed out") {
		t.Errorf("got %v %q", res.IsError, msg)
	}
	if !strings.Contains(logs.String(), `"error_kind":"cancelled"`) {
		t.Errorf("log line: %s", logs.String())
	}
}

// deadlineFetcher records whether the context of each fetch has a deadline.
type deadlineFetcher struct {
	fakeFetcher
	deadlines []time.Duration // remaining time at the call; -1: none
}

func (f *deadlineFetcher) GetLatestResult(ctx context.Context, queryID int64, opts dune.Options) (*dune.Result, error) {
	d := time.Duration(-1)
	if dl, ok := ctx.Deadline(); ok {
		d = time.Until(dl)
	}
	f.deadlines = append(f.deadlines, d)
	return f.fakeFetcher.GetLatestResult(ctx, queryID, opts)
}

func TestCallTimeoutDefaultAndDisabled(t *testing.T) {
	for _, c := range []struct {
		cfg      time.Duration
		min, max time.Duration // bounds of the remaining time seen by the fetch
	}{
		{0, DefaultCallTimeout - 10*time.Second, DefaultCallTimeout},
		{2 * time.Second, time.Second, 2 * time.Second},
		{-1, -1, -1},
	} {
		f := &deadlineFetcher{fakeFetcher: fakeFetcher{err: &dune.APIError{StatusCode: 404, Kind: dune.KindNotFound}}}
		ts, err := New(Config{Fetcher: f, CallTimeout: c.cfg})
		if err != nil {
			t.Fatal(err)
		}
		callTool(t, ts, schemas.GetLatestResult, `{"query_id":1}`)
		if len(f.deadlines) != 1 || f.deadlines[0] < c.min || f.deadlines[0] > c.max {
			t.Errorf("CallTimeout %v: the fetch saw %v left, want within [%v, %v]", c.cfg, f.deadlines, c.min, c.max)
		}
	}
}
