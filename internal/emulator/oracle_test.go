package emulator_test

import (
	"bytes"
	"encoding/csv"
	"flag"
	"fmt"
	"math/big"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// oracleSeed fixes the generated expressions; -oracle.seed explores others.
var oracleSeed = flag.Uint64("oracle.seed", 20240305, "seed of the expressions TestFiltersAndSortAgainstSQLiteOracle generates")

// setupOracle loads the demo datasets (as demo.go builds them; the 5,000-row
// DEX trades of the partial demo query rather than the 100,000-row one, and
// the first 16 of the wide table's 300 columns) and the edge table into
// SQLite; only the named tables when names are given. It returns two
// servers: one serving in-memory copies of the rows (fast, for every case)
// and the demo server itself (generated rows, for some cases), after
// checking that the demo server serves the rows loaded.
func setupOracle(t *testing.T, names ...string) (o *oracle, copies, demo *emulator.Server) {
	t.Helper()
	o = newOracle(t)
	type spec struct {
		name    string
		ds      *emulator.Dataset
		ids     []string
		query   int64
		partial bool
	}
	copies = emulator.NewServer()
	t.Cleanup(copies.Close)
	demo = emulator.NewServer(emulator.WithDemoData())
	t.Cleanup(demo.Close)
	for _, sp := range []spec{
		{"dex", emulator.DEXTrades(5000, 1007), []string{"tx_hash"}, emulator.DemoPartial, true},
		// Wide's columns do not depend on how many follow: the first 16 of
		// the demo's 300 without generating the other 284.
		{"wide", emulator.Wide(2000, 16, 1002), []string{"c000_bigint", "c002_varchar", "c005_varbinary"}, emulator.DemoWide, false},
		{"daily", emulator.DailySeries(1096, 1004), []string{"day"}, emulator.DemoDailySeries, false},
		{"tiny", emulator.Tiny(), []string{"rank"}, emulator.DemoTiny, false},
		{"long", emulator.LongText(60, 1003), []string{"id"}, emulator.DemoLongText, false},
		{"edge", edgeDataset(), []string{"id"}, 0, false}, // not a demo query
	} {
		if len(names) > 0 && !slices.Contains(names, sp.name) {
			continue
		}
		// An in-memory copy: generating rows again for every request would
		// make the test slow.
		rows := make([]dune.Row, sp.ds.Len())
		for i := range rows {
			rows[i] = sp.ds.Row(i)
		}
		ds := emulator.NewDataset(sp.name, sp.ds.Columns, rows)
		tb := o.load(t, sp.name, ds, sp.ids)
		tb.queryID, tb.partial = sp.query, sp.partial
		tb.copyID = copies.AddQuery(int64(len(o.tables)), ds)
		if sp.query == 0 {
			continue
		}

		// The first rows show the generator and its parameters are the
		// demo's; the cases sent to the demo server compare the rest.
		const prefix = 300
		cols := tb.colNames()
		path := fmt.Sprintf("/api/v1/query/%d/results?limit=%d&columns=%s", tb.queryID, prefix, url.QueryEscape(strings.Join(cols, ",")))
		if tb.partial {
			path += "&allow_partial_results=true"
		}
		p := get(t, demo, path).page(t)
		tb.execID = p.ExecutionID
		served := make([]dune.Row, len(p.Result.Rows))
		for i, m := range p.Result.Rows {
			served[i] = make(dune.Row, len(cols))
			for k, n := range cols {
				served[i][k] = m[n]
			}
		}
		if d := diffRows(tb, cols, seq(min(prefix, len(rows))), served, nil); d != "" {
			t.Fatalf("%s: the demo server serves other rows than the oracle loaded: %s", tb.name, d)
		}
	}
	return o, copies, demo
}

// seq returns 0..n-1.
func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}

// checkEvaluate compares emulator.Evaluate with the oracle's answer want
// (row indexes in order); it returns "" when they agree.
func checkEvaluate(c *ocase, want []int) string {
	names := c.tb.colNames()
	_, rows, total, err := emulator.Evaluate(c.tb.ds, dune.Options{Filters: c.filters, SortBy: c.sortBy, Columns: names}, 0)
	if err != nil {
		return "Evaluate: " + err.Error()
	}
	if total != len(want) {
		return fmt.Sprintf("Evaluate: total_row_count %d, oracle %d", total, len(want))
	}
	return diffRows(c.tb, names, want, rows, nil)
}

// endpoint is a server and the execution that serves a table there.
type endpoint struct {
	label  string
	s      *emulator.Server
	execID string
	csv    bool // the /csv variant
}

// checkHTTP asks a server for the rows of c (GET
// /api/v1/execution/{id}/results[/csv], projected on identifying and sort
// columns, paged when the case says so) and compares them with want.
func checkHTTP(t *testing.T, e endpoint, c *ocase, want []int) string {
	names := slices.Clone(c.tb.idCols)
	for _, n := range c.sortCols {
		if !slices.Contains(names, n) {
			names = append(names, n)
		}
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = `"` + strings.ReplaceAll(n, `"`, `""`) + `"`
	}
	q := url.Values{"columns": {strings.Join(quoted, ",")}}
	if c.filters != "" {
		q.Set("filters", c.filters)
	}
	if c.sortBy != "" {
		q.Set("sort_by", c.sortBy)
	}
	if c.tb.partial {
		q.Set("allow_partial_results", "true")
	}
	page := want
	if c.limit > 0 {
		q.Set("limit", strconv.Itoa(c.limit))
		q.Set("offset", strconv.Itoa(c.offset))
		page = want[min(c.offset, len(want)):min(c.offset+c.limit, len(want))]
	}
	path := "/api/v1/execution/" + e.execID + "/results"
	if e.csv {
		path += "/csv"
	}
	r := get(t, e.s, path+"?"+q.Encode())
	if r.Status != 200 {
		return fmt.Sprintf("%s: status %d: %s", e.label, r.Status, trunc(r.Body))
	}
	var rows []dune.Row
	var next *int
	var asText func(any) any
	if e.csv {
		records, err := csv.NewReader(bytes.NewReader(r.Body)).ReadAll()
		if err != nil || len(records) == 0 || !slices.Equal(records[0], names) {
			return fmt.Sprintf("%s: header %v (%v), want %v", e.label, records[:min(1, len(records))], err, names)
		}
		for _, rec := range records[1:] {
			row := make(dune.Row, len(rec))
			for k, v := range rec {
				row[k] = v
			}
			rows = append(rows, row)
		}
		if h := r.Header.Get("X-Dune-Next-Offset"); h != "" {
			n, _ := strconv.Atoi(h)
			next = &n
		}
		asText = csvText
	} else {
		p := r.page(t)
		if p.Result == nil {
			return e.label + ": no result"
		}
		if got := p.Result.Metadata.TotalRowCount; got != len(want) {
			return fmt.Sprintf("%s: total_row_count %d, oracle %d", e.label, got, len(want))
		}
		for _, m := range p.Result.Rows {
			row := make(dune.Row, len(names))
			for k, n := range names {
				row[k] = m[n]
			}
			rows = append(rows, row)
		}
		next = p.NextOffset
	}
	wantNext := c.limit > 0 && c.offset+c.limit < len(want)
	if (next != nil) != wantNext || wantNext && *next != c.offset+c.limit {
		return fmt.Sprintf("%s: next offset %v, want one: %v", e.label, next, wantNext)
	}
	if d := diffRows(c.tb, names, page, rows, asText); d != "" {
		return e.label + ": " + d
	}
	return ""
}

// csvText is a cell as a CSV page writes it (NULL: empty field).
func csvText(v any) any {
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// diffRows describes the first difference between the rows want (indexes
// into the dataset, projected on names, converted by conv unless nil) and
// got; "" when equal.
func diffRows(tb *otable, names []string, want []int, got []dune.Row, conv func(any) any) string {
	for i := range max(len(want), len(got)) {
		switch {
		case i >= len(got):
			return fmt.Sprintf("%d rows, oracle %d; first missing: row %d %v", len(got), len(want), want[i], tb.project(want[i], names))
		case i >= len(want):
			return fmt.Sprintf("%d rows, oracle %d; first extra: %v", len(got), len(want), got[i])
		}
		w := tb.project(want[i], names)
		if conv != nil {
			for k := range w {
				w[k] = conv(w[k])
			}
		}
		// Cells are nil, string, json.Number or bool: == compares them.
		if len(w) != len(got[i]) || !slices.Equal(w, got[i]) {
			return fmt.Sprintf("position %d: got %v, oracle row %d %v (columns %v)", i, got[i], want[i], w, names)
		}
	}
	return ""
}

// check runs one case through the oracle, Evaluate and the endpoints; it
// returns the disagreements.
func check(t *testing.T, o *oracle, c *ocase, endpoints ...endpoint) (want []int, diffs []string) {
	want, err := o.query(c.tb, c.where, c.orderBy)
	if err != nil {
		t.Fatalf("oracle: %v", err)
	}
	if d := checkEvaluate(c, want); d != "" {
		diffs = append(diffs, d)
	}
	for _, e := range endpoints {
		if d := checkHTTP(t, e, c, want); d != "" {
			diffs = append(diffs, d)
		}
	}
	return want, diffs
}

// TestFiltersAndSortAgainstSQLiteOracle runs seeded random filters and
// sort_by expressions on the demo datasets through emulator.Evaluate and
// the HTTP results endpoint, and compares the rows, their order and
// total_row_count with SQLite's answer.
func TestFiltersAndSortAgainstSQLiteOracle(t *testing.T) {
	start := time.Now()
	o, copies, demo := setupOracle(t)
	loaded := time.Since(start)
	counts := map[string]int{"dex": 100, "wide": 80, "daily": 35, "tiny": 15, "long": 20, "edge": 100}
	if raceEnabled { // still 200 cases, every kind covered, in a third of the time
		counts["dex"], counts["wide"] = 30, 20
	}
	cov := map[string]int{}
	var cases []*ocase
	for k, tb := range o.tables {
		g := &gen{r: rand.New(rand.NewPCG(*oracleSeed, uint64(k))), tb: tb, cov: cov}
		cases = append(cases, g.cases(counts[tb.name])...)
	}
	var filtered, proper, sorted, onDemo, onCSV, failed int
	for i, c := range cases {
		eps := []endpoint{{"HTTP", copies, c.tb.copyID, false}}
		switch {
		case i%4 == 0 && c.tb.execID != "" && c.tb.name != "wide": // the 300-column table is slow to generate
			eps = append(eps, endpoint{"demo server", demo, c.tb.execID, false})
			onDemo++
		case i%4 == 1:
			eps = append(eps, endpoint{"CSV", copies, c.tb.copyID, true})
			onCSV++
		}
		want, diffs := check(t, o, c, eps...)
		if len(diffs) > 0 {
			if failed++; failed <= 20 {
				t.Errorf("case %d %v\n  %s", i, c, strings.Join(diffs, "\n  "))
			}
		}
		if c.filters != "" {
			filtered++
			if len(want) > 0 && len(want) < c.tb.ds.Len() {
				proper++
			}
		}
		if c.sortBy != "" && len(want) > 1 {
			sorted++
		}
	}
	t.Logf("%d cases (%d with filters, %d selecting a proper non-empty subset; %d sorting 2+ rows; %d also on the demo server, %d as CSV); load %v, total %v",
		len(cases), filtered, proper, sorted, onDemo, onCSV, loaded.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	if failed > 0 {
		t.Errorf("%d of %d cases disagree with the oracle", failed, len(cases))
	}

	if len(cases) < 200 {
		t.Errorf("only %d cases", len(cases))
	}
	// The comparison means little if the filters select nothing or everything.
	if proper*2 < filtered {
		t.Errorf("only %d of %d filters select a proper non-empty subset", proper, filtered)
	}
	if sorted < 100 {
		t.Errorf("only %d cases sort two rows or more", sorted)
	}
	need := []string{"=", "!=", "<>", "<", "<=", ">", ">=", "IN", "IN:8+", "LIKE", "LIKE:%", "LIKE:_", "LIKE:case",
		"IS NULL", "IS NOT NULL", "and", "or", "parens:needed", "parens:redundant", "precedence:AND-in-OR-without-parens",
		"column:quoted", "column:case-folded", "compare:column-with-NULLs",
		"type:uint256", "type:double", "type:bigint", "type:varchar", "type:varbinary", "type:timestamp", "type:date", "type:boolean",
		"literal:number-as-written", "literal:number-exponent", "literal:number-trailing-zeros", "literal:number-plus-minus-one-unit",
		"literal:number-constant", "literal:hex", "literal:hex-upper", "literal:hex-quoted", "literal:hex-vs-varchar",
		"literal:boolean", "literal:quoted-boolean", "literal:quote-escape",
		"sort:column-with-NULLs-ASC", "sort:column-with-NULLs-DESC", "sort:ties", "column:exact-beside-case-variant",
		"sort:1-keys", "sort:2-keys", "sort:3-keys", "sort:asc", "sort:desc", "sort:default",
		"sort-type:uint256", "sort-type:double", "sort-type:varchar", "sort-type:varbinary", "sort-type:timestamp", "sort-type:date", "sort-type:boolean",
		"paging"}
	for _, f := range timeFormats {
		need = append(need, "timestamp:"+f.name)
	}
	for _, k := range need {
		if cov[k] == 0 {
			t.Errorf("no generated expression covers %q", k)
		}
	}
	if testing.Verbose() {
		keys := make([]string, 0, len(cov))
		for k := range cov {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			t.Logf("coverage %-45s %d", k, cov[k])
		}
	}
}

// TestOracleDetectsDisagreement proves the comparison can fail: a wrong SQL
// translation, a reversed order and a wrong count are all reported.
func TestOracleDetectsDisagreement(t *testing.T) {
	o, copies, demo := setupOracle(t, "daily")
	daily := o.tables[0]
	vol, trades := daily.col("volume_usd"), daily.col("trades")
	v := fmt.Sprint(vol.vals[100])
	key, _ := numKey(v)
	good := &ocase{tb: daily, filters: "volume_usd > " + v, where: vol.sql + " > " + sqlQuote(key),
		sortBy: "trades desc", orderBy: trades.sql + " DESC NULLS LAST", sortCols: []string{"trades"}}
	eps := []endpoint{{"HTTP", copies, daily.copyID, false}, {"demo server", demo, daily.execID, false}, {"CSV", copies, daily.copyID, true}}
	want, diffs := check(t, o, good, eps...)
	if len(diffs) != 0 || len(want) < 10 {
		t.Fatalf("correct translation: %d rows, diffs %v", len(want), diffs)
	}
	for name, bad := range map[string]*ocase{
		"> translated as >=":     {where: vol.sql + " >= " + sqlQuote(key), orderBy: good.orderBy},
		"DESC translated as ASC": {where: good.where, orderBy: trades.sql + " ASC NULLS LAST"},
		"filter dropped":         {where: "", orderBy: good.orderBy},
	} {
		bad.tb, bad.filters, bad.sortBy, bad.sortCols = daily, good.filters, good.sortBy, good.sortCols
		if _, diffs := check(t, o, bad, eps...); len(diffs) != 4 {
			t.Errorf("%s: want a disagreement from Evaluate and from each endpoint, got %q", name, diffs)
		}
	}
	// An altered expectation: one row fewer, two rows swapped.
	if d := checkEvaluate(good, want[1:]); d == "" {
		t.Error("a missing row went unnoticed")
	}
	swapped := slices.Clone(want)
	swapped[3], swapped[4] = swapped[4], swapped[3]
	if d := checkEvaluate(good, swapped); !strings.Contains(d, "position 3") {
		t.Errorf("swapped rows: %q", d)
	}
}

// TestOracleNumKeyOrdersLikeBigRat checks the oracle's own number encoding
// against math/big on random decimals in every written form.
func TestOracleNumKeyOrdersLikeBigRat(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	num := func() string {
		var b strings.Builder
		b.WriteString([]string{"", "-", "+"}[r.IntN(3)])
		for range r.IntN(4) {
			b.WriteByte("0012345"[r.IntN(7)])
		}
		if r.IntN(2) == 0 || b.Len() == 0 || b.String() == "-" || b.String() == "+" {
			b.WriteByte('.')
			for range 1 + r.IntN(3) {
				b.WriteByte("0159"[r.IntN(4)])
			}
		}
		if r.IntN(3) == 0 {
			fmt.Fprintf(&b, "e%d", r.IntN(9)-4)
		}
		return b.String()
	}
	for range 20000 {
		a, b := num(), num()
		ra, ok1 := new(big.Rat).SetString(a)
		rb, ok2 := new(big.Rat).SetString(b)
		ka, ok3 := numKey(a)
		kb, ok4 := numKey(b)
		if !ok1 || !ok2 || !ok3 || !ok4 {
			t.Fatalf("unreadable: %q (%v %v) %q (%v %v)", a, ok1, ok3, b, ok2, ok4)
		}
		if want, got := ra.Cmp(rb), strings.Compare(ka, kb); want != got {
			t.Fatalf("%s vs %s: keys %q %q compare %d, numbers %d", a, b, ka, kb, got, want)
		}
	}
	for _, s := range []string{"", "-", ".", "e5", "1e", "1e+", "1x", "--1", "0x10"} {
		if _, ok := numKey(s); ok {
			t.Errorf("numKey(%q) accepted", s)
		}
	}
	for _, c := range []struct{ a, b string }{
		{"115792089237316195423570985008687907853269984665640564039457584007913129639935", "115792089237316195423570985008687907853269984665640564039457584007913129639934"},
		{"18446744073709551617", "18446744073709551616"},
		{"1.5E+25", "14999999999999999999999999"},
	} {
		ka, _ := numKey(c.a)
		kb, _ := numKey(c.b)
		if ka <= kb {
			t.Errorf("numKey(%s) <= numKey(%s)", c.a, c.b)
		}
	}
}

// TestOracleTimeKey checks that every literal form reads as the same
// instant and that keys order chronologically.
func TestOracleTimeKey(t *testing.T) {
	at := time.Date(2024, 3, 5, 15, 3, 1, 250e6, time.UTC)
	want := "2024-03-05 15:03:01.250000000"
	for _, f := range timeFormats {
		s := at.In(f.zone).Format(f.layout)
		k, ok := timeKey(s)
		if !ok {
			t.Errorf("%s: cannot read %q", f.name, s)
			continue
		}
		if strings.Contains(f.layout, ".") && k != want {
			t.Errorf("%s: %q reads as %s, want %s", f.name, s, k, want)
		}
		if !strings.Contains(f.layout, ".") && (k > want || k[:10] != want[:10]) {
			t.Errorf("%s: %q reads as %s (truncating %s)", f.name, s, k, want)
		}
	}
	for _, s := range []string{"2024-06-30 23:59:59.000 UTC", "2024-06-01T00:00:00Z"} {
		if _, ok := timeKey(s); !ok {
			t.Errorf("cell %q unreadable", s)
		}
	}
	a, _ := timeKey("2024-03-05T23:30:00-02:00")
	b, _ := timeKey("2024-03-06 01:00")
	if a <= b {
		t.Errorf("%s (23:30 at -02:00) should follow %s", a, b)
	}
}
