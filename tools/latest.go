package tools

import (
	"context"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/schemas"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// pageQuery is a first page to read: of the query's latest result, or of
// one execution of it, with the options, budget and freshness of the call.
type pageQuery struct {
	queryID int64
	// executionID pins the page to one execution; "" reads the latest.
	executionID string
	opts        dune.Options
	// explicitLimit is the caller's limit (0: sized from the budget).
	explicitLimit int
	budget        int
	caller        keyFP
	fresh         freshness
}

// view is the row sequence q reads.
func (q pageQuery) view() view { return newView(q.executionID, q.opts, q.caller) }

// getLatestResult serves get_latest_result: one page of the query's latest
// execution, sized from the budget unless limit is given; with
// max_age_hours, of a fresh one (refresh.go).
func (t *Toolset) getLatestResult(ctx context.Context, c *call, p schemas.GetLatestResultParams) (*summary.Output, report, error) {
	rep := report{ids: ids{queryID: int64(p.QueryID)}}
	q := pageQuery{
		queryID:       rep.queryID,
		opts:          p.Options(),
		explicitLimit: p.Limit,
		budget:        budgetFor(p.MaxTokens, t.budget),
		caller:        t.codec.callerFP(ctx),
	}
	if p.MaxAgeHours != nil {
		return t.refresh(ctx, c, rep, p, q)
	}
	return t.firstPage(ctx, c, rep, q)
}

// firstPage reads and presents the first page of q: one request sized from
// the budget (what the query's rows cost is remembered per query), topped up
// when the rows turned out cheaper than expected.
func (t *Toolset) firstPage(ctx context.Context, c *call, rep report, q pageQuery) (*summary.Output, report, error) {
	opts := q.opts
	explicit := q.explicitLimit > 0
	qk := queryKey(q.queryID, opts.QueryParameters)
	est := t.shapes.estimate(qk, opts.Columns)
	opts.Limit = q.explicitLimit
	if !explicit {
		opts.Limit = probeSize(q.budget, est)
	}
	limit, err := t.admit(c, opts.Limit, est.ncols, explicit)
	if err != nil {
		return nil, rep, err
	}
	opts.Limit = limit
	var res *dune.Result
	var early *earlyDraft
	if q.executionID == "" {
		var fctx context.Context
		fctx, early = t.earlyFetch(ctx, c, q, opts, probeSize(q.budget, est))
		res, err = t.fetchLatest(fctx, c, q.queryID, opts)
	} else {
		res, err = t.fetchRows(ctx, c, q.queryID, q.view(), opts.Offset, opts.Limit)
	}
	if res != nil {
		rep.executionID = res.ExecutionID
	}
	if err != nil {
		return nil, rep, err
	}
	out, rep, err := t.present(ctx, c, rep, pageReq{
		view:     newView(res.ExecutionID, opts, q.caller),
		ch:       chunkOf(res, opts.Offset),
		budget:   q.budget,
		explicit: explicit,
		limit:    q.explicitLimit,
		topUp:    !explicit,
		notes:    fetchNotes(res, opts.Offset, opts.Limit, explicit),
		fresh:    q.fresh,
		early:    early,
	})
	if err == nil {
		t.shapes.record(qk, opts.Columns, res.Columns, out.RowTokens)
		if q.executionID == "" {
			t.heads.put(headKey(q.queryID, opts), res)
		}
	}
	return out, rep, err
}
