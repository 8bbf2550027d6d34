package tools

import (
	"context"
	"fmt"
	"math"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// pageReq is a page ready to render: the rows available from ch.Start on.
type pageReq struct {
	view view
	ch   *chunk
	// show caps the rows offered to the summariser (an explicit limit); 0: all of ch.
	show   int
	budget int
	// explicit: the page size is the caller's limit (kept in the cursor).
	explicit bool
	limit    int
	// topUp allows one more fetch when every row fits and budget is left.
	topUp bool
	// fromCache: the rows were served from the page cache (no fetch).
	fromCache bool
	// sample is the sample_count of a sample_result page (no cursor, no cache).
	sample int
	notes  []string
	// fresh says whether the call ran the query for this page.
	fresh freshness
	// early is the draft started on the page's first rows during its
	// fetch (early.go); nil: none.
	early *earlyDraft
}

// present turns a page into the call's output. Data goes down and comes
// back once: the summariser measures the rows and plans the layout; when
// every row fits and the budget has room for more, the missing rows are
// fetched (one request) and added to the draft; then the page is rendered
// once. Rows fetched but not shown are cached for next_page. rep is the
// call's report so far; present completes it.
func (t *Toolset) present(ctx context.Context, c *call, rep report, pr pageReq) (*summary.Output, report, error) {
	rep.executionID, rep.fromCache = pr.ch.head.ExecutionID, pr.fromCache
	rows := pr.ch.Rows
	if pr.show > 0 && len(rows) > pr.show {
		rows = rows[:pr.show]
	}
	page := t.page(c, pr, rows)
	var out summary.Output
	ready, d := pr.early.use(page, rows)
	if ready != nil || d != nil {
		rep.earlyRows, rep.earlyReady = pr.early.rows, ready != nil
	}
	if ready != nil {
		out = *ready
	} else {
		var err error
		if out, err = t.render(ctx, c, &rep, &pr, page, rows, d); err != nil {
			return nil, rep, err
		}
	}
	switch ch, v, shown := pr.ch, pr.view, out.ShownRows; {
	case pr.sample > 0:
	case len(ch.Rows) >= storeAsideRows:
		// Weighed and stored once the answer is out: the page cache's
		// lookups wait for it (pages.storeAside).
		t.cache.storeAside(ctx, v, ch, shown, func(r any) {
			t.cfg.Logger.Error().Str("panic", fmt.Sprint(r)).Msg("storing a page in the page cache panicked")
		})
	default:
		t.cache.store(v, ch, shown)
	}
	if rep.fromCache {
		c.logToClient(ctx, mcp.LoggingLevelInfo, fmt.Sprintf("served %d rows from the page cache (no Dune request)", out.ShownRows),
			rep.with(map[string]any{"rows": out.ShownRows, "from_cache": true}))
	}
	if pr.ch.head.State == dune.StateCompletedPartial {
		c.logToClient(ctx, mcp.LoggingLevelWarning, "partial result: Dune truncated this result for size; rows past the cut are missing",
			rep.with(map[string]any{"state": string(pr.ch.head.State)}))
	}
	rep.rowsShown = out.ShownRows
	return &out, rep, nil
}

// render summarises page (of rows): with d, the draft started during the
// fetch, when there is one, else afresh; topped up when pr allows it (pr.ch
// then holds the rows fetched since).
func (t *Toolset) render(ctx context.Context, c *call, rep *report, pr *pageReq, page summary.Page, rows []dune.Row, d *summary.Draft) (summary.Output, error) {
	failed := func(err error) (summary.Output, error) {
		return summary.Output{}, newToolError("internal", "Rendering the result failed: %s", err)
	}
	if d == nil {
		var err error
		if d, err = summary.NewDraft(page, pr.budget); err != nil {
			return failed(err)
		}
	}
	if pr.topUp && len(rows) > 0 && pr.ch.Start+len(rows) < pr.ch.Total {
		if more := t.topUp(ctx, c, *pr, d, len(rows)); more != nil {
			if err := d.Extend(more.Rows, more.Metadata.TotalRowCount, int(c.usage.Datapoints.Load())); err != nil {
				return failed(err)
			}
			merged := *pr.ch
			merged.Rows = append(append(make([]dune.Row, 0, len(rows)+len(more.Rows)), rows...), more.Rows...)
			merged.Total = more.Metadata.TotalRowCount
			pr.ch, rep.fromCache = &merged, false
		}
	}
	out, err := d.Render(t.cursorFunc(*pr))
	if err != nil {
		return failed(err)
	}
	return out, nil
}

// page is what the summariser gets for rows of pr.
func (t *Toolset) page(c *call, pr pageReq, rows []dune.Row) summary.Page {
	ch := pr.ch
	notes := pr.notes
	if ch.head.State == dune.StateCompletedPartial {
		notes = append(notes[:len(notes):len(notes)], "Partial result: Dune truncated this result for size, so rows past the cut are missing and total_row_count covers only what Dune kept.")
	}
	return summary.Page{
		Tool:                 c.tool,
		QueryID:              ch.head.QueryID,
		ExecutionID:          ch.head.ExecutionID,
		State:                ch.head.State,
		SubmittedAt:          ch.head.SubmittedAt,
		EndedAt:              ch.head.ExecutionEndedAt,
		Demo:                 t.cfg.Demo,
		Columns:              ch.head.Columns,
		Rows:                 rows,
		Offset:               ch.Start,
		TotalRowCount:        ch.Total,
		StatsRows:            rows,
		Datapoints:           int(c.usage.Datapoints.Load()),
		FromCache:            pr.fromCache,
		SampleCount:          pr.sample,
		Filters:              pr.view.Filters,
		SortBy:               pr.view.SortBy,
		Notes:                notes,
		ExpiresAt:            ch.head.ExpiresAt,
		Executed:             pr.fresh.executed,
		ExecutionCostCredits: pr.fresh.credits,
		Budget:               t.budgetUse(c),
		Views:                c.views,
		ResultBytes:          ch.head.Metadata.TotalResultSetBytes,
		Now:                  t.clock.Now(),
	}
}

// storeAsideRows is the smallest page stored in the page cache after its
// answer is written (pages.storeAside): below it, storing costs too little
// to be worth setting aside (on a goroutine, where the transport does not
// say when the answer is written).
const storeAsideRows = 256

// cursorFunc returns the cursor maker of a page: after shown rows, continue
// at the next row, same view; none when nothing is left or for samples.
func (t *Toolset) cursorFunc(pr pageReq) summary.CursorFunc {
	ch := pr.ch
	return func(shown int) string {
		next := ch.Start + shown
		if pr.sample > 0 || next >= ch.Total {
			return ""
		}
		size := shown
		if pr.explicit {
			size = pr.limit
		}
		return t.codec.Encode(cursor{
			view:     pr.view,
			QueryID:  ch.head.QueryID,
			Offset:   next,
			PageSize: max(size, 1),
			Explicit: pr.explicit,
			Budget:   pr.budget,
			Width:    len(ch.head.Columns),
		})
	}
}

// topUp fetches the rows that should still fit the budget when the plan
// shows every row at hand, sized from the rows' measured cost. It returns
// nil when that is not worth a request or when the request failed: the page
// at hand is still a good answer.
func (t *Toolset) topUp(ctx context.Context, c *call, pr pageReq, d *summary.Draft, have int) *dune.Result {
	shown, rowTokens := d.Planned()
	if shown < have {
		return nil
	}
	fits := summary.RowsThatFit(pr.budget, max(rowTokens, 1), len(pr.ch.head.Columns))
	end := pr.ch.Start + have
	extra := min(int(math.Ceil(fits*1.1))-have, pr.ch.Total-end, maxFetch)
	if extra < max(2, shown/5) {
		return nil
	}
	n, err := t.admit(c, extra, len(pr.ch.head.Columns), false)
	if err != nil || n < max(2, shown/5) {
		return nil // the call's datapoint allowance does not stretch that far
	}
	extra = n
	res, err := t.fetchRows(ctx, c, pr.ch.head.QueryID, pr.view, end, extra)
	if err != nil || len(res.Rows) == 0 {
		t.cfg.Logger.Debug().Err(err).Str("tool", c.tool).Msg("top-up fetch skipped")
		return nil
	}
	return res
}

// chunkOf wraps a fetched result as a chunk starting at row start.
func chunkOf(res *dune.Result, start int) *chunk {
	head := *res
	head.Rows = nil
	return &chunk{head: &head, Total: res.Metadata.TotalRowCount, Start: start, Rows: res.Rows}
}

// fetchNotes explains a fetched page: Dune's cap on limit, an offset past
// the end.
func fetchNotes(res *dune.Result, offset, asked int, explicit bool) []string {
	total := res.Metadata.TotalRowCount
	switch {
	case len(res.Rows) == 0 && offset > 0 && offset >= total:
		return []string{fmt.Sprintf("offset %d is beyond the last row: the result has %d rows (offsets 0-%d).", offset, total, max(total-1, 0))}
	case explicit && len(res.Rows) < asked && res.NextOffset != nil:
		return []string{fmt.Sprintf("Dune capped limit %d at %d rows; next_page continues after them.", asked, len(res.Rows))}
	}
	return nil
}
