package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/testio"
	"github.com/dune-mcp/dune-mcp/schemas"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// env is an MCP server with the three tools, backed by the dune client
// talking to an emulator, and an in-process MCP client.
type env struct {
	emu  *emulator.Server
	ts   *Toolset
	srv  *server.MCPServer
	cli  *client.Client
	logs *testio.SyncBuffer
}

func newEnv(t *testing.T, emuOpts ...emulator.Option) *env {
	t.Helper()
	emu := emulator.NewServer(emuOpts...)
	t.Cleanup(emu.Close)
	return newEnvWith(t, emu, emulator.DefaultAPIKey)
}

func newEnvWith(t *testing.T, emu *emulator.Server, key string) *env {
	t.Helper()
	return newEnvConfig(t, emu, key, nil)
}

// newEnvConfig is newEnvWith with the Toolset's Config adjusted by set.
func newEnvConfig(t testing.TB, emu *emulator.Server, key string, set func(*Config)) *env {
	t.Helper()
	dc := dune.NewClient(dune.Config{
		BaseURL: emu.URL,
		APIKey:  key,
		Retry:   dune.RetryPolicy{MaxAttempts: 1},
	})
	logs := &testio.SyncBuffer{}
	cfg := Config{Fetcher: dc, CursorSecret: []byte("in-process"), Logger: zerolog.New(logs)}
	if set != nil {
		set(&cfg)
	}
	ts, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewMCPServer("dune-mcp", "test",
		server.WithToolCapabilities(false),
		server.WithInputSchemaValidation(),
		server.WithOutputSchemaValidation(),
		server.WithTaskCapabilities(true, true, true),
	)
	srv.AddTools(ts.ServerTools()...)
	cli, err := client.NewInProcessClient(srv)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := cli.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	init.Params.ClientInfo = mcp.Implementation{Name: "tools-test", Version: "1"}
	if _, err := cli.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return &env{emu: emu, ts: ts, srv: srv, cli: cli, logs: logs}
}

// result is a decoded tool result, numbers kept exact.
type result struct {
	IsError bool
	Text    string
	S       structured
}

type structured struct {
	QueryID        int64            `json:"query_id"`
	ExecutionID    string           `json:"execution_id"`
	State          string           `json:"state"`
	EndedAt        string           `json:"execution_ended_at"`
	Columns        []dune.Column    `json:"columns"`
	Total          int              `json:"total_row_count"`
	Offset         int              `json:"offset"`
	ReturnedRows   int              `json:"returned_rows"`
	Rows           [][]any          `json:"rows"`
	HasMore        bool             `json:"has_more"`
	NextCursor     string           `json:"next_cursor"`
	Stats          []map[string]any `json:"stats"`
	Datapoints     int              `json:"datapoints"`
	ShortenedCells int              `json:"shortened_cells"`
	Notes          []string         `json:"notes"`
	ExpiresAt      string           `json:"expires_at"`
	Executed       bool             `json:"executed"`
	Credits        *float64         `json:"execution_cost_credits"`
	Spent          *int64           `json:"datapoints_spent"`
	Left           *int64           `json:"datapoints_left"`
	raw            []byte
}

// call runs a tool through the in-process client.
func (e *env) call(t testing.TB, name string, args map[string]any) result {
	t.Helper()
	return e.callCtx(t, context.Background(), name, args)
}

// callCtx runs a tool through the in-process client with ctx (which reaches
// the handler as is, e.g. with a per-request key from dune.WithAPIKey).
func (e *env) callCtx(t testing.TB, ctx context.Context, name string, args map[string]any) result {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := e.cli.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s %v: %v", name, args, err)
	}
	out := result{IsError: res.IsError}
	if len(res.Content) > 0 {
		if tc, ok := mcp.AsTextContent(res.Content[0]); ok {
			out.Text = tc.Text
		}
	}
	if res.StructuredContent != nil || len(res.RawStructuredContent) > 0 {
		// The bytes as sent (re-marshalling the decoded map would sort the
		// keys, which tokenises differently).
		raw := []byte(res.RawStructuredContent)
		if len(raw) == 0 {
			raw, _ = json.Marshal(res.StructuredContent)
		}
		out.S.raw = raw
		_ = json.Unmarshal(raw, &out.S)
	}
	return out
}

// callExact runs a tool through the server's JSON-RPC entry point and decodes
// structuredContent with exact numbers (the client library decodes numbers
// as float64).
func (e *env) callExact(t *testing.T, name string, args map[string]any) result {
	t.Helper()
	msg, _ := json.Marshal(map[string]any{
		"jsonrpc": "2.0", "id": 1, "method": "tools/call",
		"params": map[string]any{"name": name, "arguments": args},
	})
	resp := e.srv.HandleMessage(context.Background(), msg)
	raw, _ := json.Marshal(resp)
	var env struct {
		Result struct {
			IsError           bool              `json:"isError"`
			Content           []mcp.TextContent `json:"content"`
			StructuredContent json.RawMessage   `json:"structuredContent"`
		} `json:"result"`
		Error any `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Error != nil {
		t.Fatalf("%s: %s", name, raw)
	}
	out := result{IsError: env.Result.IsError}
	if len(env.Result.Content) > 0 {
		out.Text = env.Result.Content[0].Text
	}
	if len(env.Result.StructuredContent) > 0 {
		out.S.raw = env.Result.StructuredContent
		dec := json.NewDecoder(bytes.NewReader(env.Result.StructuredContent))
		dec.UseNumber()
		if err := dec.Decode(&out.S); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// checkBudget asserts both renderings of a successful result fit budget.
func checkBudget(t *testing.T, r result, budget int) {
	t.Helper()
	if r.IsError {
		t.Fatalf("unexpected error result: %s", r.Text)
	}
	if n := summary.CountTokens(r.Text); n > budget {
		t.Errorf("text is %d tokens, budget %d", n, budget)
	}
	if n := summary.CountTokens(string(r.S.raw)); n > budget {
		t.Errorf("structuredContent is %d tokens, budget %d", n, budget)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestBudgetHoldsForEveryDataset(t *testing.T) {
	e := newEnv(t)
	sets := map[int64]*emulator.Dataset{
		1: emulator.DEXTrades(100000, 1),
		2: emulator.Wide(500, 300, 2),
		3: emulator.LongText(40, 3),
	}
	for id, ds := range sets {
		e.emu.AddQuery(id, ds)
	}
	for id, ds := range sets {
		for _, budget := range []int{256, 1000, 8000, 25000} {
			t.Run(fmt.Sprintf("%s/%d", ds.Name, budget), func(t *testing.T) {
				r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": id, "max_tokens": budget})
				checkBudget(t, r, budget)
				if r.S.Total != ds.Len() || r.S.ExecutionID == "" || len(r.S.Columns) == 0 && budget > 1000 {
					t.Errorf("total %d (want %d), execution %q, %d columns", r.S.Total, ds.Len(), r.S.ExecutionID, len(r.S.Columns))
				}
				if left := r.S.Offset+r.S.ReturnedRows < r.S.Total; left != (r.S.NextCursor != "") || left != r.S.HasMore {
					t.Fatalf("rows left %v, but cursor %q, has_more %v", left, r.S.NextCursor, r.S.HasMore)
				}
				if r.S.NextCursor == "" {
					return
				}
				n := e.call(t, schemas.NextPage, map[string]any{"cursor": r.S.NextCursor})
				checkBudget(t, n, budget)
				if n.S.Offset != r.S.Offset+r.S.ReturnedRows {
					t.Errorf("next page starts at %d, want %d", n.S.Offset, r.S.Offset+r.S.ReturnedRows)
				}
			})
		}
	}
}

// walkAll reads query queryID from the first page to the last with
// next_page, checks every row against want (rows in order), re-runs the query
// a third of the way through, and checks the upstream row economy.
func walkAll(t *testing.T, e *env, queryID int64, args map[string]any, want func(i int) dune.Row, total, budget int) {
	t.Helper()
	args["query_id"], args["max_tokens"] = queryID, budget
	r := e.callExact(t, schemas.GetLatestResult, args)
	exec := r.S.ExecutionID
	next, calls, rerun := 0, 1, false
	for {
		if r.IsError {
			t.Fatalf("call %d: %s", calls, r.Text)
		}
		if calls%10 == 1 { // the budget is tested at length elsewhere; sample it here
			checkBudget(t, r, budget)
		}
		if r.S.ExecutionID != exec || r.S.Offset != next || r.S.Total != total {
			t.Fatalf("call %d: execution %s offset %d total %d, want %s offset %d total %d", calls, r.S.ExecutionID, r.S.Offset, r.S.Total, exec, next, total)
		}
		if r.S.ShortenedCells != 0 {
			t.Fatalf("call %d: %d shortened cells at budget %d", calls, r.S.ShortenedCells, budget)
		}
		for i, row := range r.S.Rows {
			if got, w := mustJSON(row), mustJSON(want(next+i)); got != w {
				t.Fatalf("row %d differs:\n got %s\nwant %s", next+i, got, w)
			}
		}
		if r.S.ReturnedRows == 0 {
			t.Fatalf("call %d: empty page at offset %d", calls, next)
		}
		next += r.S.ReturnedRows
		if !rerun && next > total/3 {
			// Re-running the query mid-walk must not change what the cursor reads.
			e.emu.Rerun(queryID, emulator.DEXTrades(total, 99))
			rerun = true
		}
		if r.S.NextCursor == "" {
			break
		}
		if !r.S.HasMore {
			t.Fatal("cursor without has_more")
		}
		r = e.callExact(t, schemas.NextPage, map[string]any{"cursor": r.S.NextCursor})
		calls++
	}
	if next != total {
		t.Fatalf("walk delivered %d rows, want %d", next, total)
	}
	st := e.emu.Stats()
	t.Logf("walk: %d calls, %d upstream requests, %d rows served upstream for %d delivered", calls, st.Requests, st.RowsServed, next)
	if float64(st.RowsServed) > 1.05*float64(next) {
		t.Errorf("fetched %d rows upstream for %d delivered (> 1.05x)", st.RowsServed, next)
	}
	if st.ByEndpoint[emulator.EndpointQueryResults] != 1 {
		t.Errorf("latest endpoint called %d times, want 1", st.ByEndpoint[emulator.EndpointQueryResults])
	}
}

// TestFullWalkReturnsEveryRowOnceInOrder walks 100,000 DEX rows with all 22
// columns at budget 25,000: about 1,300 pages, each tokenised in full, which
// takes minutes under the race detector; there TestFullWalkNarrow walks the
// same 100,000 rows with two columns.
func TestFullWalkReturnsEveryRowOnceInOrder(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("walks 100,000 x 22 cells (too slow with -race or -short; TestFullWalkNarrow covers those runs)")
	}
	e := newEnv(t)
	ds := emulator.DEXTrades(100000, 7)
	e.emu.AddQuery(42, ds)
	walkAll(t, e, 42, map[string]any{}, ds.Row, ds.Len(), 25000)
}

// TestFullWalkNarrow walks the same 100,000 DEX rows projected on two
// columns (fewer tokens per row, so far fewer pages).
func TestFullWalkNarrow(t *testing.T) {
	if testing.Short() {
		t.Skip("walks 100,000 rows")
	}
	e := newEnv(t)
	ds := emulator.DEXTrades(100000, 8)
	e.emu.AddQuery(43, ds)
	var o dune.Options
	o.Columns = []string{"evt_index", "amount_usd"}
	_, rows, total, err := emulator.Evaluate(ds, o, ds.Len())
	if err != nil || total != ds.Len() || len(rows) != total {
		t.Fatalf("Evaluate: %d rows, total %d, %v", len(rows), total, err)
	}
	walkAll(t, e, 43, map[string]any{"columns": o.Columns}, func(i int) dune.Row { return rows[i] }, total, 25000)
}

func TestCacheServesReRead(t *testing.T) {
	e := newEnv(t)
	e.emu.AddQuery(5, emulator.DEXTrades(5000, 5))
	first := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 5, "max_tokens": 2000})
	checkBudget(t, first, 2000)
	if first.S.Datapoints == 0 {
		t.Error("first page cost no datapoints")
	}
	a := e.callExact(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
	checkBudget(t, a, 2000)

	before := e.emu.Stats().Requests
	b := e.callExact(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
	if got := e.emu.Stats().Requests - before; got != 0 {
		t.Errorf("re-read made %d upstream requests", got)
	}
	if b.S.Datapoints != 0 {
		t.Errorf("re-read datapoints = %d, want 0", b.S.Datapoints)
	}
	if mustJSON(a.S.Rows) != mustJSON(b.S.Rows) || a.S.NextCursor == "" {
		t.Error("re-read returned different rows")
	}
}

func TestProbeRowsAreServedFromCache(t *testing.T) {
	// The first call fetches a little more than it shows and caches the
	// rest: next_page serves those rows without fetching them again (with no
	// request at all when they fill its page).
	e := newEnv(t)
	e.emu.AddQuery(6, emulator.DEXTrades(5000, 6))
	first := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 6, "max_tokens": 8000})
	checkBudget(t, first, 8000)
	st := e.emu.Stats()
	cached := st.RowsServed - first.S.ReturnedRows
	n := e.call(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
	checkBudget(t, n, 8000)
	after := e.emu.Stats()
	switch {
	case cached >= first.S.ReturnedRows:
		if after.Requests != st.Requests || n.S.Datapoints != 0 {
			t.Errorf("%d cached rows fill the page, yet next_page made %d requests (%d datapoints)", cached, after.Requests-st.Requests, n.S.Datapoints)
		}
	case after.Requests > st.Requests:
		q := after.RawQueries[len(after.RawQueries)-1]
		if want := fmt.Sprintf("offset=%d", first.S.ReturnedRows+cached); !strings.Contains(q, want) {
			t.Errorf("next_page fetched %q, want it to start after the %d cached rows (%s)", q, cached, want)
		}
	}
	if n.S.Offset != first.S.ReturnedRows {
		t.Errorf("next page offset %d, want %d", n.S.Offset, first.S.ReturnedRows)
	}
}

func TestValuesArriveExactly(t *testing.T) {
	e := newEnv(t)
	ds := emulator.DEXTrades(300, 11)
	e.emu.AddQuery(9, ds)
	r := e.callExact(t, schemas.GetLatestResult, map[string]any{"query_id": "9", "limit": 60, "max_tokens": 25000})
	checkBudget(t, r, 25000)
	if r.S.ReturnedRows == 0 {
		t.Fatal("no rows")
	}
	var sawNull, sawUint256, sawAddress bool
	for i, row := range r.S.Rows {
		want := ds.Row(i)
		if mustJSON(row) != mustJSON(want) {
			t.Fatalf("row %d:\n got %s\nwant %s", i, mustJSON(row), mustJSON(want))
		}
		for j, v := range row {
			typ := r.S.Columns[j].Type
			switch {
			case v == nil:
				sawNull = true
			case typ == "uint256":
				if _, ok := v.(string); !ok {
					t.Errorf("uint256 %v arrived as %T", v, v)
				}
				sawUint256 = true
			case typ == "varbinary":
				if s, _ := v.(string); !strings.HasPrefix(s, "0x") {
					t.Errorf("address %v", v)
				}
				sawAddress = true
			}
		}
	}
	if !sawNull || !sawUint256 || !sawAddress {
		t.Errorf("dataset lacks coverage: null %v uint256 %v address %v", sawNull, sawUint256, sawAddress)
	}
}

func TestExplicitLimitCappedByDune(t *testing.T) {
	e := newEnv(t, emulator.WithMaxPageSize(50))
	e.emu.AddQuery(3, emulator.DailySeries(400, 3))
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 3, "limit": 200, "max_tokens": 25000})
	checkBudget(t, r, 25000)
	if !strings.Contains(strings.Join(r.S.Notes, " ")+r.Text, "Dune capped limit 200 at 50 rows") {
		t.Errorf("capped limit not explained; notes %q", r.S.Notes)
	}
	if r.S.ReturnedRows > 50 || r.S.NextCursor == "" {
		t.Errorf("returned %d rows, cursor %q", r.S.ReturnedRows, r.S.NextCursor)
	}
}

func TestOffsetPastTheEnd(t *testing.T) {
	e := newEnv(t)
	e.emu.AddQuery(4, emulator.Tiny())
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 4, "offset": 100})
	checkBudget(t, r, 8000)
	if r.S.ReturnedRows != 0 || r.S.NextCursor != "" || r.S.HasMore {
		t.Errorf("rows %d cursor %q has_more %v", r.S.ReturnedRows, r.S.NextCursor, r.S.HasMore)
	}
	if !strings.Contains(strings.Join(r.S.Notes, " ")+r.Text, "offset 100 is beyond the last row: the result has 3 rows") {
		t.Errorf("past-the-end not explained: %q", r.S.Notes)
	}
}

func TestPartialResult(t *testing.T) {
	e := newEnv(t)
	e.emu.AddExecution(8, emulator.Execution{Dataset: emulator.DEXTrades(500, 8), Partial: true})
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 8})
	if !r.IsError || !strings.Contains(r.Text, "allow_partial_results=true") {
		t.Fatalf("without allow_partial_results: %v %q", r.IsError, r.Text)
	}
	r = e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 8, "allow_partial_results": true, "max_tokens": 4000})
	checkBudget(t, r, 4000)
	if r.S.State != string(dune.StateCompletedPartial) || !strings.Contains(strings.Join(r.S.Notes, " ")+r.Text, "Partial result") {
		t.Errorf("state %s, notes %q", r.S.State, r.S.Notes)
	}
	n := e.call(t, schemas.NextPage, map[string]any{"cursor": r.S.NextCursor})
	checkBudget(t, n, 4000)
}

func TestUpstreamErrorsThroughEmulator(t *testing.T) {
	e := newEnv(t)
	e.emu.AddQuery(1, emulator.DEXTrades(1000, 1))
	failedID := e.emu.AddExecution(2, emulator.Execution{State: dune.StateFailed, Error: &dune.ExecutionErrorInfo{
		Type: "FAILED_TYPE_EXECUTION_FAILED", Message: "line 1:8: Column 'x' cannot be resolved", Line: 1, Column: 8}})
	e.emu.AddExecution(3, emulator.Execution{State: dune.StateExecuting})
	e.emu.AddExecution(4, emulator.Execution{State: dune.StateCancelled})
	e.emu.AddExecution(5, emulator.Execution{State: dune.StateExpired})

	cases := []struct {
		name  string
		fault *emulator.Fault
		args  map[string]any
		want  []string
	}{
		{"not found", nil, map[string]any{"query_id": 999}, []string{"Query 999 not found", "private"}},
		{"failed", nil, map[string]any{"query_id": 2}, []string{"FAILED", failedID, "line 1, column 8", "Column 'x' cannot be resolved"}},
		{"executing", nil, map[string]any{"query_id": 3}, []string{"still running", "Try again"}},
		{"cancelled", nil, map[string]any{"query_id": 4}, []string{"CANCELLED"}},
		{"expired", nil, map[string]any{"query_id": 5}, []string{"EXPIRED"}},
		{"bad filter", nil, map[string]any{"query_id": 1, "filters": "amout_usd > 5"}, []string{"HTTP 400", "amout_usd"}},
		{"bad sort", nil, map[string]any{"query_id": 1, "sort_by": "nope desc"}, []string{"HTTP 400", "nope"}},
		{"rate limited", &emulator.Fault{Status: 429, RetryAfter: 7 * time.Second}, map[string]any{"query_id": 1}, []string{"429", "Retry after 7 s"}},
		{"credits", &emulator.Fault{Status: 402}, map[string]any{"query_id": 1}, []string{"402", "billing cycle"}},
		{"server error", &emulator.Fault{Status: 500}, map[string]any{"query_id": 1}, []string{"server error", "500"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.fault != nil {
				e.emu.InjectFault(*c.fault)
			}
			r := e.call(t, schemas.GetLatestResult, c.args)
			if !r.IsError {
				t.Fatalf("not an error: %.200s", r.Text)
			}
			for _, w := range c.want {
				if !strings.Contains(r.Text, w) {
					t.Errorf("message %q lacks %q", r.Text, w)
				}
			}
			if len(r.Text) > schemas.MaxMessageLen {
				t.Errorf("message is %d bytes", len(r.Text))
			}
		})
	}
}

func TestInvalidAPIKey(t *testing.T) {
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	emu.AddQuery(1, emulator.Tiny())
	e := newEnvWith(t, emu, "wrong-key-SECRET")
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1})
	if !r.IsError || !strings.Contains(r.Text, "DUNE_API_KEY") {
		t.Fatalf("got %v %q", r.IsError, r.Text)
	}
	if strings.Contains(r.Text, "SECRET") || strings.Contains(e.logs.String(), "SECRET") {
		t.Error("the key leaked into the result or the logs")
	}
}

func TestCursorFromAnotherServerRejected(t *testing.T) {
	e := newEnv(t)
	e.emu.AddQuery(1, emulator.DEXTrades(1000, 1))
	other := newTestToolset(t, &fakeFetcher{})
	foreign := other.codec.Encode(cursor{view: view{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1", KeyFP: other.codec.fingerprint("")}, QueryID: 1, Offset: 10, PageSize: 10})
	before := e.emu.Stats().Requests
	r := e.call(t, schemas.NextPage, map[string]any{"cursor": foreign})
	if !r.IsError || !strings.Contains(r.Text, "cursor is invalid: tampered, truncated, signed by another server") {
		t.Errorf("got %v %q", r.IsError, r.Text)
	}
	if e.emu.Stats().Requests != before {
		t.Error("a foreign cursor reached Dune")
	}
}

// Cursors are stateless: a second server (another replica, or this one after
// a restart) holding the same DUNE_MCP_CURSOR_SECRET continues a cursor the
// first one issued, from the same execution, with no cache of its own.
func TestCursorContinuesOnAnotherReplicaWithTheSameSecret(t *testing.T) {
	a := newEnv(t)
	ds := emulator.DEXTrades(500, 31)
	a.emu.AddQuery(31, ds)
	b := newEnvWith(t, a.emu, emulator.DefaultAPIKey) // same emulator, same secret, empty cache
	first := a.call(t, schemas.GetLatestResult, map[string]any{"query_id": 31, "columns": []string{"block_time", "tx_hash"}, "max_tokens": 1000})
	if first.IsError || first.S.NextCursor == "" || first.S.ReturnedRows == 0 {
		t.Fatalf("first page: %v %q", first.IsError, first.Text)
	}
	a.emu.Rerun(31, emulator.DEXTrades(500, 99)) // the query changes; the cursor's execution does not
	before := a.emu.Stats().Requests
	next := b.call(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
	if next.IsError {
		t.Fatalf("replica refused the cursor: %q", next.Text)
	}
	if next.S.ExecutionID != first.S.ExecutionID || next.S.Offset != first.S.ReturnedRows {
		t.Errorf("replica continued at %s offset %d, want %s offset %d", next.S.ExecutionID, next.S.Offset, first.S.ExecutionID, first.S.ReturnedRows)
	}
	if a.emu.Stats().Requests == before {
		t.Error("the replica has no cache of its own, yet made no upstream request")
	}
	for i, row := range next.S.Rows {
		want := ds.Row(first.S.ReturnedRows + i)
		if got, wantTx := fmt.Sprint(row[1]), fmt.Sprint(want[colIndex(ds, "tx_hash")]); got != wantTx {
			t.Fatalf("row %d: tx_hash %s, want %s", first.S.ReturnedRows+i, got, wantTx)
		}
	}
}

func colIndex(ds *emulator.Dataset, name string) int {
	for i, c := range ds.Columns {
		if c.Name == name {
			return i
		}
	}
	return -1
}

func TestNextPageOptions(t *testing.T) {
	e := newEnv(t)
	ds := emulator.DEXTrades(2000, 12)
	e.emu.AddQuery(12, ds)
	filters, sortBy := "amount_usd > 100", "amount_usd desc"
	cols := []string{"block_time", "project", "amount_usd", "tx_hash"}
	first := e.callExact(t, schemas.GetLatestResult, map[string]any{"query_id": 12, "columns": cols, "filters": filters, "sort_by": sortBy, "limit": 25})
	checkBudget(t, first, 8000)
	var o dune.Options
	o.Columns, o.Filters, o.SortBy, o.Limit = cols, filters, sortBy, 100000
	_, want, total, err := emulator.Evaluate(ds, o, 100000)
	if err != nil {
		t.Fatal(err)
	}
	if first.S.Total != total {
		t.Errorf("total %d, want %d", first.S.Total, total)
	}
	got := first.S.Rows
	r := first
	for len(got) < 100 && r.S.NextCursor != "" {
		// A new limit and budget apply from here on; columns, filters and sort stay.
		r = e.callExact(t, schemas.NextPage, map[string]any{"cursor": r.S.NextCursor, "limit": 30, "max_tokens": 3000})
		checkBudget(t, r, 3000)
		if r.S.ReturnedRows > 30 {
			t.Fatalf("next_page returned %d rows with limit 30", r.S.ReturnedRows)
		}
		got = append(got, r.S.Rows...)
	}
	for i := range got {
		if mustJSON(got[i]) != mustJSON(want[i]) {
			t.Fatalf("row %d:\n got %s\nwant %s", i, mustJSON(got[i]), mustJSON(want[i]))
		}
	}
}

func TestSampleResult(t *testing.T) {
	e := newEnv(t)
	e.emu.AddQuery(20, emulator.DEXTrades(10000, 20))
	r := e.call(t, schemas.SampleResult, map[string]any{"query_id": 20, "sample_count": 200, "columns": []string{"project", "amount_usd"}, "max_tokens": 4000})
	checkBudget(t, r, 4000)
	if r.S.NextCursor != "" || r.S.HasMore {
		t.Error("a sample offers a cursor")
	}
	if r.S.ReturnedRows == 0 || len(r.S.Columns) != 2 {
		t.Errorf("rows %d, columns %v", r.S.ReturnedRows, r.S.Columns)
	}
	if !strings.Contains(strings.Join(r.S.Notes, " ")+r.Text, "no cursor") {
		t.Errorf("sample not explained: %q", r.S.Notes)
	}
	st := e.emu.Stats()
	if len(st.RawQueries) == 0 || !strings.Contains(st.RawQueries[len(st.RawQueries)-1], "sample_count=200") {
		t.Errorf("sample_count not sent: %v", st.RawQueries)
	}
}

func TestQueryParametersSelectExecution(t *testing.T) {
	e := newEnv(t)
	e.emu.AddExecution(30, emulator.Execution{Dataset: emulator.DailySeries(10, 1), Params: map[string]string{"chain": "ethereum"}})
	e.emu.AddExecution(30, emulator.Execution{Dataset: emulator.DailySeries(20, 2), Params: map[string]string{"chain": "base"}})
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 30, "query_parameters": map[string]any{"chain": "ethereum"}})
	checkBudget(t, r, 8000)
	if r.S.Total != 10 {
		t.Errorf("total %d, want the ethereum run's 10", r.S.Total)
	}
}

func TestProgressNotifications(t *testing.T) {
	e := newEnv(t)
	e.emu.AddQuery(1, emulator.DEXTrades(500, 1))
	got := make(chan mcp.JSONRPCNotification, 16)
	e.cli.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == "notifications/progress" {
			got <- n
		}
	})
	req := mcp.CallToolRequest{}
	req.Params.Name = schemas.GetLatestResult
	req.Params.Arguments = map[string]any{"query_id": 1}
	req.Params.Meta = &mcp.Meta{ProgressToken: "tok-1"}
	if _, err := e.cli.CallTool(context.Background(), req); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-got:
		if tok := n.Params.AdditionalFields["progressToken"]; tok != "tok-1" {
			t.Errorf("progressToken = %v", tok)
		}
	case <-time.After(time.Minute): // a hang guard only
		t.Fatal("no progress notification")
	}
	// Without a token: no notification, no crash (Meta nil).
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1})
	checkBudget(t, r, 8000)
}

func TestOneLogLinePerCall(t *testing.T) {
	e := newEnv(t)
	e.emu.AddQuery(1, emulator.DEXTrades(500, 1))
	e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "max_tokens": 1000})
	e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 404})
	lines := strings.Split(strings.TrimSpace(e.logs.String()), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d log lines:\n%s", len(lines), e.logs.String())
	}
	var ok, bad map[string]any
	_ = json.Unmarshal([]byte(lines[0]), &ok)
	_ = json.Unmarshal([]byte(lines[1]), &bad)
	for _, k := range []string{"tool", "query_id", "execution_id", "duration", "upstream_requests", "rows_fetched", "rows_shown", "text_tokens", "structured_tokens"} {
		if _, has := ok[k]; !has {
			t.Errorf("log line lacks %s: %s", k, lines[0])
		}
	}
	if ok["level"] != "info" || ok["upstream_requests"].(float64) < 1 {
		t.Errorf("log line: %s", lines[0])
	}
	if bad["error_kind"] != string(dune.KindNotFound) {
		t.Errorf("error log line: %s", lines[1])
	}
	if strings.Contains(e.logs.String(), emulator.DefaultAPIKey) {
		t.Error("API key in logs")
	}
}

func TestBudgetCarriesOverAndClamps(t *testing.T) {
	e := newEnv(t)
	e.emu.AddQuery(1, emulator.DEXTrades(5000, 1))
	first := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "max_tokens": 1500})
	checkBudget(t, first, 1500)
	// next_page without max_tokens keeps the previous page's budget, not the server default.
	n := e.call(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
	checkBudget(t, n, 1500)
	// Out-of-range budgets are clamped to [256, 25000], not rejected.
	low := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "max_tokens": 10})
	checkBudget(t, low, 256)
	high := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "max_tokens": 1000000})
	checkBudget(t, high, 25000)
	if summary.CountTokens(high.Text) <= 8000 {
		t.Errorf("max_tokens 1000000 gave a %d-token text: clamped below 25000?", summary.CountTokens(high.Text))
	}
}
