package dune

import (
	"context"
	"sync/atomic"
)

type apiKeyCtxKey struct{}

// WithAPIKey returns a context whose requests authenticate with key instead
// of the client's configured key (per-user keys over HTTP).
func WithAPIKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, apiKeyCtxKey{}, key)
}

// APIKeyFrom returns the key set with WithAPIKey, if any.
func APIKeyFrom(ctx context.Context) (string, bool) {
	k, ok := ctx.Value(apiKeyCtxKey{}).(string)
	return k, ok && k != ""
}

// Usage counts what requests made under one context cost upstream. It is
// safe for concurrent use.
type Usage struct {
	Requests   atomic.Int64 // HTTP attempts, retries included
	Rows       atomic.Int64 // rows decoded
	Datapoints atomic.Int64 // Dune datapoint_count summed over successful pages
	Bytes      atomic.Int64 // response body bytes read
	Executions atomic.Int64 // executions started: ExecuteQuery answers with an execution id
}

type usageCtxKey struct{}

// WithUsage returns a context that records upstream usage into a new Usage.
func WithUsage(ctx context.Context) (context.Context, *Usage) {
	u := &Usage{}
	return context.WithValue(ctx, usageCtxKey{}, u), u
}

// UsageFrom returns the Usage recorder of ctx, or nil.
func UsageFrom(ctx context.Context) *Usage {
	u, _ := ctx.Value(usageCtxKey{}).(*Usage)
	return u
}
