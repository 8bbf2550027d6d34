package emulator_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

func TestFaultStatus(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(5, emulator.Tiny())
	s.InjectFault(emulator.Fault{Status: 429, RetryAfter: 1500 * time.Millisecond, Count: 2})
	for i := 0; i < 2; i++ {
		r := get(t, s, "/api/v1/query/5/results")
		if r.Status != 429 || r.Header.Get("Retry-After") != "2" ||
			r.Header.Get("RateLimit-Policy") != `"read";q=40;w=60` || r.Header.Get("RateLimit") != `"read";r=0;t=2` {
			t.Fatalf("attempt %d: %d %v", i, r.Status, r.Header)
		}
		if _, ok := r.object(t)["error"].(string); !ok {
			t.Fatalf("429 body %s", r.Body)
		}
	}
	if r := get(t, s, "/api/v1/query/5/results"); r.Status != 200 {
		t.Fatalf("after the fault: %d", r.Status)
	}

	s.InjectFault(emulator.Fault{Status: 402})
	get(t, s, "/api/v1/query/5/results").wantError(t, 402, emulator.MsgBillingCycle)
	s.InjectFault(emulator.Fault{Status: 402, Body: emulator.MsgPerRequestCredits})
	get(t, s, "/api/v1/query/5/results/csv").wantError(t, 402, "This api request would exceed your configured limits per request. Please visit your settings on dune.com and adjust your limits to continue usage.")
	s.InjectFault(emulator.Fault{Status: 500})
	get(t, s, "/api/v1/query/5/results").wantError(t, 500, "Internal error")
	s.InjectFault(emulator.Fault{Status: 503, RetryAfter: time.Second})
	if r := get(t, s, "/api/v1/query/5/results"); r.Status != 503 || r.Header.Get("Retry-After") != "1" {
		t.Errorf("503: %d %v", r.Status, r.Header)
	}
	// faults come before auth
	s.InjectFault(emulator.Fault{Status: 502})
	if r := do(t, s.URL+"/api/v1/query/5/results", nil); r.Status != 502 {
		t.Errorf("502 without key: %d", r.Status)
	}
	if r := do(t, s.URL+"/api/v1/query/5/results", nil); r.Status != 401 {
		t.Errorf("after 502 without key: %d", r.Status)
	}
}

func TestFaultPath(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	eid := s.AddQuery(5, emulator.Tiny())
	s.AddQuery(6, emulator.Tiny())
	s.InjectFault(emulator.Fault{Status: 500, Path: emulator.EndpointExecutionResults})
	s.InjectFault(emulator.Fault{Status: 503, Path: "/api/v1/query/6/"})
	if r := get(t, s, "/api/v1/query/5/results"); r.Status != 200 {
		t.Errorf("query 5: %d", r.Status)
	}
	if r := get(t, s, "/api/v1/execution/"+eid+"/results/csv"); r.Status != 200 {
		t.Errorf("execution csv: %d", r.Status)
	}
	if r := get(t, s, "/api/v1/query/6/results"); r.Status != 503 {
		t.Errorf("query 6: %d", r.Status)
	}
	if r := get(t, s, "/api/v1/execution/"+eid+"/results"); r.Status != 500 {
		t.Errorf("execution: %d", r.Status)
	}
	if r := get(t, s, "/api/v1/execution/"+eid+"/results"); r.Status != 200 {
		t.Errorf("execution after fault: %d", r.Status)
	}
}

func TestFaultLatencyHonoursCancellation(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(5, emulator.Tiny())
	call := func(timeout time.Duration) error {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/api/v1/query/5/results", nil)
		req.Header.Set("X-Dune-Api-Key", emulator.DefaultAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	}
	s.InjectFault(emulator.Fault{Latency: time.Hour})
	if err := call(50 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("latency fault: err %v", err)
	}
	if err := call(10 * time.Second); err != nil {
		t.Fatalf("after the fault: %v", err)
	}
	s.SetLatency(time.Hour)
	if err := call(50 * time.Millisecond); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("SetLatency: err %v", err)
	}
	s.SetLatency(0)
	if err := call(10 * time.Second); err != nil {
		t.Fatalf("SetLatency(0): %v", err)
	}
}

func TestFaultTruncateAndDrop(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(5, emulator.DEXTrades(100, 1))
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	fetch := func() (*http.Response, []byte, error) {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v1/query/5/results", nil)
		req.Header.Set("X-Dune-Api-Key", emulator.DefaultAPIKey)
		resp, err := client.Do(req)
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp, b, err
	}
	s.InjectFault(emulator.Fault{Truncate: true})
	resp, body, err := fetch()
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) || resp.StatusCode != 200 {
		t.Fatalf("truncate: err %v", err)
	}
	if int64(len(body)) >= resp.ContentLength || !strings.HasPrefix(string(body), `{"execution_id":`) {
		t.Fatalf("truncate: got %d of %d bytes", len(body), resp.ContentLength)
	}
	s.InjectFault(emulator.Fault{Drop: true})
	if _, _, err := fetch(); err == nil {
		t.Fatal("drop: no error")
	}
	if _, body, err := fetch(); err != nil || !strings.Contains(string(body), `"row_count":100`) {
		t.Fatalf("after the faults: %v", err)
	}
	if st := s.Stats(); st.Requests != 3 {
		t.Errorf("requests = %d", st.Requests)
	}
}

func TestStats(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	eid := s.AddQuery(5, emulator.Tiny())
	get(t, s, "/api/v1/query/5/results?limit=2")
	get(t, s, "/api/v1/query/5/results/csv?columns=rank")
	do(t, s.URL+"/api/v1/execution/"+eid+"/results?api_key="+emulator.DefaultAPIKey+"&offset=1", nil)
	get(t, s, "/api/v1/execution/"+eid+"/results/csv?offset=9")
	get(t, s, "/api/v1/query/99/results")
	st := s.Stats()
	want := map[string]int{"query_results": 2, "query_results_csv": 1, "execution_results": 1, "execution_results_csv": 1}
	for k, v := range want {
		if st.ByEndpoint[k] != v {
			t.Errorf("ByEndpoint[%s] = %d, want %d", k, st.ByEndpoint[k], v)
		}
	}
	if st.Requests != 5 || st.RowsServed != 2+3+2 || st.DatapointsServed != 8+3+8 {
		t.Errorf("stats = %+v", st)
	}
	wantQ := []string{"limit=2", "columns=rank", "api_key=REDACTED&offset=1", "offset=9", ""}
	if strings.Join(st.RawQueries, "|") != strings.Join(wantQ, "|") {
		t.Errorf("raw queries = %q", st.RawQueries)
	}
	st.ByEndpoint["query_results"] = 100 // a copy
	if s.Stats().ByEndpoint["query_results"] != 2 {
		t.Error("Stats shares its map")
	}
	s.ResetStats()
	if st := s.Stats(); st.Requests != 0 || len(st.ByEndpoint) != 0 || st.RowsServed != 0 || len(st.RawQueries) != 0 {
		t.Errorf("after reset: %+v", st)
	}
}

func TestMaxDatapointsPerRequest(t *testing.T) {
	s := emulator.NewServer(emulator.WithMaxDatapointsPerRequest(10))
	defer s.Close()
	s.AddQuery(5, emulator.Tiny()) // 3 x 4 = 12 datapoints
	get(t, s, "/api/v1/query/5/results").wantError(t, 402, emulator.MsgPerRequestCredits)
	for _, ok := range []string{"ignore_max_credits_per_request=true", "ignore_max_datapoints_per_request=true", "columns=rank,project", "limit=2"} {
		if r := get(t, s, "/api/v1/query/5/results?"+ok); r.Status != 200 {
			t.Errorf("%s: %d", ok, r.Status)
		}
	}
}

func TestServe(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := emulator.NewUnstartedServer(emulator.WithDemoData())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, ln) }()
	r := do(t, "http://"+ln.Addr().String()+"/api/v1/query/1005/results", map[string]string{"X-Dune-Api-Key": emulator.DefaultAPIKey})
	p := r.page(t)
	if len(p.Result.Rows) != 3 {
		t.Fatalf("rows = %d", len(p.Result.Rows))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if err := emulator.ListenAndServe(context.Background(), "127.0.0.1:bad"); err == nil {
		t.Fatal("ListenAndServe on a bad address: no error")
	}
}

// Stats.RawQueries keeps at most MaxRawQueryBytes of each query string.
func TestStatsRawQueryClipped(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(5, emulator.Tiny())
	long := "filters=" + strings.Repeat("x", 3*emulator.MaxRawQueryBytes)
	get(t, s, "/api/v1/query/5/results?"+long)
	get(t, s, "/api/v1/query/5/results?limit=1")
	q := s.Stats().RawQueries
	if len(q) != 2 || len(q[0]) > emulator.MaxRawQueryBytes+len("…") || !strings.HasPrefix(q[0], long[:emulator.MaxRawQueryBytes]) || q[1] != "limit=1" {
		t.Errorf("raw queries: %d entries, first %d bytes", len(q), len(q[0]))
	}
}
