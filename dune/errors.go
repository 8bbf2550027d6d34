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
	// KindInvalidKey: 401, the API key is missing, wrong or revoked.
	KindInvalidKey ErrorKind = "invalid_api_key"
	// KindPayment: 402 for the account's credits, typically the limit
	// configured per billing cycle ("…limits per billing cycle…"); only the
	// dune.com settings (or the next cycle) fix it.
	KindPayment ErrorKind = "credits_exhausted"
	// KindCreditsPerRequest: 402 whose message mentions "per request": this
	// one request would cost more than the per-request credit cap. Asking
	// for less (columns, filters, a smaller limit) or setting
	// Options.IgnoreMaxCreditsPerRequest fixes it.
	KindCreditsPerRequest ErrorKind = "credits_per_request"
	// KindForbidden: 403, e.g. an archived or unsaved query, or missing
	// permissions.
	KindForbidden ErrorKind = "forbidden"
	// KindNotFound: 404, a missing or private query, an unknown execution,
	// or no result for the given query parameters.
	KindNotFound ErrorKind = "not_found"
	// KindRateLimited: 429; APIError.RetryAfter says when to come back.
	KindRateLimited ErrorKind = "rate_limited"
	// KindPartialResult: 400, the result was truncated for size and
	// Options.AllowPartialResults is needed to read it.
	KindPartialResult ErrorKind = "partial_result"
	// KindBadRequest: any other 400, e.g. a bad filter, sort_by, column or
	// execution id.
	KindBadRequest ErrorKind = "bad_request"
	// KindServer: 5xx.
	KindServer ErrorKind = "server_error"
	// KindOther: any other non-2xx status (e.g. a redirect, which the client
	// never follows).
	KindOther ErrorKind = "http_error"
)

// APIError is a non-2xx answer from Dune.
type APIError struct {
	// StatusCode is the HTTP status.
	StatusCode int
	// Kind classifies the failure.
	Kind ErrorKind
	// Message is Dune's own "error" text (whitespace collapsed, at most 500
	// characters, the key removed), or the status text when Dune gave none.
	Message string
	// RetryAfter is how long Dune asked us to wait (429), zero if unknown.
	RetryAfter time.Duration
	// Endpoint is the request path without query string, e.g. /api/v1/query/1/results.
	Endpoint string
}

// Error returns "dune: <kind> (HTTP <status>) on <endpoint>: <message>",
// followed by the wait when Dune asked for one.
func (e *APIError) Error() string {
	if e.RetryAfter > 0 {
		return fmt.Sprintf("dune: %s (HTTP %d) on %s: %s (retry after %s)", e.Kind, e.StatusCode, e.Endpoint, e.Message, e.RetryAfter)
	}
	return fmt.Sprintf("dune: %s (HTTP %d) on %s: %s", e.Kind, e.StatusCode, e.Endpoint, e.Message)
}

// ResultError reports an execution without a usable result: one that ended
// FAILED, CANCELLED or EXPIRED, one still PENDING or EXECUTING, or one in a
// state this client does not know. Its strings come from the server and are
// bounded, with the API key removed.
type ResultError struct {
	// ExecutionID is the execution that ended (at most 128 characters).
	ExecutionID string
	// QueryID is the query it ran, 0 if Dune did not say.
	QueryID int64
	// State is the execution's state (never COMPLETED or COMPLETED_PARTIAL).
	State State
	// Type is Dune's error type for FAILED, e.g. FAILED_TYPE_EXECUTION_FAILED.
	Type string
	// Message is Dune's error message for FAILED (at most 4000 characters).
	Message string
	// Line and Column locate the error in the query's SQL, 0 if unknown.
	Line   int
	Column int
}

// Error returns "dune: execution <id> <state>: <type>: <message>" (with the
// position when known), or "dune: execution <id> is in state <state>"
// when Dune gave no message.
func (e *ResultError) Error() string {
	switch {
	case e.Message != "" && e.Line > 0:
		return fmt.Sprintf("dune: execution %s %s: %s: %s (line %d, column %d)", e.ExecutionID, e.State, e.Type, e.Message, e.Line, e.Column)
	case e.Message != "":
		return fmt.Sprintf("dune: execution %s %s: %s: %s", e.ExecutionID, e.State, e.Type, e.Message)
	default:
		return fmt.Sprintf("dune: execution %s is in state %s", e.ExecutionID, e.State)
	}
}

// ValidationError reports options rejected before any request was sent.
type ValidationError struct {
	// Field is the JSON name of the rejected parameter, e.g. "limit".
	Field string
	// Reason says what is wrong with it, e.g. "must not be negative".
	Reason string
}

// Error returns "dune: invalid <field>: <reason>".
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
var ErrMissingAPIKey = errors.New("dune: no API key configured and none sent with the request")

// NetError is a request that got no HTTP answer: the name did not resolve,
// the connection was refused or reset, TLS failed. Err is the network
// error (errors.As finds *net.DNSError, *tls.CertificateVerificationError,
// syscall.ECONNREFUSED...); Host names the Dune API host it was sent to.
type NetError struct {
	// Host is the host[:port] of the base URL, e.g. api.dune.com.
	Host string
	// Where names the request: "GET /api/v1/query/1/results".
	Where string
	// Err is the network error, without the request URL.
	Err error
}

// Error returns "dune: <where>: <network error>".
func (e *NetError) Error() string { return fmt.Sprintf("dune: %s: %v", e.Where, e.Err) }

// Unwrap returns the network error.
func (e *NetError) Unwrap() error { return e.Err }

// MismatchError reports a 2xx answer that does not belong to the request:
// another query's result, another execution's rows, or columns other than
// the ones asked for (a misrouting proxy or cache between us and Dune). The
// answer is dropped: it is never shown as the asked query, merged with other
// rows or cached. It is not retried.
type MismatchError struct {
	// Field names what disagrees: "query_id", "execution_id" or "columns".
	Field string
	// Want is what the request asked for; Got is what the answer carried
	// (server-supplied, bounded, the key removed).
	Want, Got string
	// Where names the request: "GET /api/v1/query/1/results".
	Where string
}

// Error returns "dune: <where>: the answer is for <field> <got>, not the
// requested <want>".
func (e *MismatchError) Error() string {
	return fmt.Sprintf("dune: %s: the answer is for %s %s, not the requested %s", e.Where, e.Field, e.Got, e.Want)
}
