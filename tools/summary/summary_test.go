package summary

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/schemas"
)

var budgets = []int{256, 1000, 8000, 25000}

type namedPage struct {
	name string
	page Page
}

func datasets() []namedPage {
	return []namedPage{
		{"dex30k", dexPage(30000, 100000)},
		{"wide300", widePage(40, 300)},
		{"longtext", longTextPage(20, 20*1024)},
		{"empty", emptyPage()},
		{"single", singleRowPage()},
	}
}

func mustSummarize(t testing.TB, p Page, budget int) Output {
	t.Helper()
	out, err := Summarize(p, budget, testCursor(p))
	if err != nil {
		t.Fatalf("Summarize(budget %d): %v", budget, err)
	}
	return out
}

func structJSON(t testing.TB, s *schemas.Structured) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// rowsCut is the independent statement of "rows were cut".
func rowsCut(p Page, shown int) bool {
	if p.SampleCount > 0 {
		return shown < len(p.Rows)
	}
	return shown < len(p.Rows) || p.Offset+shown < p.TotalRowCount
}

func TestBudgetHoldsOnEveryDataset(t *testing.T) {
	for _, d := range datasets() {
		for _, budget := range budgets {
			t.Run(fmt.Sprintf("%s/%d", d.name, budget), func(t *testing.T) {
				p := d.page
				out := mustSummarize(t, p, budget)
				js := structJSON(t, out.Structured)
				if got := CountTokens(out.Text); got > budget || got != out.TextTokens {
					t.Errorf("text tokens %d (reported %d), budget %d", got, out.TextTokens, budget)
				}
				if got := CountTokens(js); got > budget || got != out.StructuredTokens {
					t.Errorf("structured tokens %d (reported %d), budget %d", got, out.StructuredTokens, budget)
				}
				st := out.Structured
				n := out.ShownRows
				if len(st.Rows) != n || st.ReturnedRows != n || n > len(p.Rows) {
					t.Fatalf("shown %d, structured rows %d, returned_rows %d, page rows %d", n, len(st.Rows), st.ReturnedRows, len(p.Rows))
				}
				if st.HasMore != (st.NextCursor != "") {
					t.Errorf("has_more %v with next_cursor %q", st.HasMore, st.NextCursor)
				}
				if want := testCursor(p)(n); st.NextCursor != want {
					t.Errorf("next_cursor %q, want cursor(%d) %q", st.NextCursor, n, want)
				}
				if st.NextCursor != "" && !strings.Contains(out.Text, "next_cursor: "+st.NextCursor+"\n") && !strings.Contains(out.Text, "next_cursor: "+st.NextCursor+" ") && !strings.HasSuffix(out.Text, "next_cursor: "+st.NextCursor) {
					t.Errorf("text lacks the full cursor")
				}
				cut := rowsCut(p, n)
				if strings.Contains(out.Text, "TRUNCATED:") != cut {
					t.Errorf("TRUNCATED line present=%v, rows cut=%v (shown %d of %d, total %d)",
						strings.Contains(out.Text, "TRUNCATED:"), cut, n, len(p.Rows), p.TotalRowCount)
				}
				// truncated and fetched_rows go without saying only when
				// has_more and returned_rows say them.
				if st.Truncated == nil && !st.HasMore || st.FetchedRows == nil && st.ReturnedRows != len(p.Rows) {
					t.Errorf("truncated %v / fetched_rows %v left out (has_more %v, returned %d of %d)", st.Truncated, st.FetchedRows, st.HasMore, st.ReturnedRows, len(p.Rows))
				}
				if st.FetchedRows != nil && *st.FetchedRows != len(p.Rows) {
					t.Errorf("fetched_rows %d, want %d", *st.FetchedRows, len(p.Rows))
				}
				if cut && !truncated(st) {
					t.Errorf("rows cut but structured truncated=false")
				}
				// What was left out is said in omitted, or (compact results)
				// shown by the other fields.
				statsShort := len(p.Rows) > 0 && len(st.Stats) < len(st.Columns)
				visible := st.HasMore || st.ReturnedRows < fetchedRows(st) || st.ShortenedCells > 0 || statsShort
				if truncated(st) != (len(st.Omitted) > 0 || visible) {
					t.Errorf("truncated=%v with omitted %q (has_more %v, returned %d of %d fetched)", truncated(st), st.Omitted, st.HasMore, st.ReturnedRows, fetchedRows(st))
				}
				if len(st.Columns) < len(p.Columns) && !slices.ContainsFunc(st.Omitted, func(s string) bool { return strings.HasPrefix(s, "columns") }) {
					t.Errorf("columns cut (%d of %d) without saying so: %q", len(st.Columns), len(p.Columns), st.Omitted)
				}
				if len(p.Rows) > 0 && len(st.Stats) < len(p.Columns) && !statsShort && !slices.ContainsFunc(st.Omitted, func(s string) bool { return strings.HasPrefix(s, "stats") }) {
					t.Errorf("stats cut without saying so: %q", st.Omitted)
				}
				// The same rows in text and structured, exactly as the page has them.
				for i := range n {
					for c, v := range st.Rows[i] {
						orig := p.Rows[i][c]
						if st.ShortenedCells > 0 {
							if s, ok := orig.(string); ok && len([]rune(s)) > CellLimit {
								if !strings.HasPrefix(s, strings.SplitN(v.(string), "…[+", 2)[0]) {
									t.Fatalf("row %d col %d: shortened cell is not a prefix", i, c)
								}
								continue
							}
						}
						if v != orig {
							t.Fatalf("row %d col %d: structured %#v, page %#v", i, c, v, orig)
						}
					}
				}
				if len(p.Columns) == 22 { // DEX: every shown row's tx_hash is in the text, the next one is not
					for i := range n {
						if !strings.Contains(out.Text, p.Rows[i][20].(string)) {
							t.Fatalf("row %d tx_hash missing from text", i)
						}
					}
					if n < len(p.Rows) && strings.Contains(out.Text, p.Rows[n][20].(string)) {
						t.Fatalf("row %d (not shown) appears in the text", n)
					}
				}
			})
		}
	}
}

func TestRowsGrowWithBudget(t *testing.T) {
	p := dexPage(2000, 100000)
	prev := -1
	for _, b := range []int{1000, 4000, 8000, 25000} {
		out := mustSummarize(t, p, b)
		if out.ShownRows <= prev {
			t.Errorf("budget %d shows %d rows, not more than %d at the smaller budget", b, out.ShownRows, prev)
		}
		prev = out.ShownRows
	}
	// A budget of 8000 leaves room for a useful number of DEX rows.
	if out := mustSummarize(t, p, 8000); out.ShownRows < 8 {
		t.Errorf("8000 tokens show only %d DEX rows", out.ShownRows)
	}
}

// ---------------------------------------------------------------- statistics

type refStat struct {
	nulls     int
	min, max  string
	mean      float64
	hasMean   bool
	distinct  int
	top       []schemas.TopValue
	numeric   bool
	timestamp bool
}

// referenceStats computes statistics the slow, obvious way: math/big for
// numbers, time.Parse for timestamps, a map of strings for distinct values.
func referenceStats(cols []dune.Column, rows []dune.Row) []refStat {
	out := make([]refStat, len(cols))
	for c, col := range cols {
		r := &out[c]
		r.numeric = strings.Contains("double bigint uint256", col.Type)
		r.timestamp = strings.HasPrefix(col.Type, "timestamp") || col.Type == "date"
		counts := map[string]int{}
		var minB, maxB, sum *big.Float
		var minT, maxT time.Time
		n := 0
		for _, row := range rows {
			v := row[c]
			if v == nil {
				r.nulls++
				continue
			}
			var s string
			switch x := v.(type) {
			case string:
				s = x
			case json.Number:
				s = string(x)
			case bool:
				s = fmt.Sprint(x)
			}
			counts[s]++
			n++
			switch {
			case r.numeric:
				f, _, err := big.ParseFloat(s, 10, 300, big.ToNearestEven)
				if err != nil {
					panic(err)
				}
				if sum == nil {
					sum, minB, maxB = new(big.Float).SetPrec(300), f, f
					r.min, r.max = s, s
				}
				sum.Add(sum, f)
				if f.Cmp(minB) < 0 {
					minB, r.min = f, s
				}
				if f.Cmp(maxB) > 0 {
					maxB, r.max = f, s
				}
			case r.timestamp:
				tm, err := time.Parse("2006-01-02 15:04:05.000 MST", s)
				if err != nil {
					tm, err = time.Parse(time.RFC3339, s)
				}
				if err != nil {
					panic(err)
				}
				if r.min == "" || tm.Before(minT) {
					minT, r.min = tm, s
				}
				if r.max == "" || tm.After(maxT) {
					maxT, r.max = tm, s
				}
			}
		}
		if sum != nil {
			m, _ := new(big.Float).Quo(sum, new(big.Float).SetInt64(int64(n))).Float64()
			r.mean, r.hasMean = m, true
		}
		r.distinct = len(counts)
		var all []schemas.TopValue
		for v, k := range counts {
			all = append(all, schemas.TopValue{Value: v, Count: k})
		}
		slices.SortFunc(all, func(a, b schemas.TopValue) int {
			if a.Count != b.Count {
				return b.Count - a.Count
			}
			return strings.Compare(a.Value, b.Value)
		})
		covered := 0
		for i := 0; i < 3 && i < len(all); i++ {
			covered += all[i].Count
		}
		if len(all) > 0 && all[0].Count >= 2 && (len(all) <= 20 || 2*covered >= n) {
			for _, tv := range all {
				if len(r.top) == 10 || tv.Count < 2 {
					break
				}
				r.top = append(r.top, tv)
			}
		}
	}
	return out
}

func TestStatsMatchIndependentComputation(t *testing.T) {
	p := dexPage(30000, 30000)
	// Make one uint256 column interesting: equal lengths, a huge value and
	// values differing only past float64 precision.
	p.Rows[10][14] = "999999999999999999999999999999999999999999999999999999999999999999999999999"
	p.Rows[11][14] = "999999999999999999999999999999999999999999999999999999999999999999999999998"
	p.Rows[12][17] = "1"
	p.Rows = p.Rows[:3] // all shown: statistics (over StatsRows) get the room rows leave
	out := mustSummarize(t, p, 25000)
	ref := referenceStats(p.Columns, p.StatsRows)
	got := statsByName(out.Structured.Stats)
	for c, r := range ref {
		name := p.Columns[c].Name
		g, ok := got[name]
		if !ok {
			// Left out only when it says nothing: every value different.
			if r.nulls != 0 || r.distinct != len(p.StatsRows) || r.numeric || r.timestamp {
				t.Errorf("%s: no statistics (nulls %d, distinct %d of %d)", name, r.nulls, r.distinct, len(p.StatsRows))
			}
			continue
		}
		if g.Name != name || g.Nulls != r.nulls || g.Distinct != r.distinct || !g.DistinctExact {
			t.Errorf("%s: got name %q nulls %d distinct %d exact %v; want nulls %d distinct %d",
				name, g.Name, g.Nulls, g.Distinct, g.DistinctExact, r.nulls, r.distinct)
		}
		if (r.numeric || r.timestamp) && (g.Min != r.min || g.Max != r.max) {
			t.Errorf("%s: min/max %q/%q, want %q/%q", name, g.Min, g.Max, r.min, r.max)
		}
		if r.hasMean != (g.Mean != nil) || (g.Mean != nil && math.Abs(*g.Mean-r.mean) > 1e-9*math.Abs(r.mean)) {
			t.Errorf("%s: mean %v, want %v", name, g.Mean, r.mean)
		}
		if !reflect.DeepEqual(g.Top, r.top) {
			t.Errorf("%s: top %v, want %v", name, g.Top, r.top)
		}
		// The text line says the same.
		line := lineStarting(out.Text, name+": ")
		if line == "" {
			t.Errorf("%s: no stats line in text", name)
			continue
		}
		for _, want := range []string{fmt.Sprintf("nulls %d", r.nulls), fmt.Sprintf("distinct %d", r.distinct)} {
			if !strings.Contains(line, want) {
				t.Errorf("%s: text line %q lacks %q", name, line, want)
			}
		}
		if r.min != "" && !strings.Contains(line, "min "+r.min+" · max "+r.max) {
			t.Errorf("%s: text line %q lacks min %s max %s", name, line, r.min, r.max)
		}
		if len(r.top) > 0 && !strings.Contains(line, fmt.Sprintf("%s×%d", r.top[0].Value, r.top[0].Count)) {
			t.Errorf("%s: text line %q lacks top value %v", name, line, r.top[0])
		}
	}
	if got[p.Columns[14].Name].Max != p.StatsRows[10][14] || got[p.Columns[17].Name].Min != "1" {
		t.Errorf("uint256 extremes: max %q min %q", got[p.Columns[14].Name].Max, got[p.Columns[17].Name].Min)
	}
}

func lineStarting(text, prefix string) string {
	for l := range strings.SplitSeq(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

func TestStatsEdgeCases(t *testing.T) {
	cols := []dune.Column{
		{Name: "allnull", Type: "varchar"},
		{Name: "n", Type: "int256"},
		{Name: "ts", Type: "timestamp(3) with time zone"},
		{Name: "flag", Type: "boolean"},
		{Name: "untyped", Type: ""},
	}
	rows := []dune.Row{
		{nil, "-5", "2024-03-05 20:50:59.000 UTC", true, json.Number("3")},
		{nil, "-40", "2024-03-05T20:50:58.5Z", true, json.Number("1.5")},
		{nil, "12", "2024-03-05 20:50:59.001 UTC", false, nil},
		{nil, "NaN", "yesterday", true, json.Number("3")},
	}
	p := Page{QueryID: 1, ExecutionID: "e", State: dune.StateCompleted, Columns: cols, Rows: rows, TotalRowCount: 4, Datapoints: 20, Now: testNow}
	out := mustSummarize(t, p, 8000)
	// The all-NULL column holds one value in every row, but in 4 rows its
	// cells cost fewer tokens than declaring it once: it stays in the
	// table, and its statistics say it is all NULL.
	if strings.Contains(out.Text, "allnull (varchar)=∅") || !strings.Contains(out.Text, "allnull: all 4 null") {
		t.Errorf("all-null column:\n%s", out.Text)
	}
	st := out.Structured.Stats[:0:0]
	for _, c := range cols {
		st = append(st, statsByName(out.Structured.Stats)[c.Name])
	}
	if st[1].Min != "-40" || st[1].Max != "12" || st[1].Invalid != 1 || *st[1].Mean != -11 {
		t.Errorf("int256 column: %+v", st[1])
	}
	if st[2].Min != "2024-03-05T20:50:58.5Z" || st[2].Max != "2024-03-05 20:50:59.001 UTC" || st[2].Invalid != 1 {
		t.Errorf("timestamp column (chronological across formats): %+v", st[2])
	}
	if !reflect.DeepEqual(st[3].Top, []schemas.TopValue{{Value: "true", Count: 3}}) || st[3].Distinct != 2 {
		t.Errorf("boolean column: %+v", st[3])
	}
	if st[4].Min != "1.5" || st[4].Max != "3" || st[4].Nulls != 1 {
		t.Errorf("untyped numeric column: %+v", st[4])
	}
	if !strings.Contains(out.Text, "1 non-numeric") || !strings.Contains(out.Text, "1 unparsed timestamps") {
		t.Errorf("unreadable values not reported:\n%s", out.Text)
	}
}

func TestDistinctBoundIsALowerBound(t *testing.T) {
	rows := make([]dune.Row, distinctBound+10)
	for i := range rows {
		rows[i] = dune.Row{fmt.Sprint(i)}
	}
	st := computeStats([]dune.Column{{Name: "k", Type: "varchar"}}, rows)[0]
	if st.distinctExact || st.distinct != distinctBound || st.top != nil {
		t.Fatalf("distinct %d exact %v top %v", st.distinct, st.distinctExact, st.top)
	}
	if !strings.Contains(statLine(&st), "distinct ≥131072") {
		t.Fatalf("line %q", statLine(&st))
	}
}

// ---------------------------------------------------------------- values, cells, CSV

// tableRecords parses the CSV table of a text.
func tableRecords(t *testing.T, text string) [][]string {
	t.Helper()
	i := strings.Index(text, " as CSV (")
	if i < 0 {
		// The compact layout: "CSV (legend):" or "CSV:", after a line.
		i = strings.Index(text, "\nCSV (")
		if i < 0 {
			i = strings.Index(text, "\nCSV:")
		}
		if i < 0 {
			return nil
		}
		i++
	}
	rest := text[i:]
	rest = rest[strings.IndexByte(rest, '\n')+1:]
	// Lines above the header: the columns given once, and the common parts
	// of cells.
	for strings.HasPrefix(rest, "same in every row") || strings.HasPrefix(rest, "cells ") {
		rest = rest[strings.IndexByte(rest, '\n')+1:]
	}
	if j := strings.Index(rest, "\nTRUNCATED:"); j >= 0 {
		rest = rest[:j]
	} else if j := strings.Index(rest, "\nnext_cursor:"); j >= 0 {
		rest = rest[:j]
	}
	recs, err := csv.NewReader(strings.NewReader(rest)).ReadAll()
	if err != nil {
		t.Fatalf("table is not valid CSV: %v\n%s", err, rest)
	}
	return recs
}

func TestExactValuesAndCSV(t *testing.T) {
	cols := []dune.Column{
		{Name: "addr", Type: "varbinary"}, {Name: "raw", Type: "uint256"}, {Name: "amount", Type: "double"},
		{Name: "note", Type: "varchar"}, {Name: "tags", Type: "array(varchar)"}, {Name: "weird, name", Type: "varchar"},
	}
	addr := "0x88bf5a2e82510847e5dcbf33f44a9f611f1c1df5"
	rows := []dune.Row{
		{addr, "2985646787349243786078", json.Number("2985.646787349244"), "plain", []any{"a", "b"}, "x"},
		{nil, "115792089237316195423570985008687907853269984665640564039457584007913129639935", json.Number("1e-7"), "", nil, "∅"},
		{"0x00", "0", json.Number("-0.5"), "comma, \"quote\"\nnewline", []any{}, " padded "},
	}
	p := Page{Tool: "get_latest_result", QueryID: 7, ExecutionID: "01X", State: dune.StateCompleted, Columns: cols,
		Rows: rows, TotalRowCount: 3, Datapoints: 18, Now: testNow}
	out := mustSummarize(t, p, 8000)
	if out.ShownRows != 3 || strings.Contains(out.Text, "TRUNCATED") || truncated(out.Structured) || out.Structured.Truncated == nil || out.Structured.HasMore {
		t.Fatalf("small page not shown whole: %d rows, truncated %v\n%s", out.ShownRows, truncated(out.Structured), out.Text)
	}
	recs := tableRecords(t, out.Text)
	if len(recs) != 4 {
		t.Fatalf("%d CSV records, want header + 3", len(recs))
	}
	if !reflect.DeepEqual(recs[0], []string{"addr", "raw", "amount", "note", "tags", "weird, name"}) {
		t.Errorf("header %q", recs[0])
	}
	for i, row := range rows {
		for c, v := range row {
			want := "" // NULL is an empty field (the empty string is "")
			if v != nil {
				want = valueText(v)
			}
			if recs[i+1][c] != want {
				t.Errorf("cell %d,%d = %q, want %q", i, c, recs[i+1][c], want)
			}
		}
	}
	// NULL is an empty field; a literal "∅" string and the empty string are quoted.
	if !strings.Contains(out.Text, "\n,115792") || !strings.Contains(out.Text, `,"",,"∅"`) {
		t.Errorf("NULL/empty rendering:\n%s", out.Text)
	}
	if !strings.Contains(out.Text, `"∅"`) {
		t.Errorf("literal ∅ string not quoted:\n%s", out.Text)
	}
	if !strings.Contains(out.Text, `empty = NULL, "" = empty string`) {
		t.Errorf("NULL rendering not stated")
	}
	// Structured: values as Dune sent them.
	js := structJSON(t, out.Structured)
	for _, want := range []string{
		`["0x88bf5a2e82510847e5dcbf33f44a9f611f1c1df5","2985646787349243786078",2985.646787349244,"plain",["a","b"],"x"]`,
		`[null,"115792089237316195423570985008687907853269984665640564039457584007913129639935",1e-7,"",null,"∅"]`,
	} {
		if !strings.Contains(js, want) {
			t.Errorf("structured JSON lacks %s\n%s", want, js)
		}
	}
	if out.Structured.Rows[1][0] != nil || out.Structured.Rows[0][2] != json.Number("2985.646787349244") {
		t.Errorf("structured values changed: %#v", out.Structured.Rows[:2])
	}
}

func TestLongCellsMarkedWithLength(t *testing.T) {
	p := longTextPage(6, 4512)
	p.Rows[0][1] = strings.Repeat("é", CellLimit) // exactly at the bound: kept whole
	out := mustSummarize(t, p, 8000)
	if out.ShownRows != 6 {
		t.Fatalf("shown %d", out.ShownRows)
	}
	recs := tableRecords(t, out.Text)
	for i := 1; i < len(recs); i++ {
		body := recs[i][2]
		want := fmt.Sprintf("…[+%d of 4512 chars]", 4512-cellKeep)
		if !strings.HasSuffix(body, want) || !strings.HasPrefix(p.Rows[i-1][2].(string), strings.TrimSuffix(body, want)) {
			t.Errorf("row %d body cell %q… not a prefix with marker %s", i, body[:40], want)
		}
	}
	if recs[1][1] != p.Rows[0][1] {
		t.Errorf("a cell of exactly %d chars was shortened", CellLimit)
	}
	if !strings.Contains(out.Text, "6 cells over 200 chars shortened, marked …[+N of M chars]") {
		t.Errorf("table label does not state shortening:\n%s", out.Text[:600])
	}
	// With room for everything, schemas.Structured carries the long cells whole.
	if out.Structured.ShortenedCells != 0 || out.Structured.Rows[0][2] != p.Rows[0][2] {
		t.Errorf("structured shortened cells although they fit: %d", out.Structured.ShortenedCells)
	}

	// 20 KB cells at 1,000 tokens: shortened in both, and said.
	p = longTextPage(10, 20*1024)
	out = mustSummarize(t, p, 1000)
	if out.ShownRows == 0 || out.Structured.ShortenedCells != out.ShownRows {
		t.Fatalf("shown %d rows, %d cells shortened in structured", out.ShownRows, out.Structured.ShortenedCells)
	}
	if !slices.ContainsFunc(out.Structured.Omitted, func(s string) bool { return strings.Contains(s, "cells longer than 200 chars shortened") }) {
		t.Errorf("omitted does not mention shortened cells: %q", out.Structured.Omitted)
	}
	if got := out.Structured.Rows[0][2].(string); !strings.HasSuffix(got, fmt.Sprintf("…[+%d of %d chars]", 20*1024-cellKeep, 20*1024)) {
		t.Errorf("structured long cell %q", got[len(got)-30:])
	}
}

func TestTruncatedLineOnlyWhenRowsCut(t *testing.T) {
	p := dexPage(3, 3)
	out := mustSummarize(t, p, 8000)
	if out.ShownRows != 3 || strings.Contains(out.Text, "TRUNCATED") || out.Structured.NextCursor != "" || strings.Contains(out.Text, "hints:") {
		t.Errorf("whole result shown but:\n%s", out.Text)
	}

	p = dexPage(3, 10) // all fetched rows shown, more in the result
	out = mustSummarize(t, p, 8000)
	if !strings.Contains(out.Text, "TRUNCATED: showing rows 1–3 of 10; 7 rows not shown.") {
		t.Errorf("page limit cut:\n%s", out.Text)
	}

	p = dexPage(300, 300) // budget cut
	p.Offset = 0
	out = mustSummarize(t, p, 4000)
	n := out.ShownRows
	want := fmt.Sprintf("TRUNCATED: showing rows 1–%d of 300; %d rows not shown (%d fetched rows did not fit the token budget).", n, 300-n, 300-n)
	if n == 0 || n == 300 || !strings.Contains(out.Text, want) {
		t.Errorf("want %q in\n%s", want, out.Text)
	}
	if !slices.Contains(out.Structured.Omitted, fmt.Sprintf("rows: %d of 300 fetched rows not returned (token budget)", 300-n)) {
		t.Errorf("omitted %q", out.Structured.Omitted)
	}

	// A later page: numbering continues from the offset.
	p = dexPage(5, 10)
	p.Offset = 5
	out = mustSummarize(t, p, 8000)
	if !strings.Contains(out.Text, "rows 6–10 as CSV") || strings.Contains(out.Text, "TRUNCATED") {
		t.Errorf("last page:\n%s", out.Text)
	}
}

func TestHeaderProvenanceAndDemo(t *testing.T) {
	p := dexPage(2, 2)
	p.Demo = true
	p.State = dune.StateCompletedPartial
	p.Filters = "blockchain = 'bnb'"
	p.SortBy = "amount_usd desc"
	p.Notes = []string{"Dune capped limit 50000 to 30000."}
	p.Datapoints = 0
	p.FromCache = true
	out := mustSummarize(t, p, 8000)
	for _, want := range []string{
		"get_latest_result · query 3426636 · execution 01HPFJ7VSFXPTA8WPMDKBXE167 · QUERY_STATE_COMPLETED_PARTIAL\n",
		"ended 2024-02-12 21:05:50 UTC (2 h ago)",
		"DEMO DATA from the embedded emulator, not Dune",
		"filters: blockchain = 'bnb' · sort_by: amount_usd desc",
		"note: Dune capped limit 50000 to 30000.",
		"2 served from the page cache (0 datapoints)",
	} {
		if !strings.Contains(out.Text, want) {
			t.Errorf("text lacks %q:\n%s", want, out.Text)
		}
	}
	st := out.Structured
	if !st.Demo || st.ExecutionEndedAt != "2024-02-12T21:05:50.199442351Z" || st.Filters == "" || len(st.Notes) != 1 || st.Datapoints != 0 {
		t.Errorf("structured provenance %+v", st)
	}
	// Demo survives the tiniest budget.
	out = mustSummarize(t, p, 256)
	if !strings.Contains(out.Text, "DEMO DATA") || !out.Structured.Demo {
		t.Errorf("demo flag lost at 256 tokens:\n%s", out.Text)
	}
}

func TestFreshness(t *testing.T) {
	now := testNow
	for _, c := range []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Second, "just now"}, {5 * time.Minute, "5 min ago"}, {2*time.Hour + 5*time.Minute, "2 h ago"},
		{72 * time.Hour, "3 days ago"}, {999 * 24 * time.Hour, "999 days ago"}, {1000 * 24 * time.Hour, "2 years ago"},
		{-time.Hour, "in the future"},
	} {
		if got := ago(now.Add(-c.d), now); got != c.want {
			t.Errorf("ago(%v) = %q, want %q", c.d, got, c.want)
		}
	}
}

func TestSampleStated(t *testing.T) {
	p := dexPage(1000, 100000)
	p.Tool = "sample_result"
	p.SampleCount = 1000
	out := mustSummarize(t, p, 8000)
	if !strings.Contains(out.Text, "uniform random sample of ~1,000 from 100,000") || !strings.Contains(out.Text, "stats over 1,000 sampled rows") {
		t.Errorf("sampling not stated:\n%s", out.Text[:800])
	}
	if strings.Contains(out.Text, "profile the whole result with sample_result") {
		t.Errorf("sample_result suggests itself")
	}
	if out.Structured.SampleCount != 1000 || !strings.Contains(out.Text, fmt.Sprintf("TRUNCATED: showing %d of 1,000 sampled rows", out.ShownRows)) {
		t.Errorf("sample truncation: %d shown\n%s", out.ShownRows, out.Text)
	}
}

func TestWideSchemaSaysWhatIsNotListed(t *testing.T) {
	p := widePage(10, 300)
	out := mustSummarize(t, p, 1000)
	line := lineStarting(out.Text, "schema (300 columns): ")
	if line == "" {
		t.Fatalf("no schema line:\n%s", out.Text)
	}
	listed := strings.Count(line, "metric_")
	want := fmt.Sprintf(" … and %d more columns not listed (token budget)", 300-listed)
	if listed == 0 || listed == 300 || !strings.HasSuffix(line, want) {
		t.Errorf("schema line lists %d columns, ends %q", listed, line[max(0, len(line)-80):])
	}
	// Columns come in order: the listed ones are the first ones.
	if !strings.Contains(line, "metric_000 varchar, metric_001 double") {
		t.Errorf("schema order: %q", line[:80])
	}
	st := out.Structured
	if len(st.Columns) < 300 && out.ShownRows != 0 {
		t.Errorf("rows returned while columns are cut")
	}
}

func TestEmptyAndPastTheEnd(t *testing.T) {
	out := mustSummarize(t, emptyPage(), 8000)
	if !strings.Contains(out.Text, "rows: the result has 0 rows") || strings.Contains(out.Text, "TRUNCATED") || out.Structured.HasMore {
		t.Errorf("empty result:\n%s", out.Text)
	}
	js := structJSON(t, out.Structured)
	if !strings.Contains(js, `"rows":[]`) || !strings.Contains(js, `"stats":[]`) || strings.Contains(js, "null") {
		t.Errorf("empty structured JSON must use [] not null: %s", js)
	}

	p := dexPage(0, 50)
	p.Offset = 80
	out = mustSummarize(t, p, 8000)
	if !strings.Contains(out.Text, "offset 80 is past the end") || strings.Contains(out.Text, "TRUNCATED") {
		t.Errorf("past the end:\n%s", out.Text)
	}
}

func TestDeterministicAndConcurrent(t *testing.T) {
	p := dexPage(3000, 100000)
	first := mustSummarize(t, p, 8000)
	firstJS := structJSON(t, first.Structured)
	var wg sync.WaitGroup
	errs := make(chan string, 4)
	for range 4 {
		wg.Go(func() {
			out, err := Summarize(p, 8000, testCursor(p))
			if err != nil {
				errs <- err.Error()
				return
			}
			if out.Text != first.Text {
				errs <- "text differs"
			}
			b, _ := json.Marshal(out.Structured)
			if string(b) != firstJS {
				errs <- "structured differs"
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

func TestBudgetTooSmall(t *testing.T) {
	p := dexPage(10, 100)
	long := strings.Repeat("Zm9vYmFy", 100)
	out, err := Summarize(p, 256, func(int) string { return long })
	if !errors.Is(err, ErrBudgetTooSmall) {
		t.Fatalf("a cursor larger than the budget: err %v, text tokens %d", err, out.TextTokens)
	}
	// Without a cursor, even a tiny budget is met.
	for _, b := range []int{1, 20, 120} {
		out, err := Summarize(p, b, nil)
		if err != nil {
			if !errors.Is(err, ErrBudgetTooSmall) {
				t.Fatal(err)
			}
			continue
		}
		if CountTokens(out.Text) > b || CountTokens(structJSON(t, out.Structured)) > b {
			t.Errorf("budget %d exceeded", b)
		}
	}
	if _, err := Summarize(p, 0, nil); err == nil {
		t.Error("budget 0 accepted")
	}
}

func TestRowShapeChecked(t *testing.T) {
	p := dexPage(2, 2)
	p.Rows[1] = p.Rows[1][:3]
	if _, err := Summarize(p, 8000, nil); err == nil {
		t.Fatal("short row accepted")
	}
}

// Every field of the structured types has a JSON name and a description,
// so the generated output schema documents everything.
func TestStructuredFieldsDocumented(t *testing.T) {
	for _, typ := range []reflect.Type{
		reflect.TypeFor[schemas.Structured](), reflect.TypeFor[schemas.Column](), reflect.TypeFor[schemas.ColumnStats](), reflect.TypeFor[schemas.TopValue](),
	} {
		for f := range typ.Fields() {
			if f.Tag.Get("json") == "" || f.Tag.Get("jsonschema_description") == "" {
				t.Errorf("%s.%s lacks a json tag or jsonschema_description", typ.Name(), f.Name)
			}
			if strings.Contains(f.Tag.Get("jsonschema"), "nullable") {
				t.Errorf("%s.%s is nullable", typ.Name(), f.Name)
			}
		}
	}
	// Design contract names.
	js := structJSON(t, mustSummarize(t, dexPage(3, 10), 8000).Structured)
	for _, k := range []string{"query_id", "execution_id", "state", "execution_ended_at", "columns", "total_row_count",
		"offset", "returned_rows", "rows", "has_more", "next_cursor", "stats", "datapoints"} {
		if !strings.Contains(js, `"`+k+`":`) {
			t.Errorf("structured JSON lacks %q", k)
		}
	}
}

func TestStatsMemoSeesNewRows(t *testing.T) {
	p := dexPage(2000, 2000)
	p.Rows = p.Rows[:3] // all shown: statistics (over StatsRows) get the room rows leave
	a := mustSummarize(t, p, 8000)
	again := mustSummarize(t, p, 8000)
	if a.Text != again.Text {
		t.Fatal("same page rendered differently")
	}
	// Another page (new rows, same shape) gets its own statistics.
	q := p
	q.Rows = append([]dune.Row(nil), p.Rows...)
	q.Rows[0] = slices.Clone(p.Rows[0])
	q.Rows[0][6] = json.Number("100000")
	q.StatsRows = q.Rows
	q.Rows = q.Rows[:3]
	b := mustSummarize(t, q, 8000)
	if !strings.Contains(lineStarting(b.Text, "evt_index: "), "max 100000") || strings.Contains(lineStarting(a.Text, "evt_index: "), "max 100000") {
		t.Errorf("memo returned stale statistics:\n%s\n%s", lineStarting(a.Text, "evt_index: "), lineStarting(b.Text, "evt_index: "))
	}
}

func TestBudgetHoldsAcrossBudgetSweep(t *testing.T) {
	pages := []namedPage{
		{"dex", dexPage(400, 5000)},
		{"wide", widePage(6, 300)},
		{"long", longTextPage(12, 3000)},
	}
	pages[0].page.Demo = true
	pages[0].page.Notes = []string{"Served from the page cache: no Dune request, 0 datapoints."}
	for _, d := range pages {
		prevShown := 0
		for b := 256; b <= 12000; b += 587 {
			out := mustSummarize(t, d.page, b)
			tt, st := CountTokens(out.Text), CountTokens(structJSON(t, out.Structured))
			if tt > b || st > b {
				t.Fatalf("%s at %d: text %d, structured %d tokens", d.name, b, tt, st)
			}
			if out.ShownRows+2 < prevShown {
				t.Errorf("%s at %d: %d rows, %d at a smaller budget", d.name, b, out.ShownRows, prevShown)
			}
			prevShown = max(prevShown, out.ShownRows)
			if b > 2000 && (out.TextTokens < b*7/10 && out.StructuredTokens < b*7/10) && truncated(out.Structured) && out.ShownRows < len(d.page.Rows) {
				t.Errorf("%s at %d: budget underused (text %d, structured %d) while rows were cut", d.name, b, out.TextTokens, out.StructuredTokens)
			}
		}
	}
}

// The schema line lists columns in the result's column order (Dune's
// column_names order, which is also the order of rows and of the CSV
// header), and when cut, the first ones then "… and K more columns".
func TestSchemaListsColumnsInResultOrder(t *testing.T) {
	for _, d := range []namedPage{{"dex", dexPage(50, 1000)}, {"wide", widePage(10, 300)}} {
		C := len(d.page.Columns)
		for b := 256; b <= 4000; b += 467 {
			out := mustSummarize(t, d.page, b)
			line := lineStarting(out.Text, "schema")
			terseTypes := false
			if line == "" {
				// The terse text: the header names the columns, "types:"
				// gives their types.
				line, terseTypes = lineStarting(out.Text, "types: "), true
			}
			_, list, ok := strings.Cut(line, ": ")
			if !ok {
				t.Fatalf("%s at %d: schema line %q", d.name, b, line)
			}
			if strings.HasPrefix(list, fmt.Sprint(C)+" columns") {
				continue // none listed
			}
			if terseTypes || strings.Contains(line, "named in the CSV header") {
				// Rows shown: the header names the columns (in result
				// order, constant columns left out), the line their types.
				header := tableRecords(t, out.Text)[0]
				types := expandTypes(strings.TrimSuffix(list, "\n"))
				j := 0
				for i, name := range header {
					for j < C && d.page.Columns[j].Name != name {
						j++
					}
					if j == C || i >= len(types) || types[i] != d.page.Columns[j].Type {
						t.Fatalf("%s at %d: header %v with types %v out of result order", d.name, b, header, types)
					}
				}
				if len(types) != len(header) {
					t.Fatalf("%s at %d: %d types for %d header columns", d.name, b, len(types), len(header))
				}
				continue
			}
			more := 0
			if i := strings.Index(list, " … and "); i >= 0 {
				if _, err := fmt.Sscanf(list[i:], " … and %d more columns", &more); err != nil {
					t.Fatalf("%s at %d: %q", d.name, b, list[i:])
				}
				list = list[:i]
			}
			items := strings.Split(list, ", ")
			if len(items)+more != C {
				t.Errorf("%s at %d: %d listed + %d more, want %d columns", d.name, b, len(items), more, C)
			}
			for i, it := range items {
				if want := d.page.Columns[i].Name + " " + d.page.Columns[i].Type; it != want {
					t.Fatalf("%s at %d: schema item %d is %q, want %q (result order)", d.name, b, i, it, want)
				}
			}
			if out.ShownRows > 0 {
				header := tableRecords(t, out.Text)[0]
				for i, c := range d.page.Columns {
					if header[i] != c.Name {
						t.Fatalf("%s at %d: CSV header column %d is %q, want %q", d.name, b, i, header[i], c.Name)
					}
				}
			}
		}
	}
}

// A page of a few rows that ends the result (an agent narrowed to them with
// filters) shows long cells whole when the budget allows, else as much of
// them as the budget allows, always with the full length stated.
func TestFewRowsGetLongerCells(t *testing.T) {
	p := longTextPage(2, 20*1024)
	p.TotalRowCount = 2
	out := mustSummarize(t, p, 25000)
	recs := tableRecords(t, out.Text)
	if out.ShownRows != 2 || len(recs) != 3 {
		t.Fatalf("shown %d rows, %d records", out.ShownRows, len(recs))
	}
	for i := range 2 {
		if recs[i+1][2] != p.Rows[i][2] {
			t.Errorf("row %d: body not whole in the text (%d of %d chars)", i, len(recs[i+1][2]), len(p.Rows[i][2].(string)))
		}
		if out.Structured.Rows[i][2] != p.Rows[i][2] {
			t.Errorf("row %d: body not whole in structured", i)
		}
	}
	// A smaller budget: longer than the default bound, shortened with the length.
	out = mustSummarize(t, p, 4000)
	recs = tableRecords(t, out.Text)
	if out.ShownRows == 0 {
		t.Fatal("no rows at 4000")
	}
	body := recs[1][2]
	if !strings.Contains(body, fmt.Sprintf(" of %d chars]", 20*1024)) || len([]rune(body)) <= 2*CellLimit {
		t.Errorf("body at 4000 tokens: %d chars, ends %q", len([]rune(body)), body[max(0, len(body)-40):])
	}
	if !strings.Contains(out.Text, "cells over ") || !strings.Contains(out.Text, "with their full length") {
		t.Errorf("shortening not stated:\n%.600s", out.Text)
	}
	// The same rows as the first page of a longer result: the default bound.
	p.TotalRowCount = 100
	out = mustSummarize(t, p, 25000)
	if recs := tableRecords(t, out.Text); len([]rune(recs[1][2])) > CellLimit+30 {
		t.Errorf("a page of a longer result shows %d-char cells", len([]rune(recs[1][2])))
	}
	if !strings.Contains(out.Text, "filters down to ≤ 10 rows show longer cells") {
		t.Errorf("no path to whole cells stated:\n%.600s", out.Text)
	}
}

// statsByName indexes statistics by column name.
func statsByName(st []schemas.ColumnStats) map[string]schemas.ColumnStats {
	m := make(map[string]schemas.ColumnStats, len(st))
	for _, s := range st {
		m[s.Name] = s
	}
	return m
}
