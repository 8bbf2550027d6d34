package tools

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/metrics"
	"github.com/dune-mcp/dune-mcp/schemas"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// nextPage serves next_page: the rows after the last shown one, from the
// page cache when it holds them, else from the execution endpoint.
func (t *Toolset) nextPage(ctx context.Context, c *call, p schemas.NextPageParams) (*summary.Output, report, error) {
	// The cursor verifies only with the fingerprint of the key it was
	// issued for: another caller's cursor is refused before any cache
	// lookup or upstream request.
	cur, err := t.codec.Decode(p.Cursor, t.codec.callerFP(ctx))
	if err != nil {
		return nil, report{}, newToolError("invalid_cursor", "%s", err)
	}
	rep := report{ids: ids{queryID: cur.QueryID, executionID: cur.ExecutionID}}

	budget := t.budget
	if cur.Budget > 0 {
		budget = schemas.ClampMaxTokens(cur.Budget)
	}
	budget = budgetFor(p.MaxTokens, budget)
	if cur.Waiting {
		// The execution was still running: wait again, then show its first page.
		q := pageQuery{
			queryID:       cur.QueryID,
			executionID:   cur.ExecutionID,
			opts:          cur.view.options(cur.Offset, 0),
			explicitLimit: max(p.Limit, cur.explicitLimit()),
			budget:        budget,
			caller:        cur.KeyFP,
			fresh:         freshness{executed: cur.Executed},
		}
		return t.await(ctx, c, rep, q, cur.ExecutionID)
	}

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

	pr := pageReq{view: cur.view, budget: budget, explicit: explicit, limit: need, topUp: !explicit}
	if explicit {
		pr.show = need
	}

	// An explicit limit defines the agent's page: rows of it that were
	// fetched but not yet shown are served as they are, never topped up
	// upstream (the next call fetches the next page).
	cached, tier := t.cache.collect(cur.view, cur.Offset, need)
	c.cacheTier = tier
	if cached != nil {
		t.cfg.Metrics.CacheHit(tier) // the tiers are the metric's layers
	} else {
		t.cfg.Metrics.CacheMiss(metrics.LayerLocal)
	}
	if cached != nil && (len(cached.Rows) >= need || cached.atEnd() || explicit && p.Limit == 0) {
		pr.ch, pr.fromCache, pr.topUp = cached, true, false
		return t.present(ctx, c, rep, pr)
	}

	// Fetch what the cache lacks: the rest of an explicit page, or a few
	// pages' worth when walking with budget-sized pages.
	want := need
	if !explicit {
		want = walkFactor * need
	}
	have := lenRows(cached)
	from := cur.Offset + have
	if have > 0 {
		c.logToClient(ctx, mcp.LoggingLevelInfo, fmt.Sprintf("reused %d rows from the page cache; fetching the rest from Dune", have),
			rep.with(map[string]any{"rows": have, "from_cache": true}))
	}
	asked, err := t.admit(c, min(max(want-have, 1), maxFetch), cur.Width, p.Limit > 0)
	if err != nil {
		return nil, rep, err
	}
	res, err := t.fetchRows(ctx, c, cur.QueryID, cur.view, from, asked)
	if err != nil {
		return nil, rep, err
	}
	var cachedCols []dune.Column
	if have > 0 {
		cachedCols = cached.head.Columns
	}
	if err := checkMergeable(res, cachedCols, cur.Width, "execution "+cur.ExecutionID); err != nil {
		return nil, rep, err
	}
	pr.ch = chunkOf(res, cur.Offset)
	if have > 0 {
		pr.ch.Rows = append(append(make([]dune.Row, 0, have+len(res.Rows)), cached.Rows...), res.Rows...)
	}
	pr.notes = fetchNotes(res, from, want-have, explicit)
	return t.present(ctx, c, rep, pr)
}
