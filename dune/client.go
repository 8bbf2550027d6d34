// Package dune is a client for Dune Analytics' results API: the latest result
// of a saved query and the results of one execution, with every
// post-processing parameter (limit, offset, columns, filters, sort_by,
// sample_count, allow_partial_results, query parameters), typed errors,
// retries and a streaming decoder that keeps numbers exact.
//
// It knows nothing about MCP.
package dune

import (
	"context"
	"errors"
	"net/http"
	"time"
)

// DefaultBaseURL is Dune's API host; the client appends /api/v1/....
const DefaultBaseURL = "https://api.dune.com"

// Config configures a Client. Zero values pick sensible defaults.
type Config struct {
	// BaseURL is the API host, default DefaultBaseURL.
	BaseURL string
	// APIKey is sent in the X-Dune-Api-Key header, never in a URL. A key set
	// on the request context with WithAPIKey takes precedence.
	APIKey string
	// HTTPClient is the transport; default a client with no overall timeout
	// (RequestTimeout bounds each attempt).
	HTTPClient *http.Client
	// RequestTimeout bounds one HTTP attempt, default 60s.
	RequestTimeout time.Duration
	// MaxBodyBytes guards against huge bodies, default 256 MiB.
	MaxBodyBytes int64
	// Retry is the retry policy for 429/502/503/504 and transient network errors.
	Retry RetryPolicy
	// UserAgent is sent on every request.
	UserAgent string
}

// RetryPolicy bounds retries. Zero values pick defaults.
type RetryPolicy struct {
	// MaxAttempts counts the first try, default 4. 1 disables retries.
	MaxAttempts int
	// InitialBackoff is the first wait, default 500ms; doubled per attempt with jitter.
	InitialBackoff time.Duration
	// MaxBackoff caps one wait, default 10s. A longer Retry-After gives up.
	MaxBackoff time.Duration
	// MaxElapsed caps the total time spent retrying, default 45s.
	MaxElapsed time.Duration
}

// Client talks to Dune's results API. It is safe for concurrent use.
type Client struct {
	cfg Config
}

// NewClient returns a client for cfg.
func NewClient(cfg Config) *Client {
	return &Client{cfg: cfg}
}

// GetLatestResult fetches a page of the latest completed execution of a saved
// query: GET /api/v1/query/{queryID}/results. It does not run the query.
func (c *Client) GetLatestResult(ctx context.Context, queryID int64, opts Options) (*Result, error) {
	return nil, errors.New("dune: not implemented")
}

// GetExecutionResult fetches a page of one execution's results:
// GET /api/v1/execution/{executionID}/results.
func (c *Client) GetExecutionResult(ctx context.Context, executionID string, opts Options) (*Result, error) {
	return nil, errors.New("dune: not implemented")
}
