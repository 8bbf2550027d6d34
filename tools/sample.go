package tools

import (
	"context"
	"fmt"

	"github.com/dune-mcp/dune-mcp/schemas"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// sampleResult serves sample_result: Dune's uniform sampling of the latest
// result. Samples are random, so they get no cursor and are not cached.
func (t *Toolset) sampleResult(ctx context.Context, c *call, p schemas.SampleResultParams) (*summary.Output, report, error) {
	rep := report{ids: ids{queryID: int64(p.QueryID)}}
	opts := p.Options()
	est := t.shapes.estimate(queryKey(rep.queryID, opts.QueryParameters), opts.Columns)
	if _, err := t.admit(c, max(opts.SampleCount, 1), est.ncols, true); err != nil {
		return nil, rep, err
	}
	res, err := t.fetchLatest(ctx, c, rep.queryID, opts)
	if res != nil {
		rep.executionID = res.ExecutionID
	}
	if err != nil {
		return nil, rep, err
	}
	notes := []string{fmt.Sprintf("Random sample (sample_count %d, %d rows drawn of %d). Samples have no cursor: call sample_result again for another, or get_latest_result to page in order.", p.SampleCount, len(res.Rows), res.Metadata.TotalRowCount)}
	return t.present(ctx, c, rep, pageReq{
		view:   newView(res.ExecutionID, opts, t.codec.callerFP(ctx)),
		ch:     chunkOf(res, 0),
		budget: budgetFor(p.MaxTokens, t.budget),
		sample: max(p.SampleCount, 1),
		notes:  notes,
	})
}
