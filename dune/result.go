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

// Known reports whether s is one of the states Dune documents. The client
// returns a Result (and no error) for unknown states, so callers can report
// them instead of failing.
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
	Name string `json:"name"`
	Type string `json:"type"`
}

// Row is one result row, values in Columns order. A value is nil (SQL NULL),
// string (varchar, uint256/int256, varbinary, timestamps), json.Number
// (integers and doubles, exactly as Dune wrote them), bool, or a nested
// []any / map[string]any for array and map columns.
type Row []any

// Metadata is Dune's result metadata for one page.
type Metadata struct {
	RowCount            int   `json:"row_count"`
	ResultSetBytes      int64 `json:"result_set_bytes"`
	TotalRowCount       int   `json:"total_row_count"`
	TotalResultSetBytes int64 `json:"total_result_set_bytes"`
	DatapointCount      int   `json:"datapoint_count"`
	PendingTimeMillis   int64 `json:"pending_time_millis"`
	ExecutionTimeMillis int64 `json:"execution_time_millis"`
}

// ExecutionErrorInfo is the in-band error Dune attaches to a FAILED execution.
type ExecutionErrorInfo struct {
	Type    string `json:"type"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
}

// Result is one decoded page of an execution's results.
type Result struct {
	ExecutionID         string
	QueryID             int64
	State               State
	IsExecutionFinished bool
	SubmittedAt         time.Time
	ExpiresAt           time.Time
	ExecutionStartedAt  *time.Time
	ExecutionEndedAt    *time.Time
	CancelledAt         *time.Time

	// NextOffset is set when Dune reports another page; nil on the last page.
	NextOffset *int

	// Error is set for FAILED executions (the client also returns it as a
	// *ResultError).
	Error *ExecutionErrorInfo

	// HasResult reports whether the response carried a result object.
	HasResult bool
	Columns   []Column
	Rows      []Row
	Metadata  Metadata

	// BodyBytes is the size of the response body as received.
	BodyBytes int64
}
