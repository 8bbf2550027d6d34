package tools

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/later"
	"github.com/dune-mcp/dune-mcp/metrics"
	"github.com/dune-mcp/dune-mcp/schemas"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// report is what a handler tells the adapter about its call, for the log
// line and for explaining a failure: the ids it worked on and what it showed.
type report struct {
	ids
	rowsShown int
	fromCache bool
	// earlyRows: the summary started on this many rows during the fetch
	// (early.go); 0: after it.
	earlyRows int
	// earlyReady: the answer was rendered before the page's last rows
	// arrived (early.go).
	earlyReady bool
}

// ids are the query and execution a call works on (zero when not known yet).
type ids struct {
	queryID     int64
	executionID string
}

// with adds the ids that are known to fields, for a client log message.
func (i ids) with(fields map[string]any) map[string]any {
	if i.queryID != 0 {
		fields["query_id"] = i.queryID
	}
	if i.executionID != "" {
		fields["execution_id"] = i.executionID
	}
	return fields
}

// site says where a failure happened, for explain.
func (r report) site(tool string) callSite {
	return callSite{tool: tool, queryID: r.queryID, executionID: r.executionID}
}

// handlerFunc is a tool's core: typed arguments in, the rendered page (or an
// error that explain turns into an isError result) and a report out.
type handlerFunc[P any] func(ctx context.Context, c *call, p P) (*summary.Output, report, error)

// newServerTool builds one tool, definition and handler together: the name is
// written once, the input schema is reflected from P (package schemas), and
// one adapter decodes P with schemas.Decode (lenient coercions, did-you-mean
// errors) for every tool.
func newServerTool[P any](t *Toolset, name, title, description string, h hints, fn handlerFunc[P]) server.ServerTool {
	// The title goes in annotations only (read by clients of every protocol
	// era; a second copy in Tool.Title would cost tokens in tools/list).
	def := mcp.Tool{
		Name:            name,
		Description:     description,
		RawInputSchema:  schemas.InputWithDefaultBudget(name, t.budget),
		RawOutputSchema: schemas.Output(),
	}
	for _, opt := range []mcp.ToolOption{
		mcp.WithTitleAnnotation(title),
		mcp.WithReadOnlyHintAnnotation(h.readOnly),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(h.idempotent),
		mcp.WithOpenWorldHintAnnotation(true),
	} {
		opt(&def)
	}
	if h.task {
		def.Execution = &mcp.ToolExecution{TaskSupport: mcp.TaskSupportOptional}
	}
	decoded := func(ctx context.Context, c *call, raw []byte) (*summary.Output, report, error) {
		var p P
		if err := schemas.Decode(name, raw, &p); err != nil {
			return nil, report{}, err
		}
		return fn(ctx, c, p)
	}
	return server.ServerTool{Tool: def, Handler: t.adapt(name, decoded)}
}

// hints are a tool's annotations (ServerTools says why each tool has its
// own) and whether it may run as an MCP task.
type hints struct {
	readOnly, idempotent, task bool
}

// errCallTimeout is the cause of a call's context when the per-call deadline
// (Config.CallTimeout) expired.
var errCallTimeout = errors.New("tools: per-call deadline expired")

// adapt turns a tool's core into an mcp-go handler: the per-call deadline,
// usage accounting, error shaping and the per-call log line.
func (t *Toolset) adapt(tool string, fn func(context.Context, *call, []byte) (*summary.Output, report, error)) server.ToolHandlerFunc {
	return func(parent context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		start := time.Now()
		timeout := t.callTimeout
		if req.Params.Task != nil {
			// The client polls the task instead of waiting on the call.
			// mcp-go (v1.2.1) derives a task's context from its request's,
			// which ends when the call has answered with the task: the task
			// runs detached from it, bounded by taskWait.
			timeout = taskWait
			parent = context.WithoutCancel(parent)
		}
		ctx := parent
		if timeout > 0 {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeoutCause(parent, timeout, errCallTimeout)
			defer cancel()
		}
		ctx, usage := dune.WithUsage(ctx)
		c := &call{tool: tool, req: req, usage: usage, caller: t.codec.callerFP(ctx), views: viewsFor(t.views, clientName(parent))}
		out, rep, err := fn(ctx, c, rawArguments(req))
		t.spend.Settle(c.caller.String(), c.reserved, usage.Datapoints.Load())

		var res *mcp.CallToolResult
		errKind := ""
		if err != nil {
			site := rep.site(tool)
			_, site.requestKey = dune.APIKeyFrom(ctx)
			switch {
			case parent.Err() != nil:
				site.clientGone = true
			case errors.Is(context.Cause(ctx), errCallTimeout):
				site.deadline = timeout
			}
			te := explain(err, site)
			if te.Kind == "internal" {
				// An internal failure (e.g. rendering) is logged here and
				// never reaches the agent in its own words.
				t.cfg.Logger.Error().Str("tool", tool).Str("error", te.Msg).Msg("tool call failed internally")
				te = &toolError{Kind: te.Kind, Msg: internalMessage}
			}
			errKind = te.Kind
			res = mcp.NewToolResultError(te.Msg)
			c.logToClient(ctx, mcp.LoggingLevelError, fmt.Sprintf("%s failed: %s", tool, te.Kind), rep.with(map[string]any{"kind": te.Kind}))
		} else {
			// Structured goes out as the summary encoded (and counted)
			// it, not encoded again (mcp-go sends RawStructuredContent
			// when set); StructuredContent stays for output validation and
			// in-process clients.
			res = &mcp.CallToolResult{
				Content:              []mcp.Content{mcp.NewTextContent(out.Text)},
				StructuredContent:    out.Structured,
				RawStructuredContent: out.StructuredJSON,
			}
		}
		took := time.Since(start)
		t.logCall(ctx, c, rep, out, took, errKind)
		t.cfg.Metrics.ToolCall(tool, cmp.Or(errKind, metrics.OutcomeOK), took)
		t.cfg.Metrics.Rows(usage.Rows.Load(), int64(rep.rowsShown), usage.Datapoints.Load())
		return res, nil
	}
}

// internalMessage is what the agent sees of an internal failure (its
// details go to the server's log).
const internalMessage = "This server could not present Dune's answer (an internal error, logged on the server). Try again; if it persists, ask for fewer columns or rows, or report it to the server's operator."

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

// logCall writes the call's log line, once the answer is written where the
// transport says when that is (internal/later).
func (t *Toolset) logCall(ctx context.Context, c *call, rep report, out *summary.Output, d time.Duration, errKind string) {
	ev := t.cfg.Logger.Info().
		Str("tool", c.tool).
		Int64("query_id", rep.queryID).
		Str("execution_id", rep.executionID).
		Dur("duration", d).
		Int64("upstream_requests", c.usage.Requests.Load()).
		Int64("rows_fetched", c.usage.Rows.Load()).
		Int64("datapoints", c.usage.Datapoints.Load()).
		Int("rows_shown", rep.rowsShown).
		Bool("from_cache", rep.fromCache).
		Stringer("views", c.views)
	if out != nil {
		ev = ev.Int("text_tokens", out.TextTokens).Int("structured_tokens", out.StructuredTokens)
	}
	if c.cacheTier != "" {
		ev = ev.Str("cache", c.cacheTier)
	}
	if rep.earlyRows > 0 {
		ev = ev.Int("early_rows", rep.earlyRows).Bool("early_ready", rep.earlyReady)
	}
	if errKind != "" {
		ev = ev.Str("error_kind", errKind)
	}
	if !later.Do(ctx, func() { ev.Msg("tool call") }) {
		ev.Msg("tool call")
	}
}
