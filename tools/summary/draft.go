package summary

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/schemas"
)

const (
	// growTries bounds the rows added one by one after the exact check,
	// when the estimates (sums of parts, with slack) left room: each is
	// checked by rendering and counting again, which costs little since
	// counting reuses the pieces' counts (split.go).
	growTries = 4
	// typicalCursor stands for a tools cursor (42 bytes in base64url) while
	// planning without the cursor function (Draft.Planned).
	typicalCursor = "OQyMfXJHNCzYEA8vb3cNZdZw5Y4DUdiujk9urDQvwjG3sIcW6z_BKJa5"
	// tooSmallNote is added to the notes when not a row of the page fits.
	tooSmallNote = "max_tokens %d is too small to show one row of these %d columns: call next_page with a larger max_tokens, or get_latest_result with fewer columns."
)

// frame is the page being summarised as both views read it: the page, its
// columns and statistics, the cell bound, the notes shown, and the cursor
// of the rendering under way. The Draft owns and updates it.
type frame struct {
	p      Page
	budget int
	now    time.Time
	sample bool
	cols   []schemas.Column
	views  Views
	// konst marks the columns given once instead of in each row (see
	// findConstants); nil: none.
	konst []bool
	// constN is how many of the page's first rows konst and affixes are
	// found over (constPrefix, widened by Draft.layout).
	constN int
	// firstCSVTok is the tokens of the first row as plain CSV (0: not
	// counted yet; see constPrefix).
	firstCSVTok int
	// affixes are the common parts the text table's cells leave out (see
	// findAffixes); nil: none.
	affixes []affix
	// reserve is, under ViewsStructured, the tokens Structured takes
	// besides its table, full and minimal (see structView.tableReserve).
	reserve   [2]int
	statsRows []dune.Row
	stats     []colStats
	// statsDropped counts the columns whose statistics say nothing (see
	// informative), left out of stats.
	statsDropped int
	// statsKnown: stats were computed (see Draft.ready).
	statsKnown bool
	fetched    int
	notes      []string // p.Notes, and the too-small note while it is tried

	// cellLimit, cellKeep: cells longer than cellLimit runes are cut to
	// their first cellKeep (CellLimit, cellKeep unless the page is a few
	// rows; see cellBound).
	cellLimit, cellKeep int

	cursorFn CursorFunc
	cursors  map[int]string
}

// cursor memoises the cursor function.
func (f *frame) cursor(shown int) string {
	if f.cursorFn == nil {
		return ""
	}
	c, ok := f.cursors[shown]
	if !ok {
		c = f.cursorFn(shown)
		f.cursors[shown] = c
	}
	return c
}

// useCursor sets the cursor function of the rendering that starts.
func (f *frame) useCursor(cursor CursorFunc) {
	f.cursorFn, f.cursors = cursor, map[int]string{}
}

// left is the number of result rows after the first shown ones.
func (f *frame) left(shown int) int {
	if f.sample {
		return len(f.p.Rows) - shown
	}
	return max(f.p.TotalRowCount-f.p.Offset-shown, len(f.p.Rows)-shown, 0)
}

// rowsCut reports whether rows of the result are not shown.
func (f *frame) rowsCut(shown int) bool {
	return shown < len(f.p.Rows) || f.left(shown) > 0
}

// Draft is one page being summarised within a budget: its rows are measured
// once, then it is rendered once.
//
// A caller that may fetch more rows asks Planned how many rows the layout
// shows and what a row costs, fetches the rows that should still fit
// (RowsThatFit), appends them with Extend, and calls Render. Rows measured
// before Extend are not measured again. A Draft is not safe for concurrent
// use.
type Draft struct {
	f       frame
	text    *textView
	st      *structView
	statsOK bool // f.stats and the views' statistics pieces match f.statsRows
	// wantStats: the rows leave room for statistics, so they are computed
	// (always for a sample, whose statistics profile the result).
	wantStats bool
	// exact: count each encoding of Structured whole while laying out
	// (after the sum of its parts fell short; see structView.estimate).
	exact bool
}

// NewDraft validates the shape of p (every row has a value per column) and
// the budget, and prepares p for rendering within budget tokens.
// Statistics are computed, and rows measured, when first needed.
func NewDraft(p Page, budget int) (*Draft, error) {
	if budget < 1 {
		return nil, errors.New("summary: budget must be at least 1 token")
	}
	if err := checkRows("row", p.Rows, len(p.Columns)); err != nil {
		return nil, err
	}
	if err := checkRows("stats row", p.StatsRows, len(p.Columns)); err != nil {
		return nil, err
	}
	d := &Draft{f: frame{p: p, budget: budget, now: p.Now, sample: p.SampleCount > 0, notes: p.Notes, views: p.Views}}
	f := &d.f
	if f.now.IsZero() {
		f.now = time.Now()
	}
	f.cellLimit, f.cellKeep = cellBound(p, budget)
	f.cols = make([]schemas.Column, len(p.Columns))
	for i, c := range p.Columns {
		f.cols[i] = schemas.Column(c)
	}
	d.setStatsRows()
	f.constN = f.constPrefix()
	f.findConstants()
	d.text = newTextView(f)
	d.st = newStructView(f)
	d.text.countRowsFixed()
	return d, nil
}

// checkRows returns an error naming the first of rows (what they are) that
// has not ncols values.
func checkRows(what string, rows []dune.Row, ncols int) error {
	for i, r := range rows {
		if len(r) != ncols {
			return fmt.Errorf("summary: %s %d has %d values for %d columns", what, i, len(r), ncols)
		}
	}
	return nil
}

// setStatsRows points statistics at the page's StatsRows (its Rows without
// them); they are computed again when next needed.
func (d *Draft) setStatsRows() {
	f := &d.f
	f.statsRows = f.p.StatsRows
	if f.statsRows == nil {
		f.statsRows = f.p.Rows
	}
	f.fetched = len(f.statsRows)
	d.statsOK, d.wantStats = false, false
}

// ready computes the statistics and their pieces in both views, when the
// rows they are computed over changed.
//
// Statistics are computed only when they can show: for a sample, or once a
// plan shows every row of the page (see plan). Otherwise the rows take the
// budget and the statistics of the fetched rows are not computed at all.
func (d *Draft) ready() {
	if d.statsOK {
		return
	}
	f := &d.f
	if d.wantStats || f.sample {
		f.stats, f.statsDropped = f.informative(statsFor(f.p.Columns, f.statsRows))
		f.statsKnown = true
	} else {
		f.stats, f.statsDropped, f.statsKnown = nil, 0, false
	}
	d.text.prepareStats()
	d.st.prepareStats()
	d.statsOK = true
}

// plan lays the page out. When the plan shows every row of the page, the
// room left may hold statistics: they are computed then, and the page laid
// out again with them (render also computes them when the rows leave a
// tenth of the budget unused, e.g. rows too wide for one more).
func (d *Draft) plan() (layoutPlan, error) {
	pl, err := d.layout()
	f := &d.f
	if err != nil || f.statsKnown || f.fetched == 0 || pl.n < len(f.p.Rows) {
		return pl, err
	}
	return d.withStats()
}

// withStats computes the statistics and plans the page again.
func (d *Draft) withStats() (layoutPlan, error) {
	d.wantStats, d.statsOK = true, false
	d.ready()
	return d.layout()
}

// layout plans the page (planLayout) so that constant columns and common
// parts hold for every row it may show: when the plan, and the rows
// render may add to it (growTries), reach past the rows they were found
// over (f.constN), they are found again over those rows and, when that
// changed them, the rows are measured again and the page planned again.
// Each round widens f.constN; after a few, it is the whole page.
func (d *Draft) layout() (layoutPlan, error) {
	f := &d.f
	for round := 0; ; round++ {
		pl, err := planLayout(d.text, d.st)
		need := min(len(f.p.Rows), pl.n+growTries)
		if err != nil || need <= f.constN {
			return pl, err
		}
		f.constN = need
		if round >= 2 {
			f.constN = len(f.p.Rows)
		}
		if f.findConstants() {
			d.text.prepareTable()
			d.text.forgetRows()
		}
	}
}

// Planned returns how many of the page's rows the layout plan shows (before
// the exact token check; a cursor of typical length is assumed), and the
// mean token cost of a row (the max of its text and structured cost; the
// first row's when none fit; 0 without rows). When rows is all of the
// page's rows and the result has more, a caller can fetch the rows that
// should still fit (see RowsThatFit) and Extend the draft with them.
func (d *Draft) Planned() (rows int, rowTokens float64) {
	d.ready()
	f := &d.f
	f.useCursor(func(shown int) string {
		if f.sample || f.p.Offset+shown >= f.p.TotalRowCount {
			return ""
		}
		return typicalCursor
	})
	pl, err := d.plan()
	if err != nil { // a value JSON cannot encode: Render reports it
		d.st.shortMode = false
		return 0, d.meanRowTokens(0)
	}
	return pl.n, d.meanRowTokens(pl.n)
}

// Extend appends rows that directly follow the page's rows (fetched by a
// top-up); they are shown-candidates and count for statistics too; total
// is the new total row count and datapoints the call's new datapoint total.
// The page is no longer one served from the cache. Token measurements
// already made are kept: rows already measured are not tokenised again
// (unless the longer page changes the cell bound, see CellLimit). The
// slices of the Page given to NewDraft are not modified.
func (d *Draft) Extend(rows []dune.Row, total, datapoints int) error {
	f := &d.f
	if err := checkRows("extension row", rows, len(f.p.Columns)); err != nil {
		return err
	}
	sameRows := len(f.p.StatsRows) == len(f.p.Rows) && len(f.p.Rows) > 0 && &f.p.StatsRows[0] == &f.p.Rows[0]
	f.p.Rows = slices.Concat(f.p.Rows, rows)
	switch {
	case sameRows:
		f.p.StatsRows = f.p.Rows
	case f.p.StatsRows != nil:
		f.p.StatsRows = slices.Concat(f.p.StatsRows, rows)
	}
	f.p.TotalRowCount, f.p.Datapoints, f.p.FromCache = total, datapoints, false
	d.setStatsRows()
	f.constN = f.constPrefix()
	if f.findConstants() {
		d.text.prepareTable()
		d.text.forgetRows()
	}
	if limit, keep := cellBound(f.p, f.budget); limit != f.cellLimit || keep != f.cellKeep {
		f.cellLimit, f.cellKeep = limit, keep
		d.text.forgetRows()
		d.st.forgetShortRows()
	}
	d.text.countRowsFixed()
	return nil
}

// SetNow sets the time the result's age is reckoned from (Page.Now; the
// wall clock when zero), for a draft made before the page it renders, as
// one started on the page's first rows and extended with the rest.
func (d *Draft) SetNow(now time.Time) {
	if now.IsZero() {
		now = time.Now()
	}
	d.f.now = now
	d.text.prepareHead()
}

// SameAge reports whether the result's age reckoned from now reads as the
// age the draft renders (from Page.Now or SetNow): the age is the only
// part of an Output that depends on the time.
func (d *Draft) SameAge(now time.Time) bool {
	t := d.text
	return t.ageFrom.IsZero() || ago(t.ageFrom, now) == t.age
}

// RowsRead is how many of the page's first rows the draft has read so
// far: the rows its constant columns and common parts were found over, the
// rows it measured or rendered, and, once statistics were computed (or the
// cell bound depends on every row, see cellBound), all of them. Past those
// rows, only the number of rows reaches an Output: a page whose later rows
// are stand-ins renders what the page with the real rows would (given the
// same head, count, total and datapoints). tools/early.go renders a page
// that way before its last rows arrive.
func (d *Draft) RowsRead() int {
	f, t, s := &d.f, d.text, d.st
	N := len(f.p.Rows)
	if f.statsKnown || N <= fewRows {
		return N
	}
	n := max(f.constN, 1, len(t.rowLines), len(t.rowTok), len(t.plainRowTok),
		len(s.srowTok), len(s.srowShort), len(s.srowJS), len(s.srowShortJS))
	return min(n, N)
}

// Render lays out and renders the page once: both Output.Text and the JSON
// encoding of Output.Structured have at most the budget's tokens. The
// cursor function is called with the number of rows shown; nil means no
// cursor can be offered. When the page has rows and not one fits, the
// notes of both views say so (max_tokens too small for one row), unless
// the page's notes already do or the note itself does not fit.
func (d *Draft) Render(cursor CursorFunc) (Output, error) {
	d.ready()
	f := &d.f
	f.useCursor(cursor)
	out, err := d.render()
	note := fmt.Sprintf(tooSmallNote, f.budget, len(f.cols))
	if err != nil || out.ShownRows > 0 || len(f.p.Rows) == 0 || slices.Contains(f.p.Notes, note) {
		return out, err
	}
	f.notes = append(slices.Clip(f.p.Notes), note)
	d.text.prepareHead()
	noted, err := d.render()
	f.notes = f.p.Notes
	d.text.prepareHead()
	if err != nil || noted.ShownRows > 0 {
		return out, nil // the note does not fit (or no longer holds)
	}
	return noted, nil
}

// render plans the layout, then checks and trims it until both views fit.
func (d *Draft) render() (Output, error) {
	if d.f.views == ViewsStructured {
		return d.renderTable()
	}
	pl, err := d.plan()
	if err != nil {
		return Output{}, err
	}
	t, s, budget := d.text, d.st, d.f.budget
	tl, sl, n := pl.tl, pl.sl, pl.n
	hard := false
	for {
		if tl.typesOnly && n == 0 {
			// No row left to name the columns: list them in full.
			tl.typesOnly, tl.schemaN = false, len(d.f.cols)
		}
		text := t.render(tl, n)
		tt := t.count(tl, n)
		if c := sized(text, tt); c > budget {
			if t.shrink(&tl, &n, c-budget) {
				continue
			}
			text = t.hardCut(tl, n)
			tt = CountTokens(text)
			hard = true
		}
		encode := s.estimate
		if d.exact {
			encode = s.encode
		}
		st, stt, err := encode(sl, n)
		if err != nil {
			return Output{}, err
		}
		if c := max(stt, s.lastQuarter); c > budget {
			if s.shrink(&sl, &n, c-budget) {
				continue
			}
			if !d.exact {
				d.exact = true
				defer func() { d.exact = false }()
				return d.render()
			}
			return Output{}, fmt.Errorf("%w: %d tokens needed, budget %d", ErrBudgetTooSmall, c, budget)
		}
		if !d.f.statsKnown && d.f.fetched > 0 && !hard {
			// The rows leave room no further row fits in: statistics may.
			room := budget - sized(text, tt)
			if !sl.slim {
				room = min(room, budget-max(stt, s.lastQuarter))
			}
			if room >= max(100, budget/10) {
				if pl, err = d.withStats(); err != nil {
					return Output{}, err
				}
				tl, sl, n = pl.tl, pl.sl, pl.n
				continue
			}
		}
		out := Output{Text: text, Structured: st, ShownRows: n, TextTokens: tt, StructuredTokens: stt}
		if !hard {
			d.grow(&out, tl, sl)
		}
		js, _, err := s.marshal(out.Structured) // json.Marshal(out.Structured), rows encoded once
		if err != nil {
			return Output{}, fmt.Errorf("summary: encoding structured content: %w", err)
		}
		out.StructuredJSON = js
		if !d.exact {
			// The one count of the final encoding: Structured's count was
			// added up from its parts until now.
			out.StructuredTokens = countLarge(string(js))
			if sized(js, out.StructuredTokens) > budget {
				// The sum was short of the count: lay out again, counting
				// each encoding whole.
				d.exact = true
				defer func() { d.exact = false }()
				return d.render()
			}
		}
		// Laid out with ageSlot for the age: the real one goes in last.
		out.Text, out.TextTokens = t.withAge(out.Text, tl.compact, out.TextTokens)
		out.RowTokens = d.meanRowTokens(out.ShownRows)
		return out, nil
	}
}

// grow adds rows one by one to a result that fits, while both renderings
// still fit: the plan's estimates keep some slack, which at small budgets
// can be worth a row or two.
//
// No row is counted again: the text's count is added up from its parts
// (textView.count), and Structured's is estimated as the count that fits
// plus the added rows' (their sum is the list's, see structView.rowCost),
// then checked once by counting its encoding. If that check fails, rows are
// added as before, counting Structured for each.
func (d *Draft) grow(out *Output, tl textLayout, sl structLayout) {
	t, s, budget := d.text, d.st, d.f.budget
	if !sl.slim && sl.columnsN < len(s.cols) {
		return
	}
	fits := *out
	est := out.StructuredTokens
	estimated := false
	for range growTries {
		n := out.ShownRows
		if n >= d.f.constN {
			break // constants were found over the first constN rows (layout)
		}
		fixed := 0
		if n == 0 {
			fixed = t.rowsFixedTok[b2i(tl.compact)]
		}
		if budget-out.TextTokens < fixed+t.rowCost(n) || !sl.slim && budget-est < s.rowCost(n) {
			break
		}
		// The text's quarterLen is at most a quarter of its bytes: it is
		// rendered to measure it only when that bound is over the budget.
		tt, size := t.countLen(tl, n+1)
		if tt > budget || (size+3)/4 > budget && quarterLen(t.render(tl, n+1)) > budget {
			break
		}
		if !sl.slim {
			est += s.rowCost(n)
			if n == 0 {
				est += 2 // the list's brackets
			}
		}
		out.TextTokens, out.ShownRows = tt, n+1
		estimated = true
	}
	if !estimated {
		return
	}
	// The text is rendered once, with the rows the tries added.
	out.Text = t.render(tl, out.ShownRows)
	if !d.exact {
		// render counts the final encoding once.
		out.Structured, out.StructuredTokens, _ = s.estimate(sl, out.ShownRows)
		if out.Structured != nil {
			return
		}
	}
	st, stt, err := s.encode(sl, out.ShownRows)
	if err == nil && max(stt, s.lastQuarter) <= budget {
		out.Structured, out.StructuredTokens = st, stt
		return
	}
	*out = fits
	d.growCounted(out, tl, sl)
}

// growCounted is grow counting each rendering of both views whole.
func (d *Draft) growCounted(out *Output, tl textLayout, sl structLayout) {
	t, s, budget := d.text, d.st, d.f.budget
	for range growTries {
		n := out.ShownRows
		if n >= d.f.constN {
			return
		}
		text := t.render(tl, n+1)
		tt := t.count(tl, n+1)
		if sized(text, tt) > budget {
			return
		}
		st, stt, err := s.encode(sl, n+1)
		if err != nil || max(stt, s.lastQuarter) > budget {
			return
		}
		*out = Output{Text: text, Structured: st, ShownRows: n + 1, TextTokens: tt, StructuredTokens: stt}
	}
}

// meanRowTokens is the mean cost of the first n rows (of the first row when
// n is 0) in the view that carries them (the larger of the two under
// ViewsBoth); 0 without rows.
func (d *Draft) meanRowTokens(n int) float64 {
	k := min(max(n, 1), len(d.f.p.Rows))
	if k == 0 {
		return 0
	}
	sum := 0
	for i := range k {
		switch d.f.views {
		case ViewsText, ViewsStructured:
			sum += d.text.rowCost(i)
		default:
			sum += max(d.text.rowCost(i), d.st.rowCost(i))
		}
	}
	return float64(sum) / float64(k)
}

// extend returns s grown to n elements, the new ones set to v.
func extend[T any](s []T, n int, v T) []T {
	old := len(s)
	if n <= old {
		return s
	}
	s = slices.Grow(s, n-old)[:n]
	for i := old; i < n; i++ {
		s[i] = v
	}
	return s
}

// sized is max(tokens, quarterLen(s)): the larger of s's two measures,
// with quarterLen computed only when its bound, a quarter of s's bytes
// (a UTF-16 code unit takes at least one byte), is over tokens; for data
// it seldom is, and a result is checked against the budget several times.
func sized[T ~string | ~[]byte](s T, tokens int) int {
	if (len(s)+3)/4 <= tokens {
		return tokens
	}
	return max(tokens, quarterLen(string(s)))
}

// quarterLen is Claude Code's measure of a tool result's size: its length
// in UTF-16 code units over four, rounded up. Clients that cap results
// that way (MAX_MCP_OUTPUT_TOKENS) must not reject a result that fits its
// o200k budget, so both measures are held to the budget.
func quarterLen(s string) int { return (utf16Len(s) + 3) / 4 }
