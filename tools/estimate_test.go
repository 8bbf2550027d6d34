package tools

import (
	"testing"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// After a query's first call, the first fetch of later calls is sized from
// what its rows cost: measured for the same columns, from the column types
// for a narrower projection. Very wide rows are no longer over-fetched.
func TestFirstFetchSizedFromKnownShape(t *testing.T) {
	e := newEnv(t)
	e.emu.AddQuery(2, emulator.Wide(500, 300, 2))
	e.emu.AddQuery(3, emulator.DEXTrades(5000, 3))

	type step struct {
		name    string
		args    map[string]any
		maxRows func(shown int) int // upstream rows allowed
	}
	for _, s := range []step{
		// Nothing known yet: the guess (the same as before any memo).
		{"wide, first contact", map[string]any{"query_id": 2, "max_tokens": 8000}, func(int) int { return probeSize(8000, rowEstimate{how: guessed}) }},
		{"wide, known", map[string]any{"query_id": 2, "max_tokens": 8000, "offset": 100}, func(n int) int { return 2*n + 1 }},
		{"wide, other budget", map[string]any{"query_id": 2, "max_tokens": 25000, "offset": 200}, func(n int) int { return 2*n + 1 }},
		{"wide, narrowed by types", map[string]any{"query_id": 2, "max_tokens": 4000, "columns": []string{"c000_bigint", "c001_double", "c002_varchar"}}, func(n int) int { return n * 3 / 2 }},
		{"dex, first contact", map[string]any{"query_id": 3, "max_tokens": 8000}, func(int) int { return probeSize(8000, rowEstimate{how: guessed}) }},
		{"dex, known", map[string]any{"query_id": 3, "max_tokens": 8000, "offset": 500}, func(n int) int { return n * 3 / 2 }},
	} {
		t.Run(s.name, func(t *testing.T) {
			before := e.emu.Stats()
			r := e.call(t, schemas.GetLatestResult, s.args)
			checkBudget(t, r, s.args["max_tokens"].(int))
			after := e.emu.Stats()
			rows, reqs := after.RowsServed-before.RowsServed, after.Requests-before.Requests
			t.Logf("%d rows shown, %d fetched upstream in %d requests", r.S.ReturnedRows, rows, reqs)
			if r.S.ReturnedRows == 0 {
				t.Fatal("no rows")
			}
			if rows > s.maxRows(r.S.ReturnedRows) {
				t.Errorf("fetched %d rows upstream to show %d (want ≤ %d)", rows, r.S.ReturnedRows, s.maxRows(r.S.ReturnedRows))
			}
			if reqs != 1 {
				t.Errorf("%d upstream requests, want 1", reqs)
			}
		})
	}
}

func TestProbeSizes(t *testing.T) {
	// The first call on an unknown query keeps the historical guess: about
	// 40 rows at 8,000 tokens (a 31-row filtered result is read in one request).
	if n := probeSize(8000, rowEstimate{how: guessed}); n < 40 || n > 45 {
		t.Errorf("guess at 8000 = %d", n)
	}
	// Measured 3,000-token rows at 8,000 tokens: one or two fit (rows take
	// the room statistics used to), at most three are fetched.
	if n := probeSize(8000, rowEstimate{tokens: 3000, ncols: 300, how: measured}); n > 3 {
		t.Errorf("measured wide rows: %d", n)
	}
	// More budget, more rows; never beyond maxProbe.
	prev := 0
	for _, b := range []int{256, 1000, 4000, 8000, 25000} {
		n := probeSize(b, rowEstimate{tokens: 25, ncols: 2, how: measured})
		if n < prev || n > maxProbe {
			t.Errorf("budget %d: %d rows (previous %d)", b, n, prev)
		}
		prev = n
	}
}
