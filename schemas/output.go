package schemas

// Structured is the structuredContent of every tool result. Its JSON names
// are the result fields of the design contract; the tools' output schema
// (Output) is reflected from it.
type Structured struct {
	QueryID              int64         `json:"query_id" jsonschema_description:"Dune query id."`
	ExecutionID          string        `json:"execution_id" jsonschema_description:"Dune execution id the rows come from; results of an execution never change."`
	State                string        `json:"state" jsonschema_description:"Execution state, e.g. QUERY_STATE_COMPLETED or QUERY_STATE_COMPLETED_PARTIAL."`
	ExecutionEndedAt     string        `json:"execution_ended_at,omitempty" jsonschema_description:"When the execution ended (RFC 3339, UTC); absent when Dune did not say."`
	ExpiresAt            string        `json:"expires_at,omitempty" jsonschema_description:"When Dune deletes this result (RFC 3339, UTC); absent when Dune did not say, and in a compact result (small max_tokens)."`
	Demo                 bool          `json:"demo,omitempty" jsonschema_description:"True when the data is synthetic demo data from the embedded emulator, not from Dune."`
	Filters              string        `json:"filters,omitempty" jsonschema_description:"Filter expression applied by Dune to this result."`
	SortBy               string        `json:"sort_by,omitempty" jsonschema_description:"Sort expression applied by Dune to this result."`
	Columns              []Column      `json:"columns,omitzero" jsonschema_description:"Result columns in row order (all of them unless omitted says otherwise); absent when table carries the rows."`
	TotalRowCount        int           `json:"total_row_count" jsonschema_description:"Rows in the whole result (after filters; for a sample the size of the population sampled); 0 while the execution has not finished."`
	Offset               int           `json:"offset" jsonschema_description:"Index (0-based) in the result of the first row returned."`
	FetchedRows          *int          `json:"fetched_rows,omitempty" jsonschema_description:"Rows fetched upstream for this page or read from the page cache; stats are computed over them. A compact result leaves it out when it equals returned_rows."`
	SampleCount          int           `json:"sample_count,omitempty" jsonschema_description:"Requested sample size when rows are a uniform random sample (sample_result)."`
	ReturnedRows         int           `json:"returned_rows" jsonschema_description:"Number of rows returned, in rows (or in table; the same rows as the text table)."`
	Rows                 [][]any       `json:"rows,omitzero" jsonschema_description:"Absent when table carries them. Rows as arrays in columns order with values as Dune sent them: numbers as JSON numbers, uint256/int256 and timestamps as strings, NULL as null."`
	Table                string        `json:"table,omitempty" jsonschema_description:"With result views structured (clients that forward only structuredContent): the returned rows as text, in place of columns, rows and stats: a types line, statistics of the fetched rows, then CSV with one header line (empty = NULL; columns with one value, and the common part of timestamps, given once above the header)."`
	HasMore              bool          `json:"has_more" jsonschema_description:"True when rows remain after the returned ones, or the execution has not finished yet; pass next_cursor to next_page."`
	NextCursor           string        `json:"next_cursor,omitempty" jsonschema_description:"Opaque cursor continuing after the last returned row; absent when nothing is left."`
	Truncated            *bool         `json:"truncated,omitempty" jsonschema_description:"True when anything was left out of this response (rows, columns, statistics or long cells); omitted says what. A compact result leaves it out when has_more is true (rows were left out)."`
	Omitted              []string      `json:"omitted,omitempty" jsonschema_description:"One line per thing left out of this response and how to get it. A compact result (small max_tokens) lists only what other fields do not show: rows left (has_more), rows not returned (returned_rows < fetched_rows), shortened cells (shortened_cells), missing statistics (stats shorter than columns)."`
	ShortenedCells       int           `json:"shortened_cells,omitempty" jsonschema_description:"Cells in rows replaced by their first characters plus a …[+N of M chars] marker because even one full row did not fit the budget."`
	Stats                []ColumnStats `json:"stats,omitzero" jsonschema_description:"Per-column statistics over the fetched rows, in columns order (columns may be missing; see omitted); absent when table carries them."`
	Datapoints           int           `json:"datapoints" jsonschema_description:"Dune datapoints this call cost upstream; 0 when served from the page cache."`
	Executed             bool          `json:"executed,omitempty" jsonschema_description:"True when this call ran the query: the rows come from a fresh execution (or, while state is QUERY_STATE_PENDING or QUERY_STATE_EXECUTING, are still to come)."`
	ExecutionCostCredits *float64      `json:"execution_cost_credits,omitempty" jsonschema_description:"Dune credits the execution this call ran cost; absent when unknown or when this call ran nothing."`
	DatapointsSpent      *int64        `json:"datapoints_spent,omitempty" jsonschema_description:"Datapoints the caller has spent so far, this call included, out of the configured budget; absent when no budget is set."`
	DatapointsLeft       *int64        `json:"datapoints_left,omitempty" jsonschema_description:"Datapoints the caller may still spend within the configured budget; absent when no budget is set."`
	Notes                []string      `json:"notes,omitempty" jsonschema_description:"Explanations about this result (limit capped by Dune, partial result, offset past the end, ...)."`
}

// Column is one result column.
type Column struct {
	Name string `json:"name" jsonschema_description:"Column name."`
	Type string `json:"type" jsonschema_description:"Dune (Trino) type, e.g. varchar, double, uint256, timestamp(3) with time zone."`
}

// ColumnStats are statistics of one column over the rows fetched.
type ColumnStats struct {
	Name          string     `json:"name" jsonschema_description:"Column name."`
	Nulls         int        `json:"nulls" jsonschema_description:"Number of NULL values."`
	Min           string     `json:"min,omitempty" jsonschema_description:"Smallest value exactly as Dune wrote it (numbers compared numerically, timestamps chronologically); absent for other types."`
	Max           string     `json:"max,omitempty" jsonschema_description:"Largest value exactly as Dune wrote it; absent for other types."`
	Mean          *float64   `json:"mean,omitempty" jsonschema_description:"Arithmetic mean of the numeric values (approximate for very large integers)."`
	Invalid       int        `json:"invalid,omitempty" jsonschema_description:"Non-null values that could not be read as the column's type (left out of min, max and mean)."`
	Distinct      int        `json:"distinct" jsonschema_description:"Number of distinct non-null values (a lower bound when distinct_exact is false)."`
	DistinctExact bool       `json:"distinct_exact" jsonschema_description:"True when distinct is exact."`
	MaxLen        int        `json:"max_len,omitempty" jsonschema_description:"Length in characters of the longest text value."`
	Top           []TopValue `json:"top,omitempty" jsonschema_description:"Most frequent values with their counts, most frequent first; only for low-cardinality columns."`
}

// TopValue is one frequent value of a column.
type TopValue struct {
	Value string `json:"value" jsonschema_description:"The value as text (long values shortened with a …[+N of M chars] marker)."`
	Count int    `json:"count" jsonschema_description:"Number of rows with this value."`
}
