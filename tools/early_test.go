package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// earlyRowsLogged returns the early_rows of each tool call's log line so
// far (0 when absent).
func earlyRowsLogged(t *testing.T, e *env) []int {
	t.Helper()
	var got []int
	for _, l := range earlyLogged(t, e) {
		got = append(got, l.Rows)
	}
	return got
}

// earlyLog is what a tool call's log line says of its early draft.
type earlyLog struct {
	Rows  int  `json:"early_rows"`
	Ready bool `json:"early_ready"`
}

// earlyLogged returns what each tool call's log line so far says of its
// early draft.
func earlyLogged(t *testing.T, e *env) []earlyLog {
	t.Helper()
	var got []earlyLog
	for line := range strings.Lines(e.logs.String()) {
		var l struct {
			Message string `json:"message"`
			earlyLog
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Message == "tool call" {
			got = append(got, l.earlyLog)
		}
	}
	return got
}

// A page summarised from its first rows while the rest was fetched is the
// page a server that never saw the query renders: the same text, the same
// structuredContent, in every result view and at small and default
// budgets. At the default budget the answer was rendered before the last
// rows arrived (early_ready); the next page is rendered as the second was
// (TestEarlyAnswerNotUsedWhenStatisticsShow covers pages only drafted).
func TestEarlyDraftRendersAsAFreshPage(t *testing.T) {
	clk := clock.NewJump(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	emu := emulator.NewServer(emulator.WithClock(clk.Now))
	t.Cleanup(emu.Close)
	emu.AddQuery(1, emulator.DEXTrades(5000, 1))
	for _, views := range []string{"both", "text", "structured"} {
		for _, budget := range []int{1000, 8000} {
			t.Run(fmt.Sprintf("%s/%d", views, budget), func(t *testing.T) {
				set := func(c *Config) { c.Clock, c.ResultViews = clk, views }
				warm := newEnvConfig(t, emu, emulator.DefaultAPIKey, set)
				cold := newEnvConfig(t, emu, emulator.DefaultAPIKey, set)
				args := func(offset int) map[string]any {
					return map[string]any{"query_id": 1, "limit": 1000, "offset": offset, "max_tokens": budget}
				}
				warm.call(t, schemas.GetLatestResult, args(0)) // the head of the query's pages is known from now on
				got := warm.call(t, schemas.GetLatestResult, args(2000))
				want := cold.call(t, schemas.GetLatestResult, args(2000))
				if early := earlyRowsLogged(t, warm); len(early) != 2 || early[0] != 0 || early[1] == 0 {
					t.Fatalf("early_rows of the warm calls: %v, want none for the first and some for the second", early)
				}
				if early := earlyRowsLogged(t, cold); len(early) != 1 || early[0] != 0 {
					t.Fatalf("early_rows of the cold call: %v, want none", early)
				}
				if got.IsError || got.S.ReturnedRows == 0 || got.S.Offset != 2000 {
					t.Fatalf("early page: isError %v, %d rows from %d\n%s", got.IsError, got.S.ReturnedRows, got.S.Offset, got.Text)
				}
				sameAsCold(t, got, want)
				ready := earlyLogged(t, warm)[1].Ready
				if budget == 8000 && !ready {
					t.Errorf("the second call's answer was not rendered early (early_ready false)")
				}
				got = warm.call(t, schemas.GetLatestResult, args(3000))
				sameAsCold(t, got, cold.call(t, schemas.GetLatestResult, args(3000)))
				if l := earlyLogged(t, warm)[2]; l.Rows == 0 || l.Ready != ready {
					t.Errorf("the third call's early draft: %+v, want early rows, early_ready %v as the second's", l, ready)
				}
			})
		}
	}
}

// A small page (its limit within the rows the summary starts on) gets no
// early draft, and neither does a page whose query was never seen.
func TestEarlyDraftOnlyForLargePagesOfKnownQueries(t *testing.T) {
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	emu.AddQuery(1, emulator.DEXTrades(5000, 1))
	e := newEnvConfig(t, emu, emulator.DefaultAPIKey, nil)
	e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "limit": 1000})
	e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "limit": 10, "offset": 1000})
	e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "limit": 1000, "offset": 1000, "columns": []string{"tx_hash", "amount_usd"}})
	e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "limit": 1000, "offset": 2000, "columns": []string{"tx_hash", "amount_usd"}})
	got := earlyRowsLogged(t, e)
	if len(got) != 4 || got[0] != 0 || got[1] != 0 || got[2] != 0 || got[3] == 0 {
		t.Errorf("early_rows per call %v: want none for the first page, the small one and the first of a new projection, some for the second\n%s", got, e.logs.String())
	}
}

// sameHead tells pages apart by every field but the rows, the total, the
// datapoints and the reference time.
func TestSameHead(t *testing.T) {
	ended := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	base := summary.Page{
		Tool: "get_latest_result", QueryID: 1, ExecutionID: "01EX", State: dune.StateCompleted,
		EndedAt: &ended, Columns: []dune.Column{{Name: "a", Type: "varchar"}}, Offset: 1000,
		Rows: []dune.Row{{"x"}}, TotalRowCount: 5000, Datapoints: 22000, Now: ended.Add(time.Hour),
	}
	other := base
	other.Rows, other.StatsRows, other.TotalRowCount, other.Datapoints = []dune.Row{{"y"}, {"z"}}, []dune.Row{{"w"}}, 7, 1
	other.Now = base.Now.Add(5 * time.Millisecond)
	endedElsewhere := ended.In(time.FixedZone("UTC+2", 2*3600)) // the same instant, written with an offset
	other.EndedAt = &endedElsewhere
	other.SubmittedAt = base.SubmittedAt.In(time.FixedZone("UTC-5", -5*3600))
	if !sameHead(base, other) {
		t.Error("pages differing only in rows, total, datapoints and now are not the same head")
	}
	for name, change := range map[string]func(*summary.Page){
		"execution": func(p *summary.Page) { p.ExecutionID = "01EY" },
		"ended":     func(p *summary.Page) { e := ended.Add(time.Second); p.EndedAt = &e },
		"not ended": func(p *summary.Page) { p.EndedAt = nil },
		"submitted": func(p *summary.Page) { p.SubmittedAt = ended.Add(-time.Minute) },
		"expires":   func(p *summary.Page) { p.ExpiresAt = ended.Add(90 * 24 * time.Hour) },
		"columns":   func(p *summary.Page) { p.Columns = []dune.Column{{Name: "a", Type: "integer"}} },
		"offset":    func(p *summary.Page) { p.Offset = 0 },
		"notes":     func(p *summary.Page) { p.Notes = []string{"Dune capped limit"} },
		"views":     func(p *summary.Page) { p.Views = summary.ViewsText },
		"state":     func(p *summary.Page) { p.State = dune.StateCompletedPartial },
		"budget":    func(p *summary.Page) { p.Budget = &summary.BudgetUse{Spent: 1} },
	} {
		p := base
		change(&p)
		if sameHead(base, p) {
			t.Errorf("a different %s is the same head", name)
		}
	}
}

func TestSameRows(t *testing.T) {
	a := []dune.Row{{"x", json.Number("1.5"), nil, true, map[string]any{"k": []any{1.0}}}}
	b := []dune.Row{{"x", json.Number("1.5"), nil, true, map[string]any{"k": []any{1.0}}}}
	if !sameRows(a, b) {
		t.Error("equal rows differ")
	}
	for i, v := range []any{"y", json.Number("1.50"), "", false, map[string]any{"k": []any{2.0}}} {
		c := []dune.Row{append(dune.Row(nil), b[0]...)}
		c[0][i] = v
		if sameRows(a, c) {
			t.Errorf("cell %d: %v and %v are the same", i, a[0][i], v)
		}
	}
	if sameRows(a, append(b, b[0])) || sameRows(a, []dune.Row{b[0][:4]}) {
		t.Error("rows of another length are the same")
	}
}

// otherRowsFetcher reads the page one row further on first, with the
// call's context, so that the early rows come from that read; then it
// answers the page asked for: the answer's rows are not the early rows,
// as when a retry is answered with other rows than the first attempt's.
type otherRowsFetcher struct{ Fetcher }

func (f otherRowsFetcher) GetLatestResult(ctx context.Context, queryID int64, opts dune.Options) (*dune.Result, error) {
	shifted := opts
	shifted.Offset++
	if _, err := f.Fetcher.GetLatestResult(ctx, queryID, shifted); err != nil {
		return nil, err
	}
	return f.Fetcher.GetLatestResult(ctx, queryID, opts)
}

// An early draft whose page is not the page the call answers with is
// dropped, and the answer is the one a server that never saw the query
// gives: after a rerun (another execution), after a rerun that added a
// column, when the answer's rows are not the early rows, and when the page
// has fewer rows than the early draft starts with.
func TestEarlyDraftDroppedWhenThePageDiffers(t *testing.T) {
	for _, tc := range []struct {
		name   string
		rerun  *emulator.Dataset // the query's result after the first call (nil: the same)
		fetch  func(Fetcher) Fetcher
		offset int
	}{
		{name: "rerun", rerun: emulator.Wide(5000, 6, 1), offset: 2000},
		{name: "column added", rerun: emulator.Wide(5000, 7, 1), offset: 2000},
		{name: "other rows", fetch: func(f Fetcher) Fetcher { return otherRowsFetcher{f} }, offset: 2000},
		{name: "fewer rows than the early rows", offset: 4990},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := clock.NewJump(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
			emu := emulator.NewServer(emulator.WithClock(clk.Now))
			t.Cleanup(emu.Close)
			emu.AddQuery(1, emulator.Wide(5000, 6, 1))
			set := func(c *Config) {
				c.Clock = clk
				if tc.fetch != nil {
					c.Fetcher = tc.fetch(c.Fetcher)
				}
			}
			warm := newEnvConfig(t, emu, emulator.DefaultAPIKey, set)
			args := func(offset int) map[string]any {
				return map[string]any{"query_id": 1, "limit": 1000, "offset": offset}
			}
			warm.call(t, schemas.GetLatestResult, args(0))
			if tc.rerun != nil {
				emu.Rerun(1, tc.rerun)
			}
			got := warm.call(t, schemas.GetLatestResult, args(tc.offset))
			want := newEnvConfig(t, emu, emulator.DefaultAPIKey, set).call(t, schemas.GetLatestResult, args(tc.offset))
			if early := earlyRowsLogged(t, warm); len(early) != 2 || early[1] != 0 {
				t.Errorf("early_rows of the warm calls: %v, want none for the second", early)
			}
			if got.IsError || got.S.ReturnedRows == 0 || got.S.Offset != tc.offset {
				t.Fatalf("page: isError %v, %d rows from %d\n%s", got.IsError, got.S.ReturnedRows, got.S.Offset, got.Text)
			}
			sameAsCold(t, got, want)
		})
	}
}

// An early draft whose fetch then fails is never taken: its goroutine ends
// on its own (done closes without use) and blocks nothing; the call
// answers with the fetch's error.
func TestEarlyDraftOfAFailedFetchEndsOnItsOwn(t *testing.T) {
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	emu.AddQuery(1, emulator.DEXTrades(5000, 1))
	e := newEnvConfig(t, emu, emulator.DefaultAPIKey, nil)
	e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "limit": 1000}) // the head is known from now on

	emu.InjectFault(emulator.Fault{Truncate: true, Path: emulator.EndpointQueryResults}) // cut after about half the rows
	c := &call{tool: schemas.GetLatestResult, usage: &dune.Usage{}}
	opts := dune.Options{Offset: 1000, Limit: 1000}
	q := pageQuery{queryID: 1, opts: opts, explicitLimit: 1000, budget: 8000}
	ctx, early := e.ts.earlyFetch(context.Background(), c, q, opts, 1)
	if early == nil {
		t.Fatal("no early draft for a large page of a query seen before")
	}
	if _, err := e.ts.fetchLatest(ctx, c, 1, opts); err == nil {
		t.Fatal("the cut page was answered")
	}
	if !early.started.Load() {
		t.Fatalf("the early draft did not start: the page was cut before its first %d rows", early.rows)
	}
	<-early.done // hangs (and the test times out) if the goroutine waits for a use

	got := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "limit": 1000, "offset": 1000})
	if got.IsError || got.S.Offset != 1000 || got.S.ReturnedRows == 0 {
		t.Fatalf("the next call: isError %v, %d rows from %d\n%s", got.IsError, got.S.ReturnedRows, got.S.Offset, got.Text)
	}
}

// sameAsCold holds a page to the one a server that never saw the query
// renders: the same text and the same structuredContent.
func sameAsCold(t *testing.T, got, want result) {
	t.Helper()
	if got.Text != want.Text {
		t.Errorf("text differs from the cold server's:\n%s\n---- cold:\n%s", got.Text, want.Text)
	}
	if string(got.S.raw) != string(want.S.raw) {
		t.Errorf("structuredContent differs from the cold server's:\n%s\n---- cold:\n%s", got.S.raw, want.S.raw)
	}
}

// An answer rendered early is used only for the page it foresaw: one
// field off (the row count, the total, the datapoints, the first rows, an
// age that reads otherwise) and it is not, nor is the draft it was
// rendered from (its rows past the first are stand-ins).
func TestEarlyAnswerOnlyForThePageForeseen(t *testing.T) {
	clk := clock.NewJump(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	emu := emulator.NewServer(emulator.WithClock(clk.Now))
	t.Cleanup(emu.Close)
	emu.AddQuery(1, emulator.DEXTrades(5000, 1))
	e := newEnvConfig(t, emu, emulator.DefaultAPIKey, func(c *Config) { c.Clock = clk })
	e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "limit": 1000}) // the head is known from now on

	c := &call{tool: schemas.GetLatestResult, usage: &dune.Usage{}}
	opts := dune.Options{Offset: 1000, Limit: 1000}
	q := pageQuery{queryID: 1, opts: opts, explicitLimit: 1000, budget: 8000}
	ctx, early := e.ts.earlyFetch(context.Background(), c, q, opts, 8)
	if early == nil {
		t.Fatal("no early draft for a large page of a query seen before")
	}
	res, err := e.ts.fetchLatest(ctx, c, 1, opts)
	if err != nil {
		t.Fatal(err)
	}
	pr := pageReq{view: newView(res.ExecutionID, opts, q.caller), ch: chunkOf(res, 1000), budget: 8000, explicit: true, limit: 1000}
	foreseen := e.ts.page(c, pr, res.Rows)
	foreseen.Datapoints = 1000 * len(res.Columns) // what the call's usage holds once the page is in
	other := slices.Clone(res.Rows)
	other[1] = slices.Clone(other[1])
	other[1][0] = "another value"
	for _, tc := range []struct {
		name string
		page func(p *summary.Page) []dune.Row
		use  bool
	}{
		{"the page foreseen", func(p *summary.Page) []dune.Row { return res.Rows }, true},
		{"fewer rows", func(p *summary.Page) []dune.Row { p.Rows = res.Rows[:999]; return p.Rows }, false},
		{"another total", func(p *summary.Page) []dune.Row { p.TotalRowCount++; return res.Rows }, false},
		{"other datapoints", func(p *summary.Page) []dune.Row { p.Datapoints++; return res.Rows }, false},
		{"other first rows", func(p *summary.Page) []dune.Row { p.Rows = other; return other }, false},
		{"another age", func(p *summary.Page) []dune.Row { p.Now = p.Now.Add(3 * time.Hour); return res.Rows }, false},
	} {
		p := foreseen
		rows := tc.page(&p)
		got, d := early.use(p, rows)
		if d != nil {
			t.Errorf("%s: the draft rendered early, holding stand-ins, was taken", tc.name)
		}
		if (got != nil) != tc.use {
			t.Errorf("%s: answer used %v, want %v", tc.name, got != nil, tc.use)
		}
		if tc.use && (got.ShownRows == 0 || got.Structured.Offset != 1000) {
			t.Errorf("%s: the answer shows %d rows from %d", tc.name, got.ShownRows, got.Structured.Offset)
		}
	}
}

// Where the rows shown leave room for statistics of every row fetched (a
// wide table), an answer rendered on stand-ins would give the stand-ins'
// statistics: it is not used, the page is rendered once it is in, and the
// answer is the one a server that never saw the query gives.
func TestEarlyAnswerNotUsedWhenStatisticsShow(t *testing.T) {
	for _, tc := range []struct {
		cols, budget int
		views        string
	}{{100, 8000, "both"}, {300, 8000, "text"}} {
		t.Run(fmt.Sprintf("%d/%d/%s", tc.cols, tc.budget, tc.views), func(t *testing.T) {
			clk := clock.NewJump(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
			emu := emulator.NewServer(emulator.WithClock(clk.Now))
			t.Cleanup(emu.Close)
			emu.AddQuery(1, emulator.Wide(5000, tc.cols, 1))
			set := func(c *Config) { c.Clock, c.ResultViews, c.MaxDatapointsPerCall = clk, tc.views, -1 }
			warm := newEnvConfig(t, emu, emulator.DefaultAPIKey, set)
			cold := newEnvConfig(t, emu, emulator.DefaultAPIKey, set)
			args := func(offset int) map[string]any {
				return map[string]any{"query_id": 1, "limit": 1000, "offset": offset, "max_tokens": tc.budget}
			}
			warm.call(t, schemas.GetLatestResult, args(0))
			got := warm.call(t, schemas.GetLatestResult, args(2000))
			want := cold.call(t, schemas.GetLatestResult, args(2000))
			if !strings.Contains(want.Text, "stats over 1,000 ") {
				t.Fatalf("no statistics of the 1,000 rows fetched in the answer:\n%s", want.Text)
			}
			if l := earlyLogged(t, warm)[1]; l.Rows == 0 || l.Ready {
				t.Errorf("the second call's early draft: %+v, want early rows and no answer rendered early", l)
			}
			sameAsCold(t, got, want)
			// From now on such pages are only drafted early.
			got = warm.call(t, schemas.GetLatestResult, args(3000))
			sameAsCold(t, got, cold.call(t, schemas.GetLatestResult, args(3000)))
			if l := earlyLogged(t, warm)[2]; l.Rows == 0 || l.Ready {
				t.Errorf("the third call's early draft: %+v, want early rows and no answer rendered early", l)
			}
		})
	}
}
