package tools

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/faultproxy"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// Answers checked against requests (issue 11), with a fault-injecting proxy
// between the dune client and the emulator.

// proxiedEnv serves queries 1001 (DEX trades) and 2002 (another table)
// through a proxy; the tools' client talks to the proxy.
func proxiedEnv(t *testing.T) (*env, *faultproxy.Proxy, *emulator.Dataset) {
	t.Helper()
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	ds := emulator.DEXTrades(300, 7)
	emu.AddQuery(1001, ds)
	emu.AddQuery(2002, emulator.Wide(40, 5, 3))
	p := faultproxy.New(emu.URL)
	t.Cleanup(p.Close)
	e := newEnvConfig(t, emu, emulator.DefaultAPIKey, func(c *Config) {
		c.Fetcher = dune.NewClient(dune.Config{BaseURL: p.URL, APIKey: emulator.DefaultAPIKey, Retry: dune.RetryPolicy{MaxAttempts: 1}})
	})
	return e, p, ds
}

func wantMismatchResult(t *testing.T, r result) {
	t.Helper()
	if !r.IsError || !strings.Contains(r.Text, "did not match the request") || strings.Contains(r.Text, "Rendering") {
		t.Fatalf("want a mismatch isError, got error=%v: %s", r.IsError, r.Text)
	}
	if len(r.S.Rows) != 0 || r.S.QueryID != 0 {
		t.Errorf("a mismatched answer was shown: %+v", r.S)
	}
}

// Another query's answer is an isError, never shown as the asked query.
func TestWrongQueryIsNotShownAsAsked(t *testing.T) {
	e, p, _ := proxiedEnv(t)
	p.Inject(faultproxy.Fault{Path: "/api/v1/query/1001/", RewritePath: "/api/v1/query/2002/results"})
	wantMismatchResult(t, e.call(t, "get_latest_result", map[string]any{"query_id": 1001, "limit": 5}))
	r := e.call(t, "get_latest_result", map[string]any{"query_id": 1001, "limit": 5})
	if r.IsError || r.S.QueryID != 1001 || len(r.S.Columns) != 22 {
		t.Fatalf("clean call: %s", r.Text)
	}
}

// next_page refuses a page of another execution, caches nothing of it, and
// the same cursor then reads the pinned execution's rows.
func TestNextPageRefusesAnotherExecution(t *testing.T) {
	e, p, ds := proxiedEnv(t)
	first := e.call(t, "get_latest_result", map[string]any{"query_id": 1001, "limit": 5})
	if first.IsError || first.S.NextCursor == "" {
		t.Fatalf("first page: %s", first.Text)
	}
	other := e.emu.Rerun(1001, emulator.DEXTrades(300, 8))
	p.Inject(faultproxy.Fault{Path: "/api/v1/execution/", RewritePath: "/api/v1/execution/" + other + "/results"})
	before := len(p.Paths())
	wantMismatchResult(t, e.call(t, "next_page", map[string]any{"cursor": first.S.NextCursor}))
	if len(p.Paths()) != before+1 {
		t.Fatalf("next_page did not ask upstream: %v", p.Paths()[before:])
	}
	r := e.call(t, "next_page", map[string]any{"cursor": first.S.NextCursor})
	if r.IsError || r.S.ExecutionID != first.S.ExecutionID || r.S.Offset != 5 || len(r.S.Rows) == 0 {
		t.Fatalf("retry: %s", r.Text)
	}
	if len(p.Paths()) != before+2 {
		t.Errorf("the retry was served without asking upstream: the mismatched page was cached")
	}
	hash := columnIndex(t, r.S.Columns, "tx_hash")
	for i, row := range r.S.Rows {
		if want := ds.Row(5 + i)[columnIndex(t, ds.Columns, "tx_hash")]; row[hash] != want {
			t.Fatalf("row %d: tx_hash %v, want %v", 5+i, row[hash], want)
		}
	}
}

// A page of the pinned execution with other columns than the cursor's rows
// (here: one column instead of 22) is refused before anything is merged.
func TestNextPageRefusesOtherColumns(t *testing.T) {
	e, p, _ := proxiedEnv(t)
	first := e.call(t, "get_latest_result", map[string]any{"query_id": 1001, "limit": 5})
	if first.IsError || first.S.NextCursor == "" {
		t.Fatalf("first page: %s", first.Text)
	}
	p.Inject(faultproxy.Fault{Path: "/api/v1/execution/", RewriteQuery: func(raw string) string { return raw + "&columns=project" }})
	wantMismatchResult(t, e.call(t, "next_page", map[string]any{"cursor": first.S.NextCursor}))
}

func columnIndex(t *testing.T, cols []dune.Column, name string) int {
	t.Helper()
	for i, c := range cols {
		if c.Name == name {
			return i
		}
	}
	t.Fatalf("no column %s in %v", name, cols)
	return -1
}

// An internal failure (here, the rendering error issue 11 saw) reaches the
// agent as a clear message, its details only in the server's log.
func TestInternalErrorIsNotShownAsIs(t *testing.T) {
	e := newEnv(t)
	h := e.ts.adapt("get_latest_result", func(context.Context, *call, []byte) (*summary.Output, report, error) {
		return nil, report{}, newToolError("internal", "Rendering the result failed: %s", "summary: row 0 has 22 values for 0 columns")
	})
	res, err := h(context.Background(), mcp.CallToolRequest{})
	if err != nil {
		t.Fatal(err)
	}
	text := ""
	if tc, ok := mcp.AsTextContent(res.Content[0]); ok {
		text = tc.Text
	}
	if !res.IsError || text != internalMessage || strings.Contains(text, "summary:") {
		t.Errorf("isError %v: %s", res.IsError, text)
	}
	if !strings.Contains(e.logs.String(), "row 0 has 22 values for 0 columns") {
		t.Errorf("the detail is not in the log: %s", e.logs.String())
	}
}

// 10,000 query_parameters are refused with a clear isError before any
// request (issue 11: they were silently answered without any of them).
func TestTooManyQueryParametersIsAnError(t *testing.T) {
	e, p, _ := proxiedEnv(t)
	params := make(map[string]any, 10000)
	for i := range 10000 {
		params["p"+strconv.Itoa(i)] = "v"
	}
	r := e.call(t, "get_latest_result", map[string]any{"query_id": 1001, "query_parameters": params})
	if !r.IsError || !strings.Contains(r.Text, "query_parameters") || !strings.Contains(r.Text, "at most 100") {
		t.Fatalf("isError %v: %s", r.IsError, r.Text)
	}
	if p.Requests() != 0 {
		t.Errorf("%d requests sent upstream", p.Requests())
	}
}

// A call that could not get its share of the upstream memory budget gets a
// clear isError naming the setting, not a timeout.
func TestMemoryBudgetExplained(t *testing.T) {
	err := fmt.Errorf("dune: GET /api/v1/query/1/results: %w (256 MiB, waited for 6000 KiB): %w", dune.ErrMemoryBudget, context.DeadlineExceeded)
	te := explain(err, callSite{tool: "get_latest_result", deadline: 50 * time.Second})
	if te.Kind != "busy" || !strings.Contains(te.Msg, "--max-upstream-memory") || strings.Contains(te.Msg, "Timed out") {
		t.Errorf("%s: %s", te.Kind, te.Msg)
	}
}

// A call that cannot get its share of the memory budget before its
// deadline gets the "busy" isError, and sends nothing: here another
// toolset's call holds the whole (1 MiB) budget of the client they share.
func TestMemoryBudgetBusyIsAnError(t *testing.T) {
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	emu.AddQuery(1001, emulator.DEXTrades(300, 7))
	p := faultproxy.New(emu.URL)
	t.Cleanup(p.Close)
	dc := dune.NewClient(dune.Config{BaseURL: p.URL, APIKey: emulator.DefaultAPIKey, MaxUpstreamMemory: 1 << 20, Retry: dune.RetryPolicy{MaxAttempts: 1}})
	holder := newEnvConfig(t, emu, emulator.DefaultAPIKey, func(c *Config) { c.Fetcher = dc })
	waiter := newEnvConfig(t, emu, emulator.DefaultAPIKey, func(c *Config) { c.Fetcher = dc; c.CallTimeout = 300 * time.Millisecond })

	p.Inject(faultproxy.Fault{Hang: true})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req := mcp.CallToolRequest{}
		req.Params.Name = "get_latest_result"
		req.Params.Arguments = map[string]any{"query_id": 1001, "limit": 5}
		_, _ = holder.cli.CallTool(ctx, req) // ends when cancelled; its outcome is not what is tested
	}()
	<-p.Hung // the holder's request holds the budget

	r := waiter.call(t, "get_latest_result", map[string]any{"query_id": 1001, "limit": 5})
	if !r.IsError || !strings.Contains(r.Text, "--max-upstream-memory") {
		t.Errorf("isError %v: %s", r.IsError, r.Text)
	}
	if p.Requests() != 1 {
		t.Errorf("%d requests: the waiting call was sent", p.Requests())
	}
	cancel()
	<-p.Released
	<-done
}
