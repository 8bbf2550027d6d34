package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/config"
	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/loopback"
	"github.com/dune-mcp/dune-mcp/internal/redisconn"
	"github.com/dune-mcp/dune-mcp/metrics"
	"github.com/dune-mcp/dune-mcp/ratelimit"
)

// newLimiter builds the rate limiter: quotas from --dune-plan, explicit
// --dune-rpm-read/-write as ceilings, buckets in Redis when conn is not nil
// (shared by every replica, through the connection the page cache uses, so
// that one outage rule covers both) or in this process.
func newLimiter(cfg config.Config, conn *redisconn.Conn, m *metrics.Metrics, log zerolog.Logger) *ratelimit.Limiter {
	q, _ := dune.PlanQuota(cfg.DunePlan) // zero without a plan: Dune's headers set the limits
	rc := ratelimit.Config{Quota: q, Metrics: m}
	if cfg.RPMRead > 0 {
		rc.Quota.Read, rc.FixedRead = cfg.RPMRead, true
	}
	if cfg.RPMWrite > 0 {
		rc.Quota.Write, rc.FixedWrite = cfg.RPMWrite, true
	}
	if conn != nil {
		rc.Store = ratelimit.NewRedis(conn, "")
	}
	plan := string(cfg.DunePlan)
	if plan == "" {
		plan = "(from Dune's RateLimit-Policy headers)"
	}
	log.Info().Str("plan", plan).Int("rpm_read", rc.Quota.Read).Int("rpm_write", rc.Quota.Write).
		Bool("shared", conn != nil).Msg("rate limiter")
	return ratelimit.New(rc)
}

// observeUpstream feeds dune.Client's attempts to the metrics.
func observeUpstream(m *metrics.Metrics) func(dune.Exchange) {
	if m == nil {
		return nil
	}
	return func(e dune.Exchange) {
		if !e.Throttled {
			m.Upstream(e.Endpoint, e.Status, e.Duration)
		}
	}
}

// serveMetrics serves m at /metrics on a listener of its own until ctx
// ends; the returned stop waits for it.
func serveMetrics(ctx context.Context, addr string, m *metrics.Metrics, log zerolog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("metrics: listen on %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := hs.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error().Err(err).Msg("metrics listener stopped")
		}
	}()
	ev := log.Info()
	if !loopback.Addr(addr) {
		ev = log.Warn() // no secrets there, but usage is visible to whoever reaches it
	}
	ev.Str("metrics_url", "http://"+ln.Addr().String()+"/metrics").Msg("serving Prometheus metrics")
	stopped := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = hs.Shutdown(sctx)
	}()
	return func() { close(stopped); <-done }, nil
}
