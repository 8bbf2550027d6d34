package tools

import (
	"context"
	"fmt"
	"math"

	"github.com/mark3labs/mcp-go/mcp"

	"dune-mcp/dune"
	"dune-mcp/tools/summary"
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
	// topUp allows one more fetch when every row fit and budget is left.
	topUp bool
	// fromCache: the rows were served from the page cache (no fetch).
	fromCache bool
	// sample is the sample_count of a sample_result page (no cursor, no cache).
	sample int
	notes  []string
}

// present renders a page within its budget, tops it up when it is far from
// full, caches what was fetched but not shown, and records the call's figures.
func (t *Toolset) present(ctx context.Context, c *call, pr pageReq) (*summary.Output, error) {
	rows := pr.ch.Rows
	if pr.show > 0 && len(rows) > pr.show {
		rows = rows[:pr.show]
	}
	out, err := t.render(c, pr, rows, rows)
	if err != nil {
		return nil, err
	}
	if pr.topUp && len(rows) > 0 && out.ShownRows == len(rows) && pr.ch.Start+len(rows) < pr.ch.Total {
		if merged := t.topUp(ctx, c, pr, rows, out); merged != nil {
			pr.ch, rows, pr.fromCache = merged, merged.Rows, false
			if out, err = t.render(c, pr, rows, rows); err != nil {
				return nil, err
			}
		}
	}
	if out.ShownRows == 0 && len(rows) > 0 {
		pr.notes = append(pr.notes, fmt.Sprintf("max_tokens %d is too small to show one row of these %d columns: call next_page with a larger max_tokens, or get_latest_result with fewer columns.", pr.budget, len(pr.ch.Columns)))
		if out, err = t.render(c, pr, rows, rows); err != nil {
			return nil, err
		}
	}
	if pr.sample == 0 {
		t.store(pr.view, pr.ch, out.ShownRows)
	}
	if pr.fromCache {
		c.logToClient(ctx, mcp.LoggingLevelInfo, fmt.Sprintf("served %d rows from the page cache (no Dune request)", out.ShownRows),
			map[string]any{"rows": out.ShownRows, "from_cache": true})
	}
	if pr.ch.State == dune.StateCompletedPartial {
		c.logToClient(ctx, mcp.LoggingLevelWarning, "partial result: Dune truncated this result for size; rows past the cut are missing",
			map[string]any{"state": string(pr.ch.State)})
	}
	c.rowsShown = out.ShownRows
	c.fromCache = pr.fromCache
	c.out = &out
	return &out, nil
}

// store caches the rows of a page as two disjoint segments: the rows shown
// (for a re-read of the same page) and the rows after them (where the
// page's cursor continues). Every row is weighed once.
func (t *Toolset) store(v view, ch *chunk, shown int) {
	start, end := ch.Start, ch.Start+len(ch.Rows)
	if shown <= 0 || shown >= len(ch.Rows) {
		t.cache.put(v, ch)
		return
	}
	t.cache.put(v, ch.slice(start, start+shown))
	t.cache.put(v, ch.slice(start+shown, end))
}

// render summarises rows within pr.budget, with statistics over statsRows.
func (t *Toolset) render(c *call, pr pageReq, rows, statsRows []dune.Row) (summary.Output, error) {
	ch := pr.ch
	notes := append([]string(nil), pr.notes...)
	if ch.State == dune.StateCompletedPartial {
		notes = append(notes, "Partial result: Dune truncated this result for size, so rows past the cut are missing and total_row_count covers only what Dune kept.")
	}
	page := summary.Page{
		Tool:          c.tool,
		QueryID:       ch.QueryID,
		ExecutionID:   ch.ExecutionID,
		State:         ch.State,
		SubmittedAt:   ch.SubmittedAt,
		EndedAt:       ch.EndedAt,
		Demo:          t.cfg.Demo,
		Columns:       ch.Columns,
		Rows:          rows,
		Offset:        ch.Start,
		TotalRowCount: ch.Total,
		StatsRows:     statsRows,
		Datapoints:    int(c.usage.Datapoints.Load()),
		FromCache:     pr.fromCache,
		SampleCount:   pr.sample,
		Filters:       pr.view.Filters,
		SortBy:        pr.view.SortBy,
		Notes:         notes,
	}
	out, err := summary.Summarize(page, pr.budget, t.cursorFunc(pr))
	if err != nil {
		return summary.Output{}, newToolError("internal", "Rendering the result failed: %s", err)
	}
	return out, nil
}

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
			ExecutionID: ch.ExecutionID,
			QueryID:     ch.QueryID,
			Offset:      next,
			PageSize:    max(size, 1),
			Explicit:    pr.explicit,
			Budget:      pr.budget,
			Columns:     pr.view.Columns,
			Filters:     pr.view.Filters,
			SortBy:      pr.view.SortBy,
			Partial:     pr.view.Partial,
			KeyFP:       pr.view.KeyFP,
		})
	}
}

// topUp fetches the rows that should still fit the budget after a page
// where every row fit, and returns the extended chunk (nil when not worth
// it or when the fetch failed: the page at hand is still a good answer).
// The rows' measured cost sizes the fetch.
func (t *Toolset) topUp(ctx context.Context, c *call, pr pageReq, rows []dune.Row, out summary.Output) *chunk {
	fits := rowsThatFit(pr.budget, max(out.RowTokens, 1), len(pr.ch.Columns))
	extra := int(math.Ceil(fits*1.1)) - len(rows)
	end := pr.ch.Start + len(rows)
	extra = min(extra, pr.ch.Total-end, maxFetch)
	if extra < max(2, out.ShownRows/5) {
		return nil
	}
	res, err := t.fetchExecution(ctx, c, pr.ch.ExecutionID, pr.view.options(end, extra))
	if err != nil || checkState(res) != nil || len(res.Rows) == 0 {
		t.cfg.Logger.Debug().Err(err).Str("tool", c.tool).Msg("top-up fetch skipped")
		return nil
	}
	merged := *pr.ch
	merged.Rows = make([]dune.Row, 0, len(rows)+len(res.Rows))
	merged.Rows = append(append(merged.Rows, rows...), res.Rows...)
	merged.Total = res.Metadata.TotalRowCount
	return &merged
}

// options are the Dune options that fetch rows [offset, offset+limit) of v.
func (v view) options(offset, limit int) dune.Options {
	var o dune.Options
	o.Offset, o.Limit = offset, limit
	o.Columns = v.Columns
	o.Filters = v.Filters
	o.SortBy = v.SortBy
	o.AllowPartialResults = v.Partial
	return o
}

// chunkOf wraps a fetched result as a chunk starting at row start.
func chunkOf(res *dune.Result, start int) *chunk {
	return &chunk{
		QueryID:     res.QueryID,
		ExecutionID: res.ExecutionID,
		State:       res.State,
		SubmittedAt: res.SubmittedAt,
		EndedAt:     res.ExecutionEndedAt,
		Columns:     res.Columns,
		Total:       res.Metadata.TotalRowCount,
		Start:       start,
		Rows:        res.Rows,
	}
}

// fetchNotes explains a fetched page: Dune's cap on limit, an offset past
// the end.
func fetchNotes(res *dune.Result, offset, asked int, explicit bool) []string {
	var notes []string
	total := res.Metadata.TotalRowCount
	switch {
	case len(res.Rows) == 0 && offset > 0 && offset >= total:
		notes = append(notes, fmt.Sprintf("offset %d is beyond the last row: the result has %d rows (offsets 0-%d).", offset, total, max(total-1, 0)))
	case explicit && len(res.Rows) < asked && res.NextOffset != nil:
		notes = append(notes, fmt.Sprintf("Dune capped limit %d at %d rows; next_page continues after them.", asked, len(res.Rows)))
	}
	return notes
}
