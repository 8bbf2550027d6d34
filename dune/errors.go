package dune

import (
	"errors"
	"fmt"
	"time"
)

// ErrorKind classifies an HTTP-level failure of the Dune API.
type ErrorKind string

// Error kinds. They are stable strings so logs and tool results can name them.
const (
	KindInvalidKey    ErrorKind = "invalid_api_key"   // 401
	KindPayment       ErrorKind = "credits_exhausted" // 402: billing-cycle or per-request credit cap
	KindForbidden     ErrorKind = "forbidden"         // 403
	KindNotFound      ErrorKind = "not_found"         // 404: query missing or private, unknown execution
	KindRateLimited   ErrorKind = "rate_limited"      // 429
	KindPartialResult ErrorKind = "partial_result"    // result truncated for size; allow_partial_results needed
	KindBadRequest    ErrorKind = "bad_request"       // other 400s: bad filter, sort_by, columns, ids
	KindServer        ErrorKind = "server_error"      // 5xx
	KindOther         ErrorKind = "http_error"        // anything else
)

// APIError is a non-2xx answer from Dune. Message is Dune's own "error" text
// (bounded in length); it never contains the API key.
type APIError struct {
	StatusCode int
	Kind       ErrorKind
	Message    string
	// RetryAfter is how long Dune asked us to wait (429), zero if unknown.
	RetryAfter time.Duration
	// Endpoint is the request path without query string, e.g. /api/v1/query/1/results.
	Endpoint string
}

func (e *APIError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("dune: %s (HTTP %d) on %s: %s (retry after %s)", e.Kind, e.StatusCode, e.Endpoint, e.Message, e.RetryAfter)
	}
	return fmt.Sprintf("dune: %s (HTTP %d) on %s: %s", e.Kind, e.StatusCode, e.Endpoint, e.Message)
}

// ResultError reports an execution that ended without a usable result:
// FAILED, CANCELLED or EXPIRED. For FAILED, Type/Message/Line/Column are
// Dune's in-band error.
type ResultError struct {
	ExecutionID string
	QueryID     int64
	State       State
	Type        string
	Message     string
	Line        int
	Column      int
}

func (e *ResultError) Error() string {
	switch {
	case e.Message != "" && e.Line > 0:
		return fmt.Sprintf("dune: execution %s %s: %s: %s (line %d, column %d)", e.ExecutionID, e.State, e.Type, e.Message, e.Line, e.Column)
	case e.Message != "":
		return fmt.Sprintf("dune: execution %s %s: %s: %s", e.ExecutionID, e.State, e.Type, e.Message)
	default:
		return fmt.Sprintf("dune: execution %s ended in state %s", e.ExecutionID, e.State)
	}
}

// ValidationError reports options rejected before any request was sent.
type ValidationError struct {
	Field  string
	Reason string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("dune: invalid %s: %s", e.Field, e.Reason)
}

// ErrBodyTooLarge is returned (wrapped) when a response exceeds the client's
// body-size guard.
var ErrBodyTooLarge = errors.New("dune: response body exceeds the size limit")

// ErrMalformedResponse is returned (wrapped) when a 2xx body cannot be decoded
// or breaks Dune's documented presence rules.
var ErrMalformedResponse = errors.New("dune: malformed response")

// ErrMissingAPIKey is returned, before any request is sent, when neither the
// request context (WithAPIKey) nor Config.APIKey provides a Dune API key.
var ErrMissingAPIKey = errors.New("dune: no API key: set DUNE_API_KEY or send a per-request key")
