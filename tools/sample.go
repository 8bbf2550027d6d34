package tools

import (
	"context"
	"fmt"

	"github.com/mark3labs/mcp-go/mcp"

	"dune-mcp/schemas"
	"dune-mcp/tools/summary"
)

func (t *Toolset) sampleTool() mcp.Tool {
	return t.newTool(schemas.SampleResult, "Sample a Dune query result",
		"Uniform random sample of a saved query's latest result, with column stats: profile a big result before paging it. No cursor.")
}

// sampleResult serves sample_result: Dune's uniform sampling of the latest
// result. Samples are random, so they get no cursor and are not cached.
func (t *Toolset) sampleResult(ctx context.Context, c *call, raw []byte) (*summary.Output, error) {
	var p schemas.SampleResultParams
	if err := schemas.Decode(schemas.SampleResult, raw, &p); err != nil {
		return nil, err
	}
	c.queryID = int64(p.QueryID)
	budget := budgetFor(p.MaxTokens, t.budget)

	res, err := t.fetchLatest(ctx, c, c.queryID, p.Options())
	if err != nil {
		return nil, err
	}
	if te := checkState(res); te != nil {
		return nil, te
	}
	notes := []string{fmt.Sprintf("Random sample (sample_count %d, %d rows drawn of %d). Samples have no cursor: call sample_result again for another, or get_latest_result to page in order.", p.SampleCount, len(res.Rows), res.Metadata.TotalRowCount)}
	return t.present(ctx, c, pageReq{
		view:   view{ExecutionID: res.ExecutionID, Columns: p.Columns, SortBy: p.SortBy, KeyFP: t.codec.callerFP(ctx)},
		ch:     chunkOf(res, 0),
		budget: budget,
		sample: max(p.SampleCount, 1),
		notes:  notes,
	})
}
