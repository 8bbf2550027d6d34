package main

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/config"
	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/redisconn"
)

// TestLimiterWithoutRedis: with a plan and no --redis-url the limiter
// limits in this process (a nil client once passed for a connection and
// panicked on the first request).
func TestLimiterWithoutRedis(t *testing.T) {
	cfg, err := config.Parse([]string{"--dune-plan", "free"}, func(string) string { return "" }, nil)
	if err != nil {
		t.Fatal(err)
	}
	var conn *redisconn.Conn // as serve has it without --redis-url
	l := newLimiter(cfg, conn, nil, zerolog.Nop())
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	r := dune.Request{Class: dune.ClassWrite, Key: dune.KeyFingerprint("k")}
	if err := l.Wait(ctx, r); err != nil {
		t.Fatalf("first write: %v", err)
	}
	if _, ok := l.Wait(ctx, r).(*dune.ThrottledError); !ok {
		t.Fatal("second write within 100 ms passed: Free allows a burst of one")
	}
}
