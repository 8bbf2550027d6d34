package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"dune-mcp/dune"
	"dune-mcp/tools/summary"
)

// call is the state of one tool call, for the handler, progress and the log line.
type call struct {
	tool  string
	req   mcp.CallToolRequest
	usage *dune.Usage

	queryID     int64
	executionID string
	rowsShown   int
	fromCache   bool
	out         *summary.Output
	progress    float64
}

// site says where a failure happened, for explain.
func (c *call) site() callSite {
	return callSite{tool: c.tool, queryID: c.queryID, executionID: c.executionID}
}

// handlerFunc is a tool's core: it decodes raw arguments and returns the
// rendered page, or an error that explain turns into an isError result.
type handlerFunc func(ctx context.Context, c *call, raw []byte) (*summary.Output, error)

// errCallTimeout is the cause of a call's context when the per-call deadline
// (Config.CallTimeout) expired.
var errCallTimeout = errors.New("tools: per-call deadline expired")

// handle adapts a core handler to mcp-go: the per-call deadline, usage
// accounting, error shaping and the per-call log line.
func (t *Toolset) handle(tool string, fn handlerFunc) server.ToolHandlerFunc {
	return func(parent context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := time.Now()
		ctx := parent
		if t.callTimeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeoutCause(parent, t.callTimeout, errCallTimeout)
			defer cancel()
		}
		ctx, usage := dune.WithUsage(ctx)
		c := &call{tool: tool, req: req, usage: usage}
		out, err := fn(ctx, c, rawArguments(req))

		var res *mcp.CallToolResult
		errKind := ""
		if err != nil {
			site := c.site()
			_, site.requestKey = dune.APIKeyFrom(ctx)
			switch {
			case parent.Err() != nil:
				site.clientGone = true
			case errors.Is(context.Cause(ctx), errCallTimeout):
				site.deadline = t.callTimeout
			}
			te := explain(err, site)
			errKind = te.Kind
			res = mcp.NewToolResultError(te.Msg)
			c.logToClient(ctx, mcp.LoggingLevelError, fmt.Sprintf("%s failed: %s", tool, te.Kind), map[string]any{"kind": te.Kind})
		} else {
			res = &mcp.CallToolResult{
				Content:           []mcp.Content{mcp.NewTextContent(out.Text)},
				StructuredContent: out.Structured,
			}
		}
		t.logCall(c, time.Since(start), errKind)
		return res, nil
	}
}

// rawArguments returns the call's arguments as JSON (the exact bytes when the
// request came over the wire, so large integers keep their precision).
func rawArguments(req mcp.CallToolRequest) []byte {
	if len(req.Params.RawArguments) > 0 {
		return req.Params.RawArguments
	}
	if req.Params.Arguments == nil {
		return nil
	}
	b, err := json.Marshal(req.Params.Arguments)
	if err != nil {
		return []byte("null")
	}
	return b
}

func (t *Toolset) logCall(c *call, d time.Duration, errKind string) {
	ev := t.cfg.Logger.Info().
		Str("tool", c.tool).
		Int64("query_id", c.queryID).
		Str("execution_id", c.executionID).
		Dur("duration", d).
		Int64("upstream_requests", c.usage.Requests.Load()).
		Int64("rows_fetched", c.usage.Rows.Load()).
		Int64("datapoints", c.usage.Datapoints.Load()).
		Int("rows_shown", c.rowsShown).
		Bool("from_cache", c.fromCache)
	if c.out != nil {
		ev = ev.Int("text_tokens", c.out.TextTokens).Int("structured_tokens", c.out.StructuredTokens)
	}
	if errKind != "" {
		ev = ev.Str("error_kind", errKind)
	}
	ev.Msg("tool call")
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
// effort: without a session, or with its queue full, nothing is sent. data
// never carries a secret: ids, counts, durations and error kinds only.
func (c *call) logToClient(ctx context.Context, level mcp.LoggingLevel, msg string, fields map[string]any) {
	srv := server.ServerFromContext(ctx)
	if srv == nil {
		return
	}
	data := map[string]any{"message": msg, "tool": c.tool}
	if c.queryID != 0 {
		data["query_id"] = c.queryID
	}
	if c.executionID != "" {
		data["execution_id"] = c.executionID
	}
	maps.Copy(data, fields)
	_ = srv.SendLogMessageToClient(ctx, mcp.NewLoggingMessageNotification(level, "dune", data))
}

// upstream runs one Dune fetch of the call and tells the client about it:
// a warning when the Dune client had to retry (Dune answered 429 or a transient
// error first), an info line with what the fetch brought.
func (c *call) upstream(ctx context.Context, fetch func() (*dune.Result, error)) (*dune.Result, error) {
	start := time.Now()
	reqs, dps := c.usage.Requests.Load(), c.usage.Datapoints.Load()
	res, err := fetch()
	if n := c.usage.Requests.Load() - reqs; n > 1 {
		c.logToClient(ctx, mcp.LoggingLevelWarning,
			fmt.Sprintf("Dune request retried: %d attempts (rate limited or a transient error)", n),
			map[string]any{"attempts": n})
	}
	if err == nil && res != nil {
		rows, dp, ms := len(res.Rows), c.usage.Datapoints.Load()-dps, time.Since(start).Milliseconds()
		c.logToClient(ctx, mcp.LoggingLevelInfo,
			fmt.Sprintf("fetched %d rows (%d datapoints) from Dune in %d ms", rows, dp, ms),
			map[string]any{"rows": rows, "datapoints": dp, "duration_ms": ms})
	}
	return res, err
}

// fetchLatest calls the latest-result endpoint with progress and identity bookkeeping.
func (t *Toolset) fetchLatest(ctx context.Context, c *call, queryID int64, opts dune.Options) (*dune.Result, error) {
	c.notifyProgress(ctx, fmt.Sprintf("fetching query %d from Dune", queryID))
	res, err := c.upstream(ctx, func() (*dune.Result, error) {
		res, err := t.cfg.Fetcher.GetLatestResult(ctx, queryID, opts)
		if res != nil && res.ExecutionID != "" {
			c.executionID = res.ExecutionID
		}
		return res, err
	})
	if err == nil {
		c.notifyProgress(ctx, fmt.Sprintf("fetched %d rows", len(res.Rows)))
	}
	return res, err
}

// fetchExecution calls the execution-result endpoint.
func (t *Toolset) fetchExecution(ctx context.Context, c *call, executionID string, opts dune.Options) (*dune.Result, error) {
	c.notifyProgress(ctx, fmt.Sprintf("fetching rows %d-%d from Dune", opts.Offset, opts.Offset+opts.Limit-1))
	res, err := c.upstream(ctx, func() (*dune.Result, error) {
		return t.cfg.Fetcher.GetExecutionResult(ctx, executionID, opts)
	})
	if err == nil {
		c.notifyProgress(ctx, fmt.Sprintf("fetched %d rows", len(res.Rows)))
	}
	return res, err
}
