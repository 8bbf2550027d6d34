package summary

const (
	// compactBudget: below it the terse layouts are tried, and kept when they
	// show more rows.
	compactBudget = 1500
	// compactTextBudget: below it the text's terse layout is tried too
	// (kept when it shows more rows): up to about here, the full layout's
	// provenance, labels and hints cost more than the rows save against
	// plain CSV.
	compactTextBudget = 4000
)

// layoutPlan is the layout settled on before the exact check: each view's
// layout, the rows both show, and whether Structured shortens long cells.
type layoutPlan struct {
	tl    textLayout
	sl    structLayout
	n     int
	short bool
}

// planLayout lays both views out from the token counts of their pieces
// (sums of parts, so some slack is kept) and leaves s in the plan's
// shortMode.
func planLayout(t *textView, s *structView) (layoutPlan, error) {
	f := t.f
	N := len(f.p.Rows)

	// Text and Structured are planned separately, each in its full and its
	// terse form (tried when the budget is small, when not a single row fits
	// otherwise, or when the full essentials alone do not fit). A terse form
	// is kept only when it raises the rows shown by both together.
	terse := func(full int, forced bool, below int) bool {
		return forced || N > 0 && (f.budget < below || full == 0)
	}
	// Under ViewsText Structured is slim (no rows), and under
	// ViewsStructured it carries the text's table (Structured.Table, within
	// the room its other fields leave, f.reserve): the text's plan alone
	// decides the rows.
	table := f.views == ViewsStructured
	slim := f.views == ViewsText || table
	if table {
		for i, minimal := range []bool{false, true} {
			r, err := s.tableReserve(minimal)
			if err != nil {
				return layoutPlan{}, err
			}
			f.reserve[i] = r
		}
	}
	var tN, tC textPlan
	tN = planText(t, false)
	overCSV := t.fullOverCSV(tN)
	if terse(tN.n, tN.forced, compactTextBudget) || overCSV {
		tC = planText(t, true)
	}
	bestT := max(tN.n, tC.n)
	var sN, sM structPlan
	var err error
	if slim {
		sN = structPlan{l: structLayout{slim: !table, table: table}, n: N}
	} else {
		if sN, err = planStruct(s, t, false, bestT); err != nil {
			return layoutPlan{}, err
		}
		if terse(sN.n, sN.forced, compactBudget) {
			if sM, err = planStruct(s, t, true, bestT); err != nil {
				return layoutPlan{}, err
			}
		}
	}
	bestS := max(sN.n, sM.n)
	if tC.avail == 0 && tC.n == 0 && N > 0 && bestS < tN.n && f.budget < compactTextBudget {
		// Structured holds the rows below what the full text shows: the
		// terse text shows as many for fewer tokens.
		tC = planText(t, true)
	}
	tp, sp := tN, sN
	// The terse text is kept when it shows more rows, and from
	// compactBudget to compactTextBudget also when it shows as many: there
	// the full text's provenance, labels and hints would cost more than
	// plain CSV of the rows (under both, Structured may hold the rows to
	// fewer than the text could show).
	tieTerse := f.budget >= compactBudget && f.budget < compactTextBudget || overCSV
	if tN.forced || min(tC.n, bestS) > min(tN.n, bestS) || tC.l.compact && tieTerse && min(tC.n, bestS) == min(tN.n, bestS) {
		tp = tC
	}
	if sN.forced || min(sM.n, tp.n) > min(sN.n, tp.n) {
		sp = sM
	}
	pl := layoutPlan{tl: tp.l, sl: sp.l, n: min(tp.n, sp.n), short: sp.short}
	pl.sl.minimal = pl.sl.minimal || table && pl.tl.compact
	availT, availS := tp.avail, sp.avail
	s.shortMode = sp.short

	// With the row count settled, statistics get what is left.
	rowsT, rowsS := 0, 0
	if pl.n > 0 {
		rowsT = t.rowsFixedTok[b2i(pl.tl.compact)] + sumCost(pl.n, t.rowCost)
	}
	if pl.n > 0 && !slim {
		rowsS = sumCost(pl.n, s.rowCost)
	}
	// Hints (what to do next) come after the rows, and before statistics
	// only because they are one short line that says how to get the rest.
	if hint := CountTokens(t.hintLine); !table && !pl.tl.compact && availT-rowsT >= hint {
		pl.tl.hints = true
		availT -= hint
	}
	roomT, roomS := availT-rowsT, availS-rowsS
	if len(f.stats) > 0 && pl.n > 0 && pl.n < N && !f.sample {
		// The budget left fetched rows out: statistics (of the fetched
		// rows only) must not make the page cost more tokens than plain
		// CSV of the rows it shows (at least CSV's rows per token). A
		// page that shows every row it has (the caller's limit, or the
		// end of the result) gives statistics the room rows leave.
		csv := t.csvCost(pl.n) - planSlack(f.budget, false)
		roomT = min(roomT, csv-t.count(pl.tl, pl.n)-t.reserve(pl.tl))
		if !slim && pl.sl.columnsN == len(s.cols) {
			_, tok, err := s.encode(pl.sl, pl.n)
			if err != nil {
				return layoutPlan{}, err
			}
			roomS = min(roomS, csv-tok)
		}
	}
	pl.tl.statsN, _ = prefixFit(len(f.stats), roomT, t.statCost)
	if !slim && pl.sl.columnsN == len(s.cols) {
		pl.sl.statsN, _ = prefixFit(len(f.stats), roomS, s.statCost(pl.sl.noTop))
	}
	return pl, nil
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

// planSlack is the room kept free when planning (estimates are sums of
// parts): the terse forms serve small budgets, where every token counts and
// the exact check that follows trims any excess.
func planSlack(budget int, terse bool) int {
	if terse {
		return 2
	}
	return 8 + budget/100
}

// planText lays the text out in its full or terse (compact) form.
func planText(t *textView, compact bool) textPlan {
	N, C := len(t.f.p.Rows), len(t.f.cols)
	table := t.f.views == ViewsStructured
	if N > 0 && C > 0 {
		// Rows shown: the CSV header names the columns, the schema line
		// gives their types only.
		tp := textPlan{l: textLayout{compact: compact, typesOnly: true, schemaN: C, table: table}}
		tp.avail = t.f.budget - planSlack(t.f.budget, compact) - CountTokens(t.render(tp.l, 0)) - t.reserve(tp.l)
		tp.n, _ = splitStatsRows(tp.avail, N, len(t.f.stats), t.statCost, t.rowCost, t.rowsFixedTok[b2i(compact)], t.f.sample)
		if tp.n > 0 {
			return tp
		}
	}
	tp := textPlan{l: textLayout{compact: compact, table: table}}
	tp.avail = t.f.budget - planSlack(t.f.budget, compact) - CountTokens(t.render(tp.l, 0)) - t.reserve(tp.l)
	tp.forced = tp.avail < 0 && !compact
	var used int
	tp.l.schemaN, used = listColumns(C, tp.avail, t.schemaAllTok[b2i(compact)], func(i int) int { return t.schemaItemTok[i] })
	tp.avail -= used
	tp.n, _ = splitStatsRows(tp.avail, N, len(t.f.stats), t.statCost, t.rowCost, t.rowsFixedTok[b2i(compact)], t.f.sample)
	return tp
}

// fewRowsFull is the most rows whose full text layout fullOverCSV checks
// against plain CSV: from about this many rows on, the rows repay the full
// layout's labels (DEX trades from 6 rows, the wide table from 2).
const fewRowsFull = 4

// fullOverCSV reports whether the full text layout tp, showing a few rows
// and leaving fetched rows out (the budget holds the rows back), at a
// budget where the terse layout is not otherwise tried, costs more than
// plain CSV of those rows (a row or two of a wide table): the terse layout
// is then tried, and kept when it shows as many rows. A page that shows
// all its rows keeps the full layout: the budget has room for its labels.
func (t *textView) fullOverCSV(tp textPlan) bool {
	if tp.n == 0 || tp.n > fewRowsFull || tp.n >= len(t.f.p.Rows) || t.f.budget < compactTextBudget || t.f.sample {
		return false
	}
	hints := 0
	if !tp.l.table {
		hints = CountTokens(t.hintLine) // added when they fit (planLayout)
	}
	return t.count(tp.l, tp.n)+hints+t.reserve(tp.l) > t.csvCost(tp.n)
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
// number of rows the text t can show (long cells are shortened in
// Structured only when carrying them whole would show fewer rows than that).
func planStruct(s *structView, t *textView, minimal bool, nT int) (structPlan, error) {
	N, C := len(s.f.p.Rows), len(s.cols)
	sp := structPlan{l: structLayout{minimal: minimal}}
	s.shortMode = false
	_, base, err := s.encode(sp.l, 0)
	if err != nil {
		return sp, err
	}
	sp.avail = s.f.budget - planSlack(s.f.budget, minimal) - base
	sp.forced = sp.avail < 0 && !minimal
	all := sp.l
	all.columnsN = C
	_, withCols, err := s.encode(all, 0)
	if err != nil {
		return sp, err
	}
	var used int
	sp.l.columnsN, used = listColumns(C, sp.avail, withCols-base, func(i int) int { return s.colTok[i] })
	sp.avail -= used
	if sp.l.columnsN < C {
		return sp, nil // rows only with every column listed
	}
	fit := func() int {
		S := len(s.f.stats)
		n, k := splitStatsRows(sp.avail, N, S, s.statCost(sp.l.noTop), s.rowCost, 0, s.f.sample)
		if k < S && s.anyTop && !sp.l.noTop {
			sp.l.noTop = true
			n, _ = splitStatsRows(sp.avail, N, S, s.statCost(true), s.rowCost, 0, s.f.sample)
		}
		return n
	}
	sp.n = fit()
	if min(nT, sp.n) < nT && t.anyLongCell(nT) {
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

// listColumns returns how many of n columns a listing shows within avail
// tokens, and the tokens they take: all of them when the whole listing
// (whole tokens, counted exactly) fits, else the first ones whose items
// (estimated by item) fit.
func listColumns(n, avail, whole int, item func(int) int) (k, used int) {
	if whole <= avail {
		return n, whole
	}
	return prefixFit(n, avail, item)
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

// sumCost is the sum of the first n costs.
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

// splitStatsRows shares avail tokens between statistics and rows: rows
// first (statistics cover only the fetched rows, so they never take room a
// row could have), statistics get whatever the rows leave.
func splitStatsRows(avail, nRows, nStats int, statCost, rowCost func(int) int, rowsFixed int, sample bool) (rows, stats int) {
	if sample {
		return splitSampleStatsRows(avail, nRows, nStats, statCost, rowCost, rowsFixed)
	}
	if avail <= 0 {
		return 0, 0
	}
	n, ru := 0, 0
	if rc := avail - rowsFixed; rc > 0 {
		n, ru = prefixFit(nRows, rc, rowCost)
	}
	if n > 0 {
		ru += rowsFixed
	}
	k, _ := prefixFit(nStats, avail-ru, statCost)
	return n, k
}

// splitSampleStatsRows shares avail tokens between statistics and rows of
// a sample (sample_result profiles a result: its statistics describe the
// population, so they come before most rows): rows may
// claim the first rowFloor tokens (at small budgets a few real rows tell more
// than statistics), statistics then take at most half while there are rows to
// show, rows the rest (at least one row when one fits at all), and statistics
// get back whatever rows leave unused.
func splitSampleStatsRows(avail, nRows, nStats int, statCost, rowCost func(int) int, rowsFixed int) (rows, stats int) {
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

// rowFloor is the room (tokens) a sample's rows may claim before its
// statistics get any; from about twice this room on, statistics get up to
// half of it.
const rowFloor = 700

// RowsThatFit is the layout rule of a page in a budget, for sizing fetches:
// how many rows of rowTokens tokens each (Output.RowTokens, Draft.Planned)
// and ncols columns the summary shows within budget tokens. It models the
// layout: essentials and the column list first, rows the rest (statistics
// only take what rows leave).
func RowsThatFit(budget int, rowTokens float64, ncols int) float64 {
	room := float64(budget) - 160 - 11*float64(ncols)
	if room <= 0 || rowTokens <= 0 {
		return 0
	}
	return room / rowTokens
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
