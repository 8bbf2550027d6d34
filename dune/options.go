package dune

// The option groups below are the single description of Dune's results
// parameters. The MCP tool schemas (package schemas) are generated from
// structs that embed these groups, so a parameter's name, bounds and
// description are written exactly once, here.

// Paging selects a window of rows. Zero values mean "not set": Dune's default
// page size applies and the window starts at the first row.
type Paging struct {
	// Limit is the number of rows to fetch upstream (Dune caps it silently).
	Limit int `json:"limit,omitempty" jsonschema:"minimum=1,maximum=100000" jsonschema_description:"Rows to fetch from Dune for this page (Dune may lower it). Omit for a size chosen from the token budget."`
	// Offset is the index of the first row, 0-based.
	Offset int `json:"offset,omitempty" jsonschema:"minimum=0,default=0" jsonschema_description:"Index of the first row to return (0-based)."`
}

// Projection picks the columns Dune returns, in the given order.
type Projection struct {
	// Columns limits the result to these columns, sent comma-joined.
	Columns []string `json:"columns,omitempty" jsonschema:"maxItems=500" jsonschema_description:"Only these columns, in this order (cuts tokens and Dune credits)."`
}

// Sorting orders rows before paging or sampling.
type Sorting struct {
	// SortBy is Dune's ORDER BY-like expression, e.g. "amount_usd desc, block_time".
	SortBy string `json:"sort_by,omitempty" jsonschema:"maxLength=1000" jsonschema_description:"ORDER BY-like expression, e.g. \"amount_usd desc, block_time\". Nulls sort last."`
}

// Filtering narrows rows with Dune's WHERE-like filter language.
type Filtering struct {
	// Filters is passed to Dune unchanged.
	Filters string `json:"filters,omitempty" jsonschema:"maxLength=4000" jsonschema_description:"WHERE-like filter, e.g. \"blockchain IN ('ethereum', 'base') AND amount_usd IS NOT NULL\". Comparisons (=, !=, less/greater than, or equal), IN, LIKE, IS [NOT] NULL, AND/OR, parentheses; strings in single quotes; NOT IN/NOT LIKE unsupported."`
}

// Sampling asks Dune for a uniform random sample instead of a page.
type Sampling struct {
	// SampleCount is the approximate number of rows in the sample.
	SampleCount int `json:"sample_count,omitempty" jsonschema:"minimum=1,maximum=100000" jsonschema_description:"Approximate number of rows in a uniform random sample of the whole result. Not combinable with limit, offset or filters."`
}

// Partial controls what happens when Dune truncated a result for size.
type Partial struct {
	// AllowPartialResults accepts a truncated (QUERY_STATE_COMPLETED_PARTIAL) result.
	AllowPartialResults bool `json:"allow_partial_results,omitempty" jsonschema:"default=false" jsonschema_description:"Accept a result Dune truncated for size instead of failing."`
}

// Credits relaxes Dune's per-request credit guard.
type Credits struct {
	// IgnoreMaxCreditsPerRequest bypasses Dune's default max-credits-per-request cap.
	IgnoreMaxCreditsPerRequest bool `json:"ignore_max_credits_per_request,omitempty" jsonschema:"default=false" jsonschema_description:"Bypass Dune's per-request credit cap."`
}

// Parameters selects the latest result run with these query parameter values
// (only for the latest-result endpoint).
type Parameters struct {
	// QueryParameters are sent as params.<name>=<value>.
	QueryParameters map[string]string `json:"query_parameters,omitempty" jsonschema_description:"Query parameter values (name to value) selecting the latest result run with them."`
}

// Options holds every parameter of Dune's results endpoints.
type Options struct {
	Paging
	Projection
	Sorting
	Filtering
	Sampling
	Partial
	Credits
	Parameters
}
