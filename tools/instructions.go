package tools

import (
	"fmt"
	"strings"

	"github.com/dune-mcp/dune-mcp/schemas"
)

// DemoQuery describes a query served in --demo mode, for the instructions.
type DemoQuery struct {
	ID          int64
	Name        string
	Description string
}

// Instructions returns the server's initialize instructions: what the tools
// are for, how to page and how budgets work. demo lists the queries of the
// embedded emulator in --demo mode (nil otherwise).
func Instructions(demo []DemoQuery) string {
	var b strings.Builder
	b.WriteString(strings.ReplaceAll(`Read results of saved Dune Analytics queries without running them, within a token budget.
- get_latest_result(query_id): the latest completed result. Each result starts with its source (execution id, state, end time), the schema, counts and per-column stats, then as many rows as fit max_tokens (default set by the server, BUDGET_RANGE), and says what was left out.
- next_page(cursor): pass next_cursor verbatim to continue exactly after the last row shown, from the same execution (later re-runs do not change it). Rows already fetched come from a cache at no Dune cost.
- sample_result(query_id, sample_count): a uniform random sample to profile a big result; not pageable.
Spend fewer tokens and credits: pick columns, narrow with filters (WHERE-like) and sort_by (ORDER BY-like) on Dune's side, and lower max_tokens when stats suffice.
Errors come back as tool results saying what to do next (e.g. wait N s on a rate limit, allow_partial_results=true for a truncated result).`, "BUDGET_RANGE", schemas.BudgetRange))
	if len(demo) > 0 {
		b.WriteString("\nDEMO MODE: data comes from a built-in emulator with synthetic datasets, not from Dune. Queries:")
		for _, q := range demo {
			fmt.Fprintf(&b, "\n- %d %s", q.ID, q.Name)
			if q.Description != "" {
				fmt.Fprintf(&b, ": %s", q.Description)
			}
		}
	}
	return b.String()
}
