// Command benchfigures is the end of `make bench`: it copies `go test -bench`
// output from stdin to stdout as it comes, then prints issue 10's speed
// figures side by side, each the median over the runs (-count) with the
// smallest and largest run, next to its target, and the machine's load
// average when it started and when it ended (benchmarks on a shared machine
// measure the machine too).
//
//	go test -run '^$' -bench 'StdioLatestVsBareFetch' -count 5 ./e2e/ | go run ./cmd/benchfigures
package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
)

// figure is one figure of the table: a metric of a benchmark.
type figure struct {
	label  string
	bench  string // benchmark name without the -GOMAXPROCS suffix
	metric string // unit as the benchmark reports it
	target string
	// spread, if set, is a pair of metrics (low, high) of each run whose
	// medians are shown as the figure's spread within a run (an IQR).
	spread [2]string
}

// figures are issue 10's speed figures, in the order the issue lists them.
var figures = []figure{
	{label: "get_latest_result, 1,000 DEX rows, stdio ÷ bare GET + decode (unknown client)", bench: stdio + "/emulator=process", metric: "ratio", target: "≤ 1.15", spread: [2]string{"ratio-p25", "ratio-p75"}},
	{label: "  Claude Code (rows in structuredContent only), same ratio", bench: stdio + "/claude-code", metric: "ratio", spread: [2]string{"ratio-p25", "ratio-p75"}},
	{label: "  unknown client ÷ net/http GET + encoding/json", bench: stdio + "/emulator=process", metric: "ratio-stdlib"},
	{label: "  unknown client: tool call over stdio, ms", bench: stdio + "/emulator=process", metric: "tool-ms"},
	{label: "  unknown client: the server's handler (its log line), ms", bench: stdio + "/emulator=process", metric: "handler-ms"},
	{label: "  bare GET + decode (dune.Client), ms", bench: stdio + "/emulator=process", metric: "client-ms"},
	{label: "  share of calls summarised from an early draft (tools/early.go)", bench: stdio + "/emulator=process", metric: "early-used"},
	{label: "  share of calls answered as rendered before the last rows arrived", bench: stdio + "/emulator=process", metric: "early-ready"},
	{label: "server CPU per 1,000-row call, ms (emulator in another process)", bench: stdio + "/emulator=process", metric: "server-cpu-ms", target: "≤ 12"},
	{label: "  Claude Code", bench: stdio + "/claude-code", metric: "server-cpu-ms", target: "≤ 12"},
	{label: "cached next_page, server-side median, ms (default budget)", bench: "BenchmarkCachedNextPage", metric: "median-ms", target: "≤ 3"},
	{label: "decode a 30,000-row DEX page, MB/s", bench: "BenchmarkDecodeDEXPage30000", metric: "MB/s", target: "≥ 200"},
}

// stdio is the benchmark of the per-call figures (e2e/speed_bench_test.go).
const stdio = "BenchmarkStdioLatestVsBareFetch"

func main() {
	start := loadavg()
	runs, failed, err := parse(io.TeeReader(os.Stdin, os.Stdout))
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchfigures:", err)
		os.Exit(1)
	}
	out, missing := table(runs, start, loadavg())
	fmt.Print(out)
	if failed || missing {
		// A failed benchmark or a figure that did not run fails the make
		// target (the pipe's status is this command's).
		fmt.Fprintln(os.Stderr, "benchfigures: a benchmark failed or a figure is missing")
		os.Exit(1)
	}
}

// parse reads benchmark result lines ("BenchmarkX-2  N  v unit  v unit …")
// and returns, per benchmark and unit, the value of each run in order, and
// whether go test reported a failure.
func parse(r io.Reader) (runs map[string]map[string][]float64, failed bool, err error) {
	runs = map[string]map[string][]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "FAIL") || strings.HasPrefix(sc.Text(), "--- FAIL") {
			failed = true
		}
		f := strings.Fields(sc.Text())
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") || len(f)%2 != 0 {
			continue
		}
		if _, err := strconv.Atoi(f[1]); err != nil {
			continue // not a result line
		}
		name := f[0]
		if i := strings.LastIndexByte(name, '-'); i > 0 {
			if _, err := strconv.Atoi(name[i+1:]); err == nil {
				name = name[:i]
			}
		}
		if runs[name] == nil {
			runs[name] = map[string][]float64{}
		}
		for i := 2; i+1 < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				continue
			}
			runs[name][f[i+1]] = append(runs[name][f[i+1]], v)
		}
	}
	return runs, failed, sc.Err()
}

// table is the figures, side by side, and whether any is missing.
func table(runs map[string]map[string][]float64, loadStart, loadEnd string) (string, bool) {
	missing := false
	var b strings.Builder
	fmt.Fprintf(&b, "\nissue 10 speed figures: median of the runs [smallest – largest run]; load average %s at the start, %s at the end\n", loadStart, loadEnd)
	fmt.Fprintf(&b, "%-78s %-7s %-9s %-19s %s\n", "figure", "target", "median", "runs (min – max)", "n")
	for _, f := range figures {
		vs := runs[f.bench][f.metric]
		if len(vs) == 0 {
			fmt.Fprintf(&b, "%-78s %-7s %-9s\n", f.label, f.target, "not run")
			missing = true
			continue
		}
		line := fmt.Sprintf("%-78s %-7s %-9s %-19s %d", f.label, f.target, num(median(vs)),
			num(slices.Min(vs))+" – "+num(slices.Max(vs)), len(vs))
		if lo, hi := runs[f.bench][f.spread[0]], runs[f.bench][f.spread[1]]; len(lo) > 0 && len(hi) > 0 {
			line += fmt.Sprintf("   IQR within a run %s – %s (medians)", num(median(lo)), num(median(hi)))
		}
		b.WriteString(line + "\n")
	}
	return b.String(), missing
}

// num prints v with three significant digits (more for large values).
func num(v float64) string { return strconv.FormatFloat(v, 'f', max(0, 2-int(digits(v))), 64) }

// digits is the number of digits before the decimal point, less one.
func digits(v float64) int {
	n := 0
	for v = max(v, -v); v >= 10; v /= 10 {
		n++
	}
	return n
}

// median is the middle value of vs (the mean of the two middles).
func median(vs []float64) float64 {
	s := slices.Clone(vs)
	slices.Sort(s)
	m := len(s) / 2
	if len(s)%2 == 0 {
		return (s[m-1] + s[m]) / 2
	}
	return s[m]
}

// loadavg is the 1-minute load average from /proc/loadavg, "?" elsewhere.
func loadavg() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	if f := strings.Fields(string(data)); len(f) > 0 {
		return f[0]
	}
	return "?"
}
