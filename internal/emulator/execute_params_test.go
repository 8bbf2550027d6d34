package emulator_test

import (
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// rowsOf reads every row of an execution (limit 1000 is enough here).
func rowsOf(t *testing.T, s *emulator.Server, id string) []map[string]any {
	t.Helper()
	p := get(t, s, "/api/v1/execution/"+id+"/results?limit=1000").page(t)
	if p.State != "QUERY_STATE_COMPLETED" || p.Result == nil {
		t.Fatalf("%s: state %s", id, p.State)
	}
	return p.Result.Rows
}

func TestExecuteParams(t *testing.T) {
	s, clock := clocked(t)
	s.AddExecution(7, emulator.Execution{Dataset: emulator.DailySeries(40, 1), Params: map[string]string{"a": "1"}})
	s.AddExecution(7, emulator.Execution{Dataset: emulator.DailySeries(50, 2), Params: map[string]string{"a": "2"}})
	s.SetProfile(7, emulator.Profile{})
	s.SetParams(8, emulator.Param{Name: "chain", Default: "ethereum"}, emulator.Param{Name: "wallet", Required: true})
	s.SetProfile(8, emulator.Profile{Dataset: func(p map[string]string) *emulator.Dataset {
		return emulator.DailySeries(len(p["chain"])+len(p["wallet"]), 3)
	}})

	// same values as a registered execution: its rows; other values: a
	// deterministic variant
	one := execute(t, s, 7, `{"query_parameters":{"a":"1"}}`)
	three := execute(t, s, 7, `{"query_parameters":{"a":3}}`)
	threeAgain := execute(t, s, 7, `{"query_parameters":{"a":"3"}}`)
	four := execute(t, s, 7, `{"query_parameters":{"a":"4"}}`)
	clock.Set(time.Second)
	if got := rowsOf(t, s, one); len(got) != 40 {
		t.Errorf("a=1: %d rows", len(got))
	}
	r3, r4 := rowsOf(t, s, three), rowsOf(t, s, four)
	if !reflect.DeepEqual(r3, rowsOf(t, s, threeAgain)) {
		t.Error("the same values gave different rows")
	}
	if reflect.DeepEqual(r3, r4) || reflect.DeepEqual(r3[:10], rowsOf(t, s, one)[:10]) {
		t.Error("different values gave the same rows")
	}
	// params.<name> on the latest endpoint selects among the executions run
	for v, want := range map[string]string{"1": one, "3": threeAgain, "4": four} {
		if p := get(t, s, "/api/v1/query/7/results?limit=1&params.a="+v).page(t); p.ExecutionID != want {
			t.Errorf("params.a=%s: %s, want %s", v, p.ExecutionID, want)
		}
	}
	send(t, s, http.MethodPost, "/api/v1/query/7/execute", `{"query_parameters":{"b":"1"}}`).wantError(t, 400, emulator.MsgUnknownParams)

	// declared parameters: defaults apply, required ones must be given
	send(t, s, http.MethodPost, "/api/v1/query/8/execute", `{"query_parameters":{"chain":"base"}}`).
		wantError(t, 400, "missing required parameters (no default value): wallet")
	send(t, s, http.MethodPost, "/api/v1/query/8/execute", `{"query_parameters":{"wallet":"0xab","x":"1"}}`).
		wantError(t, 400, emulator.MsgUnknownParams)
	dflt := execute(t, s, 8, `{"query_parameters":{"wallet":"0xab"}}`)
	r := send(t, s, http.MethodPost, "/api/v1/query/8/execute?query_parameters="+url.QueryEscape(`{"wallet":"0xabcd","chain":"base"}`), "")
	qs, _ := r.object(t)["execution_id"].(string)
	list := execute(t, s, 8, `{"query_parameters":{"wallet":["0xab",7,true]}}`)
	clock.Set(2 * time.Second)
	for id, n := range map[string]int{dflt: 8 + 4, qs: 4 + 6, list: 8 + 11} {
		if got := len(rowsOf(t, s, id)); got != n {
			t.Errorf("%s: %d rows, want %d", id, got, n)
		}
	}
	if p := get(t, s, "/api/v1/query/8/results?limit=1&params.chain=ethereum").page(t); p.ExecutionID != list {
		t.Errorf("the default value is remembered: %s, want %s", p.ExecutionID, list)
	}
	if p := get(t, s, "/api/v1/query/8/results?limit=1&params.wallet=0xab").page(t); p.ExecutionID != dflt {
		t.Errorf("params.wallet=0xab: %s, want %s", p.ExecutionID, dflt)
	}
}

func TestDemoExecutions(t *testing.T) {
	s, clock := clocked(t, emulator.WithDemoData())
	run := func(q int64, body string) string { return execute(t, s, q, body) }
	tiny := run(emulator.DemoTiny, "")
	dex := run(emulator.DemoDEXTrades, `{"performance":"large"}`)
	failed := run(emulator.DemoFailed, "")
	never := run(emulator.DemoExecuting, "")
	queued := run(emulator.DemoPending, "")
	partial := run(emulator.DemoPartial, "")
	base := run(emulator.DemoByChain, `{"query_parameters":{"chain":"base"}}`)
	solana := run(emulator.DemoByChain, `{"query_parameters":{"chain":"solana"}}`)
	eth := run(emulator.DemoByChain, "") // default chain: ethereum
	tokens := run(emulator.DemoTopTokens, `{"query_parameters":{"chain":"arbitrum","period":"7d"}}`)
	tokensNew := run(emulator.DemoTopTokens, `{"query_parameters":{"chain":"base","period":"1d"}}`)
	wallet := run(emulator.DemoWallet, `{"query_parameters":{"wallet":"`+emulator.DemoWalletAddress+`"}}`)
	other := run(emulator.DemoWallet, `{"query_parameters":{"wallet":"0x00000000000000000000000000000000000000aa"}}`)
	send(t, s, http.MethodPost, "/api/v1/query/1015/execute", "").wantError(t, 400, "missing required parameters (no default value): wallet")
	send(t, s, http.MethodPost, "/api/v1/query/1010/execute", `{"query_parameters":{"chain":"base","period":"7d"}}`).wantError(t, 400, emulator.MsgUnknownParams)

	// the queued query: positions 3, 2, 1, then 2 s executing
	for sec, want := range []string{"3", "2", "1", "EXECUTING", "EXECUTING", "COMPLETED"} {
		clock.Set(time.Duration(sec) * time.Second)
		m := status(t, s, queued)
		got := strings.TrimPrefix(m["state"].(string), "QUERY_STATE_")
		if got == "PENDING" {
			got = fmt.Sprint(m["queue_position"])
		}
		if got != want {
			t.Errorf("1014 at +%ds: %s, want %s", sec, got, want)
		}
	}
	// the quick ones are done after 3 s
	clock.Set(3*time.Second - time.Millisecond)
	if st := status(t, s, tiny)["state"]; st != "QUERY_STATE_EXECUTING" {
		t.Errorf("1005 at +2.999s: %v", st)
	}
	clock.Set(3 * time.Second)
	if st := status(t, s, tiny)["state"]; st != "QUERY_STATE_COMPLETED" {
		t.Errorf("1005 at +3s: %v", st)
	}
	clock.Set(5 * time.Second)
	sizes := map[string]int{tiny: 3, dex: 100000, queued: 30, base: 365, solana: 365, eth: 365, tokens: 15, tokensNew: 15, wallet: 53}
	for id, n := range sizes {
		p := get(t, s, "/api/v1/execution/"+id+"/results?limit=5").page(t)
		if p.State != "QUERY_STATE_COMPLETED" || p.Result == nil || p.Result.Metadata.TotalRowCount != n {
			t.Errorf("%s: %s, want %d rows", id, p.State, n)
			continue
		}
		if p.Result.Metadata.TotalRowCount != n {
			t.Errorf("%s: %s with %d rows, want %d", id, p.State, p.Result.Metadata.TotalRowCount, n)
		}
	}
	if c := num(t, status(t, s, dex)["execution_cost_credits"]); c != 20 {
		t.Errorf("large run cost %d", c)
	}
	if p := get(t, s, "/api/v1/execution/"+partial+"/results?allow_partial_results=true&limit=1").page(t); p.State != "QUERY_STATE_COMPLETED_PARTIAL" || p.Result.Metadata.TotalRowCount != 5000 {
		t.Errorf("1007: %+v", p)
	}
	m := status(t, s, failed)
	e := m["error"].(map[string]any)
	if m["state"] != "QUERY_STATE_FAILED" || !strings.HasPrefix(e["message"].(string), "line 1:8: Column 'x' cannot be resolved") ||
		!strings.HasSuffix(e["message"].(string), "[Execution ID: "+failed+"]") || num(t, e["metadata"].(map[string]any)["column"]) != 8 {
		t.Errorf("1006: %v", m)
	}
	// per-parameter datasets: the registered rows; other values: other rows
	latestBase := get(t, s, "/api/v1/query/1010/results?limit=3&params.chain=base").page(t)
	if latestBase.ExecutionID != base {
		t.Errorf("params.chain=base picked %s, want %s", latestBase.ExecutionID, base)
	}
	registeredBase := get(t, s, "/api/v1/execution/"+latestBase.ExecutionID+"/results?limit=3").page(t)
	solanaRows := get(t, s, "/api/v1/execution/"+solana+"/results?limit=3").page(t)
	ethRows := get(t, s, "/api/v1/execution/"+eth+"/results?limit=3").page(t)
	if reflect.DeepEqual(solanaRows.Result.Rows, registeredBase.Result.Rows) || reflect.DeepEqual(ethRows.Result.Rows, registeredBase.Result.Rows) {
		t.Error("another chain served base's rows")
	}
	w1, w2 := rowsOf(t, s, wallet), rowsOf(t, s, other)
	if w1[0]["taker"] != emulator.DemoWalletAddress || w2[0]["taker"] != "0x00000000000000000000000000000000000000aa" {
		t.Errorf("wallet rows: %v / %v", w1[0]["taker"], w2[0]["taker"])
	}
	if p := get(t, s, "/api/v1/query/1015/results?limit=1&params.wallet="+emulator.DemoWalletAddress).page(t); p.ExecutionID != wallet {
		t.Errorf("params.wallet picked %s", p.ExecutionID)
	}

	// the long-running query fails at the 30-minute timeout
	clock.Set(time.Second + 30*time.Minute - time.Millisecond)
	if st := status(t, s, never)["state"]; st != "QUERY_STATE_EXECUTING" {
		t.Errorf("1009 before the timeout: %v", st)
	}
	clock.Set(time.Second + 30*time.Minute)
	if m := status(t, s, never); m["state"] != "QUERY_STATE_FAILED" || !strings.HasPrefix(m["error"].(map[string]any)["message"].(string), emulator.MsgExecutionTimeout) {
		t.Errorf("1009 after the timeout: %v", m)
	}
}
