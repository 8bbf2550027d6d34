package dune

import (
	"time"
)

// State is a Dune execution state such as QUERY_STATE_COMPLETED.
type State string

// Execution states documented by Dune.
const (
	StatePending          State = "QUERY_STATE_PENDING"
	StateExecuting        State = "QUERY_STATE_EXECUTING"
	StateCompleted        State = "QUERY_STATE_COMPLETED"
	StateCompletedPartial State = "QUERY_STATE_COMPLETED_PARTIAL"
	StateFailed           State = "QUERY_STATE_FAILED"
	StateCancelled        State = "QUERY_STATE_CANCELLED"
	StateExpired          State = "QUERY_STATE_EXPIRED"
)

// Known reports whether s is one of the states Dune documents. For an
// unknown state the client returns the Result with a *ResultError, so
// callers can report the state by name.
func (s State) Known() bool {
	switch s {
	case StatePending, StateExecuting, StateCompleted, StateCompletedPartial,
		StateFailed, StateCancelled, StateExpired:
		return true
	}
	return false
}

// Column is one result column with its Dune type (e.g. "varchar", "uint256").
type Column struct {
	// Name is the column name, as in metadata.column_names.
	Name string `json:"name"`
	// Type is Dune's type from metadata.column_types, "" when Dune did not
	// send types.
	Type string `json:"type"`
}

// Row is one result row, values in Columns order. A value is nil (SQL NULL),
// string (varchar, uint256/int256, varbinary, timestamps), json.Number
// (integers and doubles, exactly as Dune wrote them), bool, or a nested
// []any / map[string]any for array and map columns.
type Row []any

// Metadata is Dune's result metadata for one page. The client refuses
// negative counts and sizes (ErrMalformedResponse).
type Metadata struct {
	// RowCount is the number of rows in this page: always len(Result.Rows)
	// (a row_count that disagrees is replaced, and logged at debug level).
	RowCount int `json:"row_count"`
	// ResultSetBytes is Dune's size of this page's rows.
	ResultSetBytes int64 `json:"result_set_bytes"`
	// TotalRowCount is the number of rows of the whole result (after
	// filters; for a sample, of the population sampled).
	TotalRowCount int `json:"total_row_count"`
	// TotalResultSetBytes is Dune's size of the whole result.
	TotalResultSetBytes int64 `json:"total_result_set_bytes"`
	// DatapointCount is rows × columns of this page, what Dune bills.
	DatapointCount int `json:"datapoint_count"`
	// PendingTimeMillis is how long the execution waited to start.
	PendingTimeMillis int64 `json:"pending_time_millis"`
	// ExecutionTimeMillis is how long the execution ran.
	ExecutionTimeMillis int64 `json:"execution_time_millis"`
}

// ExecutionErrorInfo is the in-band error Dune attaches to a FAILED execution.
type ExecutionErrorInfo struct {
	// Type is Dune's error type, e.g. FAILED_TYPE_EXECUTION_FAILED.
	Type string `json:"type"`
	// Message is Dune's error message, e.g. "line 1:8: Column 'x' cannot be
	// resolved" (at most 4000 characters, the API key removed).
	Message string `json:"message"`
	// Line and Column locate the error in the SQL, 0 if unknown.
	Line   int `json:"line,omitempty"`
	Column int `json:"column,omitempty"`
}

// Result is one decoded page of an execution's results.
type Result struct {
	// ExecutionID is the execution the page comes from (a ULID); pass it to
	// GetExecutionResult for the next pages.
	ExecutionID string
	// QueryID is the saved query, 0 if Dune did not say.
	QueryID int64
	// State is the execution state (see the package documentation for what
	// each state returns).
	State State
	// IsExecutionFinished is Dune's is_execution_finished.
	IsExecutionFinished bool
	// SubmittedAt and ExpiresAt are zero when Dune did not send them (or
	// sent something unparsable); ExpiresAt is when the result is deleted.
	SubmittedAt time.Time
	ExpiresAt   time.Time
	// ExecutionStartedAt, ExecutionEndedAt and CancelledAt are nil when
	// unknown.
	ExecutionStartedAt *time.Time
	ExecutionEndedAt   *time.Time
	CancelledAt        *time.Time

	// NextOffset is set when Dune reports another page; nil on the last page.
	NextOffset *int

	// Error is set for FAILED executions (the client also returns it as a
	// *ResultError).
	Error *ExecutionErrorInfo

	// HasResult reports whether the response carried a result object.
	HasResult bool
	// Columns are the result's columns in column_names order.
	Columns []Column
	// Rows hold one value per column, in Columns order; never nil when
	// HasResult.
	Rows []Row
	// Metadata is the page's metadata (zero without a result).
	Metadata Metadata

	// BodyBytes is the size of the response body as received.
	BodyBytes int64
}
