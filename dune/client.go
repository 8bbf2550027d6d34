// Package dune is a client for Dune Analytics' results API: the latest result
// of a saved query and the results of one execution, with every
// post-processing parameter (limit, offset, columns, filters, sort_by,
// sample_count, allow_partial_results, query parameters), typed errors,
// retries and a streaming decoder that keeps numbers exact; and for its
// execution endpoints (execute.go): run a saved query, read an execution's
// status, cancel it.
//
// It knows nothing about MCP.
//
// What the result methods (GetLatestResult, GetExecutionResult) return:
//   - COMPLETED and COMPLETED_PARTIAL: a *Result with HasResult, Columns
//     (column_names order, column_types when Dune sends them) and Rows; a
//     missing result object is ErrMalformedResponse.
//   - any other state (PENDING, EXECUTING, FAILED, CANCELLED, EXPIRED, or
//     one this client does not know, see State.Known): the *Result (state,
//     timestamps, whatever result object came with it and, for FAILED,
//     Result.Error) together with a non-nil *ResultError naming the state,
//     so callers that only check err stop there and callers that want the
//     details have them. Status.Err applies the same rule to a status.
//   - non-2xx answers: *APIError (errors.As); options the client refuses:
//     *ValidationError, no request sent; no key: ErrMissingAPIKey, no
//     request sent; a cancelled context: an error wrapping ctx.Err();
//     no answer at all (DNS, refused connection, TLS, reset): *NetError,
//     which names the host.
//
// Pagination: the client never follows Dune's next_uri (it would be a URL
// chosen by the server, possibly with credentials in it); Result.NextOffset
// is the offset to pass in Options for the next page.
package dune

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/internal/clip"
	"github.com/dune-mcp/dune-mcp/internal/clock"
)

// DefaultBaseURL is Dune's API host; the client appends /api/v1/....
const DefaultBaseURL = "https://api.dune.com"

// Defaults applied by NewClient to zero fields of Config and RetryPolicy.
const (
	DefaultRequestTimeout = 60 * time.Second
	DefaultMaxBodyBytes   = 256 << 20
	DefaultMaxAttempts    = 4
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
	DefaultMaxElapsed     = 45 * time.Second
	DefaultUserAgent      = "dune-mcp"
)

// maxErrorMessage bounds Dune's error text kept in an APIError (runes).
const maxErrorMessage = 500

// maxErrorBody bounds how much of an error response body is read.
const maxErrorBody = 64 << 10

// Config configures a Client. Zero values pick sensible defaults.
type Config struct {
	// BaseURL is the API host, default DefaultBaseURL. The client appends
	// /api/v1/...; a trailing "/api" or "/api/v1" (as Dune's docs write the
	// base URL) is accepted and dropped.
	BaseURL string
	// APIKey is sent in the X-Dune-Api-Key header, never in a URL. A key set
	// on the request context with WithAPIKey takes precedence.
	APIKey string
	// HTTPClient is the transport; default a client with no overall timeout
	// (RequestTimeout bounds each attempt). The client works on a copy that
	// never follows redirects, since the key header would travel with them.
	HTTPClient *http.Client
	// RequestTimeout bounds one HTTP attempt, body decoding included,
	// default 60s. The schedule (attemptTimeout in retry.go) makes an
	// attempt's deadline nearer: an attempt that may be retried gets at
	// most half of what is left of the call's budget.
	RequestTimeout time.Duration
	// MaxBodyBytes caps the body guard of every answer, default 256 MiB. A
	// results answer has its own, smaller guard sized from its request
	// (see the memory design in budget.go).
	MaxBodyBytes int64
	// MaxUpstreamMemory is the process-wide budget of the memory upstream
	// answers occupy, shared by the client's calls, default
	// DefaultMaxUpstreamMemory (see the memory design in budget.go).
	MaxUpstreamMemory int64
	// Retry is the retry policy for 429/502/503/504 and transient network errors.
	Retry RetryPolicy
	// UserAgent is sent on every request, default DefaultUserAgent.
	UserAgent string
	// Logger receives one debug line per attempt and per retry wait
	// (endpoint path, status, duration, bytes; never the key or the query
	// string). The zero value is disabled.
	Logger zerolog.Logger
	// Limiter, if set, paces every HTTP attempt under Dune's rate limits
	// and reads the RateLimit headers of the answers (ratelimit.go).
	Limiter Limiter
	// Observe, if set, is told of every HTTP attempt (for metrics).
	Observe func(Exchange)
}

// redacted replaces the API key in printed configurations and in
// server-supplied text (scrub).
const redacted = "[redacted]"

// configView is Config as printed and marshalled: the key redacted, the
// HTTP client and logger left out.
type configView struct {
	BaseURL           string
	APIKey            string
	RequestTimeout    time.Duration
	MaxBodyBytes      int64
	MaxUpstreamMemory int64
	Retry             RetryPolicy
	UserAgent         string
}

func (c Config) view() configView {
	v := configView{BaseURL: c.BaseURL, RequestTimeout: c.RequestTimeout, MaxBodyBytes: c.MaxBodyBytes, MaxUpstreamMemory: c.MaxUpstreamMemory, Retry: c.Retry, UserAgent: c.UserAgent}
	if c.APIKey != "" {
		v.APIKey = redacted
	}
	return v
}

// String implements fmt.Stringer (used by %v and %+v) with the API key
// redacted.
func (c Config) String() string { return fmt.Sprintf("dune.Config%+v", c.view()) }

// GoString implements fmt.GoStringer (used by %#v) with the API key
// redacted.
func (c Config) GoString() string { return c.String() }

// MarshalJSON implements json.Marshaler (used by loggers such as zerolog's
// Interface) with the API key redacted; HTTPClient and Logger are left out.
func (c Config) MarshalJSON() ([]byte, error) { return json.Marshal(c.view()) }

// RetryPolicy bounds retries. Zero values pick defaults.
type RetryPolicy struct {
	// MaxAttempts counts the first try, default 4. 1 disables retries.
	MaxAttempts int
	// InitialBackoff is the first wait, default 500ms; doubled per attempt with jitter.
	InitialBackoff time.Duration
	// MaxBackoff caps one wait, default 10s. A longer Retry-After gives up.
	MaxBackoff time.Duration
	// MaxElapsed caps the total time of one call, attempts and waits
	// included, default 45s; the context's deadline, when nearer, caps it
	// too. Each attempt but the last gets at most half of what remains (at
	// least MinAttemptTimeout), so a stalled attempt leaves room for a
	// retry; a wait that would end past the budget gives up instead.
	MaxElapsed time.Duration
}

// Client talks to Dune's API. It is safe for concurrent use.
type Client struct {
	cfg  Config
	base string
	http *http.Client
	log  zerolog.Logger
	mem  *MemoryBudget

	// Seams for tests.
	now    func() time.Time
	sleep  func(ctx context.Context, d time.Duration) error
	jitter func(d time.Duration) time.Duration // uniform in [0, d)
}

// positiveOr sets *v to def unless it is positive (zero and negative
// settings mean "the default").
func positiveOr[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

// NewClient returns a client for cfg.
func NewClient(cfg Config) *Client {
	cfg.BaseURL = cmp.Or(cfg.BaseURL, DefaultBaseURL)
	cfg.UserAgent = cmp.Or(cfg.UserAgent, DefaultUserAgent)
	positiveOr(&cfg.RequestTimeout, DefaultRequestTimeout)
	positiveOr(&cfg.MaxBodyBytes, DefaultMaxBodyBytes)
	positiveOr(&cfg.MaxUpstreamMemory, DefaultMaxUpstreamMemory)
	r := &cfg.Retry
	positiveOr(&r.MaxAttempts, DefaultMaxAttempts)
	positiveOr(&r.InitialBackoff, DefaultInitialBackoff)
	positiveOr(&r.MaxBackoff, DefaultMaxBackoff)
	positiveOr(&r.MaxElapsed, DefaultMaxElapsed)
	hc := &http.Client{}
	if cfg.HTTPClient != nil {
		*hc = *cfg.HTTPClient
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	hc.Transport = hookTransport(hc.Transport, cfg)
	return &Client{
		cfg:   cfg,
		base:  normalizeBase(cfg.BaseURL),
		http:  hc,
		log:   cfg.Logger,
		mem:   NewMemoryBudget(cfg.MaxUpstreamMemory),
		now:   time.Now,
		sleep: clock.Sleep,
		jitter: func(d time.Duration) time.Duration {
			if d <= 0 {
				return 0
			}
			return rand.N(d)
		},
	}
}

// MemoryBudget returns the budget of upstream answer memory the client's
// calls share.
func (c *Client) MemoryBudget() *MemoryBudget { return c.mem }

// GetLatestResult fetches a page of the latest completed execution of a saved
// query: GET /api/v1/query/{queryID}/results. It does not run the query.
// Options.QueryParameters select the latest result run with those values.
func (c *Client) GetLatestResult(ctx context.Context, queryID int64, opts Options) (*Result, error) {
	if err := checkQueryID(queryID); err != nil {
		return nil, err
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return c.get(ctx, "/api/v1/query/"+strconv.FormatInt(queryID, 10)+"/results", opts, answerWant{queryID: queryID, columns: opts.Columns})
}

// GetExecutionResult fetches a page of one execution's results:
// GET /api/v1/execution/{executionID}/results. Query parameters are refused
// (Dune only honours them on the latest-result endpoint).
func (c *Client) GetExecutionResult(ctx context.Context, executionID string, opts Options) (*Result, error) {
	if err := checkExecutionID(executionID); err != nil {
		return nil, err
	}
	if len(opts.QueryParameters) > 0 {
		return nil, &ValidationError{Field: "query_parameters", Reason: "only the latest result of a query can be selected by parameters, not an execution's"}
	}
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	return c.get(ctx, "/api/v1/execution/"+executionID+"/results", opts, answerWant{executionID: executionID, columns: opts.Columns})
}

// get fetches one results page with the retry loop.
func (c *Client) get(ctx context.Context, path string, opts Options, want answerWant) (*Result, error) {
	maxBody := guardFor(opts, min(c.cfg.MaxBodyBytes, c.mem.Size()))
	cl := call{method: http.MethodGet, path: path, query: opts.values(), maxBody: maxBody, reserve: min(estimateFor(opts), maxBody), tooLarge: "; ask for fewer rows or columns"}
	res, err := do(ctx, c, cl, c.resultDecoder(path, want, earlyRowsFrom(ctx)))
	if me := (*MismatchError)(nil); errors.As(err, &me) {
		return nil, err // an answer to another request is never handed out
	}
	return res, err
}

// resultDecoder reads a results page: rows counted in the usage, strings
// scrubbed, the answer checked against the request (want), states checked.
func (c *Client) resultDecoder(path string, want answerWant, early *earlyRows) decoder[*Result] {
	return decoder[*Result]{
		decode: func(r io.Reader) (*Result, error) {
			res := &Result{}
			notes, err := decodeResultNotes(r, res, early)
			if err != nil {
				return nil, err
			}
			if notes.declaredRowCount >= 0 {
				c.log.Debug().Str("endpoint", path).Int("row_count", notes.declaredRowCount).Int("rows", len(res.Rows)).Msg("dune row_count disagrees with the rows; using the rows")
			}
			return res, nil
		},
		check: func(ctx context.Context, res *Result, key string, bodyBytes int64) error {
			res.BodyBytes = bodyBytes
			if usage := UsageFrom(ctx); usage != nil {
				usage.Rows.Add(int64(len(res.Rows)))
				usage.Datapoints.Add(int64(max(res.Metadata.DatapointCount, len(res.Rows)*len(res.Columns)))) // a missing datapoint_count still costs
			}
			scrubResult(res, key)
			if err := want.check(res, http.MethodGet+" "+path, key); err != nil {
				return err
			}
			return checkState(res)
		},
		keep: func(res *Result, r *reservation) { keep(r, res) },
	}
}

// Bounds (runes) of server-supplied strings kept in a Result and its errors.
const (
	maxIDText        = 128
	maxErrorTypeText = 200
	maxExecErrorText = 4000
)

// scrubResult removes the key from, and bounds, the server-supplied strings
// of res that can reach an error or be shown: a server (or a proxy) echoing
// the request must not leak the key through them. Rows are data and are
// left alone.
func scrubResult(res *Result, key string) {
	scrubExecution(&res.ExecutionID, &res.State, res.Error, key)
}

// scrubExecution is scrubResult for the fields every execution answer
// (results, status, execute) shares.
func scrubExecution(id *string, state *State, e *ExecutionErrorInfo, key string) {
	*id = scrub(*id, key, maxIDText)
	if !state.Known() {
		*state = State(scrub(string(*state), key, maxIDText))
	}
	if e != nil {
		e.Type = scrub(e.Type, key, maxErrorTypeText)
		e.Message = scrub(e.Message, key, maxExecErrorText)
	}
}

// checkState applies Dune's presence rules to a decoded 2xx answer, whose
// strings scrubResult has cleaned: a result is usable only when COMPLETED
// (or COMPLETED_PARTIAL) with a result; any other state, finished or not, is a
// *ResultError that says which (stateError).
func checkState(res *Result) error {
	if err := stateError(res.ExecutionID, res.QueryID, res.State, res.Error); err != nil {
		return err
	}
	if !res.HasResult {
		return fmt.Errorf("%w: state %s without a result", ErrMalformedResponse, res.State)
	}
	return nil
}

// stateError is the one state rule, shared by results (checkState) and
// Status.Err: nil for COMPLETED and COMPLETED_PARTIAL, else a *ResultError
// naming the state, with Dune's error details when it sent some.
func stateError(executionID string, queryID int64, state State, e *ExecutionErrorInfo) error {
	switch state {
	case StateCompleted, StateCompletedPartial:
		return nil
	}
	re := &ResultError{ExecutionID: executionID, QueryID: queryID, State: state}
	if e != nil {
		re.Type, re.Message, re.Line, re.Column = e.Type, e.Message, e.Line, e.Column
	}
	return re
}

// kindByStatus classifies the statuses whose kind does not depend on Dune's
// message.
var kindByStatus = map[int]ErrorKind{
	http.StatusUnauthorized:    KindInvalidKey,
	http.StatusPaymentRequired: KindPayment,
	http.StatusForbidden:       KindForbidden,
	http.StatusNotFound:        KindNotFound,
	http.StatusTooManyRequests: KindRateLimited,
	http.StatusBadRequest:      KindBadRequest,
}

// kindOf classifies a non-2xx answer by its status and Dune's message.
func kindOf(code int, msg string) ErrorKind {
	lower := strings.ToLower(msg)
	switch {
	case code == http.StatusPaymentRequired && strings.Contains(lower, "per request"):
		return KindCreditsPerRequest
	case code == http.StatusBadRequest && strings.Contains(lower, "partial result"):
		return KindPartialResult
	case code >= 500:
		return KindServer
	}
	if k, ok := kindByStatus[code]; ok {
		return k
	}
	return KindOther
}

// apiError builds the error for a non-2xx answer (RetryAfter is set by the
// caller).
func (c *Client) apiError(resp *http.Response, body io.Reader, path, key string) *APIError {
	ae := &APIError{StatusCode: resp.StatusCode, Endpoint: path}
	b, _ := io.ReadAll(io.LimitReader(body, maxErrorBody))
	var env struct {
		Error any `json:"error"`
	}
	msg := ""
	if t := strings.TrimSpace(string(b)); strings.HasPrefix(t, "{") && json.Unmarshal(b, &env) == nil && env.Error != nil {
		if s, ok := env.Error.(string); ok {
			msg = s
		} else {
			msg = fmt.Sprint(env.Error)
		}
	} else if isText(b) {
		msg = string(b)
	}
	msg = scrub(strings.Join(strings.Fields(msg), " "), key, maxErrorMessage)
	if msg == "" {
		msg = http.StatusText(resp.StatusCode)
	}
	ae.Message = msg
	ae.Kind = kindOf(resp.StatusCode, msg)
	return ae
}

// scrub removes key from s and bounds s to max runes (clip.Runes: a cut
// ends with "…", counted in max).
func scrub(s, key string, max int) string {
	if key != "" {
		s = strings.ReplaceAll(s, key, redacted)
	}
	return clip.Runes(s, max)
}

// isText reports whether b looks like a short human-readable message rather
// than an HTML page or binary.
func isText(b []byte) bool {
	s := strings.TrimSpace(string(b))
	if s == "" || strings.HasPrefix(s, "<") {
		return false
	}
	for _, r := range s {
		if r == '\uFFFD' || (r < 0x20 && r != '\n' && r != '\r' && r != '\t') {
			return false
		}
	}
	return true
}

// bodyReader counts bytes, enforces the size guard and remembers the first
// read error, so that a decoding failure can be told apart from a network
// one. It is the decoder's heapMeter: what the decoded answer occupies is
// charged to the reservation as it grows.
type bodyReader struct {
	r   io.Reader
	n   int64
	max int64
	err error
	res *reservation // nil: the answer is not counted in the memory budget
}

func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if rest := b.max - b.n + 1; int64(len(p)) > rest {
		p = p[:rest]
	}
	n, err := b.r.Read(p)
	b.n += int64(n)
	if b.n > b.max {
		b.err = ErrBodyTooLarge
		return n, b.err
	}
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

// occupied charges n bytes, what the answer decoded so far occupies, to the
// reservation (heapMeter).
func (b *bodyReader) occupied(n int64) error {
	if b.res == nil {
		return nil
	}
	if err := b.res.cover(n); err != nil {
		b.err = err
		return err
	}
	return nil
}

// normalizeBase drops trailing slashes and a trailing /api or /api/v1, so
// both "https://api.dune.com" and Dune's documented "https://api.dune.com/api"
// work.
func normalizeBase(base string) string {
	base = strings.TrimRight(base, "/")
	for _, suffix := range []string{"/api/v1", "/api"} {
		if strings.HasSuffix(base, suffix) {
			return strings.TrimSuffix(base, suffix)
		}
	}
	return base
}
