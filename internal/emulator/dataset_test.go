package emulator_test

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

const fixtureNextURI = "../../dune/testdata/results_page_with_next_uri.json"

func TestDEXTradesShapedLikeFixture(t *testing.T) {
	fx, err := emulator.LoadFixture(fixtureNextURI)
	if err != nil {
		t.Fatal(err)
	}
	ds := emulator.DEXTrades(5000, 11)
	names := func(cs []dune.Column) (out []string) {
		for _, c := range cs {
			out = append(out, c.Name)
		}
		return out
	}
	if !slices.Equal(names(ds.Columns), names(fx.Columns)) || len(ds.Columns) != 22 {
		t.Fatalf("columns\n%v\nwant the fixture's\n%v", names(ds.Columns), names(fx.Columns))
	}
	// the fixture's inferred types agree with the generator's declared ones
	for j, c := range fx.Columns {
		want := ds.Columns[j].Type
		if c.Type != want && !(c.Type == "varchar" && want != "varchar") { // fixture columns that are all NULL infer varchar
			t.Errorf("%s: fixture infers %s, generator says %s", c.Name, c.Type, want)
		}
	}
	patterns := map[string]*regexp.Regexp{
		"timestamp": regexp.MustCompile(`^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} UTC$`),
		"date":      regexp.MustCompile(`^\d{4}-\d{2}-01T00:00:00Z$`),
		"uint256":   regexp.MustCompile(`^[1-9]\d*$`),
		"varchar":   regexp.MustCompile(`^[A-Za-z0-9-]+$`),
	}
	addr := regexp.MustCompile(`^0x[0-9a-f]{40}$`)
	hash := regexp.MustCompile(`^0x[0-9a-f]{64}$`)
	nulls := map[string]int{}
	chains := map[string]int{}
	projects := map[string]bool{}
	takers := map[string]int{}
	big64 := new(big.Int).Lsh(big.NewInt(1), 64)
	huge := 0
	for i := 0; i < ds.Len(); i++ {
		row := ds.Row(i)
		if len(row) != 22 {
			t.Fatalf("row %d has %d values", i, len(row))
		}
		for j, v := range row {
			c := ds.Columns[j]
			if v == nil {
				nulls[c.Name]++
				continue
			}
			switch c.Type {
			case "double", "bigint":
				n, ok := v.(json.Number)
				if _, err := n.Float64(); !ok || err != nil {
					t.Fatalf("%s = %#v", c.Name, v)
				}
				if c.Type == "bigint" {
					if _, err := n.Int64(); err != nil {
						t.Fatalf("%s = %v", c.Name, v)
					}
				}
			case "varbinary":
				re := addr
				if c.Name == "tx_hash" {
					re = hash
				}
				if !re.MatchString(v.(string)) {
					t.Fatalf("%s = %v", c.Name, v)
				}
			default:
				if !patterns[c.Type].MatchString(v.(string)) {
					t.Fatalf("%s (%s) = %q", c.Name, c.Type, v)
				}
			}
			if c.Type == "uint256" {
				n, _ := new(big.Int).SetString(v.(string), 10)
				if n.Cmp(big64) > 0 {
					huge++
				}
			}
		}
		chains[row[5].(string)]++
		projects[row[9].(string)] = true
		takers[row[11].(string)]++
		if p, ok := row[3].(string); ok {
			a, b, _ := strings.Cut(p, "-")
			if a > b || (a != row[2] && a != row[18]) {
				t.Fatalf("token_pair %s for %v/%v", p, row[2], row[18])
			}
		}
		if i > 0 && row[4].(string) >= ds.Row(i - 1)[4].(string) {
			t.Fatalf("block_time not descending at %d", i)
		}
	}
	if huge < 1000 {
		t.Errorf("only %d uint256 values exceed 2^64", huge)
	}
	for _, c := range []string{"amount_usd", "maker", "token_bought_symbol", "token_sold_symbol", "token_pair", "token_bought_amount"} {
		if nulls[c] == 0 || nulls[c] == ds.Len() {
			t.Errorf("%s: %d NULLs of %d", c, nulls[c], ds.Len())
		}
	}
	for _, c := range []string{"blockchain", "project", "tx_hash", "block_time", "taker", "token_bought_amount_raw"} {
		if nulls[c] != 0 {
			t.Errorf("%s has NULLs", c)
		}
	}
	if len(chains) != 5 || chains["ethereum"] < chains["polygon"] || len(projects) < 8 {
		t.Errorf("chains %v, %d projects", chains, len(projects))
	}
	repeat := 0
	for _, n := range takers {
		if n >= 5 {
			repeat++
		}
	}
	if repeat < 10 {
		t.Errorf("only %d takers trade 5+ times", repeat)
	}
}

func TestDatasetsDeterministic(t *testing.T) {
	gens := map[string]func(seed int64) *emulator.Dataset{
		"dex":   func(s int64) *emulator.Dataset { return emulator.DEXTrades(300, s) },
		"wide":  func(s int64) *emulator.Dataset { return emulator.Wide(50, 40, s) },
		"long":  func(s int64) *emulator.Dataset { return emulator.LongText(5, s) },
		"daily": func(s int64) *emulator.Dataset { return emulator.DailySeries(50, s) },
		"chain": func(s int64) *emulator.Dataset { return emulator.DEXTradesOn("base", 100, s) },
	}
	for name, gen := range gens {
		a, b, c := gen(1), gen(1), gen(2)
		same, differ := true, false
		for i := 0; i < a.Len(); i++ {
			same = same && reflect.DeepEqual(a.Row(i), b.Row(i))
			differ = differ || !reflect.DeepEqual(a.Row(i), c.Row(i))
		}
		if !same || !differ {
			t.Errorf("%s: same seed same rows %v, other seed differs %v", name, same, differ)
		}
	}
	// row i does not depend on n
	if !reflect.DeepEqual(emulator.DEXTrades(10, 5).Row(7), emulator.DEXTrades(100000, 5).Row(7)) {
		t.Error("DEXTrades row depends on n")
	}
	// rows belong to the caller
	ds := emulator.Tiny()
	r := ds.Row(0)
	r[1] = "changed"
	if ds.Row(0)[1] != "uniswap" {
		t.Error("Row shares storage")
	}
	for i := 0; i < 100; i++ {
		if got := emulator.DEXTradesOn("base", 100, 3).Row(i)[5]; got != "base" {
			t.Fatalf("DEXTradesOn(base) row %d chain %v", i, got)
		}
	}
}

func TestOtherDatasets(t *testing.T) {
	w := emulator.Wide(20, 300, 1)
	seen := map[string]bool{}
	for j, c := range w.Columns {
		if seen[c.Name] {
			t.Fatalf("duplicate column %s", c.Name)
		}
		seen[c.Name] = true
		for i := 0; i < w.Len(); i++ {
			v := w.Row(i)[j]
			switch v.(type) {
			case nil:
			case bool:
				if c.Type != "boolean" {
					t.Fatalf("%s holds a bool", c.Name)
				}
			case json.Number:
				if c.Type != "bigint" && c.Type != "double" {
					t.Fatalf("%s holds a number", c.Name)
				}
			case string:
			default:
				t.Fatalf("%s holds %T", c.Name, v)
			}
		}
	}
	if len(w.Columns) != 300 {
		t.Fatalf("wide: %d columns", len(w.Columns))
	}
	lt := emulator.LongText(30, 1)
	quotes := false
	for i := 0; i < lt.Len(); i++ {
		body := lt.Row(i)[2].(string)
		if len(body) < 1024 || len(body) > 21*1024 {
			t.Errorf("body %d: %d bytes", i, len(body))
		}
		quotes = quotes || strings.ContainsAny(body, "\"\n")
	}
	if !quotes {
		t.Error("long text never exercises CSV quoting")
	}
	d := emulator.DailySeries(1096, 1)
	if d.Len() != 1096 || d.Row(0)[0] != "2022-01-01 00:00:00.000 UTC" || d.Row(1095)[0] != "2024-12-31 00:00:00.000 UTC" {
		t.Errorf("daily: %d rows, %v .. %v", d.Len(), d.Row(0)[0], d.Row(1095)[0])
	}
	if emulator.Tiny().Len() != 3 || emulator.Empty().Len() != 0 || len(emulator.Empty().Columns) != 3 {
		t.Error("tiny/empty sizes")
	}
	if s := emulator.DEXTrades(100000, 1).String(); s != "dex_trades: 100000 rows x 22 columns" {
		t.Errorf("String() = %q", s)
	}
}

func TestLoadFixture(t *testing.T) {
	ds, err := emulator.LoadFixture(fixtureNextURI)
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, c := range ds.Columns {
		types[c.Name] = c.Type
	}
	want := map[string]string{"amount_usd": "double", "block_date": "timestamp", "block_month": "date", "blockchain": "varchar",
		"evt_index": "bigint", "token_bought_amount_raw": "uint256", "tx_hash": "varbinary", "maker": "varchar", "token_pair": "varchar"}
	for k, v := range want {
		if types[k] != v {
			t.Errorf("%s inferred %s, want %s", k, types[k], v)
		}
	}
	if ds.Len() != 5 {
		t.Fatalf("%d rows", ds.Len())
	}
	// served back, the rows equal the fixture's byte for byte per value
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(1, ds)
	served := get(t, s, "/api/v1/query/1/results").object(t)["result"].(map[string]any)["rows"]
	var raw struct {
		Result struct{ Rows []map[string]any } `json:"result"`
	}
	fb := readFile(t, fixtureNextURI)
	dec := json.NewDecoder(bytes.NewReader(fb))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		t.Fatal(err)
	}
	gotRows := served.([]any)
	for i, r := range raw.Result.Rows {
		if !reflect.DeepEqual(map[string]any(gotRows[i].(map[string]any)), r) {
			t.Fatalf("row %d differs:\n%v\n%v", i, gotRows[i], r)
		}
	}
	if !strings.Contains(get(t, s, "/api/v1/query/1/results").String(), `"token_bought_amount":0.00001404037053195`) {
		t.Error("double not carried exactly")
	}

	empty, err := emulator.LoadFixture("../../dune/testdata/results_offset_past_end_empty.json")
	if err != nil || empty.Len() != 0 || len(empty.Columns) != 1 || empty.Columns[0] != (dune.Column{Name: "foo", Type: "varchar"}) {
		t.Errorf("empty fixture: %v %v", empty, err)
	}
	cols, err := emulator.LoadFixture("../../dune/testdata/results_filtered_columns_next_uri.json")
	if err != nil || cols.Columns[0].Name != "block_time" || cols.Columns[4].Type != "double" || cols.Len() != 10 {
		t.Errorf("filtered fixture: %v %v", cols, err)
	}
	if _, err := emulator.LoadFixture("../../dune/testdata/status_failed_with_error.json"); err == nil {
		t.Error("status fixture loaded as a result")
	}
	if _, err := emulator.LoadFixture("../../dune/testdata/missing.json"); err == nil {
		t.Error("missing file loaded")
	}
}

func TestInferType(t *testing.T) {
	cases := []struct {
		vals []any
		want string
	}{
		{[]any{json.Number("1"), nil, json.Number("2")}, "bigint"},
		{[]any{json.Number("1"), json.Number("2.5")}, "double"},
		{[]any{"2024-03-05 20:50:59.000 UTC"}, "timestamp"},
		{[]any{"2021-06-01T00:00:00Z", "2021-06-02"}, "date"},
		{[]any{"0xabc", nil}, "varbinary"},
		{[]any{"12", "2985646787349243786078"}, "uint256"},
		{[]any{"-2985646787349243786078", "5"}, "int256"},
		{[]any{"12", "13"}, "varchar"},
		{[]any{true}, "boolean"},
		{[]any{[]any{1}}, "array"},
		{[]any{nil, nil}, "varchar"},
		{[]any{"abc", json.Number("1")}, "varchar"},
	}
	for _, c := range cases {
		if got := emulator.InferType(c.vals); got != c.want {
			t.Errorf("InferType(%v) = %s, want %s", c.vals, got, c.want)
		}
	}
}

func TestEvaluateErrors(t *testing.T) {
	ds := emulator.Tiny()
	for _, o := range []dune.Options{
		{Columns: []string{"nope"}},
		{Filters: "rank >"},
		{SortBy: "nope desc"},
		{Limit: -1},
	} {
		if _, _, _, err := emulator.Evaluate(ds, o, 0); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
	cols, rows, total, err := emulator.Evaluate(ds, dune.Options{Limit: 2, Offset: 2}, 0)
	if err != nil || len(cols) != 4 || len(rows) != 1 || total != 3 || rows[0][1] != "curve" {
		t.Errorf("Evaluate page: %v %v %d %v", cols, rows, total, err)
	}
	_, rows, _, _ = emulator.Evaluate(ds, dune.Options{}, 2)
	if len(rows) != 2 {
		t.Errorf("maxPage not applied: %d rows", len(rows))
	}
}

// A page cap of math.MaxInt (no cap) must not overflow start+limit.
func TestEvaluateNoPageCap(t *testing.T) {
	ds := emulator.Tiny()
	for _, o := range []dune.Options{{}, {Offset: 1}, {Limit: math.MaxInt, Offset: math.MaxInt}} {
		_, rows, total, err := emulator.Evaluate(ds, o, math.MaxInt)
		if err != nil || total != 3 || len(rows) != max(0, 3-o.Offset) {
			t.Errorf("offset %d limit %d: %d rows of %d, %v", o.Offset, o.Limit, len(rows), total, err)
		}
	}
	s := emulator.NewServer(emulator.WithMaxPageSize(math.MaxInt))
	defer s.Close()
	s.AddQuery(5, ds)
	for q, want := range map[string]int{"": 3, "?offset=1": 2, "?limit=2&offset=2": 1, "?limit=1": 1} {
		p := get(t, s, "/api/v1/query/5/results"+q).page(t)
		if p.Result.Metadata.TotalRowCount != 3 || len(p.Result.Rows) != want || (p.NextOffset != nil) != (q == "?limit=1") {
			t.Errorf("%q: %d rows, next %v", q, len(p.Result.Rows), p.NextOffset)
		}
	}
}
