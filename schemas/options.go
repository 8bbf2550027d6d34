package schemas

import "github.com/dune-mcp/dune-mcp/dune"

// The option groups below describe Dune's results parameters to the model,
// each exactly once; the parameter structs of schemas.go embed them. Each
// group also knows its dune.Options field (apply), so a parameter takes one
// path from the model's arguments to Dune's request.

// group is an option group: it sets its fields of a dune.Options.
type group interface{ apply(*dune.Options) }

// options builds the dune.Options of the given groups.
func options(groups ...group) dune.Options {
	var o dune.Options
	for _, g := range groups {
		g.apply(&o)
	}
	return o
}

func (g Paging) apply(o *dune.Options)     { o.Limit, o.Offset = g.Limit, g.Offset }
func (g Projection) apply(o *dune.Options) { o.Columns = g.Columns }
func (g Sorting) apply(o *dune.Options)    { o.SortBy = g.SortBy }
func (g Filtering) apply(o *dune.Options)  { o.Filters = g.Filters }
func (g Sampling) apply(o *dune.Options)   { o.SampleCount = g.SampleCount }
func (g Partial) apply(o *dune.Options)    { o.AllowPartialResults = g.AllowPartialResults }
func (g Parameters) apply(o *dune.Options) { o.QueryParameters = g.QueryParameters }

// Paging selects a window of rows. Zero values mean "not set": the page size
// comes from the token budget and the window starts at the first row.
type Paging struct {
	Limit  int `json:"limit,omitempty" jsonschema:"minimum=1,maximum=100000" jsonschema_description:"Rows to fetch (Dune may lower it); omit to fit max_tokens."`
	Offset int `json:"offset,omitempty" jsonschema:"minimum=0,default=0" jsonschema_description:"First row to return, 0-based."`
}

// Projection picks the columns Dune returns, in the given order.
type Projection struct {
	Columns []string `json:"columns,omitempty" jsonschema:"maxItems=500" jsonschema_description:"Only these columns, in order (cuts tokens and credits)."`
}

// Sorting orders rows before paging or sampling.
type Sorting struct {
	SortBy string `json:"sort_by,omitempty" jsonschema:"maxLength=1000" jsonschema_description:"ORDER BY-like, e.g. \"amount_usd desc, block_time\"; nulls last."`
}

// Filtering narrows rows with Dune's WHERE-like filter language.
type Filtering struct {
	Filters string `json:"filters,omitempty" jsonschema:"maxLength=4000" jsonschema_description:"WHERE-like filter, e.g. \"blockchain IN ('ethereum', 'base') AND amount_usd IS NOT NULL\": =, !=, less/greater (or equal), IN, LIKE, IS [NOT] NULL, AND/OR, parentheses; single-quoted strings; no NOT IN/NOT LIKE."`
}

// Sampling asks Dune for a uniform random sample instead of a page.
type Sampling struct {
	SampleCount int `json:"sample_count,omitempty" jsonschema:"minimum=1,maximum=100000" jsonschema_description:"Approximate sample size, in rows."`
}

// Partial controls what happens when Dune truncated a result for size.
type Partial struct {
	AllowPartialResults bool `json:"allow_partial_results,omitempty" jsonschema:"default=false" jsonschema_description:"Accept a result Dune truncated for size."`
}

// Parameters selects the latest result run with these query parameter values.
type Parameters struct {
	QueryParameters map[string]string `json:"query_parameters,omitempty" jsonschema_description:"Query parameters (name to value) of the result to read or run."`
}

// Freshness lets get_latest_result run the query when its latest result is
// too old, missing or failed.
type Freshness struct {
	MaxAgeHours *float64 `json:"max_age_hours,omitempty" jsonschema:"minimum=0" jsonschema_description:"Run the query (costs credits) if its result is older than this many hours, missing or failed. Omit: never run."`
	Performance string   `json:"performance,omitempty" jsonschema:"enum=medium,enum=large" jsonschema_description:"large: faster run, ~2x credits."`
}
