package tools

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// call is one tool call as the adapter started it: the request (for its
// progress token), what it cost upstream, and its progress count. Handlers
// report back through their return values, not through call.
type call struct {
	tool     string
	req      mcp.CallToolRequest
	usage    *dune.Usage
	caller   keyFP // fingerprint of the Dune key the call uses
	reserved int64 // datapoints of the caller's budget set aside by admit
	progress float64
	// cacheTier is where next_page found cached rows: tierLocal,
	// tierShared (another replica fetched them) or "" (none).
	cacheTier string
	views     summary.Views // which part of the result carries the rows
}

// notifyProgress sends a progress notification when the client asked for
// them (best effort: a failure to notify never fails the call).
func (c *call) notifyProgress(ctx context.Context, msg string) {
	meta := c.req.Params.Meta
	if meta == nil || meta.ProgressToken == nil {
		return
	}
	srv := server.ServerFromContext(ctx)
	if srv == nil {
		return
	}
	c.progress++
	_ = srv.SendNotificationToClient(ctx, "notifications/progress", map[string]any{
		"progressToken": meta.ProgressToken,
		"progress":      c.progress,
		"message":       msg,
	})
}

// logToClient sends a notifications/message (logger "dune") to the client.
// mcp-go filters it by the level the client asked for (logging/setLevel in
// the legacy protocol era, the request's _meta in the modern one). Best
// effort: without a session, or with its queue full, nothing is sent. fields
// never carry a secret: ids, counts, durations and error kinds only.
func (c *call) logToClient(ctx context.Context, level mcp.LoggingLevel, msg string, fields map[string]any) {
	srv := server.ServerFromContext(ctx)
	if srv == nil {
		return
	}
	data := map[string]any{"message": msg, "tool": c.tool}
	maps.Copy(data, fields)
	_ = srv.SendLogMessageToClient(ctx, mcp.NewLoggingMessageNotification(level, "dune", data))
}

// fetch runs one Dune request of the call, with progress notifications, and
// tells the client about it: a warning when the Dune client had to retry
// (Dune answered 429 or a transient error first), an info line with what the
// request brought.
func (c *call) fetch(ctx context.Context, at ids, what string, get func() (*dune.Result, error)) (*dune.Result, error) {
	c.notifyProgress(ctx, what)
	start := time.Now()
	reqs, dps := c.usage.Requests.Load(), c.usage.Datapoints.Load()
	res, err := get()
	if res != nil && at.executionID == "" {
		at.executionID = res.ExecutionID
	}
	if n := c.usage.Requests.Load() - reqs; n > 1 {
		c.logToClient(ctx, mcp.LoggingLevelWarning,
			fmt.Sprintf("Dune request retried: %d attempts (rate limited or a transient error)", n),
			at.with(map[string]any{"attempts": n}))
	}
	if err != nil {
		return res, err
	}
	rows, dp, ms := len(res.Rows), c.usage.Datapoints.Load()-dps, time.Since(start).Milliseconds()
	c.logToClient(ctx, mcp.LoggingLevelInfo,
		fmt.Sprintf("fetched %d rows (%d datapoints) from Dune in %d ms", rows, dp, ms),
		at.with(map[string]any{"rows": rows, "datapoints": dp, "duration_ms": ms}))
	c.notifyProgress(ctx, fmt.Sprintf("fetched %d rows", rows))
	return res, nil
}

// fetchLatest reads the latest result of a query.
func (t *Toolset) fetchLatest(ctx context.Context, c *call, queryID int64, opts dune.Options) (*dune.Result, error) {
	return c.fetch(ctx, ids{queryID: queryID}, fmt.Sprintf("fetching query %d from Dune", queryID), func() (*dune.Result, error) {
		return t.cfg.Fetcher.GetLatestResult(ctx, queryID, opts)
	})
}

// fetchRows reads rows [opts.Offset, opts.Offset+opts.Limit) of v's execution
// (sharing an identical request in flight: flights).
func (t *Toolset) fetchRows(ctx context.Context, c *call, queryID int64, v view, offset, limit int) (*dune.Result, error) {
	at := ids{queryID: queryID, executionID: v.ExecutionID}
	return c.fetch(ctx, at, fmt.Sprintf("fetching rows %d-%d from Dune", offset, offset+limit-1), func() (*dune.Result, error) {
		res, err := t.flights.do(ctx, rowsFlight(v, offset, limit), func() (*dune.Result, error) {
			return t.cfg.Fetcher.GetExecutionResult(ctx, v.ExecutionID, v.options(offset, limit))
		})
		if err == nil {
			err = checkPinnedQuery(res, queryID, "execution "+v.ExecutionID)
		}
		if err != nil {
			return nil, err // a mismatched answer goes no further
		}
		return res, nil
	})
}
