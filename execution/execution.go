// Package execution runs saved Dune queries and waits for them: at most one
// execution in flight per query, parameters and caller in this process (and
// across processes that share Claims, shared.go), and
// status polling (free of charge on Dune) with progress reports and a wait
// bounded by the caller's deadline.
//
// It knows nothing of MCP: package tools decides when a result is too old,
// and turns a wait that ended early into a cursor.
package execution

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
)

// Client is the part of *dune.Client a Runner uses.
type Client interface {
	ExecuteQuery(ctx context.Context, queryID int64, params map[string]string, performance string) (*dune.Execution, error)
	GetExecutionStatus(ctx context.Context, executionID string) (*dune.Status, error)
}

// Polling: the status is checked every MinPoll during the first Brisk of a
// wait (most runs end within seconds, and each check is a chance to answer
// sooner), then each pause is 1.5× the previous, at most MaxPoll. Checks are
// free but count against Dune's read rate limit (40 requests a minute on
// Free), so long waits slow down.
const (
	MinPoll = time.Second
	MaxPoll = 5 * time.Second
	Brisk   = 10 * time.Second
)

// Reserve is the part of a deadline a wait leaves for what follows it (the
// first page's request), at most a fifth of the time left.
const Reserve = 8 * time.Second

// Key identifies executions that must not run twice at once: the query, its
// parameters and the caller (a fingerprint of the Dune API key, never the
// key itself).
type Key struct {
	QueryID int64
	Params  string
	Caller  string
}

// NewKey builds the Key of a query run with params by caller.
func NewKey(queryID int64, params map[string]string, caller string) Key {
	names := make([]string, 0, len(params))
	for name := range params {
		names = append(names, name)
	}
	slices.Sort(names)
	var b strings.Builder
	for _, name := range names {
		fmt.Fprintf(&b, "%d:%s=%d:%s;", len(name), name, len(params[name]), params[name])
	}
	return Key{QueryID: queryID, Params: b.String(), Caller: caller}
}

// Runner starts executions and waits for them. It is safe for concurrent use.
type Runner struct {
	client Client

	mu       sync.Mutex
	inflight map[Key]*flight // executions of this process, until seen finished

	clock  clock.Clock
	claims Claims // nil: executions are shared within this process only
}

// Option configures a Runner.
type Option func(*Runner)

// WithClaims shares executions with the other processes that use claims
// (replicas on one Redis): see shared.go. A nil claims is no option.
func WithClaims(claims Claims) Option {
	return func(r *Runner) { r.claims = claims }
}

// NewRunner returns a Runner that talks to Dune through client and waits
// on clock (nil: the wall clock).
func NewRunner(client Client, c clock.Clock, opts ...Option) *Runner {
	if c == nil {
		c = clock.Wall{}
	}
	r := &Runner{client: client, inflight: map[Key]*flight{}, clock: c}
	for _, o := range opts {
		o(r)
	}
	return r
}

// flight is one execution of a key: its id once Dune answered the execute
// request (done is closed then), or the error of that request; when it was
// submitted, and whether it has been seen finished.
type flight struct {
	done     chan struct{}
	id       string
	err      error
	started  time.Time
	finished bool
	// claim is the record of the execution in the shared claims ("": none).
	claim string
}

// executeTimeout bounds the execute request, which runs detached from the
// caller that sent it (see Start).
const executeTimeout = 30 * time.Second

// stuckAfter is how long an execution nobody has seen finish stays joinable:
// Dune stops every run at 30 minutes.
const stuckAfter = 35 * time.Minute

// keepFinished is how long a finished execution stays known: a caller that
// decided to run the query before it was submitted takes its result instead
// of running the query again.
const keepFinished = 10 * time.Minute

// Start returns the execution to wait for: the one this process has in
// flight for key, or one it submitted for key since since (the caller
// decided to run the query at since, so a run submitted later is as fresh
// as it asked), or a new one (started reports which). Concurrent calls with
// the same key share one execute request. A new execution costs credits; the
// caller has checked that it may spend them.
func (r *Runner) Start(ctx context.Context, key Key, since time.Time, params map[string]string, performance string) (id string, started bool, err error) {
	r.mu.Lock()
	r.prune()
	var old *flight // a run of this process that the shared record may know better
	if f, ok := r.inflight[key]; ok && (!f.finished || !f.started.Before(since)) {
		if !r.askShared(f, since) {
			r.mu.Unlock()
			select {
			case <-f.done:
				return f.id, false, f.err
			case <-ctx.Done():
				return "", false, ctx.Err()
			}
		}
		old = f
	}
	f := &flight{done: make(chan struct{}), started: r.clock.Now()}
	r.inflight[key] = f
	r.mu.Unlock()

	// Another process may run it, or be about to.
	sh := r.claim(ctx, key, since)
	join := func(id, record string, submitted time.Time) (string, bool, error) {
		r.mu.Lock()
		f.started = submitted // what a later caller's since is compared with
		r.mu.Unlock()
		f.id, f.claim = id, record
		close(f.done)
		return id, false, nil
	}
	switch {
	case sh.id != "":
		return join(sh.id, sh.record, sh.submitted)
	case sh.pending == "" && old != nil:
		// The store did not answer: as without it, this process's run
		// that it has not seen finish is joined.
		return join(old.id, old.claim, old.started)
	}

	// Calls with the same key share this request, so it does not end with
	// the first caller's context (a cancel there must not fail the others).
	ectx, cancel := context.WithTimeout(context.WithoutCancel(ctx), executeTimeout)
	defer cancel()
	ex, err := r.client.ExecuteQuery(ectx, key.QueryID, params, performance)
	if err == nil {
		f.id = ex.ExecutionID
	}
	f.claim = r.settle(key, sh.pending, f.id, f.started)
	f.err = err
	close(f.done)
	if err != nil {
		r.forget(key, f)
		return "", false, err
	}
	return f.id, true, nil
}

// askShared reports whether the shared record, rather than f, should
// answer a caller who decided at since: f is older than since and, though
// this process has not seen it finish, another process may have (then the
// record says so, or names a newer run).
func (r *Runner) askShared(f *flight, since time.Time) bool {
	if r.claims == nil || !f.started.Before(since) {
		return false
	}
	select {
	case <-f.done:
		return f.err == nil
	default:
		return false // its execute request is still out: wait for it
	}
}

// forget drops f, a flight that failed, unless another replaced it.
func (r *Runner) forget(key Key, f *flight) {
	r.mu.Lock()
	if r.inflight[key] == f {
		delete(r.inflight, key)
	}
	r.mu.Unlock()
}

// Track records id, an execution found running on Dune (started by another
// process, or before a restart), as in flight for key, and returns the
// execution to wait for: the one this process already has in flight for
// key, if any, else id.
func (r *Runner) Track(key Key, id string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f, ok := r.inflight[key]; ok && !f.finished {
		select {
		case <-f.done:
			if f.err == nil {
				return f.id
			}
		default: // its execute request is still out: follow the one Dune reported
		}
	}
	f := &flight{done: make(chan struct{}), id: id, started: r.clock.Now()}
	close(f.done)
	r.inflight[key] = f
	return id
}

// finish marks id finished, here and in the shared claims.
func (r *Runner) finish(id string) {
	var shared []finished
	r.mu.Lock()
	for k, f := range r.inflight {
		select {
		case <-f.done:
			if f.id == id {
				if !f.finished && f.claim != "" {
					shared = append(shared, finished{k, f.claim})
				}
				f.finished = true
			}
		default:
		}
	}
	r.mu.Unlock()
	for _, s := range shared {
		r.finishShared(s)
	}
}

// prune forgets executions finished long ago, and ones nobody saw finish
// that Dune has stopped by now. Callers hold r.mu.
func (r *Runner) prune() {
	now := r.clock.Now()
	for k, f := range r.inflight {
		age := now.Sub(f.started)
		if f.finished && age > keepFinished || age > stuckAfter {
			delete(r.inflight, k)
		}
	}
}

// Done records that execution id has finished (a caller saw its final state
// elsewhere, e.g. as a completed latest result), so that no later Start
// joins it as if it were still running.
func (r *Runner) Done(id string) { r.finish(id) }

// Progress is what a wait reports after each status check.
type Progress struct {
	Status  *dune.Status
	Elapsed time.Duration
	Polls   int
}

// Wait polls id's status until the execution finishes, the wait bound
// passes or ctx ends. The bound is ctx's deadline minus a reserve for what
// follows (see Reserve); without a deadline it is maxWait. It returns the
// last status seen: finished (Status.IsExecutionFinished or a final state)
// or not (the bound passed: the caller can wait again later). A Dune error
// or ctx's end is returned as an error, with the last status seen; the
// execution itself goes on.
func (r *Runner) Wait(ctx context.Context, id string, maxWait time.Duration, report func(Progress)) (*dune.Status, error) {
	start := r.clock.Now()
	wait := maxWait
	if dl, ok := ctx.Deadline(); ok {
		left := time.Until(dl) // a deadline is wall-clock time
		wait = min(wait, left-min(Reserve, left/5))
	}
	bound := start.Add(wait)
	pause := MinPoll
	var last *dune.Status
	for polls := 1; ; polls++ {
		st, err := r.client.GetExecutionStatus(ctx, id)
		if err != nil {
			return last, err
		}
		last = st
		if Finished(st.State) && (st.State.Known() || st.IsExecutionFinished) {
			r.finish(id)
			return st, nil
		}
		if report != nil {
			report(Progress{Status: st, Elapsed: r.clock.Now().Sub(start), Polls: polls})
		}
		left := bound.Sub(r.clock.Now())
		if left <= 0 {
			return st, nil
		}
		if err := r.clock.Sleep(ctx, min(pause, left)); err != nil {
			return st, err
		}
		if r.clock.Now().Sub(start) >= Brisk {
			pause = min(time.Duration(float64(pause)*1.5), MaxPoll)
		}
	}
}

// Finished reports whether an execution in state s has ended: every
// documented state but PENDING and EXECUTING. Wait also asks an unknown
// state's is_execution_finished; Finished alone counts it as ended.
func Finished(s dune.State) bool {
	return s != dune.StatePending && s != dune.StateExecuting
}
