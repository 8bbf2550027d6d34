package evals

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/dune-mcp/dune-mcp/dune"
)

// The fixtures here are written by hand from the format (evals/table.go,
// docs/result-views.md), never by tools/summary: they are the oracle.

var tableCols = []dune.Column{
	{Name: "id", Type: "bigint"}, {Name: "name", Type: "varchar"}, {Name: "note", Type: "varchar"},
	{Name: "amount", Type: "double"}, {Name: "day", Type: "timestamp"}, {Name: "chain", Type: "varchar"},
	{Name: "flag", Type: "boolean"},
}

var long250 = strings.Repeat("x", 250)

var tableTruth = []dune.Row{
	{json.Number("1"), "alice", "", json.Number("1.5"), "2024-06-30 10:00:00.000 UTC", "base", true},
	{json.Number("2"), "bob, jr", nil, nil, "2024-06-30 11:30:00.000 UTC", "base", false},
	{json.Number("3"), "say \"hi\"\nbye", long250, json.Number("12345678901234567890"), "2024-06-30 12:00:00.000 UTC", "base", nil},
}

// goodTable is tableTruth at offset 0 as a structured table: a stats line
// that looks like a types line, NULL and "", a quoted comma, a quote and a
// line break, a shortened cell, a constant and a timestamp affix.
var goodTable = `schema (7 columns, named in the CSV header; types in its order): bigint,varchar,varchar,double,timestamp,boolean
stats over 3 fetched rows (not the whole result):
types: nulls 0 · distinct 3
id: nulls 0 · min 1 · max 3 · distinct 3
rows 1–3 as CSV (one header line; empty = NULL, "" = empty string; 1 cells over 200 chars shortened, marked …[+N of M chars] with their full length):
same in every row (left out of the table): chain (varchar)=base
cells give only the * of (the rest is the same in every row): day=2024-06-30 *.000 UTC
id,name,note,amount,day,flag
1,alice,"",1.5,10:00:00,true
2,"bob, jr",,,11:30:00,false
3,"say ""hi""
bye",` + strings.Repeat("x", 200) + `…[+50 of 250 chars],12345678901234567890,12:00:00,`

// checkTable reads table and compares it with tableTruth as rows: truth
// does; "" means it matches.
func checkTable(t *testing.T, table string) string {
	t.Helper()
	rt, err := parseTable(table, -1)
	if err != nil {
		return "read: " + err.Error()
	}
	cols, rows, err := arrange(rt, tableCols)
	if err != nil {
		return "arrange: " + err.Error()
	}
	if f := compareColumns(columnsJSON(cols), tableCols, len(rows) == 0); f != nil {
		return f[0].String()
	}
	if f := compareRows(rows, tableTruth, 0, tableCols); f != nil {
		return f.String()
	}
	return ""
}

func TestReadTableMatchesTruth(t *testing.T) {
	if got := checkTable(t, goodTable); got != "" {
		t.Fatalf("the hand-written table of the truth does not match it: %s", got)
	}
	// Numbers compare by value too: 1.50 is Dune's 1.5.
	if got := checkTable(t, strings.Replace(goodTable, ",1.5,", ",1.50,", 1)); got != "" {
		t.Errorf("1.50 for 1.5: %s", got)
	}
	// The terse layout reads the same.
	terse := strings.NewReplacer(
		"schema (7 columns, named in the CSV header; types in its order): ", "types: ",
		"rows 1–3 as CSV (one header line; empty = NULL, \"\" = empty string; 1 cells over 200 chars shortened, marked …[+N of M chars] with their full length):", "CSV (empty = NULL, \"\" = empty string):",
		"same in every row (left out of the table): chain (varchar)=", "same in every row: chain=",
		"cells give only the * of (the rest is the same in every row): day=", "cells fill the * of: every timestamp column=",
	).Replace(goodTable)
	if got := checkTable(t, terse); got != "" {
		t.Errorf("terse layout: %s", got)
	}
}

// TestReadTableFailures proves the reader and the comparison catch what a
// broken table would get wrong: each mutation of the good table must fail.
func TestReadTableFailures(t *testing.T) {
	cases := []struct {
		name, old, new, want string
		also                 []string // a second replacement: old, new
	}{
		{"a cell altered", ",1.5,", ",1.25,", "row 0 (offset 0) amount", nil},
		{"a row missing, label unchanged", "\n2,\"bob, jr\",,,11:30:00,false", "", "label says rows 1–3, the table has 2 records", nil},
		{"a row missing, label too", "rows 1–3 as CSV", "rows 1–2 as CSV", "3 rows from offset 0", []string{"\n2,\"bob, jr\",,,11:30:00,false", ""}},
		{"a constant wrong", "chain (varchar)=base", "chain (varchar)=bnb", "chain: expected \"base\"", nil},
		{"a constant's type wrong", "chain (varchar)=base", "chain (bigint)=base", "columns equal the ground truth", nil},
		{"a terse constant wrong", "chain (varchar)=base", "chain=bnb", "chain: expected \"base\"", nil},
		{"a constant missing", "same in every row (left out of the table): chain (varchar)=base\n", "", "says 7 columns, the header and constants give 6", nil},
		{"a constant missing, terse", "same in every row (left out of the table): chain (varchar)=base\n", "", "\"chain\" is neither in the CSV header nor given once",
			[]string{"schema (7 columns, named in the CSV header; types in its order): ", "types: "}},
		{"the empty string read as NULL", `1,alice,"",`, `1,alice,,`, "note: expected \"\", got NULL", nil},
		{"NULL read as the empty string", `"bob, jr",,,`, `"bob, jr","",,`, "note: expected null", nil},
		{"a shortened cell's count wrong", "…[+50 of 250 chars]", "…[+49 of 250 chars]", "row 2 (offset 2) note", nil},
		{"a shortened cell not a prefix", strings.Repeat("x", 200) + "…", "y" + strings.Repeat("x", 199) + "…", "row 2 (offset 2) note", nil},
		{"an affix pattern wrong", "day=2024-06-30 *.000 UTC", "day=2024-06-29 *.000 UTC", "day: expected \"2024-06-30 10:00:00.000 UTC\"", nil},
		{"an affix naming no column", "day=2024", "days=2024", "no column of the table", nil},
		{"a boolean wrong", ",10:00:00,true", ",10:00:00,false", "flag: expected true", nil},
		{"header columns out of order", "id,name,note", "name,id,note", "not in the result's order", nil},
		{"a type wrong", "bigint,varchar,varchar,double", "bigint,varchar,varchar,bigint", "columns equal the ground truth", nil},
		{"a type missing", "bigint,varchar,varchar,double", "bigint,varchar,double", "6 header columns", nil},
		{"a record with a field too many", "11:30:00,false", "11:30:00,false,", "record 2 has 7 fields", nil},
		{"no types line", "schema (7 columns, named in the CSV header; types in its order): bigint,varchar,varchar,double,timestamp,boolean\n", "", "types", nil},
		{"no types line at all", "schema (7 columns, named in the CSV header; types in its order): bigint,varchar,varchar,double,timestamp,boolean\nstats over 3 fetched rows (not the whole result):\ntypes: nulls 0 · distinct 3\n", "", "without a types line", nil},
		{"the column count wrong", "schema (7 columns", "schema (8 columns", "says 8 columns", nil},
		{"an unterminated quote", `"bob, jr"`, `"bob, jr`, "record", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if !strings.Contains(goodTable, c.old) {
				t.Fatalf("fixture has no %q", c.old)
			}
			table := strings.Replace(goodTable, c.old, c.new, 1)
			if c.also != nil {
				if !strings.Contains(table, c.also[0]) {
					t.Fatalf("fixture has no %q", c.also[0])
				}
				table = strings.Replace(table, c.also[0], c.also[1], 1)
			}
			got := checkTable(t, table)
			if got == "" {
				t.Fatalf("the broken table passed")
			}
			if !strings.Contains(got, c.want) {
				t.Errorf("failure %q does not say %q", got, c.want)
			}
		})
	}
}

func TestReadTableInText(t *testing.T) {
	text := "query 1 · execution x · COMPLETED\nrows: 3 in result · 3 fetched · 3 shown (rows 1–3) · 0 left\n" +
		strings.Replace(goodTable, "rows 1–3 as CSV", "rows 1–3 as CSV", 1) +
		"\nTRUNCATED: nothing\nnext_cursor: abc,def (for next_page)"
	rt, err := parseTable(text, 3)
	if err != nil {
		t.Fatal(err)
	}
	_, rows, err := arrange(rt, tableCols)
	if err != nil {
		t.Fatal(err)
	}
	if f := compareRows(rows, tableTruth, 0, tableCols); f != nil {
		t.Fatalf("rows in the text: %s", f)
	}
	if _, err := parseTable(text, 4); err == nil {
		t.Error("4 rows returned but the text has 3: no error")
	}
	if _, err := parseTable("query 1 · rows: 2 in result\nTRUNCATED: no rows", 2); err == nil || !strings.Contains(err.Error(), "no table label") {
		t.Errorf("rows returned without a table: %v", err)
	}
}

func TestReadTableOneColumnAndSchema(t *testing.T) {
	rt, err := parseTable("types: double\nCSV (∅ = NULL):\namount\n1.5\n∅\n\"∅\"", -1)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]tableCell{{{text: "1.5"}}, {{null: true}}, {{text: "∅"}}}
	if !reflect.DeepEqual(rt.rows, want) {
		t.Errorf("one-column rows = %v, want %v", rt.rows, want)
	}
	if _, err := parseTable("types: double\nCSV:\namount\n1.5\n\n2", -1); err == nil {
		t.Error("an empty line in a one-column table read as a row")
	}
	rt, err = parseTable("schema (3 columns): id bigint, \"a b\" decimal(38, 0), c row(x bigint, y varchar)\nstats: none (no rows fetched)", -1)
	if err != nil {
		t.Fatal(err)
	}
	wantCols := []dune.Column{{Name: "id", Type: "bigint"}, {Name: "a b", Type: "decimal(38, 0)"}, {Name: "c", Type: "row(x bigint, y varchar)"}}
	if !reflect.DeepEqual(rt.listed, wantCols) || !rt.listedAll {
		t.Errorf("schema line: %v (all %v), want %v", rt.listed, rt.listedAll, wantCols)
	}
	rt, err = parseTable("schema (3 columns): id bigint … and 2 more columns not listed (token budget)", -1)
	if err != nil || len(rt.listed) != 1 || rt.listedAll {
		t.Errorf("a cut schema line: %v, %v", rt, err)
	}
}

func TestExpandTypes(t *testing.T) {
	for in, want := range map[string]string{
		"bigint":                           "bigint",
		"varbinary×3,double":               "varbinary varbinary varbinary double",
		"decimal(38,0)×2,varchar":          "decimal(38,0) decimal(38,0) varchar",
		"(bigint,double×2)×2 then bigint":  "bigint double double bigint double double bigint",
		"(date,array(varchar))×2":          "date array(varchar) date array(varchar)",
		"timestamp(3) with time zone,date": "timestamp(3) with time zone date",
	} {
		got, err := expandTypes(in)
		if err != nil || strings.Join(got, " ") != want {
			t.Errorf("expandTypes(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "bigint,", "bigint×x", "(bigint)×", "bigint then date", "decimal(38,0"} {
		if got, err := expandTypes(bad); err == nil {
			t.Errorf("expandTypes(%q) = %q, want an error", bad, got)
		}
	}
}

// TestFieldsReadBack: field paths into rows and columns resolve in the rows
// read back, typed by their columns; rows itself stays structuredContent's.
func TestFieldsReadBack(t *testing.T) {
	rt, err := parseTable(goodTable, -1)
	if err != nil {
		t.Fatal(err)
	}
	rb := &readBack{source: fromTable, table: rt}
	if rb.cols, rb.rows, err = arrange(rt, tableCols); err != nil {
		t.Fatal(err)
	}
	raw := map[string]any{"table": goodTable, "returned_rows": json.Number("3")}
	var fields map[string]Check
	src := `
rows: {absent: true}
columns.5: {name: chain, type: varchar}
rows.0.@amount: {gt: 1, lt: 2}
rows.0.@note: ""
rows.1.@note: {absent: true}
rows.2.@amount: 12345678901234567890
rows.*.@chain: base
rows.0.@flag: true
rows.2.@flag: {exists: false}
`
	if err := yaml.Unmarshal([]byte(src), &fields); err != nil {
		t.Fatal(err)
	}
	if fs := checkFieldsIn(raw, rb.fieldDoc(raw), fields); len(fs) != 0 {
		t.Errorf("checks on the read-back rows failed: %v", fs)
	}
	fields = nil
	if err := yaml.Unmarshal([]byte("rows.0.@amount: 2\nrows.*.@chain: bnb\nrows: {exists: true}"), &fields); err != nil {
		t.Fatal(err)
	}
	if fs := checkFieldsIn(raw, rb.fieldDoc(raw), fields); len(fs) != 5 {
		t.Errorf("want 5 failures (amount, 3 chains, rows), got %d: %v", len(fs), fs)
	}
}

// TestModelTokens: the scorecard counts the part that carries the rows:
// structuredContent when its table does, else the text.
func TestModelTokens(t *testing.T) {
	for _, c := range []struct {
		structured string
		wantStruct bool
	}{
		{`{"returned_rows":3,"table":"types: bigint\nCSV:\nid\n1\n2\n3"}`, true},
		{`{"returned_rows":3,"rows":[[1],[2],[3]],"columns":[{"name":"id","type":"bigint"}]}`, false},
	} {
		out := &outcome{rec: &CallRecord{}, text: "a short text that says where the rows are", measured: make(chan struct{}),
			rawStructured: []byte(c.structured), doc: decodeJSON([]byte(c.structured))}
		out.measure()
		r := out.rec
		if r.TextTokens == r.StructuredTokens {
			t.Fatalf("fixture: text and structured tokens are both %d", r.TextTokens)
		}
		want := r.TextTokens
		if c.wantStruct {
			want = r.StructuredTokens
		}
		if r.ModelTokens != want {
			t.Errorf("%s: model tokens %d, want %d (text %d, structured %d)", c.structured, r.ModelTokens, want, r.TextTokens, r.StructuredTokens)
		}
	}
}
