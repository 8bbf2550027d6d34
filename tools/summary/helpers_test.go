package summary

import (
	"cmp"
	"math/big"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/schemas"
)

func TestCmpIntTextMatchesBigInt(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	vals := []string{"0", "-0", "+7", "007", "-1", "1", "115792089237316195423570985008687907853269984665640564039457584007913129639935"}
	for range 200 {
		s := uintString(r, 1+r.IntN(40))
		if r.IntN(3) == 0 {
			s = "-" + s
		}
		vals = append(vals, s)
	}
	for _, a := range vals {
		for _, b := range vals[:40] {
			x, _ := new(big.Int).SetString(a, 10)
			y, _ := new(big.Int).SetString(b, 10)
			if got, want := cmpIntText(a, b), x.Cmp(y); got != want {
				t.Fatalf("cmpIntText(%s, %s) = %d, want %d", a, b, got, want)
			}
		}
	}
}

func TestParseTimeMatchesTimeParse(t *testing.T) {
	layouts := []string{"2006-01-02 15:04:05.000 MST", time.RFC3339Nano, "2006-01-02", "2006-01-02 15:04:05.999999 MST", "2006-01-02T15:04:05-07:00"}
	r := rand.New(rand.NewPCG(9, 9))
	var prev time.Time
	var prevV timeVal
	for i := range 500 {
		tm := time.Date(1990+r.IntN(60), time.Month(1+r.IntN(12)), 1+r.IntN(28), r.IntN(24), r.IntN(60), r.IntN(60), r.IntN(1e9), time.UTC)
		layout := layouts[i%len(layouts)]
		loc := time.UTC
		if i%5 == 4 {
			loc = time.FixedZone("", (r.IntN(27)-12)*3600+1800*r.IntN(2))
		}
		s := tm.In(loc).Format(layout)
		want, err := time.Parse(strings.Replace(layout, "MST", "UTC", 1), s)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := parseTime(s)
		if !ok || got.sec != want.Unix() || int(got.nsec) != want.Nanosecond() {
			t.Fatalf("parseTime(%q) = %+v %v, want %v", s, got, ok, want)
		}
		if i > 0 && cmpTime(got, prevV) != want.Compare(prev) {
			t.Fatalf("order of %q vs %q", s, prevV.s)
		}
		prev, prevV = want, got
	}
	for _, bad := range []string{"", "2024", "2024-13-01", "2024-01-01 25:00:00", "2024-01-01 10:00:00 CET", "2024-01-01 10:00:00.", "yesterday"} {
		if _, ok := parseTime(bad); ok {
			t.Errorf("parseTime(%q) accepted", bad)
		}
	}
}

func TestCmpNumMixed(t *testing.T) {
	nums := []string{"-0.5", "0", "1e-7", "3", "2985.646787349244", "2985646787349243786078", "1.5e30"}
	for i := 1; i < len(nums); i++ {
		a, _ := parseNum(nums[i-1])
		b, _ := parseNum(nums[i])
		if cmpNum(a, b) >= 0 {
			t.Errorf("%s should sort before %s", nums[i-1], nums[i])
		}
	}
	for _, bad := range []string{"NaN", "Infinity", "abc", ""} {
		if _, ok := parseNum(bad); ok {
			t.Errorf("parseNum(%q) accepted", bad)
		}
	}
}

func TestFormatting(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 123456: "123,456", 1234567: "1,234,567", -45000: "-45,000"} {
		if got := commas(n); got != want {
			t.Errorf("commas(%d) = %q, want %q", n, got, want)
		}
	}
	s := strings.Repeat("ab", 150)
	got, cut := shorten(s, CellLimit, cellKeep)
	if !cut || got != s[:cellKeep]+"…[+120 of 300 chars]" {
		t.Errorf("shorten = %q", got)
	}
	if got, cut := shorten(strings.Repeat("€", CellLimit), CellLimit, cellKeep); cut || got != strings.Repeat("€", CellLimit) {
		t.Errorf("multi-byte text at the bound was shortened")
	}
	for s, want := range map[string]bool{"": true, "∅": true, "a,b": true, `a"b`: true, "a\nb": true, " a": true, "plain": false, "0xabc": false} {
		if needsQuote(s) != want {
			t.Errorf("needsQuote(%q) = %v", s, !want)
		}
	}
}

func TestCutToTokens(t *testing.T) {
	s := strings.Repeat("héllo wörld, 0xdeadbeef 12345; ", 300)
	for _, b := range []int{1, 5, 15, 100, 1000, 100000} {
		got := cutToTokens(s, b)
		if c := CountTokens(got); c > b {
			t.Errorf("cutToTokens(budget %d) has %d tokens", b, c)
		}
		if b >= 100 && !strings.HasSuffix(got, "raise max_tokens]") && got != s {
			t.Errorf("cut without marker at budget %d", b)
		}
	}
	if cmp.Compare(CountTokens("hello world"), 0) <= 0 || CountTokens("") != 0 {
		t.Error("CountTokens")
	}
}

// truncated reads schemas.Structured.Truncated, which a compact result leaves out
// when has_more says it.
func truncated(st *schemas.Structured) bool {
	if st.Truncated == nil {
		return st.HasMore
	}
	return *st.Truncated
}

// fetchedRows reads schemas.Structured.FetchedRows, which a compact result leaves
// out when it equals returned_rows.
func fetchedRows(st *schemas.Structured) int {
	if st.FetchedRows == nil {
		return st.ReturnedRows
	}
	return *st.FetchedRows
}
