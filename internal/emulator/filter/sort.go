package filter

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/dune-mcp/dune-mcp/dune"
)

// SortKey is one ordering term of a Sort.
type SortKey struct {
	// Index is the column's position in ParseSort's cols.
	Index int
	// Column is the resolved column name.
	Column string
	// Desc is true for descending order.
	Desc bool
	kind kind
}

// Sort is a parsed sort_by expression bound to a column list.
type Sort struct {
	keys []SortKey
}

// ParseSort parses expr (Dune's `sort_by` language:
// `col [ASC|DESC] {, col [ASC|DESC]}`) and binds it to cols. It returns a
// *SyntaxError for malformed or empty input and an *Error for an unknown or
// ambiguous column, a column that cannot be ordered (array, map, row), or
// input beyond MaxLength.
func ParseSort(expr string, cols []dune.Column) (*Sort, error) {
	if err := checkInput(expr, ParamSortBy); err != nil {
		return nil, err
	}
	items, err := parseSortItems(expr)
	if err != nil {
		return nil, err
	}
	s := &Sort{keys: make([]SortKey, 0, len(items))}
	for _, it := range items {
		idx, err := resolveColumn(it.col, cols, expr, ParamSortBy)
		if err != nil {
			return nil, err
		}
		col := cols[idx]
		k := SortKey{Index: idx, Column: col.Name, Desc: it.desc, kind: kindOf(col.Type)}
		if k.kind == kindComplex {
			return nil, &Error{Param: ParamSortBy, Kind: KindTypeMismatch, Pos: runePos(expr, it.col.off), Offset: it.col.off, Column: col.Name,
				Msg: fmt.Sprintf("cannot sort by %s column %s", col.Type, quoteIdent(col.Name)), Hint: "array, map and row columns have no order"}
		}
		s.keys = append(s.keys, k)
	}
	return s, nil
}

type sortItem struct {
	col  token
	desc bool
}

// parseSortItems checks the syntax of a sort_by expression.
func parseSortItems(expr string) ([]sortItem, error) {
	p := newParser(expr, ParamSortBy)
	var items []sortItem
	for {
		t := p.tok
		if t.kind != tIdent && t.kind != tQIdent {
			hint := "expected a column name"
			switch t.kind {
			case tNumber:
				hint += "; sorting by column position is not supported"
			case tString:
				hint += `; quote column names with double quotes, e.g. "special,column" asc`
			case tComma:
				hint = "expected a column name before the comma"
			case tEOF:
				if len(items) > 0 {
					hint = "expected a column name after the trailing comma"
				}
			}
			return nil, p.unexpected(hint)
		}
		it := sortItem{col: t}
		p.advance()
		if p.isKw(kwAsc) || p.isKw(kwDesc) {
			it.desc = p.tok.kw == kwDesc
			p.advance()
		}
		items = append(items, it)
		switch p.tok.kind {
		case tEOF:
			return items, nil
		case tComma:
			p.advance()
			continue
		case tLParen:
			return nil, p.unexpected("function calls and SQL expressions are not allowed")
		}
		if p.tok.kind == tIdent && strings.EqualFold(p.tok.text, "nulls") {
			return nil, p.unexpected(`expected "," or the end; NULLS FIRST/LAST cannot be set (NULLs always sort last)`)
		}
		return nil, p.unexpected(`expected ASC, DESC, "," or the end of sort_by`)
	}
}

// Keys returns the sort's terms in order.
func (s *Sort) Keys() []SortKey { return slices.Clone(s.keys) }

// Compare orders rows a and b (values in ParseSort's cols order): negative
// if a sorts first, positive if b does, 0 if they tie on every key. Values
// compare by their column's type; NULLs sort last in both directions.
// Compare is not stable by itself: use slices.SortStableFunc to keep the
// stored order of ties, or SortRows.
func (s *Sort) Compare(a, b dune.Row) int {
	for i := range s.keys {
		k := &s.keys[i]
		ka, kb := readKey(k.kind, cell(a, k.Index)), readKey(k.kind, cell(b, k.Index))
		if c := k.compare(&ka, &kb); c != 0 {
			return c
		}
	}
	return 0
}

// compare applies the key's direction, keeping NULLs last.
func (k *SortKey) compare(a, b *key) int {
	an, bn := a.cls == clsNull, b.cls == clsNull
	switch {
	case an && bn:
		return 0
	case an:
		return 1
	case bn:
		return -1
	}
	c := cmpKeys(a, b)
	if k.Desc {
		return -c
	}
	return c
}

// SortRows sorts rows in place, stably, in the order Compare defines. It
// reads every sort value once, so it is much faster than sorting with
// Compare on large results.
func (s *Sort) SortRows(rows []dune.Row) {
	keys := s.NewSortKeys(len(rows))
	for r, row := range rows {
		keys.Set(r, row)
	}
	perm := make([]int32, len(rows))
	for i := range perm {
		perm[i] = int32(i)
	}
	keys.Sort(perm)
	sorted := make([]dune.Row, len(rows))
	for i, p := range perm {
		sorted[i] = rows[p]
	}
	copy(rows, sorted)
}

// SortKeys holds the sort values of a number of rows, each read once, so
// that sorting them compares typed values without reading cells again.
type SortKeys struct {
	s    *Sort
	keys []key // row r's values at r*len(s.keys)...
	// nums holds the float64 nearest each number key, NaN when there is
	// none: a correctly rounded conversion never reverses an order, so
	// two numbers whose floats differ compare as their floats do, and
	// only equal floats need the exact comparison.
	nums []float64
}

// NewSortKeys returns room for the sort values of n rows, numbered 0 to n-1.
func (s *Sort) NewSortKeys(n int) *SortKeys {
	nk := len(s.keys)
	return &SortKeys{s: s, keys: make([]key, n*nk), nums: make([]float64, n*nk)}
}

// Set reads the sort values of row (values in ParseSort's cols order) as
// those of row r. The row is not kept.
func (k *SortKeys) Set(r int, row dune.Row) {
	nk := len(k.s.keys)
	for i := range k.s.keys {
		sk := &k.s.keys[i]
		v := cell(row, sk.Index)
		kv := readKey(sk.kind, v)
		f := math.NaN()
		if kv.cls == clsNum && !kv.num.inf {
			if t, ok := cellText(v); ok {
				if x, err := strconv.ParseFloat(t, 64); err == nil {
					f = x
				}
			}
		}
		k.keys[r*nk+i], k.nums[r*nk+i] = kv, f
	}
}

// Compare orders rows x and y as Sort.Compare orders the rows they were
// read from.
func (k *SortKeys) Compare(x, y int) int {
	nk := len(k.s.keys)
	for i := range k.s.keys {
		a, b := x*nk+i, y*nk+i
		if k.keys[a].cls == clsNum && k.keys[b].cls == clsNum {
			// NaN (no float) fails both tests and falls through.
			if fa, fb := k.nums[a], k.nums[b]; fa < fb || fa > fb {
				if (fa < fb) != k.s.keys[i].Desc {
					return -1
				}
				return 1
			}
		}
		if c := k.s.keys[i].compare(&k.keys[a], &k.keys[b]); c != 0 {
			return c
		}
	}
	return 0
}

// Sort sorts perm (row numbers) by Compare; rows that tie keep ascending
// row-number order, so numbering rows in their stored order makes the sort
// stable.
func (k *SortKeys) Sort(perm []int32) {
	slices.SortFunc(perm, func(x, y int32) int {
		if c := k.Compare(int(x), int(y)); c != 0 {
			return c
		}
		return cmpInt(int(x), int(y))
	})
}
