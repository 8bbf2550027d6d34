// Package tools implements dune-mcp's MCP tools: get_latest_result,
// next_page and sample_result.
//
// Each tool is one value built by newServerTool (tool.go) from its name,
// title, description and typed handler; ServerTools lists them. The
// handlers live in latest.go, next_page.go and sample.go. Shared
// machinery: call.go (one call's upstream requests, progress and client
// logs), page.go (top-up, render, cache), cursor.go (signed opaque cursors),
// cache.go (views and the byte-bounded page cache), sharedcache.go (the
// page cache's tiers: in-process, then shared between replicas), estimate.go (sizing the
// first fetch), errors.go (failures explained for the model),
// instructions.go (the server's initialize instructions).
package tools

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/credits"
	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/execution"
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/metrics"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// Fetcher is the part of *dune.Client the tools use: reading results, and
// running a query and following its execution (package execution).
type Fetcher interface {
	GetLatestResult(ctx context.Context, queryID int64, opts dune.Options) (*dune.Result, error)
	GetExecutionResult(ctx context.Context, executionID string, opts dune.Options) (*dune.Result, error)
	execution.Client
}

// Config configures a Toolset.
type Config struct {
	Fetcher Fetcher
	// DefaultMaxTokens is the budget of a result when the call sets none
	// (default schemas.DefaultMaxTokens, clamped to [schemas.MinMaxTokens,
	// schemas.MaxMaxTokens]).
	DefaultMaxTokens int
	// CursorSecret signs cursors; random per process when empty.
	CursorSecret []byte
	// CacheBytes bounds the page cache, default 64 MiB.
	CacheBytes int64
	// Demo marks every result as coming from the embedded emulator.
	Demo bool
	// Logger receives one info line per tool call (the zero Logger is silent).
	Logger zerolog.Logger
	// CallTimeout bounds how long one tool call may wait on Dune, retries
	// included (default 50s: under the ~60s after which desktop clients give
	// up on a call). Negative disables the bound.
	CallTimeout time.Duration
	// NoExecute refuses every call that would run a query (max_age_hours).
	NoExecute bool
	// MaxDatapointsPerCall caps what one call may read from Dune, in
	// datapoints (default DefaultMaxDatapointsPerCall; negative: no cap).
	MaxDatapointsPerCall int64
	// DatapointBudget is what this process may read per Dune API key over
	// its lifetime, in datapoints (0: unlimited).
	DatapointBudget int64
	// SharedCache, when set, is the page cache every replica shares
	// (--redis-url); nil keeps the page cache in-process.
	SharedCache SharedCache
	// SharedRuns, when set, shares executions between replicas: one run
	// per query, parameters and key across all of them (--redis-url).
	SharedRuns execution.Claims
	// ResultViews is --result-views: which part of a result carries the
	// rows (ViewsAuto, ViewsBoth, ViewsText, ViewsStructured; "" is auto).
	ResultViews string
	// Clock is the time runs are waited in and results aged by (nil: the
	// wall clock). Tests pass one that jumps instead of sleeping.
	Clock clock.Clock
	// Metrics records tool calls, rows, datapoints and cache lookups (nil:
	// none).
	Metrics *metrics.Metrics
}

// DefaultCallTimeout is Config.CallTimeout's default. It bounds one tool
// call's wait on Dune, retries included: under the ~60 s after which desktop
// clients abandon a call, so the agent gets an explained timeout instead of a
// dead call.
const DefaultCallTimeout = 50 * time.Second

// Toolset holds the three tools and their shared state (cursor key, page cache).
type Toolset struct {
	cfg     Config
	budget  int
	codec   cursorCodec
	cache   *pages
	flights flights // Dune requests in flight, shared by identical calls
	shapes  *shapeMemo
	heads   headMemo // for early drafts (early.go)
	// callTimeout bounds each call's wait on Dune; ≤ 0: unbounded.
	callTimeout time.Duration
	runner      *execution.Runner
	maxPerCall  int64
	spend       *credits.Budget
	clock       clock.Clock // ages results; the runner waits on the same clock
	views       string      // the parsed Config.ResultViews
}

// New builds a Toolset.
func New(cfg Config) (*Toolset, error) {
	if cfg.Fetcher == nil {
		return nil, errors.New("tools: Config.Fetcher is required")
	}
	secret := cfg.CursorSecret
	if len(secret) == 0 {
		secret = make([]byte, 32)
		if _, err := rand.Read(secret); err != nil {
			return nil, fmt.Errorf("tools: cursor secret: %w", err)
		}
	}
	budget := cfg.DefaultMaxTokens
	if budget == 0 {
		budget = schemas.DefaultMaxTokens
	}
	timeout := cfg.CallTimeout
	if timeout == 0 {
		timeout = DefaultCallTimeout
	}
	var clk clock.Clock = clock.Wall{}
	if cfg.Clock != nil {
		clk = cfg.Clock
	}
	views, err := parseViews(cfg.ResultViews)
	if err != nil {
		return nil, err
	}
	maxPerCall := cfg.MaxDatapointsPerCall
	switch {
	case maxPerCall == 0:
		maxPerCall = DefaultMaxDatapointsPerCall
	case maxPerCall < 0:
		maxPerCall = math.MaxInt64
	}
	return &Toolset{
		cfg:         cfg,
		budget:      schemas.ClampMaxTokens(budget),
		codec:       cursorCodec{secret: append([]byte(nil), secret...)},
		cache:       newPages(cfg.CacheBytes, cfg.SharedCache),
		shapes:      newShapeMemo(),
		callTimeout: timeout,
		runner:      execution.NewRunner(cfg.Fetcher, clk, execution.WithClaims(cfg.SharedRuns)),
		maxPerCall:  maxPerCall,
		spend:       credits.NewBudget(cfg.DatapointBudget),
		clock:       clk,
		views:       views,
	}, nil
}

// CacheStats counts the page cache's lookups so far, by tier.
func (t *Toolset) CacheStats() CacheStats { return t.cache.stats() }

// ServerTools returns the tools with their handlers, ready for
// (*server.MCPServer).AddTools.
//
// Annotations are honest about side effects. With execution allowed,
// get_latest_result is not read-only: max_age_hours may run the query,
// which spends the user's credits and replaces the query's latest result for
// everyone who reads it (nothing is deleted, so it is not destructive), and
// running it twice runs it twice (not idempotent). With --no-execute it only
// reads. next_page and sample_result only read; next_page may wait for a run
// a get_latest_result call started, which costs nothing more.
// get_latest_result can also run as an MCP task (then it waits for its run
// to end, so next_page never has to wait as a task).
func (t *Toolset) ServerTools() []server.ServerTool {
	reads := hints{readOnly: true, idempotent: true}
	latest := hints{readOnly: t.cfg.NoExecute, idempotent: t.cfg.NoExecute, task: !t.cfg.NoExecute}
	return []server.ServerTool{
		newServerTool(t, schemas.GetLatestResult, "Get latest Dune query result", latestDescription(t.cfg.NoExecute), latest, t.getLatestResult),
		newServerTool(t, schemas.NextPage, "Next page of a Dune result",
			"Continue after the last row shown (same execution, columns, filters and sort, even if the query was re-run), or keep waiting for a run.",
			reads, t.nextPage),
		newServerTool(t, schemas.SampleResult, "Sample a Dune query result",
			"Uniform random sample of a saved query's latest result, with column stats: profile a big result before paging it. No cursor.",
			reads, t.sampleResult),
	}
}

// latestDescription is get_latest_result's description.
func latestDescription(noExecute bool) string {
	if noExecute {
		return "Latest completed result of a saved Dune query (never runs it): schema, counts, column stats and the rows that fit max_tokens, plus next_cursor for next_page."
	}
	return "Latest result of a saved Dune query: schema, counts, stats and the rows that fit max_tokens, with next_cursor for next_page. Runs the query only with max_age_hours."
}

// budgetFor returns the budget of a call: the argument (clamped) or fallback.
func budgetFor(arg *int, fallback int) int {
	if arg == nil {
		return fallback
	}
	return schemas.ClampMaxTokens(*arg)
}
