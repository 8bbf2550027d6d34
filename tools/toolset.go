// Package tools implements dune-mcp's MCP tools: get_latest_result,
// next_page and sample_result.
//
// Each tool is one value built by newServerTool (tool.go) from its name,
// title, description and typed handler; ServerTools lists them. The
// handlers live in latest.go, next_page.go and sample.go. Shared
// machinery: call.go (one call's upstream requests, progress and client
// logs), page.go (top-up, render, cache), cursor.go (signed opaque cursors),
// cache.go (views and the byte-bounded page cache), estimate.go (sizing the
// first fetch), errors.go (failures explained for the model),
// instructions.go (the server's initialize instructions).
package tools

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"dune-mcp/dune"
	"dune-mcp/schemas"
)

// Fetcher is the part of *dune.Client the tools use.
type Fetcher interface {
	GetLatestResult(ctx context.Context, queryID int64, opts dune.Options) (*dune.Result, error)
	GetExecutionResult(ctx context.Context, executionID string, opts dune.Options) (*dune.Result, error)
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
}

// DefaultCallTimeout is Config.CallTimeout's default.
const DefaultCallTimeout = 50 * time.Second

// Toolset holds the three tools and their shared state (cursor key, page cache).
type Toolset struct {
	cfg    Config
	budget int
	codec  cursorCodec
	cache  *pageCache
	shapes *shapeMemo
	// callTimeout bounds each call's wait on Dune; ≤ 0: unbounded.
	callTimeout time.Duration
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
	return &Toolset{
		cfg:         cfg,
		budget:      schemas.ClampMaxTokens(budget),
		codec:       cursorCodec{secret: append([]byte(nil), secret...)},
		cache:       newPageCache(cfg.CacheBytes),
		shapes:      newShapeMemo(),
		callTimeout: timeout,
	}, nil
}

// ServerTools returns the tools with their handlers, ready for
// (*server.MCPServer).AddTools.
func (t *Toolset) ServerTools() []server.ServerTool {
	return []server.ServerTool{
		newServerTool(t, schemas.GetLatestResult, "Get latest Dune query result",
			"Latest completed result of a saved Dune query (does not run it): schema, counts, column stats and the rows that fit max_tokens, plus next_cursor for next_page.",
			t.getLatestResult),
		newServerTool(t, schemas.NextPage, "Next page of a Dune result",
			"Continue after the last row shown, from the same execution with the same columns, filters and sort, even if the query was re-run since.",
			t.nextPage),
		newServerTool(t, schemas.SampleResult, "Sample a Dune query result",
			"Uniform random sample of a saved query's latest result, with column stats: profile a big result before paging it. No cursor.",
			t.sampleResult),
	}
}

// budgetFor returns the budget of a call: the argument (clamped) or fallback.
func budgetFor(arg *int, fallback int) int {
	if arg == nil {
		return fallback
	}
	return schemas.ClampMaxTokens(*arg)
}
