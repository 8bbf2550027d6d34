package evals

import (
	"fmt"
	"slices"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// counters are the emulator's counters over a span of time: a difference
// of two emulator.Stats, or the Stats since the scenario started.
type counters struct {
	requests, rows, datapoints, executions, credits int
	byEndpoint                                      map[string]int
}

// Counter names of upstream / upstream_total besides the endpoint names.
const (
	counterRequests   = "requests"
	counterRows       = "rows"
	counterDatapoints = "datapoints"
	counterExecutions = "executions"
	counterCredits    = "credits"
)

// endpointNames are the emulator's endpoints (emulator.Stats.ByEndpoint keys).
var endpointNames = []string{
	emulator.EndpointQueryResults, emulator.EndpointExecutionResults,
	emulator.EndpointQueryResultsCSV, emulator.EndpointExecutionResultsCSV,
	emulator.EndpointExecute, emulator.EndpointStatus, emulator.EndpointCancel,
}

// counterNames lists every name upstream and upstream_total accept.
func counterNames() []string {
	return append([]string{counterRequests, counterRows, counterDatapoints, counterExecutions, counterCredits}, endpointNames...)
}

func knownCounter(name string) bool { return slices.Contains(counterNames(), name) }

// statsDelta is what happened between two snapshots of the emulator's Stats.
func statsDelta(after, before emulator.Stats) counters {
	c := counters{
		requests:   after.Requests - before.Requests,
		rows:       after.RowsServed - before.RowsServed,
		datapoints: after.DatapointsServed - before.DatapointsServed,
		executions: after.Executions - before.Executions,
		credits:    after.Credits - before.Credits,
		byEndpoint: map[string]int{},
	}
	for k, v := range after.ByEndpoint {
		if d := v - before.ByEndpoint[k]; d != 0 {
			c.byEndpoint[k] = d
		}
	}
	return c
}

// values are the counters by name (every name of counterNames).
func (c counters) values() map[string]float64 {
	m := map[string]float64{
		counterRequests: float64(c.requests), counterRows: float64(c.rows), counterDatapoints: float64(c.datapoints),
		counterExecutions: float64(c.executions), counterCredits: float64(c.credits),
	}
	for _, e := range endpointNames {
		m[e] = float64(c.byEndpoint[e])
	}
	return m
}

// checkUpstream applies a step's upstream and upstream_total expectations
// to the counters of its call (or parallel calls) and to the totals.
func (ru *run) checkUpstream(st *Step, iter int, during, total counters) {
	ru.addFailures(st, iter, checkMetrics(during.values(), st.Expect.Upstream, "upstream "))
	ru.addFailures(st, iter, checkMetrics(total.values(), st.Expect.UpstreamTotal, "upstream_total "))
}

// totals are the emulator's counters since the scenario started.
func (ru *run) totals() counters {
	return statsDelta(ru.emu.srv.Stats(), emulator.Stats{})
}

// String renders the non-zero counters, for logs.
func (c counters) String() string {
	s := fmt.Sprintf("requests=%d", c.requests)
	for _, e := range endpointNames {
		if n := c.byEndpoint[e]; n > 0 {
			s += fmt.Sprintf(" %s=%d", e, n)
		}
	}
	if c.executions > 0 {
		s += fmt.Sprintf(" executions=%d credits=%d", c.executions, c.credits)
	}
	return s
}
