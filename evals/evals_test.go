package evals

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"sync"
	"testing"
)

var (
	scorecardFlag = flag.Bool("scorecard", false, "print the scorecard after TestEvals")
	reportFlag    = flag.String("report", "", "write the JSON report of TestEvals to this file")
	callsFlag     = flag.Bool("calls", false, "log every tool call")
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// binary builds dune-mcp once per test process.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := ModuleRoot(".")
		if err != nil {
			buildErr = err
			return
		}
		binPath, buildErr = BuildBinary(root)
	})
	if buildErr != nil {
		t.Fatalf("build dune-mcp: %v", buildErr)
	}
	return binPath
}

// TestEvals runs every scenario on every transport against the real binary.
// It takes about a minute on two cores, so -short (make test) skips it; make
// check and make evals run it.
func TestEvals(t *testing.T) {
	if testing.Short() {
		t.Skip("the eval suite takes about a minute: run it with make check, make evals or go test ./evals/")
	}
	scs, err := LoadScenarios("")
	if err != nil {
		t.Fatal(err)
	}
	if len(scs) < 30 {
		t.Errorf("want at least 30 scenarios, have %d", len(scs))
	}
	r := &Runner{Binary: binary(t)}
	var (
		mu      sync.Mutex
		results []*Result
	)
	// Runs are parallel subtests (go test -parallel, default GOMAXPROCS);
	// the cleanup runs once they have all finished.
	t.Cleanup(func() {
		SortResults(results, scs)
		if *scorecardFlag {
			fmt.Print("\n" + Scorecard(results))
		}
		if *reportFlag != "" {
			if err := NewReport(r.Binary, results).WriteFile(*reportFlag); err != nil {
				t.Error(err)
			}
		}
	})
	for _, sc := range scs {
		for _, tr := range AllTransports {
			if !sc.RunsOn(tr) {
				continue
			}
			t.Run(sc.Name+"/"+tr, func(t *testing.T) {
				t.Parallel()
				rr := *r
				if *callsFlag {
					rr.Logf = t.Logf
				}
				res := rr.Run(context.Background(), sc, tr)
				mu.Lock()
				results = append(results, res)
				mu.Unlock()
				switch res.Status {
				case StatusFail:
					t.Error(res.Diff())
				case StatusXFail:
					t.Skip(res.Diff())
				case StatusXPass:
					t.Logf("%s passes despite known_issue %q: remove the marker", sc.Name, sc.KnownIssue)
				}
			})
		}
	}
}

// TestBrokenExpectationFails proves a wrong expectation (on fields, text,
// upstream counters, progress) fails the run with a readable expected/actual
// diff, and that a right one passes.
func TestBrokenExpectationFails(t *testing.T) {
	const src = `
name: broken
queries:
  7: {dataset: tiny}
steps:
  - id: read
    tool: get_latest_result
    args: {query_id: 7}
    expect:
      fields:
        total_row_count: 999999
        state: {eq: QUERY_STATE_COMPLETED}
      text_contains: [no-such-words-anywhere]
      upstream: {execute: 1, query_results: 1, status: 0}
      upstream_total: {requests: 0}
      progress: {min: 1, max: 50, contains: [no-such-words-anywhere]}
`
	res := runText(t, src)
	if res.Passed {
		t.Fatalf("a wrong expectation passed:\n%s", Scorecard([]*Result{res}))
	}
	diff := res.Diff()
	for _, want := range []string{
		"scenario broken [stdio] FAILED",
		"step read (call 1): field total_row_count eq",
		"- expected: == 999999",
		"+ actual:   ",
		"text contains",
		`"no-such-words-anywhere"`,
		"step read (call 1): upstream execute eq",
		"upstream_total requests eq",
		"progress message contains",
	} {
		if !strings.Contains(diff, want) {
			t.Errorf("diff lacks %q:\n%s", want, diff)
		}
	}
	for _, right := range []string{"field state", "upstream query_results", "upstream status", "progress notifications"} {
		if strings.Contains(diff, right) {
			t.Errorf("the right expectation %q was reported as broken:\n%s", right, diff)
		}
	}
	if strings.Contains(diff, "+ actual:   999999") {
		t.Errorf("actual value echoes the expectation:\n%s", diff)
	}
}

// runText runs a scenario given as YAML over stdio.
func runText(t *testing.T, src string) *Result {
	t.Helper()
	sc, err := ParseScenario([]byte(src), "inline.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return (&Runner{Binary: binary(t)}).Run(context.Background(), sc, TransportStdio)
}
