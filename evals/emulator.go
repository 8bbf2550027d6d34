package evals

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// upstream is one scenario run's Dune API: an emulator server behind a
// recorder that keeps every response body (for the baseline).
type upstream struct {
	srv  *emulator.Server
	http *httptest.Server
	rec  *recorder
	// datasets maps execution ids to the rows they serve (ground truth),
	// runs dune-mcp started included (see pairRuns).
	datasets map[string]*emulator.Dataset
	// registered are each query's executions as the scenario set them up
	// (and reruns), oldest first: what runs without a profile dataset serve.
	registered map[int64][]registeredExecution
	mu         sync.Mutex
	// skew moves the emulator's clock forward (advance_clock), in nanoseconds.
	skew atomic.Int64
	runs runPairing
}

func newEmulator(sc *Scenario) (*upstream, error) {
	var opts []emulator.Option
	if sc.Emulator.MaxPageSize > 0 {
		opts = append(opts, emulator.WithMaxPageSize(sc.Emulator.MaxPageSize))
	}
	if sc.Emulator.Seed != 0 {
		opts = append(opts, emulator.WithSeed(sc.Emulator.Seed))
	}
	e := &upstream{rec: &recorder{}, datasets: map[string]*emulator.Dataset{}, registered: map[int64][]registeredExecution{}}
	opts = append(opts, emulator.WithClock(e.now))
	e.srv = emulator.NewUnstartedServer(opts...)
	e.http = httptest.NewServer(e.rec.wrap(e.pairRuns(e.srv.Handler())))
	e.srv.URL = e.http.URL
	if sc.Emulator.Latency > 0 {
		e.srv.SetLatency(time.Duration(sc.Emulator.Latency))
	}
	ids := make([]int64, 0, len(sc.Queries))
	for id := range sc.Queries {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		q := sc.Queries[id]
		for i, ex := range q.Executions {
			if err := e.addExecution(id, ex); err != nil {
				e.close()
				return nil, fmt.Errorf("query %d execution %d: %w", id, i+1, err)
			}
		}
		if err := e.setupRuns(id, q); err != nil {
			e.close()
			return nil, fmt.Errorf("query %d profile: %w", id, err)
		}
	}
	return e, nil
}

// now is the emulator's clock: the wall clock, moved by advance_clock.
func (e *upstream) now() time.Time { return time.Now().Add(time.Duration(e.skew.Load())) }

// advanceClock moves the emulator's clock forward by d.
func (e *upstream) advanceClock(d time.Duration) { e.skew.Add(int64(d)) }

func (e *upstream) url() string { return e.http.URL }

func (e *upstream) close() {
	e.http.Close()
}

func (e *upstream) addExecution(queryID int64, ex ExecutionSpec) error {
	var ds *emulator.Dataset
	if ex.Dataset != "" {
		var err error
		if ds, err = buildDataset(ex.DatasetSpec); err != nil {
			return err
		}
	}
	state, partial, err := parseState(ex.State)
	if err != nil {
		return err
	}
	if state == dune.StateCompleted && !partial && ds == nil && len(ex.Params) == 0 && ex.Error == nil {
		return fmt.Errorf("a COMPLETED execution needs a dataset")
	}
	x := emulator.Execution{Dataset: ds, State: state, Params: ex.Params, Partial: partial, Error: ex.Error.info()}
	if ex.EndedAgo > 0 {
		x.EndedAt = e.now().Add(-time.Duration(ex.EndedAgo))
	}
	id := e.srv.AddExecution(queryID, x)
	e.register(queryID, id, registeredExecution{params: ex.Params, ds: ds, completed: state == dune.StateCompleted || partial})
	return nil
}

// register records an execution the scenario set up.
func (e *upstream) register(queryID int64, id string, r registeredExecution) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if r.ds != nil {
		e.datasets[id] = r.ds
	}
	e.registered[queryID] = append(e.registered[queryID], r)
}

func (e *upstream) rerun(r RerunSpec) error {
	ds, err := buildDataset(r.DatasetSpec)
	if err != nil {
		return err
	}
	id := e.srv.Rerun(r.Query, ds)
	e.register(r.Query, id, registeredExecution{ds: ds, completed: true})
	return nil
}

func (e *upstream) dataset(executionID string) *emulator.Dataset {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.datasets[executionID]
}

func (e *upstream) inject(f FaultSpec) {
	e.srv.InjectFault(emulator.Fault{
		Status: f.Status, RetryAfter: time.Duration(f.RetryAfter), Count: f.Count,
		Latency: time.Duration(f.Latency), Truncate: f.Truncate, Drop: f.Drop, Body: f.Body, Path: f.Path,
	})
}

func parseState(s string) (state dune.State, partial bool, err error) {
	switch strings.ToUpper(strings.TrimPrefix(strings.ToUpper(s), "QUERY_STATE_")) {
	case "", "COMPLETED":
		return dune.StateCompleted, false, nil
	case "PARTIAL", "COMPLETED_PARTIAL":
		return dune.StateCompletedPartial, true, nil
	case "FAILED":
		return dune.StateFailed, false, nil
	case "EXECUTING":
		return dune.StateExecuting, false, nil
	case "PENDING":
		return dune.StatePending, false, nil
	case "CANCELLED", "CANCELED":
		return dune.StateCancelled, false, nil
	case "EXPIRED":
		return dune.StateExpired, false, nil
	}
	return "", false, fmt.Errorf("unknown state %q", s)
}

// buildDataset makes one of emulator's deterministic datasets.
func buildDataset(d DatasetSpec) (*emulator.Dataset, error) {
	seed := d.Seed
	if seed == 0 {
		seed = 1
	}
	need := func(n int, what string) error {
		if n <= 0 {
			return fmt.Errorf("dataset %s needs %s > 0", d.Dataset, what)
		}
		return nil
	}
	switch d.Dataset {
	case "dex":
		if err := need(d.Rows, "rows"); err != nil {
			return nil, err
		}
		return emulator.DEXTrades(d.Rows, seed), nil
	case "wide":
		if err := need(d.Rows, "rows"); err != nil {
			return nil, err
		}
		if err := need(d.Cols, "cols"); err != nil {
			return nil, err
		}
		return emulator.Wide(d.Rows, d.Cols, seed), nil
	case "long_text":
		if err := need(d.Rows, "rows"); err != nil {
			return nil, err
		}
		return emulator.LongText(d.Rows, seed), nil
	case "daily":
		if err := need(d.Rows, "rows (days)"); err != nil {
			return nil, err
		}
		return emulator.DailySeries(d.Rows, seed), nil
	case "tiny":
		return emulator.Tiny(), nil
	case "empty":
		return emulator.Empty(), nil
	}
	return nil, fmt.Errorf("unknown dataset %q (dex, wide, long_text, daily, tiny, empty)", d.Dataset)
}

// upstreamResponse is one response the emulator sent to dune-mcp.
type upstreamResponse struct {
	Path   string
	Status int
	Body   []byte
	Gzip   bool
}

// recorder keeps the emulator's responses until drained.
type recorder struct {
	mu        sync.Mutex
	responses []upstreamResponse
}

const maxRecordedBody = 256 << 20

func (r *recorder) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rw := &recordingWriter{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			r.mu.Lock()
			r.responses = append(r.responses, upstreamResponse{
				Path: req.URL.Path, Status: rw.status, Body: rw.body.Bytes(),
				Gzip: strings.EqualFold(rw.Header().Get("Content-Encoding"), "gzip"),
			})
			r.mu.Unlock()
		}()
		h.ServeHTTP(rw, req)
	})
}

// drain returns and forgets the responses recorded so far.
func (r *recorder) drain() []upstreamResponse {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.responses
	r.responses = nil
	return out
}

type recordingWriter struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
	wrote  bool
}

func (w *recordingWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *recordingWriter) Write(p []byte) (int, error) {
	w.wrote = true
	if w.body.Len() < maxRecordedBody {
		w.body.Write(p[:min(len(p), maxRecordedBody-w.body.Len())])
	}
	return w.ResponseWriter.Write(p)
}

// Flush lets streaming handlers flush through the recorder.
func (w *recordingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack lets the emulator drop connections (fault injection).
func (w *recordingWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("evals: response writer cannot hijack")
	}
	return h.Hijack()
}

// Unwrap exposes the underlying writer to http.ResponseController.
func (w *recordingWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// baselineTokens counts the o200k_base tokens of the raw bodies: what an
// agent reading Dune's JSON itself would have put in its context. Bodies over
// exactBaselineBytes are estimated from evenly spaced samples.
func baselineTokens(resps []upstreamResponse) (tokens int, estimated bool) {
	for _, r := range resps {
		body := r.Body
		if r.Gzip {
			if zr, err := gzip.NewReader(bytes.NewReader(body)); err == nil {
				if b, err := io.ReadAll(zr); err == nil {
					body = b
				}
			}
		}
		n, est := countTokensMaybeEstimated(body)
		tokens += n
		estimated = estimated || est
	}
	return tokens, estimated
}

// sampleChunks evenly spaced chunks, together a quarter of
// exactBaselineBytes, estimate the tokens of a larger body.
const sampleChunks = 32

func countTokensMaybeEstimated(body []byte) (int, bool) {
	if len(body) <= exactBaselineBytes {
		return summary.CountTokens(string(body)), false
	}
	chunk := exactBaselineBytes / 4 / sampleChunks
	step := len(body) / sampleChunks
	sampledBytes, sampledTokens := 0, 0
	for i := 0; i < sampleChunks; i++ {
		part := body[i*step : min(i*step+chunk, len(body))]
		sampledBytes += len(part)
		sampledTokens += summary.CountTokens(string(part))
	}
	return int(float64(sampledTokens) * float64(len(body)) / float64(sampledBytes)), true
}
