package summary

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dune-mcp/dune-mcp/dune"
)

const (
	// noteLimit bounds notes, filters and sort expressions echoed in the header.
	noteLimit = 300
	// topTextLimit bounds a top value's length in the text.
	topTextLimit = 70
	// topTextShown is how many top values a text stats line shows at most.
	topTextShown = 5
	// statLineSoftLimit stops adding top values to a text stats line past it.
	statLineSoftLimit = 300
)

// textLayout says how much of each cuttable part the text shows.
type textLayout struct {
	schemaN int  // columns listed in the schema line
	statsN  int  // columns with a stats line
	hints   bool // hints line allowed
	compact bool // terse essentials for tiny budgets
	// brief: the rows are in Structured (ViewsStructured): no schema,
	// statistics or table, a line saying where the rows are instead.
	brief bool
	// typesOnly: rows are shown, so the table's header names the columns
	// and the schema line gives only their types, in the table's order.
	typesOnly bool
	// table: only the schema, statistics and table, for Structured.Table
	// (ViewsStructured): Structured's own fields give the provenance,
	// counts, what was cut and the cursor.
	table bool
}

// textView is the text rendering of a page: its pieces, rendered once, and
// their token counts. Rows are rendered and counted when first needed, and
// stay counted when the page is extended.
type textView struct {
	f *frame

	head          string
	headCompact   string    // terse provenance + the same filters and notes
	ageAt         [2]int    // offset of ageSlot in head, headCompact; -1: none
	age           string    // the real age phrase that replaces ageSlot
	ageFrom       time.Time // the time age is of (zero: none)
	schemaItems   []string
	schemaItemTok []int
	schemaAllTok  [2]int // listing every column instead of none, indexed by compact
	statLines     []string
	statLineTok   []int
	tableHeader   string
	headerTok     int       // tableHeader's tokens; -1 until counted
	nullCell      string    // a NULL in the table
	typesLine     [2]string // the types of the table's columns, indexed by compact
	rowsFixedTok  [2]int    // label + header line, indexed by compact
	rowLines      []string
	rowCut        []int   // shortened cells per row line
	rowKinds      []uint8 // which of hasNull, hasEmpty a row line holds
	rowTok        []int   // -1 until counted
	hintLine      string
	// plainHeaderTok, plainRowTok: plain CSV of the page (every column,
	// values as Dune wrote them, NULL empty), the density floor statistics
	// must not push a page below (see csvCost); -1 until counted.
	plainHeaderTok int
	plainRowTok    []int
}

// newTextView prepares the pieces that depend on the columns and the head
// (provenance, filters, notes); statistics come with prepareStats, the
// table's fixed cost with countRowsFixed, rows as they are measured (row).
func newTextView(f *frame) *textView {
	t := &textView{f: f, plainHeaderTok: -1}
	t.prepareHead()

	// (2) schema items
	t.schemaItems = make([]string, len(f.cols))
	t.schemaItemTok = make([]int, len(f.cols))
	for i, c := range f.cols {
		t.schemaItems[i] = quoteName(c.Name) + " " + c.Type
		t.schemaItemTok[i] = CountTokens(t.schemaItems[i] + ", ")
	}
	for i, compact := range []bool{false, true} {
		t.schemaAllTok[i] = CountTokens(t.schemaLine(len(f.cols), compact)) - CountTokens(t.schemaLine(0, compact))
	}

	t.prepareTable()

	// (6) hints
	hints := "hints: fit more rows per call with columns=[…] (fewer columns), filters or sort_by (get the rows you need first), a larger max_tokens (≤ 25000)"
	if f.sample || f.p.Tool == "sample_result" {
		hints += "; aggregate in SQL for exact totals.\n"
	} else {
		hints += ", or profile the whole result with sample_result.\n"
	}
	t.hintLine = hints
	return t
}

// prepareTable renders (5)'s header line, without the constant columns
// (see findConstants).
func (t *textView) prepareTable() {
	t.tableHeader, t.headerTok = "", -1
	if len(t.f.cols) == 0 {
		return
	}
	var h strings.Builder
	for i, c := range t.f.cols {
		if t.f.isConst(i) {
			continue
		}
		if h.Len() > 0 {
			h.WriteByte(',')
		}
		writeCSVField(&h, c.Name)
	}
	h.WriteByte('\n')
	t.tableHeader = h.String()
	// NULL is an empty field ("" is the empty string), as in plain CSV,
	// which costs 3 tokens less than NullMark; in a table of one column an
	// empty field would be an empty line, which readers skip: NullMark.
	t.nullCell = ""
	if len(t.f.cols)-t.f.constCount() == 1 {
		t.nullCell = NullMark
	}
	var types []string
	for i, c := range t.f.cols {
		if !t.f.isConst(i) {
			types = append(types, c.Type)
		}
	}
	ty := typeList(types)
	t.typesLine[0] = fmt.Sprintf("schema (%d columns, named in the CSV header; types in its order): %s\n", len(t.f.cols), ty)
	t.typesLine[1] = "types: " + ty + "\n"
}

// prepareStats renders (4), one statistics line per column.
func (t *textView) prepareStats() {
	t.statLines = make([]string, len(t.f.stats))
	t.statLineTok = make([]int, len(t.f.stats))
	for i := range t.f.stats {
		t.statLines[i] = statLine(&t.f.stats[i])
		t.statLineTok[i] = CountTokens(t.statLines[i])
	}
}

// countRowsFixed counts the table's fixed cost (label and header line) for
// the page's rows. The row memos grow as rows are rendered (row), not to
// the page's size: a page of 1,000 rows shows a few dozen.
func (t *textView) countRowsFixed() {
	n := len(t.f.p.Rows)
	for i, compact := range []bool{false, true} {
		t.rowsFixedTok[i] = CountTokens(t.tableLabel(n, n, compact, hasNull|hasEmpty)) + t.tableHeaderTok()
	}
}

// csvCost is the token count of plain CSV of the first n rows: a header
// line naming every column, then one line per row, values as Dune wrote
// them (NULL empty).
func (t *textView) csvCost(n int) int {
	if t.plainHeaderTok < 0 {
		var b strings.Builder
		for i, c := range t.f.cols {
			if i > 0 {
				b.WriteByte(',')
			}
			writeCSVField(&b, c.Name)
		}
		b.WriteByte('\n')
		t.plainHeaderTok = CountTokens(b.String())
	}
	t.plainRowTok = extend(t.plainRowTok, min(n, len(t.f.p.Rows)), -1)
	sum := t.plainHeaderTok
	for i := range min(n, len(t.f.p.Rows)) {
		if t.plainRowTok[i] < 0 {
			t.plainRowTok[i] = CountTokens(plainCSVLine(t.f.p.Rows[i]))
		}
		sum += t.plainRowTok[i]
	}
	return sum
}

// plainCSVLine is row as a line of plain CSV: values as Dune wrote them,
// NULL empty.
func plainCSVLine(row dune.Row) string {
	var b strings.Builder
	for c, v := range row {
		if c > 0 {
			b.WriteByte(',')
		}
		if v != nil {
			writeCSVField(&b, valueText(v))
		}
	}
	b.WriteByte('\n')
	return b.String()
}

// forgetRows drops the rendered rows (the cell bound changed).
func (t *textView) forgetRows() {
	t.rowLines, t.rowCut, t.rowKinds, t.rowTok = nil, nil, nil, nil
	t.countRowsFixed()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// statLine renders one column's statistics on one line.
func statLine(st *colStats) string {
	var b strings.Builder
	b.WriteString(quoteName(st.name))
	b.WriteString(": ")
	if st.count == 0 {
		if st.nulls > 0 {
			fmt.Fprintf(&b, "all %d null\n", st.nulls)
		} else {
			b.WriteString("no values\n")
		}
		return b.String()
	}
	fmt.Fprintf(&b, "nulls %d", st.nulls)
	if st.hasRange {
		b.WriteString(" · min ")
		b.WriteString(st.min)
		b.WriteString(" · max ")
		b.WriteString(st.max)
	}
	if st.hasMean {
		b.WriteString(" · mean ")
		b.WriteString(fmtFloat(st.mean))
	}
	if st.kind == kindText && st.maxLen > CellLimit {
		fmt.Fprintf(&b, " · longest %d chars", st.maxLen)
	}
	b.WriteString(" · distinct ")
	if !st.distinctExact {
		b.WriteString("≥")
	}
	b.WriteString(strconv.Itoa(st.distinct))
	if st.invalid > 0 {
		what := "unreadable"
		switch st.kind {
		case kindNumber:
			what = "non-numeric"
		case kindTime:
			what = "unparsed timestamps"
		}
		fmt.Fprintf(&b, " · %d %s", st.invalid, what)
	}
	if len(st.top) > 0 {
		b.WriteString(" · top ")
		for i, tv := range st.top {
			if i == topTextShown || (i > 0 && b.Len() > statLineSoftLimit) {
				b.WriteString(", …")
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			v, _ := shorten(tv.Value, topTextLimit, topTextLimit-10)
			if v == "" || v == NullMark || strings.ContainsAny(v, ",×\"\n\r") || v[0] == ' ' || v[len(v)-1] == ' ' {
				v = strconv.Quote(v)
			}
			b.WriteString(v)
			b.WriteString("×")
			b.WriteString(strconv.Itoa(tv.Count))
		}
	}
	b.WriteByte('\n')
	return b.String()
}

// statsLineLeftOut reports whether a terse table (l) leaves out the line
// saying that no statistics are shown: Structured's omitted says "stats"
// instead (tableOf).
func (t *textView) statsLineLeftOut(l textLayout) bool {
	f := t.f
	return l.table && l.compact && f.fetched > 0 && len(f.cols) > 0 &&
		(!f.statsKnown || l.statsN == 0 && len(f.stats) > 0)
}

// statCost is the cost of column i's statistics line.
func (t *textView) statCost(i int) int { return t.statLineTok[i] }

// row renders (once) row i as a CSV line.
func (t *textView) row(i int) string {
	if i >= len(t.rowTok) {
		t.rowLines = extend(t.rowLines, i+1, "")
		t.rowCut = extend(t.rowCut, i+1, 0)
		t.rowKinds = extend(t.rowKinds, i+1, 0)
		t.rowTok = extend(t.rowTok, i+1, -1)
	}
	if t.rowTok[i] >= 0 {
		return t.rowLines[i]
	}
	var b strings.Builder
	cut := 0
	var kinds uint8
	first := true
	for c, v := range t.f.p.Rows[i] {
		if t.f.isConst(c) {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		if v == nil {
			b.WriteString(t.nullCell) // plain CSV's empty field, as cheap
			kinds |= hasNull
			continue
		}
		txt := valueText(v)
		if txt == "" {
			kinds |= hasEmpty
		}
		if t.f.hasAffix(c) {
			txt = t.f.affixes[c].cell(txt)
		}
		txt, short := shorten(txt, t.f.cellLimit, t.f.cellKeep)
		if short {
			cut++
		}
		writeCSVField(&b, txt)
	}
	b.WriteByte('\n')
	t.rowLines[i] = b.String()
	t.rowCut[i] = cut
	t.rowKinds[i] = kinds
	t.rowTok[i] = CountTokens(t.rowLines[i])
	return t.rowLines[i]
}

// rowCost is the cost of row i's CSV line.
func (t *textView) rowCost(i int) int {
	t.row(i)
	return t.rowTok[i]
}

// anyLongCell reports whether one of the first n rows has a cell longer
// than the cell limit. It reads the values of rows whose lines are not
// made yet, not their lines: making and counting lines is costly. planStruct
// asks it about the rows the text shows, which the text's plan measured
// (so Draft.RowsRead covers them).
func (t *textView) anyLongCell(n int) bool {
	for i := range min(n, len(t.f.p.Rows)) {
		if i < len(t.rowTok) && t.rowTok[i] >= 0 { // the line is made: it knows
			if t.rowCut[i] > 0 {
				return true
			}
			continue
		}
		for c, v := range t.f.p.Rows[i] {
			if v != nil && !t.f.isConst(c) && longCell(v, t.f.cellLimit) {
				return true
			}
		}
	}
	return false
}

// longCell reports whether v's text is longer than limit characters, as
// shorten decides, without formatting numbers, which cannot be.
func longCell(v any, limit int) bool {
	switch x := v.(type) {
	case string:
		return len(x) > limit && utf8.RuneCountInString(x) > limit
	case bool, float64, float32, int, int64, int32, uint64:
		if limit >= 24 { // no such value takes more than 24 characters
			return false
		}
	}
	s := valueText(v)
	return len(s) > limit && utf8.RuneCountInString(s) > limit
}

// Kinds of cells a row line holds whose writing the table's label
// explains (rowKinds).
const (
	hasNull  uint8 = 1 << iota // a NULL: an empty field (NullMark in a table of one column)
	hasEmpty                   // an empty string: ""
)

// legend says how the table writes what kinds of cells hold: NULL, the
// empty string; "" when they hold neither.
func (t *textView) legend(kinds uint8) string {
	null := "empty = NULL"
	if t.nullCell != "" {
		null = t.nullCell + " = NULL"
	}
	switch kinds & (hasNull | hasEmpty) {
	case hasNull:
		return null
	case hasEmpty:
		return `"" = empty string`
	case hasNull | hasEmpty:
		return null + `, "" = empty string`
	}
	return ""
}

// rowsKinds is the kinds of cells the first n row lines hold.
func (t *textView) rowsKinds(n int) uint8 {
	var k uint8
	for _, r := range t.rowKinds[:n] {
		k |= r
	}
	return k
}

// tableLabel is the line above the table of shown rows, cut of whose
// cells are shortened; kinds are the kinds of cells the rows hold, whose
// writing the label explains.
func (t *textView) tableLabel(shown, cut int, compact bool, kinds uint8) string {
	var b strings.Builder
	legend := t.legend(kinds)
	if compact && kinds&(hasNull|hasEmpty) != hasNull|hasEmpty && t.nullCell == "" {
		// A terse table explains the empty field only when it could be
		// either: an empty field alone reads as missing (NULL), and ""
		// alone as the empty string, as in plain CSV.
		legend = ""
	}
	if compact {
		b.WriteString("CSV")
		sep := " ("
		if legend != "" {
			b.WriteString(sep)
			b.WriteString(legend)
			sep = "; "
		}
		if cut > 0 {
			b.WriteString(sep)
			fmt.Fprintf(&b, "%d cells over %d chars shortened, marked …[+N of M chars]", cut, t.f.cellLimit)
		}
		if legend != "" || cut > 0 {
			b.WriteByte(')')
		}
		b.WriteString(":\n")
		if k := t.f.constText(true); k != "" {
			b.WriteString("same in every row: ")
			b.WriteString(k)
			b.WriteByte('\n')
		}
		b.WriteString(t.f.affixText(true))
		return b.String()
	}
	b.WriteString("rows")
	if !t.f.sample {
		fmt.Fprintf(&b, " %s–%s", commas(t.f.p.Offset+1), commas(t.f.p.Offset+shown))
	}
	b.WriteString(" as CSV (one header line")
	if legend != "" {
		b.WriteString("; ")
		b.WriteString(legend)
	}
	if cut > 0 {
		fmt.Fprintf(&b, "; %d cells over %d chars shortened, marked …[+N of M chars] with their full length", cut, t.f.cellLimit)
		if t.f.cellLimit == CellLimit {
			fmt.Fprintf(&b, "; filters down to ≤ %d rows show longer cells", fewRows)
		}
	}
	b.WriteString("):\n")
	if k := t.f.constText(false); k != "" {
		b.WriteString("same in every row (left out of the table): ")
		b.WriteString(k)
		b.WriteByte('\n')
	}
	b.WriteString(t.f.affixText(false))
	return b.String()
}

// schemaLine renders (2) with the first k columns listed, in result order.
func (t *textView) schemaLine(k int, compact bool) string {
	C := len(t.f.cols)
	var b strings.Builder
	switch {
	case C == 0 && t.f.waiting():
		// nothing known yet: the counts line says why
	case C == 0:
		b.WriteString("schema: no columns\n")
	case k == 0 && compact:
		fmt.Fprintf(&b, "schema: %d columns (not listed: token budget)\n", C)
	case k == 0:
		fmt.Fprintf(&b, "schema: %d columns, not listed (token budget; narrow with columns=[…])\n", C)
	default:
		if k < C || !compact {
			fmt.Fprintf(&b, "schema (%d columns): ", C)
		} else {
			b.WriteString("schema: ")
		}
		for i := range k {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(t.schemaItems[i])
		}
		switch {
		case k < C && compact:
			fmt.Fprintf(&b, " … and %d more columns", C-k)
		case k < C:
			fmt.Fprintf(&b, " … and %d more columns not listed (token budget)", C-k)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// render renders the text with layout l and the first n rows.
func (t *textView) render(l textLayout, n int) string {
	body, tail := t.renderParts(l, n)
	return strings.TrimRight(body+tail, "\n")
}

// renderParts renders the text in two parts: everything up to the rows,
// and the tail saying what was cut and how to continue (never cut).
func (t *textView) renderParts(l textLayout, n int) (body, tail string) {
	if l.brief {
		return t.briefParts(l, n)
	}
	pre, label, tail := t.sections(l, n)
	if n == 0 {
		return pre, tail
	}
	var b strings.Builder
	b.Grow(t.bodyLen(pre, label, n))
	b.WriteString(pre)
	b.WriteString(label)
	b.WriteString(t.tableHeader)
	for i := range n {
		b.WriteString(t.rowLines[i])
	}
	return b.String(), tail
}

// bodyLen is the length of the body renderParts makes of pre, label and
// the first n rows.
func (t *textView) bodyLen(pre, label string, n int) int {
	size := len(pre) + len(label) + len(t.tableHeader)
	for i := range n {
		size += len(t.rowLines[i])
	}
	return size
}

// briefParts is renderParts for the brief text (no rows).
func (t *textView) briefParts(l textLayout, n int) (body, tail string) {
	p := t.f.p
	var b strings.Builder
	if l.compact {
		b.WriteString(t.headCompact)
	} else {
		b.WriteString(t.head)
	}
	b.WriteString(t.countsLine(n, l.compact))
	if n > 0 {
		fmt.Fprintf(&b, "rows %s–%s (%d columns) are in structuredContent.table; this text repeats no rows.\n",
			commas(p.Offset+1), commas(p.Offset+n), len(t.f.cols))
	}
	body = b.String()
	b.Reset()
	return body, t.tail(&b, l, n)
}

// sections renders the full or terse text (not brief) with n rows in the
// parts it is counted by: pre, everything before the table; label, the
// table's label ("" without rows); and the tail. The rows (t.rowLines,
// after t.tableHeader) go between label and tail.
func (t *textView) sections(l textLayout, n int) (pre, label, tail string) {
	C := len(t.f.cols)
	var b strings.Builder
	switch {
	case l.table:
	case l.compact:
		b.WriteString(t.headCompact)
	default:
		b.WriteString(t.head)
	}

	// (2) schema
	if l.typesOnly {
		b.WriteString(t.typesLine[b2i(l.compact)])
	} else {
		b.WriteString(t.schemaLine(l.schemaN, l.compact))
	}

	// (3) counts (terse text: on the TRUNCATED line when rows are cut)
	cutRows := t.f.rowsCut(n)
	mergedCounts := l.compact && cutRows && !t.f.sample
	if !mergedCounts && !l.table {
		b.WriteString(t.countsLine(n, l.compact))
	}

	// (4) statistics
	if C > 0 {
		rowsWord := "fetched rows (not the whole result)"
		if t.f.sample {
			rowsWord = "sampled rows"
		}
		S := len(t.f.stats)
		switch {
		case t.f.fetched == 0:
			b.WriteString("stats: none (no rows fetched)\n")
		case t.statsLineLeftOut(l):
			// Structured's omitted says "stats" (see tableOf).
		case !t.f.statsKnown && l.compact:
			b.WriteString("stats: omitted (token budget)\n")
		case !t.f.statsKnown:
			b.WriteString("stats: not computed, the rows took the budget (sample_result profiles a whole result)\n")
		case S == 0:
			b.WriteString("stats: none informative (text columns all distinct, or one value in every row)\n")
		case l.statsN == 0 && l.compact:
			b.WriteString("stats: omitted (token budget)\n")
		case l.statsN == 0:
			fmt.Fprintf(&b, "stats: omitted for all %d columns (token budget)\n", S)
		default:
			fmt.Fprintf(&b, "stats over %s %s:\n", commas(t.f.fetched), rowsWord)
			for i := range l.statsN {
				b.WriteString(t.statLines[i])
			}
			if l.statsN < S {
				fmt.Fprintf(&b, "… stats for %d more columns omitted (token budget)\n", S-l.statsN)
			}
		}
		if k := t.f.statsDropped; k > 0 && S > 0 && t.f.fetched > 0 && !l.compact {
			fmt.Fprintf(&b, "(no stats for %d columns that say nothing: text all distinct, or one value in every row)\n", k)
		}
	}
	pre = b.String()

	// (5) rows
	if n > 0 {
		cut := 0
		for i := range n {
			t.row(i)
			cut += t.rowCut[i]
		}
		label = t.tableLabel(n, cut, l.compact, t.rowsKinds(n))
	}

	// (6) what next
	if l.table {
		return pre, label, ""
	}
	b = strings.Builder{}
	return pre, label, t.tail(&b, l, n)
}

// count is the token count of t.render(l, n), added up from the counts of
// its parts: each row's line is counted once (t.row), not again with the
// text around it. The sum is exact where each part ends with a newline and
// the next starts with neither white space nor '/': o200k's pre-tokeniser
// (split.go) then ends a piece at the newline, whatever follows (see
// joinsAtNewline). Where a part does not, the whole text is counted.
func (t *textView) count(l textLayout, n int) int {
	tokens, _ := t.countLen(l, n)
	return tokens
}

// countLen is count, and a bound on the text's length in bytes (the length
// of its parts, before the trailing newlines render trims): the text is
// not rendered to measure it.
func (t *textView) countLen(l textLayout, n int) (tokens, size int) {
	if l.brief || n == 0 {
		text := t.render(l, n)
		return CountTokens(text), len(text)
	}
	pre, label, tail := t.sections(l, n)
	size = t.bodyLen(pre, label, n) + len(tail)
	tail = strings.TrimRight(tail, "\n")
	total, prev := 0, ""
	ok := true
	add := func(s string, tok int) {
		if s == "" || !ok {
			return
		}
		if prev != "" && !joinsAtNewline(prev, s) {
			ok = false
			return
		}
		total += tok
		prev = s
	}
	add(pre, CountTokens(pre))
	add(label, CountTokens(label))
	add(t.tableHeader, t.tableHeaderTok())
	for i := range n {
		line, tok := t.rowLines[i], t.rowTok[i]
		if i == n-1 && tail == "" {
			line = strings.TrimRight(line, "\n")
			tok = CountTokens(line)
		}
		add(line, tok)
	}
	add(tail, CountTokens(tail))
	if !ok {
		return CountTokens(t.render(l, n)), size
	}
	return total, size
}

// tableHeaderTok is the token count of t.tableHeader, counted once.
func (t *textView) tableHeaderTok() int {
	if t.headerTok < 0 {
		t.headerTok = CountTokens(t.tableHeader)
	}
	return t.headerTok
}

// joinsAtNewline reports whether the o200k count of a+b is the count of a
// plus the count of b: a ends with a newline and b starts with neither
// white space nor '/'. The pre-tokeniser's pieces never span such a join
// (TestCountAddsUpAtNewlines): a piece that takes a's newline is white
// space (\s*[\r\n]+, which stops at b's first rune) or punctuation
// followed by [\r\n/]* (which stops there too), and the pieces of b, split
// from b's start, are b's own.
func joinsAtNewline(a, b string) bool {
	if a == "" || b == "" || a[len(a)-1] != '\n' {
		return false
	}
	r, _ := utf8.DecodeRuneInString(b)
	return r != '/' && !isSpace(r)
}

// tail renders (6) into the empty b: what was cut, the cursor and hints.
func (t *textView) tail(b *strings.Builder, l textLayout, n int) string {
	p := t.f.p
	C := len(t.f.cols)
	cutRows := t.f.rowsCut(n)
	mergedCounts := l.compact && cutRows && !t.f.sample && !l.brief
	if cutRows {
		notShown := t.f.left(n)
		if mergedCounts {
			if n > 0 {
				fmt.Fprintf(b, "TRUNCATED: rows %s–%s of %s shown",
					commas(p.Offset+1), commas(p.Offset+n), commas(p.TotalRowCount))
			} else {
				fmt.Fprintf(b, "TRUNCATED: no rows shown of %s", commas(p.TotalRowCount))
			}
			b.WriteString(" · ")
			b.WriteString(t.sourceText(true))
			b.WriteString(".\n")
		} else if t.f.sample {
			fmt.Fprintf(b, "TRUNCATED: showing %s of %s sampled rows; %s rows not shown (token budget).\n",
				commas(n), commas(len(p.Rows)), commas(notShown))
		} else {
			if n > 0 {
				fmt.Fprintf(b, "TRUNCATED: showing rows %s–%s of %s; %s rows not shown",
					commas(p.Offset+1), commas(p.Offset+n), commas(p.TotalRowCount), commas(notShown))
			} else {
				fmt.Fprintf(b, "TRUNCATED: showing no rows of %s; %s rows not shown",
					commas(p.TotalRowCount), commas(notShown))
			}
			if k := len(p.Rows) - n; k > 0 {
				fmt.Fprintf(b, " (%s fetched rows did not fit the token budget)", commas(k))
			}
			b.WriteString(".\n")
		}
	}
	if c := t.f.cursor(n); c != "" {
		b.WriteString("next_cursor: ")
		b.WriteString(c)
		switch {
		case l.compact:
			b.WriteString(" (for next_page)")
		case t.f.waiting():
			b.WriteString("\n(pass next_cursor to next_page to get the rows once the execution has finished)")
		default:
			b.WriteString("\n(pass next_cursor to next_page to continue after the last row shown)")
		}
		b.WriteByte('\n')
	}
	if l.hints && (cutRows || l.schemaN < C || (t.f.fetched > 0 && l.statsN < len(t.f.stats))) {
		b.WriteString(t.hintLine)
	}
	return b.String()
}

// shrink cuts layout l, or the n rows, of a text over budget by over
// tokens: rows first, then statistics, hints, schema entries, and last the
// full essentials. It returns false when nothing is left to cut.
func (t *textView) shrink(l *textLayout, n *int, over int) bool {
	switch {
	case *n > 0 && !l.brief:
		*n = dropFromEnd(*n, over, t.rowCost)
	case l.statsN > 0:
		l.statsN = dropFromEnd(l.statsN, over, t.statCost)
	case l.hints:
		l.hints = false
	case l.schemaN > 0:
		l.schemaN = dropFromEnd(l.schemaN, over, func(i int) int { return t.schemaItemTok[i] })
	case !l.compact:
		l.compact = true
	default:
		return false
	}
	return true
}

// hardCut fits the text of layout l (already as small as layouts go) into
// the budget by cutting its body, keeping the tail (truncation line and
// cursor) intact when possible.
func (t *textView) hardCut(l textLayout, n int) string {
	body, tail := t.renderParts(l, n)
	tail = strings.TrimRight(tail, "\n")
	text := t.cutBody(body, tail)
	if at := t.ageAt[b2i(l.compact)]; at >= 0 && len(text) > at && !strings.HasPrefix(text[at:], ageSlot) {
		// The cut is not after the whole age slot: cut the body with the
		// real age instead, lest a piece of the slot show.
		body, _ = t.withAge(body, l.compact, 0)
		text = t.cutBody(body, tail)
	}
	return text
}

// cutBody cuts body so that body and tail fit the budget, keeping the
// tail whole when possible.
func (t *textView) cutBody(body, tail string) string {
	budget := t.f.budget
	room := budget - CountTokens(tail) - 1
	for room > 0 {
		text := strings.TrimRight(cutToTokens(body, room), "\n") + "\n" + tail
		c := CountTokens(text)
		if c <= budget {
			return text
		}
		room -= c - budget
	}
	return cutToTokens(strings.TrimRight(body+tail, "\n"), budget)
}

// sourceText says where the fetched rows came from and what they cost.
func (t *textView) sourceText(compact bool) string {
	switch {
	case !t.f.p.FromCache && compact:
		return fmt.Sprintf("%s fetched (%s datapoints)", commas(t.f.fetched), commas(t.f.p.Datapoints))
	case !t.f.p.FromCache:
		return fmt.Sprintf("%s fetched this call (%s datapoints)", commas(t.f.fetched), commas(t.f.p.Datapoints))
	case compact:
		return fmt.Sprintf("%s from the page cache (0 datapoints)", commas(t.f.fetched))
	default:
		return fmt.Sprintf("%s served from the page cache (0 datapoints)", commas(t.f.fetched))
	}
}

// countsLine renders (3): totals, fetched, shown and left.
func (t *textView) countsLine(n int, compact bool) string {
	p := t.f.p
	var b strings.Builder
	source := func() { b.WriteString(t.sourceText(compact)) }
	if t.f.sample {
		fmt.Fprintf(&b, "rows: uniform random sample of ~%s from %s (not a contiguous page) · ",
			commas(p.SampleCount), commas(p.TotalRowCount))
		source()
		fmt.Fprintf(&b, " · %s shown · %s of the sample not shown\n", commas(n), commas(t.f.left(n)))
		return b.String()
	}
	if t.f.waiting() {
		if compact {
			return fmt.Sprintf("rows: none yet (still running; %s datapoints)\n", commas(p.Datapoints))
		}
		return fmt.Sprintf("rows: none yet, the execution has not finished (%s datapoints this call)\n", commas(p.Datapoints))
	}
	if p.TotalRowCount == 0 && len(p.Rows) == 0 {
		b.WriteString("rows: the result has 0 rows · ")
		source()
		b.WriteByte('\n')
		return b.String()
	}
	fmt.Fprintf(&b, "rows: %s in result", commas(p.TotalRowCount))
	if !compact && !t.f.running() {
		// Free whole-result facts, from Dune's metadata: what reading it
		// all would take.
		b.WriteString(" (")
		if p.ResultBytes > 0 {
			b.WriteString(byteSize(p.ResultBytes))
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s datapoints to read in full)", commas64(int64(p.TotalRowCount)*int64(len(t.f.cols))))
	}
	b.WriteString(" · ")
	source()
	fmt.Fprintf(&b, " · %s shown", commas(n))
	if n > 0 {
		fmt.Fprintf(&b, " (rows %s–%s)", commas(p.Offset+1), commas(p.Offset+n))
	}
	fmt.Fprintf(&b, " · %s left", commas(t.f.left(n)))
	if p.Offset >= p.TotalRowCount && len(p.Rows) == 0 {
		fmt.Fprintf(&b, " · offset %s is past the end", commas(p.Offset))
	}
	b.WriteByte('\n')
	return b.String()
}
