package filter

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
)

var sortCols = []dune.Column{
	{Name: "id", Type: "integer"},
	{Name: "amount_usd", Type: "double"},
	{Name: "block_time", Type: "timestamp(3) with time zone"},
	{Name: "raw", Type: "uint256"},
	{Name: "addr", Type: "varbinary"},
	{Name: "sym", Type: "varchar"},
	{Name: "special,column", Type: "varchar"},
	{Name: "untyped"},
	{Name: "flag", Type: "boolean"},
	{Name: "tags", Type: "array(varchar)"},
}

// sortRow builds a row; id identifies it in assertions.
func sortRow(id int, amount, bt, raw, addr, sym, special, untyped, flag any) dune.Row {
	return dune.Row{n(fmt.Sprint(id)), amount, bt, raw, addr, sym, special, untyped, flag, nil}
}

var sortRows = []dune.Row{
	sortRow(0, n("10"), "2024-03-05 20:50:59.000 UTC", "18446744073709551617", "0xAB", "b", "x", n("10"), true),
	sortRow(1, nil, "2024-03-05T20:51:00Z", "18446744073709551616", "0xaa", "a", "y", "9", false),
	sortRow(2, n("9.5"), nil, "2985646787349243786078", nil, "B", nil, "abc", nil),
	sortRow(3, n("1e3"), "2024-03-05 20:50:59.001 UTC", nil, "0xab", nil, "x", nil, true),
	sortRow(4, n("-1"), "2024-03-04", "5", "0x01", "a", "x", "2024-01-01", false),
	sortRow(5, n("10.0"), "2024-03-05 20:50:59.000 UTC", "9007199254740993", "0xAc", "", "x", n("10.0"), nil),
}

func sortedIDs(t *testing.T, expr string, rows []dune.Row) []int {
	t.Helper()
	s, err := ParseSort(expr, sortCols)
	if err != nil {
		t.Fatalf("ParseSort(%q): %v", expr, err)
	}
	rs := slices.Clone(rows)
	slices.SortStableFunc(rs, s.Compare)
	var ids []int
	for _, r := range rs {
		var id int
		fmt.Sscan(string(r[0].(json.Number)), &id)
		ids = append(ids, id)
	}
	// SortRows must agree with a stable sort by Compare.
	rs2 := slices.Clone(rows)
	s.SortRows(rs2)
	for i := range rs {
		if rs[i][0] != rs2[i][0] {
			t.Fatalf("%q: SortRows disagrees with SortStableFunc(Compare) at %d", expr, i)
		}
	}
	return ids
}

func TestSort(t *testing.T) {
	tests := []struct {
		expr string
		want []int
	}{
		{"id", []int{0, 1, 2, 3, 4, 5}},
		{"id desc", []int{5, 4, 3, 2, 1, 0}},
		{"ID DESC", []int{5, 4, 3, 2, 1, 0}},
		{"id Asc", []int{0, 1, 2, 3, 4, 5}},
		// numeric, exact; 10 = 10.0 ties keep stored order; NULL last both ways
		{"amount_usd", []int{4, 2, 0, 5, 3, 1}},
		{"amount_usd desc", []int{3, 0, 5, 2, 4, 1}},
		// multi-key: the documented "amount_usd desc, block_time"
		{"amount_usd desc, block_time", []int{3, 0, 5, 2, 4, 1}},
		{"amount_usd desc, id desc", []int{3, 5, 0, 2, 4, 1}},
		// chronological across formats, NULL last both ways
		{"block_time", []int{4, 0, 5, 3, 1, 2}},
		{"block_time desc", []int{1, 3, 0, 5, 4, 2}},
		{"block_time desc, id desc", []int{1, 3, 5, 0, 4, 2}},
		// uint256 beyond 2^64 and beyond float64 precision
		{"raw", []int{4, 5, 1, 0, 2, 3}},
		{"raw DESC", []int{2, 0, 1, 5, 4, 3}},
		// varbinary: hex case-insensitively
		{"addr", []int{4, 1, 0, 3, 5, 2}},
		{"addr desc, id", []int{5, 0, 3, 1, 4, 2}},
		// varchar: case-sensitive byte order, NULL last
		{"sym", []int{5, 2, 1, 4, 0, 3}},
		{"sym desc", []int{0, 1, 4, 2, 5, 3}},
		{`"special,column" asc, id desc`, []int{5, 4, 3, 0, 1, 2}},
		{`"special,column"desc,id`, []int{1, 0, 3, 4, 5, 2}},
		{" sym , id desc ", []int{5, 2, 4, 1, 0, 3}},
		{"sym,id DESC", []int{5, 2, 4, 1, 0, 3}},
		// booleans: false < true, NULL last
		{"flag, id", []int{1, 4, 0, 3, 2, 5}},
		{"flag desc, id", []int{0, 3, 1, 4, 2, 5}},
		// untyped: numbers (json.Number or numeric strings) < timestamps < text
		{"untyped, id", []int{1, 0, 5, 4, 2, 3}},
		{"untyped desc, id", []int{2, 4, 0, 5, 1, 3}},
	}
	for _, tc := range tests {
		if got := sortedIDs(t, tc.expr, sortRows); !slices.Equal(got, tc.want) {
			t.Errorf("%q: got %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func TestSortKeys(t *testing.T) {
	s, err := ParseSort(`amount_usd desc, "special,column"`, sortCols)
	if err != nil {
		t.Fatal(err)
	}
	got := s.Keys()
	if len(got) != 2 || got[0].Column != "amount_usd" || !got[0].Desc || got[0].Index != 1 ||
		got[1].Column != "special,column" || got[1].Desc || got[1].Index != 6 {
		t.Errorf("Keys() = %+v", got)
	}
}

// TestSortOrderProperties checks Compare is a consistent total order over
// random rows (antisymmetric, transitive via a sorted sequence).
func TestSortOrderProperties(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	pick := func(vals ...any) any { return vals[rng.IntN(len(vals))] }
	var rows []dune.Row
	for i := range 300 {
		rows = append(rows, sortRow(i,
			pick(nil, n("1"), n("-1e2"), n("0.5"), "Infinity", "NaN", "-Infinity", n("1.0")),
			pick(nil, "2024-03-05 20:50:59.000 UTC", "2024-03-05", "bad", "2024-03-05T20:50:59Z"),
			pick(nil, "1", "18446744073709551616", "x"),
			pick(nil, "0xab", "0xAB", "0x1", ""),
			pick(nil, "a", "B", "é", ""),
			pick(nil, "x"),
			pick(nil, n("5"), "5", "2024-01-01", "z", true, []any{1}, map[string]any{}),
			pick(nil, true, false, "true", "maybe"),
		))
	}
	for _, expr := range []string{"amount_usd", "block_time desc", "raw", "addr desc", "sym", "untyped", "flag desc", "untyped desc, amount_usd, block_time desc"} {
		s, err := ParseSort(expr, sortCols)
		if err != nil {
			t.Fatal(err)
		}
		rs := slices.Clone(rows)
		s.SortRows(rs)
		for i := range rs {
			for j := range rs {
				c := s.Compare(rs[i], rs[j])
				if cmp.Compare(c, 0) != -cmp.Compare(s.Compare(rs[j], rs[i]), 0) {
					t.Fatalf("%q: Compare not antisymmetric on %v / %v", expr, rs[i], rs[j])
				}
				if i < j && c > 0 {
					t.Fatalf("%q: sorted rows out of order at %d,%d: %v / %v", expr, i, j, rs[i], rs[j])
				}
			}
		}
		// NULLs of the first key are last.
		k := s.Keys()[0].Index
		seenNull := false
		for _, r := range rs {
			if r[k] == nil {
				seenNull = true
			} else if seenNull {
				t.Fatalf("%q: non-NULL after NULL", expr)
			}
		}
	}
}

func TestParseSortErrors(t *testing.T) {
	tests := []struct {
		expr string
		typ  string
		kind ErrorKind
		pos  int
		msg  string
	}{
		{"", "syntax", "", 1, "sort_by: empty expression at position 1"},
		{"   ", "syntax", "", 1, "empty expression"},
		{"id,", "syntax", "", 4, "after the trailing comma"},
		{",id", "syntax", "", 1, "before the comma"},
		{"id,,sym", "syntax", "", 4, "before the comma"},
		{"id sym", "syntax", "", 4, `expected ASC, DESC, "," or the end of sort_by`},
		{"id desc desc", "syntax", "", 9, "expected ASC, DESC"},
		{"id descending", "syntax", "", 4, `unexpected identifier "descending"`},
		{"1", "syntax", "", 1, "sorting by column position is not supported"},
		{"'id'", "syntax", "", 1, "quote column names with double quotes"},
		{"lower(sym)", "syntax", "", 6, "function calls"},
		{"id nulls first", "syntax", "", 4, "NULLS FIRST/LAST cannot be set"},
		{"id; drop", "syntax", "", 3, "unexpected character ';'"},
		{`"id`, "syntax", "", 1, "unterminated quoted column name"},
		{"id = 1", "syntax", "", 4, "expected ASC, DESC"},
		{"nosuch", "semantic", KindUnknownColumn, 1, `unknown column "nosuch"`},
		{"id, amount_usdd desc", "semantic", KindUnknownColumn, 5, `did you mean "amount_usd"?`},
		{`"ID"`, "semantic", KindUnknownColumn, 1, `unknown column "ID"`},
		{"tags", "semantic", KindTypeMismatch, 1, "cannot sort by array(varchar) column"},
		{strings.Repeat("id,", 1400) + "id", "semantic", KindLimit, MaxLength + 1, "bytes long"},
		{"id,\xffx", "syntax", "", 4, "invalid UTF-8"},
	}
	for _, tc := range tests {
		name := tc.expr
		if len(name) > 40 {
			name = name[:40]
		}
		t.Run(name, func(t *testing.T) {
			s, err := ParseSort(tc.expr, sortCols)
			if s != nil {
				t.Fatalf("got a Sort with error %v", err)
			}
			typ, k, pos := errInfo(err)
			if typ != tc.typ || k != tc.kind || pos != tc.pos {
				t.Fatalf("got %s/%s at %d (%v), want %s/%s at %d", typ, k, pos, err, tc.typ, tc.kind, tc.pos)
			}
			if !strings.Contains(err.Error(), tc.msg) || !strings.HasPrefix(err.Error(), "sort_by: ") {
				t.Errorf("error %q lacks %q", err, tc.msg)
			}
		})
	}
}

func TestSortShortRows(t *testing.T) {
	s, err := ParseSort("sym desc, id", sortCols)
	if err != nil {
		t.Fatal(err)
	}
	rows := []dune.Row{{n("1")}, {n("0"), nil, nil, nil, nil, "a"}, {}}
	s.SortRows(rows)
	if len(rows[0]) != 6 || len(rows[2]) != 0 {
		t.Errorf("short rows: %v", rows)
	}
}
