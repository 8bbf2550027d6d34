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
	"github.com/dune-mcp/dune-mcp/internal/faultproxy"
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
	// That the deadline is per call is TestCallTimeoutDefaultAndDisabled's
	// (a second call here would have to beat 300 ms of wall-clock time).
}

func TestCallTimeoutIncludesRetries(t *testing.T) {
	// Dune answers 503 asking for a 20 s pause: the client would sleep and
	// retry, but the call's deadline ends the wait first. The deadline is
	// wall-clock time: should a starved machine reach it before the 503
	// came, the case did not happen and is tried again with twice the
	// deadline (still well under the 20 s pause). No timing is asserted.
	for timeout := 300 * time.Millisecond; ; timeout *= 2 {
		emu, ts, _ := timeoutEnv(t, timeout)
		emu.InjectFault(emulator.Fault{Status: 503, RetryAfter: 20 * time.Second, Count: 10})
		res, _ := handlerOf(t, ts, schemas.GetLatestResult)(context.Background(), latestReq(`{"query_id":1,"limit":5}`))
		n := emu.Stats().Requests
		if n == 0 && timeout < 5*time.Second {
			continue
		}
		msg := resultText(t, res)
		if !res.IsError || !strings.Contains(msg, "Timed out after "+timeout.String()) {
			t.Fatalf("got %v %q", res.IsError, msg)
		}
		if n != 1 {
			t.Errorf("%d upstream requests, want 1 (no retry after the deadline)", n)
		}
		return
	}
}

func TestClientCancellationIsNotATimeout(t *testing.T) {
	emu, _, _ := timeoutEnv(t, time.Minute)
	p := faultproxy.New(emu.URL) // holds the request until the client gives up
	t.Cleanup(p.Close)
	p.Inject(faultproxy.Fault{Hang: true})
	logs := &testio.SyncBuffer{}
	dc := dune.NewClient(dune.Config{BaseURL: p.URL, APIKey: emulator.DefaultAPIKey})
	ts, err := New(Config{Fetcher: dc, CursorSecret: []byte("t"), CallTimeout: time.Minute, Logger: zerolog.New(logs)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan *mcp.CallToolResult, 1)
	go func() {
		res, _ := handlerOf(t, ts, schemas.GetLatestResult)(ctx, latestReq(`{"query_id":1,"limit":5}`))
		done <- res
	}()
	<-p.Hung // the request is out: cancel now
	cancel()
	res := <-done
	msg := resultText(t, res)
	if !res.IsError || !strings.Contains(msg, "cancelled by the client") || strings.Contains(msg, "Timed out") {
		t.Errorf("got %v %q", res.IsError, msg)
	}
	if !strings.Contains(logs.String(), `"error_kind":"cancelled"`) {
		t.Errorf("log line: %s", logs.String())
	}
	if n := p.Requests(); n != 1 {
		t.Errorf("%d requests, want 1 (no retry after the cancel)", n)
	}
}

// deadlineFetcher records the deadline of each fetch's context (zero: none).
type deadlineFetcher struct {
	fakeFetcher
	deadlines []time.Time
}

func (f *deadlineFetcher) GetLatestResult(ctx context.Context, queryID int64, opts dune.Options) (*dune.Result, error) {
	dl, _ := ctx.Deadline()
	f.deadlines = append(f.deadlines, dl)
	return f.fakeFetcher.GetLatestResult(ctx, queryID, opts)
}

// Each call's fetch has the deadline of its own call: the call's start plus
// the timeout, bracketed by the time read before and after the call (no
// wall-clock margin), and a later call gets a later one.
func TestCallTimeoutDefaultAndDisabled(t *testing.T) {
	for _, c := range []struct {
		cfg, want time.Duration // want 0: no deadline
	}{
		{0, DefaultCallTimeout},
		{2 * time.Second, 2 * time.Second},
		{-1, 0},
	} {
		f := &deadlineFetcher{fakeFetcher: fakeFetcher{err: &dune.APIError{StatusCode: 404, Kind: dune.KindNotFound}}}
		ts, err := New(Config{Fetcher: f, CallTimeout: c.cfg})
		if err != nil {
			t.Fatal(err)
		}
		for i := range 2 {
			before := time.Now()
			callTool(t, ts, schemas.GetLatestResult, `{"query_id":1}`)
			after := time.Now()
			if len(f.deadlines) != i+1 {
				t.Fatalf("CallTimeout %v: %d fetches after %d calls", c.cfg, len(f.deadlines), i+1)
			}
			dl := f.deadlines[i]
			switch {
			case c.want == 0 && !dl.IsZero():
				t.Errorf("CallTimeout %v: call %d has a deadline", c.cfg, i)
			case c.want > 0 && (dl.Before(before.Add(c.want)) || dl.After(after.Add(c.want))):
				t.Errorf("CallTimeout %v: call %d's deadline is %v past its start window [0, %v], want %v",
					c.cfg, i, dl.Sub(before), after.Sub(before), c.want)
			}
		}
	}
}
