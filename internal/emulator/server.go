package emulator

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/dune-mcp/dune-mcp/dune"
)

// DefaultAPIKey is the key the emulator accepts unless WithAPIKey is given.
const DefaultAPIKey = "dunetest-key"

// Dune's error texts (spec section 6.1).
const (
	MsgInvalidKey        = "invalid API Key"
	MsgQueryNotFound     = "Query not found"
	MsgBillingCycle      = "This api request would exceed your configured limits per billing cycle. Please visit your settings on dune.com and adjust your limits to continue usage."
	MsgPerRequestCredits = "This api request would exceed your configured limits per request. Please visit your settings on dune.com and adjust your limits to continue usage."
	MsgPartialResult     = "Partial Result, please request with 'allows_partial_results=true'"
	MsgInternal          = "Internal error"
)

// Endpoint names used as Stats.ByEndpoint keys and accepted in Fault.Path.
const (
	EndpointQueryResults        = "query_results"
	EndpointExecutionResults    = "execution_results"
	EndpointQueryResultsCSV     = "query_results_csv"
	EndpointExecutionResultsCSV = "execution_results_csv"
)

// Option configures a Server.
type Option func(*config)

type config struct {
	keys          []string
	anyKey        bool
	maxPage       int
	seed          int64
	demo          bool
	maxDatapoints int
	clock         func() time.Time // nil: time.Now
	rateLimits    RateLimits       // WithRateLimits; zero: none
}

// WithAPIKey sets an accepted API key (header X-Dune-Api-Key or ?api_key=).
// Repeat it to accept several keys; once given, DefaultAPIKey is no longer
// accepted unless listed. An empty key turns authentication off.
func WithAPIKey(key string) Option {
	return func(c *config) {
		if key == "" {
			c.anyKey = true
			return
		}
		c.keys = append(c.keys, key)
	}
}

// WithMaxPageSize sets the silent cap on limit (default DefaultMaxPageSize).
func WithMaxPageSize(n int) Option { return func(c *config) { c.maxPage = n } }

// WithSeed seeds the sample_count RNG (default 1): the same seed and the same
// sequence of sampling requests give the same samples.
func WithSeed(seed int64) Option { return func(c *config) { c.seed = seed } }

// WithDemoData registers DemoQueries.
func WithDemoData() Option { return func(c *config) { c.demo = true } }

// WithMaxDatapointsPerRequest emulates Dune's per-request credit guard: a
// page with more than n datapoints (rows x columns) is refused with 402 and
// MsgPerRequestCredits unless ignore_max_credits_per_request=true (or the
// legacy ignore_max_datapoints_per_request=true) is sent. 0, the default,
// disables the guard.
func WithMaxDatapointsPerRequest(n int) Option { return func(c *config) { c.maxDatapoints = n } }

// Execution describes one execution of a query for AddExecution.
type Execution struct {
	// Dataset is the result (for COMPLETED_PARTIAL: the truncated rows).
	// nil serves Empty().
	Dataset *Dataset
	// State defaults to COMPLETED, or FAILED when Error is set.
	State dune.State
	// Params are the query parameter values this execution ran with;
	// params.<name>=<value> on /query/{id}/results selects by them.
	Params map[string]string
	// Error is the in-band error of a FAILED execution (a default
	// FAILED_TYPE_EXECUTION_FAILED error when nil).
	Error *dune.ExecutionErrorInfo
	// Partial marks a COMPLETED_PARTIAL result (same as State ==
	// dune.StateCompletedPartial).
	Partial bool
	// EndedAt is when the execution ended (default: now on the emulator's
	// clock, see WithClock; for EXPIRED 91 days ago); execution_started_at
	// and submitted_at are derived from it.
	// For PENDING it is the submission time, for EXECUTING the reference
	// the start time is derived from.
	EndedAt time.Time
}

// execution is a registered execution.
type execution struct {
	id          string
	queryID     int64
	state       dune.State
	params      map[string]string
	errInfo     *dune.ExecutionErrorInfo
	ds          *Dataset
	submittedAt time.Time
	startedAt   time.Time // zero: not started
	endedAt     time.Time // zero: not ended
	cancelledAt time.Time // zero: not cancelled
	expiresAt   time.Time
	pendingMS   int64
	execMS      int64
	run         *timeline // started with POST /execute; nil: static, from AddExecution
	queuePos    int       // queue_position, set by at for PENDING
	credits     int       // execution_cost_credits of a run
}

// Fault is an injected misbehaviour applied to the next Count matching
// requests (in injection order, one fault per request), before
// authentication. Latency is added first (abandoned if the client gives
// up); then the request fails with Status, or its body is truncated, or the
// connection is dropped; a fault with only Latency lets the request proceed
// normally.
type Fault struct {
	// Status is the HTTP status to answer (e.g. 429, 402, 500, 503), with
	// body {"error": Body}. Body defaults to Dune's text for 402
	// (MsgBillingCycle), 429, 500 and other statuses.
	Status int
	// RetryAfter is sent as Retry-After (whole seconds, rounded up) with 429
	// and 503; 0 omits the header.
	RetryAfter time.Duration
	// Count is how many requests the fault applies to; <= 0 means 1.
	Count int
	// Latency delays the response.
	Latency time.Duration
	// Truncate sends a 200 whose body stops halfway (the Content-Length
	// announces the full body) and closes the connection.
	Truncate bool
	// Drop closes the connection without answering. Note that Go's
	// http.Transport silently retries an idempotent request once when a
	// reused connection is closed before any response byte.
	Drop bool
	// Body is the error message for Status (e.g. MsgPerRequestCredits).
	Body string
	// Path restricts the fault: "" matches every API endpoint (results,
	// execute, status, cancel); an endpoint name (EndpointQueryResults,
	// EndpointExecute, ...) matches that endpoint;
	// anything else matches request paths starting with it.
	Path string
}

// MaxRawQueries bounds Stats.RawQueries so a long-running emulator does not
// grow without limit.
const MaxRawQueries = 10000

// MaxRawQueryBytes bounds each Stats.RawQueries entry; a longer query string
// is clipped and ends with "…".
const MaxRawQueryBytes = 4096

// Stats are the counters of a Server since start or the last ResetStats.
type Stats struct {
	// Requests counts every request received, faulted and rejected ones included.
	Requests int
	// ByEndpoint counts requests per endpoint name (EndpointQueryResults,
	// EndpointExecute, ...).
	ByEndpoint map[string]int
	// Executions counts the executions started with POST /execute, and
	// Credits the credits they cost (CreditsMedium or CreditsLarge each).
	Executions int
	Credits    int
	// RowsServed and DatapointsServed sum row_count and datapoint_count of
	// the pages answered (JSON and CSV).
	RowsServed       int
	DatapointsServed int
	// RateLimited counts the 429s answered for the rate limits
	// (WithRateLimits); injected faults are not counted.
	RateLimited int
	// RawQueries are the raw query strings received, in order, with the
	// api_key value replaced by REDACTED (at most the last MaxRawQueries,
	// each clipped to MaxRawQueryBytes).
	RawQueries []string
}

// Server is a Dune results API emulator listening on loopback.
type Server struct {
	// URL is the base URL, e.g. http://127.0.0.1:PORT; clients append /api/v1/....
	URL string

	cfg     config
	handler http.Handler
	hs      *http.Server
	served  chan struct{}

	mu      sync.Mutex
	queries map[int64][]*execution // executions in order of addition; last = latest
	execs   map[string]*execution
	faults  []*Fault
	latency time.Duration
	stats   Stats
	rng     *mrand.Rand
	entropy *ulid.MonotonicEntropy
	seq     int64

	profiles map[int64]Profile // SetProfile
	declared map[int64][]Param // SetParams

	cache orderCache

	rateLogs map[string][]time.Time // WithRateLimits: admission times per key and class (ratelimit.go)
}

// NewServer starts an emulator on 127.0.0.1 with a random port.
func NewServer(opts ...Option) *Server {
	s := NewUnstartedServer(opts...)
	s.Start()
	return s
}

// NewUnstartedServer returns an emulator that is not listening yet: call
// Start, or serve Handler on your own listener (see also Serve).
func NewUnstartedServer(opts ...Option) *Server {
	cfg := config{maxPage: DefaultMaxPageSize, seed: 1}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.maxPage <= 0 {
		cfg.maxPage = DefaultMaxPageSize
	}
	if len(cfg.keys) == 0 && !cfg.anyKey {
		cfg.keys = []string{DefaultAPIKey}
	}
	s := &Server{
		cfg:     cfg,
		queries: map[int64][]*execution{},
		execs:   map[string]*execution{},
		rng:     mrand.New(mrand.NewPCG(uint64(cfg.seed), 0x5eed)),
		entropy: ulid.Monotonic(rand.Reader, 0),
	}
	s.stats.ByEndpoint = map[string]int{}
	s.handler = http.HandlerFunc(s.serveHTTP)
	if cfg.demo {
		addDemoData(s)
	}
	return s
}

// Start starts a server from NewUnstartedServer on 127.0.0.1 with a random
// port and sets URL.
func (s *Server) Start() {
	if s.hs != nil {
		panic("emulator: Server already started")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(fmt.Sprintf("emulator: listen on loopback: %v", err))
	}
	s.hs = &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second}
	s.served = make(chan struct{})
	go func() {
		defer close(s.served)
		_ = s.hs.Serve(ln)
	}()
	s.URL = "http://" + ln.Addr().String()
}

// closeGrace is how long Close lets requests in flight finish before it
// drops their connections.
const closeGrace = time.Second

// Close shuts the server down: requests in flight get closeGrace to finish,
// then their connections are closed. It returns once the server has stopped.
func (s *Server) Close() {
	if s.hs == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), closeGrace)
	defer cancel()
	if s.hs.Shutdown(ctx) != nil {
		_ = s.hs.Close()
	}
	<-s.served
}

// Handler returns the emulator's HTTP handler (serves /api/v1/...).
func (s *Server) Handler() http.Handler { return s.handler }

// Serve serves the emulator on ln until ctx is done, then shuts down like
// Close: requests in flight get closeGrace to finish, then their connections
// are closed. Connections that never carried a request (a client's spare
// dials) are closed at once rather than waited on. It returns nil after a
// shutdown caused by ctx.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	var fresh freshConns
	hs := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ConnState: fresh.track}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("emulator: serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), closeGrace)
		defer cancel()
		shut := make(chan error, 1)
		go func() { shut <- hs.Shutdown(sctx) }()
		<-errc // the listener is closed: no new connection from here on
		// http.Server.Shutdown waits up to 5 s for a connection that has
		// not sent a request yet; none is owed an answer.
		fresh.closeAll()
		if <-shut != nil {
			_ = hs.Close() // a client that stays past the grace: not our wait
		}
		return nil
	}
}

// freshConns tracks the connections that have not started a request.
type freshConns struct {
	mu sync.Mutex
	m  map[net.Conn]bool
}

// track is an http.Server ConnState hook.
func (f *freshConns) track(c net.Conn, st http.ConnState) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil {
		f.m = map[net.Conn]bool{}
	}
	if st == http.StateNew {
		f.m[c] = true
	} else {
		delete(f.m, c)
	}
}

func (f *freshConns) closeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for c := range f.m {
		_ = c.Close()
		delete(f.m, c)
	}
}

// ListenAndServe runs an emulator configured by opts on addr (e.g.
// "127.0.0.1:9090") until ctx is done. Typical use, for the standalone
// `dune-mcp emulator` command:
//
//	err := emulator.ListenAndServe(ctx, addr, emulator.WithDemoData())
//
// Print Describe() to tell users what is served.
func ListenAndServe(ctx context.Context, addr string, opts ...Option) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("emulator: listen: %w", err)
	}
	return NewUnstartedServer(opts...).Serve(ctx, ln)
}

// newID mints a monotonic ULID that no execution has yet (a clock set before
// the demo epoch cannot reuse a demo id). Callers hold s.mu.
func (s *Server) newID(t time.Time) string {
	for {
		id := ulid.MustNew(ulid.Timestamp(t), s.entropy).String()
		if _, taken := s.execs[id]; !taken {
			return id
		}
	}
}

// AddQuery registers a new COMPLETED execution of queryID serving ds; it
// becomes the query's latest. It returns the execution id (a ULID).
func (s *Server) AddQuery(queryID int64, ds *Dataset) string {
	return s.AddExecution(queryID, Execution{Dataset: ds})
}

// Rerun is AddQuery: a new latest execution; earlier execution ids still
// serve their own rows.
func (s *Server) Rerun(queryID int64, ds *Dataset) string {
	return s.AddQuery(queryID, ds)
}

// AddExecution registers an execution of queryID in any state and makes it
// the query's latest. It returns the execution id (a ULID).
func (s *Server) AddExecution(queryID int64, e Execution) string {
	return s.addExecution(queryID, e, false)
}

// addExecution is AddExecution; demo gives the execution demoID's stable id
// instead of a random one.
func (s *Server) addExecution(queryID int64, e Execution, demo bool) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UTC()
	state := e.State
	switch {
	case e.Partial && (state == "" || state == dune.StateCompleted):
		state = dune.StateCompletedPartial
	case state == "" && e.Error != nil:
		state = dune.StateFailed
	case state == "":
		state = dune.StateCompleted
	}
	ds := e.Dataset
	if ds == nil {
		ds = Empty()
	}
	s.seq++
	x := &execution{
		queryID:   queryID,
		state:     state,
		params:    map[string]string{},
		ds:        ds,
		pendingMS: 15 + (s.seq*37)%400,
		execMS:    300 + int64(ds.Len())/40 + (s.seq*101)%700,
	}
	for k, v := range e.Params {
		x.params[k] = v
	}
	ended := e.EndedAt.UTC()
	if e.EndedAt.IsZero() {
		ended = now
		if state == dune.StateExpired {
			ended = now.Add(-91 * 24 * time.Hour)
		}
	}
	started := ended.Add(-time.Duration(x.execMS) * time.Millisecond)
	submitted := started.Add(-time.Duration(x.pendingMS) * time.Millisecond)
	switch state {
	case dune.StatePending:
		x.submittedAt = ended
		x.expiresAt = time.Unix(0, 0).UTC()
	case dune.StateExecuting:
		x.submittedAt = submitted
		x.startedAt = started
		x.expiresAt = time.Unix(0, 0).UTC()
	default:
		x.submittedAt, x.startedAt, x.endedAt = submitted, started, ended
		x.expiresAt = ended.Add(90 * 24 * time.Hour)
	}
	if state == dune.StateCancelled {
		x.cancelledAt = ended
	}
	if demo {
		x.id = demoID(s.seq, queryID, len(s.queries[queryID]))
	} else {
		x.id = s.newID(now) // minted in registration order, so ids sort like executions
	}
	if state == dune.StateFailed {
		info := dune.ExecutionErrorInfo{Type: "FAILED_TYPE_EXECUTION_FAILED", Message: "query execution failed"}
		if e.Error != nil {
			info = *e.Error
		}
		x.errInfo = &info
	}
	s.queries[queryID] = append(s.queries[queryID], x)
	s.execs[x.id] = x
	return x.id
}

// InjectFault queues f for the next f.Count matching requests.
func (s *Server) InjectFault(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.mu.Lock()
	s.faults = append(s.faults, &f)
	s.mu.Unlock()
}

// SetLatency adds d to every request from now on (0 removes it).
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	s.latency = d
	s.mu.Unlock()
}

// Stats returns a copy of the counters.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.ByEndpoint = make(map[string]int, len(s.stats.ByEndpoint))
	for k, v := range s.stats.ByEndpoint {
		st.ByEndpoint[k] = v
	}
	st.RawQueries = append([]string(nil), s.stats.RawQueries...)
	return st
}

// ResetStats zeroes the counters.
func (s *Server) ResetStats() {
	s.mu.Lock()
	s.stats = Stats{ByEndpoint: map[string]int{}}
	s.mu.Unlock()
}

// checkKey reports whether key is accepted (constant-time per key).
func (s *Server) checkKey(key string) bool {
	if s.cfg.anyKey {
		return true
	}
	ok := false
	for _, k := range s.cfg.keys {
		if subtle.ConstantTimeCompare([]byte(k), []byte(key)) == 1 {
			ok = true
		}
	}
	return ok
}
