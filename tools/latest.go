package tools

import (
	"context"

	"dune-mcp/schemas"
	"dune-mcp/tools/summary"
)

// getLatestResult serves get_latest_result: one page of the query's latest
// execution, sized from the budget unless limit is given.
func (t *Toolset) getLatestResult(ctx context.Context, c *call, p schemas.GetLatestResultParams) (*summary.Output, report, error) {
	rep := report{ids: ids{queryID: int64(p.QueryID)}}
	budget := budgetFor(p.MaxTokens, t.budget)
	opts := p.Options()
	explicit := opts.Limit > 0
	qk := queryKey(rep.queryID, opts.QueryParameters)
	if !explicit {
		opts.Limit = probeSize(budget, t.shapes.estimate(qk, opts.Columns))
	}
	res, err := t.fetchLatest(ctx, c, rep.queryID, opts)
	if res != nil {
		rep.executionID = res.ExecutionID
	}
	if err != nil {
		return nil, rep, err
	}
	out, rep, err := t.present(ctx, c, rep, pageReq{
		view:     newView(res.ExecutionID, opts, t.codec.callerFP(ctx)),
		ch:       chunkOf(res, opts.Offset),
		budget:   budget,
		explicit: explicit,
		limit:    p.Limit,
		topUp:    !explicit,
		notes:    fetchNotes(res, opts.Offset, opts.Limit, explicit),
	})
	if err == nil {
		t.shapes.record(qk, opts.Columns, res.Columns, out.RowTokens)
	}
	return out, rep, err
}
