package summary

import (
	"slices"
	"strings"

	"github.com/dune-mcp/dune-mcp/dune"
)

// The text table gives a timestamp column's cells without the part every
// cell of the page shares (the date when all rows fall on one day, and a
// tail such as ".000 UTC" or "T00:00:00Z"), declared once above the table
// as a pattern whose * the cell fills: block_time=2024-06-30 *.000 UTC, a
// cell 23:59:09 standing for 2024-06-30 23:59:09.000 UTC. Nothing is lost:
// the cell and the pattern give the value as Dune wrote it. Like the
// columns with one value (findConstants), the common part is found over
// the page's first f.constN rows, of which the rows shown are a prefix, so
// it holds for every row shown. Structured carries values as Dune sent them (the output
// schema says so): the common part is the text's only.

// affix is the common part of a column's cells: a cell c stands for
// prefix + c + suffix.
type affix struct {
	prefix, suffix string
}

// pattern is a's declaration: the value with * for the cell.
func (a affix) pattern() string { return a.prefix + "*" + a.suffix }

// findAffixes sets the common parts of the page's timestamp columns (those
// not constant) and reports whether they changed. A column gets one when
// every one of its values (in the first f.constN rows) is a string of its
// timestamp layout and leaving the common part out saves more tokens over
// those rows than
// declaring it costs: a shared tail (".000 UTC") on a page of any size (a
// row of a wide table may hold dozens of timestamps), a shared date only
// over at least constMinRows values (see commonAffix).
func (f *frame) findAffixes() bool {
	old := f.affixes
	f.affixes = nil
	rows := f.p.Rows[:f.constN]
	if len(rows) > 0 && !f.sample {
		for c, col := range f.cols {
			if f.isConst(c) || !timeType(col.Type) {
				continue
			}
			a, ok := commonAffix(rows, c)
			if !ok {
				continue
			}
			if f.affixes == nil {
				f.affixes = make([]affix, len(f.cols))
			}
			f.affixes[c] = a
		}
	}
	if f.affixes != nil && !f.affixesPay() {
		f.affixes = nil
	}
	return !slices.Equal(old, f.affixes)
}

// timeType reports whether a Dune type is a timestamp or a date.
func timeType(t string) bool {
	return t == "date" || strings.HasPrefix(t, "timestamp")
}

// timeTails are the tails Dune's timestamps and dates commonly share,
// longest first: midnight, whole seconds in UTC, UTC.
var timeTails = []string{" 00:00:00.000 UTC", "T00:00:00.000Z", "T00:00:00Z", ".000 UTC", ".000Z", " UTC"}

// commonAffix returns the common part of column c's values: the longest of
// timeTails they all end with, and, when at least constMinRows values
// share it, the date they all start with (up to and with the space or T
// after it). Every value must be a string (NULLs aside) that keeps at
// least one character, and none may contain what would make the pattern
// or the CSV cell ambiguous.
func commonAffix(rows []dune.Row, c int) (affix, bool) {
	var pre string
	tails := timeTails
	n, shortest := 0, 0
	for _, r := range rows {
		v := r[c]
		if v == nil {
			continue
		}
		s, ok := v.(string)
		if !ok || s == "" || ambiguousInPattern(s) {
			return affix{}, false
		}
		if n == 0 || len(s) < shortest {
			shortest = len(s)
		}
		if n == 0 {
			pre = s
		} else {
			pre = pre[:commonPrefixLen(pre, s)]
		}
		for len(tails) > 0 && !strings.HasSuffix(s, tails[0]) {
			tails = tails[1:]
		}
		n++
	}
	if n == 0 {
		return affix{}, false
	}
	var a affix
	if len(tails) > 0 {
		a.suffix = tails[0]
	}
	// One date for a few values says little: only from constMinRows on.
	if i := strings.LastIndexAny(pre, " T"); i >= 0 && n >= constMinRows && isDate(pre[:i]) {
		a.prefix = pre[:i+1]
	}
	if a == (affix{}) {
		return affix{}, false
	}
	if shortest <= len(a.prefix)+len(a.suffix) {
		return affix{}, false // a cell would be empty, or prefix and suffix overlap
	}
	return a, true
}

// patternBytes are the bytes a cell left to fill a pattern may not hold:
// the pattern's own *, and what would make the CSV cell or the name=pattern
// declaration ambiguous.
var patternBytes = [256]bool{'*': true, ',': true, '"': true, '=': true, '\n': true, '\r': true}

// ambiguousInPattern reports whether s holds one of patternBytes (a byte
// loop: this runs over every timestamp of a fetched page).
func ambiguousInPattern(s string) bool {
	for i := 0; i < len(s); i++ {
		if patternBytes[s[i]] {
			return true
		}
	}
	return false
}

// isDate reports whether s is a date, YYYY-MM-DD.
func isDate(s string) bool {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return false
	}
	for i, r := range s {
		if i != 4 && i != 7 && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}

func commonPrefixLen(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	return n
}

// affixesPay reports whether leaving the common parts out saves more
// tokens over half the page's rows (the rows shown are usually fewer than
// those fetched; estimated from at most affixSample of them) than their
// declaration costs.
func (f *frame) affixesPay() bool {
	saved := 0
	half := max(f.constN/2, 1)
	k := min(half, affixSample) // measured on the first rows, scaled
	for c, a := range f.affixes {
		if a == (affix{}) {
			continue
		}
		for _, r := range f.p.Rows[:k] {
			if s, ok := r[c].(string); ok {
				saved += CountTokens(s+",") - CountTokens(a.cell(s)+",")
			}
		}
	}
	return saved*half/k > CountTokens(f.affixText(false))
}

// affixSample bounds the rows affixesPay tokenises: what leaving the
// common part out saves varies little from row to row.
const affixSample = 16

// cell is s without the common part; s whole when it lacks it. The rows
// a page shows have it (the common parts are found over them, see
// Draft.layout); a row past them, measured as a candidate, may not.
func (a affix) cell(s string) string {
	if len(s) < len(a.prefix)+len(a.suffix) || !strings.HasPrefix(s, a.prefix) || !strings.HasSuffix(s, a.suffix) {
		return s
	}
	return s[len(a.prefix) : len(s)-len(a.suffix)]
}

// hasAffix reports whether column c's cells leave a common part out.
func (f *frame) hasAffix(c int) bool { return f.affixes != nil && f.affixes[c] != (affix{}) }

// affixText declares the common parts for the text, "" when there are
// none: name=pattern for each column, or, when every (non-constant) column
// of a type shares one pattern, "type columns=pattern" once.
func (f *frame) affixText(compact bool) string {
	if f.affixes == nil {
		return ""
	}
	// Columns of each type, and whether they all share one pattern.
	type group struct {
		pattern string
		cols    []int
		all     bool
	}
	var order []string
	groups := map[string]*group{}
	for c, col := range f.cols {
		if f.isConst(c) || !timeType(col.Type) {
			continue
		}
		g := groups[col.Type]
		if g == nil {
			g = &group{all: true}
			groups[col.Type] = g
			order = append(order, col.Type)
		}
		switch {
		case f.hasAffix(c) && g.pattern == "":
			g.pattern = f.affixes[c].pattern()
		case allNull(f.p.Rows[:f.constN], c):
			// no cell to fill: the pattern holds for it too
		case !f.hasAffix(c) || f.affixes[c].pattern() != g.pattern:
			g.all = false
		}
		if f.hasAffix(c) {
			g.cols = append(g.cols, c)
		}
	}
	var b strings.Builder
	if compact {
		b.WriteString("cells fill the * of: ")
	} else {
		b.WriteString("cells give only the * of (the rest is the same in every row): ")
	}
	first := true
	sep := func() {
		if !first {
			b.WriteString(", ")
		}
		first = false
	}
	for _, ty := range order {
		g := groups[ty]
		if g.all && len(g.cols) > 1 && g.pattern != "" {
			sep()
			b.WriteString("every ")
			b.WriteString(ty)
			b.WriteString(" column=")
			b.WriteString(g.pattern)
			continue
		}
		for _, c := range g.cols {
			sep()
			b.WriteString(quoteName(f.cols[c].Name))
			b.WriteByte('=')
			b.WriteString(f.affixes[c].pattern())
		}
	}
	b.WriteByte('\n')
	return b.String()
}

// allNull reports whether column c is NULL in every row.
func allNull(rows []dune.Row, c int) bool {
	for _, r := range rows {
		if r[c] != nil {
			return false
		}
	}
	return true
}
