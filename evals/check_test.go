package evals

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

func doc(t *testing.T, s string) any {
	t.Helper()
	v := decodeJSON([]byte(s))
	if v == nil {
		t.Fatalf("bad JSON %s", s)
	}
	return v
}

func TestCheckYAMLAndEval(t *testing.T) {
	d := doc(t, `{"total_row_count": 100000, "state": "QUERY_STATE_COMPLETED", "next_cursor": "abc",
		"columns": [{"name":"chain","type":"varchar"},{"name":"amount","type":"double"}],
		"rows": [["ethereum", 1.50], ["base", 12345678901234567890]], "empty": ""}`)
	var fields map[string]Check
	src := `
total_row_count: 100000
state: {contains: completed, ne: QUERY_STATE_FAILED}
next_cursor: {exists: true}
missing: {absent: true}
empty: {absent: true}
rows: {len: 2}
rows.0.@chain: ethereum
rows.1.1: {gt: 12345678901234567889, lte: 12345678901234567890}
rows.0.1: 1.5
rows.*.@chain: {ne: solana}
columns.1: {name: amount, type: double}
`
	if err := yaml.Unmarshal([]byte(src), &fields); err != nil {
		t.Fatal(err)
	}
	if fs := checkFields(d, fields); len(fs) != 0 {
		t.Fatalf("expected all checks to pass, got %v", fs)
	}

	bad := `
total_row_count: {lt: 10}
state: FAILED
next_cursor: {absent: true}
missing: {exists: true}
rows: {len: 3}
rows.*.@chain: ethereum
`
	fields = nil
	if err := yaml.Unmarshal([]byte(bad), &fields); err != nil {
		t.Fatal(err)
	}
	fs := checkFields(d, fields)
	var got []string
	for _, f := range fs {
		got = append(got, f.Check+" | "+f.Expected+" | "+f.Actual)
	}
	want := []string{
		"field missing exists | present | (missing)",
		"field next_cursor absent | absent (missing, null or \"\") | \"abc\"",
		"field rows len | length 3 | length 2",
		"field rows.1.@chain eq | == \"ethereum\" | \"base\"",
		"field state eq | == \"FAILED\" | \"QUERY_STATE_COMPLETED\"",
		"field total_row_count lt | < 10 | 100000",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("failures:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestFailureString(t *testing.T) {
	f := Failure{Step: "s2", Iteration: 3, Check: "field total_row_count eq", Expected: "== 10", Actual: "9"}
	want := "step s2 (call 3): field total_row_count eq\n    - expected: == 10\n    + actual:   9"
	if f.String() != want {
		t.Errorf("got\n%s\nwant\n%s", f.String(), want)
	}
}

func TestMetricsChecks(t *testing.T) {
	checks := map[string]Check{"text_tokens": Ops("lte", 100), "upstream_requests": Ops("eq", 0), "nope": Ops("eq", 1)}
	fs := checkMetrics(map[string]float64{"text_tokens": 120, "upstream_requests": 0}, checks, "metric ")
	if len(fs) != 2 || !strings.Contains(fs[0].Check, "nope: unknown metric") || fs[1].Check != "metric text_tokens lte" || fs[1].Actual != "120" {
		t.Errorf("unexpected failures %+v", fs)
	}
}

func TestSubstituteAndTamper(t *testing.T) {
	ru := &run{steps: map[string]*stepState{}, captures: map[string]any{"cur": "abcdefgh"}}
	ru.steps["s1"] = &stepState{calls: []*outcome{{doc: doc(t, `{"next_cursor":"XYZ123","query_id":7}`)}}}
	prev := &outcome{doc: doc(t, `{"next_cursor":"PREV"}`)}
	args := map[string]any{
		"cursor":   "${steps.s1.next_cursor}",
		"query_id": "${steps.s1.query_id}",
		"text":     "q=${steps.s1.query_id} c=${cur|truncate}",
		"list":     []any{"${prev.next_cursor}", "${cur|tamper}"},
	}
	out, ref, err := ru.substitute(args, prev)
	if err != nil {
		t.Fatal(err)
	}
	if ref != "s1" {
		t.Errorf("ref = %q", ref)
	}
	if out["cursor"] != "XYZ123" || out["text"] != "q=7 c=abcd" {
		t.Errorf("substituted %v", out)
	}
	if n, ok := asInt(out["query_id"]); !ok || n != 7 {
		t.Errorf("query_id kept its number type? %#v", out["query_id"])
	}
	l := out["list"].([]any)
	if l[0] != "PREV" || l[1] == "abcdefgh" || len(l[1].(string)) != 8 {
		t.Errorf("list %v", l)
	}
	if _, _, err := ru.substitute(map[string]any{"x": "${steps.nope.next_cursor}"}, nil); err == nil || !strings.Contains(err.Error(), "has not run") {
		t.Errorf("unknown step: err = %v", err)
	}
	if _, _, err := ru.substitute(map[string]any{"x": "${steps.s1.absent}"}, nil); err == nil || !strings.Contains(err.Error(), "has no value") {
		t.Errorf("missing path: err = %v", err)
	}
}

func TestParseScenarioRejects(t *testing.T) {
	cases := map[string]string{
		"unknown key":    "steps: [{tool: get_latest_result, argz: {}}]",
		"unknown tool":   "steps: [{tool: run_query}]",
		"two actions":    "steps: [{tool: next_page, rerun: {query: 1, dataset: tiny}}]",
		"rows mode":      "steps: [{tool: next_page, expect: {rows: all}}]",
		"walk no loop":   "steps: [{tool: next_page, walk: {rows: truth}}]",
		"no steps":       "name: x",
		"bad include":    "steps: [{tool: next_page, loop_until_no: next_cursor, walk: {include_steps: [later]}}, {id: later, tool: next_page}]",
		"execution key":  "queries: {1: {dataset: tiny, rowz: 3}}\nsteps: [{tool: next_page}]",
		"query key":      "queries: {1: {profile: {queue: 1s}, executionz: []}}\nsteps: [{tool: next_page}]",
		"profile key":    "queries: {1: {profile: {queu: 1s}}}\nsteps: [{tool: next_page}]",
		"outcome":        "queries: {1: {profile: {outcome: exploded}}}\nsteps: [{tool: next_page}]",
		"no execution":   "queries: {1: {executions: []}}\nsteps: [{tool: next_page}]",
		"counter":        "steps: [{tool: next_page, expect: {upstream: {executes: 0}}}]",
		"total counter":  "steps: [{tool: next_page, expect: {upstream_total: {cancelled: 0}}}]",
		"parallel loop":  "steps: [{tool: next_page, parallel: 2, loop_until_no: next_cursor}]",
		"action cancel":  "steps: [{sleep: 1s, cancel_after: 1s}]",
		"sleep and call": "steps: [{tool: next_page, sleep: 1s}]",
	}
	for name, src := range cases {
		if _, err := ParseScenario([]byte(src), name+".yaml"); err == nil {
			t.Errorf("%s: accepted %q", name, src)
		}
	}
}

func TestParseQueryForms(t *testing.T) {
	src := `
queries:
  1: {dataset: tiny, ended_ago: 26h}
  2: [{dataset: tiny, params: {chain: base}}, {dataset: dex, rows: 5}]
  3:
    executions: [{dataset: tiny, state: FAILED}]
    params: [{name: chain, default: ethereum}, {name: wallet, required: true}]
    profile: {queue: 2s, queue_positions: 3, run: 1s, outcome: failed, error: {message: boom, line: 2, column: 5}, dataset: daily, rows: 7}
  4: {profile: {}}
steps:
  - {tool: get_latest_result, parallel: 2, cancel_after: 1s, expect: {upstream: {execute: 1, status: {gte: 1}, credits: 10}, progress: {min: 1, contains: [queue]}}}
  - {sleep: 100ms}
  - {advance_clock: 31m}
`
	sc, err := ParseScenario([]byte(src), "forms.yaml")
	if err != nil {
		t.Fatal(err)
	}
	q := sc.Queries
	if len(q[1].Executions) != 1 || q[1].Executions[0].EndedAgo != Duration(26*time.Hour) || q[1].Profile != nil {
		t.Errorf("one execution: %+v", q[1])
	}
	if len(q[2].Executions) != 2 || q[2].Executions[0].Params["chain"] != "base" {
		t.Errorf("list: %+v", q[2])
	}
	p := q[3].Profile
	if len(q[3].Executions) != 1 || len(q[3].Params) != 2 || !q[3].Params[1].Required || p == nil ||
		p.Queue != Duration(2*time.Second) || p.QueuePositions != 3 || p.Outcome != "failed" || p.Error.Line != 2 || p.Dataset != "daily" || p.Rows != 7 {
		t.Errorf("full form: %+v, profile %+v", q[3], p)
	}
	if q[4].Profile == nil || len(q[4].Executions) != 0 {
		t.Errorf("profile only: %+v", q[4])
	}
	st := sc.Steps[0]
	if st.Parallel != 2 || st.CancelAfter != Duration(time.Second) || !st.sendsProgressToken() || st.Expect.Upstream["status"].Gte == nil {
		t.Errorf("step keys: %+v", st)
	}
}

func TestEmbeddedScenariosParse(t *testing.T) {
	scs, err := LoadScenarios("")
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) < 30 {
		t.Errorf("want at least 30 scenarios, have %d", len(scs))
	}
	for _, sc := range scs {
		if sc.Description == "" {
			t.Errorf("%s: no description", sc.Name)
		}
	}
}

func TestScorecardAligned(t *testing.T) {
	res := []*Result{
		{Scenario: "a", Transport: "stdio", Passed: true, Status: StatusPass, Summary: RunSummary{Calls: 2, MaxTokens: 10, TotalTokens: 15, BaselineTokens: 150}, Calls: []CallRecord{{Tool: "x", TextTokens: 10, ModelTokens: 10, BaselineTokens: 100}, {Tool: "x", TextTokens: 5, ModelTokens: 5, BaselineTokens: 50}}},
		{Scenario: "longer-name", Transport: "http", Passed: false, Status: StatusFail},
	}
	out := Scorecard(res)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 5 {
		t.Fatalf("want header, 2 rows, rule, totals; got:\n%s", out)
	}
	for _, l := range lines[1:] {
		if len(l) != len(lines[0]) {
			t.Errorf("misaligned line %q (len %d vs %d)", l, len(l), len(lines[0]))
		}
	}
	if !strings.Contains(lines[4], "TOTAL") || !strings.Contains(lines[4], "1/2") || !strings.Contains(lines[4], "10.0x") {
		t.Errorf("totals line %q", lines[4])
	}
}

func TestShortenedCorrectly(t *testing.T) {
	full := "héllo wörld, a long cell"
	cases := []struct {
		actual string
		ok     bool
	}{
		{"héllo…[+19 of 24 chars]", true},
		{"héllo…[+18 of 24 chars]", false},  // wrong count
		{"héllo…[+19 of 25 chars]", false},  // wrong total
		{"hello…[+19 of 24 chars]", false},  // not a prefix
		{"héllo wörld, a long cell", false}, // equal is not "shortened"
	}
	for _, c := range cases {
		if got := shortenedCorrectly(c.actual, full); got != c.ok {
			t.Errorf("shortenedCorrectly(%q) = %v, want %v", c.actual, got, c.ok)
		}
	}
}

func TestCompareRowsDiff(t *testing.T) {
	cols := []dune.Column{{Name: "chain", Type: "varchar"}, {Name: "amount", Type: "double"}}
	truth := []dune.Row{{"ethereum", json.Number("1.50")}, {"base", nil}}
	same := []any{[]any{"ethereum", json.Number("1.50")}, []any{"base", nil}}
	if f := compareRows(same, truth, 10, cols); f != nil {
		t.Fatalf("equal rows reported: %v", f)
	}
	// numbers must keep Dune's literal: 1.5 is not "1.50"
	diff := []any{[]any{"ethereum", json.Number("1.5")}, []any{"base", "∅"}}
	f := compareRows(diff, truth, 10, cols)
	if f == nil {
		t.Fatal("differing rows not reported")
	}
	s := f.String()
	for _, want := range []string{"2 differing cells", `row 0 (offset 10) amount: expected 1.50, got 1.5`, `row 1 (offset 11) amount: expected null, got "∅"`} {
		if !strings.Contains(s, want) {
			t.Errorf("diff lacks %q:\n%s", want, s)
		}
	}
	if f := compareRows(same[:1], truth, 0, cols); f == nil || !strings.Contains(f.Expected, "2 rows from offset 0") {
		t.Errorf("missing row not reported: %v", f)
	}
}

func TestKnownIssueStatus(t *testing.T) {
	cases := []struct {
		passed bool
		known  string
		want   string
		failed bool
	}{
		{true, "", StatusPass, false},
		{false, "", StatusFail, true},
		{false, "tools: cache miss", StatusXFail, false},
		{true, "tools: cache miss", StatusXPass, false},
	}
	var results []*Result
	for _, c := range cases {
		r := &Result{Scenario: "s", Transport: "http", Passed: c.passed, KnownIssue: c.known}
		r.setStatus()
		if r.Status != c.want || r.Failed() != c.failed {
			t.Errorf("passed=%v known=%q: status %s failed=%v, want %s %v", c.passed, c.known, r.Status, r.Failed(), c.want, c.failed)
		}
		results = append(results, r)
	}
	rep := NewReport("bin", results)
	if rep.Passed != 2 || rep.Failed != 1 || rep.KnownIssues != 1 {
		t.Errorf("report counts passed=%d failed=%d known=%d", rep.Passed, rep.Failed, rep.KnownIssues)
	}
	if sc := Scorecard(results); !strings.Contains(sc, "XFAIL s [http]: tools: cache miss") {
		t.Errorf("scorecard does not list the known issue:\n%s", sc)
	}
}

// page builds a fake tool result of ds rows [from, to) under columns.
func page(t *testing.T, execID string, ds *emulator.Dataset, cols []string, from, to int) *outcome {
	t.Helper()
	var o dune.Options
	o.Columns, o.Offset, o.Limit = cols, from, max(to-from, 1)
	c, rows, total, err := emulator.Evaluate(ds, o, 100)
	if err != nil {
		t.Fatal(err)
	}
	if to == from {
		rows = nil
	}
	colDocs := make([]any, len(c))
	for i, cc := range c {
		colDocs[i] = map[string]any{"name": cc.Name, "type": cc.Type}
	}
	rowDocs := make([]any, len(rows))
	for i, r := range rows {
		rowDocs[i] = []any(r)
	}
	b, _ := json.Marshal(map[string]any{"execution_id": execID, "offset": from, "total_row_count": total,
		"columns": colDocs, "rows": rowDocs, "returned_rows": len(rows)})
	return &outcome{doc: decodeJSON(b), rec: &CallRecord{ReturnedRows: len(rows), UpstreamRows: len(rows)}}
}

func TestWalkTruth(t *testing.T) {
	ds := emulator.DEXTrades(10, 3)
	cols := []string{"tx_hash", "amount_usd"}
	v := view{known: true, columns: cols}
	st := &Step{ID: "walk", Walk: &WalkExpect{Rows: "truth", MaxFetchFactor: 1.05, Metrics: map[string]Check{"rows_delivered": Ops("eq", 10)}}}
	check := func(pages ...*outcome) []Failure {
		ru := &run{res: &Result{}, steps: map[string]*stepState{}, truth: map[string]*truthSet{},
			emu: &upstream{datasets: map[string]*emulator.Dataset{"E1": ds}}}
		ru.checkWalk(st, &stepState{view: v, calls: pages})
		return ru.res.Failures
	}
	if fs := check(page(t, "E1", ds, cols, 0, 4), page(t, "E1", ds, cols, 4, 10)); len(fs) != 0 {
		t.Fatalf("a complete walk failed: %v", fs)
	}
	fs := check(page(t, "E1", ds, cols, 0, 4), page(t, "E1", ds, cols, 5, 10))
	if len(fs) == 0 || !strings.Contains(fs[len(fs)-1].Actual, "gap") {
		t.Errorf("a gap was not reported: %v", fs)
	}
	fs = check(page(t, "E1", ds, cols, 0, 4), page(t, "E1", ds, cols, 3, 10))
	if len(fs) == 0 || !strings.Contains(fs[len(fs)-1].Actual, "overlap") {
		t.Errorf("an overlap was not reported: %v", fs)
	}
	fs = check(page(t, "E1", ds, cols, 0, 4), page(t, "E1", ds, cols, 4, 8))
	var msgs []string
	for _, f := range fs {
		msgs = append(msgs, f.String())
	}
	all := strings.Join(msgs, "\n")
	if !strings.Contains(all, "stopped at row 8") || !strings.Contains(all, "walk rows_delivered eq") {
		t.Errorf("an early stop was not reported:\n%s", all)
	}
	wrong := page(t, "E1", ds, cols, 4, 10)
	wrong.doc.(map[string]any)["rows"].([]any)[2].([]any)[0] = "0xdead"
	fs = check(page(t, "E1", ds, cols, 0, 4), wrong)
	if len(fs) == 0 || !strings.Contains(fs[0].String(), `row 2 (offset 6) tx_hash`) {
		t.Errorf("a wrong cell was not reported: %v", fs)
	}
	over := page(t, "E1", ds, cols, 4, 10)
	over.rec.UpstreamRows = 100
	fs = check(page(t, "E1", ds, cols, 0, 4), over)
	if len(fs) != 1 || !strings.Contains(fs[0].Check, "rows fetched upstream") {
		t.Errorf("over-fetching was not reported: %v", fs)
	}
}

func TestBaselineEstimate(t *testing.T) {
	row := `{"amount_usd":1234.5678,"block_time":"2024-03-05 22:07:24.013 UTC","blockchain":"ethereum","tx_hash":"0x1234567890abcdef1234567890abcdef1234567890abcdef1234567890abcdef"},`
	body := []byte("[" + strings.Repeat(row, exactBaselineBytes/len(row)+200) + "{}]")
	est, estimated := countTokensMaybeEstimated(body)
	exact := summary.CountTokens(string(body))
	if !estimated {
		t.Fatalf("a %d-byte body was counted exactly", len(body))
	}
	if d := float64(est-exact) / float64(exact); d > 0.03 || d < -0.03 {
		t.Errorf("estimate %d vs exact %d (%.1f%% off)", est, exact, 100*d)
	}
	if n, estimated := countTokensMaybeEstimated([]byte(row)); estimated || n != summary.CountTokens(row) {
		t.Errorf("a small body must be counted exactly: %d, %v", n, estimated)
	}
}

// Ops builds a Check the way a scenario writes one: Ops("gt", 0, "lte", 10)
// is {gt: 0, lte: 10}.
func Ops(kv ...any) Check {
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i+1 < len(kv); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%v: %v", kv[i], kv[i+1])
	}
	b.WriteString("}")
	var c Check
	if err := yaml.Unmarshal([]byte(b.String()), &c); err != nil {
		panic("evals: Ops: " + err.Error())
	}
	return c
}
