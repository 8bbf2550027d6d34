package emulator_test

// Seeded generator of filters and sort_by expressions for the SQLite oracle.
// Each expression is built as a tree and rendered twice: in Dune's syntax
// (random keyword case, spacing, quoted or case-folded column names,
// redundant parentheses, the literal forms the docs accept) and as fully
// parenthesised SQL over the oracle's representations.

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"strings"
	"time"
	"unicode/utf8"
)

// ocase is one generated request.
type ocase struct {
	tb             *otable
	filters        string // Dune syntax, "" for none
	sortBy         string
	where, orderBy string // SQL
	sortCols       []string
	limit, offset  int // HTTP paging (0, 0: one page with everything)
}

func (c *ocase) String() string {
	return fmt.Sprintf("%s: filters=%q sort_by=%q limit=%d offset=%d\n  SQL: WHERE %s ORDER BY %s", c.tb.name, c.filters, c.sortBy, c.limit, c.offset, c.where, c.orderBy)
}

// gen generates cases for one table and counts what it covered.
type gen struct {
	r   *rand.Rand
	tb  *otable
	cov map[string]int
}

// node is a generated filter expression.
type node struct {
	and  bool
	kids []*node
	dune string // predicates only
	sql  string
}

func (g *gen) chance(p float64) bool { return g.r.Float64() < p }

func (g *gen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }

// kw renders a keyword in a random case.
func (g *gen) kw(w string) string {
	switch g.r.IntN(4) {
	case 0:
		return strings.ToLower(w)
	case 1:
		b := []byte(strings.ToLower(w))
		for i := range b {
			if g.chance(0.5) {
				b[i] = strings.ToUpper(string(b[i]))[0]
			}
		}
		return string(b)
	}
	return w
}

// sp is the whitespace around an operator: usually one space.
func (g *gen) sp() string {
	switch g.r.IntN(10) {
	case 0:
		return ""
	case 1:
		return "  "
	case 2:
		return "\t"
	case 3:
		return "\n "
	}
	return " "
}

// colRef names a column: as is, case-changed (bare names resolve
// case-insensitively) or double-quoted.
func (g *gen) colRef(c *ocol) string {
	x := g.r.IntN(6)
	if !bareName(c.name) {
		x = 0
	}
	switch {
	case x == 0:
		g.cov["column:quoted"]++
		return `"` + strings.ReplaceAll(c.name, `"`, `""`) + `"`
	case x == 1 && g.tb.foldsUniquely(c.name):
		g.cov["column:case-folded"]++
		return strings.ToUpper(c.name)
	case x == 1:
		g.cov["column:exact-beside-case-variant"]++
	}
	return c.name
}

// bareName reports whether a column can be written without quotes: an
// identifier that is not one of the filter language's reserved words.
func bareName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	switch strings.ToUpper(s) {
	case "", "AND", "OR", "IN", "LIKE", "IS", "NULL", "NOT":
		return false
	}
	return true
}

// foldsUniquely reports whether name is the only column equal to it
// ignoring case (else a case-changed bare name is ambiguous).
func (tb *otable) foldsUniquely(name string) bool {
	n := 0
	for _, c := range tb.ds.Columns {
		if strings.EqualFold(c.Name, name) {
			n++
		}
	}
	return n == 1
}

func sqlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// duneQuote is a Dune string literal (” escapes a quote).
func duneQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// expr generates a filter tree of at most depth levels of AND/OR.
func (g *gen) expr(depth int) *node {
	if depth == 0 || g.chance(0.4) {
		return g.pred()
	}
	n := &node{and: g.chance(0.5)}
	for range 2 + g.r.IntN(2) {
		n.kids = append(n.kids, g.expr(depth-1))
	}
	return n
}

// renderDune renders n; parent is "and", "or" or "" (top level).
func (g *gen) renderDune(n *node, parent string) string {
	if n.kids == nil {
		if g.chance(0.08) {
			g.cov["parens:redundant"]++
			return "(" + n.dune + ")"
		}
		return n.dune
	}
	op, self := "OR", "or"
	if n.and {
		op, self = "AND", "and"
	}
	g.cov[self]++
	parts := make([]string, len(n.kids))
	for i, k := range n.kids {
		parts[i] = g.renderDune(k, self)
	}
	s := strings.Join(parts, " "+g.kw(op)+" ")
	switch {
	case parent == "and" && !n.and:
		g.cov["parens:needed"]++
		return "(" + s + ")"
	case parent == "or" && n.and:
		if g.chance(0.3) {
			g.cov["parens:redundant"]++
			return "(" + s + ")"
		}
		g.cov["precedence:AND-in-OR-without-parens"]++
		return s
	case parent != "" && g.chance(0.5):
		return "(" + s + ")"
	}
	return s
}

func renderSQL(n *node) string {
	if n.kids == nil {
		return "(" + n.sql + ")"
	}
	op := " OR "
	if n.and {
		op = " AND "
	}
	parts := make([]string, len(n.kids))
	for i, k := range n.kids {
		parts[i] = renderSQL(k)
	}
	return "(" + strings.Join(parts, op) + ")"
}

// value returns a random non-NULL cell of c (nil if it has none).
func (g *gen) value(c *ocol) any {
	if len(c.vals) == 0 {
		return nil
	}
	return c.vals[g.r.IntN(len(c.vals))]
}

func (g *gen) valueText(c *ocol) string {
	v := g.value(c)
	if v == nil {
		return ""
	}
	return fmt.Sprint(v)
}

// pred generates one predicate on a random column.
func (g *gen) pred() *node {
	c := g.tb.cols[g.r.IntN(len(g.tb.cols))]
	g.cov["type:"+c.typ]++
	ref := g.colRef(c)
	x := g.r.IntN(100)
	switch {
	case x < 8:
		g.cov["IS NULL"]++
		return &node{dune: ref + " " + g.kw("IS") + " " + g.kw("NULL"), sql: c.sql + " IS NULL"}
	case x < 14:
		g.cov["IS NOT NULL"]++
		return &node{dune: ref + " " + g.kw("IS") + " " + g.kw("NOT") + " " + g.kw("NULL"), sql: c.sql + " IS NOT NULL"}
	case x < 32 && (c.kind == oText || c.kind == oHex) && len(c.vals) > 0:
		return g.like(c, ref)
	case x < 48:
		return g.in(c, ref)
	}
	op := g.pick("=", "!=", "<>", "<", "<=", ">", ">=")
	if c.kind != oBool && x < 60 {
		op = g.pick("=", "!=", "<>") // equality with data values selects single rows
	}
	g.cov[op]++
	if c.nulls > 0 {
		g.cov["compare:column-with-NULLs"]++
	}
	d, s, fold := g.literal(c)
	sqlOp := op
	if op == "!=" {
		sqlOp = "<>"
	}
	cond := c.sql + " " + sqlOp + " " + s
	if fold {
		cond += " COLLATE NOCASE"
	}
	return &node{dune: ref + g.sp() + op + g.sp() + d, sql: cond}
}

func (g *gen) in(c *ocol, ref string) *node {
	g.cov["IN"]++
	n := 1 + g.r.IntN(4)
	if g.chance(0.3) {
		n = 8 + g.r.IntN(5) // long lists
		g.cov["IN:8+"]++
	}
	var ds, ss []string
	anyFold := false
	for range n {
		d, s, fold := g.literal(c)
		if fold {
			s += " COLLATE NOCASE"
			anyFold = true
		}
		ds = append(ds, d)
		ss = append(ss, s)
	}
	sep := g.pick(",", ", ", " , ")
	dune := ref + " " + g.kw("IN") + g.pick(" ", "") + "(" + strings.Join(ds, sep) + ")"
	if anyFold {
		eqs := make([]string, len(ss))
		for i, s := range ss {
			eqs[i] = c.sql + " = " + s
		}
		return &node{dune: dune, sql: strings.Join(eqs, " OR ")}
	}
	return &node{dune: dune, sql: c.sql + " IN (" + strings.Join(ss, ", ") + ")"}
}

// like generates a LIKE pattern from a cell and its GLOB translation.
func (g *gen) like(c *ocol, ref string) *node {
	g.cov["LIKE"]++
	s := []rune(g.valueText(c))
	if len(s) == 0 {
		s = []rune("a")
	}
	if len(s) > 40 { // long text: a window of it keeps the filter short
		i := g.r.IntN(len(s) - 20)
		s = s[i : i+20]
	}
	sub := func() []rune {
		if len(s) == 0 {
			return s
		}
		i := g.r.IntN(len(s))
		j := i + 1 + g.r.IntN(min(6, len(s)-i))
		return s[i:j]
	}
	var p string
	switch g.r.IntN(9) {
	case 0:
		p = string(s[:1+g.r.IntN(max(1, min(len(s), 6)))]) + "%"
	case 1:
		p = "%" + string(s[g.r.IntN(len(s)):])
	case 2:
		p = "%" + string(sub()) + "%"
	case 3: // underscores, no %
		b := append([]rune(nil), s...)
		for range 1 + g.r.IntN(3) {
			b[g.r.IntN(len(b))] = '_'
		}
		p = string(b)
	case 4:
		p = "%" + string(sub()) + "%" + string(sub()) + "%"
	case 5: // wrong case: LIKE is case-sensitive
		p = swapCase(string(sub())) + "%"
		g.cov["LIKE:case"]++
	case 6:
		p = strings.Repeat("_", max(1, len(s)+g.r.IntN(3)-1))
	case 7:
		p = g.pick("%", "_%", "%_", "%é%", "%caf_ %", "%''%", "%\"%", "%a_c%")
	default:
		b := append([]rune(nil), s...)
		b[g.r.IntN(len(b))] = '_'
		p = string(b[:max(1, len(b)/2)]) + "%"
	}
	if strings.ContainsRune(p, '_') {
		g.cov["LIKE:_"]++
	}
	if strings.ContainsRune(p, '%') {
		g.cov["LIKE:%"]++
	}
	p = strings.ReplaceAll(p, "''", "'")
	return &node{dune: ref + " " + g.kw("LIKE") + " " + duneQuote(p), sql: c.sql + " GLOB " + sqlQuote(likeToGlob(p))}
}

// likeToGlob translates a LIKE pattern (no escape character) to GLOB.
func likeToGlob(p string) string {
	var b strings.Builder
	for _, r := range p {
		switch r {
		case '%':
			b.WriteByte('*')
		case '_':
			b.WriteByte('?')
		case '*', '?', '[':
			b.WriteString("[" + string(r) + "]")
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func swapCase(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z':
			r -= 'a' - 'A'
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		}
		b.WriteRune(r)
	}
	return b.String()
}

// literal returns a literal for column c in Dune syntax, its SQL operand and
// whether the comparison folds ASCII case (a 0x literal against varchar).
func (g *gen) literal(c *ocol) (dune, sqlOperand string, fold bool) {
	switch c.kind {
	case oNum:
		d := g.numLiteral(c)
		key, ok := numKey(d)
		if !ok {
			panic("oracle cannot read its own number " + d)
		}
		return d, sqlQuote(key), false
	case oTime:
		d := g.timeLiteral(c)
		key, ok := timeKey(d)
		if !ok {
			panic("oracle cannot read its own timestamp " + d)
		}
		return duneQuote(d), sqlQuote(key), false
	case oBool:
		b := g.chance(0.5)
		g.cov["literal:boolean"]++
		w := map[bool]string{true: "TRUE", false: "FALSE"}[b]
		v := map[bool]string{true: "1", false: "0"}[b]
		if g.chance(0.3) {
			g.cov["literal:quoted-boolean"]++
			return duneQuote(g.kw(strings.ToLower(w))), v, false
		}
		return g.kw(w), v, false
	case oHex:
		h := g.valueText(c)
		if h == "" || g.chance(0.15) {
			h = fmt.Sprintf("0x%x", g.r.Uint64())
		}
		if g.chance(0.1) {
			h = h[:2+2*g.r.IntN(len(h)/2)] // a prefix: orders, never equal
			if len(h) == 2 {
				h += "0"
			}
		}
		if g.chance(0.3) {
			g.cov["literal:hex-upper"]++
			h = "0x" + strings.ToUpper(h[2:])
		}
		if g.chance(0.4) {
			g.cov["literal:hex-quoted"]++
			return duneQuote(h), sqlQuote(h), false
		}
		g.cov["literal:hex"]++
		return h, sqlQuote(h), false
	}
	// varchar
	v := g.valueText(c)
	if len(v) > 64 { // long text: a prefix keeps the filter under MaxLength
		v = strings.ToValidUTF8(v[:64], "")
	}
	switch x := g.r.IntN(20); {
	case x == 0:
		g.cov["literal:hex-vs-varchar"]++
		h := g.pick("0xABC", "0x0", "0xdeadBEEF")
		return h, sqlQuote(h), true
	case x == 1:
		v = strings.ToUpper(v)
	case x == 2:
		v = g.pick("it's", "O'Brien''s", "", "zzz", "Z", "é", "café")
		g.cov["literal:quote-escape"]++
	case x < 5 && len(v) > 1:
		v = v[:1+g.r.IntN(len(v)-1)]
		for !utf8.ValidString(v) {
			v = v[:len(v)-1]
		}
	}
	return duneQuote(v), sqlQuote(v), false
}

// numLiteral is a number literal: a cell as written or rewritten exactly
// (exponent form, trailing zeros), a cell plus or minus one unit of its
// last digit, or a round constant.
func (g *gen) numLiteral(c *ocol) string {
	v := g.valueText(c)
	if _, ok := numKey(v); !ok || strings.ContainsAny(v, "eE") && g.chance(0.5) {
		v = g.pick("0", "1", "100")
	}
	switch g.r.IntN(8) {
	case 0, 1, 2:
		g.cov["literal:number-as-written"]++
		return v
	case 3:
		if !strings.ContainsAny(v, "eE") {
			g.cov["literal:number-exponent"]++
			return toExponent(v)
		}
	case 4:
		if !strings.ContainsAny(v, "eE") {
			if !strings.Contains(v, ".") {
				v += "."
			}
			g.cov["literal:number-trailing-zeros"]++
			return v + "000"
		}
	case 5, 6:
		if r, ok := new(big.Rat).SetString(v); ok && !strings.ContainsAny(v, "eE") {
			scale := 0
			if i := strings.IndexByte(v, '.'); i >= 0 {
				scale = len(v) - i - 1
			}
			unit := new(big.Rat).SetFrac(big.NewInt(1), new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
			if g.chance(0.5) {
				unit.Neg(unit)
			}
			g.cov["literal:number-plus-minus-one-unit"]++
			return r.Add(r, unit).FloatString(scale)
		}
	}
	g.cov["literal:number-constant"]++
	return g.pick("0", "-1", "+42", "1000", "1e3", "2.5e-3", ".5", "5.", "-123456.789",
		"18446744073709551616", "1e20", "1.5E+25", "100000000000000000000000000000", "-0", "-.5", "+.25e1")
}

// toExponent rewrites a plain decimal exactly in exponent form:
// "150.25" -> "15025e-2" or "1.5025E2".
func toExponent(v string) string {
	sign := ""
	if v[0] == '-' || v[0] == '+' {
		sign, v = v[:1], v[1:]
	}
	intPart, frac, _ := strings.Cut(v, ".")
	digits := strings.TrimLeft(intPart+frac, "0") // value = digits x 10^-len(frac)
	if digits == "" {
		return sign + "0e5"
	}
	exp := -len(frac)
	if len(digits) > 1 && len(digits)%2 == 0 {
		return fmt.Sprintf("%s%s.%sE%d", sign, digits[:1], digits[1:], exp+len(digits)-1)
	}
	return fmt.Sprintf("%s%se%d", sign, digits, exp)
}

// timeFormats are the literal forms the docs list for timestamp and date
// columns: date, date and minutes, seconds, Dune's own cell format, RFC 3339
// (UTC and offsets), a space before an offset, and a T without a zone.
var timeFormats = []struct {
	name   string
	layout string
	zone   *time.Location
}{
	{"date", "2006-01-02", time.UTC},
	{"minutes", "2006-01-02 15:04", time.UTC},
	{"seconds", "2006-01-02 15:04:05", time.UTC},
	{"dune-cell", "2006-01-02 15:04:05.000 UTC", time.UTC},
	{"rfc3339-Z", time.RFC3339, time.UTC},
	{"rfc3339-offset", time.RFC3339Nano, time.FixedZone("", 5*3600+30*60)},
	{"rfc3339-negative-offset", "2006-01-02T15:04:05.000-07:00", time.FixedZone("", -7*3600)},
	{"space-offset", "2006-01-02 15:04:05-07:00", time.FixedZone("", 2*3600)},
	{"T-no-zone", "2006-01-02T15:04:05", time.UTC},
}

// timeLiteral renders a cell's instant, possibly shifted, in one of the
// accepted forms (which may truncate it).
func (g *gen) timeLiteral(c *ocol) string {
	t := time.Date(2024, 3, 5, 15, 3, 1, 250e6, time.UTC)
	if v := g.valueText(c); v != "" {
		var ok bool
		if t, ok = parseTime(v); !ok {
			panic("oracle cannot read cell " + v)
		}
	}
	if t.Year() > 1 && t.Year() < 9999 { // shifts stay within years 0001-9999
		switch g.r.IntN(6) {
		case 0:
			t = t.Add(time.Second)
		case 1:
			t = t.Add(-time.Duration(g.r.IntN(72)) * time.Hour)
		case 2:
			t = t.Add(time.Duration(g.r.IntN(1000)) * time.Millisecond)
		}
	}
	f := timeFormats[g.r.IntN(len(timeFormats))]
	g.cov["timestamp:"+f.name]++
	if t.Year() <= 1 || t.Year() >= 9999 { // an offset could leave years 0001-9999
		return t.Format(f.layout)
	}
	return t.In(f.zone).Format(f.layout)
}

// sort generates a sort_by of one to three keys and its SQL ORDER BY.
func (g *gen) sort() (dune, sqlOrder string, cols []string) {
	n := 1 + g.r.IntN(3)
	g.cov[fmt.Sprintf("sort:%d-keys", n)]++
	var ds, ss []string
	for range n {
		c := g.tb.cols[g.r.IntN(len(g.tb.cols))]
		g.cov["sort-type:"+c.typ]++
		cols = append(cols, c.name)
		d := g.colRef(c)
		dir := "ASC"
		switch g.r.IntN(3) {
		case 0:
			g.cov["sort:default"]++
		case 1:
			g.cov["sort:asc"]++
			d += " " + g.kw("ASC")
		default:
			g.cov["sort:desc"]++
			d += " " + g.kw("DESC")
			dir = "DESC"
		}
		if c.nulls > 0 {
			g.cov["sort:column-with-NULLs-"+dir]++
		}
		if len(c.vals)*10 < g.tb.ds.Len() {
			g.cov["sort:ties"]++ // few distinct values: the stable order shows
		}
		ds = append(ds, d)
		ss = append(ss, c.sql+" "+dir+" NULLS LAST")
	}
	return strings.Join(ds, g.pick(", ", ",", " , ")), strings.Join(ss, ", "), cols
}

// cases generates n cases for the table.
func (g *gen) cases(n int) []*ocase {
	out := make([]*ocase, 0, n)
	for range n {
		c := &ocase{tb: g.tb}
		hasFilter, hasSort := g.chance(0.85), g.chance(0.6)
		if !hasFilter && !hasSort {
			hasSort = true
		}
		if hasFilter {
			depth := 2
			if g.chance(0.25) {
				depth = 3
			}
			e := g.expr(depth)
			c.filters, c.where = g.renderDune(e, ""), renderSQL(e)
		}
		if hasSort {
			c.sortBy, c.orderBy, c.sortCols = g.sort()
		}
		if g.chance(0.2) {
			c.limit, c.offset = 1+g.r.IntN(40), g.r.IntN(60)
			g.cov["paging"]++
		}
		out = append(out, c)
	}
	return out
}
