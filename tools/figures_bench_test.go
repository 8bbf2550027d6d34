package tools

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// The figures of README "What the model sees" come from these benchmarks
// (`make figures`, also part of `make bench`). Each reports, besides the
// time of a call:
//
//   - rows: the rows a get_latest_result shows;
//   - csv-rows: the rows plain CSV (header + rows, NULL empty) of the same
//     result fits in the same budget, the density floor;
//   - text-tok/row, struct-tok/row: model-visible tokens per shown row for
//     a client that forwards only the text, and for one that forwards only
//     JSON.stringify(structuredContent) (Claude Code, Copilot CLI, Codex);
//   - csv-tok/row: tokens per row of plain CSV of the same shown rows.

// figureSets are the demo datasets the figures are measured on: DEX trades
// (22 columns, id 1001 in --demo) and the wide table (300 columns, id 1002).
var figureSets = []struct {
	name string
	id   int64
	ds   func() *emulator.Dataset
}{
	{"dex", 1, func() *emulator.Dataset { return emulator.DEXTrades(100000, 1) }},
	{"wide", 2, func() *emulator.Dataset { return emulator.Wide(2000, 300, 2) }},
}

// csvOf is plain CSV of rows: a header line, then one line per row, values
// as Dune sent them (strings bare, numbers as written, NULL empty).
func csvOf(tb testing.TB, cols []dune.Column, rows []dune.Row) string {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	rec := make([]string, len(cols))
	for i, c := range cols {
		rec[i] = c.Name
	}
	_ = w.Write(rec)
	for _, r := range rows {
		for i, v := range r {
			if v == nil {
				rec[i] = ""
			} else {
				rec[i] = fmt.Sprint(v)
			}
		}
		_ = w.Write(rec)
	}
	w.Flush()
	if err := w.Error(); err != nil {
		tb.Fatal(err)
	}
	return b.String()
}

// csvRowsThatFit is how many of the first rows of ds plain CSV fits in budget tokens.
func csvRowsThatFit(tb testing.TB, ds *emulator.Dataset, budget int) int {
	cols := ds.Columns
	var rows []dune.Row
	lo := 0
	for n := 1; n <= ds.Len(); n++ {
		rows = append(rows, ds.Row(n-1))
		if summary.CountTokens(csvOf(tb, cols, rows)) > budget {
			break
		}
		lo = n
	}
	return lo
}

// BenchmarkFigures is one get_latest_result per dataset, budget and
// --result-views mode: the rows shown against plain CSV, and the tokens the
// model sees. Under "both" a client may forward either part, so both are
// reported; under "structured" the model sees JSON.stringify(structuredContent),
// under "text" the text. density is CSV tokens of the shown rows over the
// model-visible tokens (≥ 1: at least CSV's rows per token); under "both",
// text-density and struct-density are each part's, density the lower.
func BenchmarkFigures(b *testing.B) {
	for _, set := range figureSets {
		ds := set.ds()
		for _, budget := range []int{2000, 8000, 25000} {
			csvRows := csvRowsThatFit(b, ds, budget)
			for _, views := range []string{ViewsBoth, ViewsStructured, ViewsText} {
				b.Run(fmt.Sprintf("%s/%d/%s", set.name, budget, views), func(b *testing.B) {
					emu := emulator.NewServer()
					b.Cleanup(emu.Close)
					emu.AddQuery(set.id, ds)
					e := newEnvConfig(b, emu, emulator.DefaultAPIKey, func(c *Config) { c.ResultViews = views })
					var r result
					for b.Loop() {
						r = e.call(b, schemas.GetLatestResult, map[string]any{"query_id": set.id, "max_tokens": budget})
					}
					if r.IsError {
						b.Fatalf("error: %s", r.Text)
					}
					n := r.S.ReturnedRows
					b.ReportMetric(float64(n), "rows")
					b.ReportMetric(float64(csvRows), "csv-rows")
					if n == 0 {
						return // no row: no cost per row
					}
					shown := make([]dune.Row, n)
					for i := range shown {
						shown[i] = ds.Row(i)
					}
					csvTok := float64(summary.CountTokens(csvOf(b, ds.Columns, shown)))
					textTok := float64(summary.CountTokens(r.Text))
					structTok := float64(summary.CountTokens(string(r.S.raw)))
					b.ReportMetric(csvTok/float64(n), "csv-tok/row")
					switch views {
					case ViewsStructured:
						b.ReportMetric(structTok/float64(n), "visible-tok/row")
						b.ReportMetric(csvTok/structTok, "density")
					case ViewsText:
						b.ReportMetric(textTok/float64(n), "visible-tok/row")
						b.ReportMetric(csvTok/textTok, "density")
					default:
						b.ReportMetric(textTok/float64(n), "text-tok/row")
						b.ReportMetric(structTok/float64(n), "struct-tok/row")
						b.ReportMetric(csvTok/textTok, "text-density")
						b.ReportMetric(csvTok/structTok, "struct-density")
						b.ReportMetric(csvTok/max(textTok, structTok), "density")
					}
				})
			}
		}
	}
}

// BenchmarkCachedNextPage is a next_page served from the page cache at the
// default budget (8,000 tokens, DEX trades), timed server-side: the tool's
// handler, without a transport. It reports the median of the calls, which
// other processes on a shared machine disturb less than the mean.
func BenchmarkCachedNextPage(b *testing.B) {
	emu := emulator.NewServer()
	b.Cleanup(emu.Close)
	emu.AddQuery(1, emulator.DEXTrades(100000, 1))
	e := newEnvConfig(b, emu, emulator.DefaultAPIKey, nil)
	first := e.call(b, schemas.GetLatestResult, map[string]any{"query_id": 1})
	if first.S.NextCursor == "" {
		b.Fatalf("no cursor: %s", first.Text)
	}
	var handler func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error)
	for _, st := range e.ts.ServerTools() {
		if st.Tool.Name == schemas.NextPage {
			handler = st.Handler
		}
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = schemas.NextPage
	req.Params.Arguments = map[string]any{"cursor": first.S.NextCursor}
	ctx := context.Background()
	if _, err := handler(ctx, req); err != nil { // reads ahead: later calls hit the cache
		b.Fatal(err)
	}
	before := emu.Stats().Requests
	var times []time.Duration
	for b.Loop() {
		start := time.Now()
		res, err := handler(ctx, req)
		times = append(times, time.Since(start))
		if err != nil || res.IsError {
			b.Fatalf("next_page: %v %v", err, res)
		}
	}
	if got := emu.Stats().Requests; got != before {
		b.Fatalf("%d upstream requests: not served from the cache", got-before)
	}
	slices.Sort(times)
	b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "median-ms")
}

// BenchmarkLatestVsBareFetch is the cost of one get_latest_result of 1,000
// DEX rows (limit 1000, default budget) against a bare request and decode
// of the same page from the same emulator (dune.Client.GetLatestResult),
// in pairs, one after the other: ratio is the median over the pairs of the
// tool's time over the bare fetch's (the tool's handler, no transport; the
// emulator serves both in this process).
func BenchmarkLatestVsBareFetch(b *testing.B) {
	emu := emulator.NewServer()
	b.Cleanup(emu.Close)
	emu.AddQuery(1, emulator.DEXTrades(100000, 1))
	e := newEnvConfig(b, emu, emulator.DefaultAPIKey, nil)
	dc := dune.NewClient(dune.Config{BaseURL: emu.URL, APIKey: emulator.DefaultAPIKey, Retry: dune.RetryPolicy{MaxAttempts: 1}})
	var handler func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error)
	for _, st := range e.ts.ServerTools() {
		if st.Tool.Name == schemas.GetLatestResult {
			handler = st.Handler
		}
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = schemas.GetLatestResult
	req.Params.Arguments = map[string]any{"query_id": 1, "limit": 1000}
	ctx := context.Background()
	var ratios []float64
	var toolTime, bareTime time.Duration
	reqs := emu.Stats().Requests
	for b.Loop() {
		start := time.Now()
		res, err := dc.GetLatestResult(ctx, 1, dune.Options{Limit: 1000})
		bare := time.Since(start)
		if err != nil || len(res.Rows) != 1000 {
			b.Fatalf("bare fetch: %v", err)
		}
		start = time.Now()
		out, err := handler(ctx, req)
		tool := time.Since(start)
		if err != nil || out.IsError {
			b.Fatalf("tool: %v %v", err, out)
		}
		ratios = append(ratios, float64(tool)/float64(bare))
		toolTime += tool
		bareTime += bare
	}
	slices.Sort(ratios)
	b.ReportMetric(float64(emu.Stats().Requests-reqs)/float64(len(ratios))-1, "tool-upstream-req/op")
	b.ReportMetric(ratios[len(ratios)/2], "ratio")
	b.ReportMetric(float64(toolTime.Microseconds())/1000/float64(len(ratios)), "tool-ms/op")
	b.ReportMetric(float64(bareTime.Microseconds())/1000/float64(len(ratios)), "bare-ms/op")
}
