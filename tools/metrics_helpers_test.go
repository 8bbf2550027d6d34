package tools

import (
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/dune-mcp/dune-mcp/metrics"
)

// gather returns the metric family name from m's registry, or nil.
func gather(t *testing.T, m *metrics.Metrics, name string) *dto.MetricFamily {
	t.Helper()
	fams, err := m.Registry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == name {
			return f
		}
	}
	return nil
}

// sum adds up the counter family name over its labels.
func sum(t *testing.T, m *metrics.Metrics, name string) float64 {
	t.Helper()
	s := 0.0
	if f := gather(t, m, name); f != nil {
		for _, mt := range f.GetMetric() {
			s += mt.GetCounter().GetValue()
		}
	}
	return s
}

// histogramCount adds up the observations of the histogram family name.
func histogramCount(t *testing.T, m *metrics.Metrics, name string) uint64 {
	t.Helper()
	var n uint64
	if f := gather(t, m, name); f != nil {
		for _, mt := range f.GetMetric() {
			n += mt.GetHistogram().GetSampleCount()
		}
	}
	return n
}

// value returns the counter of family name with exactly these label values
// (in the order of the label names, which Prometheus sorts), 0 when there
// is none.
func value(t *testing.T, m *metrics.Metrics, name string, values ...string) float64 {
	t.Helper()
	f := gather(t, m, name)
	if f == nil {
		return 0
	}
	for _, mt := range f.GetMetric() {
		match := len(mt.GetLabel()) == len(values)
		for i, l := range mt.GetLabel() {
			match = match && l.GetValue() == values[i]
		}
		if match {
			return mt.GetCounter().GetValue()
		}
	}
	return 0
}
