package tools

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// readsAfterRun is a dune.Limiter that, while hold is set, holds back every
// read once a run has started (as a busy key would).
type readsAfterRun struct{ ran, hold atomic.Bool }

func (l *readsAfterRun) Wait(_ context.Context, r dune.Request) error {
	if r.Class == dune.ClassWrite {
		l.ran.Store(true)
		return nil
	}
	if l.ran.Load() && l.hold.Load() {
		return &dune.ThrottledError{Class: r.Class, RetryAfter: 3 * time.Second, Limit: 40, Window: time.Minute}
	}
	return nil
}

func (l *readsAfterRun) Observe(dune.Request, int, http.Header) {}

// TestThrottledStatusKeepsTheRun: a run whose status checks the rate
// limiter holds back is not lost: the call answers with the run's cursor,
// and next_page resumes it once reads pass again.
func TestThrottledStatusKeepsTheRun(t *testing.T) {
	clk := clock.NewJump(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	emu := emulator.NewServer(emulator.WithClock(clk.Now))
	t.Cleanup(emu.Close)
	emu.AddExecution(7, emulator.Execution{Dataset: emulator.DEXTrades(500, 7), EndedAt: clk.Now().Add(-30 * time.Hour)})
	emu.SetProfile(7, emulator.Profile{Run: 10 * time.Second, Dataset: func(map[string]string) *emulator.Dataset { return emulator.DEXTrades(300, 77) }})
	lim := &readsAfterRun{}
	lim.hold.Store(true)
	e := newEnvConfig(t, emu, emulator.DefaultAPIKey, func(c *Config) {
		c.Clock = clk
		c.Fetcher = dune.NewClient(dune.Config{BaseURL: emu.URL, APIKey: emulator.DefaultAPIKey, Retry: dune.RetryPolicy{MaxAttempts: 1}, Limiter: lim})
	})
	r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 24})
	if r.IsError || !r.S.Executed || r.S.NextCursor == "" || r.S.ExecutionID == "" {
		t.Fatalf("held-back status check: isError %v, %+v\n%s", r.IsError, r.S, r.Text)
	}
	if st := emu.Stats(); st.Executions != 1 || st.ByEndpoint[emulator.EndpointStatus] != 0 {
		t.Fatalf("emulator: %d executions, %d status checks; want 1, 0", st.Executions, st.ByEndpoint[emulator.EndpointStatus])
	}
	lim.hold.Store(false)
	n := e.call(t, schemas.NextPage, map[string]any{"cursor": r.S.NextCursor})
	if n.IsError || n.S.ExecutionID != r.S.ExecutionID || n.S.Total != 300 || emu.Stats().Executions != 1 {
		t.Fatalf("resumed: isError %v, %+v; %d executions\n%s", n.IsError, n.S, emu.Stats().Executions, n.Text)
	}
}
