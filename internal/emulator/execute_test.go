package emulator_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

func TestExecuteTimeline(t *testing.T) {
	s, clock := clocked(t)
	s.AddQuery(5, emulator.DailySeries(10, 1))
	s.SetProfile(5, emulator.Profile{Queue: 3 * time.Second, QueuePositions: 3, Run: 5 * time.Second})
	id := execute(t, s, 5, "")

	// queued: positions 3, 2, 1, on /status; /results answers in band
	for sec, pos := range []int{3, 2, 1} {
		clock.Set(time.Duration(sec)*time.Second + 500*time.Millisecond)
		m := status(t, s, id)
		wantKeys(t, m, "queue_position")
		if m["state"] != "QUERY_STATE_PENDING" || m["is_execution_finished"] != false || num(t, m["queue_position"]) != pos {
			t.Errorf("t+%ds: %v", sec, m)
		}
		wantTime(t, m, "submitted_at", 0)
		if m["expires_at"] != "1970-01-01T00:00:00Z" || m["execution_id"] != id || num(t, m["query_id"]) != 5 {
			t.Errorf("pending head: %v", m)
		}
		for _, path := range []string{"/api/v1/query/5/results", "/api/v1/execution/" + id + "/results"} {
			p := get(t, s, path).page(t)
			if p.State != "QUERY_STATE_PENDING" || p.Result != nil || p.ExecutionID != id {
				t.Errorf("%s while pending: %+v", path, p)
			}
		}
	}
	if r := get(t, s, "/api/v1/execution/"+id+"/results/csv"); r.Status != 400 {
		t.Errorf("csv while pending: %d", r.Status)
	}

	// executing from t+3s to t+8s
	for _, d := range []time.Duration{3 * time.Second, 7999 * time.Millisecond} {
		clock.Set(d)
		m := status(t, s, id)
		wantKeys(t, m, "execution_started_at")
		wantTime(t, m, "execution_started_at", 3*time.Second)
		if m["state"] != "QUERY_STATE_EXECUTING" {
			t.Errorf("t+%v: %v", d, m["state"])
		}
		if p := get(t, s, "/api/v1/query/5/results").page(t); p.State != "QUERY_STATE_EXECUTING" || p.Result != nil {
			t.Errorf("results while executing: %+v", p)
		}
	}

	// completed at t+8s
	clock.Set(8 * time.Second)
	m := status(t, s, id)
	wantKeys(t, m, "execution_started_at", "execution_ended_at", "result_metadata", "execution_cost_credits")
	wantTime(t, m, "execution_ended_at", 8*time.Second)
	wantTime(t, m, "expires_at", 8*time.Second+90*24*time.Hour)
	if m["state"] != "QUERY_STATE_COMPLETED" || m["is_execution_finished"] != true || num(t, m["execution_cost_credits"]) != emulator.CreditsMedium {
		t.Errorf("completed: %v", m)
	}
	md := m["result_metadata"].(map[string]any)
	if len(md["column_names"].([]any)) != 6 || len(md["column_types"].([]any)) != 6 || num(t, md["row_count"]) != 10 ||
		num(t, md["total_row_count"]) != 10 || num(t, md["datapoint_count"]) != 60 || num(t, md["result_set_bytes"]) <= 0 ||
		num(t, md["pending_time_millis"]) != 3000 || num(t, md["execution_time_millis"]) != 5000 {
		t.Errorf("result_metadata = %v", md)
	}
	for _, path := range []string{"/api/v1/query/5/results?limit=4", "/api/v1/execution/" + id + "/results?limit=4"} {
		p := get(t, s, path).page(t)
		if p.State != "QUERY_STATE_COMPLETED" || p.ExecutionID != id || len(p.Result.Rows) != 4 || p.Result.Metadata.TotalRowCount != 10 || p.NextURI == nil {
			t.Errorf("%s when completed: %+v", path, p)
		}
	}
	if r := get(t, s, "/api/v1/execution/"+id+"/results/csv"); r.Status != 200 || strings.Count(string(r.Body), "\n") != 11 {
		t.Errorf("csv: %d %q", r.Status, trunc(r.Body))
	}

	// the result expires 90 days after it ended
	clock.Set(8*time.Second + 90*24*time.Hour)
	if m := status(t, s, id); m["state"] != "QUERY_STATE_EXPIRED" {
		t.Errorf("after 90 days: %v", m["state"])
	}
	if p := get(t, s, "/api/v1/execution/"+id+"/results").page(t); p.State != "QUERY_STATE_EXPIRED" || p.Result != nil {
		t.Errorf("expired results: %+v", p)
	}
}

func TestExecuteFailedAndTimeout(t *testing.T) {
	s, clock := clocked(t)
	s.AddQuery(6, emulator.Tiny())
	s.SetProfile(6, emulator.Profile{Queue: time.Second, Run: time.Second, Outcome: emulator.OutcomeFailed,
		Error: &dune.ExecutionErrorInfo{Type: "FAILED_TYPE_EXECUTION_FAILED", Message: "line 1:8: Column 'x' cannot be resolved", Line: 1, Column: 8}})
	failed := execute(t, s, 6, "")
	s.SetProfile(7, emulator.Profile{Queue: time.Second, Outcome: emulator.OutcomeTimeout})
	timeout := execute(t, s, 7, "")
	s.SetProfile(8, emulator.Profile{Run: 2 * time.Hour})
	long := execute(t, s, 8, "")

	clock.Set(2 * time.Second)
	m := status(t, s, failed)
	wantKeys(t, m, "execution_started_at", "execution_ended_at", "error", "execution_cost_credits")
	for _, e := range []any{m["error"], get(t, s, "/api/v1/query/6/results").object(t)["error"], get(t, s, "/api/v1/execution/"+failed+"/results").object(t)["error"]} {
		e := e.(map[string]any)
		md, _ := e["metadata"].(map[string]any)
		if e["type"] != "FAILED_TYPE_EXECUTION_FAILED" || e["message"] != "line 1:8: Column 'x' cannot be resolved [Execution ID: "+failed+"]" ||
			md == nil || num(t, md["line"]) != 1 || num(t, md["column"]) != 8 {
			t.Errorf("error = %v", e)
		}
	}
	if m["state"] != "QUERY_STATE_FAILED" || num(t, m["execution_cost_credits"]) != emulator.CreditsMedium {
		t.Errorf("failed: %v", m)
	}

	// the never-ending ones run until the 30-minute timeout
	clock.Set(time.Second + emulator.ExecutionTimeout - time.Millisecond)
	if st := status(t, s, timeout)["state"]; st != "QUERY_STATE_EXECUTING" {
		t.Errorf("before the timeout: %v", st)
	}
	clock.Set(time.Second + emulator.ExecutionTimeout)
	m = status(t, s, timeout)
	wantKeys(t, m, "execution_started_at", "execution_ended_at", "error", "execution_cost_credits")
	wantTime(t, m, "execution_started_at", time.Second)
	wantTime(t, m, "execution_ended_at", time.Second+30*time.Minute)
	e := m["error"].(map[string]any)
	if m["state"] != "QUERY_STATE_FAILED" || e["type"] != "FAILED_TYPE_EXECUTION_FAILED" ||
		e["message"] != emulator.MsgExecutionTimeout+" [Execution ID: "+timeout+"]" || e["metadata"] != nil {
		t.Errorf("timed out: %v", m)
	}
	if m := status(t, s, long); m["state"] != "QUERY_STATE_FAILED" || !strings.HasPrefix(m["error"].(map[string]any)["message"].(string), emulator.MsgExecutionTimeout) {
		t.Errorf("a 2-hour run: %v", m)
	}
	wantTime(t, status(t, s, long), "execution_ended_at", 30*time.Minute)
}

func TestCancel(t *testing.T) {
	s, clock := clocked(t)
	s.AddQuery(5, emulator.Tiny())
	s.SetProfile(5, emulator.Profile{Queue: 2 * time.Second, QueuePositions: 2, Run: 2 * time.Second})
	cancel := func(id string) response { return send(t, s, http.MethodPost, "/api/v1/execution/"+id+"/cancel", "") }

	queued := execute(t, s, 5, "")
	running := execute(t, s, 5, `{"performance":"large"}`)
	clock.Set(time.Second)
	if r := cancel(queued); r.Status != 200 || string(r.Body) != `{"success":true}` {
		t.Fatalf("cancel queued: %d %s", r.Status, r.Body)
	}
	clock.Set(3 * time.Second)
	if r := cancel(running); string(r.Body) != `{"success":true}` {
		t.Fatalf("cancel running: %s", r.Body)
	}
	clock.Set(time.Hour) // cancelled executions stay so
	m := status(t, s, queued)
	wantKeys(t, m, "cancelled_at", "execution_cost_credits")
	wantTime(t, m, "cancelled_at", time.Second)
	if m["state"] != "QUERY_STATE_CANCELLED" || m["is_execution_finished"] != true {
		t.Errorf("cancelled in the queue: %v", m)
	}
	m = status(t, s, running)
	wantKeys(t, m, "cancelled_at", "execution_started_at", "execution_ended_at", "execution_cost_credits")
	wantTime(t, m, "execution_started_at", 2*time.Second)
	wantTime(t, m, "execution_ended_at", 3*time.Second)
	if num(t, m["execution_cost_credits"]) != emulator.CreditsLarge {
		t.Errorf("credits of a cancelled large run: %v", m["execution_cost_credits"])
	}
	if p := get(t, s, "/api/v1/query/5/results").page(t); p.ExecutionID != running || p.State != "QUERY_STATE_CANCELLED" || p.Result != nil {
		t.Errorf("latest after cancel: %+v", p)
	}
	// finished ones: success false
	done := execute(t, s, 5, "")
	clock.Set(time.Hour + 4*time.Second)
	for _, id := range []string{queued, done} {
		if r := cancel(id); r.Status != 200 || string(r.Body) != `{"success":false}` {
			t.Errorf("cancel finished %s: %d %s", id, r.Status, r.Body)
		}
	}
	if st := status(t, s, done)["state"]; st != "QUERY_STATE_COMPLETED" {
		t.Errorf("a refused cancel changed the state: %v", st)
	}

	// executions registered with AddExecution
	pending := s.AddExecution(9, emulator.Execution{State: dune.StatePending})
	executing := s.AddExecution(9, emulator.Execution{State: dune.StateExecuting})
	completed := s.AddQuery(9, emulator.Tiny())
	for id, want := range map[string]string{pending: `{"success":true}`, executing: `{"success":true}`, completed: `{"success":false}`} {
		if r := cancel(id); string(r.Body) != want {
			t.Errorf("cancel registered %s: %s, want %s", id, r.Body, want)
		}
	}
	wantKeys(t, status(t, s, pending), "cancelled_at", "execution_cost_credits")
	wantKeys(t, status(t, s, executing), "cancelled_at", "execution_started_at", "execution_ended_at", "execution_cost_credits")

	// ids
	cancel("Wonky Job ID").wantError(t, 400, "The requested execution ID (ID: Wonky Job ID) is invalid.")
	cancel("01ARZ3NDEKTSV4RRFFQ69G5FAV").wantError(t, 404, "Object not found")
	if r := get(t, s, "/api/v1/execution/"+done+"/cancel"); r.Status != 405 || r.Header.Get("Allow") != "POST" {
		t.Errorf("GET cancel: %d %v", r.Status, r.Header)
	}
}

func TestStatusOfRegisteredExecutions(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	ids := map[string]string{
		"completed": s.AddQuery(1, emulator.Tiny()),
		"partial":   s.AddExecution(2, emulator.Execution{Dataset: emulator.DEXTrades(50, 6), Partial: true}),
		"failed":    s.AddExecution(3, emulator.Execution{State: dune.StateFailed}),
		"pending":   s.AddExecution(4, emulator.Execution{State: dune.StatePending}),
		"executing": s.AddExecution(5, emulator.Execution{State: dune.StateExecuting}),
		"cancelled": s.AddExecution(6, emulator.Execution{State: dune.StateCancelled}),
		"expired":   s.AddExecution(7, emulator.Execution{State: dune.StateExpired}),
	}
	finished := []string{"execution_started_at", "execution_ended_at", "execution_cost_credits"}
	want := map[string][]string{
		"completed": append(finished, "result_metadata"),
		"partial":   append(finished, "result_metadata"),
		"failed":    append(finished, "error"),
		"pending":   {"queue_position"},
		"executing": {"execution_started_at"},
		"cancelled": append(finished, "cancelled_at"),
		"expired":   finished,
	}
	for name, id := range ids {
		m := status(t, s, id)
		if !strings.HasSuffix(m["state"].(string), strings.ToUpper(name)) {
			t.Errorf("%s: state %v", name, m["state"])
		}
		wantKeys(t, m, want[name]...)
		if c, ok := m["execution_cost_credits"]; ok && num(t, c) != emulator.CreditsMedium {
			t.Errorf("%s: credits %v", name, c)
		}
	}
	md := status(t, s, ids["partial"])["result_metadata"].(map[string]any)
	if num(t, md["row_count"]) != 50 || num(t, md["datapoint_count"]) != 50*22 {
		t.Errorf("partial metadata %v", md)
	}
	if num(t, status(t, s, ids["pending"])["queue_position"]) != 1 {
		t.Error("queue_position of a registered PENDING execution")
	}
	get(t, s, "/api/v1/execution/Wonky Job ID/status").wantError(t, 400, "The requested execution ID (ID: Wonky Job ID) is invalid.")
	get(t, s, "/api/v1/execution/01ARZ3NDEKTSV4RRFFQ69G5FAV/status").wantError(t, 404, "Object not found")
	if r := send(t, s, http.MethodPost, "/api/v1/execution/"+ids["completed"]+"/status", ""); r.Status != 405 || r.Header.Get("Allow") != "GET" {
		t.Errorf("POST status: %d", r.Status)
	}
}

func TestExecuteCreditsAndStats(t *testing.T) {
	s, clock := clocked(t)
	s.AddQuery(5, emulator.Tiny())
	cases := []struct {
		query, body string
		credits     int
	}{
		{"", "", 10},
		{"", `{}`, 10},
		{"", `{"performance":"medium"}`, 10},
		{"", `{"performance":"large"}`, 20},
		{"?performance=large", "", 20},
		{"?performance=large", `{"performance":"medium"}`, 10}, // the body wins
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		r := send(t, s, http.MethodPost, "/api/v1/query/5/execute"+c.query, c.body)
		if r.Status != 200 {
			t.Fatalf("%q %q: %d %s", c.query, c.body, r.Status, r.Body)
		}
		ids[i] = r.object(t)["execution_id"].(string)
		if _, ok := status(t, s, ids[i])["execution_cost_credits"]; ok {
			t.Errorf("credits before the end")
		}
	}
	clock.Set(time.Minute)
	for i, c := range cases {
		if got := num(t, status(t, s, ids[i])["execution_cost_credits"]); got != c.credits {
			t.Errorf("%q %q: credits %d, want %d", c.query, c.body, got, c.credits)
		}
	}
	for _, bad := range []string{`{"performance":"huge"}`, `{"performance":"Large"}`} {
		if r := send(t, s, http.MethodPost, "/api/v1/query/5/execute", bad); r.Status != 400 || !strings.Contains(string(r.Body), "performance") {
			t.Errorf("%s: %d %s", bad, r.Status, r.Body)
		}
	}
	send(t, s, http.MethodPost, "/api/v1/query/5/execute?performance=xl", "").wantError(t, 400, `invalid performance "xl": want medium or large`)
	st := s.Stats()
	if st.Executions != 6 || st.Credits != 80 {
		t.Errorf("Executions %d Credits %d, want 6 and 80", st.Executions, st.Credits)
	}
	want := map[string]int{emulator.EndpointExecute: 9, emulator.EndpointStatus: 12, emulator.EndpointCancel: 0}
	for k, v := range want {
		if st.ByEndpoint[k] != v {
			t.Errorf("ByEndpoint[%s] = %d, want %d", k, st.ByEndpoint[k], v)
		}
	}
	send(t, s, http.MethodPost, "/api/v1/execution/"+ids[0]+"/cancel", "")
	if s.Stats().ByEndpoint[emulator.EndpointCancel] != 1 {
		t.Error("cancel not counted")
	}
	s.ResetStats()
	if st := s.Stats(); st.Executions != 0 || st.Credits != 0 {
		t.Errorf("after reset: %+v", st)
	}
}

func TestExecuteRequestErrors(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(5, emulator.Tiny())
	post := func(path, body string) response { return send(t, s, http.MethodPost, path, body) }
	post("/api/v1/query/6/execute", "").wantError(t, 404, "Query not found")
	post("/api/v1/query/abc/execute", "").wantError(t, 404, "Query not found")
	post("/api/v1/query/5/execute", `{"query_parameters":{"x":"1"}}`).wantError(t, 400, "unknown parameters (Invalid Parameter)")
	for _, bad := range []string{`not json`, `[1]`, `{"query_parameters":"x"}`, `{"query_parameters":[{"name":"x"}]}`, `{"query_parameters":{"x":{"y":1}}}`, `{"performance":3}`} {
		if r := post("/api/v1/query/5/execute", bad); r.Status != 400 {
			t.Errorf("%s: %d %s", bad, r.Status, r.Body)
		}
	}
	for _, ok := range []string{`{"query_parameters":[]}`, `{"query_parameters":{}}`, `{"query_parameters":null}`, `null`, `  `} {
		if r := post("/api/v1/query/5/execute", ok); r.Status != 200 {
			t.Errorf("%s: %d %s", ok, r.Status, r.Body)
		}
	}
	if r := get(t, s, "/api/v1/query/5/execute"); r.Status != 405 || r.Header.Get("Allow") != "POST" {
		t.Errorf("GET execute: %d", r.Status)
	}
	// a profile alone makes a query executable
	s.SetProfile(77, emulator.Profile{})
	if r := post("/api/v1/query/77/execute", ""); r.Status != 200 {
		t.Errorf("profiled query: %d", r.Status)
	}
}

func TestExecAuth(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	id := s.AddQuery(5, emulator.Tiny())
	paths := map[string]string{
		"/api/v1/query/5/execute":             http.MethodPost,
		"/api/v1/execution/" + id + "/status": http.MethodGet,
		"/api/v1/execution/" + id + "/cancel": http.MethodPost,
	}
	for path, method := range paths {
		for _, h := range []map[string]string{nil, {"X-Dune-Api-Key": "wrong"}} {
			sendWith(t, method, s.URL+path, "", h).wantError(t, 401, emulator.MsgInvalidKey)
		}
		if r := sendWith(t, method, s.URL+path+"?api_key="+emulator.DefaultAPIKey, "", nil); r.Status != 200 {
			t.Errorf("%s with api_key: %d %s", path, r.Status, r.Body)
		}
		if r := sendWith(t, method, s.URL+path, "", map[string]string{"x-dune-api-key": emulator.DefaultAPIKey}); r.Status != 200 {
			t.Errorf("%s with the header: %d %s", path, r.Status, r.Body)
		}
	}
}

func TestExecuteFaults(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	id := s.AddQuery(5, emulator.Tiny())
	s.InjectFault(emulator.Fault{Status: 402, Path: emulator.EndpointExecute})
	s.InjectFault(emulator.Fault{Status: 429, RetryAfter: 2 * time.Second, Path: emulator.EndpointExecute})
	if r := get(t, s, "/api/v1/execution/"+id+"/status"); r.Status != 200 {
		t.Errorf("status hit by an execute fault: %d", r.Status)
	}
	send(t, s, http.MethodPost, "/api/v1/query/5/execute", "").wantError(t, 402, emulator.MsgBillingCycle)
	r := send(t, s, http.MethodPost, "/api/v1/query/5/execute", "")
	if r.Status != 429 || r.Header.Get("Retry-After") != "2" {
		t.Errorf("429: %d %v", r.Status, r.Header)
	}
	if st := s.Stats(); st.Executions != 0 || st.ByEndpoint[emulator.EndpointExecute] != 2 {
		t.Errorf("faulted executes: %+v", st)
	}
	execute(t, s, 5, "")
	s.InjectFault(emulator.Fault{Status: 500, Path: emulator.EndpointStatus})
	s.InjectFault(emulator.Fault{Status: 503, Path: emulator.EndpointCancel})
	get(t, s, "/api/v1/execution/"+id+"/status").wantError(t, 500, emulator.MsgInternal)
	if r := send(t, s, http.MethodPost, "/api/v1/execution/"+id+"/cancel", ""); r.Status != 503 {
		t.Errorf("cancel fault: %d", r.Status)
	}
	// a fault without Path hits the execution endpoints too
	s.InjectFault(emulator.Fault{Status: 500})
	send(t, s, http.MethodPost, "/api/v1/query/5/execute", "").wantError(t, 500, emulator.MsgInternal)
}

func TestExecConcurrent(t *testing.T) {
	s := emulator.NewServer(emulator.WithDemoData())
	defer s.Close()
	s.SetProfile(emulator.DemoTiny, emulator.Profile{Queue: 5 * time.Millisecond, QueuePositions: 2, Run: 5 * time.Millisecond})
	ids := make(chan string, 8)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for id := range ids {
			for _, path := range []string{"/status", "/results", "/cancel"} {
				method := http.MethodGet
				if path == "/cancel" {
					method = http.MethodPost
				}
				if r := send(t, s, method, "/api/v1/execution/"+id+path, ""); r.Status != 200 {
					t.Errorf("%s %s: %d", path, id, r.Status)
				}
			}
		}
	}()
	for i := 0; i < 8; i++ {
		id := execute(t, s, emulator.DemoTiny, "")
		ids <- id
		if r := get(t, s, "/api/v1/query/1005/results"); r.Status != 200 {
			t.Errorf("latest: %d", r.Status)
		}
		status(t, s, id)
	}
	close(ids)
	<-done
}
