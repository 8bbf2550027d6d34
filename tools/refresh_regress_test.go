// Regression tests for defects a review of the fresh-results code found;
// each comment describes the defect the test guards against.
package tools

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// Regression (found in review): a run whose wait ended early (cursor never resumed) stays "in flight"
// forever; a later refresh with max_age_hours joins it and serves its old
// result as fresh, without running.
func TestRegressionStaleFlightReused(t *testing.T) {
	e, clk := refreshEnv(t, func(c *Config) { c.CallTimeout = 2 * time.Second })
	e.emu.SetProfile(7, emulator.Profile{Queue: 20 * time.Second, Run: 40 * time.Second,
		Dataset: func(map[string]string) *emulator.Dataset { return emulator.DEXTrades(300, 77) }})
	a := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 1})
	if a.IsError || a.S.State != string(dune.StatePending) {
		t.Fatalf("A: %+v %s", a.S, a.Text)
	}
	clk.Advance(5 * time.Hour) // A's run ended ~5 h ago; nobody called next_page
	b := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 1})
	ended, _ := time.Parse(time.RFC3339Nano, b.S.EndedAt)
	t.Logf("B: executed=%v execution=%s (A's %s) ended=%s age=%s executions=%d",
		b.S.Executed, b.S.ExecutionID, a.S.ExecutionID, b.S.EndedAt, clk.Now().Sub(ended), e.emu.Stats().Executions)
	// B must not take A's old run: it runs the query again (and may still be
	// waiting for that new run at its bound).
	if b.IsError || b.S.ExecutionID == a.S.ExecutionID || e.emu.Stats().Executions != 2 {
		t.Errorf("B reused A's run: %+v", b.S)
	}
	if b.S.EndedAt != "" && clk.Now().Sub(ended) > time.Hour {
		t.Errorf("max_age_hours=1 served a result %s old", clk.Now().Sub(ended))
	}
}

// Regression (found in review): next_page on a waiting cursor whose call had an explicit limit reads
// with no limit at all: the whole result, past the per-call cap.
func TestRegressionWaitingCursorExplicitLimit(t *testing.T) {
	e, clk := refreshEnv(t, func(c *Config) { c.CallTimeout = 2 * time.Second; c.MaxDatapointsPerCall = 5000 })
	e.emu.SetProfile(7, emulator.Profile{Queue: 20 * time.Second, Run: 40 * time.Second,
		Dataset: func(map[string]string) *emulator.Dataset { return emulator.DEXTrades(3000, 77) }})
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 1, "limit": 10})
	if r.IsError || r.S.NextCursor == "" {
		t.Fatalf("%+v %s", r.S, r.Text)
	}
	before := e.emu.Stats()
	for range 40 {
		clk.Advance(10 * time.Second) // the agent's pause moves the run on, whatever each call's bound
		r = e.call(t, schemas.NextPage, map[string]any{"cursor": r.S.NextCursor})
		if r.IsError || r.S.ReturnedRows > 0 {
			break
		}
	}
	if !r.IsError && r.S.ReturnedRows == 0 {
		t.Fatal("the run never finished: no page was read, nothing to check")
	}
	after := e.emu.Stats()
	t.Logf("next_page: error=%v returned=%d datapoints(call)=%d rows served=%d datapoints served=%d", r.IsError, r.S.ReturnedRows, r.S.Datapoints,
		after.RowsServed-before.RowsServed, after.DatapointsServed-before.DatapointsServed)
	if d := after.DatapointsServed - before.DatapointsServed; d > 5000 {
		t.Errorf("limit 10 read %d datapoints (cap 5000)", d)
	}
}

// Regression (found in review): an exhausted budget does not stop the probe, nor the paid run; only
// the page read after the run is refused.
func TestRegressionExhaustedBudgetStillRuns(t *testing.T) {
	e, _ := refreshEnv(t, func(c *Config) { c.DatapointBudget = 2000 })
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_tokens": 20000})
	t.Logf("first: err=%v spent=%v left=%v", r.IsError, deref(r.S.Spent), r.S.Datapoints)
	for i := 0; i < 5 && !r.IsError; i++ {
		r = e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_tokens": 20000})
	}
	if !r.IsError {
		t.Fatal("budget never exhausted")
	}
	before := e.emu.Stats()
	r = e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 1})
	after := e.emu.Stats()
	t.Logf("refresh with spent budget: %q; requests %d, executions %d, credits %d", r.Text,
		after.Requests-before.Requests, after.Executions-before.Executions, after.Credits-before.Credits)
	if after.Executions > before.Executions || after.Requests > before.Requests {
		t.Errorf("spent budget: still %d requests and %d runs", after.Requests-before.Requests, after.Executions-before.Executions)
	}
}

func deref(p *int64) int64 {
	if p == nil {
		return -1
	}
	return *p
}

// Regression (found in review): concurrent calls with one key each pass admit before any spends.
func TestRegressionBudgetRace(t *testing.T) {
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	emu.AddExecution(9, emulator.Execution{Dataset: emulator.DEXTrades(5000, 1)})
	e := newEnvConfig(t, emu, emulator.DefaultAPIKey, func(c *Config) { c.DatapointBudget = 10000 })
	emu.InjectFault(emulator.Fault{Latency: 300 * time.Millisecond, Count: 100, Path: emulator.EndpointQueryResults})
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 9, "limit": 300})
			t.Logf("err=%v %.80s", r.IsError, r.Text)
		}()
	}
	wg.Wait()
	spent := e.ts.spend.Spent(e.ts.codec.fingerprint("").String())
	t.Logf("budget 10000, spent %d, emulator served %d datapoints", spent, emu.Stats().DatapointsServed)
	if spent > 10000 {
		t.Errorf("budget 10000 overspent: %d", spent)
	}
}

// Regression (found in review): the "cancelled wait" message carries the cursor, but is cut to 300 bytes.
func TestRegressionWaitStoppedCursorClipped(t *testing.T) {
	e, _ := refreshEnv(t, nil)
	q := pageQuery{queryID: 7, executionID: "01JH3Z8Q6Y5W7X9V2K4M6N8P0R",
		opts:   dune.Options{Columns: []string{"block_time", "amount_usd", "taker"}, Filters: "blockchain = 'base' AND amount_usd > 1000 AND project = 'uniswap'"},
		budget: 8000, fresh: freshness{executed: true}}
	cur := e.ts.waitCursor(7, q)
	te := explain(&waitStopped{cursor: cur, cause: context.Canceled}, callSite{})
	t.Logf("msg %d bytes: %s", len(te.Msg), te.Msg)
	if !strings.Contains(te.Msg, cur) {
		t.Errorf("cursor (%d bytes) cut from the message", len(cur))
	}
}

// Regression (found in review): a huge max_age_hours overflows time.Duration and runs the query.
func TestRegressionHugeMaxAgeRuns(t *testing.T) {
	e, _ := refreshEnv(t, nil)
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 1e7})
	t.Logf("executed=%v executions=%d", r.S.Executed, e.emu.Stats().Executions)
	if e.emu.Stats().Executions != 0 {
		t.Error("max_age_hours=1e7 (a 30 h old result) ran the query")
	}
}

// Regression (found in review): a running latest result without execution_id wedges the key.
type revFetcher struct {
	latest func() (*dune.Result, error)
	execs  int
}

func (f *revFetcher) GetLatestResult(context.Context, int64, dune.Options) (*dune.Result, error) {
	return f.latest()
}
func (f *revFetcher) GetExecutionResult(context.Context, string, dune.Options) (*dune.Result, error) {
	return nil, errors.New("unused")
}
func (f *revFetcher) ExecuteQuery(context.Context, int64, map[string]string, string) (*dune.Execution, error) {
	f.execs++
	return &dune.Execution{ExecutionID: "01JH3Z8Q6Y5W7X9V2K4M6N8P0R"}, nil
}
func (f *revFetcher) GetExecutionStatus(ctx context.Context, id string) (*dune.Status, error) {
	return dune.NewClient(dune.Config{APIKey: "k"}).GetExecutionStatus(ctx, id)
}

func TestRegressionRunningWithoutID(t *testing.T) {
	old := time.Now().Add(-48 * time.Hour)
	ff := &revFetcher{latest: func() (*dune.Result, error) {
		return nil, &dune.ResultError{State: dune.StateExecuting}
	}}
	ts, _ := New(Config{Fetcher: ff, CursorSecret: []byte("x")})
	c := &call{tool: schemas.GetLatestResult, usage: &dune.Usage{}}
	p := schemas.GetLatestResultParams{}
	p.QueryID = 7
	h := 1.0
	p.MaxAgeHours = &h
	_, _, err := ts.getLatestResult(context.Background(), c, p)
	t.Logf("first: %v -> %q", err, explain(err, callSite{}).Msg)
	// Dune now has a stale completed result: a run should start.
	ff.latest = func() (*dune.Result, error) {
		return &dune.Result{ExecutionID: "01JH3Z8Q6Y5W7X9V2K4M6N8P0A", State: dune.StateCompleted, ExecutionEndedAt: &old, HasResult: true}, nil
	}
	_, _, err = ts.getLatestResult(context.Background(), c, p)
	t.Logf("second: %v (execute requests %d)", err, ff.execs)
	if ff.execs == 0 {
		t.Error("key wedged on execution id \"\"")
	}
}

// Regression (found in review): the call's own deadline during a wait is reported as "cancelled".
// The status check hangs until the call's deadline ends it. That deadline is
// wall-clock time: should it end before the status check (a starved machine
// still in the execute request), the case under test did not happen, and
// the call is tried again with twice the deadline. No timing is asserted.
func TestRegressionDeadlineReportedAsCancel(t *testing.T) {
	for timeout := 250 * time.Millisecond; ; timeout *= 2 {
		e, _ := refreshEnv(t, func(c *Config) { c.CallTimeout = timeout })
		e.emu.SetProfile(7, emulator.Profile{Run: time.Hour})
		e.emu.InjectFault(emulator.Fault{Latency: time.Hour, Count: 100, Path: emulator.EndpointStatus})
		r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 1})
		if endpoint(e, emulator.EndpointStatus) == 0 {
			if timeout > time.Minute {
				t.Fatalf("no status check within a %s call deadline: %q", timeout, r.Text)
			}
			continue
		}
		// Not "cancelled": the run goes on and the answer carries the cursor.
		if r.IsError || r.S.NextCursor == "" || !r.S.HasMore || strings.Contains(r.Text, "cancelled") {
			t.Errorf("deadline during a status check: isError %v %q", r.IsError, r.Text)
		}
		return
	}
}

// Regression (found in review): sample_result bypasses the credit guard (cap and budget).
func TestRegressionSampleBypassesGuard(t *testing.T) {
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	emu.AddExecution(9, emulator.Execution{Dataset: emulator.DEXTrades(20000, 1)})
	e := newEnvConfig(t, emu, emulator.DefaultAPIKey, func(c *Config) { c.MaxDatapointsPerCall = 10000; c.DatapointBudget = 20000 })
	for i := range 2 {
		r := e.call(t, schemas.SampleResult, map[string]any{"query_id": 9, "sample_count": 10000})
		t.Logf("sample %d: err=%v datapoints=%d spent=%d", i, r.IsError, r.S.Datapoints, deref(r.S.Spent))
	}
	if d := emu.Stats().DatapointsServed; d > 20000 {
		t.Errorf("cap 10000/call, budget 20000: %d datapoints read", d)
	}
}

// Regression (found in review): explicit limit on a result never seen: 25 columns assumed, even in
// the refresh path where the probe has just read the real columns.
func TestRegressionWideUnknownUnderCounts(t *testing.T) {
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	cols := make([]dune.Column, 60)
	for i := range cols {
		cols[i] = dune.Column{Name: "c" + strconv.Itoa(i), Type: "bigint"}
	}
	ds := emulator.GeneratedDataset("wide", cols, 5000, func(i int) dune.Row {
		r := make(dune.Row, 60)
		for j := range r {
			r[j] = json.Number(strconv.Itoa(i + j))
		}
		return r
	})
	emu.AddExecution(9, emulator.Execution{Dataset: ds})
	e := newEnvConfig(t, emu, emulator.DefaultAPIKey, nil) // cap 100,000
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 9, "limit": 3000, "max_age_hours": 1000})
	t.Logf("limit 3000 × 60 cols: err=%v datapoints=%d (cap 100000) %.120s", r.IsError, r.S.Datapoints, r.Text)
	if r.S.Datapoints > 100000 {
		t.Errorf("per-call cap exceeded: %d", r.S.Datapoints)
	}
}

// Regression (found in review): an explicit limit over the cap is refused only after the paid run.
func TestRegressionOverCapLimitStillRuns(t *testing.T) {
	e, _ := refreshEnv(t, nil)
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 1, "limit": 10000})
	if !r.IsError || e.emu.Stats().Executions != 0 || e.emu.Stats().Requests != 0 {
		t.Errorf("isError %v, %d runs, %d requests: %q", r.IsError, e.emu.Stats().Executions, e.emu.Stats().Requests, r.Text)
	}
}
