package tools

import (
	"context"

	"github.com/mark3labs/mcp-go/mcp"

	"dune-mcp/schemas"
	"dune-mcp/tools/summary"
)

func (t *Toolset) latestTool() mcp.Tool {
	return t.newTool(schemas.GetLatestResult, "Get latest Dune query result",
		"Latest completed result of a saved Dune query (does not run it): schema, counts, column stats and the rows that fit max_tokens, plus next_cursor for next_page.")
}

// getLatestResult serves get_latest_result: one page of the query's latest
// execution, sized from the budget unless limit is given.
func (t *Toolset) getLatestResult(ctx context.Context, c *call, raw []byte) (*summary.Output, error) {
	var p schemas.GetLatestResultParams
	if err := schemas.Decode(schemas.GetLatestResult, raw, &p); err != nil {
		return nil, err
	}
	c.queryID = int64(p.QueryID)
	budget := budgetFor(p.MaxTokens, t.budget)
	explicit := p.Limit > 0
	fetch := p.Limit
	qk := queryKey(c.queryID, p.QueryParameters)
	if !explicit {
		fetch = probeSize(budget, t.shapes.estimate(qk, p.Columns))
	}
	v := view{Columns: p.Columns, Filters: p.Filters, SortBy: p.SortBy, Partial: p.AllowPartialResults, KeyFP: t.codec.callerFP(ctx)}
	opts := v.options(p.Offset, fetch)
	opts.QueryParameters = p.QueryParameters

	res, err := t.fetchLatest(ctx, c, c.queryID, opts)
	if err != nil {
		return nil, err
	}
	if te := checkState(res); te != nil {
		return nil, te
	}
	v.ExecutionID = res.ExecutionID
	out, err := t.present(ctx, c, pageReq{
		view:     v,
		ch:       chunkOf(res, p.Offset),
		budget:   budget,
		explicit: explicit,
		limit:    p.Limit,
		topUp:    !explicit,
		notes:    fetchNotes(res, p.Offset, fetch, explicit),
	})
	if err == nil {
		t.shapes.record(qk, p.Columns, res.Columns, out.RowTokens)
	}
	return out, err
}
