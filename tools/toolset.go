// Package tools implements dune-mcp's MCP tools: get_latest_result,
// next_page and sample_result.
package tools

import (
	"context"
	"errors"

	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"dune-mcp/dune"
)

// Fetcher is the part of *dune.Client the tools use.
type Fetcher interface {
	GetLatestResult(ctx context.Context, queryID int64, opts dune.Options) (*dune.Result, error)
	GetExecutionResult(ctx context.Context, executionID string, opts dune.Options) (*dune.Result, error)
}

// Config configures a Toolset.
type Config struct {
	Fetcher Fetcher
	// DefaultMaxTokens is the budget of a result when the call sets none (default 8000).
	DefaultMaxTokens int
	// CursorSecret signs cursors; random per process when empty.
	CursorSecret []byte
	// CacheBytes bounds the page cache, default 64 MiB.
	CacheBytes int64
	// Demo marks every result as coming from the embedded emulator.
	Demo   bool
	Logger zerolog.Logger
}

// Toolset holds the three tools and their shared state (cursor key, page cache).
type Toolset struct {
	cfg Config
}

// New builds a Toolset.
func New(cfg Config) (*Toolset, error) {
	if cfg.Fetcher == nil {
		return nil, errors.New("tools: Config.Fetcher is required")
	}
	return &Toolset{cfg: cfg}, nil
}

// ServerTools returns the tools with their handlers, ready for
// (*server.MCPServer).AddTools.
func (t *Toolset) ServerTools() []server.ServerTool {
	return nil
}
