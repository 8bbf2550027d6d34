package schemas

// The option groups below describe Dune's results parameters to the model,
// each exactly once; the parameter structs of schemas.go embed them.

// Paging selects a window of rows. Zero values mean "not set": the page size
// comes from the token budget and the window starts at the first row.
type Paging struct {
	Limit  int `json:"limit,omitempty" jsonschema:"minimum=1,maximum=100000" jsonschema_description:"Rows to fetch from Dune for this page (Dune may lower it). Omit for a size chosen from the token budget."`
	Offset int `json:"offset,omitempty" jsonschema:"minimum=0,default=0" jsonschema_description:"Index of the first row to return (0-based)."`
}

// Projection picks the columns Dune returns, in the given order.
type Projection struct {
	Columns []string `json:"columns,omitempty" jsonschema:"maxItems=500" jsonschema_description:"Only these columns, in this order (cuts tokens and Dune credits)."`
}

// Sorting orders rows before paging or sampling.
type Sorting struct {
	SortBy string `json:"sort_by,omitempty" jsonschema:"maxLength=1000" jsonschema_description:"ORDER BY-like expression, e.g. \"amount_usd desc, block_time\". Nulls sort last."`
}

// Filtering narrows rows with Dune's WHERE-like filter language.
type Filtering struct {
	Filters string `json:"filters,omitempty" jsonschema:"maxLength=4000" jsonschema_description:"WHERE-like filter, e.g. \"blockchain IN ('ethereum', 'base') AND amount_usd IS NOT NULL\". Comparisons (=, !=, less/greater than, or equal), IN, LIKE, IS [NOT] NULL, AND/OR, parentheses; strings in single quotes; NOT IN/NOT LIKE unsupported."`
}

// Sampling asks Dune for a uniform random sample instead of a page.
type Sampling struct {
	SampleCount int `json:"sample_count,omitempty" jsonschema:"minimum=1,maximum=100000" jsonschema_description:"Approximate number of rows in a uniform random sample of the whole result. Not combinable with limit, offset or filters."`
}

// Partial controls what happens when Dune truncated a result for size.
type Partial struct {
	AllowPartialResults bool `json:"allow_partial_results,omitempty" jsonschema:"default=false" jsonschema_description:"Accept a result Dune truncated for size instead of failing."`
}

// Parameters selects the latest result run with these query parameter values.
type Parameters struct {
	QueryParameters map[string]string `json:"query_parameters,omitempty" jsonschema_description:"Query parameter values (name to value) selecting the latest result run with them."`
}

// Freshness lets get_latest_result run the query when its latest result is
// too old, missing or failed.
type Freshness struct {
	MaxAgeHours *float64 `json:"max_age_hours,omitempty" jsonschema:"minimum=0" jsonschema_description:"Run the query (costs Dune credits) when its latest result ended more than this many hours ago, is missing or failed; then wait for it. Omit to never run it."`
	Performance string   `json:"performance,omitempty" jsonschema:"enum=medium,enum=large" jsonschema_description:"Engine for a run: large is faster and costs about twice as much. Default: Dune's."`
}
