package dune

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"
)

// The execution endpoints: run a saved query, follow its status, cancel it.
//
// Retries. GetExecutionStatus and CancelExecution are idempotent and retry
// like the results endpoints (see retry.go). ExecuteQuery must never run a
// query twice, and every execution is billed (failed ones too), so it
// retries only a 429: Dune refuses the request before running anything,
// and the retry honours Retry-After within the retry budget. Every other
// failure is returned at once. After a 5xx, a timeout, a connection lost
// once the request was on its way, or a 2xx body that cannot be read, Dune
// may have started the execution: those errors wrap ErrMayHaveStarted, and
// the caller should look for the execution before running the query again.
// A request that never left (the dial failed, e.g. connection refused) ran
// nothing and does not wrap it. It is not retried either, as for the
// results endpoints: nothing is listening, and retrying within the budget
// rarely helps.

// Performance values for ExecuteQuery ("" lets Dune choose).
const (
	PerformanceMedium = "medium"
	PerformanceLarge  = "large"
)

// maxSmallBody bounds the answers of the execute, status and cancel
// endpoints (a few hundred bytes in practice).
const maxSmallBody = 1 << 20

// ErrMayHaveStarted is wrapped by ExecuteQuery errors after which Dune may
// have started the execution (and may bill it): a 5xx, a timeout or a
// connection lost after sending, a cancelled context while waiting for the
// answer, or a 2xx answer that cannot be read. Errors for requests that
// certainly ran nothing (a 4xx such as 429 or 402, a failed dial, a
// validation error) do not wrap it.
var ErrMayHaveStarted = errors.New("the execution may have started")

// ErrCancelRefused is returned (wrapped) when Dune answers a cancel request
// with {"success": false}.
var ErrCancelRefused = errors.New("dune: cancel refused (success false)")

// Execution is Dune's answer to an execute request.
type Execution struct {
	// ExecutionID is the new execution (a ULID); pass it to
	// GetExecutionStatus, GetExecutionResult or CancelExecution.
	ExecutionID string
	// State is the state Dune reported, usually QUERY_STATE_PENDING; ""
	// when Dune did not say.
	State State
}

// executeRequest is the JSON body of an execute request.
type executeRequest struct {
	QueryParameters map[string]string `json:"query_parameters,omitempty"`
	Performance     string            `json:"performance,omitempty"`
}

// ExecuteQuery runs a saved query: POST /api/v1/query/{queryID}/execute
// with the JSON body {"query_parameters": {...}, "performance": "..."},
// each member omitted when empty. params override the query's parameter
// defaults (values sent as strings); performance is "", PerformanceMedium
// or PerformanceLarge. Only a 429 is retried (see ErrMayHaveStarted for
// the failures that are not). An answer with an execution id counts in
// Usage.Executions.
func (c *Client) ExecuteQuery(ctx context.Context, queryID int64, params map[string]string, performance string) (*Execution, error) {
	if err := checkQueryID(queryID); err != nil {
		return nil, err
	}
	if err := checkParamNames(params); err != nil {
		return nil, err
	}
	switch performance {
	case "", PerformanceMedium, PerformanceLarge:
	default:
		return nil, &ValidationError{Field: "performance", Reason: `must be "medium", "large" or empty (Dune chooses)`}
	}
	body, err := json.Marshal(executeRequest{QueryParameters: params, Performance: performance})
	if err != nil {
		return nil, fmt.Errorf("dune: encoding the execute request: %w", err)
	}
	cl := call{method: http.MethodPost, path: "/api/v1/query/" + strconv.FormatInt(queryID, 10) + "/execute", body: body, maxBody: maxSmallBody, once: true}
	return do(ctx, c, cl, decoder[*Execution]{
		decode: func(r io.Reader) (*Execution, error) {
			w, err := decodeSmall[struct {
				ExecutionID string `json:"execution_id"`
				State       State  `json:"state"`
			}](r)
			if err != nil {
				return nil, err
			}
			return &Execution{ExecutionID: w.ExecutionID, State: w.State}, nil
		},
		check: func(ctx context.Context, e *Execution, key string, _ int64) error {
			scrubExecution(&e.ExecutionID, &e.State, nil, key)
			if !validExecutionID(e.ExecutionID) {
				return fmt.Errorf("dune: %s: %w: no usable execution_id", cl.where(), ErrMalformedResponse)
			}
			if usage := UsageFrom(ctx); usage != nil {
				usage.Executions.Add(1)
			}
			return nil
		},
	})
}

// Status is an execution's status: GET /api/v1/execution/{id}/status, free
// of charge. Its strings are bounded, with the API key removed, as in a
// Result.
type Status struct {
	// ExecutionID, QueryID, State and IsExecutionFinished mean what they
	// mean in a Result. ExecutionID is the one asked about when Dune did
	// not repeat it; Err turns State into an error.
	ExecutionID         string
	QueryID             int64
	State               State
	IsExecutionFinished bool

	// The timestamps are zero or nil when unknown, as in a Result.
	SubmittedAt, ExpiresAt                            time.Time
	ExecutionStartedAt, ExecutionEndedAt, CancelledAt *time.Time

	// QueuePosition is the place in Dune's queue while PENDING, when Dune
	// says.
	QueuePosition *int
	// ResultMetadata describes the whole result when COMPLETED (RowCount
	// is Dune's row_count), nil otherwise.
	ResultMetadata *Metadata
	// Error is Dune's error for a FAILED execution.
	Error *ExecutionErrorInfo
	// ExecutionCostCredits is what the execution cost, when Dune says.
	ExecutionCostCredits *float64
}

// statusJSON is the wire form of a status answer.
type statusJSON struct {
	ExecutionID          string         `json:"execution_id"`
	QueryID              int64          `json:"query_id"`
	State                State          `json:"state"`
	IsExecutionFinished  bool           `json:"is_execution_finished"`
	SubmittedAt          lenientTime    `json:"submitted_at"`
	ExpiresAt            lenientTime    `json:"expires_at"`
	ExecutionStartedAt   lenientTime    `json:"execution_started_at"`
	ExecutionEndedAt     lenientTime    `json:"execution_ended_at"`
	CancelledAt          lenientTime    `json:"cancelled_at"`
	QueuePosition        *int           `json:"queue_position"`
	ResultMetadata       *metadataJSON  `json:"result_metadata"`
	Error                *execErrorJSON `json:"error"`
	ExecutionCostCredits *json.Number   `json:"execution_cost_credits"`
}

// status converts w, refusing what breaks Dune's rules.
func (w *statusJSON) status() (*Status, error) {
	if w.State == "" {
		return nil, fmt.Errorf("%w: no state", ErrMalformedResponse)
	}
	s := &Status{
		ExecutionID:         w.ExecutionID,
		QueryID:             w.QueryID,
		State:               w.State,
		IsExecutionFinished: w.IsExecutionFinished,
		SubmittedAt:         w.SubmittedAt.Time,
		ExpiresAt:           w.ExpiresAt.Time,
		ExecutionStartedAt:  w.ExecutionStartedAt.ptr(),
		ExecutionEndedAt:    w.ExecutionEndedAt.ptr(),
		CancelledAt:         w.CancelledAt.ptr(),
		QueuePosition:       w.QueuePosition,
		Error:               w.Error.info(),
	}
	if m := w.ResultMetadata; m != nil {
		if err := m.validate(); err != nil {
			return nil, err
		}
		md := m.Metadata
		if m.RowCount != nil {
			md.RowCount = *m.RowCount
		}
		s.ResultMetadata = &md
	}
	if w.ExecutionCostCredits != nil {
		if f, err := w.ExecutionCostCredits.Float64(); err == nil {
			s.ExecutionCostCredits = &f
		}
	}
	return s, nil
}

// GetExecutionStatus reads an execution's status:
// GET /api/v1/execution/{executionID}/status (free of charge; retried like
// the results endpoints). Every state is a *Status and no error, FAILED and
// CANCELLED included: Status.Err says whether a result can be read.
func (c *Client) GetExecutionStatus(ctx context.Context, executionID string) (*Status, error) {
	if err := checkExecutionID(executionID); err != nil {
		return nil, err
	}
	cl := call{method: http.MethodGet, path: "/api/v1/execution/" + executionID + "/status", maxBody: maxSmallBody}
	return do(ctx, c, cl, decoder[*Status]{
		decode: func(r io.Reader) (*Status, error) {
			w, err := decodeSmall[statusJSON](r)
			if err != nil {
				return nil, err
			}
			return w.status()
		},
		check: func(_ context.Context, s *Status, key string, _ int64) error {
			if s.ExecutionID == "" {
				s.ExecutionID = executionID
			}
			scrubExecution(&s.ExecutionID, &s.State, s.Error, key)
			return nil
		},
	})
}

// Err returns nil when the execution's result can be read (COMPLETED or
// COMPLETED_PARTIAL), else a *ResultError for the state, unfinished states
// included: the same error GetExecutionResult returns for that state.
func (s *Status) Err() error {
	return stateError(s.ExecutionID, s.QueryID, s.State, s.Error)
}

// CancelExecution cancels an execution: POST
// /api/v1/execution/{executionID}/cancel, answered {"success": true}.
// Cancelling is idempotent, so it is retried like the results endpoints.
// {"success": false} is an error wrapping ErrCancelRefused.
func (c *Client) CancelExecution(ctx context.Context, executionID string) error {
	if err := checkExecutionID(executionID); err != nil {
		return err
	}
	cl := call{method: http.MethodPost, path: "/api/v1/execution/" + executionID + "/cancel", maxBody: maxSmallBody}
	_, err := do(ctx, c, cl, decoder[*bool]{
		decode: func(r io.Reader) (*bool, error) {
			w, err := decodeSmall[struct {
				Success *bool `json:"success"`
			}](r)
			if err != nil {
				return nil, err
			}
			if w.Success == nil {
				return nil, fmt.Errorf("%w: no success member", ErrMalformedResponse)
			}
			return w.Success, nil
		},
		check: func(_ context.Context, ok *bool, _ string, _ int64) error {
			if !*ok {
				return fmt.Errorf("dune: %s: %w", cl.where(), ErrCancelRefused)
			}
			return nil
		},
	})
	return err
}

// decodeSmall decodes a small JSON answer into a T with encoding/json
// (unknown members ignored, numbers in untyped members as json.Number) and
// refuses anything after the document. Its errors wrap
// ErrMalformedResponse (errTruncated for a body cut short) and never quote
// the body.
func decodeSmall[T any](r io.Reader) (*T, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	v := new(T)
	if err := dec.Decode(v); err != nil {
		return nil, tokenErr(err, "response")
	}
	if err := expectEOF(dec); err != nil {
		return nil, err
	}
	return v, nil
}
