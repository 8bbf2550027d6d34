package summary

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
)

// standIns returns n rows of rows' width that are not the page's rows:
// the first rows again with every value changed (strings and numbers to
// others, booleans flipped, NULLs to numbers, anything else to NULL), so a
// draft that read one of them renders something else.
func standIns(rows []dune.Row, n int) []dune.Row {
	out := make([]dune.Row, n)
	for i := range out {
		r := make(dune.Row, len(rows[0]))
		for c, v := range rows[i%len(rows)] {
			switch x := v.(type) {
			case string:
				r[c] = fmt.Sprintf("stand-in %d/%d", i, c)
			case json.Number:
				r[c] = json.Number(fmt.Sprint(7*i + c + 1000003))
			case bool:
				r[c] = !x
			case nil:
				r[c] = json.Number("42")
			default:
				r[c] = nil
			}
		}
		out[i] = r
	}
	return out
}

// A draft that read only its page's first rows (RowsRead) renders the same
// answer whatever the rows after them are: drafted on the first k rows and
// stand-ins for the rest (or on the first rows, then extended with the
// stand-ins) and rendered, it gives exactly what Summarize gives for the
// real page, in every result view. The pages
// where that holds include the large pages of usual budgets (DEX trades,
// a narrow projection), so the property is tested, not vacuous; a wide
// page whose rows leave room for statistics reads every row (statistics
// are over the fetched rows) and says so.
func TestStandInsPastRowsReadChangeNothing(t *testing.T) {
	cases := []struct {
		name string
		page Page
		k    int
		// read: the budgets at which the draft must have read at most k
		// rows (the cases the property is about).
		read []int
	}{
		{"dex", dexPage(1000, 100000), 64, []int{3000, 8000}},
		{"dex-end", dexPage(300, 300), 64, []int{3000, 8000}},
		{"narrow", projectPage(dexPage(1000, 5000), 3), 200, []int{1000, 3000}},
		{"narrow-few", projectPage(dexPage(1000, 5000), 3), 120, nil},
		{"dex-few", dexPage(1000, 100000), 24, nil},
		{"wide", widePage(300, 100), 64, nil},
		{"long", longTextPage(200, 3000), 32, nil},
	}
	for _, c := range cases {
		for _, views := range []Views{ViewsBoth, ViewsText, ViewsStructured} {
			for _, b := range []int{256, 1000, 3000, 8000} {
				for _, extended := range []bool{false, true} {
					t.Run(fmt.Sprintf("%s/%s/%d/extended=%v", c.name, views, b, extended), func(t *testing.T) {
						whole := c.page
						whole.Views = views
						part := firstPart(whole, c.k)
						rest := standIns(part.Rows, len(whole.Rows)-c.k)
						var d *Draft
						if extended { // drafted on the first rows, then extended
							part.Datapoints = whole.Datapoints - 7 // Extend sets the call's datapoints
							d = mustDraft(t, part, b)
							d.Planned()
							if err := d.Extend(rest, whole.TotalRowCount, whole.Datapoints); err != nil {
								t.Fatal(err)
							}
						} else { // drafted on the page with its stand-ins
							p := whole
							p.Rows = slices.Concat(part.Rows, rest)
							p.StatsRows = p.Rows
							d = mustDraft(t, p, b)
						}
						got, err := d.Render(testCursor(whole))
						read := d.RowsRead()
						mustRead := false
						for _, rb := range c.read {
							mustRead = mustRead || rb == b
						}
						if mustRead && (err != nil || read > c.k) {
							t.Fatalf("the draft read %d rows (err %v): want at most the first %d", read, err, c.k)
						}
						if err != nil || read > c.k {
							return
						}
						want, err := Summarize(whole, b, testCursor(whole))
						if err != nil {
							t.Fatal(err)
						}
						if got.Text != want.Text || got.ShownRows != want.ShownRows || got.TextTokens != want.TextTokens {
							t.Fatalf("text differs (%d vs %d rows, %d vs %d tokens):\n%s\n---- Summarize:\n%s",
								got.ShownRows, want.ShownRows, got.TextTokens, want.TextTokens, got.Text, want.Text)
						}
						if g, w := string(got.StructuredJSON), string(want.StructuredJSON); g != w || got.StructuredTokens != want.StructuredTokens {
							t.Fatalf("structured differs (%d vs %d tokens):\n%s\n---- Summarize:\n%s", got.StructuredTokens, want.StructuredTokens, g, w)
						}
					})
				}
			}
		}
	}
}

// A draft whose statistics were computed has read every row; so has one
// of a page of a few rows (its cell bound depends on each).
func TestRowsReadAllWhenStatisticsOrFewRows(t *testing.T) {
	p := dexPage(40, 1000) // every row fits: statistics take the room left
	d := mustDraft(t, p, 25000)
	out := mustRender(t, d, testCursor(p))
	if !d.f.statsKnown || !strings.Contains(out.Text, "\nstats over 40 ") {
		t.Fatalf("no statistics on 40 DEX rows at 25,000 tokens:\n%s", out.Text)
	}
	if got := d.RowsRead(); got != len(p.Rows) {
		t.Errorf("RowsRead with statistics = %d, want all %d rows", got, len(p.Rows))
	}
	few := dexPage(fewRows, fewRows)
	d = mustDraft(t, few, 8000)
	mustRender(t, d, testCursor(few))
	if got := d.RowsRead(); got != fewRows {
		t.Errorf("RowsRead of a %d-row page = %d, want all", fewRows, got)
	}
}

// SameAge tells whether the age the draft renders still reads the same at
// another time.
func TestSameAge(t *testing.T) {
	p := dexPage(100, 1000) // ended a while before testNow
	d := mustDraft(t, p, 8000)
	out := mustRender(t, d, testCursor(p))
	age := ago(*p.EndedAt, p.Now)
	if !strings.Contains(out.Text, "("+age+")") {
		t.Fatalf("the text does not give the age %q:\n%s", age, out.Text)
	}
	for _, tc := range []struct {
		later time.Duration
		same  bool
	}{{0, true}, {time.Millisecond, ago(*p.EndedAt, p.Now.Add(time.Millisecond)) == age}, {72 * time.Hour, false}} {
		if got := d.SameAge(p.Now.Add(tc.later)); got != tc.same {
			t.Errorf("SameAge(now + %v) = %v, want %v", tc.later, got, tc.same)
		}
	}
	none := p
	none.EndedAt, none.SubmittedAt = nil, time.Time{}
	d = mustDraft(t, none, 8000)
	mustRender(t, d, testCursor(none))
	if !d.SameAge(none.Now.Add(1000 * time.Hour)) {
		t.Error("SameAge without any time to give an age of: want true")
	}
}
