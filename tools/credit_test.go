package tools

import (
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
)

func creditEnv(t *testing.T, set func(*Config)) *env {
	t.Helper()
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	emu.AddQuery(3, emulator.DEXTrades(5000, 3)) // 22 columns
	return newEnvConfig(t, emu, emulator.DefaultAPIKey, set)
}

func TestPerCallCapRefusesAnExplicitLimit(t *testing.T) {
	e := creditEnv(t, func(c *Config) { c.MaxDatapointsPerCall = 10_000 })
	// The first page teaches the server the result's width (22 columns).
	if r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 3, "max_tokens": 1000}); r.IsError {
		t.Fatal(r.Text)
	}
	before := e.emu.Stats().Requests
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 3, "limit": 1000})
	if !r.IsError || e.emu.Stats().Requests != before {
		t.Fatalf("over the cap: isError %v, %d requests", r.IsError, e.emu.Stats().Requests-before)
	}
	for _, w := range []string{"22000 datapoints", "1000 rows × 22 columns", "10000", "columns", "filters", "limit", "sample_result", "at most 454"} {
		if !strings.Contains(r.Text, w) {
			t.Errorf("message lacks %q: %s", w, r.Text)
		}
	}
	// Within the cap it reads.
	if r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 3, "limit": 400, "columns": []string{"amount_usd"}}); r.IsError || r.S.ReturnedRows == 0 {
		t.Errorf("400 × 1 column: %s", r.Text)
	}
}

func TestBudgetIsSpentThenRefused(t *testing.T) {
	e := creditEnv(t, func(c *Config) { c.DatapointBudget = 3000 })
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 3, "limit": 50})
	if r.IsError || r.S.Datapoints != 50*22 || r.S.Spent == nil || *r.S.Spent != 1100 || r.S.Left == nil || *r.S.Left != 1900 {
		t.Fatalf("first call: %+v %s", r.S, r.Text)
	}
	if !strings.Contains(r.Text, "1,100 of 3,000 datapoints spent") {
		t.Errorf("text does not report the budget:\n%s", r.Text)
	}
	// A budget-sized read shrinks to what is left.
	r = e.call(t, schemas.NextPage, map[string]any{"cursor": r.S.NextCursor, "max_tokens": 25000})
	if r.IsError || r.S.Left == nil || *r.S.Left < 0 || *r.S.Spent > 3000 {
		t.Fatalf("second call: %+v %s", r.S, r.Text)
	}
	spent := *r.S.Spent
	// Spend the rest, then every read is refused without a request.
	for i := 0; i < 5 && spent < 3000-22; i++ {
		r = e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 3, "max_tokens": 8000, "offset": 100 * (i + 1)})
		if r.IsError {
			break
		}
		spent = *r.S.Spent
	}
	before := e.emu.Stats().Requests
	r = e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 3, "limit": 5})
	if !r.IsError || !strings.Contains(r.Text, "budget") || e.emu.Stats().Requests != before {
		t.Errorf("after the budget: isError %v, %d requests: %s", r.IsError, e.emu.Stats().Requests-before, r.Text)
	}
}
