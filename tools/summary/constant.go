package summary

import (
	"encoding/json"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// constMinRows is the fewest rows a page must offer before a column holding
// one value in all of them is given once instead of in every row: with
// fewer, "the same in every row" says little and saves little.
const constMinRows = 3

// findConstants marks the columns that hold one scalar value (a string of
// at most CellLimit characters, a number, a boolean or NULL) in each of the
// page's first f.constN rows, and reports whether the marks changed. Such a
// column is given once, in a line above the text's table (which
// Structured.Table carries under ViewsStructured), instead of in each row:
// the rows shown are a prefix of those rows (see constPrefix and
// Draft.layout), so the value holds for every row shown. A sample is left
// as it is. The common parts of the other timestamp columns are found too
// (findAffixes).
func (f *frame) findConstants() bool {
	changed := f.findConsts()
	return f.findAffixes() || changed
}

// findConsts marks the constant columns (see findConstants) and reports
// whether the marks changed.
func (f *frame) findConsts() bool {
	old := f.konst
	f.konst = nil
	rows := f.p.Rows[:f.constN]
	if len(rows) >= constMinRows && !f.sample {
		half := len(rows) / 2
		for c := range f.cols {
			if constant(rows, c) && constPays(f.cols[c], rows[0][c], half) {
				if f.konst == nil {
					f.konst = make([]bool, len(f.cols))
				}
				f.konst[c] = true
			}
		}
	}
	return !slices.Equal(old, f.konst)
}

// constPays reports whether giving col's one value v once costs fewer
// tokens than its cells in half the rows it was found over (the rows shown
// are usually fewer): at a few rows, a short value (a boolean, a NULL) is
// cheaper in the table.
func constPays(col schemas.Column, v any, half int) bool {
	cell := NullMark
	if v != nil {
		cell = valueText(v)
	}
	return CountTokens(cell+",")*half > CountTokens(quoteName(col.Name)+" ("+col.Type+")="+cell+", ")
}

// constPrefix is how many of the page's first rows constant columns and
// common parts are found over: the rows a page of this budget could show
// at the plain CSV cost of its first row, a quarter more, and growTries
// more (at least constMinRows; at most the page). A column the same in
// those rows is given once even when later rows differ: the rows shown are
// among them, and when a plan shows more, Draft.layout finds the constants
// over the rows it shows. Fetching more rows than a page shows (an
// explicit limit, a top-up) therefore changes nothing the page shows, and
// the rows a draft measured before Extend keep their measurements.
func (f *frame) constPrefix() int {
	N := len(f.p.Rows)
	if N == 0 {
		return 0
	}
	if f.firstCSVTok == 0 { // the first row stays first when the page is extended
		f.firstCSVTok = CountTokens(plainCSVLine(f.p.Rows[0]))
	}
	k := f.budget*5/4/max(f.firstCSVTok, 1) + 1 + growTries
	return min(N, max(k, constMinRows))
}

// constant reports whether column c holds the same short scalar in every row.
func constant(rows []dune.Row, c int) bool {
	first := rows[0][c]
	switch v := first.(type) {
	case nil, bool, json.Number, float64:
	case string:
		if utf8.RuneCountInString(v) > CellLimit {
			return false
		}
	default:
		return false
	}
	for _, r := range rows[1:] {
		if !sameScalar(r[c], first) {
			return false
		}
	}
	return true
}

// sameScalar compares two values of which want is a scalar.
func sameScalar(v, want any) bool {
	switch v.(type) {
	case nil, bool, json.Number, float64, string:
		return v == want
	}
	return false
}

// constCount is the number of columns given once.
func (f *frame) constCount() int {
	n := 0
	for _, k := range f.konst {
		if k {
			n++
		}
	}
	return n
}

// isConst reports whether column c is given once instead of in each row.
func (f *frame) isConst(c int) bool { return f.konst != nil && f.konst[c] }

// constText lists the constant columns as name (type)=value (CSV quoting,
// NULL as NullMark), for the text; "" when there are none. Terse, it leaves
// the types out (name=value): the value shows what it is, and at a small
// budget the tokens go to rows.
func (f *frame) constText(terse bool) string {
	if f.konst == nil {
		return ""
	}
	var b strings.Builder
	for c, k := range f.konst {
		if !k {
			continue
		}
		if b.Len() > 0 {
			b.WriteString(", ")
		}
		b.WriteString(quoteName(f.cols[c].Name))
		if !terse {
			b.WriteString(" (")
			b.WriteString(f.cols[c].Type)
			b.WriteString(")")
		}
		b.WriteString("=")
		v := f.p.Rows[0][c]
		if v == nil {
			b.WriteString(NullMark)
			continue
		}
		writeCSVField(&b, valueText(v))
	}
	return b.String()
}
