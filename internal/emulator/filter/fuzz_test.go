package filter

import (
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"testing"
	"unicode/utf8"

	"github.com/dune-mcp/dune-mcp/dune"
)

// fuzzRows add hostile values to docRows: wrong Go types in every column,
// short and empty rows, nested values, odd strings.
var fuzzRows = func() []dune.Row {
	rows := slices.Clone(docRows)
	odd := []any{true, 3.5, int64(-7), map[string]any{"a": 1}, []any{nil}, "NaN", "\xff\xfe", "", "0x", json.Number("1e999999999"), json.Number("-")}
	for _, v := range odd {
		r := make(dune.Row, len(docCols))
		for i := range r {
			r[i] = v
		}
		rows = append(rows, r)
	}
	return append(rows, dune.Row{}, nil, dune.Row{"x"})
}()

func checkErr(t *testing.T, expr string, err error) {
	t.Helper()
	var se *SyntaxError
	var fe *Error
	var pos int
	switch {
	case errors.As(err, &se):
		pos = se.Pos
	case errors.As(err, &fe):
		pos = fe.Pos
	default:
		t.Fatalf("%q: error of type %T: %v", expr, err, err)
	}
	if pos < 1 || pos > utf8.RuneCountInString(expr)+1 {
		t.Fatalf("%q: position %d outside the input: %v", expr, pos, err)
	}
	if len(err.Error()) > 1500 {
		t.Fatalf("%q: error text of %d bytes", expr, len(err.Error()))
	}
}

func FuzzParse(f *testing.F) {
	for _, tc := range docExamples {
		f.Add(tc.expr)
	}
	for _, tc := range malformedCases {
		f.Add(tc.expr)
	}
	for _, s := range []string{
		"number < 3 AND (project = 'a' OR tx_to IN (0xab, 0xAB)) OR block_time >= '2024-03-05 15:03'",
		`"🚀 price" > -1.5e-3 and "say ""hi""" like '_i%'`, "is_whale = TRUE OR tags IS NULL",
		"block_month = '2024-03-01T00:00:00+01:00'", "raw >= 115792089237316195423570985008687907853269984665640564039457584007913129639935",
	} {
		f.Add(s)
	}
	colSets := [][]dune.Column{docCols, untyped(docCols)}
	f.Fuzz(func(t *testing.T, expr string) {
		for _, cols := range colSets {
			flt, err := Parse(expr, cols)
			if err != nil {
				if flt != nil {
					t.Fatalf("%q: filter and error", expr)
				}
				checkErr(t, expr, err)
				continue
			}
			first := make([]bool, len(fuzzRows))
			for i, r := range fuzzRows {
				first[i] = flt.Match(r)
			}
			for i, r := range fuzzRows {
				if flt.Match(r) != first[i] {
					t.Fatalf("%q: Match not deterministic", expr)
				}
			}
		}
	})
}

func FuzzParseSort(f *testing.F) {
	for _, s := range []string{
		"id", "id desc", "amount_usd desc, block_time", `"special,column" asc`, "sym,id DESC", " raw , addr desc ",
		"", "id,", ",id", "id sym", "1", "'id'", "lower(sym)", "id nulls first", `"id`, "nosuch", "tags", "untyped desc, flag",
	} {
		f.Add(s)
	}
	rows := append(slices.Clone(sortRows), dune.Row{}, nil, dune.Row{true, "x", 1.5, map[string]any{}, []any{}, json.Number("-"), "\xff", false, "y"})
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := ParseSort(expr, sortCols)
		if err != nil {
			if s != nil {
				t.Fatalf("%q: sort and error", expr)
			}
			checkErr(t, expr, err)
			return
		}
		for _, a := range rows {
			if s.Compare(a, a) != 0 {
				t.Fatalf("%q: Compare(a, a) != 0 for %v", expr, a)
			}
			for _, b := range rows {
				if cmp.Compare(s.Compare(a, b), 0) != -cmp.Compare(s.Compare(b, a), 0) {
					t.Fatalf("%q: Compare not antisymmetric on %v / %v", expr, a, b)
				}
			}
		}
		s.SortRows(slices.Clone(rows))
	})
}

// FuzzDecimal checks the exact decimal order against math/big.
func FuzzDecimal(f *testing.F) {
	for _, p := range [][2]string{{"1", "1.0"}, {"-0", "0"}, {"1e2", "100"}, {".5", "5e-1"}, {"2985646787349243786078", "2.985646787349243786078e21"}, {"9007199254740993", "9007199254740992"}} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if len(a) > 200 || len(b) > 200 {
			return
		}
		checkDecimalPair(t, a, b)
	})
}

// FuzzLike checks LIKE matching against a regexp oracle.
func FuzzLike(f *testing.F) {
	for _, p := range [][2]string{{"WETH%", "WETH.e"}, {"%USDC%", "WETH-USDC"}, {"a_c", "aéc"}, {"%a%b%", "xaxbx"}, {"aa%aa", "aaa"}} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, pat, s string) {
		if len(pat) > 64 || len(s) > 256 {
			return
		}
		checkLike(t, pat, s)
	})
}
