package evals

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// RunSummary aggregates the calls of one run (or of all runs).
type RunSummary struct {
	Calls            int `json:"calls"`
	MaxTokens        int `json:"max_tokens"`
	TotalTokens      int `json:"total_tokens"`
	MaxStructured    int `json:"max_structured_tokens"`
	BaselineTokens   int `json:"baseline_tokens"`
	UpstreamRequests int `json:"upstream_requests"`
	RowsFetched      int `json:"rows_fetched"`
	RowsDelivered    int `json:"rows_delivered"`
	Datapoints       int `json:"datapoints"`
	// Executions counts the query runs started upstream, Credits their cost.
	Executions int     `json:"executions"`
	Credits    int     `json:"credits"`
	P50MS      float64 `json:"p50_ms"`
	MaxMS      float64 `json:"max_ms"`
}

func summarize(calls []CallRecord) RunSummary {
	var s RunSummary
	lat := make([]float64, 0, len(calls))
	for _, c := range calls {
		s.Calls++
		s.MaxTokens = max(s.MaxTokens, c.ModelTokens)
		s.TotalTokens += c.ModelTokens
		s.MaxStructured = max(s.MaxStructured, c.StructuredTokens)
		s.BaselineTokens += c.BaselineTokens
		s.UpstreamRequests += c.UpstreamRequests
		s.RowsFetched += c.UpstreamRows
		s.RowsDelivered += c.ReturnedRows
		s.Datapoints += c.Datapoints
		s.Executions += c.Executions
		s.Credits += c.Credits
		lat = append(lat, c.LatencyMS)
	}
	if len(lat) > 0 {
		sort.Float64s(lat)
		s.P50MS = lat[(len(lat)-1)/2]
		s.MaxMS = lat[len(lat)-1]
	}
	return s
}

// SortResults orders results like the scenarios (then stdio before http).
func SortResults(results []*Result, scs []*Scenario) {
	rank := map[string]int{}
	for i, sc := range scs {
		rank[sc.Name] = i
	}
	trRank := map[string]int{}
	for i, tr := range AllTransports {
		trRank[tr] = i
	}
	sort.SliceStable(results, func(i, j int) bool {
		a, b := results[i], results[j]
		if rank[a.Scenario] != rank[b.Scenario] {
			return rank[a.Scenario] < rank[b.Scenario]
		}
		return trRank[a.Transport] < trRank[b.Transport]
	})
}

// Totals aggregates all runs' calls.
func Totals(results []*Result) RunSummary {
	var all []CallRecord
	for _, r := range results {
		all = append(all, r.Calls...)
	}
	return summarize(all)
}

// saved renders how much smaller the agent's context was than the raw pages.
func saved(s RunSummary) string {
	if s.BaselineTokens == 0 || s.TotalTokens == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fx", float64(s.BaselineTokens)/float64(s.TotalTokens))
}

// runs renders the query runs started upstream and their credits.
func runs(s RunSummary) string {
	if s.Executions == 0 {
		return "-"
	}
	return fmt.Sprintf("%d (%d)", s.Executions, s.Credits)
}

// WriteScorecard prints the aligned scorecard table, totals last.
func WriteScorecard(w io.Writer, results []*Result) error {
	header := []string{"scenario", "transport", "result", "calls", "max tok", "total tok", "baseline tok", "raw/ours",
		"upstream req", "rows fetched/delivered", "runs (credits)", "p50 ms", "max ms"}
	table := [][]string{header}
	row := func(name, tr, status string, s RunSummary) []string {
		return []string{name, tr, status, strconv.Itoa(s.Calls), strconv.Itoa(s.MaxTokens), strconv.Itoa(s.TotalTokens),
			strconv.Itoa(s.BaselineTokens), saved(s), strconv.Itoa(s.UpstreamRequests),
			fmt.Sprintf("%d/%d", s.RowsFetched, s.RowsDelivered), runs(s), fmt.Sprintf("%.1f", s.P50MS), fmt.Sprintf("%.1f", s.MaxMS)}
	}
	ok := 0
	var known []string
	for _, r := range results {
		if !r.Failed() {
			ok++
		}
		if r.KnownIssue != "" {
			known = append(known, fmt.Sprintf("%s %s [%s]: %s", r.Status, r.Scenario, r.Transport, r.KnownIssue))
		}
		table = append(table, row(r.Scenario, r.Transport, r.Status, r.Summary))
	}
	table = append(table, row("TOTAL", fmt.Sprintf("%d runs", len(results)), fmt.Sprintf("%d/%d", ok, len(results)), Totals(results)))
	widths := make([]int, len(header))
	for _, r := range table {
		for i, c := range r {
			widths[i] = max(widths[i], len(c))
		}
	}
	var b strings.Builder
	for ri, r := range table {
		if ri == len(table)-1 {
			total := 0
			for _, wd := range widths {
				total += wd + 2
			}
			b.WriteString(strings.Repeat("-", total-2) + "\n")
		}
		for i, c := range r {
			if i > 0 {
				b.WriteString("  ")
			}
			if i < 3 {
				fmt.Fprintf(&b, "%-*s", widths[i], c)
			} else {
				fmt.Fprintf(&b, "%*s", widths[i], c)
			}
		}
		b.WriteString("\n")
	}
	for _, k := range known {
		b.WriteString(k + "\n")
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("evals: write scorecard: %w", err)
	}
	return nil
}

// Scorecard returns the scorecard as text.
func Scorecard(results []*Result) string {
	var b strings.Builder
	_ = WriteScorecard(&b, results)
	return b.String()
}

// Report is the JSON report of an eval run.
type Report struct {
	GeneratedAt time.Time `json:"generated_at"`
	GoVersion   string    `json:"go_version"`
	Binary      string    `json:"binary"`
	Passed      int       `json:"passed"`
	Failed      int       `json:"failed"`
	// KnownIssues counts XFAIL runs (failing as their known_issue says).
	KnownIssues int        `json:"known_issues"`
	Totals      RunSummary `json:"totals"`
	// BaselineNote says what baseline_tokens measure.
	BaselineNote string    `json:"baseline_note"`
	Runs         []*Result `json:"runs"`
}

// BaselineNote explains the baseline column.
const BaselineNote = "baseline_tokens: o200k_base tokens of the raw Dune API JSON bodies dune-mcp fetched upstream for the same calls (what an agent calling Dune's API with the same requests would have read); bodies over 4 MiB (64 KiB under -race) are estimated from samples"

// NewReport builds the JSON report of results.
func NewReport(binary string, results []*Result) *Report {
	rep := &Report{GeneratedAt: time.Now().UTC(), GoVersion: runtime.Version(), Binary: binary,
		Totals: Totals(results), BaselineNote: BaselineNote, Runs: results}
	for _, r := range results {
		switch r.Status {
		case StatusPass, StatusXPass:
			rep.Passed++
		case StatusXFail:
			rep.KnownIssues++
		default:
			rep.Failed++
		}
	}
	return rep
}

// WriteFile writes the report as indented JSON, creating the directory.
func (rep *Report) WriteFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("evals: report dir: %w", err)
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return fmt.Errorf("evals: encode report: %w", err)
	}
	if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("evals: write report: %w", err)
	}
	return nil
}
