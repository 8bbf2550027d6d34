package tools

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/execution"
	"github.com/dune-mcp/dune-mcp/schemas"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// taskWait bounds a wait that runs as an MCP task: the client polls the
// task instead of holding the call open, so the wait may last until Dune's
// own 30-minute execution timeout has certainly passed.
const taskWait = 35 * time.Minute

// freshness is what a page says about a run of the query made for it.
type freshness struct {
	executed bool     // this call (or the call that issued the cursor) ran the query
	credits  *float64 // what the run cost, when Dune said
}

// refresh serves get_latest_result with max_age_hours: the latest result
// when it is recent enough; otherwise the query runs (or an execution
// already in flight is joined) and the call waits for it within its bound.
func (t *Toolset) refresh(ctx context.Context, c *call, rep report, p schemas.GetLatestResultParams, q pageQuery) (*summary.Output, report, error) {
	if t.cfg.NoExecute {
		return nil, rep, newToolError("execution_disabled", "This server does not run queries (--no-execute / DUNE_MCP_NO_EXECUTE), so max_age_hours cannot be honoured. Call get_latest_result without max_age_hours to read the latest result as it is.")
	}
	// The credit guard comes first: a run is only worth its credits if the
	// page that follows it may be read (an explicit limit within the cap, a
	// budget not spent), and even the probe below costs datapoints.
	est := t.shapes.estimate(queryKey(rep.queryID, q.opts.QueryParameters), q.opts.Columns)
	if _, err := t.admit(c, max(q.explicitLimit, 1), est.ncols, q.explicitLimit > 0); err != nil {
		return nil, rep, err
	}
	// A century is "any age" (and keeps the duration from overflowing).
	maxAge := time.Duration(min(*p.MaxAgeHours, 876_000) * float64(time.Hour))
	key := execution.NewKey(rep.queryID, q.opts.QueryParameters, t.codec.callerFP(ctx).String())

	// What does Dune have? One row tells the state and the age, for one
	// row's datapoints: a stale result's rows are never downloaded.
	decided := t.clock.Now()
	probe := q.opts
	probe.Offset, probe.Limit = 0, 1
	res, err := t.fetchLatest(ctx, c, rep.queryID, probe)
	if err == nil {
		// What the probe read is finished, whatever this process thought,
		// and its columns size the page that follows.
		t.runner.Done(res.ExecutionID)
		t.shapes.record(queryKey(rep.queryID, q.opts.QueryParameters), q.opts.Columns, res.Columns, 0)
	}
	var re *dune.ResultError
	var ae *dune.APIError
	var id string
	started := false
	switch {
	case err == nil && !t.stale(res, maxAge):
		q.executionID = res.ExecutionID
		return t.firstPage(ctx, c, rep, q)
	case errors.As(err, &re) && !execution.Finished(re.State) && re.ExecutionID == "":
		return nil, rep, newToolError("still_running", "Dune reports the query as %s without an execution id to follow. Try again in a few seconds.", re.State)
	case errors.As(err, &re) && !execution.Finished(re.State):
		// Running already (another caller, process or replica started it).
		id = t.runner.Track(key, re.ExecutionID)
	case err == nil, errors.As(err, &re), errors.As(err, &ae) && ae.Kind == dune.KindNotFound:
		if re != nil {
			t.runner.Done(re.ExecutionID) // FAILED, CANCELLED or EXPIRED: finished
		}
		// Stale, failed, cancelled, expired, or never run with these
		// parameters: run it (a missing query fails here too, with 404).
		id, started, err = t.runner.Start(ctx, key, decided, q.opts.QueryParameters, p.Performance)
		if err != nil {
			return nil, rep, &executeError{err: err}
		}
		if started {
			c.logToClient(ctx, "info", fmt.Sprintf("started execution %s of query %d", id, rep.queryID), ids{rep.queryID, id}.with(map[string]any{"executed": true}))
		}
	default:
		return nil, rep, err
	}
	rep.executionID = id
	q.fresh = freshness{executed: started}
	return t.await(ctx, c, rep, q, id)
}

// stale reports whether res ended more than maxAge ago. A result whose end
// Dune did not report counts as fresh (as Dune's own clients do).
func (t *Toolset) stale(res *dune.Result, maxAge time.Duration) bool {
	return res.ExecutionEndedAt != nil && t.clock.Now().Sub(*res.ExecutionEndedAt) > maxAge
}

// await waits for execution id within the call's bound, then shows its
// first page; while it still runs, the answer is a normal result with a
// cursor that resumes the wait (next_page).
func (t *Toolset) await(ctx context.Context, c *call, rep report, q pageQuery, id string) (*summary.Output, report, error) {
	maxWait := t.callTimeout
	if c.req.Params.Task != nil || maxWait <= 0 {
		maxWait = taskWait
	}
	st, err := t.runner.Wait(ctx, id, maxWait, func(pg execution.Progress) {
		c.notifyProgress(ctx, progressText(pg))
	})
	q.executionID = id
	switch {
	case err != nil && (errors.Is(context.Cause(ctx), errCallTimeout) || errors.As(err, new(*dune.ThrottledError))):
		// A slow status check ran into the call's deadline, or the rate
		// limiter held one back past it: like the end of the wait's bound,
		// the run goes on and the cursor resumes.
		if st == nil { // not one status seen: the run was just started or joined
			st = &dune.Status{ExecutionID: id, State: dune.StatePending}
		}
		return t.waitingPage(c, rep, q, st)
	case err != nil && ctx.Err() != nil:
		return nil, rep, &waitStopped{cursor: t.waitCursor(rep.queryID, q), cause: err}
	case err != nil:
		return nil, rep, err
	case !execution.Finished(st.State) || !st.State.Known() && !st.IsExecutionFinished:
		return t.waitingPage(c, rep, q, st)
	}
	q.fresh.credits = st.ExecutionCostCredits
	if err := st.Err(); err != nil {
		return nil, rep, err
	}
	return t.firstPage(ctx, c, rep, q)
}

// progressText is one progress notification of a wait.
func progressText(pg execution.Progress) string {
	st := pg.Status
	msg := fmt.Sprintf("execution %s: %s, %d s elapsed", st.ExecutionID, st.State, int(pg.Elapsed.Seconds()))
	if st.QueuePosition != nil {
		msg += fmt.Sprintf(", queue position %d", *st.QueuePosition)
	}
	return msg
}

// waitCursor is the cursor that resumes waiting for q's execution.
func (t *Toolset) waitCursor(queryID int64, q pageQuery) string {
	return t.codec.Encode(cursor{
		view:     q.view(),
		QueryID:  queryID,
		Offset:   q.opts.Offset,
		PageSize: max(q.explicitLimit, 1),
		Explicit: q.explicitLimit > 0,
		Budget:   q.budget,
		Waiting:  true,
		Executed: q.fresh.executed,
	})
}

// waitingPage is the answer of a call whose wait ended before the
// execution did: its state and a cursor to keep waiting.
func (t *Toolset) waitingPage(c *call, rep report, q pageQuery, st *dune.Status) (*summary.Output, report, error) {
	cur := t.waitCursor(rep.queryID, q)
	note := fmt.Sprintf("The query is still running (%s", st.State)
	if st.QueuePosition != nil {
		note += fmt.Sprintf(", queue position %d", *st.QueuePosition)
	}
	note += "). Call next_page with next_cursor to keep waiting; it returns the first page when the run completes."
	page := summary.Page{
		Tool:        c.tool,
		QueryID:     rep.queryID,
		ExecutionID: q.executionID,
		State:       st.State,
		SubmittedAt: st.SubmittedAt,
		Demo:        t.cfg.Demo,
		Datapoints:  int(c.usage.Datapoints.Load()),
		Executed:    q.fresh.executed,
		Notes:       []string{note},
		Budget:      t.budgetUse(c),
		Views:       c.views,
		Now:         t.clock.Now(),
	}
	out, err := summary.Summarize(page, q.budget, func(int) string { return cur })
	if err != nil {
		return nil, rep, newToolError("internal", "Rendering the result failed: %s", err)
	}
	return &out, rep, nil
}

// waitStopped is a wait the client cancelled: the execution goes on.
type waitStopped struct {
	cursor string
	cause  error
}

func (e *waitStopped) Error() string {
	return "stopped waiting: " + e.cause.Error()
}

func (e *waitStopped) Unwrap() error { return e.cause }

// executeError marks a failure of the request that runs a query, so that
// explain gives the advice of that request (its rate limit class, its cost).
type executeError struct{ err error }

func (e *executeError) Error() string { return e.err.Error() }
func (e *executeError) Unwrap() error { return e.err }
