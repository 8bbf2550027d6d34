package tools

import (
	"testing"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/metrics"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// TestMetricsCountCalls: the adapter counts every call by tool and outcome,
// with its latency, and the rows and datapoints it cost, which the emulator
// counts independently.
func TestMetricsCountCalls(t *testing.T) {
	m := metrics.New()
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	emu.AddQuery(5, emulator.DEXTrades(5000, 5))
	e := newEnvConfig(t, emu, emulator.DefaultAPIKey, func(c *Config) { c.Metrics = m })

	first := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 5, "max_tokens": 2000})
	a := e.call(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
	b := e.call(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor}) // from the cache
	missing := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 404404})
	if first.IsError || a.IsError || b.IsError || !missing.IsError {
		t.Fatalf("isError: %v %v %v %v; want false false false true", first.IsError, a.IsError, b.IsError, missing.IsError)
	}

	for _, c := range []struct {
		tool, outcome string
		want          float64
	}{
		{schemas.GetLatestResult, metrics.OutcomeOK, 1},
		{schemas.GetLatestResult, "not_found", 1},
		{schemas.NextPage, metrics.OutcomeOK, 2},
	} {
		if got := value(t, m, "dune_mcp_tool_calls_total", c.outcome, c.tool); got != c.want { // labels sort by name
			t.Errorf("tool_calls_total{%s,%s} = %v; want %v", c.tool, c.outcome, got, c.want)
		}
	}
	st := emu.Stats()
	delivered := first.S.ReturnedRows + a.S.ReturnedRows + b.S.ReturnedRows
	for name, want := range map[string]float64{
		"dune_mcp_rows_fetched_total":   float64(st.RowsServed),
		"dune_mcp_datapoints_total":     float64(st.DatapointsServed),
		"dune_mcp_rows_delivered_total": float64(delivered),
	} {
		if got := sum(t, m, name); got != want || want == 0 {
			t.Errorf("%s = %v; want %v (non-zero)", name, got, want)
		}
	}
	if hits := sum(t, m, "dune_mcp_cache_hits_total"); hits < 1 {
		t.Errorf("cache_hits_total = %v; want ≥ 1 (the re-read)", hits)
	}
	if n := histogramCount(t, m, "dune_mcp_tool_call_duration_seconds"); n != 4 {
		t.Errorf("tool_call_duration_seconds count = %d; want 4", n)
	}
}
