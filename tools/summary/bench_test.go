package summary

import (
	"encoding/json"
	"runtime"
	"testing"
)

// pageJSONSize is the size of the page as Dune sends it: rows as objects
// keyed by column name.
func pageJSONSize(tb testing.TB, p Page) int {
	objs := make([]map[string]any, len(p.Rows))
	for i, r := range p.Rows {
		m := make(map[string]any, len(p.Columns))
		for c, col := range p.Columns {
			m[col.Name] = r[c]
		}
		objs[i] = m
	}
	b, err := json.Marshal(map[string]any{"result": map[string]any{"rows": objs}})
	if err != nil {
		tb.Fatal(err)
	}
	return len(b)
}

// BenchmarkSummarize30000x22 summarises a 30,000-row × 22-column DEX-like
// page within 8,000 tokens, statistics computed afresh each time they are
// needed (the memo is off; here the rows take the budget, so they are not). Besides ns/op and allocs it reports the page's JSON size, the
// bytes allocated per call relative to it (alloc/json; target < 3) and the
// CPU time per call (all threads, GC included), which other processes on a
// shared machine disturb less than wall time.
func BenchmarkSummarize30000x22(b *testing.B) {
	memoOn.Store(false)
	defer memoOn.Store(true)
	benchmarkSummarize(b)
}

// BenchmarkSummarize30000x22Again renders the same page again, as the tools
// do for a stats-only baseline or a re-render with a note: statistics come
// from the memo.
func BenchmarkSummarize30000x22Again(b *testing.B) {
	benchmarkSummarize(b)
}

func benchmarkSummarize(b *testing.B) {
	p := dexPage(30000, 100000)
	size := pageJSONSize(b, p)
	cursor := testCursor(p)
	CountTokens("load the vocabulary outside the measurement")
	if _, err := Summarize(p, 8000, cursor); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime()
	b.ReportAllocs()
	n, shown := 0, 0
	for b.Loop() {
		out, err := Summarize(p, 8000, cursor)
		if err != nil {
			b.Fatal(err)
		}
		if out.TextTokens > 8000 || out.StructuredTokens > 8000 {
			b.Fatalf("over budget: %d/%d", out.TextTokens, out.StructuredTokens)
		}
		n++
		shown = out.ShownRows
	}
	cpu := cpuTime() - cpu0
	runtime.ReadMemStats(&after)
	perOp := float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
	b.ReportMetric(float64(size), "page-json-B")
	b.ReportMetric(perOp/float64(size), "alloc/json")
	b.ReportMetric(float64(shown), "rows-shown")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/op")
	}
}

// BenchmarkTopUpTwoRenders is a top-up as callers did it before Draft: the
// first 20 DEX rows rendered, then all 60 rendered again.
func BenchmarkTopUpTwoRenders(b *testing.B) {
	all := dexPage(60, 100000)
	part := firstPart(all, 20)
	cursor := testCursor(all)
	for b.Loop() {
		if _, err := Summarize(part, 8000, cursor); err != nil {
			b.Fatal(err)
		}
		if _, err := Summarize(all, 8000, cursor); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTopUpDraft is the same top-up in one pass: the first 20 rows
// planned, the other 40 appended, the page rendered once.
func BenchmarkTopUpDraft(b *testing.B) {
	all := dexPage(60, 100000)
	part := firstPart(all, 20)
	cursor := testCursor(all)
	for b.Loop() {
		d, err := NewDraft(part, 8000)
		if err != nil {
			b.Fatal(err)
		}
		d.Planned()
		if err := d.Extend(all.Rows[20:], 100000, all.Datapoints); err != nil {
			b.Fatal(err)
		}
		if _, err := d.Render(cursor); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSummarize1000x22 is the summary's share of a 1,000-row
// get_latest_result: a 1,000-row DEX page, statistics computed afresh,
// rendered within the default 8,000 tokens, with the piece counts of
// earlier pages known (a server that has served a page before). cpu-ms/op
// is the figure the server's CPU per call is held to.
func BenchmarkSummarize1000x22(b *testing.B) { benchmark1000(b, false) }

// BenchmarkSummarize1000x22Cold is the same with no piece count known (the
// first page a process serves): every piece of the page is encoded.
func BenchmarkSummarize1000x22Cold(b *testing.B) { benchmark1000(b, true) }

func benchmark1000(b *testing.B, cold bool) {
	memoOn.Store(false)
	defer memoOn.Store(true)
	p := dexPage(1000, 100000)
	cursor := testCursor(p)
	CountTokens("load the vocabulary outside the measurement")
	if _, err := Summarize(p, 8000, cursor); err != nil {
		b.Fatal(err)
	}
	cpu0, enc0 := cpuTime(), pieceEncodes.Load()
	n := 0
	for b.Loop() {
		if cold {
			forgetPieces()
		}
		if _, err := Summarize(p, 8000, cursor); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if cpu := cpuTime() - cpu0; cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/op")
	}
	b.ReportMetric(float64(pieceEncodes.Load()-enc0)/float64(n), "pieces-encoded/op")
}
