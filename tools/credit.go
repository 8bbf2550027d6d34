package tools

import (
	"fmt"

	"github.com/dune-mcp/dune-mcp/credits"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// DefaultMaxDatapointsPerCall is Config.MaxDatapointsPerCall's default. The
// largest page a budget can show, with next_page's read-ahead, stays well
// under it (25,000 tokens hold at most ~25,000 cells, and a walk reads three
// pages ahead), while a careless limit=100000 on a 22-column result (2.2 M
// datapoints, 2,200 credits on the Free plan) is refused before it is spent.
// Dune's legacy per-request guard was 250,000.
const DefaultMaxDatapointsPerCall = 100_000

// unknownWidth is the column count assumed for a result never seen before
// (the shape memo fills it in after the first page).
const unknownWidth = 25

// admit checks a read of rows × width datapoints against what the call may
// still spend: the per-call cap and the caller's budget. A read sized by the
// server is shrunk to fit; one the caller sized (explicit) is refused, with
// the cost and how to narrow it. It returns the rows that may be read.
func (t *Toolset) admit(c *call, rows, width int, explicit bool) (int, error) {
	if width <= 0 {
		width = unknownWidth
	}
	spent := c.usage.Datapoints.Load()
	room, why := t.maxPerCall-spent, fmt.Sprintf("the per-call cap of %d (--max-datapoints-per-call)", t.maxPerCall)
	if t.spend.Limited() {
		// Left already excludes this call's own reservations.
		if left := t.spend.Left(c.caller.String()); left < room {
			room, why = left, fmt.Sprintf("what is left of the datapoint budget (%d of %d, --datapoint-budget)", max(left, 0), t.spend.Limit())
		}
	}
	cost := credits.Estimate(rows, width)
	if cost <= room {
		return rows, t.reserve(c, cost)
	}
	fit := int(room / int64(width))
	if !explicit && fit >= 1 {
		return fit, t.reserve(c, credits.Estimate(fit, width))
	}
	if room <= 0 && t.spend.Limited() {
		return 0, newToolError("budget_exhausted", "This server's datapoint budget is spent: %d of %d datapoints used with this Dune key. Nothing was fetched. Ask the server's operator to raise --datapoint-budget, or restart it.", t.spend.Spent(c.caller.String())+spent, t.spend.Limit())
	}
	return 0, newToolError("over_datapoint_cap", "Not fetched: this read would cost about %d datapoints (%d rows × %d columns), over %s. Narrow it: fewer columns, filters, limit at most %d, or sample_result to profile.", cost, rows, width, why, max(fit, 0))
}

// reserve sets n datapoints of the caller's budget aside for this call (the
// adapter settles them when the call ends), so that concurrent calls cannot
// spend the same datapoints.
func (t *Toolset) reserve(c *call, n int64) error {
	if !t.spend.Limited() {
		return nil
	}
	if !t.spend.Reserve(c.caller.String(), n) {
		return newToolError("budget_exhausted", "Not fetched: this server's datapoint budget for this Dune key is taken (%d of %d spent, the rest reserved by calls in progress). Try again in a moment, or ask the operator to raise --datapoint-budget.", t.spend.Spent(c.caller.String()), t.spend.Limit())
	}
	c.reserved += n
	return nil
}

// budgetUse is the caller's budget after this call so far, for the result;
// nil without a budget.
func (t *Toolset) budgetUse(c *call) *summary.BudgetUse {
	if !t.spend.Limited() {
		return nil
	}
	spent := t.spend.Spent(c.caller.String()) + c.usage.Datapoints.Load()
	return &summary.BudgetUse{Spent: spent, Left: max(t.spend.Limit()-spent, 0), Limit: t.spend.Limit()}
}
