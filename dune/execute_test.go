package dune

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

const (
	execID      = "01HKZJ2683PHF9Q9PHHQ8FW4Q1"
	executeOK   = `{"execution_id":"` + execID + `","state":"QUERY_STATE_PENDING"}`
	executePath = "/api/v1/query/7/execute"
	statusPath  = "/api/v1/execution/" + execID + "/status"
	cancelPath  = "/api/v1/execution/" + execID + "/cancel"
)

// bodies records request bodies: the recorder's clones lose them once the
// handler returns.
type bodies struct {
	mu  sync.Mutex
	got []string
}

// reply answers like rp (status and body only) after recording the body.
func (b *bodies) reply(rp reply) reply {
	return reply{handler: func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		b.mu.Lock()
		b.got = append(b.got, string(raw))
		b.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(cmpOr(rp.status, http.StatusOK))
		_, _ = w.Write([]byte(rp.body))
	}}
}

func (b *bodies) all() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.got...)
}

func cmpOr(a, b int) int {
	if a != 0 {
		return a
	}
	return b
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestExecuteRequest(t *testing.T) {
	tests := []struct {
		name   string
		params map[string]string
		perf   string
		want   string
	}{
		{"nothing", nil, "", `{}`},
		{"empty params omitted", map[string]string{}, "", `{}`},
		{"params", map[string]string{"chain": "ethereum", "day": "2024-01-01", "Wash Filter": ""}, "", `{"query_parameters":{"Wash Filter":"","chain":"ethereum","day":"2024-01-01"}}`},
		{"performance", nil, PerformanceLarge, `{"performance":"large"}`},
		{"both", map[string]string{"n": "5"}, PerformanceMedium, `{"query_parameters":{"n":"5"},"performance":"medium"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bodies
			c, rc, _ := serve(t, b.reply(reply{body: executeOK}))
			ctx, usage := WithUsage(context.Background())
			e, err := c.ExecuteQuery(ctx, 7, tt.params, tt.perf)
			if err != nil {
				t.Fatal(err)
			}
			if *e != (Execution{ExecutionID: execID, State: StatePending}) {
				t.Errorf("execution = %+v", *e)
			}
			if usage.Executions.Load() != 1 || usage.Requests.Load() != 1 || usage.Bytes.Load() != int64(len(executeOK)) {
				t.Errorf("usage: %d executions, %d requests, %d bytes", usage.Executions.Load(), usage.Requests.Load(), usage.Bytes.Load())
			}
			r := rc.req(0)
			if r.Method != http.MethodPost || r.URL.Path != executePath || r.URL.RawQuery != "" {
				t.Errorf("request = %s %s", r.Method, r.URL)
			}
			for h, want := range map[string]string{"X-Dune-Api-Key": testKey, "Content-Type": "application/json", "Accept": "application/json", "User-Agent": DefaultUserAgent} {
				if got := r.Header.Get(h); got != want {
					t.Errorf("%s = %q, want %q", h, got, want)
				}
			}
			if got := b.all(); len(got) != 1 || got[0] != tt.want {
				t.Errorf("body = %q, want %q", got, tt.want)
			}
		})
	}
}

// ExecuteQuery retries a 429 only: nothing else may run the query twice.
func TestExecuteRetries(t *testing.T) {
	t.Run("429 then success", func(t *testing.T) {
		c, rc, waits := retryClient(t, fastRetry, reply{status: 429, body: `{"error":"too many requests"}`, header: map[string]string{"Retry-After": "1"}}, reply{body: executeOK})
		ctx, usage := WithUsage(context.Background())
		e, err := c.ExecuteQuery(ctx, 7, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		if e.ExecutionID != execID || rc.count() != 2 || !reflect.DeepEqual(*waits, []time.Duration{time.Second}) {
			t.Errorf("execution %+v, requests %d, waits %v", e, rc.count(), *waits)
		}
		if usage.Requests.Load() != 2 || usage.Executions.Load() != 1 {
			t.Errorf("usage: %d requests, %d executions", usage.Requests.Load(), usage.Executions.Load())
		}
		if rc.req(1).Method != http.MethodPost || rc.req(1).URL.Path != executePath {
			t.Errorf("retry = %s %s", rc.req(1).Method, rc.req(1).URL)
		}
	})
	t.Run("429 Retry-After beyond the budget", func(t *testing.T) {
		c, rc, waits := retryClient(t, RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: time.Minute, MaxElapsed: 3 * time.Second},
			reply{status: 429, header: map[string]string{"Retry-After": "5"}}, reply{body: executeOK})
		_, err := c.ExecuteQuery(context.Background(), 7, nil, "")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Kind != KindRateLimited || ae.RetryAfter != 5*time.Second || ae.Endpoint != executePath {
			t.Fatalf("err = %v", err)
		}
		if errors.Is(err, ErrMayHaveStarted) || rc.count() != 1 || len(*waits) != 0 {
			t.Errorf("err %v, requests %d, waits %v", err, rc.count(), *waits)
		}
	})
	t.Run("429 every time", func(t *testing.T) {
		c, rc, _ := retryClient(t, RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Second, MaxElapsed: time.Minute}, reply{status: 429})
		_, err := c.ExecuteQuery(context.Background(), 7, nil, "")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Kind != KindRateLimited || errors.Is(err, ErrMayHaveStarted) || rc.count() != 3 {
			t.Fatalf("err = %v, requests %d", err, rc.count())
		}
	})
	for _, st := range []int{500, 502, 503, 504} {
		t.Run("no retry on "+http.StatusText(st), func(t *testing.T) {
			c, rc, waits := retryClient(t, fastRetry, reply{status: st, body: `{"error":"Internal error"}`}, reply{body: executeOK})
			ctx, usage := WithUsage(context.Background())
			_, err := c.ExecuteQuery(ctx, 7, nil, "")
			var ae *APIError
			if !errors.As(err, &ae) || ae.StatusCode != st || ae.Kind != KindServer || ae.Message != "Internal error" {
				t.Fatalf("err = %v", err)
			}
			if !errors.Is(err, ErrMayHaveStarted) || !strings.Contains(err.Error(), "the execution may have started") {
				t.Errorf("err = %v, want ErrMayHaveStarted", err)
			}
			if rc.count() != 1 || len(*waits) != 0 || usage.Executions.Load() != 0 {
				t.Errorf("requests %d, waits %v, executions %d", rc.count(), *waits, usage.Executions.Load())
			}
		})
	}
	t.Run("no retry on an attempt timeout", func(t *testing.T) {
		slow := reply{handler: func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.ReadAll(r.Body) // the server notices the client leaving only once the body is read
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		}}
		c, rc, _ := retryClient(t, fastRetry, slow, reply{body: executeOK})
		c.cfg.RequestTimeout = 100 * time.Millisecond
		_, err := c.ExecuteQuery(context.Background(), 7, nil, "")
		if !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrMayHaveStarted) ||
			!strings.HasPrefix(err.Error(), "dune: POST "+executePath+": attempt timed out") {
			t.Fatalf("err = %v", err)
		}
		if rc.count() != 1 {
			t.Errorf("requests = %d", rc.count())
		}
	})
	t.Run("no retry on a dropped connection", func(t *testing.T) {
		c, rc, _ := retryClient(t, fastRetry, reply{handler: hangUp}, reply{body: executeOK})
		_, err := c.ExecuteQuery(context.Background(), 7, nil, "")
		if err == nil || !errors.Is(err, ErrMayHaveStarted) || !strings.HasPrefix(err.Error(), "dune: POST "+executePath+": ") {
			t.Fatalf("err = %v", err)
		}
		if rc.count() != 1 {
			t.Errorf("requests = %d", rc.count())
		}
	})
	t.Run("no retry on a truncated answer", func(t *testing.T) {
		c, rc, _ := retryClient(t, fastRetry, reply{handler: func(w http.ResponseWriter, r *http.Request) { truncate(w, executeOK) }}, reply{body: executeOK})
		ctx, usage := WithUsage(context.Background())
		_, err := c.ExecuteQuery(ctx, 7, nil, "")
		if !errors.Is(err, ErrMayHaveStarted) || rc.count() != 1 || usage.Executions.Load() != 0 {
			t.Fatalf("err = %v, requests %d, executions %d", err, rc.count(), usage.Executions.Load())
		}
	})
	t.Run("connection refused: not retried, nothing ran", func(t *testing.T) {
		addr := closedAddr(t)
		c := NewClient(Config{BaseURL: "http://" + addr, APIKey: testKey})
		c.sleep = func(context.Context, time.Duration) error { t.Error("slept"); return nil }
		_, err := c.ExecuteQuery(context.Background(), 7, nil, "")
		if err == nil || errors.Is(err, ErrMayHaveStarted) || !strings.HasPrefix(err.Error(), "dune: POST "+executePath+": ") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestExecuteErrors(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
		kind   ErrorKind
		msg    string
	}{
		{"billing cycle", 402, `{"error":"This api request would exceed your configured limits per billing cycle. Please visit your settings on dune.com and adjust your limits to continue usage."}`, KindPayment, "This api request would exceed your configured limits per billing cycle. Please visit your settings on dune.com and adjust your limits to continue usage."},
		{"per request", 402, `{"error":"This api request would exceed your configured limits per request. Please visit your settings on dune.com and adjust your limits to continue usage."}`, KindCreditsPerRequest, "This api request would exceed your configured limits per request. Please visit your settings on dune.com and adjust your limits to continue usage."},
		{"unknown parameters", 400, `{"error":"unknown parameters (Invalid Parameter)"}`, KindBadRequest, "unknown parameters (Invalid Parameter)"},
		{"invalid key", 401, `{"error":"invalid API Key"}`, KindInvalidKey, "invalid API Key"},
		{"archived", 403, `{"error":"Not allowed to execute query. Query is archived, unsaved or not enough permissions"}`, KindForbidden, "Not allowed to execute query. Query is archived, unsaved or not enough permissions"},
		{"not found", 404, `{"error":"Query not found"}`, KindNotFound, "Query not found"},
		{"conflict", 409, ``, KindOther, "Conflict"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rc, _ := serve(t, reply{status: tt.status, body: tt.body}, reply{body: executeOK})
			ctx, usage := WithUsage(context.Background())
			_, err := c.ExecuteQuery(ctx, 7, map[string]string{"nope": "1"}, "")
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v", err)
			}
			want := APIError{StatusCode: tt.status, Kind: tt.kind, Message: tt.msg, Endpoint: executePath}
			if *ae != want {
				t.Errorf("got  %+v\nwant %+v", *ae, want)
			}
			if errors.Is(err, ErrMayHaveStarted) {
				t.Errorf("a %d ran nothing: %v", tt.status, err)
			}
			if rc.count() != 1 || usage.Executions.Load() != 0 {
				t.Errorf("requests %d, executions %d", rc.count(), usage.Executions.Load())
			}
		})
	}
}

// A 2xx answer that breaks Dune's rules: the execution may exist, so it is
// neither retried nor counted.
func TestExecuteMalformed(t *testing.T) {
	for name, body := range map[string]string{
		"no execution_id":   `{"state":"QUERY_STATE_PENDING"}`,
		"empty id":          `{"execution_id":"","state":"QUERY_STATE_PENDING"}`,
		"id not a path":     `{"execution_id":"../query/1","state":"QUERY_STATE_PENDING"}`,
		"id not a string":   `{"execution_id":12,"state":"QUERY_STATE_PENDING"}`,
		"not json":          `<html>ok</html>`,
		"null":              `null`,
		"trailing document": executeOK + `{}`,
	} {
		t.Run(name, func(t *testing.T) {
			c, rc, _ := serve(t, reply{body: body}, reply{body: executeOK})
			ctx, usage := WithUsage(context.Background())
			_, err := c.ExecuteQuery(ctx, 7, nil, "")
			if !errors.Is(err, ErrMalformedResponse) || !errors.Is(err, ErrMayHaveStarted) || !strings.HasPrefix(err.Error(), "dune: POST "+executePath+": ") {
				t.Fatalf("err = %v", err)
			}
			if rc.count() != 1 || usage.Executions.Load() != 0 {
				t.Errorf("requests %d, executions %d", rc.count(), usage.Executions.Load())
			}
		})
	}
	t.Run("no state is accepted", func(t *testing.T) {
		c, _, _ := serve(t, reply{body: `{"execution_id":"` + execID + `","extra":[1,{"a":null}]}`})
		e, err := c.ExecuteQuery(context.Background(), 7, nil, "")
		if err != nil || *e != (Execution{ExecutionID: execID}) {
			t.Fatalf("execution %+v, err %v", e, err)
		}
	})
}

func TestExecutionStatus(t *testing.T) {
	const head = `"execution_id":"` + execID + `","query_id":7,"submitted_at":"2024-03-05T22:07:22.828653Z","expires_at":"2024-06-03T22:07:24.013663281Z"`
	submitted, expires := mustTime(t, "2024-03-05T22:07:22.828653Z"), mustTime(t, "2024-06-03T22:07:24.013663281Z")
	started, ended := mustTime(t, "2024-03-05T22:07:23.1Z"), mustTime(t, "2024-03-05T22:07:24.013663281Z")
	three, credits, zero := 3, 12.5, 0.0
	base := Status{ExecutionID: execID, QueryID: 7, SubmittedAt: submitted, ExpiresAt: expires}
	with := func(f func(s *Status)) Status {
		s := base
		f(&s)
		return s
	}
	tests := []struct {
		name string
		body string
		want Status
	}{
		{"pending", `{` + head + `,"state":"QUERY_STATE_PENDING","is_execution_finished":false,"queue_position":3,"max_inflight_interactive_executions":3,"max_inflight_interactive_reached":false}`,
			with(func(s *Status) { s.State, s.QueuePosition = StatePending, &three })},
		{"executing", `{` + head + `,"state":"QUERY_STATE_EXECUTING","is_execution_finished":false,"execution_started_at":"2024-03-05T22:07:23.1Z"}`,
			with(func(s *Status) { s.State, s.ExecutionStartedAt = StateExecuting, &started })},
		{"completed", `{` + head + `,"state":"QUERY_STATE_COMPLETED","is_execution_finished":true,"execution_started_at":"2024-03-05T22:07:23.1Z","execution_ended_at":"2024-03-05T22:07:24.013663281Z",
			"result_metadata":{"column_names":["a","b"],"column_types":["varchar","double"],"row_count":1000,"result_set_bytes":2048,"total_row_count":1000,"total_result_set_bytes":2048,"datapoint_count":2000,"pending_time_millis":12,"execution_time_millis":913},
			"execution_cost_credits":12.5}`,
			with(func(s *Status) {
				s.State, s.IsExecutionFinished, s.ExecutionStartedAt, s.ExecutionEndedAt = StateCompleted, true, &started, &ended
				s.ResultMetadata = &Metadata{RowCount: 1000, ResultSetBytes: 2048, TotalRowCount: 1000, TotalResultSetBytes: 2048, DatapointCount: 2000, PendingTimeMillis: 12, ExecutionTimeMillis: 913}
				s.ExecutionCostCredits = &credits
			})},
		{"completed partial, credits as a string", `{` + head + `,"state":"QUERY_STATE_COMPLETED_PARTIAL","is_execution_finished":true,"result_metadata":{"row_count":5},"execution_cost_credits":"12.5"}`,
			with(func(s *Status) {
				s.State, s.IsExecutionFinished, s.ResultMetadata, s.ExecutionCostCredits = StateCompletedPartial, true, &Metadata{RowCount: 5}, &credits
			})},
		{"cancelled", `{` + head + `,"state":"QUERY_STATE_CANCELLED","is_execution_finished":true,"execution_started_at":"2024-03-05T22:07:23.1Z","execution_ended_at":"2024-03-05T22:07:24.013663281Z","cancelled_at":"2024-03-05T22:07:24.013663281Z"}`,
			with(func(s *Status) {
				s.State, s.IsExecutionFinished, s.ExecutionStartedAt, s.ExecutionEndedAt, s.CancelledAt = StateCancelled, true, &started, &ended, &ended
			})},
		{"expired, unparsable and null times", `{` + head + `,"state":"QUERY_STATE_EXPIRED","is_execution_finished":true,"execution_started_at":"yesterday","execution_ended_at":null,"queue_position":null,"error":null}`,
			with(func(s *Status) { s.State, s.IsExecutionFinished = StateExpired, true })},
		{"unknown state, no execution_id", `{"state":"QUERY_STATE_THINKING"}`,
			Status{ExecutionID: execID, State: "QUERY_STATE_THINKING"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rc, _ := serve(t, reply{body: tt.body})
			ctx, usage := WithUsage(context.Background())
			s, err := c.GetExecutionStatus(ctx, execID)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(*s, tt.want) {
				t.Errorf("got  %+v\nwant %+v", *s, tt.want)
			}
			r := rc.req(0)
			if r.Method != http.MethodGet || r.URL.Path != statusPath || r.URL.RawQuery != "" || r.Header.Get("X-Dune-Api-Key") != testKey || r.ContentLength > 0 {
				t.Errorf("request = %s %s (%d bytes), key %q", r.Method, r.URL, r.ContentLength, r.Header.Get("X-Dune-Api-Key"))
			}
			if usage.Requests.Load() != 1 || usage.Executions.Load() != 0 || usage.Bytes.Load() != int64(len(tt.body)) {
				t.Errorf("usage: %d requests, %d executions, %d bytes", usage.Requests.Load(), usage.Executions.Load(), usage.Bytes.Load())
			}
		})
	}
	t.Run("failed (Dune's fixture)", func(t *testing.T) {
		c, _, _ := serve(t, reply{body: fixture(t, "status_failed_with_error.json")})
		s, err := c.GetExecutionStatus(context.Background(), "01K85QHSS0RBGW4BHDM0RFCG9C")
		if err != nil {
			t.Fatal(err)
		}
		if s.State != StateFailed || !s.IsExecutionFinished || s.QueryID != 6012998 || s.ExecutionID != "01K85QHSS0RBGW4BHDM0RFCG9C" ||
			!s.SubmittedAt.Equal(mustTime(t, "2025-10-22T10:31:04.222464Z")) || !s.ExpiresAt.Equal(mustTime(t, "2026-01-20T10:31:04.36241Z")) ||
			s.ExecutionCostCredits == nil || *s.ExecutionCostCredits != zero || s.ResultMetadata != nil || s.QueuePosition != nil {
			t.Errorf("status = %+v", s)
		}
		e := s.Error
		if e == nil || e.Type != "FAILED_TYPE_EXECUTION_FAILED" || e.Line != 1 || e.Column != 8 ||
			!strings.HasPrefix(e.Message, "line 1:8: Column 'x' cannot be resolved") || !strings.HasSuffix(e.Message, "[Execution ID: 01K85QHSS0RBGW4BHDM0RFCG9C]") {
			t.Errorf("error = %+v", e)
		}
	})
	t.Run("error position as strings, as results read it", func(t *testing.T) {
		c, _, _ := serve(t, reply{body: `{"state":"QUERY_STATE_FAILED","error":{"type":"syntax_error","message":"Error: Line 10:73: mismatched input","metadata":{"line":"10","column":73.0}}}`})
		s, err := c.GetExecutionStatus(context.Background(), execID)
		if err != nil {
			t.Fatal(err)
		}
		if *s.Error != (ExecutionErrorInfo{Type: "syntax_error", Message: "Error: Line 10:73: mismatched input", Line: 10, Column: 73}) {
			t.Errorf("error = %+v", *s.Error)
		}
	})
}

// Status.Err is the rule GetExecutionResult applies, for every state.
func TestStatusErr(t *testing.T) {
	failed := fixture(t, "status_failed_with_error.json")
	for _, st := range []State{StatePending, StateExecuting, StateCompleted, StateCompletedPartial, StateCancelled, StateExpired, StateFailed, "QUERY_STATE_THINKING"} {
		t.Run(string(st), func(t *testing.T) {
			body := `{"execution_id":"` + execID + `","query_id":7,"state":"` + string(st) + `"}`
			if st == StateFailed {
				body = failed
			}
			c, _, _ := serve(t, reply{body: body})
			s, err := c.GetExecutionStatus(context.Background(), execID)
			if err != nil {
				t.Fatal(err)
			}
			got := s.Err()
			if st == StateCompleted || st == StateCompletedPartial {
				if got != nil {
					t.Fatalf("Err = %v", got)
				}
				return
			}
			var re *ResultError
			if !errors.As(got, &re) || re.State != st {
				t.Fatalf("Err = %v, want a *ResultError in state %s", got, st)
			}
			// The same body as a (row-less) results answer gives the same
			// error, asked for the execution the body is about.
			_, rerr := c.GetExecutionResult(context.Background(), re.ExecutionID, Options{})
			var want *ResultError
			if !errors.As(rerr, &want) || !reflect.DeepEqual(re, want) {
				t.Errorf("status %+v\nresult %+v", re, want)
			}
			if st == StateFailed && (re.Line != 1 || re.Column != 8 || re.Type != "FAILED_TYPE_EXECUTION_FAILED" || !strings.Contains(got.Error(), "(line 1, column 8)")) {
				t.Errorf("Err = %v", got)
			}
		})
	}
}

func TestStatusRetriesAndMalformed(t *testing.T) {
	ok := `{"execution_id":"` + execID + `","state":"QUERY_STATE_EXECUTING"}`
	t.Run("retried like GET", func(t *testing.T) {
		c, rc, waits := retryClient(t, fastRetry, reply{status: 503}, reply{status: 429, header: map[string]string{"Retry-After": "1"}},
			reply{handler: func(w http.ResponseWriter, r *http.Request) { truncate(w, ok) }}, reply{body: ok})
		ctx, usage := WithUsage(context.Background())
		s, err := c.GetExecutionStatus(ctx, execID)
		if err != nil {
			t.Fatal(err)
		}
		if s.State != StateExecuting || rc.count() != 4 || usage.Requests.Load() != 4 || len(*waits) != 3 || (*waits)[1] != time.Second {
			t.Errorf("state %s, requests %d (usage %d), waits %v", s.State, rc.count(), usage.Requests.Load(), *waits)
		}
	})
	t.Run("404 not retried", func(t *testing.T) {
		c, rc, _ := serve(t, reply{status: 404, body: `{"error":"Object not found"}`}, reply{body: ok})
		_, err := c.GetExecutionStatus(context.Background(), execID)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Kind != KindNotFound || ae.Endpoint != statusPath || rc.count() != 1 {
			t.Fatalf("err = %v, requests %d", err, rc.count())
		}
	})
	for name, body := range map[string]string{
		"no state":              `{"execution_id":"` + execID + `"}`,
		"empty state":           `{"execution_id":"` + execID + `","state":""}`,
		"null":                  `null`,
		"not json":              `maintenance`,
		"query_id not a number": `{"query_id":"x","state":"QUERY_STATE_PENDING"}`,
		"state not a string":    `{"state":3}`,
		"time not a string":     `{"state":"QUERY_STATE_PENDING","submitted_at":17}`,
		"negative metadata":     `{"state":"QUERY_STATE_COMPLETED","result_metadata":{"row_count":-1}}`,
		"trailing data":         ok + `]`,
	} {
		t.Run(name, func(t *testing.T) {
			c, rc, _ := serve(t, reply{body: body}, reply{body: ok})
			_, err := c.GetExecutionStatus(context.Background(), execID)
			if !errors.Is(err, ErrMalformedResponse) || !strings.HasPrefix(err.Error(), "dune: GET "+statusPath+": ") {
				t.Fatalf("err = %v", err)
			}
			if rc.count() != 1 {
				t.Errorf("malformed body retried: %d requests", rc.count())
			}
		})
	}
}

func TestCancelExecution(t *testing.T) {
	t.Run("success", func(t *testing.T) {
		var b bodies
		c, rc, _ := serve(t, b.reply(reply{body: `{"success":true}`}))
		if err := c.CancelExecution(context.Background(), execID); err != nil {
			t.Fatal(err)
		}
		r := rc.req(0)
		if r.Method != http.MethodPost || r.URL.Path != cancelPath || r.URL.RawQuery != "" || r.Header.Get("X-Dune-Api-Key") != testKey {
			t.Errorf("request = %s %s, key %q", r.Method, r.URL, r.Header.Get("X-Dune-Api-Key"))
		}
		if got := b.all(); len(got) != 1 || got[0] != "" {
			t.Errorf("body = %q", got)
		}
	})
	t.Run("success false", func(t *testing.T) {
		c, rc, _ := serve(t, reply{body: `{"success":false}`}, reply{body: `{"success":true}`})
		err := c.CancelExecution(context.Background(), execID)
		if !errors.Is(err, ErrCancelRefused) || err.Error() != "dune: POST "+cancelPath+": dune: cancel refused (success false)" {
			t.Fatalf("err = %v", err)
		}
		if rc.count() != 1 {
			t.Errorf("requests = %d", rc.count())
		}
	})
	for name, body := range map[string]string{"no success": `{}`, "success not a bool": `{"success":"yes"}`, "null": `null`} {
		t.Run(name, func(t *testing.T) {
			c, rc, _ := serve(t, reply{body: body}, reply{body: `{"success":true}`})
			err := c.CancelExecution(context.Background(), execID)
			if !errors.Is(err, ErrMalformedResponse) || errors.Is(err, ErrCancelRefused) || rc.count() != 1 {
				t.Fatalf("err = %v, requests %d", err, rc.count())
			}
		})
	}
	t.Run("retried like GET", func(t *testing.T) {
		c, rc, _ := retryClient(t, fastRetry, reply{status: 502}, reply{handler: hangUp}, reply{body: `{"success":true}`})
		if err := c.CancelExecution(context.Background(), execID); err != nil {
			t.Fatal(err)
		}
		if rc.count() != 3 {
			t.Errorf("requests = %d", rc.count())
		}
	})
	t.Run("bad id", func(t *testing.T) {
		c, rc, _ := serve(t, reply{status: 400, body: `{"error":"The requested execution ID (ID: 01XYZ) is invalid."}`})
		err := c.CancelExecution(context.Background(), "01XYZ")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Kind != KindBadRequest || ae.Message != "The requested execution ID (ID: 01XYZ) is invalid." || rc.count() != 1 {
			t.Fatalf("err = %v, requests %d", err, rc.count())
		}
	})
}

func TestExecutionValidationSendsNothing(t *testing.T) {
	execute := func(id int64, params map[string]string, perf string) func(*Client) error {
		return func(c *Client) error { _, err := c.ExecuteQuery(context.Background(), id, params, perf); return err }
	}
	status := func(id string) func(*Client) error {
		return func(c *Client) error { _, err := c.GetExecutionStatus(context.Background(), id); return err }
	}
	cancel := func(id string) func(*Client) error {
		return func(c *Client) error { return c.CancelExecution(context.Background(), id) }
	}
	tests := []struct {
		name  string
		call  func(*Client) error
		field string
	}{
		{"query id 0", execute(0, nil, ""), "query_id"},
		{"query id negative", execute(-7, nil, ""), "query_id"},
		{"blank param name", execute(7, map[string]string{" ": "x"}, ""), "query_parameters"},
		{"empty param name", execute(7, map[string]string{"": "x", "a": "b"}, ""), "query_parameters"},
		{"performance free", execute(7, nil, "free"), "performance"},
		{"performance upper case", execute(7, nil, "MEDIUM"), "performance"},
		{"performance padded", execute(7, nil, " large"), "performance"},
		{"status empty id", status(""), "execution_id"},
		{"status path id", status("../query/1"), "execution_id"},
		{"status query id", status(execID + "?api_key=x"), "execution_id"},
		{"cancel blank id", cancel("  "), "execution_id"},
		{"cancel path id", cancel(execID + "/x"), "execution_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rc, _ := serve(t, reply{body: executeOK})
			err := tt.call(c)
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != tt.field {
				t.Fatalf("err = %v, want a *ValidationError on %s", err, tt.field)
			}
			if rc.count() != 0 {
				t.Errorf("%d requests sent", rc.count())
			}
		})
	}
	t.Run("missing key", func(t *testing.T) {
		rc := &recorder{replies: []reply{{body: executeOK}}}
		srv := httptest.NewServer(rc)
		defer srv.Close()
		c := NewClient(Config{BaseURL: srv.URL})
		for _, call := range []func(*Client) error{execute(7, nil, ""), status(execID), cancel(execID)} {
			if err := call(c); !errors.Is(err, ErrMissingAPIKey) {
				t.Errorf("err = %v", err)
			}
		}
		if rc.count() != 0 {
			t.Errorf("%d requests sent without a key", rc.count())
		}
	})
}

// The key never reaches an error, a returned value, a URL or a log line.
func TestExecutionSecretsNeverLeak(t *testing.T) {
	var logs bytes.Buffer
	check := func(t *testing.T, rc *recorder, v any, err error) {
		t.Helper()
		b, _ := json.Marshal(v) // follows pointers
		for _, s := range []string{errText(err), string(b)} {
			if strings.Contains(s, testKey) {
				t.Errorf("key leaked: %s", s)
			}
		}
		for i := 0; i < rc.count(); i++ {
			if strings.Contains(rc.req(i).URL.String(), testKey) {
				t.Errorf("key in URL %s", rc.req(i).URL)
			}
		}
	}
	newClient := func(t *testing.T, replies ...reply) (*Client, *recorder) {
		c, rc, _ := serve(t, replies...)
		c.log = zerolog.New(&logs).Level(zerolog.DebugLevel)
		return c, rc
	}
	t.Run("execute 400 echo", func(t *testing.T) {
		c, rc := newClient(t, reply{status: 400, body: `{"error":"unknown parameters (Invalid Parameter) for key ` + testKey + `"}`})
		_, err := c.ExecuteQuery(context.Background(), 7, map[string]string{"p": "1"}, "")
		var ae *APIError
		if !errors.As(err, &ae) || ae.Message != "unknown parameters (Invalid Parameter) for key [redacted]" {
			t.Fatalf("err = %v", err)
		}
		check(t, rc, ae, err)
	})
	t.Run("execute 500 text echo", func(t *testing.T) {
		c, rc := newClient(t, reply{status: 500, body: "boom " + testKey})
		_, err := c.ExecuteQuery(context.Background(), 7, nil, "")
		check(t, rc, nil, err)
	})
	t.Run("execute answer echo", func(t *testing.T) {
		c, rc := newClient(t, reply{body: `{"execution_id":"` + execID + `","state":"` + testKey + `"}`})
		e, err := c.ExecuteQuery(context.Background(), 7, nil, "")
		if err != nil || e.State != "[redacted]" {
			t.Fatalf("execution %+v, err %v", e, err)
		}
		check(t, rc, e, err)
	})
	t.Run("execute id echo", func(t *testing.T) {
		c, rc := newClient(t, reply{body: `{"execution_id":"` + testKey + `"}`})
		_, err := c.ExecuteQuery(context.Background(), 7, nil, "")
		if !errors.Is(err, ErrMalformedResponse) {
			t.Fatalf("err = %v", err)
		}
		check(t, rc, nil, err)
	})
	t.Run("status failed echo", func(t *testing.T) {
		c, rc := newClient(t, reply{body: `{"execution_id":"x` + testKey + `","state":"QUERY_STATE_FAILED","error":{"type":"` + testKey + `","message":"bad key ` + testKey + `","metadata":{"line":2,"column":3}}}`})
		s, err := c.GetExecutionStatus(context.Background(), execID)
		if err != nil {
			t.Fatal(err)
		}
		if s.Error.Message != "bad key [redacted]" || s.ExecutionID != "x[redacted]" {
			t.Errorf("status = %+v, error %+v", s, s.Error)
		}
		check(t, rc, s, s.Err())
	})
	t.Run("status malformed echo", func(t *testing.T) {
		c, rc := newClient(t, reply{body: `{"state":` + testKey})
		_, err := c.GetExecutionStatus(context.Background(), execID)
		check(t, rc, nil, err)
	})
	t.Run("cancel 401 echo", func(t *testing.T) {
		c, rc := newClient(t, reply{status: 401, body: `{"error":"invalid API Key ` + testKey + `"}`})
		err := c.CancelExecution(context.Background(), execID)
		check(t, rc, nil, err)
	})
	for _, want := range []string{`"method":"POST"`, `"endpoint":"` + executePath + `"`, `"endpoint":"` + statusPath + `"`, `"endpoint":"` + cancelPath + `"`, `"message":"dune request"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("logs lack %s: %s", want, logs.String())
		}
	}
	if strings.Contains(logs.String(), testKey) {
		t.Error("key in logs")
	}
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
