// Package tools implements dune-mcp's MCP tools: get_latest_result,
// next_page and sample_result.
//
// Each tool family has its file (latest.go, next_page.go, sample.go) holding
// the mcp.Tool definition next to its handler. Shared machinery: page.go
// (fetch, top-up, render, cache), cursor.go (signed opaque cursors),
// cache.go (byte-bounded page cache), errors.go (failures explained for the
// model), instructions.go (the server's initialize instructions).
package tools

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
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
	// (default 8000, clamped to [256, 25000]).
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
		budget:      clampBudget(budget),
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
		{Tool: t.latestTool(), Handler: t.handle(schemas.GetLatestResult, t.getLatestResult)},
		{Tool: t.nextPageTool(), Handler: t.handle(schemas.NextPage, t.nextPage)},
		{Tool: t.sampleTool(), Handler: t.handle(schemas.SampleResult, t.sampleResult)},
	}
}

// clampBudget brings a max_tokens value into [256, 25000].
func clampBudget(n int) int {
	return min(max(n, schemas.MinMaxTokens), schemas.MaxMaxTokens)
}

// budgetFor returns the budget of a call: the argument (clamped) or fallback.
func budgetFor(arg *int, fallback int) int {
	if arg == nil {
		return fallback
	}
	return clampBudget(*arg)
}

// newTool builds a read-only tool definition with all four hints explicit.
func (t *Toolset) newTool(name, title, description string) mcp.Tool {
	// The title goes in annotations only (read by clients of every protocol
	// era; a second copy in Tool.Title would cost tokens in tools/list).
	tool := mcp.Tool{
		Name:            name,
		Description:     description,
		RawInputSchema:  schemas.InputWithDefaultBudget(name, t.budget),
		RawOutputSchema: schemas.Output(),
	}
	for _, opt := range []mcp.ToolOption{
		mcp.WithTitleAnnotation(title),
		mcp.WithReadOnlyHintAnnotation(true),
		mcp.WithDestructiveHintAnnotation(false),
		mcp.WithIdempotentHintAnnotation(true),
		mcp.WithOpenWorldHintAnnotation(true),
	} {
		opt(&tool)
	}
	return tool
}
