// Package transport serves dune-mcp's MCP server over stdio and over HTTP
// (streamable HTTP at /mcp, the legacy HTTP+SSE transport at /sse and
// /message, and /healthz), with bearer-token auth, Origin validation,
// per-request Dune keys and graceful shutdown.
package transport

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/logging"
)

// APIKeyHeader carries a client's own Dune API key over HTTP.
const APIKeyHeader = "X-Dune-Api-Key"

// Options configures the MCP server.
type Options struct {
	// Name and Version identify the server in the initialize/discover result.
	Name, Version string
	// Title is the human-readable server name, optional.
	Title string
	// Instructions tell the model what the tools are for and how to use them.
	Instructions string
	// Tools are registered as given.
	Tools []server.ServerTool
	// Logger receives startup, shutdown and access lines; mcp-go's own
	// per-request lines are logged at debug.
	Logger zerolog.Logger
	// RequireRequestKey makes a tool call fail with an actionable isError
	// result when its context carries no per-request Dune key (see
	// APIKeyHeader). Set it when the server has no key of its own.
	RequireRequestKey bool
	// MissingKeyMessage replaces NoKeyMessage as the text of those
	// results, e.g. over stdio, where no request carries a key of its own.
	MissingKeyMessage string
}

// Server is an MCP server plus the bookkeeping the transports need: the
// tool calls in flight, so shutdown can let them finish or answer them
// (shutdown.go), and the requests of each SSE session not yet answered on
// its stream.
type Server struct {
	mcp      *server.MCPServer
	log      zerolog.Logger
	inflight tracker
	gate     *gate
	sse      *sseAnswers
}

// offersTasks reports whether any tool can run as an MCP task.
func offersTasks(tools []server.ServerTool) bool {
	for _, t := range tools {
		if e := t.Tool.Execution; e != nil && e.TaskSupport != "" && e.TaskSupport != mcp.TaskSupportForbidden {
			return true
		}
	}
	return false
}

// New builds the MCP server: tools, instructions, the logging capability
// (logging/setLevel), panic recovery, and the middleware that counts
// in-flight tool calls.
func New(o Options) *Server {
	s := &Server{log: o.Logger, gate: newGate(), sse: newSSEAnswers()}
	hooks := &server.Hooks{}
	hooks.AddBeforeAny(s.sse.requested)
	opts := []server.ServerOption{
		server.WithHooks(hooks),
		server.WithToolCapabilities(false),
		server.WithLogging(),
		server.WithInstructions(o.Instructions),
		server.WithLogger(logging.Slog(o.Logger, true)),
		// Outermost: count every call, including ones that fail below.
		server.WithToolHandlerMiddleware(s.track),
		server.WithRecovery(),
	}
	if o.Title != "" {
		opts = append(opts, server.WithTitle(o.Title))
	}
	if o.RequireRequestKey {
		msg := o.MissingKeyMessage
		if msg == "" {
			msg = NoKeyMessage
		}
		opts = append(opts, server.WithToolHandlerMiddleware(requireRequestKey(msg)))
	}
	if offersTasks(o.Tools) {
		// Tools that may wait for a Dune run can run as tasks: the client
		// polls (tasks/get) and fetches the result (tasks/result), lists and
		// cancels them.
		opts = append(opts, server.WithTaskCapabilities(true, true, true))
	}
	s.mcp = server.NewMCPServer(o.Name, o.Version, opts...)
	if len(o.Tools) > 0 {
		s.mcp.AddTools(o.Tools...)
	}
	return s
}

// NoKeyMessage is the tool result of a call that reached a key-less HTTP
// server without its own key.
const NoKeyMessage = "No Dune API key: this server has none configured, so send your own in the " +
	APIKeyHeader + " HTTP header of your MCP requests (create a key at https://dune.com/settings/api). " +
	"Ask the server operator if you expected a shared key."

func requireRequestKey(msg string) server.ToolHandlerMiddleware {
	return func(next server.ToolHandlerFunc) server.ToolHandlerFunc {
		return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if _, ok := dune.APIKeyFrom(ctx); !ok {
				return mcp.NewToolResultError(msg), nil
			}
			return next(ctx, req)
		}
	}
}

// tracker counts running operations and lets shutdown wait for zero.
type tracker struct {
	mu     sync.Mutex
	n      int
	idle   chan struct{} // closed when n drops to 0; nil while n == 0
	finish chan struct{} // closed (and replaced) whenever an operation ends
}

func (t *tracker) start() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.n == 0 {
		t.idle = make(chan struct{})
	}
	t.n++
}

func (t *tracker) done() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.finish != nil {
		close(t.finish)
		t.finish = nil
	}
	t.n--
	if t.n == 0 {
		close(t.idle)
		t.idle = nil
	}
}

func (t *tracker) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

// wait returns nil once nothing is running, or ctx's error.
func (t *tracker) wait(ctx context.Context) error {
	for {
		t.mu.Lock()
		ch := t.idle
		t.mu.Unlock()
		if ch == nil {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// errStalled is settle's error when nothing finished for its idle bound.
var errStalled = errors.New("transport: nothing finished for a while")

// settle is wait for shutdown, bounded by progress rather than a fixed
// time: it returns nil once nothing is running, errStalled when nothing has
// finished for idle, or ctx's error. A busy machine that answers slowly
// keeps it waiting (within ctx); a stuck client does not.
func (t *tracker) settle(ctx context.Context, idle time.Duration) error {
	timer := time.NewTimer(idle)
	defer timer.Stop()
	for {
		t.mu.Lock()
		if t.n == 0 {
			t.mu.Unlock()
			return nil
		}
		if t.finish == nil {
			t.finish = make(chan struct{})
		}
		ch := t.finish
		t.mu.Unlock()
		select {
		case <-ch:
			timer.Reset(idle)
		case <-timer.C:
			return errStalled
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
