package emulator_test

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

var allEndpoints = []string{"/api/v1/query/%Q/results", "/api/v1/query/%Q/results/csv", "/api/v1/execution/%E/results", "/api/v1/execution/%E/results/csv"}

func endpointPaths(qid, eid string) []string {
	var out []string
	for _, p := range allEndpoints {
		out = append(out, strings.NewReplacer("%Q", qid, "%E", eid).Replace(p))
	}
	return out
}

func TestAuth(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	eid := s.AddQuery(7, emulator.Tiny())
	for _, path := range endpointPaths("7", eid) {
		// header, any case of its name
		for _, name := range []string{"X-Dune-Api-Key", "x-dune-api-key", "X-DUNE-API-KEY"} {
			if r := do(t, s.URL+path, map[string]string{name: emulator.DefaultAPIKey}); r.Status != http.StatusOK {
				t.Errorf("%s with header %s: status %d", path, name, r.Status)
			}
		}
		if r := do(t, s.URL+path+"?api_key="+emulator.DefaultAPIKey, nil); r.Status != http.StatusOK {
			t.Errorf("%s with api_key param: status %d", path, r.Status)
		}
		do(t, s.URL+path, nil).wantError(t, http.StatusUnauthorized, "invalid API Key")
		do(t, s.URL+path, map[string]string{"X-Dune-Api-Key": "wrong"}).wantError(t, http.StatusUnauthorized, "invalid API Key")
		do(t, s.URL+path+"?api_key=wrong", nil).wantError(t, http.StatusUnauthorized, "invalid API Key")
	}
	// unknown paths are authenticated too
	do(t, s.URL+"/api/v1/execution/x/status", nil).wantError(t, http.StatusUnauthorized, "invalid API Key")
}

func TestWithAPIKey(t *testing.T) {
	s := emulator.NewServer(emulator.WithAPIKey("k1"), emulator.WithAPIKey("k2"))
	defer s.Close()
	s.AddQuery(1, emulator.Tiny())
	for key, want := range map[string]int{"k1": 200, "k2": 200, emulator.DefaultAPIKey: 401, "": 401} {
		if r := do(t, s.URL+"/api/v1/query/1/results", map[string]string{"X-Dune-Api-Key": key}); r.Status != want {
			t.Errorf("key %q: status %d, want %d", key, r.Status, want)
		}
	}
	open := emulator.NewServer(emulator.WithAPIKey(""))
	defer open.Close()
	open.AddQuery(1, emulator.Tiny())
	if r := do(t, open.URL+"/api/v1/query/1/results", nil); r.Status != 200 {
		t.Errorf("auth off: status %d", r.Status)
	}
}

func TestLookupErrors(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(7, emulator.Tiny())
	get(t, s, "/api/v1/query/8/results").wantError(t, 404, "Query not found")
	get(t, s, "/api/v1/query/8/results/csv").wantError(t, 404, "Query not found")
	get(t, s, "/api/v1/query/abc/results").wantError(t, 404, "Query not found")
	get(t, s, "/api/v1/execution/Wonky%20Job%20ID/results").wantError(t, 400, "The requested execution ID (ID: Wonky Job ID) is invalid.")
	get(t, s, "/api/v1/execution/123/results/csv").wantError(t, 400, "The requested execution ID (ID: 123) is invalid.")
	unknown := ulid.Make().String()
	if r := get(t, s, "/api/v1/execution/"+unknown+"/results"); r.Status != 404 {
		t.Errorf("unknown ULID: status %d", r.Status)
	}
	if r := get(t, s, "/api/v1/nope"); r.Status != 404 {
		t.Errorf("unknown path: status %d", r.Status)
	}
}

func TestCompletedBody(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	eid := s.AddQuery(42, emulator.Tiny())
	if _, err := ulid.ParseStrict(eid); err != nil || !strings.HasPrefix(eid, "01") {
		t.Fatalf("execution id %q is not a ULID: %v", eid, err)
	}
	r := get(t, s, "/api/v1/query/42/results?queryID=42&ignore_max_credits_per_request=true&ignore_max_datapoints_per_request=true")
	m := r.object(t)
	for _, k := range []string{"execution_id", "query_id", "state", "is_execution_finished", "submitted_at", "expires_at", "execution_started_at", "execution_ended_at", "result"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing %s", k)
		}
	}
	for _, k := range []string{"cancelled_at", "error", "next_uri", "next_offset"} {
		if _, ok := m[k]; ok {
			t.Errorf("unexpected %s", k)
		}
	}
	for _, k := range []string{"submitted_at", "expires_at", "execution_started_at", "execution_ended_at"} {
		if _, err := time.Parse(time.RFC3339Nano, m[k].(string)); err != nil {
			t.Errorf("%s: %v", k, err)
		}
	}
	if m["execution_id"] != eid || m["state"] != "QUERY_STATE_COMPLETED" || m["is_execution_finished"] != true || m["query_id"].(interface{ String() string }).String() != "42" {
		t.Errorf("head = %v", m)
	}
	res := m["result"].(map[string]any)
	md := res["metadata"].(map[string]any)
	for _, k := range []string{"column_names", "column_types", "row_count", "result_set_bytes", "total_row_count", "total_result_set_bytes", "datapoint_count", "pending_time_millis", "execution_time_millis"} {
		if _, ok := md[k]; !ok {
			t.Errorf("metadata missing %s", k)
		}
	}
	p := r.page(t)
	mdp := p.Result.Metadata
	if mdp.RowCount != 3 || len(p.Result.Rows) != 3 || mdp.TotalRowCount != 3 || mdp.DatapointCount != 12 {
		t.Errorf("metadata = %+v", mdp)
	}
	if !slices.Equal(mdp.ColumnNames, []string{"rank", "project", "volume_usd", "launched"}) ||
		!slices.Equal(mdp.ColumnTypes, []string{"bigint", "varchar", "double", "date"}) {
		t.Errorf("columns = %v %v", mdp.ColumnNames, mdp.ColumnTypes)
	}
	if mdp.ResultSetBytes <= 0 || mdp.TotalResultSetBytes != mdp.ResultSetBytes {
		t.Errorf("bytes = %d / %d", mdp.ResultSetBytes, mdp.TotalResultSetBytes)
	}
	// row keys are written in alphabetical order, as Dune does
	body := string(r.Body)
	first := body[strings.Index(body, `"rows":[{`):]
	first = first[:strings.Index(first, "}")]
	if !(strings.Index(first, `"launched"`) < strings.Index(first, `"project"`) &&
		strings.Index(first, `"project"`) < strings.Index(first, `"rank"`) &&
		strings.Index(first, `"rank"`) < strings.Index(first, `"volume_usd"`)) {
		t.Errorf("row keys not sorted: %s", first)
	}
	if !strings.Contains(body, `"volume_usd":1523432187.25`) || !strings.Contains(body, `"volume_usd":null`) {
		t.Errorf("values not carried exactly: %s", body)
	}
}

func TestStates(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	failed := s.AddExecution(1, emulator.Execution{Error: &dune.ExecutionErrorInfo{Type: "FAILED_TYPE_EXECUTION_FAILED", Message: "line 1:8: Column 'x' cannot be resolved", Line: 1, Column: 8}})
	s.AddExecution(2, emulator.Execution{State: dune.StateExecuting})
	s.AddExecution(3, emulator.Execution{State: dune.StatePending})
	s.AddExecution(4, emulator.Execution{State: dune.StateCancelled})
	s.AddExecution(5, emulator.Execution{State: dune.StateExpired})
	partial := s.AddExecution(6, emulator.Execution{Dataset: emulator.DEXTrades(50, 6), Partial: true})

	cases := []struct {
		q        string
		state    string
		finished bool
		present  []string
		absent   []string
	}{
		{"1", "QUERY_STATE_FAILED", true, []string{"error", "execution_ended_at"}, []string{"result", "cancelled_at"}},
		{"2", "QUERY_STATE_EXECUTING", false, []string{"execution_started_at"}, []string{"result", "execution_ended_at", "cancelled_at", "error"}},
		{"3", "QUERY_STATE_PENDING", false, nil, []string{"result", "execution_started_at", "execution_ended_at", "cancelled_at", "error"}},
		{"4", "QUERY_STATE_CANCELLED", true, []string{"cancelled_at"}, []string{"result", "error"}},
		{"5", "QUERY_STATE_EXPIRED", true, []string{"execution_ended_at"}, []string{"result", "cancelled_at", "error"}},
	}
	for _, c := range cases {
		r := get(t, s, "/api/v1/query/"+c.q+"/results")
		if r.Status != 200 {
			t.Fatalf("query %s: status %d", c.q, r.Status)
		}
		m := r.object(t)
		if m["state"] != c.state || m["is_execution_finished"] != c.finished {
			t.Errorf("query %s: state %v finished %v", c.q, m["state"], m["is_execution_finished"])
		}
		for _, k := range append(c.present, "execution_id", "submitted_at", "expires_at") {
			if _, ok := m[k]; !ok {
				t.Errorf("query %s: missing %s", c.q, k)
			}
		}
		for _, k := range c.absent {
			if _, ok := m[k]; ok {
				t.Errorf("query %s: unexpected %s", c.q, k)
			}
		}
		if !c.finished && m["expires_at"] != "1970-01-01T00:00:00Z" {
			t.Errorf("query %s: expires_at %v", c.q, m["expires_at"])
		}
		if c.state == "QUERY_STATE_EXPIRED" {
			exp, _ := time.Parse(time.RFC3339Nano, m["expires_at"].(string))
			if !exp.Before(time.Now()) {
				t.Errorf("EXPIRED execution expires in the future: %v", exp)
			}
		}
	}
	// the FAILED error, on both endpoints
	for _, path := range []string{"/api/v1/query/1/results", "/api/v1/execution/" + failed + "/results"} {
		e := get(t, s, path).object(t)["error"].(map[string]any)
		md := e["metadata"].(map[string]any)
		if e["type"] != "FAILED_TYPE_EXECUTION_FAILED" || !strings.Contains(e["message"].(string), "Column 'x' cannot be resolved") ||
			md["line"].(interface{ String() string }).String() != "1" || md["column"].(interface{ String() string }).String() != "8" {
			t.Errorf("%s: error = %v", path, e)
		}
	}
	// no result to export as CSV
	if r := get(t, s, "/api/v1/query/1/results/csv"); r.Status != 400 || !strings.Contains(string(r.Body), "QUERY_STATE_FAILED") {
		t.Errorf("FAILED csv: %d %s", r.Status, r.Body)
	}
	// COMPLETED_PARTIAL needs allow_partial_results=true
	for _, path := range []string{"/api/v1/query/6/results", "/api/v1/execution/" + partial + "/results", "/api/v1/query/6/results/csv", "/api/v1/query/6/results?allow_partial_results=false"} {
		get(t, s, path).wantError(t, 400, "Partial Result, please request with 'allows_partial_results=true'")
	}
	p := get(t, s, "/api/v1/query/6/results?allow_partial_results=true&limit=20").page(t)
	if p.State != "QUERY_STATE_COMPLETED_PARTIAL" || p.Result == nil || len(p.Result.Rows) != 20 || p.Result.Metadata.TotalRowCount != 50 {
		t.Fatalf("partial page: state %s", p.State)
	}
	if p.NextURI == nil || !strings.Contains(*p.NextURI, "allow_partial_results=true") {
		t.Errorf("next_uri must carry allow_partial_results: %v", p.NextURI)
	}
	if r := get(t, s, "/api/v1/query/6/results/csv?allow_partial_results=true"); r.Status != 200 {
		t.Errorf("partial csv: %d", r.Status)
	}
	if r := get(t, s, "/api/v1/query/6/results?allow_partial_results=maybe"); r.Status != 400 {
		t.Errorf("bad bool: %d", r.Status)
	}
}

func TestExecutionsAndRerun(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	first := s.AddQuery(9, emulator.DailySeries(10, 1))
	second := s.Rerun(9, emulator.DailySeries(20, 2))
	if first == second || first >= second {
		t.Fatalf("ids not distinct and monotonic: %s %s", first, second)
	}
	if p := get(t, s, "/api/v1/query/9/results").page(t); p.ExecutionID != second || p.Result.Metadata.TotalRowCount != 20 {
		t.Errorf("latest = %s with %d rows", p.ExecutionID, p.Result.Metadata.TotalRowCount)
	}
	if p := get(t, s, "/api/v1/execution/"+first+"/results").page(t); p.ExecutionID != first || p.Result.Metadata.TotalRowCount != 10 {
		t.Errorf("old execution = %s with %d rows", p.ExecutionID, p.Result.Metadata.TotalRowCount)
	}
	// a later FAILED run becomes the latest; the completed one stays readable
	s.AddExecution(9, emulator.Execution{State: dune.StateFailed})
	if p := get(t, s, "/api/v1/query/9/results").page(t); p.State != "QUERY_STATE_FAILED" {
		t.Errorf("latest state = %s", p.State)
	}
	if p := get(t, s, "/api/v1/execution/"+second+"/results").page(t); p.State != "QUERY_STATE_COMPLETED" {
		t.Errorf("older state = %s", p.State)
	}
}

func TestParams(t *testing.T) {
	s := emulator.NewServer(emulator.WithDemoData())
	defer s.Close()
	eth := get(t, s, "/api/v1/query/1010/results?params.chain=ethereum&limit=1").page(t)
	base := get(t, s, "/api/v1/query/1010/results?params.chain=base&limit=1").page(t)
	latest := get(t, s, "/api/v1/query/1010/results?limit=1").page(t)
	if eth.ExecutionID == base.ExecutionID || latest.ExecutionID != base.ExecutionID {
		t.Errorf("executions: eth %s base %s latest %s", eth.ExecutionID, base.ExecutionID, latest.ExecutionID)
	}
	if eth.Result.Rows[0]["volume_usd"] == base.Result.Rows[0]["volume_usd"] {
		t.Errorf("parameter values serve the same rows")
	}
	// two parameters, partial sets allowed
	a := get(t, s, "/api/v1/query/1011/results?params.chain=ethereum&params.period=7d").page(t)
	b := get(t, s, "/api/v1/query/1011/results?params.period=7d").page(t) // latest 7d run: arbitrum
	c := get(t, s, "/api/v1/query/1011/results?params.chain=arbitrum&params.period=7d").page(t)
	if a.ExecutionID == b.ExecutionID || b.ExecutionID != c.ExecutionID {
		t.Errorf("partial parameter set picked %s, want %s", b.ExecutionID, c.ExecutionID)
	}
	if r := get(t, s, "/api/v1/query/1010/results?params.chain=solana"); r.Status != 404 {
		t.Errorf("never-run value: %d", r.Status)
	}
	if r := get(t, s, "/api/v1/query/1010/results?params.nope=1"); r.Status != 404 {
		t.Errorf("unknown parameter: %d", r.Status)
	}
	// params are ignored on the execution endpoint
	if r := get(t, s, "/api/v1/execution/"+eth.ExecutionID+"/results?params.chain=base&limit=1"); r.page(t).ExecutionID != eth.ExecutionID {
		t.Errorf("execution endpoint honoured params")
	}
}

func TestDemoQueries(t *testing.T) {
	s := emulator.NewServer(emulator.WithDemoData())
	defer s.Close()
	want := map[int64]string{
		1001: "QUERY_STATE_COMPLETED", 1002: "QUERY_STATE_COMPLETED", 1003: "QUERY_STATE_COMPLETED", 1004: "QUERY_STATE_COMPLETED",
		1005: "QUERY_STATE_COMPLETED", 1006: "QUERY_STATE_FAILED", 1007: "QUERY_STATE_COMPLETED_PARTIAL", 1008: "QUERY_STATE_COMPLETED",
		1009: "QUERY_STATE_EXECUTING", 1010: "QUERY_STATE_COMPLETED", 1011: "QUERY_STATE_COMPLETED", 1012: "QUERY_STATE_CANCELLED",
		1013: "QUERY_STATE_EXPIRED", 1014: "QUERY_STATE_PENDING", 1015: "QUERY_STATE_COMPLETED",
	}
	if len(emulator.DemoQueries) != len(want) {
		t.Fatalf("%d demo queries, want %d", len(emulator.DemoQueries), len(want))
	}
	desc := emulator.Describe()
	for _, q := range emulator.DemoQueries {
		p := get(t, s, "/api/v1/query/"+itoa(q.ID)+"/results?limit=5&allow_partial_results=true").page(t)
		if p.State != want[q.ID] {
			t.Errorf("%d %s: state %s, want %s", q.ID, q.Name, p.State, want[q.ID])
		}
		if q.Name == "" || q.Description == "" || !strings.Contains(desc, itoa(q.ID)+"  "+q.Name) {
			t.Errorf("%d: name/description missing from Describe", q.ID)
		}
	}
	sizes := map[int64][2]int{1001: {100000, 22}, 1002: {2000, 300}, 1004: {1096, 6}, 1005: {3, 4}, 1008: {0, 3}, 1015: {53, 22}}
	for id, sz := range sizes {
		p := get(t, s, "/api/v1/query/"+itoa(id)+"/results?limit=1").page(t)
		if p.Result.Metadata.TotalRowCount != sz[0] || len(p.Result.Metadata.ColumnNames) != sz[1] {
			t.Errorf("%d: %d rows x %d cols, want %v", id, p.Result.Metadata.TotalRowCount, len(p.Result.Metadata.ColumnNames), sz)
		}
	}
	e := get(t, s, "/api/v1/query/1006/results").object(t)["error"].(map[string]any)
	if !strings.HasPrefix(e["message"].(string), "line 1:8: Column 'x' cannot be resolved") {
		t.Errorf("1006 error = %v", e)
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }
