package tools

import (
	"fmt"
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// demoEnv serves the demo queries (1001-1014) the way --demo does.
func demoEnv(t *testing.T) *env {
	t.Helper()
	emu := emulator.NewServer(emulator.WithDemoData())
	t.Cleanup(emu.Close)
	e := newEnvWith(t, emu, emulator.DefaultAPIKey)
	e.ts.cfg.Demo = true
	return e
}

var dex2 = []string{"block_time", "amount_usd"}

// Small budgets show rows when rows can fit: the compact layout (one-line
// provenance, terse CSV legend, no hints, rows before statistics) and the
// minimal structuredContent leave room for them.
func TestSmallBudgetsShowRows(t *testing.T) {
	e := demoEnv(t)
	cases := []struct {
		name    string
		args    map[string]any
		budget  int
		minRows int
	}{
		// A block_time,amount_usd row costs ~25 tokens in either rendering
		// ("2024-06-30 23:59:28.000 UTC" alone is 13); the structured
		// essentials (ids, state, times, columns, counts, the cursor, the
		// demo flag) take ~185 of the 256.
		{"dex 2 columns", map[string]any{"query_id": 1001, "columns": dex2}, 256, 2},
		// A 22-column DEX row costs ~310 tokens, the column list 230.
		{"dex 22 columns", map[string]any{"query_id": 1001}, 1000, 2},
		{"dex 2 columns at 500", map[string]any{"query_id": 1001, "columns": dex2}, 500, 10},
		{"daily at 256", map[string]any{"query_id": 1004}, 256, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			c.args["max_tokens"] = c.budget
			r := e.callExact(t, schemas.GetLatestResult, c.args)
			checkBudget(t, r, c.budget)
			if r.S.ReturnedRows < c.minRows {
				t.Errorf("%d rows shown at %d tokens, want ≥ %d\n%s", r.S.ReturnedRows, c.budget, c.minRows, r.Text)
			}
			// Truncation is stated in both renderings.
			want := fmt.Sprintf("TRUNCATED: rows 1–%d of 100,000 shown", r.S.ReturnedRows)
			if c.args["query_id"] == 1004 {
				want = fmt.Sprintf("TRUNCATED: rows 1–%d of 1,096 shown", r.S.ReturnedRows)
			}
			// A compact result leaves "truncated" out when has_more says it.
			if !strings.Contains(r.Text, want) || !r.S.HasMore || strings.Contains(string(r.S.raw), `"truncated":false`) {
				t.Errorf("truncation not stated (want %q, has_more %v):\n%s", want, r.S.HasMore, r.Text)
			}
			// Compact layout: provenance and demo mark still there, no hints.
			for _, w := range []string{"query 1001", "DEMO DATA", "next_cursor: " + r.S.NextCursor} {
				if c.args["query_id"] == 1004 {
					w = strings.Replace(w, "1001", "1004", 1)
				}
				if !strings.Contains(r.Text, w) {
					t.Errorf("text lacks %q:\n%s", w, r.Text)
				}
			}
			if strings.Contains(r.Text, "hints:") {
				t.Errorf("hints at %d tokens:\n%s", c.budget, r.Text)
			}
		})
	}
}

// At the smallest budget a narrow page shows three rows as a rule: the
// compact structuredContent drops the fields that repeat others (truncated
// when has_more says it, fetched_rows when it equals returned_rows), which
// is what the third row of block_time, amount_usd lacked.
func TestThreeNarrowRowsAt256(t *testing.T) {
	// The demo's DEX execution has the same id in every run (a random id
	// changes how the cursor tokenises, and with it a row at this budget).
	e := demoEnv(t)
	hist := map[int]int{}
	pages := 0
	for off := 0; off < 3000; off += 97 {
		r := e.callExact(t, schemas.GetLatestResult, map[string]any{"query_id": 1001, "columns": dex2, "max_tokens": 256, "offset": off})
		checkBudget(t, r, 256)
		if strings.Contains(string(r.S.raw), `"truncated"`) {
			t.Errorf("offset %d: compact result with has_more %v keeps truncated: %s", off, r.S.HasMore, r.S.raw)
		}
		hist[r.S.ReturnedRows]++
		pages++
	}
	r := e.callExact(t, schemas.GetLatestResult, map[string]any{"query_id": 1001, "columns": dex2, "max_tokens": 256})
	for range 20 {
		r = e.callExact(t, schemas.NextPage, map[string]any{"cursor": r.S.NextCursor})
		checkBudget(t, r, 256)
		hist[r.S.ReturnedRows]++
		pages++
	}
	if hist[3]+hist[4] < pages*3/4 || hist[0]+hist[1] > 0 {
		t.Errorf("rows per page at 256 tokens: %v (%d pages), want ≥ 3 rows on 3/4 of them", hist, pages)
	}
	t.Logf("rows per page at 256 tokens: %v", hist)
}

// TestBudgetSweep runs every budget from 256 to 2,000 over several demo
// datasets: both renderings fit, truncation is stated whenever rows are cut,
// and rows shown grow (loosely) with the budget.
func TestBudgetSweep(t *testing.T) {
	if testing.Short() {
		t.Skip("sweeps 5 datasets x 20 budgets")
	}
	e := demoEnv(t)
	sets := []struct {
		name string
		args map[string]any
	}{
		{"dex 2 columns", map[string]any{"query_id": 1001, "columns": dex2}},
		{"dex 22 columns", map[string]any{"query_id": 1001}},
		{"wide 300 columns", map[string]any{"query_id": 1002}},
		{"long text", map[string]any{"query_id": 1003}},
		{"daily series", map[string]any{"query_id": 1004}},
	}
	step := 92
	if raceEnabled {
		step = 347
	}
	for _, d := range sets {
		t.Run(d.name, func(t *testing.T) {
			best, bestAt := 0, 0
			for b := 256; b <= 2000; b += step {
				args := map[string]any{"max_tokens": b}
				for k, v := range d.args {
					args[k] = v
				}
				r := e.callExact(t, schemas.GetLatestResult, args)
				checkBudget(t, r, b)
				n := r.S.ReturnedRows
				cut := r.S.Offset+n < r.S.Total
				if cut != strings.Contains(r.Text, "TRUNCATED:") || cut != r.S.HasMore {
					t.Errorf("at %d: rows cut %v, but TRUNCATED line %v, has_more %v", b, cut, strings.Contains(r.Text, "TRUNCATED:"), r.S.HasMore)
				}
				// Loosely monotone: never fewer than 80% (minus a row) of the
				// best seen at a smaller budget.
				if float64(n) < 0.8*float64(best)-1 {
					t.Errorf("at %d: %d rows, but %d at %d tokens", b, n, best, bestAt)
				}
				if n > best {
					best, bestAt = n, b
				}
				t.Logf("%5d tokens: %3d rows (text %d, structured %d)", b, n, summary.CountTokens(r.Text), summary.CountTokens(string(r.S.raw)))
			}
		})
	}
}

// An agent can read a long cell whole: its row by a filter on the key, its
// column with columns, and a budget that holds it.
func TestLongCellReadWhole(t *testing.T) {
	e := demoEnv(t)
	ds := emulator.LongText(60, 1003) // the demo's forum posts
	var longest, id int
	for i := range ds.Len() {
		if n := len(ds.Row(i)[2].(string)); n > longest {
			longest, id = n, i+1
		}
	}
	body := ds.Row(id - 1)[2].(string)

	// The first page shortens bodies and says how to read one whole.
	first := e.callExact(t, schemas.GetLatestResult, map[string]any{"query_id": 1003})
	checkBudget(t, first, 8000)
	if !strings.Contains(first.Text, "…[+") || !strings.Contains(first.Text, "with their full length") || !strings.Contains(first.Text, "filters down to ≤ 10 rows show longer cells") {
		t.Errorf("long cells not explained:\n%.1200s", first.Text)
	}

	r := e.callExact(t, schemas.GetLatestResult, map[string]any{
		"query_id": 1003, "columns": []string{"id", "body"}, "filters": fmt.Sprintf("id = %d", id), "max_tokens": 25000,
	})
	checkBudget(t, r, 25000)
	if r.S.ReturnedRows != 1 || r.S.HasMore {
		t.Fatalf("rows %d, has_more %v", r.S.ReturnedRows, r.S.HasMore)
	}
	csvBody := `"` + strings.ReplaceAll(body, `"`, `""`) + `"` // the CSV field
	if !strings.Contains(r.Text, csvBody) || r.S.Rows[0][1] != body {
		t.Errorf("the %d-byte body of post %d is not whole:\n%.600s", len(body), id, r.Text)
	}
	if strings.Contains(r.Text, "…[+") {
		t.Error("a shortening marker on a whole cell")
	}
}
