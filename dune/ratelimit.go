package dune

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Rate limits (spec section 7). Dune limits each API key per endpoint
// class: the write class (execute) and the read class (results, status,
// cancel), per minute, by plan. The client itself only classifies requests
// and calls the hooks of Config; the pacing lives behind the Limiter
// interface (package ratelimit), the counting behind Config.Observe.

// Class is Dune's rate-limit class of an endpoint, also the policy name of
// its RateLimit headers.
type Class string

// The two classes.
const (
	// ClassRead is the high-limit class: results, status, cancel.
	ClassRead Class = "read"
	// ClassWrite is the low-limit class: execute.
	ClassWrite Class = "write"
)

// Plan is a Dune API plan, which sets the rate limits of its keys.
type Plan string

// Plans.
const (
	PlanFree       Plan = "free"
	PlanPlus       Plan = "plus"
	PlanPremium    Plan = "premium"
	PlanEnterprise Plan = "enterprise"
)

// Plans lists the plans in order, for help and error texts.
var Plans = []Plan{PlanFree, PlanPlus, PlanPremium, PlanEnterprise}

// RateWindow is the window of Dune's published limits: requests per minute.
const RateWindow = time.Minute

// Quota is how many requests a plan allows per RateWindow in each class.
type Quota struct {
	Read, Write int
}

// For returns the quota of class c.
func (q Quota) For(c Class) int {
	if c == ClassWrite {
		return q.Write
	}
	return q.Read
}

// PlanQuota returns the per-minute limits Dune publishes for p (DOC-rl):
// Free 15 write / 40 read, Plus 70/200, Premium 350/1000. Enterprise limits
// are custom, "350+ / 1000+": its quota is that floor, which Dune's
// RateLimit-Policy header then replaces with the key's own. ok is false for
// an unknown plan.
func PlanQuota(p Plan) (q Quota, ok bool) {
	switch p {
	case PlanFree:
		return Quota{Read: 40, Write: 15}, true
	case PlanPlus:
		return Quota{Read: 200, Write: 70}, true
	case PlanPremium, PlanEnterprise:
		return Quota{Read: 1000, Write: 350}, true
	}
	return Quota{}, false
}

// ClassOf returns the rate-limit class of a request: POST …/execute is
// write, everything else this client sends is read.
func ClassOf(method, path string) Class {
	if method == http.MethodPost && strings.HasSuffix(path, "/execute") {
		return ClassWrite
	}
	return ClassRead
}

// EndpointOf names the endpoint of an API path for metrics and logs, without
// ids: query_results, execution_results, execute, status, cancel, or other.
func EndpointOf(path string) string {
	parts := strings.Split(strings.TrimPrefix(path, "/api/v1/"), "/")
	if len(parts) < 3 {
		return "other"
	}
	switch parts[0] + "/" + parts[2] {
	case "query/results":
		return "query_results"
	case "execution/results":
		return "execution_results"
	case "query/execute":
		return "execute"
	case "execution/status":
		return "status"
	case "execution/cancel":
		return "cancel"
	}
	return "other"
}

// KeyFingerprint names an API key without revealing it: the first 16 hex
// digits of its SHA-256. Every replica computes the same one, so it can
// name a shared bucket.
func KeyFingerprint(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:8])
}

// Request is what the hooks are told about one HTTP attempt.
type Request struct {
	Class Class
	// Endpoint is EndpointOf the path.
	Endpoint string
	// Key is KeyFingerprint of the API key the attempt is sent with.
	Key string
}

// Limiter paces the requests to Dune. The client calls Wait before every
// HTTP attempt (retries included) and Observe after each.
type Limiter interface {
	// Wait returns when the attempt may be sent, or an error if it must
	// not be: a *ThrottledError when the wait would outlast ctx's deadline,
	// or ctx's error. Nothing is sent after an error.
	Wait(ctx context.Context, r Request) error
	// Observe is told the answer's status and headers (Dune's RateLimit,
	// RateLimit-Policy and Retry-After), status 0 and nil headers when
	// there was no answer.
	Observe(r Request, status int, h http.Header)
}

// Exchange is one HTTP attempt, for Config.Observe.
type Exchange struct {
	Request
	// Status is the HTTP status, 0 when no answer came (or the limiter
	// held the request back: Throttled).
	Status int
	// Duration is the time from sending to the answer's headers.
	Duration time.Duration
	// Throttled is set when the Limiter refused to send the request.
	Throttled bool
}

// ThrottledError is a request the Limiter did not send: waiting for a slot
// under the rate limit would outlast the call's deadline. RetryAfter says
// when a slot is expected.
type ThrottledError struct {
	Class Class
	// RetryAfter is how long until the request could be sent.
	RetryAfter time.Duration
	// Limit is the limit in force, requests per Window (0 if unknown).
	Limit  int
	Window time.Duration
}

// Error says which limit held the request back and for how long.
func (e *ThrottledError) Error() string {
	return fmt.Sprintf("dune: holding %s requests under the rate limit (%d per %s): the next slot is in %s, past the deadline",
		e.Class, e.Limit, e.Window, e.RetryAfter.Round(100*time.Millisecond))
}

// hooked is the transport that calls Config.Limiter and Config.Observe
// around every attempt.
type hooked struct {
	next    http.RoundTripper
	limiter Limiter
	observe func(Exchange)
}

// hookTransport wraps rt with the hooks of cfg; rt itself when there are none.
func hookTransport(rt http.RoundTripper, cfg Config) http.RoundTripper {
	if cfg.Limiter == nil && cfg.Observe == nil {
		return rt
	}
	if rt == nil {
		rt = http.DefaultTransport
	}
	return &hooked{next: rt, limiter: cfg.Limiter, observe: cfg.Observe}
}

// RoundTrip waits for the limiter, sends, and reports the answer. A refusal
// of the limiter is returned as a failed dial (a *net.OpError with Op
// "dial"): the retry loop then knows that nothing was sent, which matters
// for a request that must not run twice (execute).
func (h *hooked) RoundTrip(req *http.Request) (*http.Response, error) {
	r := Request{Class: ClassOf(req.Method, req.URL.Path), Endpoint: EndpointOf(req.URL.Path), Key: KeyFingerprint(req.Header.Get("X-Dune-Api-Key"))}
	if h.limiter != nil {
		if err := h.limiter.Wait(req.Context(), r); err != nil {
			if h.observe != nil {
				h.observe(Exchange{Request: r, Throttled: true})
			}
			return nil, &net.OpError{Op: "dial", Net: "tcp", Err: err}
		}
	}
	began := time.Now()
	resp, err := h.next.RoundTrip(req)
	status, header := 0, http.Header(nil)
	if err == nil {
		status, header = resp.StatusCode, resp.Header
	}
	if h.limiter != nil {
		h.limiter.Observe(r, status, header)
	}
	if h.observe != nil {
		h.observe(Exchange{Request: r, Status: status, Duration: time.Since(began)})
	}
	return resp, err
}

// RateLimitPolicy is one entry of Dune's RateLimit-Policy header,
// `"read";q=40;w=60`: Quota requests per Window for the named policy.
type RateLimitPolicy struct {
	Name   string
	Quota  int
	Window time.Duration
}

// RateLimitState is one entry of Dune's RateLimit header,
// `"read";r=0;t=30`: Remaining requests until Reset.
type RateLimitState struct {
	Name      string
	Remaining int
	Reset     time.Duration
}

// ParseRateLimitPolicy reads the entries of RateLimit-Policy headers; entries
// without a positive quota and window are skipped.
func ParseRateLimitPolicy(h http.Header) []RateLimitPolicy {
	var out []RateLimitPolicy
	for _, e := range rateLimitEntries(h.Values("RateLimit-Policy")) {
		q, w := e.params["q"], e.params["w"]
		if q > 0 && w > 0 {
			out = append(out, RateLimitPolicy{Name: e.name, Quota: int(min(q, 1<<30)), Window: clampWait(w)})
		}
	}
	return out
}

// ParseRateLimit reads the entries of RateLimit headers; entries without r
// and t are skipped.
func ParseRateLimit(h http.Header) []RateLimitState {
	var out []RateLimitState
	for _, e := range rateLimitEntries(h.Values("RateLimit")) {
		r, okR := e.params["r"]
		t, okT := e.params["t"]
		if okR && okT && r >= 0 && t >= 0 {
			out = append(out, RateLimitState{Name: e.name, Remaining: int(min(r, 1<<30)), Reset: clampWait(t)})
		}
	}
	return out
}

type rateLimitEntry struct {
	name   string
	params map[string]int64
}

// rateLimitEntries splits IETF RateLimit fields into entries: a quoted (or
// bare) policy name, then ;key=integer parameters.
func rateLimitEntries(values []string) []rateLimitEntry {
	var out []rateLimitEntry
	for _, v := range values {
		for entry := range strings.SplitSeq(v, ",") {
			parts := strings.Split(entry, ";")
			e := rateLimitEntry{name: strings.Trim(strings.TrimSpace(parts[0]), `"`), params: map[string]int64{}}
			for _, p := range parts[1:] {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok {
					continue
				}
				if n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64); err == nil {
					e.params[strings.TrimSpace(k)] = n
				}
			}
			if e.name != "" {
				out = append(out, e)
			}
		}
	}
	return out
}
