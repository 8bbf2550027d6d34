package emulator

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"
)

func TestAppendJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range []string{"", "plain", `quote " and \ backslash`, "tab\tnl\ncr\r", "ctrl \x00\x01\x1f\x7f", "é—café ✓ 😀",
		"bad utf8 \xff\xfe end", "line sep \u2028 para \u2029", "<html> & 'single'"} {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		got := string(appendJSONString(nil, s))
		if got+"\n" != want.String() {
			t.Errorf("appendJSONString(%q) = %s, want %s", s, got, want.String())
		}
	}
}

func TestAppendFloatMatchesEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, 1, -1.5, 2985.646787349244, 0.00001404037053195, 1e-7, 1.2345e-9, 1e21, 123456789012345678901234.0, math.MaxFloat64, math.SmallestNonzeroFloat64} {
		want, _ := json.Marshal(f)
		if got := string(appendFloat(nil, f)); got != string(want) {
			t.Errorf("appendFloat(%v) = %s, want %s", f, got, want)
		}
	}
	if got := string(appendValue(nil, math.NaN())); got != "null" {
		t.Errorf("NaN = %s", got)
	}
}

func TestAppendCSVFieldRoundTrips(t *testing.T) {
	fields := []string{"", "plain", "a,b", `say "hi"`, "two\nlines", "cr\rhere", " leading space", "trailing ", "é,ü"}
	var line []byte
	for i, f := range fields {
		if i > 0 {
			line = append(line, ',')
		}
		line = appendCSVField(line, f)
	}
	rec, err := csv.NewReader(bytes.NewReader(append(line, '\n'))).Read()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(rec[:5], fields[:5]) || !slices.Equal(rec[6:], fields[6:]) || rec[5] != "cr\nhere" && rec[5] != "cr\rhere" {
		t.Errorf("round trip = %q", rec)
	}
}

func TestSplitColumns(t *testing.T) {
	cases := map[string][]string{
		"a,b,c":                     {"a", "b", "c"},
		` a , b `:                   {"a", "b"},
		`"a","special, column",b`:   {"a", "special, column", "b"},
		`"with ""quote"""`:          {`with "quote"`},
		`block_time,"token.symbol"`: {"block_time", "token.symbol"},
	}
	for in, want := range cases {
		got, err := splitColumns(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("splitColumns(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"a,,b", `"a`, ",", "a,"} {
		if _, err := splitColumns(bad); err == nil {
			t.Errorf("splitColumns(%q): no error", bad)
		}
	}
}

func TestScrubQuery(t *testing.T) {
	cases := map[string]string{
		"":                            "",
		"limit=5":                     "limit=5",
		"api_key=secret&limit=5":      "api_key=REDACTED&limit=5",
		"limit=5&api%5Fkey=secret":    "limit=5&api%5Fkey=REDACTED",
		"api_key=a&api_key=b":         "api_key=REDACTED&api_key=REDACTED",
		"filters=api_key%3D%27x%27":   "filters=api_key%3D%27x%27",
		"my_api_key=secret&api_key=s": "my_api_key=secret&api_key=REDACTED",
	}
	for in, want := range cases {
		if got := scrubQuery(in); got != want {
			t.Errorf("scrubQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestDuneTimestamp(t *testing.T) {
	tm := time.Date(2024, 3, 5, 20, 50, 59, 123456789, time.UTC)
	if got, want := duneTimestamp(tm), tm.Format("2006-01-02 15:04:05.000 UTC"); got != want {
		t.Errorf("duneTimestamp = %q, want %q", got, want)
	}
}

func TestTotalBytesEstimate(t *testing.T) {
	big := DEXTrades(3*exactBytesRows, 1)
	exact := int64(0)
	for _, c := range big.Columns {
		exact += int64(len(c.Name))
	}
	for i := 0; i < big.Len(); i++ {
		for _, v := range big.Row(i) {
			exact += int64(cellBytes(v))
		}
	}
	est := big.totalBytes()
	if d := math.Abs(float64(est-exact)) / float64(exact); d > 0.01 {
		t.Errorf("estimate %d vs exact %d (%.2f%% off)", est, exact, 100*d)
	}
	small := Tiny()
	if small.totalBytes() != int64(len("rankprojectvolume_usdlaunched")+len("1uniswap1523432187.252018-11-01T00:00:00Z2pancakeswap811209334.52020-09-01T00:00:00Z3curve2020-01-01T00:00:00Z")) {
		t.Errorf("tiny bytes = %d", small.totalBytes())
	}
}

// TestDEXPartialRowsMatchFullRows checks that generating only some columns
// yields exactly the values of full rows for those columns.
func TestDEXPartialRowsMatchFullRows(t *testing.T) {
	for _, ds := range []*Dataset{DEXTrades(400, 3), DEXTradesOn("polygon", 100, 4)} {
		for mask := 0; mask < 30; mask++ {
			var cols []int
			for j := range ds.Columns {
				if mix64(uint64(mask*31+j))%3 == 0 {
					cols = append(cols, j)
				}
			}
			want := ds.wantCols(cols)
			for i := 0; i < ds.Len(); i++ {
				full, part := ds.Row(i), ds.rowCols(i, want)
				for _, j := range cols {
					if full[j] != part[j] {
						t.Fatalf("%s row %d col %s: %v vs %v", ds.Name, i, ds.Columns[j].Name, part[j], full[j])
					}
				}
			}
		}
	}
}
