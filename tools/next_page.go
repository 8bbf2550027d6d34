package tools

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"dune-mcp/dune"
	"dune-mcp/schemas"
	"dune-mcp/tools/summary"
)

func (t *Toolset) nextPageTool() mcp.Tool {
	return t.newTool(schemas.NextPage, "Next page of a Dune result",
		"Continue after the last row shown, from the same execution with the same columns, filters and sort, even if the query was re-run since.")
}

// nextPage serves next_page: the rows after the last shown one, from the
// page cache when it holds them, else from the execution endpoint.
func (t *Toolset) nextPage(ctx context.Context, c *call, raw []byte) (*summary.Output, error) {
	var p schemas.NextPageParams
	if err := schemas.Decode(schemas.NextPage, raw, &p); err != nil {
		return nil, err
	}
	// The cursor verifies only with the fingerprint of the key it was
	// issued for: another caller's cursor is refused before any cache
	// lookup or upstream request.
	cur, err := t.codec.Decode(p.Cursor, t.codec.callerFP(ctx))
	if err != nil {
		return nil, newToolError("invalid_cursor", "%s", err)
	}
	c.queryID, c.executionID = cur.QueryID, cur.ExecutionID

	budget := t.budget
	if cur.Budget > 0 {
		budget = clampBudget(cur.Budget)
	}
	budget = budgetFor(p.MaxTokens, budget)

	explicit := p.Limit > 0 || cur.Explicit
	need := p.Limit
	switch {
	case p.Limit > 0:
	case cur.Explicit:
		need = cur.PageSize
	default:
		// Rows that fit scale with the budget.
		need = cur.PageSize
		if cur.Budget > 0 && budget != cur.Budget {
			need = cur.PageSize * budget / cur.Budget
		}
	}
	need = max(need, 1)

	v := view{ExecutionID: cur.ExecutionID, Columns: cur.Columns, Filters: cur.Filters, SortBy: cur.SortBy, Partial: cur.Partial, KeyFP: cur.KeyFP}
	pr := pageReq{view: v, budget: budget, explicit: explicit, limit: need, topUp: !explicit}
	if explicit {
		pr.show = need
	}

	// Collect cached rows from the cursor's offset on, segment after segment.
	var (
		have   []dune.Row
		meta   *chunk
		atEnd  bool
		copied bool
	)
	for len(have) < need && !atEnd {
		seg, ok := t.cache.get(v, cur.Offset+len(have))
		if !ok {
			break
		}
		if meta == nil {
			meta, have = seg, seg.Rows
		} else {
			if !copied {
				have, copied = append(make([]dune.Row, 0, len(have)+len(seg.Rows)), have...), true
			}
			have = append(have, seg.Rows...)
		}
		atEnd = seg.Start+len(seg.Rows) >= seg.Total
	}
	// An explicit limit defines the agent's page: rows of it that were
	// fetched but not yet shown are served as they are, never topped up
	// upstream (the next call fetches the next page).
	if meta != nil && (len(have) >= need || atEnd || explicit && p.Limit == 0) {
		ch := *meta
		ch.Start, ch.Rows = cur.Offset, have
		pr.ch, pr.fromCache, pr.topUp = &ch, true, false
		return t.present(ctx, c, pr)
	}

	// Fetch what the cache lacks: the rest of an explicit page, or a few
	// pages' worth when walking with budget-sized pages.
	want := need
	if !explicit {
		want = walkFactor * need
	}
	from := cur.Offset + len(have)
	if len(have) > 0 {
		c.logToClient(ctx, mcp.LoggingLevelInfo, fmt.Sprintf("reused %d rows from the page cache; fetching the rest from Dune", len(have)),
			map[string]any{"rows": len(have), "from_cache": true})
	}
	res, err := t.fetchExecution(ctx, c, cur.ExecutionID, v.options(from, min(max(want-len(have), 1), maxFetch)))
	if err != nil {
		return nil, err
	}
	if te := checkState(res); te != nil {
		return nil, te
	}
	ch := chunkOf(res, cur.Offset)
	if len(have) > 0 {
		ch.Rows = append(append(make([]dune.Row, 0, len(have)+len(res.Rows)), have...), res.Rows...)
	}
	pr.ch = ch
	pr.notes = fetchNotes(res, from, want-len(have), explicit)
	return t.present(ctx, c, pr)
}
