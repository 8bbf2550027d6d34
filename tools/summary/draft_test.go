package summary

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
)

// projectPage keeps the first k columns of p (as columns=[…] would).
func projectPage(p Page, k int) Page {
	q := p
	q.Columns = p.Columns[:k]
	q.Rows = make([]dune.Row, len(p.Rows))
	for i, r := range p.Rows {
		q.Rows[i] = r[:k:k]
	}
	q.StatsRows = q.Rows
	return q
}

func mustDraft(t testing.TB, p Page, budget int) *Draft {
	t.Helper()
	d, err := NewDraft(p, budget)
	if err != nil {
		t.Fatalf("NewDraft(budget %d): %v", budget, err)
	}
	return d
}

func mustRender(t testing.TB, d *Draft, cursor CursorFunc) Output {
	t.Helper()
	out, err := d.Render(cursor)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return out
}

// firstPart returns a page of the first k rows of p (statistics over them
// too), as fetched before a top-up.
func firstPart(p Page, k int) Page {
	q := p
	q.Rows = p.Rows[:k]
	if p.StatsRows != nil {
		q.StatsRows = q.Rows
	}
	q.Datapoints = k * len(p.Columns)
	return q
}

func TestPlannedAllRowsFitOrNot(t *testing.T) {
	// Every row fits: the plan shows them all, as Render does.
	p := dexPage(3, 100)
	d := mustDraft(t, p, 8000)
	n, rt := d.Planned()
	if n != 3 {
		t.Errorf("planned %d rows of 3 at 8000 tokens", n)
	}
	out := mustRender(t, d, testCursor(p))
	if out.ShownRows != 3 || math.Abs(rt-out.RowTokens) > 1e-9 {
		t.Errorf("planned %d rows of %.2f tokens, rendered %d of %.2f", n, rt, out.ShownRows, out.RowTokens)
	}

	// Not every row fits: the plan shows some, close to what Render shows.
	for _, b := range []int{1000, 4000, 8000, 25000} {
		p = dexPage(300, 300)
		d = mustDraft(t, p, b)
		n, rt = d.Planned()
		out = mustRender(t, d, testCursor(p))
		if n == 0 || n >= 300 || n < out.ShownRows-growTries || n > out.ShownRows+2 {
			t.Errorf("budget %d: planned %d rows of 300, rendered %d", b, n, out.ShownRows)
		}
		if rt < 250 || rt > 350 || math.Abs(rt-out.RowTokens) > 0.05*rt {
			t.Errorf("budget %d: planned row cost %.1f, rendered %.1f", b, rt, out.RowTokens)
		}
	}

	// No row fits: the first row's cost; no rows: nothing.
	p = widePage(10, 300)
	d = mustDraft(t, p, 1000)
	if n, rt := d.Planned(); n != 0 || rt < 500 {
		t.Errorf("300 columns at 1000 tokens: planned %d rows of %.1f tokens", n, rt)
	}
	d = mustDraft(t, emptyPage(), 8000)
	if n, rt := d.Planned(); n != 0 || rt != 0 {
		t.Errorf("empty page: planned %d rows of %.1f tokens", n, rt)
	}
}

func TestExtendShowsBothPartsWithStatsOverAll(t *testing.T) {
	all := dexPage(60, 400)
	p := firstPart(all, 5)
	d := mustDraft(t, p, 8000)
	if n, _ := d.Planned(); n != 5 {
		t.Fatalf("planned %d of 5 rows", n)
	}
	if err := d.Extend(all.Rows[5:], 400, all.Datapoints); err != nil {
		t.Fatal(err)
	}
	out := mustRender(t, d, testCursor(all))
	n := out.ShownRows
	if n <= 5 || n >= 60 {
		t.Fatalf("shown %d rows after extending 5 by 55", n)
	}
	// Rows from both parts, in order, the same in both views.
	at := -1
	for i := range n {
		j := strings.Index(out.Text, all.Rows[i][20].(string))
		if j <= at {
			t.Fatalf("row %d (tx_hash) missing or out of order in the text", i)
		}
		at = j
		if !slices.Equal(out.Structured.Rows[i], []any(all.Rows[i])) {
			t.Fatalf("structured row %d differs from the page's", i)
		}
	}
	if strings.Contains(out.Text, all.Rows[n][20].(string)) {
		t.Errorf("row %d (not shown) is in the text", n)
	}
	// Statistics over all 60 fetched rows, and the new counts.
	// (Rows come first: statistics show only in room the rows leave.)
	if strings.Contains(out.Text, "stats over") != strings.Contains(out.Text, "stats over 60 fetched rows") || !strings.Contains(out.Text, "rows: 400 in result (8,800 datapoints to read in full) · 60 fetched this call (1,320 datapoints)") {
		t.Errorf("counts or stats scope:\n%.900s", out.Text)
	}
	st := out.Structured
	if fetchedRows(st) != 60 || st.Datapoints != 1320 || st.TotalRowCount != 400 {
		t.Errorf("fetched_rows %d, datapoints %d, total %d", fetchedRows(st), st.Datapoints, st.TotalRowCount)
	}
	for _, cs := range st.Stats {
		if cs.Name == "tx_hash" && cs.Distinct != 60 {
			t.Errorf("tx_hash distinct %d, want 60 (stats over both parts)", cs.Distinct)
		}
	}
}

// Render after Extend is Summarize of the whole page, whether or not
// Planned measured rows first, and whatever the page's shape.
func TestRenderAfterExtendEqualsSummarize(t *testing.T) {
	few := longTextPage(6, 3000) // 2 + 4 rows end the result: the cell bound changes
	few.TotalRowCount = 6
	noStats := dexPage(80, 1000)
	noStats.StatsRows = nil
	ownStats := dexPage(80, 1000)
	ownStats.StatsRows = dexRows(200, 9)
	cached := dexPage(80, 1000)
	cached.FromCache = true
	cached.Notes = []string{"Served from the page cache: no Dune request, 0 datapoints."}
	cases := []struct {
		name string
		page Page
		k    int
	}{
		{"dex", dexPage(400, 5000), 10},
		{"dex-end", dexPage(40, 40), 3},
		{"wide", widePage(20, 100), 4},
		{"narrow", projectPage(dexPage(900, 900), 3), 50},
		{"long", longTextPage(12, 3000), 2},
		{"few", few, 2},
		{"nostats", noStats, 8},
		{"ownstats", ownStats, 8},
		{"cached", cached, 8},
	}
	for _, c := range cases {
		for _, b := range []int{256, 1000, 3000, 9000} {
			for _, plan := range []bool{false, true} {
				t.Run(fmt.Sprintf("%s/%d/planned=%v", c.name, b, plan), func(t *testing.T) {
					part := firstPart(c.page, c.k)
					whole := c.page
					whole.FromCache = false // rows were fetched by the top-up
					whole.Datapoints += 7
					switch {
					case c.page.StatsRows == nil:
						part.StatsRows = nil
					case &c.page.StatsRows[0] != &c.page.Rows[0]: // statistics of other rows, and the new ones
						part.StatsRows = c.page.StatsRows
						whole.StatsRows = slices.Concat(part.StatsRows, c.page.Rows[c.k:])
					}
					want, wantErr := Summarize(whole, b, testCursor(whole))
					d := mustDraft(t, part, b)
					if plan {
						d.Planned()
					}
					if err := d.Extend(c.page.Rows[c.k:], whole.TotalRowCount, whole.Datapoints); err != nil {
						t.Fatal(err)
					}
					got, err := d.Render(testCursor(whole))
					if (err != nil) != (wantErr != nil) {
						t.Fatalf("Render error %v, Summarize error %v", err, wantErr)
					}
					if err != nil {
						return
					}
					if got.Text != want.Text {
						t.Fatalf("text differs (%d vs %d rows):\n%s\n---- Summarize:\n%s", got.ShownRows, want.ShownRows, got.Text, want.Text)
					}
					if g, w := structJSON(t, got.Structured), structJSON(t, want.Structured); g != w {
						t.Fatalf("structured differs:\n%s\n---- Summarize:\n%s", g, w)
					}
					if got.ShownRows != want.ShownRows || got.TextTokens != want.TextTokens || got.StructuredTokens != want.StructuredTokens || got.RowTokens != want.RowTokens {
						t.Fatalf("figures differ: %+v vs %+v", got, want)
					}
				})
			}
		}
	}
}

// Rows measured before Extend are not measured again: their memoised
// counts are replaced with sentinels (one token less than measured) and
// the first row's rendering with a marked line, and both survive Extend
// and Render.
func TestExtendKeepsMeasurements(t *testing.T) {
	all := dexPage(100, 100)
	d := mustDraft(t, firstPart(all, 10), 8000)
	if n, _ := d.Planned(); n != 10 {
		t.Fatalf("planned %d of 10", n)
	}
	textTok := slices.Clone(d.text.rowTok)
	structTok := slices.Clone(d.st.srowTok)
	for i := range 10 {
		if textTok[i] < 0 || structTok[i] < 0 {
			t.Fatalf("row %d not measured by Planned: %d/%d", i, textTok[i], structTok[i])
		}
		textTok[i]--
		structTok[i]--
	}
	copy(d.text.rowTok, textTok)
	copy(d.st.srowTok, structTok)
	const marked = "SENTINEL: row 1 as measured before Extend\n"
	d.text.rowLines[0] = marked

	if err := d.Extend(all.Rows[10:], 100, all.Datapoints); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.text.rowTok[:10], textTok) || !slices.Equal(d.st.srowTok[:10], structTok) {
		t.Fatal("Extend dropped measurements")
	}
	for i := 10; i < 100; i++ { // the memos grow as rows are measured
		if i < len(d.text.rowTok) && d.text.rowTok[i] != -1 || i < len(d.st.srowTok) && d.st.srowTok[i] != -1 {
			t.Fatalf("new row %d not waiting to be measured", i)
		}
	}
	out := mustRender(t, d, testCursor(all))
	if out.ShownRows <= 10 {
		t.Fatalf("shown %d rows", out.ShownRows)
	}
	if !slices.Equal(d.text.rowTok[:10], textTok) || !slices.Equal(d.st.srowTok[:10], structTok) {
		t.Error("Render measured rows again")
	}
	if !strings.Contains(out.Text, marked) {
		t.Error("Render rendered row 1 again")
	}
	for i := 10; i < out.ShownRows; i++ {
		if d.text.rowTok[i] < 0 || d.st.srowTok[i] < 0 {
			t.Fatalf("shown row %d not measured", i)
		}
	}
}

func TestExtendChecksShapeAndLeavesTheCallersRows(t *testing.T) {
	all := dexPage(20, 20)
	part := firstPart(all, 5) // shares all.Rows' array, with room after row 5
	d := mustDraft(t, part, 8000)
	if err := d.Extend([]dune.Row{all.Rows[5][:3]}, 20, 0); err == nil {
		t.Fatal("a short extension row was accepted")
	}
	other := dexRows(15, 42)
	row5 := all.Rows[5]
	if err := d.Extend(other, 20, 0); err != nil {
		t.Fatal(err)
	}
	if &all.Rows[5][0] != &row5[0] || len(part.Rows) != 5 {
		t.Fatal("Extend wrote into the caller's rows")
	}
	out := mustRender(t, d, testCursor(all))
	if out.ShownRows > 5 && out.Structured.Rows[5][20] != other[0][20] {
		t.Error("row 6 is not the first extension row")
	}
}

// RowsThatFit, with the row cost Planned measures, is close to the rows
// Render really shows: never more than one row fewer, at most 10% + 4 rows
// more (callers add their own margin), on DEX rows of 3 to 22 columns.
func TestRowsThatFitMatchesRender(t *testing.T) {
	base := dexPage(3000, 100000)
	for _, k := range []int{3, 6, 12, 22} {
		p := projectPage(base, k)
		for _, b := range []int{1000, 2000, 4000, 8000, 16000, 25000} {
			d := mustDraft(t, p, b)
			_, rt := d.Planned()
			est := RowsThatFit(b, rt, k)
			shown := float64(mustRender(t, d, testCursor(p)).ShownRows)
			if est < shown-1 || est > 1.1*shown+4 {
				t.Errorf("%d columns at %d tokens: RowsThatFit %.1f, Render shows %.0f", k, b, est, shown)
			}
		}
	}
	if RowsThatFit(100, 50, 3) != 0 || RowsThatFit(8000, 0, 3) != 0 {
		t.Error("RowsThatFit without room or row cost is not 0")
	}
}

// When not a row of a page with rows fits, Render says so in the notes of
// both views, in one call, exactly as a render with that note would.
func TestTooSmallForOneRowNote(t *testing.T) {
	noteFor := func(budget, ncols int) string {
		return fmt.Sprintf("max_tokens %d is too small to show one row of these %d columns: call next_page with a larger max_tokens, or get_latest_result with fewer columns.", budget, ncols)
	}
	inStructured := 0
	for _, c := range []struct {
		page   Page
		budget int
	}{{widePage(10, 300), 1000}, {widePage(10, 300), 2000}, {dexPage(50, 500), 535}, {dexPage(50, 500), 300}} {
		note := noteFor(c.budget, len(c.page.Columns))
		d := mustDraft(t, c.page, c.budget)
		out := mustRender(t, d, testCursor(c.page))
		if out.ShownRows != 0 {
			t.Fatalf("%d columns at %d tokens: %d rows shown", len(c.page.Columns), c.budget, out.ShownRows)
		}
		if !strings.Contains(out.Text, note) {
			t.Errorf("%d columns at %d tokens: text lacks the note:\n%s", len(c.page.Columns), c.budget, out.Text)
		}
		st := out.Structured
		switch {
		case slices.Contains(st.Notes, note):
			inStructured++
		case !slices.Contains(st.Omitted, "notes"):
			t.Errorf("%d columns at %d tokens: structured neither has the note nor says notes were omitted: %q", len(c.page.Columns), c.budget, st.Omitted)
		}
		// The same as rendering the page with the note among its notes
		// (which is not added twice).
		q := c.page
		q.Notes = append(slices.Clip(q.Notes), note)
		want := mustSummarize(t, q, c.budget)
		if out.Text != want.Text || structJSON(t, st) != structJSON(t, want.Structured) {
			t.Errorf("%d columns at %d tokens: differs from a page with the note", len(c.page.Columns), c.budget)
		}
		// Rendering again does not say it twice.
		if again := mustRender(t, d, testCursor(c.page)); again.Text != out.Text {
			t.Errorf("a second Render differs:\n%s", again.Text)
		}
	}
	if inStructured == 0 {
		t.Error("the note never reached structured notes")
	}
	// Not when rows are shown, nor when the page has none to show.
	for _, c := range []struct {
		page   Page
		budget int
	}{{dexPage(50, 500), 8000}, {emptyPage(), 300}, {dexPage(0, 50), 300}} {
		out := mustSummarize(t, c.page, c.budget)
		if strings.Contains(out.Text, "too small to show one row") || len(out.Structured.Notes) > 0 {
			t.Errorf("note on a page of %d rows, %d shown:\n%s", len(c.page.Rows), out.ShownRows, out.Text)
		}
	}
}
