package dune_test

import (
	"context"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// WithEarlyRows hands over the first rows of a page once, while the page is
// decoded: keyed as Dune wrote them (before the metadata gives the column
// order), the same values as the Result's first rows, and copies the
// caller owns.
func TestWithEarlyRows(t *testing.T) {
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	emu.AddQuery(1, emulator.DEXTrades(3000, 1))
	c := dune.NewClient(dune.Config{BaseURL: emu.URL, APIKey: emulator.DefaultAPIKey, Retry: dune.RetryPolicy{MaxAttempts: 1}})

	const n = 7
	calls := 0
	var keys []string
	var early []dune.Row
	ctx := dune.WithEarlyRows(context.Background(), n, func(k []string, rows []dune.Row) {
		calls++
		keys, early = k, rows
	})
	res, err := c.GetLatestResult(ctx, 1, dune.Options{Limit: 500, Offset: 100})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 1 || len(early) != n {
		t.Fatalf("fn called %d times with %d rows, want once with %d", calls, len(early), n)
	}
	if len(keys) != len(res.Columns) {
		t.Fatalf("%d keys for %d columns", len(keys), len(res.Columns))
	}
	col := map[string]int{}
	for j, c := range res.Columns {
		col[c.Name] = j
	}
	inOrder := true
	for i, k := range keys {
		j, ok := col[k]
		if !ok {
			t.Fatalf("key %q is not a column", k)
		}
		inOrder = inOrder && i == j
		for r := range n {
			if early[r][i] != res.Rows[r][j] {
				t.Errorf("row %d, %s: early %v, result %v", r, k, early[r][i], res.Rows[r][j])
			}
		}
	}
	if inOrder {
		t.Error("the keys came in column order: this page does not show that early rows precede the metadata")
	}
	first := res.Rows[0][col[keys[0]]]
	for r := range early {
		for i := range early[r] {
			early[r][i] = "changed by the caller"
		}
	}
	if res.Rows[0][col[keys[0]]] != first {
		t.Error("the early rows share their cells with the result's")
	}

	// A page of fewer rows than asked for does not call fn.
	calls = 0
	ctx = dune.WithEarlyRows(context.Background(), n, func([]string, []dune.Row) { calls++ })
	if _, err := c.GetLatestResult(ctx, 1, dune.Options{Limit: n - 1}); err != nil {
		t.Fatal(err)
	}
	if calls != 0 {
		t.Errorf("fn called for a page of %d rows, fewer than %d", n-1, n)
	}
	// No fn, or n < 1: the context is the same.
	if got := dune.WithEarlyRows(context.Background(), 0, func([]string, []dune.Row) {}); got != context.Background() {
		t.Error("n = 0 changed the context")
	}
}

// A retried request hands over the early rows once: those of the first
// attempt that decoded that many rows (here one whose body was cut short),
// not the retry's again.
func TestWithEarlyRowsOnceAcrossRetries(t *testing.T) {
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	emu.AddQuery(1, emulator.DEXTrades(3000, 1))
	emu.InjectFault(emulator.Fault{Truncate: true, Path: emulator.EndpointQueryResults})
	c := dune.NewClient(dune.Config{BaseURL: emu.URL, APIKey: emulator.DefaultAPIKey, Retry: dune.RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond}})
	calls := 0
	ctx := dune.WithEarlyRows(context.Background(), 7, func([]string, []dune.Row) { calls++ })
	res, err := c.GetLatestResult(ctx, 1, dune.Options{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	if got := emu.Stats().ByEndpoint[emulator.EndpointQueryResults]; got != 2 {
		t.Fatalf("%d results requests, want 2 (a cut one and its retry)", got)
	}
	if calls != 1 || len(res.Rows) != 500 {
		t.Errorf("fn called %d times, %d rows: want once, 500 rows", calls, len(res.Rows))
	}
}
