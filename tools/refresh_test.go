package tools

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/faultproxy"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// refreshEnv serves query 7, whose latest result ended 30 hours ago.
// The emulator's executions and the toolset's waits share one clock that
// jumps instead of sleeping.
func refreshEnv(t testing.TB, set func(*Config)) (*env, *clock.Jump) {
	t.Helper()
	return refreshEnvOn(t, func(c *Config, _ *emulator.Server) {
		if set != nil {
			set(c)
		}
	})
}

// refreshEnvOn is refreshEnv whose set also sees the emulator (to put a
// fault proxy in front of it).
func refreshEnvOn(t testing.TB, set func(*Config, *emulator.Server)) (*env, *clock.Jump) {
	t.Helper()
	clock := clock.NewJump(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	emu := emulator.NewServer(emulator.WithClock(clock.Now))
	t.Cleanup(emu.Close)
	emu.AddExecution(7, emulator.Execution{Dataset: emulator.DEXTrades(500, 7), EndedAt: clock.Now().Add(-30 * time.Hour)})
	emu.SetProfile(7, emulator.Profile{Queue: 4 * time.Second, QueuePositions: 2, Run: 10 * time.Second,
		Dataset: func(map[string]string) *emulator.Dataset { return emulator.DEXTrades(300, 77) }})
	e := newEnvConfig(t, emu, emulator.DefaultAPIKey, func(c *Config) {
		c.Clock = clock
		set(c, emu)
	})
	return e, clock
}

func endpoint(e *env, name string) int { return e.emu.Stats().ByEndpoint[name] }

func TestFreshEnoughIsNotRun(t *testing.T) {
	e, _ := refreshEnv(t, nil)
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 48})
	if r.IsError || r.S.Executed || r.S.Total != 500 || r.S.ReturnedRows == 0 {
		t.Fatalf("fresh enough: %+v\n%s", r.S, r.Text)
	}
	if n := endpoint(e, emulator.EndpointExecute); n != 0 {
		t.Errorf("%d execute requests for a fresh-enough result", n)
	}
	// Without max_age_hours nothing is ever run, however old the result.
	if r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7}); r.IsError || endpoint(e, emulator.EndpointExecute) != 0 {
		t.Errorf("plain call ran the query: %v", r.Text)
	}
}

func TestStaleResultIsRefreshed(t *testing.T) {
	e, _ := refreshEnv(t, nil)
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 24, "performance": "large", "max_tokens": 4000})
	if r.IsError {
		t.Fatal(r.Text)
	}
	st := e.emu.Stats()
	if st.Executions != 1 || st.Credits != emulator.CreditsLarge || st.ByEndpoint[emulator.EndpointStatus] < 2 {
		t.Errorf("emulator: %d executions, %d credits, %d status polls", st.Executions, st.Credits, st.ByEndpoint[emulator.EndpointStatus])
	}
	if !r.S.Executed || r.S.Credits == nil || *r.S.Credits != emulator.CreditsLarge || r.S.Total != 300 || r.S.State != string(dune.StateCompleted) || r.S.ExpiresAt == "" {
		t.Errorf("structured: %+v", r.S)
	}
	if !strings.Contains(r.Text, "ran the query now") || !strings.Contains(r.Text, "20 credits") {
		t.Errorf("text does not say the run and its cost:\n%s", r.Text)
	}
	// The page is pinned to the new execution: next_page continues it.
	if r.S.NextCursor == "" {
		t.Fatal("no cursor")
	}
	n := e.call(t, schemas.NextPage, map[string]any{"cursor": r.S.NextCursor})
	if n.IsError || n.S.ExecutionID != r.S.ExecutionID || n.S.Offset != r.S.ReturnedRows {
		t.Errorf("next page: %+v", n.S)
	}
}

func TestStillRunningAtTheBoundThenResumed(t *testing.T) {
	for _, views := range allViews {
		t.Run(views, func(t *testing.T) { stillRunningThenResumed(t, views) })
	}
}

// stillRunningThenResumed is TestStillRunningAtTheBoundThenResumed for a
// client of the given result views: the part it forwards says the query
// is still running, and gives the cursor and the call that resumes.
func stillRunningThenResumed(t *testing.T, views string) {
	e, clk := refreshEnv(t, func(c *Config) { c.CallTimeout = 2 * time.Second; c.ResultViews = views })
	e.emu.SetProfile(7, emulator.Profile{Queue: 20 * time.Second, QueuePositions: 3, Run: 40 * time.Second})
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 1})
	if r.IsError || r.S.State != string(dune.StatePending) || r.S.ReturnedRows != 0 || !r.S.HasMore || r.S.NextCursor == "" || r.S.ExecutionID == "" || !r.S.Executed {
		t.Fatalf("still running: %+v\n%s", r.S, r.Text)
	}
	for _, v := range visible(r, views) {
		if !strings.Contains(v, "still running") || !strings.Contains(v, "next_page") || !strings.Contains(v, r.S.NextCursor) {
			t.Errorf("a forwarded part lacks the state, the call or the cursor:\n%s", v)
		}
		if strings.Contains(v, "in table") {
			t.Errorf("a waiting result points at a table it has not:\n%s", v)
		}
	}
	id := r.S.ExecutionID
	// Each call waits at most its bound, which is what is left of a
	// wall-clock deadline: the agent's pause between calls is what moves
	// the run on, so that a slow machine's shorter waits change nothing.
	for range 40 {
		clk.Advance(10 * time.Second)
		r = e.call(t, schemas.NextPage, map[string]any{"cursor": r.S.NextCursor})
		if r.IsError {
			t.Fatal(r.Text)
		}
		if r.S.ReturnedRows > 0 {
			break
		}
	}
	if r.S.ExecutionID != id || r.S.ReturnedRows == 0 || r.S.Offset != 0 || r.S.State != string(dune.StateCompleted) {
		t.Fatalf("resumed: %+v", r.S)
	}
	if n := e.emu.Stats().Executions; n != 1 {
		t.Errorf("executions = %d, want 1", n)
	}
}

func TestConcurrentRefreshesRunOnce(t *testing.T) {
	e, _ := refreshEnv(t, nil)
	var wg sync.WaitGroup
	res := make([]result, 4)
	for i := range res {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i] = e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 24})
		}()
	}
	wg.Wait()
	for i, r := range res {
		if r.IsError || r.S.ExecutionID != res[0].S.ExecutionID || r.S.Total != 300 {
			t.Errorf("call %d: error %v, execution %s (call 0: %s), total %d", i, r.IsError, r.S.ExecutionID, res[0].S.ExecutionID, r.S.Total)
		}
	}
	if n := e.emu.Stats().Executions; n != 1 {
		t.Errorf("executions = %d, want 1", n)
	}
}

func TestRunningExecutionOnDuneIsJoined(t *testing.T) {
	e, _ := refreshEnv(t, nil)
	// Another process started a run: the latest execution is EXECUTING.
	e.emu.AddExecution(7, emulator.Execution{State: dune.StateExecuting})
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 24})
	if n := endpoint(e, emulator.EndpointExecute); n != 0 {
		t.Errorf("%d execute requests while Dune had one running", n)
	}
	if r.S.Executed {
		t.Errorf("joined run reported as this call's: %+v", r.S)
	}
}

func TestRefreshErrors(t *testing.T) {
	cases := []struct {
		name  string
		setup func(*env)
		args  map[string]any
		want  []string
	}{
		{"failed run", func(e *env) {
			e.emu.SetProfile(7, emulator.Profile{Run: time.Second, Outcome: emulator.OutcomeFailed,
				Error: &dune.ExecutionErrorInfo{Type: "FAILED_TYPE_EXECUTION_FAILED", Message: "line 3:14: Column 'amount' cannot be resolved", Line: 3, Column: 14}})
		}, nil, []string{"FAILED", "line 3, column 14", "cannot be resolved"}},
		{"30-minute timeout", func(e *env) {
			e.emu.SetProfile(7, emulator.Profile{Outcome: emulator.OutcomeTimeout})
		}, nil, []string{"30-minute"}},
		{"402 on execute", func(e *env) {
			e.emu.InjectFault(emulator.Fault{Status: 402, Path: emulator.EndpointExecute})
		}, nil, []string{"credits", "402", "without max_age_hours"}},
		{"429 on execute", func(e *env) {
			e.emu.InjectFault(emulator.Fault{Status: 429, RetryAfter: 40 * time.Second, Path: emulator.EndpointExecute})
		}, nil, []string{"429", "40 s", "without max_age_hours"}},
		{"unknown parameter", nil, map[string]any{"query_parameters": map[string]any{"chain": "base"}}, []string{"400", "query_parameters"}},
		{"required parameter", func(e *env) {
			e.emu.SetParams(7, emulator.Param{Name: "wallet", Required: true})
		}, nil, []string{"wallet", "query_parameters"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, _ := refreshEnv(t, func(cfg *Config) { cfg.CallTimeout = time.Hour })
			if c.setup != nil {
				c.setup(e)
			}
			args := map[string]any{"query_id": 7, "max_age_hours": 24}
			for k, v := range c.args {
				args[k] = v
			}
			r := e.call(t, schemas.GetLatestResult, args)
			if !r.IsError {
				t.Fatalf("not an error: %+v", r.S)
			}
			for _, w := range c.want {
				if !strings.Contains(r.Text, w) {
					t.Errorf("%q lacks %q", r.Text, w)
				}
			}
		})
	}
}

func TestNoExecuteRefusesMaxAge(t *testing.T) {
	e, _ := refreshEnv(t, func(c *Config) { c.NoExecute = true })
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 1})
	if !r.IsError || !strings.Contains(r.Text, "--no-execute") || e.emu.Stats().Requests != 0 {
		t.Errorf("no-execute: %v %q, %d requests", r.IsError, r.Text, e.emu.Stats().Requests)
	}
}

func TestProgressWhileWaiting(t *testing.T) {
	e, _ := refreshEnv(t, nil)
	msgs := make(chan string, 256)
	e.cli.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == "notifications/progress" {
			msgs <- n.Params.AdditionalFields["message"].(string)
		}
	})
	req := mcp.CallToolRequest{}
	req.Params.Name = schemas.GetLatestResult
	req.Params.Arguments = map[string]any{"query_id": 7, "max_age_hours": 24}
	req.Params.Meta = &mcp.Meta{ProgressToken: "p1"}
	if res, err := e.cli.CallTool(context.Background(), req); err != nil || res.IsError {
		t.Fatalf("%v %+v", err, res)
	}
	// The in-process client hands notifications over on a goroutine of its
	// own, possibly after the call has answered: read them until each
	// expected one came (a hang guard only ends the wait).
	want := []string{"QUERY_STATE_PENDING", "queue position 2", "QUERY_STATE_EXECUTING", "s elapsed"}
	var all []string
	guard := time.After(time.Minute)
	for len(want) > 0 {
		select {
		case m := <-msgs:
			all = append(all, m)
			want = slices.DeleteFunc(want, func(w string) bool { return strings.Contains(m, w) })
		case <-guard:
			t.Fatalf("progress lacks %q:\n%s", want, strings.Join(all, "\n"))
		}
	}
}

// lineChan is a log writer that hands each line (one zerolog event per
// Write) to a channel: the per-call line is written when the handler ends,
// so a test waits on it instead of sleeping.
type lineChan chan string

func (c lineChan) Write(p []byte) (int, error) {
	c <- string(p)
	return len(p), nil
}

// logCalls makes set's Config log each call's line to the returned channel.
func logCalls(c *Config) lineChan {
	lines := make(lineChan, 16)
	c.Logger = zerolog.New(lines)
	return lines
}

func TestCancelledWaitLeavesTheRun(t *testing.T) {
	var (
		lines lineChan
		p     *faultproxy.Proxy
	)
	e, _ := refreshEnvOn(t, func(c *Config, emu *emulator.Server) {
		lines = logCalls(c)
		// The proxy holds the first request under /api/v1/execution/: the
		// wait's first status check (the probe and the execute request are
		// under /api/v1/query/).
		p = faultproxy.New(emu.URL)
		t.Cleanup(p.Close)
		p.Inject(faultproxy.Fault{Path: "/api/v1/execution/", Hang: true})
		c.Fetcher = dune.NewClient(dune.Config{BaseURL: p.URL, APIKey: emulator.DefaultAPIKey, Retry: dune.RetryPolicy{MaxAttempts: 1}})
	})
	e.emu.SetProfile(7, emulator.Profile{Run: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = e.cli.CallTool(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: schemas.GetLatestResult,
			Arguments: map[string]any{"query_id": 7, "max_age_hours": 24}}})
	}()
	<-p.Hung // the wait for the run has begun
	cancel()
	<-done
	// The handler's log line is its last act: Dune has had every request
	// the handler would send.
	if line := <-lines; !strings.Contains(line, `"error_kind":"cancelled"`) {
		t.Fatalf("the call did not end cancelled: %s", line)
	}
	if n := endpoint(e, emulator.EndpointCancel); n != 0 || e.emu.Stats().Executions != 1 {
		t.Errorf("cancel requests %d, executions %d", n, e.emu.Stats().Executions)
	}
}

// A client that supports tasks gets get_latest_result as a task: the call
// answers at once with a task, and the task's result is the refreshed page.
func TestRefreshAsTask(t *testing.T) {
	e, _ := refreshEnv(t, func(c *Config) { c.CallTimeout = time.Second })
	e.emu.SetProfile(7, emulator.Profile{Queue: 30 * time.Second, Run: 2 * time.Minute,
		Dataset: func(map[string]string) *emulator.Dataset { return emulator.DEXTrades(300, 77) }})
	rpc := func(method string, params map[string]any) map[string]any {
		msg, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": method, "params": params})
		raw, _ := json.Marshal(e.srv.HandleMessage(context.Background(), msg))
		var out struct {
			Result map[string]any `json:"result"`
			Error  any            `json:"error"`
		}
		if err := json.Unmarshal(raw, &out); err != nil || out.Error != nil {
			t.Fatalf("%s: %s", method, raw)
		}
		return out.Result
	}
	created := rpc("tools/call", map[string]any{"name": schemas.GetLatestResult,
		"arguments": map[string]any{"query_id": 7, "max_age_hours": 1}, "task": map[string]any{"ttl": 600000}})
	task, _ := created["task"].(map[string]any)
	id, _ := task["taskId"].(string)
	if id == "" || task["status"] != "working" {
		t.Fatalf("no working task: %v", created)
	}
	// tasks/result blocks until the task ends (no polling).
	res := rpc("tasks/result", map[string]any{"taskId": id})
	if got := rpc("tasks/get", map[string]any{"taskId": id}); got["status"] != "completed" {
		t.Fatalf("task status %v", got["status"])
	}
	sc, _ := res["structuredContent"].(map[string]any)
	// The task waited past the 1 s call timeout for the 150 s run.
	if res["isError"] == true || sc["executed"] != true || sc["total_row_count"] != float64(300) || sc["state"] != string(dune.StateCompleted) {
		t.Errorf("task result: %v", res)
	}
}

// A run still going on at the bound, asked with an explicit limit, resumes
// with that limit.
func TestResumedWaitKeepsTheLimit(t *testing.T) {
	e, clk := refreshEnv(t, func(c *Config) { c.CallTimeout = 2 * time.Second })
	e.emu.SetProfile(7, emulator.Profile{Queue: 20 * time.Second, Run: 40 * time.Second,
		Dataset: func(map[string]string) *emulator.Dataset { return emulator.DEXTrades(300, 77) }})
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 1, "limit": 5, "columns": []string{"amount_usd"}})
	for i := 0; i < 40 && !r.IsError && r.S.ReturnedRows == 0; i++ {
		clk.Advance(10 * time.Second) // the agent's pause moves the run on (see above)
		r = e.call(t, schemas.NextPage, map[string]any{"cursor": r.S.NextCursor})
	}
	if r.IsError || r.S.ReturnedRows != 5 || !r.S.HasMore || r.S.Datapoints != 5 {
		t.Fatalf("resumed page: %d rows, has_more %v, %d datapoints: %s", r.S.ReturnedRows, r.S.HasMore, r.S.Datapoints, r.Text)
	}
}

// The credit guard refuses a refresh before anything is spent: no probe,
// no run.
func TestRefreshRefusedBeforeSpending(t *testing.T) {
	for name, set := range map[string]func(*Config){
		"over the per-call cap": func(c *Config) { c.MaxDatapointsPerCall = 1000 },
		"budget spent":          func(c *Config) { c.DatapointBudget = 130 }, // 110 spent by the first read
	} {
		t.Run(name, func(t *testing.T) {
			e, _ := refreshEnv(t, set)
			// The first read teaches the width (22 columns) and, for the
			// budget, spends it.
			if r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "limit": 5}); r.IsError {
				t.Fatal(r.Text)
			}
			before := e.emu.Stats().Requests
			r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "limit": 100, "max_age_hours": 24})
			if !r.IsError || e.emu.Stats().Requests != before || e.emu.Stats().Executions != 0 {
				t.Errorf("isError %v, %d requests, %d runs: %s", r.IsError, e.emu.Stats().Requests-before, e.emu.Stats().Executions, r.Text)
			}
		})
	}
}
