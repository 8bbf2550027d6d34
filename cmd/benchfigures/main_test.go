package main

import (
	"strings"
	"testing"
)

const sample = `goos: linux
BenchmarkStdioLatestVsBareFetch/emulator=process-2   	      60	  50132210 ns/op	         8.579 client-ms	         1.504 ratio	         1.269 ratio-p25	         2.015 ratio-p75	         9.333 server-cpu-ms
BenchmarkStdioLatestVsBareFetch/emulator=process-2   	      60	  50072583 ns/op	         8.954 client-ms	         1.200 ratio	         1.148 ratio-p25	         1.911 ratio-p75	         9.000 server-cpu-ms
BenchmarkStdioLatestVsBareFetch/emulator=process-2   	      60	  50072583 ns/op	         8.954 client-ms	         1.300 ratio	         1.100 ratio-p25	         1.700 ratio-p75	         8.000 server-cpu-ms
BenchmarkDecodeDEXPage30000-2      	      16	  81656820 ns/op	 337.73 MB/s	         1.300 alloc/body
BenchmarkMatch100k/blockchain_=_'ethere-2         	     267	   4383451 ns/op
PASS
ok  	github.com/dune-mcp/dune-mcp/e2e	10.459s
`

func TestParseKeepsEveryRunPerMetric(t *testing.T) {
	runs, failed, err := parse(strings.NewReader(sample))
	if err != nil || failed {
		t.Fatal(err, failed)
	}
	got := runs["BenchmarkStdioLatestVsBareFetch/emulator=process"]["ratio"]
	if len(got) != 3 || got[0] != 1.504 || got[1] != 1.2 || got[2] != 1.3 {
		t.Errorf("ratio runs = %v, want [1.504 1.2 1.3]", got)
	}
	if got := runs["BenchmarkDecodeDEXPage30000"]["MB/s"]; len(got) != 1 || got[0] != 337.73 {
		t.Errorf("MB/s = %v", got)
	}
	if got := runs["BenchmarkMatch100k/blockchain_=_'ethere"]["ns/op"]; len(got) != 1 || got[0] != 4383451 {
		t.Errorf("sub-benchmark ns/op = %v", got)
	}
}

func TestTableShowsMedianSpreadAndMissingFigures(t *testing.T) {
	runs, _, _ := parse(strings.NewReader(sample))
	out, missing := table(runs, "1.50", "2.25")
	for _, want := range []string{
		"load average 1.50 at the start, 2.25 at the end",
		// ratio: median of 1.504, 1.2, 1.3; spread 1.20 – 1.50; IQR medians 1.148 and 1.911.
		"1.30      1.20 – 1.50", "IQR within a run 1.15 – 1.91",
		"9.00      8.00 – 9.33", // server CPU
		"338       338 – 338",   // decode MB/s
	} {
		if !strings.Contains(out, want) {
			t.Errorf("table lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(out, "cached next_page") || !strings.Contains(out, "not run") || !missing {
		t.Errorf("a figure not run must say so (missing = %v):\n%s", missing, out)
	}
}

func TestParseSeesFailures(t *testing.T) {
	for _, in := range []string{"--- FAIL: BenchmarkX\n", "FAIL\tgithub.com/dune-mcp/dune-mcp/e2e\t1.2s\n"} {
		if _, failed, _ := parse(strings.NewReader(sample + in)); !failed {
			t.Errorf("%q: not seen as a failure", in)
		}
	}
}
