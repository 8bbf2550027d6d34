package dune

// Options holds every parameter of Dune's results endpoints. The zero value
// of each field means "not set": Dune's default applies. The MCP-facing
// descriptions of these parameters live with the tool parameter structs
// (package schemas), which build an Options in one method.
type Options struct {
	// Limit is the number of rows to fetch (Dune caps it silently).
	Limit int
	// Offset is the index of the first row, 0-based.
	Offset int
	// Columns limits the result to these columns, in this order; sent
	// comma-joined.
	Columns []string
	// Filters is Dune's WHERE-like filter expression, sent unchanged.
	Filters string
	// SortBy is Dune's ORDER BY-like expression, e.g. "amount_usd desc, block_time".
	SortBy string
	// SampleCount asks for a uniform random sample of about this many rows.
	SampleCount int
	// AllowPartialResults accepts a result Dune truncated for size
	// (QUERY_STATE_COMPLETED_PARTIAL).
	AllowPartialResults bool
	// IgnoreMaxCreditsPerRequest bypasses Dune's per-request credit cap.
	IgnoreMaxCreditsPerRequest bool
	// QueryParameters are sent as params.<name>=<value> (latest-result
	// endpoint only).
	QueryParameters map[string]string
}
