package dune_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

func newClient(s *emulator.Server, p dune.RetryPolicy) *dune.Client {
	return dune.NewClient(dune.Config{BaseURL: s.URL, APIKey: emulator.DefaultAPIKey, Retry: p})
}

// quick retries: the emulator's Retry-After is whole seconds, backoff is not.
var quick = dune.RetryPolicy{MaxAttempts: 4, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 5 * time.Second, MaxElapsed: 20 * time.Second}

// patient is quick with a call budget no loaded machine reaches, for tests
// that read large pages: a call's budget is wall-clock time, and with 20 s
// the attempt timeouts (half of what is left) cut a 30,000-row page on a
// starved machine.
var patient = dune.RetryPolicy{MaxAttempts: 4, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 5 * time.Second, MaxElapsed: 10 * time.Minute}

func TestEmulatorWalk100kRows(t *testing.T) {
	s := emulator.NewServer(emulator.WithMaxPageSize(30000))
	defer s.Close()
	ds := emulator.DEXTrades(100000, 7)
	s.AddQuery(4242, ds)
	c := newClient(s, patient)
	ctx, usage := dune.WithUsage(context.Background())

	opts := dune.Options{Limit: 100000}
	res, err := c.GetLatestResult(ctx, 4242, opts)
	seen, pages := 0, 0
	for {
		if err != nil {
			t.Fatalf("page %d: %v", pages, err)
		}
		pages++
		if !reflect.DeepEqual(res.Columns, ds.Columns) {
			t.Fatalf("columns = %v", res.Columns)
		}
		if len(res.Rows) > 30000 || len(res.Rows) == 0 {
			t.Fatalf("page %d has %d rows", pages, len(res.Rows))
		}
		for i, row := range res.Rows {
			if want := ds.Row(seen + i); !sameRow(row, want) {
				t.Fatalf("row %d:\n got %v\nwant %v", seen+i, row, want)
			}
		}
		seen += len(res.Rows)
		if res.NextOffset == nil {
			break
		}
		if *res.NextOffset != seen {
			t.Fatalf("next_offset = %d after %d rows", *res.NextOffset, seen)
		}
		// Stay on the execution the first page came from.
		opts.Offset = *res.NextOffset
		res, err = c.GetExecutionResult(ctx, res.ExecutionID, opts)
	}
	if seen != 100000 || pages != 4 {
		t.Errorf("%d rows in %d pages", seen, pages)
	}
	st := s.Stats()
	if st.Requests != 4 || st.ByEndpoint["query_results"] != 1 || st.ByEndpoint["execution_results"] != 3 || st.RowsServed != 100000 {
		t.Errorf("stats = %+v", st.ByEndpoint)
	}
	if usage.Requests.Load() != 4 || usage.Rows.Load() != 100000 || usage.Datapoints.Load() != 2200000 {
		t.Errorf("usage = %d req %d rows %d dp", usage.Requests.Load(), usage.Rows.Load(), usage.Datapoints.Load())
	}
	wantQ := []string{"limit=100000", "limit=100000&offset=30000", "limit=100000&offset=60000", "limit=100000&offset=90000"}
	if !reflect.DeepEqual(st.RawQueries, wantQ) {
		t.Errorf("queries = %q", st.RawQueries)
	}
}

// Every option the client encodes is understood by the emulator as the
// ground truth (emulator.Evaluate) says.
func TestEmulatorOptions(t *testing.T) {
	s := emulator.NewServer(emulator.WithMaxPageSize(500))
	defer s.Close()
	ds := emulator.DEXTrades(3000, 11)
	s.AddQuery(7, ds)
	c := newClient(s, quick)
	cases := map[string]dune.Options{
		"default":        {},
		"limit offset":   {Limit: 50, Offset: 2990},
		"limit capped":   {Limit: 100000},
		"columns":        {Columns: []string{"tx_hash", "amount_usd", "blockchain"}},
		"filters":        {Filters: "blockchain = 'ethereum' AND amount_usd > 1000"},
		"filters in":     {Filters: "project IN ('uniswap', 'curve') OR amount_usd IS NULL"},
		"sort":           {SortBy: "amount_usd desc, block_time", Limit: 100},
		"everything":     {Limit: 20, Offset: 5, Columns: []string{"token_pair", "amount_usd"}, SortBy: "amount_usd", Filters: "token_pair LIKE '%USDC%'", IgnoreMaxCreditsPerRequest: true},
		"past the end":   {Offset: 5000},
		"partial opt-in": {AllowPartialResults: true, Limit: 3},
	}
	for name, o := range cases {
		t.Run(name, func(t *testing.T) {
			res, err := c.GetLatestResult(context.Background(), 7, o)
			if err != nil {
				t.Fatal(err)
			}
			cols, rows, total, err := emulator.Evaluate(ds, o, 500)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Columns, cols) {
				t.Errorf("columns = %v, want %v", res.Columns, cols)
			}
			if len(rows) == 0 {
				rows = []dune.Row{}
			}
			if !reflect.DeepEqual(res.Rows, rows) {
				t.Errorf("%d rows, want %d (first got %v)", len(res.Rows), len(rows), first(res.Rows))
			}
			if res.Metadata.TotalRowCount != total {
				t.Errorf("total = %d, want %d", res.Metadata.TotalRowCount, total)
			}
			more := o.Offset+len(rows) < total
			if (res.NextOffset != nil) != more {
				t.Errorf("next_offset = %v, more = %v", res.NextOffset, more)
			}
		})
	}
	t.Run("sample", func(t *testing.T) {
		res, err := c.GetLatestResult(context.Background(), 7, dune.Options{SampleCount: 300})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) < 150 || len(res.Rows) > 450 || res.NextOffset != nil {
			t.Errorf("sample of %d rows, next %v", len(res.Rows), res.NextOffset)
		}
	})
	t.Run("bad filter", func(t *testing.T) {
		_, err := c.GetLatestResult(context.Background(), 7, dune.Options{Filters: "amount_usd NOT IN (1)"})
		var ae *dune.APIError
		if !errors.As(err, &ae) || ae.Kind != dune.KindBadRequest || ae.Message == "" {
			t.Fatalf("err = %v", err)
		}
	})
}

// sameRow compares rows of scalar cells (string, json.Number, bool, nil)
// without reflection: the 100,000-row walk compares 2.2 million cells.
func sameRow(a, b dune.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		switch a[i].(type) {
		case []any, map[string]any:
			if !reflect.DeepEqual(a[i], b[i]) {
				return false
			}
		default:
			if a[i] != b[i] {
				return false
			}
		}
	}
	return true
}

func first(rows []dune.Row) dune.Row {
	if len(rows) == 0 {
		return nil
	}
	return rows[0]
}

func TestEmulatorParams(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	eth := s.AddExecution(5, emulator.Execution{Dataset: emulator.Tiny(), Params: map[string]string{"chain": "ethereum", "days": "7"}})
	base := s.AddExecution(5, emulator.Execution{Dataset: emulator.DailySeries(10, 1), Params: map[string]string{"chain": "base", "days": "7"}})
	c := newClient(s, quick)
	get := func(p map[string]string) (*dune.Result, error) {
		return c.GetLatestResult(context.Background(), 5, dune.Options{QueryParameters: p})
	}
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{nil, base},
		{map[string]string{"chain": "ethereum"}, eth},
		{map[string]string{"chain": "ethereum", "days": "7"}, eth},
		{map[string]string{"days": "7"}, base},
	} {
		res, err := get(tc.params)
		if err != nil {
			t.Fatal(err)
		}
		if res.ExecutionID != tc.want {
			t.Errorf("%v: execution %s, want %s", tc.params, res.ExecutionID, tc.want)
		}
	}
	if q := s.Stats().RawQueries[1]; q != "params.chain=ethereum" {
		t.Errorf("raw query = %q", q)
	}
	for _, p := range []map[string]string{{"chain": "solana"}, {"nope": "1"}} {
		_, err := get(p)
		var ae *dune.APIError
		if !errors.As(err, &ae) || ae.Kind != dune.KindNotFound {
			t.Errorf("%v: err = %v", p, err)
		}
	}
}

func TestEmulatorStatesAndErrors(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	c := newClient(s, quick)
	ctx := context.Background()

	failed := s.AddExecution(10, emulator.Execution{State: dune.StateFailed, Error: &dune.ExecutionErrorInfo{Type: "FAILED_TYPE_EXECUTION_FAILED", Message: "line 3:7: Column 'x' cannot be resolved", Line: 3, Column: 7}})
	res, err := c.GetExecutionResult(ctx, failed, dune.Options{})
	var re *dune.ResultError
	if !errors.As(err, &re) || re.State != dune.StateFailed || re.Type != "FAILED_TYPE_EXECUTION_FAILED" || re.Line != 3 || re.Column != 7 || re.QueryID != 10 || re.ExecutionID != failed {
		t.Errorf("failed: err = %v", err)
	} else if res == nil || res.Error == nil || res.HasResult {
		t.Errorf("failed: result = %+v", res)
	}
	for _, st := range []dune.State{dune.StateCancelled, dune.StateExpired} {
		id := s.AddExecution(11, emulator.Execution{State: st})
		res, err := c.GetExecutionResult(ctx, id, dune.Options{})
		if !errors.As(err, &re) || re.State != st || res == nil || res.State != st {
			t.Errorf("%s: err = %v", st, err)
		}
		if st == dune.StateCancelled && res.CancelledAt == nil {
			t.Errorf("cancelled_at missing")
		}
	}
	for _, st := range []dune.State{dune.StatePending, dune.StateExecuting} {
		id := s.AddExecution(12, emulator.Execution{State: st})
		res, err := c.GetExecutionResult(ctx, id, dune.Options{})
		var re *dune.ResultError
		if !errors.As(err, &re) || re.State != st || res.State != st || res.HasResult || res.IsExecutionFinished {
			t.Errorf("%s: %v %+v", st, err, res)
		}
	}
	partial := s.AddExecution(13, emulator.Execution{Dataset: emulator.Tiny(), Partial: true})
	_, err = c.GetExecutionResult(ctx, partial, dune.Options{})
	var ae *dune.APIError
	if !errors.As(err, &ae) || ae.Kind != dune.KindPartialResult || ae.StatusCode != 400 {
		t.Errorf("partial without opt-in: %v", err)
	}
	res, err = c.GetExecutionResult(ctx, partial, dune.Options{AllowPartialResults: true})
	if err != nil || res.State != dune.StateCompletedPartial || len(res.Rows) != emulator.Tiny().Len() {
		t.Errorf("partial with opt-in: %v %+v", err, res)
	}

	checks := []struct {
		name string
		call func() error
		kind dune.ErrorKind
		msg  string
	}{
		{"unknown query", func() error { _, err := c.GetLatestResult(ctx, 999999, dune.Options{}); return err }, dune.KindNotFound, emulator.MsgQueryNotFound},
		{"malformed execution id", func() error { _, err := c.GetExecutionResult(ctx, "not-a-ulid", dune.Options{}); return err }, dune.KindBadRequest, "The requested execution ID (ID: not-a-ulid) is invalid."},
		{"unknown execution", func() error {
			_, err := c.GetExecutionResult(ctx, "01HPFJ7VSFXPTA8WPMDKBXE167", dune.Options{})
			return err
		}, dune.KindNotFound, ""},
		{"wrong key", func() error {
			_, err := c.GetLatestResult(dune.WithAPIKey(ctx, "wrong-key"), 10, dune.Options{})
			return err
		}, dune.KindInvalidKey, emulator.MsgInvalidKey},
	}
	for _, ck := range checks {
		err := ck.call()
		if !errors.As(err, &ae) || ae.Kind != ck.kind || (ck.msg != "" && ae.Message != ck.msg) {
			t.Errorf("%s: err = %v", ck.name, err)
		}
	}
	for _, q := range s.Stats().RawQueries {
		if strings.Contains(q, "api_key") || strings.Contains(q, emulator.DefaultAPIKey) {
			t.Errorf("key in query string: %q", q)
		}
	}
}

func TestEmulatorCreditGuard(t *testing.T) {
	s := emulator.NewServer(emulator.WithMaxDatapointsPerRequest(1000))
	defer s.Close()
	s.AddQuery(3, emulator.DEXTrades(200, 1))
	c := newClient(s, quick)
	_, err := c.GetLatestResult(context.Background(), 3, dune.Options{})
	var ae *dune.APIError
	if !errors.As(err, &ae) || ae.Kind != dune.KindCreditsPerRequest || ae.Message != emulator.MsgPerRequestCredits {
		t.Fatalf("err = %v", err)
	}
	if s.Stats().Requests != 1 {
		t.Errorf("402 retried")
	}
	res, err := c.GetLatestResult(context.Background(), 3, dune.Options{IgnoreMaxCreditsPerRequest: true})
	if err != nil || len(res.Rows) != 200 {
		t.Fatalf("%v", err)
	}
}

func TestEmulatorFaults(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(1, emulator.DEXTrades(100, 3))
	c := newClient(s, quick)
	get := func() (*dune.Result, error) { return c.GetLatestResult(context.Background(), 1, dune.Options{}) }
	tests := []struct {
		name     string
		fault    dune.ErrorKind
		inject   []emulator.Fault
		requests int
		ok       bool
	}{
		{"503 twice", "", []emulator.Fault{{Status: 503, Count: 2}}, 3, true},
		{"429 once", "", []emulator.Fault{{Status: 429, Count: 1}}, 2, true},
		{"502 then 504", "", []emulator.Fault{{Status: 502, Count: 1}, {Status: 504, Count: 1}}, 3, true},
		{"429 forever", dune.KindRateLimited, []emulator.Fault{{Status: 429, Count: 4}}, 4, false},
		{"502, 503, 504, 502: attempts exhausted", dune.KindServer, []emulator.Fault{{Status: 502}, {Status: 503}, {Status: 504}, {Status: 502}}, 4, false},
		{"500 not retried", dune.KindServer, []emulator.Fault{{Status: 500, Count: 1}}, 1, false},
		{"402 not retried", dune.KindPayment, []emulator.Fault{{Status: 402, Count: 1}}, 1, false},
		{"402 per request not retried", dune.KindCreditsPerRequest, []emulator.Fault{{Status: 402, Body: emulator.MsgPerRequestCredits}}, 1, false},
		{"truncated", "", []emulator.Fault{{Truncate: true, Count: 1}}, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s.ResetStats()
			for _, f := range tt.inject {
				s.InjectFault(f)
			}
			res, err := get()
			if tt.ok {
				if err != nil || len(res.Rows) != 100 {
					t.Fatalf("err = %v", err)
				}
			} else {
				var ae *dune.APIError
				if !errors.As(err, &ae) || ae.Kind != tt.fault {
					t.Fatalf("err = %v", err)
				}
			}
			if got := s.Stats().Requests; got != tt.requests {
				t.Errorf("requests = %d, want %d", got, tt.requests)
			}
		})
	}
	t.Run("dropped connection", func(t *testing.T) {
		s.ResetStats()
		s.InjectFault(emulator.Fault{Drop: true, Count: 1})
		if _, err := get(); err != nil {
			t.Fatal(err)
		}
		// Go's transport may itself retry a dropped kept-alive connection once.
		if got := s.Stats().Requests; got < 2 || got > 3 {
			t.Errorf("requests = %d", got)
		}
	})
	t.Run("Retry-After honoured", func(t *testing.T) {
		s.ResetStats()
		s.InjectFault(emulator.Fault{Status: 429, RetryAfter: time.Second, Count: 1})
		c := newClient(s, quick)
		var waits []time.Duration // recorded, not slept
		dune.SetSleepForTest(c, func(ctx context.Context, d time.Duration) error { waits = append(waits, d); return ctx.Err() })
		if _, err := c.GetLatestResult(context.Background(), 1, dune.Options{}); err != nil {
			t.Fatal(err)
		}
		if len(waits) != 1 || waits[0] < time.Second {
			t.Errorf("waits %v, Retry-After was 1s", waits)
		}
		if got := s.Stats().Requests; got != 2 {
			t.Errorf("requests = %d", got)
		}
	})
	t.Run("Retry-After too long", func(t *testing.T) {
		s.ResetStats()
		s.InjectFault(emulator.Fault{Status: 429, RetryAfter: 30 * time.Second, Count: 1})
		_, err := get()
		var ae *dune.APIError
		if !errors.As(err, &ae) || ae.RetryAfter != 30*time.Second {
			t.Fatalf("err = %v", err)
		}
		if got := s.Stats().Requests; got != 1 {
			t.Errorf("requests = %d", got)
		}
	})
	t.Run("cancel during Retry-After", func(t *testing.T) {
		s.ResetStats()
		s.InjectFault(emulator.Fault{Status: 503, RetryAfter: time.Minute, Count: 1})
		c := newClient(s, dune.RetryPolicy{MaxAttempts: 4, InitialBackoff: 10 * time.Millisecond, MaxBackoff: 2 * time.Minute, MaxElapsed: 5 * time.Minute})
		waiting := make(chan time.Duration, 1)
		dune.SetSleepForTest(c, func(ctx context.Context, d time.Duration) error {
			waiting <- d
			return clock.Sleep(ctx, d) // a real wait, which only the cancel ends early
		})
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		done := make(chan error, 1)
		go func() { _, err := c.GetLatestResult(ctx, 1, dune.Options{}); done <- err }()
		if d := <-waiting; d < time.Minute { // the 503 came; the client now waits a minute
			t.Errorf("waits %s, Retry-After was 1m", d)
		}
		cancel()
		// Were the wait not ended by the cancel, the retry would answer
		// after a minute, with no error.
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if got := s.Stats().Requests; got != 1 {
			t.Errorf("requests = %d", got)
		}
	})
	t.Run("latency beyond the attempt timeout", func(t *testing.T) {
		// The first attempt hangs until the client gives it up; the retry
		// must then answer within the attempt timeout, which is wall-clock
		// time: should a starved machine make it late too, the case is
		// tried again with twice the timeout (nothing about time is
		// asserted). No retry at all fails at once.
		for timeout := 200 * time.Millisecond; ; timeout *= 2 {
			s.ResetStats()
			s.InjectFault(emulator.Fault{Latency: time.Hour, Count: 1})
			c := dune.NewClient(dune.Config{BaseURL: s.URL, APIKey: emulator.DefaultAPIKey, RequestTimeout: timeout,
				Retry: dune.RetryPolicy{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond, MaxBackoff: time.Second, MaxElapsed: 10 * time.Minute}})
			_, err := c.GetLatestResult(context.Background(), 1, dune.Options{})
			got := s.Stats().Requests
			switch {
			case err == nil && got == 2:
				return
			case got < 2:
				t.Fatalf("the attempt past its timeout was not retried: %d request(s), err %v", got, err)
			case timeout > 30*time.Second:
				t.Fatalf("requests = %d, err %v", got, err)
			}
		}
	})
}
