// Command evals runs dune-mcp's scripted evals against the real binary on
// stdio and streamable HTTP, prints the scorecard and writes a JSON report.
//
//	go run ./evals/cmd/evals [-run REGEXP] [-transport stdio,http] [-out evals/out/report.json] [-v]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/dune-mcp/dune-mcp/evals"
)

func main() {
	os.Exit(run())
}

func run() int {
	runRe := flag.String("run", "", "only scenarios whose name matches this regexp")
	transports := flag.String("transport", strings.Join(evals.AllTransports, ","), "comma-separated transports")
	bin := flag.String("bin", "", "use this dune-mcp binary instead of building one")
	dir := flag.String("scenarios", "", "load scenarios from this directory instead of the embedded ones")
	out := flag.String("out", "", "JSON report path (default <repo>/evals/out/report.json)")
	verbose := flag.Bool("v", false, "log every tool call")
	parallel := flag.Int("parallel", runtime.NumCPU(), "scenario runs at a time")
	dump := flag.String("dump", "", "write every call's text and structuredContent into this directory")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	root, err := evals.ModuleRoot(".")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	if *bin == "" {
		t0 := time.Now()
		if *bin, err = evals.BuildBinary(root); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Printf("built %s in %s\n", *bin, time.Since(t0).Round(time.Millisecond))
	}
	if *out == "" {
		*out = filepath.Join(root, "evals", "out", "report.json")
	}
	scs, err := evals.LoadScenarios(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	var re *regexp.Regexp
	if *runRe != "" {
		if re, err = regexp.Compile(*runRe); err != nil {
			fmt.Fprintln(os.Stderr, "bad -run:", err)
			return 2
		}
	}
	r := &evals.Runner{Binary: *bin, DumpDir: *dump}
	if *verbose {
		r.Logf = func(format string, args ...any) { fmt.Printf("    "+format+"\n", args...) }
	}
	type job struct {
		sc *evals.Scenario
		tr string
	}
	var jobs []job
	for _, sc := range scs {
		if re != nil && !re.MatchString(sc.Name) {
			continue
		}
		for _, tr := range strings.Split(*transports, ",") {
			if tr = strings.TrimSpace(tr); sc.RunsOn(tr) {
				jobs = append(jobs, job{sc, tr})
			}
		}
	}
	t0 := time.Now()
	results := make([]*evals.Result, len(jobs))
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	sem := make(chan struct{}, max(*parallel, 1))
	for i, j := range jobs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if ctx.Err() != nil {
				results[i] = &evals.Result{Scenario: j.sc.Name, Transport: j.tr, Error: "interrupted"}
				return
			}
			res := r.Run(ctx, j.sc, j.tr)
			results[i] = res
			mu.Lock()
			defer mu.Unlock()
			fmt.Printf("%-5s  %-28s %-5s %7.0fms  %s\n", res.Status, j.sc.Name, j.tr, res.DurationMS, j.sc.Description)
			if !res.Passed {
				fmt.Println(indent(res.Diff()))
			}
		}()
	}
	wg.Wait()
	fmt.Printf("\nscorecard (%d runs in %s; baseline = tokens of the raw Dune JSON bodies for the same upstream requests)\n\n",
		len(results), time.Since(t0).Round(time.Millisecond))
	fmt.Print(evals.Scorecard(results))
	rep := evals.NewReport(*bin, results)
	if err := rep.WriteFile(*out); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	fmt.Printf("\nreport: %s\n", *out)
	fmt.Printf("%d passed, %d failed, %d known issues\n", rep.Passed, rep.Failed, rep.KnownIssues)
	if rep.Failed > 0 || len(results) == 0 {
		return 1
	}
	return 0
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(s, "\n", "\n    ")
}
