package filter

import (
	"fmt"
	"strings"

	"github.com/dune-mcp/dune-mcp/dune"
)

// Filter is a parsed, type-checked filter expression bound to a column list.
type Filter struct {
	root matcher
	cols []int
}

// Parse parses expr (Dune's `filters` language) and binds it to cols. It
// returns a *SyntaxError for malformed input and an *Error for an unknown or
// ambiguous column, an unsupported NOT, a literal that does not fit its
// column's type, or input beyond MaxLength/MaxDepth. An empty or blank expr
// is a *SyntaxError: callers treat an absent parameter as "no filter".
func Parse(expr string, cols []dune.Column) (*Filter, error) {
	tree, err := parseFilterExpr(expr)
	if err != nil {
		return nil, err
	}
	b := binder{src: expr, cols: cols, used: map[int]bool{}}
	m, err := b.bind(tree)
	if err != nil {
		return nil, err
	}
	f := &Filter{root: m}
	for i := range cols {
		if b.used[i] {
			f.cols = append(f.cols, i)
		}
	}
	return f, nil
}

// Match reports whether row (values in the order of Parse's cols) satisfies
// the filter. Missing trailing values count as NULL.
func (f *Filter) Match(row dune.Row) bool { return f.root.match(row) }

// Columns returns the indexes (into Parse's cols) of the columns the filter
// reads, in ascending order.
func (f *Filter) Columns() []int { return append([]int(nil), f.cols...) }

func cell(row dune.Row, i int) any {
	if i < len(row) {
		return row[i]
	}
	return nil
}

type matcher interface{ match(dune.Row) bool }

type anyOf []matcher

func (m anyOf) match(row dune.Row) bool {
	for _, k := range m {
		if k.match(row) {
			return true
		}
	}
	return false
}

type allOf []matcher

func (m allOf) match(row dune.Row) bool {
	for _, k := range m {
		if !k.match(row) {
			return false
		}
	}
	return true
}

type nullTest struct {
	col  int
	want bool // true: IS NULL
}

func (m *nullTest) match(row dune.Row) bool { return (cell(row, m.col) == nil) == m.want }

// lit is a literal coerced for one column. For typed columns exactly one
// representation is set; for columns of unknown type every representation
// the literal can be read as is set, and the cell picks.
type lit struct {
	text             string
	fold             bool // hex literal: text compares case-insensitively
	hasNum, hasTime  bool
	hasBool, hasText bool
	num              decimal
	ts               instant
	b                bool
}

// compare compares a cell key with the literal; ok is false when they are
// not comparable (NULL, unreadable cell, different classes).
func (l *lit) compare(k *key) (c int, ok bool) {
	switch k.cls {
	case clsNum:
		if l.hasNum {
			return cmpDecimal(&k.num, &l.num), true
		}
	case clsTime:
		if l.hasTime {
			return cmpInstant(k.ts, l.ts), true
		}
	case clsText:
		if l.hasText {
			if l.fold {
				return cmpFold(k.text, l.text), true
			}
			return strings.Compare(k.text, l.text), true
		}
	case clsHex:
		if l.hasText {
			return cmpFold(k.text, l.text), true
		}
	case clsBool:
		if l.hasBool {
			return cmpBool(k.b, l.b), true
		}
	}
	return 0, false
}

type comparison struct {
	col  int
	kind kind
	op   op
	lit  lit
}

// A NULL cell reads as clsNull, which compares with no literal, and has no
// text: the predicates below are false for NULLs without a test of their own.

func (m *comparison) match(row dune.Row) bool {
	k := readKey(m.kind, cell(row, m.col))
	c, ok := m.lit.compare(&k)
	return ok && m.op.test(c)
}

type inList struct {
	col  int
	kind kind
	lits []lit
	// set holds the literal texts when every literal is compared as plain
	// or lower-cased text (varchar, varbinary), for long lists.
	set   map[string]struct{}
	lower bool // set keys are lower-cased
}

func (m *inList) match(row dune.Row) bool {
	v := cell(row, m.col)
	if m.set != nil {
		s, ok := cellText(v)
		if !ok {
			return false
		}
		if m.lower {
			s = lowerASCIIString(s)
		}
		_, hit := m.set[s]
		return hit
	}
	k := readKey(m.kind, v)
	for i := range m.lits {
		if c, ok := m.lits[i].compare(&k); ok && c == 0 {
			return true
		}
	}
	return false
}

type likeTest struct {
	col int
	pat likePattern
}

func (m *likeTest) match(row dune.Row) bool {
	v := cell(row, m.col)
	if _, isBool := v.(bool); isBool {
		return false
	}
	s, ok := cellText(v)
	return ok && m.pat.match(s)
}

// binder resolves columns and coerces literals.
type binder struct {
	src  string
	cols []dune.Column
	used map[int]bool
}

func (b *binder) errAt(t token, k ErrorKind, col, msg, hint string) error {
	return &Error{Param: ParamFilters, Kind: k, Pos: runePos(b.src, t.off), Offset: t.off, Column: col, Msg: msg, Hint: hint}
}

func (b *binder) bind(e expr) (matcher, error) {
	switch x := e.(type) {
	case *chainExpr:
		m, err := b.bindAll(x.kids)
		switch {
		case err != nil:
			return nil, err
		case x.and:
			return allOf(m), nil
		}
		return anyOf(m), nil
	case *predExpr:
		return b.bindPred(x)
	}
	return nil, fmt.Errorf("filters: internal error: unknown node %T", e)
}

// bindAll binds the operands of AND or OR.
func (b *binder) bindAll(kids []expr) ([]matcher, error) {
	m := make([]matcher, 0, len(kids))
	for _, k := range kids {
		km, err := b.bind(k)
		if err != nil {
			return nil, err
		}
		m = append(m, km)
	}
	return m, nil
}

func (b *binder) bindPred(p *predExpr) (matcher, error) {
	idx, err := resolveColumn(p.col, b.cols, b.src, ParamFilters)
	if err != nil {
		return nil, err
	}
	b.used[idx] = true
	col := b.cols[idx]
	k := kindOf(col.Type)
	switch p.op {
	case opIsNull, opIsNotNull:
		return &nullTest{col: idx, want: p.op == opIsNull}, nil
	case opLike:
		switch k {
		case kindNumeric, kindBoolean, kindComplex:
			return nil, b.errAt(p.opTok, KindTypeMismatch, col.Name,
				fmt.Sprintf("LIKE cannot be applied to %s column %s", col.Type, quoteIdent(col.Name)),
				"LIKE works on text columns; compare numbers with =, <, >, IN")
		}
		return &likeTest{col: idx, pat: compileLike(p.lits[0].text)}, nil
	}
	if k == kindComplex {
		return nil, b.errAt(p.opTok, KindTypeMismatch, col.Name,
			fmt.Sprintf("cannot compare %s column %s", col.Type, quoteIdent(col.Name)),
			"only IS NULL and IS NOT NULL apply to array, map and row columns")
	}
	lits := make([]lit, len(p.lits))
	for i, t := range p.lits {
		l, err := b.coerce(t, col, k)
		if err != nil {
			return nil, err
		}
		lits[i] = l
	}
	if p.op != opIn {
		return &comparison{col: idx, kind: k, op: p.op, lit: lits[0]}, nil
	}
	m := &inList{col: idx, kind: k, lits: lits}
	if len(lits) >= 8 && (k == kindString || k == kindBinary) {
		m.lower = k == kindBinary
		set := make(map[string]struct{}, len(lits))
		for _, l := range lits {
			if l.fold && !m.lower {
				set = nil // hex literal against varchar: compare one by one
				break
			}
			s := l.text
			if m.lower {
				s = lowerASCIIString(s)
			}
			set[s] = struct{}{}
		}
		m.set = set
	}
	return m, nil
}

// coerce converts literal t to the representation column col compares with.
func (b *binder) coerce(t token, col dune.Column, k kind) (lit, error) {
	var l lit
	l.text = t.text
	mismatch := func(hint string) (lit, error) {
		return lit{}, b.errAt(t, KindTypeMismatch, col.Name,
			fmt.Sprintf("cannot compare %s column %s with %s", col.Type, quoteIdent(col.Name), describeLiteral(t)), hint)
	}
	name := func() string {
		if isBareIdent(col.Name) {
			return col.Name
		}
		return quoteIdent(col.Name)
	}
	switch k {
	case kindNumeric:
		if t.kind != tNumber {
			if t.kind == tString {
				if _, ok := parseDecimal(strings.TrimSpace(t.text)); ok {
					return mismatch(fmt.Sprintf("write numbers without quotes, e.g. %s > %s", name(), quoted(strings.TrimSpace(t.text))))
				}
			}
			return mismatch(fmt.Sprintf("the column holds numbers, e.g. %s > 1000", name()))
		}
		l.num, l.hasNum = mustDecimal(t.text), true
	case kindTemporal:
		if t.kind != tString {
			return mismatch(fmt.Sprintf("write dates and times as strings, e.g. %s >= '2024-03-05 15:03'", name()))
		}
		ts, ok := parseInstant(strings.TrimSpace(t.text))
		if !ok {
			return lit{}, b.errAt(t, KindBadValue, col.Name,
				fmt.Sprintf("cannot read %s as a %s for column %s", quoteString(t.text), col.Type, quoteIdent(col.Name)),
				"use 'YYYY-MM-DD', 'YYYY-MM-DD HH:MM[:SS[.fff]]' (UTC) or RFC 3339")
		}
		l.ts, l.hasTime = ts, true
	case kindString:
		switch t.kind {
		case tString:
			l.hasText = true
		case tHex:
			l.hasText, l.fold = true, true
		default:
			return mismatch(fmt.Sprintf("quote text values, e.g. %s = '%s'", name(), quoted(t.text)))
		}
	case kindBinary:
		if t.kind != tHex && !(t.kind == tString && isHexLiteral(t.text)) {
			return mismatch(fmt.Sprintf("write binary values such as addresses as 0x… hex, e.g. %s = 0x6a3e…", name()))
		}
		l.hasText = true
	case kindBoolean:
		var ok bool
		switch t.kind {
		case tIdent:
			l.b, ok = t.kw == kwTrue, true
		case tString:
			l.b, ok = parseBool(t.text)
		}
		if !ok {
			return mismatch(fmt.Sprintf("use TRUE or FALSE, e.g. %s = TRUE", name()))
		}
		l.hasBool = true
	case kindUnknown:
		switch t.kind {
		case tNumber:
			l.num, l.hasNum = mustDecimal(t.text), true
			l.hasText = true
		case tHex:
			l.hasText, l.fold = true, true
		case tIdent:
			l.b, l.hasBool = t.kw == kwTrue, true
			l.text = strings.ToLower(t.text)
			l.hasText = true
		case tString:
			l.hasText = true
			s := strings.TrimSpace(t.text)
			if d, ok := parseDecimal(s); ok {
				l.num, l.hasNum = d, true
			}
			if ts, ok := parseInstant(s); ok {
				l.ts, l.hasTime = ts, true
			}
			l.b, l.hasBool = parseBool(s)
		}
	}
	return l, nil
}

// describeLiteral names a literal token in an error message.
func describeLiteral(t token) string {
	if s, ok := literalPhrase(t); ok {
		return "the " + s
	}
	return "the boolean " + strings.ToUpper(t.text)
}

// mustDecimal reads a number token; the lexer guarantees its syntax.
func mustDecimal(s string) decimal {
	d, _ := parseDecimal(s)
	return d
}

func isBareIdent(s string) bool {
	if s == "" || reserved(lookupKeyword(s)) {
		return false
	}
	for i, r := range s {
		if !(isIdentPart(r) && (i > 0 || isIdentStart(r))) {
			return false
		}
	}
	return true
}

// resolveColumn finds the column a tIdent/tQIdent token names.
func resolveColumn(t token, cols []dune.Column, src, param string) (int, error) {
	for i, c := range cols {
		if c.Name == t.text {
			return i, nil
		}
	}
	if t.kind == tIdent {
		found := -1
		for i, c := range cols {
			if strings.EqualFold(c.Name, t.text) {
				if found >= 0 {
					return 0, &Error{Param: param, Kind: KindAmbiguousColumn, Pos: runePos(src, t.off), Offset: t.off, Column: t.text,
						Msg:  fmt.Sprintf("column %q is ambiguous: it matches %s and %s", quoted(t.text), quoteIdent(cols[found].Name), quoteIdent(c.Name)),
						Hint: "double-quote the exact name"}
				}
				found = i
			}
		}
		if found >= 0 {
			return found, nil
		}
	}
	return 0, &Error{Param: param, Kind: KindUnknownColumn, Pos: runePos(src, t.off), Offset: t.off, Column: t.text,
		Msg: "unknown column " + quoteIdent(t.text), Hint: columnHint(t.text, cols)}
}

// columnHint suggests the closest column and lists a few valid ones, bounded
// in length however many columns there are.
func columnHint(name string, cols []dune.Column) string {
	if len(cols) == 0 {
		return "the result has no columns"
	}
	var b strings.Builder
	if best := closest(name, cols); best != "" {
		b.WriteString("did you mean " + quoteIdent(best) + "? ")
	}
	const show = 10
	b.WriteString("columns: ")
	for i, c := range cols {
		if i == show {
			fmt.Fprintf(&b, ", … (%d in total)", len(cols))
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		if isBareIdent(c.Name) {
			b.WriteString(quoted(c.Name))
		} else {
			b.WriteString(quoteIdent(c.Name))
		}
	}
	return b.String()
}

// closest returns the column name nearest to name by edit distance, if it
// is close enough to be a plausible typo.
func closest(name string, cols []dune.Column) string {
	const maxLen = 64
	if len(name) > maxLen {
		return ""
	}
	lname := strings.ToLower(name)
	best, bestD := "", 1<<30
	for _, c := range cols {
		if len(c.Name) > maxLen {
			continue
		}
		d := editDistance(lname, strings.ToLower(c.Name))
		if d < bestD {
			best, bestD = c.Name, d
		}
	}
	if bestD <= max(1, len([]rune(name))/3) {
		return best
	}
	return ""
}

func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
