package metrics_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/metrics"
)

// TestExposition: what the methods record is what the handler serves, in
// the Prometheus text format, and two Metrics do not share a registry.
func TestExposition(t *testing.T) {
	m, other := metrics.New(), metrics.New()
	m.ToolCall("get_latest_result", metrics.OutcomeOK, 120*time.Millisecond)
	m.ToolCall("get_latest_result", "throttled", time.Millisecond)
	m.Upstream("query_results", 200, 80*time.Millisecond)
	m.Upstream("query_results", 0, 0)
	m.Rows(100, 40, 500)
	m.CacheHit(metrics.LayerLocal)
	m.CacheMiss(metrics.LayerShared)
	m.RateLimitWait("read", 1500*time.Millisecond)
	m.RateLimitRefused("write")
	m.RateLimitAdjusted("read", "policy")
	m.RedisError("ratelimit")
	other.ToolCall("next_page", metrics.OutcomeOK, time.Second)

	body := scrape(t, m)
	for _, want := range []string{
		`dune_mcp_tool_calls_total{outcome="ok",tool="get_latest_result"} 1`,
		`dune_mcp_tool_calls_total{outcome="throttled",tool="get_latest_result"} 1`,
		`dune_mcp_tool_call_duration_seconds_count{tool="get_latest_result"} 2`,
		`dune_mcp_upstream_requests_total{endpoint="query_results",status="200"} 1`,
		`dune_mcp_upstream_requests_total{endpoint="query_results",status="error"} 1`,
		`dune_mcp_upstream_request_duration_seconds_count{endpoint="query_results"} 1`,
		`dune_mcp_rows_fetched_total 100`,
		`dune_mcp_rows_delivered_total 40`,
		`dune_mcp_datapoints_total 500`,
		`dune_mcp_cache_hits_total{layer="local"} 1`,
		`dune_mcp_cache_misses_total{layer="shared"} 1`,
		`dune_mcp_ratelimit_waits_total{class="read"} 1`,
		`dune_mcp_ratelimit_wait_seconds_sum{class="read"} 1.5`,
		`dune_mcp_ratelimit_refused_total{class="write"} 1`,
		`dune_mcp_ratelimit_adjustments_total{class="read",reason="policy"} 1`,
		`dune_mcp_redis_errors_total{op="ratelimit"} 1`,
		`go_goroutines `,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("exposition lacks %q", want)
		}
	}
	if strings.Contains(body, "next_page") {
		t.Error("another Metrics' call shows up: registries are shared")
	}
}

// TestNilRecordsNothing: a nil *Metrics (metrics off) is safe to call.
func TestNilRecordsNothing(t *testing.T) {
	var m *metrics.Metrics
	m.ToolCall("x", "ok", time.Second)
	m.Upstream("x", 200, time.Second)
	m.Rows(1, 1, 1)
	m.CacheHit("local")
	m.CacheMiss("local")
	m.RateLimitWait("read", time.Second)
	m.RateLimitRefused("read")
	m.RateLimitAdjusted("read", "policy")
	m.RedisError("x")
	if m.Registry() != nil {
		t.Fatal("a nil Metrics has a registry")
	}
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 404 {
		t.Fatalf("nil Metrics' handler answered %d; want 404", rec.Code)
	}
}

func scrape(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	b, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 {
		t.Fatalf("GET /metrics: %d %s", rec.Code, b)
	}
	return string(b)
}
