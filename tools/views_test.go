package tools

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

var allViews = []string{ViewsBoth, ViewsText, ViewsStructured}

// viewsEnv is a demo environment whose results are shaped as views says.
func viewsEnv(t testing.TB, views string, set func(*Config)) *env {
	t.Helper()
	emu := emulator.NewServer(emulator.WithDemoData())
	t.Cleanup(emu.Close)
	return newEnvConfig(t, emu, emulator.DefaultAPIKey, func(c *Config) {
		c.Demo, c.ResultViews = true, views
		if set != nil {
			set(c)
		}
	})
}

// visible is what a client of the given views forwards to the model: the
// structuredContent JSON, the text, or (both) each of them.
func visible(r result, views string) []string {
	switch views {
	case ViewsStructured:
		return []string{string(r.S.raw)}
	case ViewsText:
		return []string{r.Text}
	}
	return []string{r.Text, string(r.S.raw)}
}

// TestBudgetHoldsForEveryDemoDatasetAndView: for every demo query, budget
// and view mode, both parts fit the o200k budget, and the part a client
// forwards also fits Claude Code's check (characters / 4).
func TestBudgetHoldsForEveryDemoDatasetAndView(t *testing.T) {
	budgets := []int{256, 1000, 2000, 8000, 25000}
	for _, views := range allViews {
		e := viewsEnv(t, views, nil)
		for _, q := range emulator.DemoQueries {
			for _, budget := range budgets {
				t.Run(fmt.Sprintf("%s/%d/%d", views, q.ID, budget), func(t *testing.T) {
					args := map[string]any{"query_id": q.ID, "max_tokens": budget}
					if q.ID == emulator.DemoPartial {
						args["allow_partial_results"] = true
					}
					r := e.call(t, schemas.GetLatestResult, args)
					if r.IsError {
						if n := summary.CountTokens(r.Text); n > budget {
							t.Fatalf("error text is %d tokens, budget %d", n, budget)
						}
						return // an execution without rows (failed, cancelled, ...): explained
					}
					checkBudget(t, r, budget)
					for _, v := range visible(r, views) {
						if quarter := (utf8.RuneCountInString(v) + 3) / 4; quarter > budget {
							t.Errorf("forwarded view is %d characters / 4 = %d, budget %d", utf8.RuneCountInString(v), quarter, budget)
						}
					}
					if r.S.HasMore != (r.S.NextCursor != "") {
						t.Errorf("has_more %v, cursor %q", r.S.HasMore, r.S.NextCursor)
					}
					for i, v := range visible(r, views) {
						// Under both, a compact structuredContent (small
						// budgets) leaves the call's name to the text and to
						// next_cursor's description in the output schema.
						needCall := views != ViewsBoth || i == 0 || budget >= 1500
						if r.S.NextCursor != "" && (!strings.Contains(v, r.S.NextCursor) || needCall && !strings.Contains(v, "next_page")) {
							t.Errorf("a forwarded view lacks the cursor or the call to make:\n%.600s", v)
						}
					}
				})
			}
		}
	}
}

// TestEveryShownRowOnceInTheVisibleView is the property: each row a page
// returns appears exactly once in each part a client forwards, and rows not
// returned do not appear; the part a client does not forward carries none.
// Rows are told apart by their tx_hash, read from the dataset itself.
func TestEveryShownRowOnceInTheVisibleView(t *testing.T) {
	ds := emulator.DEXTrades(100000, 1001) // the demo's DEX trades
	const txHash = 20
	for _, views := range allViews {
		e := viewsEnv(t, views, nil)
		for _, budget := range []int{1000, 2000, 8000, 25000} {
			t.Run(fmt.Sprintf("%s/%d", views, budget), func(t *testing.T) {
				r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": emulator.DemoDEXTrades, "max_tokens": budget})
				r2 := e.call(t, schemas.NextPage, map[string]any{"cursor": r.S.NextCursor})
				for _, page := range []result{r, r2} {
					n := page.S.ReturnedRows
					if page.IsError || n == 0 {
						t.Fatalf("no rows: %s", page.Text)
					}
					fwd := visible(page, views)
					hidden := ""
					switch views {
					case ViewsStructured:
						hidden = page.Text
					case ViewsText:
						hidden = string(page.S.raw)
					}
					for i := page.S.Offset - 1; i <= page.S.Offset+n; i++ {
						if i < 0 {
							continue
						}
						h := ds.Row(i)[txHash].(string)
						want := 0
						if i >= page.S.Offset && i < page.S.Offset+n {
							want = 1
						}
						for _, v := range fwd {
							if got := strings.Count(v, h); got != want {
								t.Fatalf("row %d appears %d times in a forwarded view, want %d", i, got, want)
							}
						}
						if strings.Contains(hidden, h) {
							t.Fatalf("row %d is in the part a %s client does not forward", i, views)
						}
					}
				}
			})
		}
	}
}

// TestDensityAtLeastCSV: the part a client forwards shows at least as many
// rows per token as plain CSV of the same rows (csvOf: every column, values
// as Dune wrote them), and at least 27 DEX rows at 8,000 and 5 at 2,000, at
// every budget from 2,000 to 25,000 (every 500), for DEX trades, the wide
// table (where a row or two fit: the terse layout then) and the daily
// series: the text (text views) and structuredContent (structured views:
// its table).
//
// Under both, structuredContent keeps every column and its rows as JSON
// values (the client, and whoever reads it, are unknown) and holds both
// parts to the rows it fits: neither part is checked (at 2,000 it holds the
// DEX text to 5 rows, which save less than the text's essentials cost; its
// 300 column objects alone cost more than plain CSV's header and one row).
func TestDensityAtLeastCSV(t *testing.T) {
	sets := []struct {
		id int64
		ds *emulator.Dataset
	}{{emulator.DemoDEXTrades, emulator.DEXTrades(100000, 1001)}, {emulator.DemoWide, emulator.Wide(2000, 300, 1002)},
		{emulator.DemoDailySeries, emulator.DailySeries(1096, 1004)}}
	var budgets []int
	for b := 2000; b <= 25000; b += 500 {
		budgets = append(budgets, b)
	}
	for _, views := range allViews {
		e := viewsEnv(t, views, nil)
		for _, set := range sets {
			for _, budget := range budgets {
				t.Run(fmt.Sprintf("%s/%d/%d", views, set.id, budget), func(t *testing.T) {
					r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": set.id, "max_tokens": budget})
					n := r.S.ReturnedRows
					if set.id == emulator.DemoDEXTrades && views != ViewsBoth {
						if want := map[int]int{2000: 5, 8000: 27}[budget]; n < want {
							t.Errorf("%d rows at %d tokens, want ≥ %d", n, budget, want)
						}
					}
					if n == 0 {
						return // wide rows at 2,000: plain CSV fits none either
					}
					shown := make([]dune.Row, n)
					for i := range shown {
						shown[i] = set.ds.Row(i)
					}
					csvTok := summary.CountTokens(csvOf(t, set.ds.Columns, shown))
					vis := summary.CountTokens(visible(r, views)[0]) // the text, or (structured) the JSON
					check := views != ViewsBoth
					if check && vis > csvTok {
						t.Errorf("%d rows cost %d visible tokens, plain CSV of them %d", n, vis, csvTok)
					}
				})
			}
		}
	}
}

// TestAutoViewsFollowClientInfo: with --result-views auto, Claude Code
// (structured-only) gets the rows in structuredContent and a short text,
// in the initialize era and in the per-request _meta era; an unknown
// client gets both.
func TestAutoViewsFollowClientInfo(t *testing.T) {
	for _, c := range []struct {
		name, version string
		rowsInText    bool
	}{
		{"claude-code", mcp.ProtocolVersion20250618, false},
		{"claude-code", mcp.LATEST_PROTOCOL_VERSION, false},
		{"some-new-client", mcp.ProtocolVersion20250618, true},
		{"", mcp.LATEST_PROTOCOL_VERSION, true},
	} {
		t.Run(c.name+"/"+c.version, func(t *testing.T) {
			emu := emulator.NewServer(emulator.WithDemoData())
			t.Cleanup(emu.Close)
			ts, err := New(Config{Fetcher: dune.NewClient(dune.Config{BaseURL: emu.URL, APIKey: emulator.DefaultAPIKey}),
				CursorSecret: []byte("views"), Logger: zerolog.Nop()})
			if err != nil {
				t.Fatal(err)
			}
			srv := server.NewMCPServer("dune-mcp", "test", server.WithToolCapabilities(false), server.WithOutputSchemaValidation())
			srv.AddTools(ts.ServerTools()...)
			cli, err := client.NewInProcessClientWithOptions(srv, client.WithProtocolVersion(c.version))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = cli.Close() })
			ctx := context.Background()
			if err := cli.Start(ctx); err != nil {
				t.Fatal(err)
			}
			init := mcp.InitializeRequest{}
			init.Params.ProtocolVersion = c.version
			init.Params.ClientInfo = mcp.Implementation{Name: c.name, Version: "1"}
			if _, err := cli.Initialize(ctx, init); err != nil {
				t.Fatal(err)
			}
			req := mcp.CallToolRequest{}
			req.Params.Name = schemas.GetLatestResult
			req.Params.Arguments = map[string]any{"query_id": emulator.DemoDEXTrades, "max_tokens": 4000}
			res, err := cli.CallTool(ctx, req)
			if err != nil || res.IsError {
				t.Fatalf("call: %v %+v", err, res)
			}
			text := mcp.GetTextFromContent(res.Content[0])
			first := emulator.DEXTrades(100000, 1001).Row(0)[20].(string)
			if got := strings.Contains(text, first); got != c.rowsInText {
				t.Errorf("rows in the text: %v, want %v:\n%.500s", got, c.rowsInText, text)
			}
			if !strings.Contains(text, "next_cursor: ") {
				t.Errorf("the text lacks the cursor:\n%s", text)
			}
		})
	}
}

// TestSamePageAtAnyLaterTime: the same cursor read again hours and days
// later (the header's relative age grows longer), and after the page cache
// let its rows go, shows the same rows.
func TestSamePageAtAnyLaterTime(t *testing.T) {
	for _, views := range allViews {
		t.Run(views, func(t *testing.T) {
			clk := clock.NewJump(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
			emu := emulator.NewServer(emulator.WithClock(clk.Now))
			t.Cleanup(emu.Close)
			emu.AddExecution(7, emulator.Execution{Dataset: emulator.DEXTrades(5000, 7), EndedAt: clk.Now().Add(-20 * time.Second)})
			e := newEnvConfig(t, emu, emulator.DefaultAPIKey, func(c *Config) { c.Clock, c.ResultViews = clk, views })
			for _, budget := range []int{256, 1000, 2000, 8000} {
				first := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_tokens": budget})
				var rows []int
				for _, later := range []time.Duration{0, 50 * time.Minute, 3 * time.Hour, 9 * 24 * time.Hour, 80 * 24 * time.Hour} {
					clk.Advance(later)
					r := e.call(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
					if r.IsError {
						t.Fatalf("after %s: %s", later, r.Text)
					}
					rows = append(rows, r.S.ReturnedRows)
				}
				// Later still the page cache has let the rows go: the page
				// is fetched again, and still shows the same rows.
				e.ts.cache = newPages(0, nil)
				before := e.emu.Stats().Requests
				r := e.call(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
				if e.emu.Stats().Requests == before {
					t.Fatal("the page was not fetched again")
				}
				rows = append(rows, r.S.ReturnedRows)
				for _, n := range rows[1:] {
					if n != rows[0] {
						t.Errorf("budget %d: rows per page %v as time passes", budget, rows)
						break
					}
				}
			}
		})
	}
}

// TestViewsFor: --result-views overrides the client; with auto, each
// client of the table is recognised by the names it sends (any case), a
// client not in it, or one that sends no name, gets both.
func TestViewsFor(t *testing.T) {
	cases := []struct {
		setting, name string
		want          summary.Views
	}{
		{ViewsAuto, "claude-code", summary.ViewsStructured},
		{ViewsAuto, "Claude-Code", summary.ViewsStructured},
		{ViewsAuto, "github-copilot-cli", summary.ViewsStructured},
		{ViewsAuto, "codex-mcp-client", summary.ViewsStructured},
		{ViewsAuto, "kimi-code", summary.ViewsText},
		{ViewsAuto, "Visual Studio Code", summary.ViewsBoth},
		{ViewsAuto, "cursor-vscode", summary.ViewsBoth},
		{ViewsAuto, "some-new-client", summary.ViewsBoth},
		{ViewsAuto, "", summary.ViewsBoth},
		{ViewsText, "claude-code", summary.ViewsText},
		{ViewsBoth, "claude-code", summary.ViewsBoth},
		{ViewsStructured, "", summary.ViewsStructured},
	}
	for _, c := range cases {
		if got := viewsFor(c.setting, c.name); got != c.want {
			t.Errorf("viewsFor(%q, %q) = %s, want %s", c.setting, c.name, got, c.want)
		}
	}
	for _, cv := range clientViews {
		if cv.source == "" || len(cv.names) == 0 {
			t.Errorf("%s: no source or no names", cv.client)
		}
	}
	if _, err := parseViews("json"); err == nil {
		t.Error("parseViews accepted json")
	}
}
