package summary

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"dune-mcp/dune"
	"dune-mcp/schemas"
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
	// compactBudget: below it the terse layouts are tried, and kept when they
	// show more rows.
	compactBudget = 1500
	// rowFloor is the room (tokens) rows may claim before statistics get
	// any: at small budgets rows come before statistics; from about twice
	// this room on, statistics get up to half of it.
	rowFloor = 700
	// growTries bounds the rows added one by one after the exact check, when
	// the estimates left room; only below growBudget, where a row is worth
	// two more renderings (above it the slack is a small share of the rows).
	growTries  = 4
	growBudget = 4000
)

// textLayout says how much of each cuttable part the text shows.
type textLayout struct {
	schemaN int  // columns listed in the schema line
	statsN  int  // columns with a stats line
	hints   bool // hints line allowed
	compact bool // terse essentials for tiny budgets
}

// structLayout says how much of each cuttable part Structured carries.
type structLayout struct {
	columnsN int  // columns listed
	statsN   int  // columns with stats
	noTop    bool // top values dropped from stats
	minimal  bool // notes, filters and sort_by echo dropped, terse omitted entries
}

// summarizer holds one Summarize call's inputs and memoised pieces.
type summarizer struct {
	p        Page
	budget   int
	slack    int // tokens kept free when planning (estimates are sums of parts)
	cursorFn CursorFunc
	now      time.Time
	sample   bool

	statsRows []dune.Row
	stats     []colStats
	cols      []schemas.Column
	fetched   int

	cursors map[int]string

	// cellLimit, cellKeep: cells longer than cellLimit runes are cut to
	// their first cellKeep (CellLimit, cellKeep unless the page is a few
	// rows; see cellBound).
	cellLimit, cellKeep int

	// text pieces
	head          string
	headCompact   string // terse provenance + the same filters and notes
	schemaItemTok []int
	schemaAllTok  [2]int // listing every column instead of none, indexed by compact
	schemaItems   []string
	statLines     []string
	statLineTok   []int
	tableHeader   string
	rowsFixedTok  [2]int // label + header line, indexed by compact
	rowLines      []string
	rowCut        []int // shortened cells per row line
	rowTok        []int // -1 until counted
	hintLine      string

	// structured pieces
	colTok      []int
	cstats      []schemas.ColumnStats
	cstatsNoTop []schemas.ColumnStats
	cstatTok    []int
	cstatNoTok  []int
	anyTop      bool
	shortMode   bool  // long cells shortened in Structured.Rows
	srowTok     []int // full rows, -1 until counted
	srowShort   []int // rows with long cells shortened, -1 until counted
}

func checkShape(p Page) error {
	for i, r := range p.Rows {
		if len(r) != len(p.Columns) {
			return fmt.Errorf("summary: row %d has %d values for %d columns", i, len(r), len(p.Columns))
		}
	}
	for i, r := range p.StatsRows {
		if len(r) != len(p.Columns) {
			return fmt.Errorf("summary: stats row %d has %d values for %d columns", i, len(r), len(p.Columns))
		}
	}
	return nil
}

func newSummarizer(p Page, budget int, cursor CursorFunc) *summarizer {
	s := &summarizer{
		p:        p,
		budget:   budget,
		cursorFn: cursor,
		now:      p.Now,
		sample:   p.SampleCount > 0,
		cursors:  map[int]string{},
	}
	if s.now.IsZero() {
		s.now = time.Now()
	}
	s.cellLimit, s.cellKeep = cellBound(p, budget)
	s.statsRows = p.StatsRows
	if s.statsRows == nil {
		s.statsRows = p.Rows
	}
	s.fetched = len(s.statsRows)
	s.cols = make([]schemas.Column, len(p.Columns))
	for i, c := range p.Columns {
		s.cols[i] = schemas.Column(c)
	}
	s.stats = statsFor(p.Columns, s.statsRows)
	n := len(p.Rows)
	s.rowLines = make([]string, n)
	s.rowCut = make([]int, n)
	s.rowTok = make([]int, n)
	s.srowTok = make([]int, n)
	s.srowShort = make([]int, n)
	for i := range n {
		s.rowTok[i], s.srowTok[i], s.srowShort[i] = -1, -1, -1
	}
	return s
}

// cursor memoises the cursor function.
func (s *summarizer) cursor(shown int) string {
	if s.cursorFn == nil {
		return ""
	}
	c, ok := s.cursors[shown]
	if !ok {
		c = s.cursorFn(shown)
		s.cursors[shown] = c
	}
	return c
}

// left is the number of result rows after the first shown ones.
func (s *summarizer) left(shown int) int {
	if s.sample {
		return len(s.p.Rows) - shown
	}
	return max(s.p.TotalRowCount-s.p.Offset-shown, len(s.p.Rows)-shown, 0)
}

// rowsCut reports whether rows of the result are not shown.
func (s *summarizer) rowsCut(shown int) bool {
	return shown < len(s.p.Rows) || s.left(shown) > 0
}

func (s *summarizer) run() (Output, error) {
	s.prepareText()
	s.prepareStruct()

	N := len(s.p.Rows)
	C := len(s.cols)
	s.slack = 8 + s.budget/100

	// Text and Structured are planned separately, each in its full and its
	// terse form (tried when the budget is small, when not a single row fits
	// otherwise, or when the full essentials alone do not fit). A terse form
	// is kept only when it raises the rows shown by both together.
	terse := func(full int, forced bool) bool {
		return forced || N > 0 && (s.budget < compactBudget || full == 0)
	}
	tN, tC := s.planText(false), textPlan{}
	if terse(tN.n, tN.forced) {
		tC = s.planText(true)
	}
	bestT := max(tN.n, tC.n)
	sN, err := s.planStruct(false, bestT)
	if err != nil {
		return Output{}, err
	}
	var sM structPlan
	if terse(sN.n, sN.forced) {
		if sM, err = s.planStruct(true, bestT); err != nil {
			return Output{}, err
		}
	}
	bestS := max(sN.n, sM.n)
	tp, sp := tN, sN
	if tN.forced || min(tC.n, bestS) > min(tN.n, bestS) {
		tp = tC
	}
	if sN.forced || min(sM.n, tp.n) > min(sN.n, tp.n) {
		sp = sM
	}
	tl, sl := tp.l, sp.l
	availT, availS := tp.avail, sp.avail
	s.shortMode = sp.short
	n := min(tp.n, sp.n)

	// With the row count settled, statistics get what is left.
	rowsT, rowsS := 0, 0
	if n > 0 {
		rowsT = s.rowsFixedTok[b2i(tl.compact)] + sumCost(n, s.rowTextCost)
		rowsS = sumCost(n, s.rowStructCost)
	}
	// Hints (what to do next) come after the rows, and before statistics
	// only because they are one short line that says how to get the rest.
	if hint := CountTokens(s.hintLine); !tl.compact && availT-rowsT >= hint {
		tl.hints = true
		availT -= hint
	}
	tl.statsN, _ = prefixFit(C, availT-rowsT, s.statTextCost)
	if sl.columnsN == C {
		sl.statsN, _ = prefixFit(C, availS-rowsS, s.statStructCost(sl.noTop))
	}

	// Verify the exact totals; trim until both fit.
	hard := false
	for {
		text := s.renderText(tl, n)
		tt := CountTokens(text)
		if tt > s.budget {
			over := tt - s.budget
			switch {
			case n > 0:
				n = dropFromEnd(n, over, s.rowTextCost)
				continue
			case tl.statsN > 0:
				tl.statsN = dropFromEnd(tl.statsN, over, s.statTextCost)
				continue
			case tl.hints:
				tl.hints = false
				continue
			case tl.schemaN > 0:
				tl.schemaN = dropFromEnd(tl.schemaN, over, func(i int) int { return s.schemaItemTok[i] })
				continue
			case !tl.compact:
				tl.compact = true
				continue
			}
			text = s.hardCut(tl, n)
			tt = CountTokens(text)
			hard = true
		}
		st := s.renderStruct(sl, n)
		js, err := json.Marshal(st)
		if err != nil {
			return Output{}, fmt.Errorf("summary: encoding structured content: %w", err)
		}
		stt := CountTokens(string(js))
		if stt > s.budget {
			over := stt - s.budget
			switch {
			case n > 0:
				n = dropFromEnd(n, over, s.rowStructCost)
			case !sl.noTop && s.anyTop && sl.statsN > 0:
				sl.noTop = true
			case sl.statsN > 0:
				sl.statsN = dropFromEnd(sl.statsN, over, s.statStructCost(sl.noTop))
			case sl.columnsN > 0:
				sl.columnsN = dropFromEnd(sl.columnsN, over, func(i int) int { return s.colTok[i] })
			case !sl.minimal:
				sl.minimal = true
			default:
				return Output{}, fmt.Errorf("%w: %d tokens needed, budget %d", ErrBudgetTooSmall, stt, s.budget)
			}
			continue
		}
		out := Output{
			Text:             text,
			Structured:       st,
			ShownRows:        n,
			TextTokens:       tt,
			StructuredTokens: stt,
		}
		if !hard && s.budget < growBudget {
			s.grow(&out, tl, sl)
		}
		if k := min(max(out.ShownRows, 1), N); k > 0 {
			sum := 0
			for i := range k {
				sum += max(s.rowTextCost(i), s.rowStructCost(i))
			}
			out.RowTokens = float64(sum) / float64(k)
		}
		return out, nil
	}
}

// grow adds rows one by one to a result that fits, while both renderings
// still fit: the plan's estimates keep some slack, which at small budgets
// can be worth a row or two.
func (s *summarizer) grow(out *Output, tl textLayout, sl structLayout) {
	N := len(s.p.Rows)
	if sl.columnsN < len(s.cols) {
		return
	}
	for range growTries {
		n := out.ShownRows
		if n >= N {
			return
		}
		fixed := 0
		if n == 0 {
			fixed = s.rowsFixedTok[b2i(tl.compact)]
		}
		if s.budget-out.TextTokens < fixed+s.rowTextCost(n) || s.budget-out.StructuredTokens < s.rowStructCost(n) {
			return
		}
		text := s.renderText(tl, n+1)
		tt := CountTokens(text)
		if tt > s.budget {
			return
		}
		st := s.renderStruct(sl, n+1)
		js, err := json.Marshal(st)
		if err != nil {
			return
		}
		stt := CountTokens(string(js))
		if stt > s.budget {
			return
		}
		*out = Output{Text: text, Structured: st, ShownRows: n + 1, TextTokens: tt, StructuredTokens: stt}
	}
}

// textPlan is a text layout with the room left for statistics, rows and
// hints (after essentials and schema) and the rows it can show.
type textPlan struct {
	l     textLayout
	avail int
	n     int
	// forced: the full essentials alone exceed the budget.
	forced bool
}

// planSlack is the room kept free when planning: the terse forms serve
// small budgets, where every token counts and the exact check that follows
// trims any excess.
func (s *summarizer) planSlack(terse bool) int {
	if terse {
		return 2
	}
	return s.slack
}

// planText lays the text out in its full or terse (compact) form.
func (s *summarizer) planText(compact bool) textPlan {
	N, C := len(s.p.Rows), len(s.cols)
	tp := textPlan{l: textLayout{compact: compact}}
	tp.avail = s.budget - s.planSlack(compact) - CountTokens(s.renderText(tp.l, 0))
	tp.forced = tp.avail < 0 && !compact
	if all := s.schemaAllTok[b2i(compact)]; all <= tp.avail {
		tp.l.schemaN = C // the whole line, counted exactly
		tp.avail -= all
	} else {
		var used int
		tp.l.schemaN, used = prefixFit(C, tp.avail, func(i int) int { return s.schemaItemTok[i] })
		tp.avail -= used
	}
	tp.n, _ = splitStatsRows(tp.avail, N, C, s.statTextCost, s.rowTextCost, s.rowsFixedTok[b2i(compact)])
	return tp
}

// structPlan is a Structured layout with the room left for statistics and
// rows, the rows it can show, and whether long cells are shortened.
type structPlan struct {
	l      structLayout
	avail  int
	n      int
	short  bool
	forced bool // the full essentials alone exceed the budget
}

// planStruct lays Structured out in its full or minimal form; nT is the
// number of rows the text can show (long cells are shortened in Structured
// only when carrying them whole would show fewer rows than that).
func (s *summarizer) planStruct(minimal bool, nT int) (structPlan, error) {
	N, C := len(s.p.Rows), len(s.cols)
	sp := structPlan{l: structLayout{minimal: minimal}}
	s.shortMode = false
	base, err := s.structTokens(sp.l, 0)
	if err != nil {
		return sp, err
	}
	sp.avail = s.budget - s.planSlack(minimal) - base
	sp.forced = sp.avail < 0 && !minimal
	all := sp.l
	all.columnsN = C
	withCols, err := s.structTokens(all, 0)
	if err != nil {
		return sp, err
	}
	if cols := withCols - base; cols <= sp.avail {
		sp.l.columnsN = C // the whole list, counted exactly
		sp.avail -= cols
	} else {
		var used int
		sp.l.columnsN, used = prefixFit(C, sp.avail, func(i int) int { return s.colTok[i] })
		sp.avail -= used
	}
	if sp.l.columnsN < C {
		return sp, nil // rows only with every column listed
	}
	fit := func() int {
		n, k := splitStatsRows(sp.avail, N, C, s.statStructCost(sp.l.noTop), s.rowStructCost, 0)
		if k < C && s.anyTop && !sp.l.noTop {
			sp.l.noTop = true
			n, _ = splitStatsRows(sp.avail, N, C, s.statStructCost(true), s.rowStructCost, 0)
		}
		return n
	}
	sp.n = fit()
	if min(nT, sp.n) < nT && s.anyLongCell(nT) {
		// Rows with cells longer than CellLimit cost far more in full than
		// in the text. When carrying them in full would show fewer rows,
		// shorten those cells in Structured as in the text (said in
		// shortened_cells and omitted): rows before whole long cells.
		exact, exactNoTop := sp.n, sp.l.noTop
		s.shortMode, sp.l.noTop = true, false
		if short := fit(); min(nT, short) > min(nT, exact) {
			sp.n, sp.short = short, true
		} else {
			sp.l.noTop = exactNoTop
		}
		s.shortMode = false
	}
	return sp, nil
}

// prefixFit returns the largest k ≤ n whose first k costs sum to at most
// avail, and that sum.
func prefixFit(n, avail int, cost func(int) int) (int, int) {
	used := 0
	for i := range n {
		c := cost(i)
		if used+c > avail {
			return i, used
		}
		used += c
	}
	return n, used
}

func sumCost(n int, cost func(int) int) int {
	t := 0
	for i := range n {
		t += cost(i)
	}
	return t
}

// dropFromEnd removes trailing items whose estimated costs cover over
// tokens, at least one.
func dropFromEnd(n, over int, cost func(int) int) int {
	got := 0
	for n > 0 {
		n--
		got += cost(n)
		if got >= over {
			break
		}
	}
	return n
}

// splitStatsRows shares avail tokens between statistics and rows: rows may
// claim the first rowFloor tokens (at small budgets a few real rows tell more
// than statistics), statistics then take at most half while there are rows to
// show, rows the rest (at least one row when one fits at all), and statistics
// get back whatever rows leave unused.
func splitStatsRows(avail, nRows, nStats int, statCost, rowCost func(int) int, rowsFixed int) (rows, stats int) {
	if avail <= 0 {
		return 0, 0
	}
	capS := avail
	if nRows > 0 {
		capS = min(avail/2, max(avail-rowFloor-rowsFixed, 0))
	}
	k, su := prefixFit(nStats, capS, statCost)
	n, ru := 0, 0
	if rc := avail - su - rowsFixed; rc > 0 {
		n, ru = prefixFit(nRows, rc, rowCost)
	}
	if n == 0 {
		ru = 0
	} else {
		ru += rowsFixed
	}
	if n == 0 && nRows > 0 {
		// One real row tells more than the statistics of the last columns:
		// show it when it fits at all.
		if one := rowsFixed + rowCost(0); one <= avail {
			n, ru = 1, one
		}
	}
	if n == nRows && k < nStats || n == 1 {
		k, _ = prefixFit(nStats, avail-ru, statCost)
	}
	return n, k
}

// ---------------------------------------------------------------- text

func (s *summarizer) prepareText() {
	p := s.p
	var b strings.Builder

	// (1) provenance
	if p.Tool != "" {
		b.WriteString(p.Tool)
		b.WriteString(" · ")
	}
	fmt.Fprintf(&b, "query %d · execution %s · %s", p.QueryID, orDash(p.ExecutionID), orDash(string(p.State)))
	b.WriteByte('\n')
	switch {
	case p.EndedAt != nil && !p.EndedAt.IsZero():
		fmt.Fprintf(&b, "ended %s (%s)\n", p.EndedAt.UTC().Format("2006-01-02 15:04:05 UTC"), ago(*p.EndedAt, s.now))
	case !p.SubmittedAt.IsZero():
		fmt.Fprintf(&b, "ended: not reported (submitted %s, %s)\n", p.SubmittedAt.UTC().Format("2006-01-02 15:04:05 UTC"), ago(p.SubmittedAt, s.now))
	default:
		b.WriteString("ended: not reported\n")
	}
	if p.Demo {
		b.WriteString("⚠ DEMO DATA from the embedded emulator, not Dune: synthetic rows for trying the tools.\n")
	}
	var c strings.Builder // terse provenance: one line, a short demo mark
	fmt.Fprintf(&c, "query %d · execution %s · %s", p.QueryID, orDash(p.ExecutionID), orDash(strings.TrimPrefix(string(p.State), "QUERY_STATE_")))
	switch {
	case p.EndedAt != nil && !p.EndedAt.IsZero():
		fmt.Fprintf(&c, " · ended %s (%s)\n", p.EndedAt.UTC().Format("2006-01-02 15:04 UTC"), ago(*p.EndedAt, s.now))
	case !p.SubmittedAt.IsZero():
		fmt.Fprintf(&c, " · end not reported (submitted %s)\n", ago(p.SubmittedAt, s.now))
	default:
		c.WriteString(" · end not reported\n")
	}
	if p.Demo {
		c.WriteString("⚠ DEMO DATA (emulator, not Dune)\n")
	}
	provLen := b.Len()
	if p.Filters != "" || p.SortBy != "" {
		var parts []string
		if p.Filters != "" {
			f, _ := shorten(p.Filters, noteLimit, noteLimit-20)
			parts = append(parts, "filters: "+f)
		}
		if p.SortBy != "" {
			f, _ := shorten(p.SortBy, noteLimit, noteLimit-20)
			parts = append(parts, "sort_by: "+f)
		}
		b.WriteString(strings.Join(parts, " · "))
		b.WriteByte('\n')
	}
	for _, n := range p.Notes {
		n, _ = shorten(strings.TrimSpace(n), noteLimit, noteLimit-20)
		b.WriteString("note: ")
		b.WriteString(n)
		b.WriteByte('\n')
	}
	s.head = b.String()
	s.headCompact = c.String() + s.head[provLen:]

	// (2) schema items
	s.schemaItems = make([]string, len(s.cols))
	s.schemaItemTok = make([]int, len(s.cols))
	for i, c := range s.cols {
		s.schemaItems[i] = quoteName(c.Name) + " " + c.Type
		s.schemaItemTok[i] = CountTokens(s.schemaItems[i] + ", ")
	}

	for i, compact := range []bool{false, true} {
		s.schemaAllTok[i] = CountTokens(s.schemaLine(len(s.cols), compact)) - CountTokens(s.schemaLine(0, compact))
	}

	// (4) stats lines
	s.statLines = make([]string, len(s.stats))
	s.statLineTok = make([]int, len(s.stats))
	for i := range s.stats {
		s.statLines[i] = statLine(&s.stats[i])
		s.statLineTok[i] = CountTokens(s.statLines[i])
	}

	// (5) table header
	if len(s.cols) > 0 {
		var h strings.Builder
		for i, c := range s.cols {
			if i > 0 {
				h.WriteByte(',')
			}
			writeCSVField(&h, c.Name)
		}
		h.WriteByte('\n')
		s.tableHeader = h.String()
	}
	n := len(p.Rows)
	for i, compact := range []bool{false, true} {
		s.rowsFixedTok[i] = CountTokens(s.tableLabel(n, n, compact)) + CountTokens(s.tableHeader)
	}

	// (6) hints
	hints := "hints: fit more rows per call with columns=[…] (fewer columns), filters or sort_by (get the rows you need first), a larger max_tokens (≤ 25000)"
	if s.sample || p.Tool == "sample_result" {
		hints += "; aggregate in SQL for exact totals.\n"
	} else {
		hints += ", or profile the whole result with sample_result.\n"
	}
	s.hintLine = hints
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

func (s *summarizer) statTextCost(i int) int { return s.statLineTok[i] }

// rowText renders (once) row i as a CSV line.
func (s *summarizer) rowText(i int) string {
	if s.rowTok[i] >= 0 {
		return s.rowLines[i]
	}
	var b strings.Builder
	cut := 0
	for c, v := range s.p.Rows[i] {
		if c > 0 {
			b.WriteByte(',')
		}
		if v == nil {
			b.WriteString(NullMark)
			continue
		}
		txt, short := shorten(valueText(v), s.cellLimit, s.cellKeep)
		if short {
			cut++
		}
		writeCSVField(&b, txt)
	}
	b.WriteByte('\n')
	s.rowLines[i] = b.String()
	s.rowCut[i] = cut
	s.rowTok[i] = CountTokens(s.rowLines[i])
	return s.rowLines[i]
}

func (s *summarizer) rowTextCost(i int) int {
	s.rowText(i)
	return s.rowTok[i]
}

// anyLongCell reports whether one of the first n rows has a cell longer
// than CellLimit.
func (s *summarizer) anyLongCell(n int) bool {
	for i := range min(n, len(s.p.Rows)) {
		s.rowText(i)
		if s.rowCut[i] > 0 {
			return true
		}
	}
	return false
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (s *summarizer) tableLabel(shown, cut int, compact bool) string {
	var b strings.Builder
	if compact {
		b.WriteString("CSV (∅ = NULL")
		if cut > 0 {
			fmt.Fprintf(&b, "; %d cells over %d chars shortened, marked …[+N of M chars]", cut, s.cellLimit)
		}
		b.WriteString("):\n")
		return b.String()
	}
	b.WriteString("rows")
	if !s.sample {
		fmt.Fprintf(&b, " %s–%s", commas(s.p.Offset+1), commas(s.p.Offset+shown))
	}
	b.WriteString(" as CSV (one header line; ∅ = NULL, \"\" = empty string")
	if cut > 0 {
		fmt.Fprintf(&b, "; %d cells over %d chars shortened, marked …[+N of M chars] with their full length", cut, s.cellLimit)
		if s.cellLimit == CellLimit {
			fmt.Fprintf(&b, "; filters down to ≤ %d rows show longer cells", fewRows)
		}
	}
	b.WriteString("):\n")
	return b.String()
}

// schemaLine renders (2) with the first k columns listed, in result order.
func (s *summarizer) schemaLine(k int, compact bool) string {
	C := len(s.cols)
	var b strings.Builder
	switch {
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
			b.WriteString(s.schemaItems[i])
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

// renderText renders the text with layout l and the first n rows.
func (s *summarizer) renderText(l textLayout, n int) string {
	body, tail := s.renderTextParts(l, n)
	return strings.TrimRight(body+tail, "\n")
}

// renderTextParts renders the text in two parts: everything up to the rows,
// and the tail saying what was cut and how to continue (never cut).
func (s *summarizer) renderTextParts(l textLayout, n int) (body, tail string) {
	p := s.p
	C := len(s.cols)
	var b strings.Builder
	if l.compact {
		b.WriteString(s.headCompact)
	} else {
		b.WriteString(s.head)
	}

	// (2) schema
	b.WriteString(s.schemaLine(l.schemaN, l.compact))

	// (3) counts (terse text: on the TRUNCATED line when rows are cut)
	cutRows := s.rowsCut(n)
	mergedCounts := l.compact && cutRows && !s.sample
	if !mergedCounts {
		b.WriteString(s.countsLine(n, l.compact))
	}

	// (4) statistics
	if C > 0 {
		rowsWord := "fetched rows"
		if s.sample {
			rowsWord = "sampled rows"
		}
		switch {
		case s.fetched == 0:
			b.WriteString("stats: none (no rows fetched)\n")
		case l.statsN == 0 && l.compact:
			b.WriteString("stats: omitted (token budget)\n")
		case l.statsN == 0:
			fmt.Fprintf(&b, "stats: omitted for all %d columns (token budget)\n", C)
		default:
			fmt.Fprintf(&b, "stats over %s %s:\n", commas(s.fetched), rowsWord)
			for i := range l.statsN {
				b.WriteString(s.statLines[i])
			}
			if l.statsN < C {
				fmt.Fprintf(&b, "… stats for %d more columns omitted (token budget)\n", C-l.statsN)
			}
		}
	}

	// (5) rows
	if n > 0 {
		cut := 0
		for i := range n {
			s.rowText(i)
			cut += s.rowCut[i]
		}
		b.WriteString(s.tableLabel(n, cut, l.compact))
		b.WriteString(s.tableHeader)
		for i := range n {
			b.WriteString(s.rowLines[i])
		}
	}

	// (6) what next
	body = b.String()
	b.Reset()
	if cutRows {
		notShown := s.left(n)
		if mergedCounts {
			if n > 0 {
				fmt.Fprintf(&b, "TRUNCATED: rows %s–%s of %s shown, %s not shown",
					commas(p.Offset+1), commas(p.Offset+n), commas(p.TotalRowCount), commas(notShown))
			} else {
				fmt.Fprintf(&b, "TRUNCATED: no rows shown of %s", commas(p.TotalRowCount))
			}
			b.WriteString(" · ")
			b.WriteString(s.sourceText(true))
			b.WriteString(".\n")
		} else if s.sample {
			fmt.Fprintf(&b, "TRUNCATED: showing %s of %s sampled rows; %s rows not shown (token budget).\n",
				commas(n), commas(len(p.Rows)), commas(notShown))
		} else {
			if n > 0 {
				fmt.Fprintf(&b, "TRUNCATED: showing rows %s–%s of %s; %s rows not shown",
					commas(p.Offset+1), commas(p.Offset+n), commas(p.TotalRowCount), commas(notShown))
			} else {
				fmt.Fprintf(&b, "TRUNCATED: showing no rows of %s; %s rows not shown",
					commas(p.TotalRowCount), commas(notShown))
			}
			if k := len(p.Rows) - n; k > 0 {
				fmt.Fprintf(&b, " (%s fetched rows did not fit the token budget)", commas(k))
			}
			b.WriteString(".\n")
		}
	}
	if c := s.cursor(n); c != "" {
		b.WriteString("next_cursor: ")
		b.WriteString(c)
		if !l.compact {
			b.WriteString("\n(pass next_cursor to next_page to continue after the last row shown)")
		}
		b.WriteByte('\n')
	}
	if l.hints && (cutRows || l.schemaN < C || (s.fetched > 0 && l.statsN < C)) {
		b.WriteString(s.hintLine)
	}
	return body, b.String()
}

// hardCut fits the text of layout l (already as small as layouts go) into
// the budget by cutting its body, keeping the tail (truncation line and
// cursor) intact when possible.
func (s *summarizer) hardCut(l textLayout, n int) string {
	body, tail := s.renderTextParts(l, n)
	tail = strings.TrimRight(tail, "\n")
	room := s.budget - CountTokens(tail) - 1
	for room > 0 {
		t := strings.TrimRight(cutToTokens(body, room), "\n") + "\n" + tail
		if c := CountTokens(t); c <= s.budget {
			return t
		} else {
			room -= c - s.budget
		}
	}
	return cutToTokens(strings.TrimRight(body+tail, "\n"), s.budget)
}

// sourceText says where the fetched rows came from and what they cost.
func (s *summarizer) sourceText(compact bool) string {
	switch {
	case !s.p.FromCache && compact:
		return fmt.Sprintf("%s fetched (%s datapoints)", commas(s.fetched), commas(s.p.Datapoints))
	case !s.p.FromCache:
		return fmt.Sprintf("%s fetched this call (%s datapoints)", commas(s.fetched), commas(s.p.Datapoints))
	case compact:
		return fmt.Sprintf("%s from the page cache (0 datapoints)", commas(s.fetched))
	default:
		return fmt.Sprintf("%s served from the page cache (0 datapoints)", commas(s.fetched))
	}
}

// countsLine renders (3): totals, fetched, shown and left.
func (s *summarizer) countsLine(n int, compact bool) string {
	p := s.p
	var b strings.Builder
	source := func() { b.WriteString(s.sourceText(compact)) }
	if s.sample {
		fmt.Fprintf(&b, "rows: uniform random sample of ~%s from %s (not a contiguous page) · ",
			commas(p.SampleCount), commas(p.TotalRowCount))
		source()
		fmt.Fprintf(&b, " · %s shown · %s of the sample not shown\n", commas(n), commas(s.left(n)))
		return b.String()
	}
	if p.TotalRowCount == 0 && len(p.Rows) == 0 {
		b.WriteString("rows: the result has 0 rows · ")
		source()
		b.WriteByte('\n')
		return b.String()
	}
	fmt.Fprintf(&b, "rows: %s in result · ", commas(p.TotalRowCount))
	source()
	fmt.Fprintf(&b, " · %s shown", commas(n))
	if n > 0 {
		fmt.Fprintf(&b, " (rows %s–%s)", commas(p.Offset+1), commas(p.Offset+n))
	}
	fmt.Fprintf(&b, " · %s left", commas(s.left(n)))
	if p.Offset >= p.TotalRowCount && len(p.Rows) == 0 {
		fmt.Fprintf(&b, " · offset %s is past the end", commas(p.Offset))
	}
	b.WriteByte('\n')
	return b.String()
}

// ---------------------------------------------------------------- structured

func (s *summarizer) prepareStruct() {
	s.colTok = make([]int, len(s.cols))
	for i, c := range s.cols {
		s.colTok[i] = jsonTokens(c) + 1
	}
	s.cstats = make([]schemas.ColumnStats, len(s.stats))
	s.cstatsNoTop = make([]schemas.ColumnStats, len(s.stats))
	s.cstatTok = make([]int, len(s.stats))
	s.cstatNoTok = make([]int, len(s.stats))
	for i := range s.stats {
		st := &s.stats[i]
		cs := schemas.ColumnStats{
			Name:          st.name,
			Nulls:         st.nulls,
			Min:           st.min,
			Max:           st.max,
			Invalid:       st.invalid,
			Distinct:      st.distinct,
			DistinctExact: st.distinctExact,
		}
		if st.hasMean {
			m := st.mean
			cs.Mean = &m
		}
		if st.kind == kindText {
			cs.MaxLen = st.maxLen
		}
		s.cstatsNoTop[i] = cs
		s.cstatNoTok[i] = jsonTokens(cs) // commas merge with braces: no extra token
		if len(st.top) > 0 {
			s.anyTop = true
			cs.Top = make([]schemas.TopValue, len(st.top))
			for j, tv := range st.top {
				v, _ := shorten(tv.Value, topValueLimit, topValueLimit-20)
				cs.Top[j] = schemas.TopValue{Value: v, Count: tv.Count}
			}
		}
		s.cstats[i] = cs
		s.cstatTok[i] = jsonTokens(cs)
	}
}

func jsonTokens(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 1 << 20 // never fits; the final encoding reports the error
	}
	return CountTokens(string(b))
}

func (s *summarizer) statStructCost(noTop bool) func(int) int {
	if noTop {
		return func(i int) int { return s.cstatNoTok[i] }
	}
	return func(i int) int { return s.cstatTok[i] }
}

// structRow returns row i as Structured carries it.
func (s *summarizer) structRow(i int) ([]any, int) {
	row := []any(s.p.Rows[i])
	if !s.shortMode {
		return row, 0
	}
	var out []any
	cut := 0
	for c, v := range row {
		str, ok := v.(string)
		if !ok {
			continue
		}
		if sh, did := shorten(str, s.cellLimit, s.cellKeep); did {
			if out == nil {
				out = make([]any, len(row))
				copy(out, row)
			}
			out[c] = sh
			cut++
		}
	}
	if out == nil {
		return row, 0
	}
	return out, cut
}

func (s *summarizer) rowStructCost(i int) int {
	memo := s.srowTok
	if s.shortMode {
		memo = s.srowShort
	}
	if memo[i] < 0 {
		r, _ := s.structRow(i)
		memo[i] = jsonTokens(r) // "],[" is one token: the rows' sum is the list's
	}
	return memo[i]
}

func (s *summarizer) structTokens(l structLayout, n int) (int, error) {
	js, err := json.Marshal(s.renderStruct(l, n))
	if err != nil {
		return 0, fmt.Errorf("summary: encoding structured content: %w", err)
	}
	return CountTokens(string(js)), nil
}

// renderStruct builds Structured with layout l and the first n rows.
func (s *summarizer) renderStruct(l structLayout, n int) *schemas.Structured {
	p := s.p
	C := len(s.cols)
	st := &schemas.Structured{
		QueryID:       p.QueryID,
		ExecutionID:   p.ExecutionID,
		State:         string(p.State),
		Demo:          p.Demo,
		Columns:       s.cols[:l.columnsN:l.columnsN],
		TotalRowCount: p.TotalRowCount,
		Offset:        p.Offset,
		SampleCount:   p.SampleCount,
		ReturnedRows:  n,
		Rows:          make([][]any, n),
		Stats:         []schemas.ColumnStats{},
		Datapoints:    p.Datapoints,
	}
	if p.EndedAt != nil && !p.EndedAt.IsZero() {
		if l.minimal {
			st.ExecutionEndedAt = p.EndedAt.UTC().Truncate(time.Second).Format(time.RFC3339)
		} else {
			st.ExecutionEndedAt = p.EndedAt.UTC().Format(time.RFC3339Nano)
		}
	}
	if !l.minimal {
		st.Filters, st.SortBy = p.Filters, p.SortBy
		for _, note := range p.Notes {
			note, _ = shorten(strings.TrimSpace(note), noteLimit, noteLimit-20)
			st.Notes = append(st.Notes, note)
		}
	}
	for i := range n {
		r, cut := s.structRow(i)
		st.Rows[i] = r
		st.ShortenedCells += cut
	}
	if s.fetched > 0 {
		if l.noTop {
			st.Stats = s.cstatsNoTop[:l.statsN:l.statsN]
		} else {
			st.Stats = s.cstats[:l.statsN:l.statsN]
		}
	}
	st.NextCursor = s.cursor(n)
	st.HasMore = st.NextCursor != ""

	// A minimal (compact) result lists only what its other fields do not
	// already show: rows left (has_more), rows fetched but not returned
	// (returned_rows < fetched_rows), shortened cells (shortened_cells) and
	// missing statistics (stats shorter than columns) go without saying.
	var om []string
	cut := false
	add := func(full, terse string) {
		cut = true
		switch {
		case !l.minimal:
			om = append(om, full)
		case terse != "":
			om = append(om, terse)
		}
	}
	if k := len(p.Rows) - n; k > 0 {
		what := "fetched"
		if s.sample {
			what = "sampled"
		}
		add(fmt.Sprintf("rows: %d of %d %s rows not returned (token budget)", k, len(p.Rows), what), "")
	}
	if k := p.TotalRowCount - p.Offset - len(p.Rows); k > 0 && !s.sample {
		add(fmt.Sprintf("rows: %d more rows in the result after this page", k), "")
	}
	if st.ShortenedCells > 0 {
		add(fmt.Sprintf("rows: %d cells longer than %d chars shortened with a …[+N of M chars] marker (token budget)", st.ShortenedCells, s.cellLimit), "")
	}
	if l.columnsN < C {
		add(fmt.Sprintf("columns: %d of %d not listed (token budget); narrow with columns", C-l.columnsN, C), "columns")
	}
	if s.fetched > 0 && C > 0 {
		if l.statsN < C {
			terse := ""
			if l.columnsN < C { // stats shorter than a cut column list say nothing
				terse = "stats"
			}
			add(fmt.Sprintf("stats: %d of %d columns without statistics (token budget)", C-l.statsN, C), terse)
		}
		if l.noTop && s.anyTop && l.statsN > 0 {
			add("stats.top: top values dropped (token budget)", "stats.top")
		}
	}
	if l.minimal && (p.Filters != "" || p.SortBy != "" || len(p.Notes) > 0) {
		add("", "notes")
	}
	st.Omitted = om
	// A minimal result also drops the fields that repeat others: truncated
	// when has_more already says rows were left out, fetched_rows when it
	// equals returned_rows (~5 tokens each: a third narrow row at 256).
	if !l.minimal || !st.HasMore {
		st.Truncated = &cut
	}
	if fetched := s.fetched; !l.minimal || fetched != n {
		st.FetchedRows = &fetched
	}
	return st
}
