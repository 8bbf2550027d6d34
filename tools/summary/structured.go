package summary

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dune-mcp/dune-mcp/schemas"
)

// structLayout says how much of each cuttable part Structured carries.
type structLayout struct {
	columnsN int  // columns listed
	statsN   int  // columns with stats
	noTop    bool // top values dropped from stats
	minimal  bool // notes, filters and sort_by echo dropped, terse omitted entries
	// slim: the rows are in the text (ViewsText): no rows, columns or
	// statistics, an omitted entry saying where the rows are instead.
	slim bool
	// table: the rows are in Table (ViewsStructured), as the text's table
	// renders them: no rows, columns or statistics either.
	table bool
}

// structView is the structured rendering of a page: its pieces and their
// token counts. Rows are counted when first needed, and stay counted when
// the page is extended.
type structView struct {
	f *frame

	// cols are the columns Structured lists and rows carry: every column
	// (under ViewsBoth the client is unknown, and so is whoever reads
	// structuredContent: programs page and compare rows with it, the evals
	// among them).
	cols []schemas.Column

	colTok      []int
	cstats      []schemas.ColumnStats
	cstatsNoTop []schemas.ColumnStats
	cstatTok    []int
	cstatNoTok  []int
	anyTop      bool
	lastQuarter int   // quarterLen of the JSON the last encode produced
	shortMode   bool  // long cells shortened in Structured.Rows
	srowTok     []int // full rows, -1 until counted
	srowShort   []int // rows with long cells shortened, -1 until counted
	// The rows' JSON, each row encoded once (rowJSON): the counts above
	// are of it, and Structured's encoding (marshal) is built from it.
	// Both grow as rows are encoded (rows past those shown rarely are).
	srowJS      []encodedRow // full rows
	srowShortJS []shortRow   // rows with long cells shortened
	scratch     []byte       // rowJSON's buffer
}

// encodedRow is the JSON of a row, kept.
type encodedRow struct {
	js    string // "" until encoded
	units int    // its length in UTF-16 code units
}

// shortRow is a row with its long cells shortened, and its JSON.
type shortRow struct {
	row  []any // the page's row when no cell is cut
	cut  int   // cells shortened
	made bool  // row and cut are set
	encodedRow
}

// grownTo returns &(*s)[i], growing *s with zero values to hold it.
func grownTo[T any](s *[]T, i int) *T {
	if old := len(*s); i >= old {
		*s = slices.Grow(*s, i+1-old)[:i+1]
		clear((*s)[old:])
	}
	return &(*s)[i]
}

// newStructView prepares the pieces that depend on the columns;
// statistics come with prepareStats, rows as they are measured (rowCost).
func newStructView(f *frame) *structView {
	s := &structView{f: f}
	s.prepareColumns()
	return s
}

// prepareColumns counts the columns Structured carries.
func (s *structView) prepareColumns() {
	s.cols = s.f.cols
	s.colTok = make([]int, len(s.cols))
	for i, c := range s.cols {
		s.colTok[i] = jsonTokens(c) + 1
	}
}

// prepareStats builds each column's statistics as Structured carries them,
// with and without top values, and counts them.
func (s *structView) prepareStats() {
	s.anyTop = false
	s.cstats = make([]schemas.ColumnStats, len(s.f.stats))
	s.cstatsNoTop = make([]schemas.ColumnStats, len(s.f.stats))
	s.cstatTok = make([]int, len(s.f.stats))
	s.cstatNoTok = make([]int, len(s.f.stats))
	for i := range s.f.stats {
		st := &s.f.stats[i]
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

// forgetShortRows drops the counts of shortened rows (the cell bound
// changed); full rows do not depend on it.
func (s *structView) forgetShortRows() {
	s.srowShort, s.srowShortJS = nil, nil
}

func jsonTokens(v any) int {
	b, err := json.Marshal(v)
	if err != nil {
		return 1 << 20 // never fits; the final encoding reports the error
	}
	return CountTokens(string(b))
}

// statCost is the cost of column i's statistics, with or without top values.
func (s *structView) statCost(noTop bool) func(int) int {
	if noTop {
		return func(i int) int { return s.cstatNoTok[i] }
	}
	return func(i int) int { return s.cstatTok[i] }
}

// row returns row i as Structured carries it.
func (s *structView) row(i int) ([]any, int) {
	row := []any(s.f.p.Rows[i])
	if !s.shortMode {
		return row, 0
	}
	m := grownTo(&s.srowShortJS, i)
	if !m.made {
		m.row, m.cut = s.shortenRow(row)
		m.made = true
	}
	return m.row, m.cut
}

// shortenRow returns row with its long cells shortened (row itself when
// none is) and the number of cells shortened.
func (s *structView) shortenRow(row []any) ([]any, int) {
	var out []any
	cut := 0
	for c, v := range row {
		str, ok := v.(string)
		if !ok {
			continue
		}
		if sh, did := shorten(str, s.f.cellLimit, s.f.cellKeep); did {
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

// rowCost is the cost of row i as Structured carries it (in the current
// shortMode); "],[" is one token, so the rows' sum is the list's.
func (s *structView) rowCost(i int) int {
	memo := &s.srowTok
	if s.shortMode {
		memo = &s.srowShort
	}
	if i >= len(*memo) {
		*memo = extend(*memo, i+1, -1) // grown as rows are measured
	}
	m := *memo
	if m[i] < 0 {
		r, _ := s.row(i)
		if js, _, err := s.rowJSON(i, r); err != nil {
			m[i] = 1 << 20 // never fits; the final encoding reports the error
		} else {
			m[i] = CountTokens(js)
		}
	}
	return m[i]
}

// rowJSON returns the JSON of r, row i of a Structured s rendered, and its
// length in UTF-16 code units: encoded once per row and kept, for the
// page's row i and for its shortened form (row), and encoded afresh for
// any other r.
func (s *structView) rowJSON(i int, r []any) (string, int, error) {
	var m *encodedRow
	switch {
	case len(r) == 0: // nil and empty encode differently; nothing to keep
	case i < len(s.f.p.Rows) && sameRow(r, s.f.p.Rows[i]):
		m = grownTo(&s.srowJS, i)
	case i < len(s.srowShortJS) && s.srowShortJS[i].made && sameRow(r, s.srowShortJS[i].row):
		m = &s.srowShortJS[i].encodedRow
	}
	if m != nil && m.js != "" {
		return m.js, m.units, nil
	}
	b, err := appendJSON(s.scratch[:0], r)
	s.scratch = b[:0]
	if err != nil {
		return "", 0, err
	}
	js, units := string(b), utf16Len(b)
	if m != nil {
		m.js, m.units = js, units
	}
	return js, units, nil
}

// sameRow reports whether a and b are the same non-empty row (the same
// cells in memory, not equal ones).
func sameRow(a, b []any) bool {
	return len(a) == len(b) && len(a) > 0 && &a[0] == &b[0]
}

// rowsField is where Structured's rows go in its JSON without them:
// after returned_rows's value (the field before rows in schemas.Structured).
// No JSON string can contain it (a quote in a string is escaped), and only
// Structured itself has a returned_rows member.
var rowsField = []byte(`,"returned_rows":`)

// withoutRows returns json.Marshal(st) with st.Rows left out, and the
// offset in it where the rows' member goes.
func withoutRows(st *schemas.Structured) ([]byte, int, error) {
	rows := st.Rows
	st.Rows = nil
	bare, err := json.Marshal(st)
	st.Rows = rows
	if err != nil {
		return nil, 0, err
	}
	at := bytes.Index(bare, rowsField)
	if at < 0 {
		return nil, 0, fmt.Errorf("no %s in the encoding", rowsField)
	}
	at += len(rowsField)
	for at < len(bare) && (bare[at] == '-' || '0' <= bare[at] && bare[at] <= '9') {
		at++
	}
	return bare, at, nil
}

// The rows' member around the rows, which commas separate.
const rowsOpen, rowsClose = `,"rows":[`, `]`

// rowsJSON returns the JSON of rows, the rows of a Structured s rendered
// (rowJSON), with the size and UTF-16 length of their member
// (rowsOpen, the rows and commas, rowsClose).
func (s *structView) rowsJSON(rows [][]any) (encs []string, size, units int, err error) {
	encs = make([]string, len(rows))
	for i, r := range rows {
		var u int
		if encs[i], u, err = s.rowJSON(i, r); err != nil {
			return nil, 0, 0, err
		}
		size += len(encs[i])
		units += u
	}
	punct := len(rowsOpen) + len(rows) - 1 + len(rowsClose) // ASCII
	return encs, size + punct, units + punct, nil
}

// marshal returns json.Marshal(st) and its length in UTF-16 code units,
// the rows' JSON taken from rowJSON: the rest of st is marshalled once,
// without its rows, and the rows are spliced in at their place.
func (s *structView) marshal(st *schemas.Structured) ([]byte, int, error) {
	if len(st.Rows) == 0 {
		js, err := json.Marshal(st)
		return js, utf16Len(js), err
	}
	bare, at, err := withoutRows(st)
	if err != nil {
		return nil, 0, err
	}
	encs, size, units, err := s.rowsJSON(st.Rows)
	if err != nil {
		return nil, 0, err
	}
	js := make([]byte, 0, len(bare)+size)
	js = append(js, bare[:at]...)
	js = append(js, rowsOpen...)
	for i, e := range encs {
		if i > 0 {
			js = append(js, ',')
		}
		js = append(js, e...)
	}
	js = append(js, rowsClose...)
	js = append(js, bare[at:]...)
	return js, utf16Len(bare) + units, nil
}

// encode renders Structured with layout l and the first n rows, and
// counts the tokens of its JSON encoding.
func (s *structView) encode(l structLayout, n int) (*schemas.Structured, int, error) {
	return s.measure(s.render(l, n))
}

// measure counts the tokens of st's JSON encoding, and sets lastQuarter.
func (s *structView) measure(st *schemas.Structured) (*schemas.Structured, int, error) {
	js, units, err := s.marshal(st)
	if err != nil {
		return nil, 0, fmt.Errorf("summary: encoding structured content: %w", err)
	}
	s.lastQuarter = (units + 3) / 4 // quarterLen(js)
	return st, countLarge(string(js)), nil
}

// estimate renders Structured like encode, but adds its count up from the
// count of its encoding without the rows and the rows' own counts
// (rowCost; their sum is the list's, give or take a token at its
// brackets), so that no row is counted again, nor encoded (rowJSON). The
// caller checks the final encoding once (Draft.render).
func (s *structView) estimate(l structLayout, n int) (*schemas.Structured, int, error) {
	st := s.render(l, n)
	if len(st.Rows) == 0 {
		return s.measure(st)
	}
	bare, _, err := withoutRows(st)
	if err != nil {
		return nil, 0, fmt.Errorf("summary: encoding structured content: %w", err)
	}
	_, _, units, err := s.rowsJSON(st.Rows)
	if err != nil {
		return nil, 0, fmt.Errorf("summary: encoding structured content: %w", err)
	}
	s.lastQuarter = (utf16Len(bare) + units + 3) / 4 // quarterLen of the whole encoding
	return st, CountTokens(string(bare)) + sumCost(len(st.Rows), s.rowCost), nil
}

// shrink cuts layout l, or the n rows, of a Structured over budget by
// over tokens: rows first, then top values, statistics, listed columns,
// and last the full essentials. It returns false when nothing is left to
// cut.
func (s *structView) shrink(l *structLayout, n *int, over int) bool {
	switch {
	case *n > 0 && !l.slim:
		*n = dropFromEnd(*n, over, s.rowCost)
	case !l.noTop && s.anyTop && l.statsN > 0:
		l.noTop = true
	case l.statsN > 0:
		l.statsN = dropFromEnd(l.statsN, over, s.statCost(l.noTop))
	case l.columnsN > 0:
		l.columnsN = dropFromEnd(l.columnsN, over, func(i int) int { return s.colTok[i] })
	case !l.minimal:
		l.minimal = true
	default:
		return false
	}
	return true
}

// render builds Structured with layout l and the first n rows.
func (s *structView) render(l structLayout, n int) *schemas.Structured {
	p := s.f.p
	if l.slim {
		return s.renderSlim(l, n)
	}
	C := len(s.cols)
	st := s.head(n, !l.minimal, !l.minimal)
	st.Columns = s.cols[:l.columnsN:l.columnsN]
	st.Rows = make([][]any, n)
	if !l.minimal {
		s.echo(st)
	}
	for i := range n {
		r, cut := s.row(i)
		st.Rows[i] = r
		st.ShortenedCells += cut
	}
	if s.f.fetched > 0 {
		if l.noTop {
			st.Stats = s.cstatsNoTop[:l.statsN:l.statsN]
		} else {
			st.Stats = s.cstats[:l.statsN:l.statsN]
		}
	}

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
		if s.f.sample {
			what = "sampled"
		}
		add(fmt.Sprintf("rows: %d of %d %s rows not returned (token budget)", k, len(p.Rows), what), "")
	}
	if k := p.TotalRowCount - p.Offset - len(p.Rows); k > 0 && !s.f.sample {
		add(fmt.Sprintf("rows: %d more rows in the result after this page", k), "")
	}
	if st.ShortenedCells > 0 {
		add(fmt.Sprintf("rows: %d cells longer than %d chars shortened with a …[+N of M chars] marker (token budget)", st.ShortenedCells, s.f.cellLimit), "")
	}
	if l.columnsN < C {
		add(fmt.Sprintf("columns: %d of %d not listed (token budget); narrow with columns", C-l.columnsN, C), "columns")
	}
	if st.HasMore && !s.f.waiting() && !l.minimal {
		// A model may see only this object: say which call continues
		// (a compact result of both views leaves it to its text).
		om = append(om, "to continue: call next_page with next_cursor")
	}
	if s.f.fetched > 0 && C > 0 && !s.f.statsKnown {
		terse := ""
		if l.columnsN < C {
			terse = "stats"
		}
		add("stats: not computed, the rows took the budget (sample_result profiles a whole result)", terse)
	}
	if s.f.fetched > 0 && C > 0 && s.f.statsKnown {
		if S := len(s.f.stats); l.statsN < S {
			terse := ""
			if l.columnsN < C { // stats shorter than a cut column list say nothing
				terse = "stats"
			}
			add(fmt.Sprintf("stats: %d of %d columns without statistics (token budget)", S-l.statsN, S), terse)
		}
		if k := s.f.statsDropped; k > 0 && !l.minimal && l.statsN > 0 {
			om = append(om, fmt.Sprintf("stats: none for %d columns that say nothing (text all distinct, or one value in every row)", k))
		}
		if l.noTop && s.anyTop && l.statsN > 0 {
			add("stats.top: top values dropped (token budget)", "stats.top")
		}
	}
	if l.minimal && (p.Filters != "" || p.SortBy != "" || len(s.f.notes) > 0) {
		add("", "notes")
	}
	st.Omitted = om
	// A minimal result also drops the fields that repeat others: truncated
	// when has_more already says rows were left out, fetched_rows when it
	// equals returned_rows (~5 tokens each: a third narrow row at 256).
	if !l.minimal || !st.HasMore {
		st.Truncated = &cut
	}
	if fetched := s.f.fetched; !l.minimal || fetched != n {
		st.FetchedRows = &fetched
	}
	return st
}

// renderSlim builds the Structured of ViewsText: the ids, state, times,
// counts, cost and cursor, with no rows, columns or statistics; omitted says
// that the n rows returned are in the text content and what else was cut.
func (s *structView) renderSlim(l structLayout, n int) *schemas.Structured {
	p := s.f.p
	st := s.head(n, false, false)
	om := []string{fmt.Sprintf("rows, columns and stats: the %d rows returned are in the text content only (result views: text)", n)}
	if k := len(p.Rows) - n; k > 0 {
		om = append(om, fmt.Sprintf("rows: %d of %d fetched rows not returned (token budget)", k, len(p.Rows)))
	}
	if !l.minimal {
		s.echoNotes(st)
	}
	st.Omitted = om
	cut := true
	st.Truncated = &cut
	fetched := s.f.fetched
	st.FetchedRows = &fetched
	return st
}

// tableOf is what Structured says of the table it carries under
// ViewsStructured (Structured.Table): its text, the cells it shortened, and
// whether it left anything out (statistics, listed columns, long cells).
type tableOf struct {
	text  string
	cells int
	cut   bool
	// noStats: a terse table leaves out the line saying that statistics
	// are not shown; omitted says "stats" instead.
	noStats bool
}

// renderTable builds the Structured of ViewsStructured: the ids, state,
// times, counts, cost and cursor, and the first n rows in Table as the
// text's table renders them (types, statistics, CSV), with no rows,
// columns or statistics as JSON: a client that forwards only
// structuredContent shows the model its JSON, where CSV costs fewer tokens
// than rows of JSON values and [{name, type}] objects (docs/result-views.md).
func (s *structView) renderTable(l structLayout, n int, tb tableOf) *schemas.Structured {
	p := s.f.p
	st := s.head(n, false, !l.minimal)
	st.Columns, st.Rows, st.Stats = nil, nil, nil // Table carries them
	st.Table = tb.text
	st.ShortenedCells = tb.cells
	if !l.minimal {
		s.echo(st)
	}
	var om []string
	if !l.minimal && tb.text != "" {
		om = append(om, "columns, rows and stats: in table, as text")
	}
	cut := tb.cut
	if k := len(p.Rows) - n; k > 0 {
		cut = true
		what := "fetched"
		if s.f.sample {
			what = "sampled"
		}
		if !l.minimal {
			om = append(om, fmt.Sprintf("rows: %d of %d %s rows not returned (token budget)", k, len(p.Rows), what))
		}
	}
	if k := p.TotalRowCount - p.Offset - len(p.Rows); k > 0 && !s.f.sample {
		cut = true
		if !l.minimal {
			om = append(om, fmt.Sprintf("rows: %d more rows in the result after this page", k))
		}
	}
	switch {
	case !st.HasMore || s.f.waiting():
	case l.minimal:
		om = append(om, "call next_page with next_cursor")
	default:
		om = append(om, "to continue: call next_page with next_cursor")
	}
	if tb.noStats {
		om = append(om, "stats")
	}
	if l.minimal && (p.Filters != "" || p.SortBy != "" || len(s.f.notes) > 0) {
		om = append(om, "notes")
	}
	st.Omitted = om
	if !l.minimal || !st.HasMore {
		st.Truncated = &cut
	}
	if fetched := s.f.fetched; !l.minimal || fetched != n && !st.HasMore {
		// A terse table leaves rows fetched but not returned to next_page
		// (has_more says rows are left); without a cursor (a sample),
		// returned_rows < fetched_rows says what was left out.
		st.FetchedRows = &fetched
	}
	return st
}

// head builds the fields every form of Structured carries: the ids, state,
// times (execution_ended_at to the nanosecond when precise, the expiry
// when expires), counts, cost, the caller's budget and the cursor after n
// rows, with empty columns, rows and statistics.
func (s *structView) head(n int, precise, expires bool) *schemas.Structured {
	p := s.f.p
	st := &schemas.Structured{
		QueryID:       p.QueryID,
		ExecutionID:   p.ExecutionID,
		State:         string(p.State),
		Demo:          p.Demo,
		Columns:       []schemas.Column{},
		TotalRowCount: p.TotalRowCount,
		Offset:        p.Offset,
		SampleCount:   p.SampleCount,
		ReturnedRows:  n,
		Rows:          [][]any{},
		Stats:         []schemas.ColumnStats{},
		Datapoints:    p.Datapoints,
		Executed:      p.Executed,
	}
	if p.EndedAt != nil && !p.EndedAt.IsZero() {
		if precise {
			st.ExecutionEndedAt = p.EndedAt.UTC().Format(time.RFC3339Nano)
		} else {
			st.ExecutionEndedAt = p.EndedAt.UTC().Truncate(time.Second).Format(time.RFC3339)
		}
	}
	if !p.ExpiresAt.IsZero() && expires {
		// Dune keeps results for 90 days: a compact result leaves the
		// expiry out (as its text does), which is worth a row at the
		// smallest budgets.
		st.ExpiresAt = p.ExpiresAt.UTC().Truncate(time.Second).Format(time.RFC3339)
	}
	if c, ok := s.f.cost(); ok {
		st.ExecutionCostCredits = &c
	}
	if u := p.Budget; u != nil {
		spent, left := u.Spent, u.Left
		st.DatapointsSpent, st.DatapointsLeft = &spent, &left
	}
	st.NextCursor = s.f.cursor(n)
	st.HasMore = st.NextCursor != ""
	return st
}

// echo sets the request's filters and sort, and the page's notes.
func (s *structView) echo(st *schemas.Structured) {
	st.Filters, st.SortBy = s.f.p.Filters, s.f.p.SortBy
	s.echoNotes(st)
}

// echoNotes sets the page's notes, each shortened to noteLimit.
func (s *structView) echoNotes(st *schemas.Structured) {
	for _, note := range s.f.notes {
		note, _ = shorten(strings.TrimSpace(note), noteLimit, noteLimit-20)
		st.Notes = append(st.Notes, note)
	}
}
