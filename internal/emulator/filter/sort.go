package filter

import (
	"fmt"
	"slices"
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
	nk := len(s.keys)
	keys := make([]key, len(rows)*nk)
	for r, row := range rows {
		for i := range s.keys {
			keys[r*nk+i] = readKey(s.keys[i].kind, cell(row, s.keys[i].Index))
		}
	}
	perm := make([]int, len(rows))
	for i := range perm {
		perm[i] = i
	}
	// Ties break on the original index, so an unstable sort is stable here.
	slices.SortFunc(perm, func(x, y int) int {
		for i := range s.keys {
			if c := s.keys[i].compare(&keys[x*nk+i], &keys[y*nk+i]); c != 0 {
				return c
			}
		}
		return cmpInt(x, y)
	})
	sorted := make([]dune.Row, len(rows))
	for i, p := range perm {
		sorted[i] = rows[p]
	}
	copy(rows, sorted)
}
