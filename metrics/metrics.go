// Package metrics is dune-mcp's Prometheus instrumentation: tool calls,
// upstream requests, rows, datapoints, cache hits, rate-limit waits and
// Redis errors, on a registry of its own (not the global default), served by
// Handler on the --metrics-addr listener.
//
// Every method is safe on a nil *Metrics, which records nothing: callers
// never check whether metrics are on.
package metrics

import (
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Namespace prefixes every metric name.
const Namespace = "dune_mcp"

// Cache layers, the values of the layer label.
const (
	LayerLocal  = "local"
	LayerShared = "shared"
)

// OutcomeOK is the outcome label of a tool call that succeeded; a failed
// call is labelled with its error kind (tools/errors.go).
const OutcomeOK = "ok"

// Metrics holds the collectors. Create it with New.
type Metrics struct {
	reg *prometheus.Registry

	toolCalls     *prometheus.CounterVec
	toolDuration  *prometheus.HistogramVec
	upstream      *prometheus.CounterVec
	upstreamDur   *prometheus.HistogramVec
	rowsFetched   prometheus.Counter
	rowsDelivered prometheus.Counter
	datapoints    prometheus.Counter
	cacheHits     *prometheus.CounterVec
	cacheMisses   *prometheus.CounterVec
	rateWaits     *prometheus.CounterVec
	rateWaitTime  *prometheus.HistogramVec
	rateRefused   *prometheus.CounterVec
	rateAdjusted  *prometheus.CounterVec
	redisErrors   *prometheus.CounterVec
}

// New returns metrics registered on a new registry, with the Go runtime and
// process collectors (resident memory, CPU, goroutines).
func New() *Metrics {
	reg := prometheus.NewRegistry()
	m := &Metrics{reg: reg}
	f := func(c prometheus.Collector) { reg.MustRegister(c) }
	latency := []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60}

	m.toolCalls = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "tool_calls_total",
		Help: "Tool calls by tool and outcome (ok, or the error kind)."}, []string{"tool", "outcome"})
	m.toolDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "tool_call_duration_seconds",
		Help: "Tool call latency by tool.", Buckets: latency}, []string{"tool"})
	m.upstream = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "upstream_requests_total",
		Help: "HTTP attempts to the Dune API by endpoint and status (error: no answer)."}, []string{"endpoint", "status"})
	m.upstreamDur = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "upstream_request_duration_seconds",
		Help: "Time to the Dune API's answer headers, by endpoint.", Buckets: latency}, []string{"endpoint"})
	m.rowsFetched = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "rows_fetched_total",
		Help: "Rows decoded from Dune's answers."})
	m.rowsDelivered = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "rows_delivered_total",
		Help: "Rows shown in tool results."})
	m.datapoints = prometheus.NewCounter(prometheus.CounterOpts{Namespace: Namespace, Name: "datapoints_total",
		Help: "Dune datapoints spent (datapoint_count of the pages read)."})
	m.cacheHits = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "cache_hits_total",
		Help: "Page cache hits by layer (local, shared)."}, []string{"layer"})
	m.cacheMisses = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "cache_misses_total",
		Help: "Page cache misses by layer (local, shared)."}, []string{"layer"})
	m.rateWaits = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "ratelimit_waits_total",
		Help: "Requests the rate limiter delayed, by class (read, write)."}, []string{"class"})
	m.rateWaitTime = prometheus.NewHistogramVec(prometheus.HistogramOpts{Namespace: Namespace, Name: "ratelimit_wait_seconds",
		Help: "How long the rate limiter delayed a request, by class.", Buckets: latency}, []string{"class"})
	m.rateRefused = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "ratelimit_refused_total",
		Help: "Requests not sent because the wait for a slot would outlast the call's deadline, by class."}, []string{"class"})
	m.rateAdjusted = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "ratelimit_adjustments_total",
		Help: "Times Dune's RateLimit headers (or a 429) tightened the limiter, by class and reason (policy, remaining, retry_after)."}, []string{"class", "reason"})
	m.redisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: Namespace, Name: "redis_errors_total",
		Help: "Failed Redis operations by user (cache, executions, ratelimit; ping: the connection's first PING)."}, []string{"op"})

	for _, c := range []prometheus.Collector{m.toolCalls, m.toolDuration, m.upstream, m.upstreamDur, m.rowsFetched, m.rowsDelivered,
		m.datapoints, m.cacheHits, m.cacheMisses, m.rateWaits, m.rateWaitTime, m.rateRefused, m.rateAdjusted, m.redisErrors,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	return m
}

// Registry returns the registry the metrics are on (for tests and for
// collectors added by other packages).
func (m *Metrics) Registry() *prometheus.Registry {
	if m == nil {
		return nil
	}
	return m.reg
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	if m == nil {
		return http.NotFoundHandler()
	}
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// ToolCall records one tool call: its outcome (OutcomeOK or an error kind)
// and latency.
func (m *Metrics) ToolCall(tool, outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.toolCalls.WithLabelValues(tool, outcome).Inc()
	m.toolDuration.WithLabelValues(tool).Observe(d.Seconds())
}

// Rows records rows decoded from Dune (fetched) and rows shown to the
// client (delivered), and the datapoints they cost.
func (m *Metrics) Rows(fetched, delivered, datapoints int64) {
	if m == nil {
		return
	}
	m.rowsFetched.Add(float64(max(fetched, 0)))
	m.rowsDelivered.Add(float64(max(delivered, 0)))
	m.datapoints.Add(float64(max(datapoints, 0)))
}

// Upstream records one HTTP attempt to Dune: status 0 means no answer.
func (m *Metrics) Upstream(endpoint string, status int, d time.Duration) {
	if m == nil {
		return
	}
	code := "error"
	if status > 0 {
		code = strconv.Itoa(status)
	}
	m.upstream.WithLabelValues(endpoint, code).Inc()
	if status > 0 {
		m.upstreamDur.WithLabelValues(endpoint).Observe(d.Seconds())
	}
}

// CacheHit records a page cache hit in layer (LayerLocal, LayerShared).
func (m *Metrics) CacheHit(layer string) {
	if m != nil {
		m.cacheHits.WithLabelValues(layer).Inc()
	}
}

// CacheMiss records a page cache miss in layer (LayerLocal, LayerShared).
func (m *Metrics) CacheMiss(layer string) {
	if m != nil {
		m.cacheMisses.WithLabelValues(layer).Inc()
	}
}

// RateLimitWait records a request of class delayed d by the rate limiter.
func (m *Metrics) RateLimitWait(class string, d time.Duration) {
	if m == nil {
		return
	}
	m.rateWaits.WithLabelValues(class).Inc()
	m.rateWaitTime.WithLabelValues(class).Observe(d.Seconds())
}

// RateLimitRefused records a request of class not sent because its wait
// would outlast the call's deadline.
func (m *Metrics) RateLimitRefused(class string) {
	if m != nil {
		m.rateRefused.WithLabelValues(class).Inc()
	}
}

// RateLimitAdjusted records Dune's headers tightening the limiter of class
// for reason (policy, remaining, retry_after).
func (m *Metrics) RateLimitAdjusted(class, reason string) {
	if m != nil {
		m.rateAdjusted.WithLabelValues(class, reason).Inc()
	}
}

// RedisError records a failed Redis operation by op (ratelimit, cache,
// executions).
func (m *Metrics) RedisError(op string) {
	if m != nil {
		m.redisErrors.WithLabelValues(op).Inc()
	}
}
