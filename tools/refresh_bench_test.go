package tools

import (
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// BenchmarkRefresh measures one get_latest_result that runs the query: the
// upstream requests it makes, how long after the run's end the server
// noticed it (polling delay, in the emulator's time: the run's simulated
// duration subtracted), and the server's own time per refresh (ns/op; the
// emulated run takes no wall time, its clock jumps).
func BenchmarkRefresh(b *testing.B) {
	for _, run := range []time.Duration{3 * time.Second, 20 * time.Second, 2 * time.Minute} {
		b.Run(run.String(), func(b *testing.B) {
			e, clock := refreshEnv(b, func(c *Config) { c.CallTimeout = time.Hour })
			e.emu.SetProfile(7, emulator.Profile{Queue: run / 3, QueuePositions: 2, Run: run - run/3,
				Dataset: func(map[string]string) *emulator.Dataset { return emulator.DEXTrades(300, 77) }})
			before := e.emu.Stats().Requests
			var delay time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				clock.Advance(time.Second) // the last run's result is a second old: stale for max_age_hours 0
				start := clock.Now()
				r := e.call(b, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 0})
				if r.IsError || !r.S.Executed || r.S.ReturnedRows == 0 {
					b.Fatalf("refresh: %s", r.Text)
				}
				delay += clock.Now().Sub(start) - run
			}
			b.ReportMetric(float64(e.emu.Stats().Requests-before)/float64(b.N), "upstream-requests/op")
			b.ReportMetric(float64(delay.Milliseconds())/float64(b.N), "poll-delay-ms/op")
		})
	}
}
