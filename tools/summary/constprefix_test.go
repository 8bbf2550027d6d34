package summary

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"
)

// switchAt sets column c of p's rows to a before row at and b from it on.
func switchAt(p Page, c, at int, a, b string) Page {
	for i, r := range p.Rows {
		if i < at {
			r[c] = a
		} else {
			r[c] = b
		}
	}
	return p
}

// colIndex is the index of p's column name.
func colIndex(t *testing.T, p Page, name string) int {
	t.Helper()
	for i, c := range p.Columns {
		if c.Name == name {
			return i
		}
	}
	t.Fatalf("no column %s", name)
	return -1
}

// checkTableReadsBack reads every shown row back from a structured-only
// page's table (constants and patterns applied) and compares it with
// Dune's values: each column is either given once, holding its value in
// every row shown, or in the header; a shortened cell is a prefix of
// Dune's value. It returns the columns given once.
func checkTableReadsBack(t *testing.T, p Page, out Output) map[string]string {
	t.Helper()
	table := out.Structured.Table
	n := out.ShownRows
	if n == 0 {
		t.Fatalf("no row shown")
	}
	recs := tableRecords(t, table)
	if len(recs) != n+1 {
		t.Fatalf("table has %d records, want a header and %d rows", len(recs), n)
	}
	konst := readBackConstants(t, table)
	patterns := readBackAffixes(t, table, p.Columns)
	col := map[string]int{}
	for i, h := range recs[0] {
		col[h] = i
	}
	for c, dc := range p.Columns {
		_, inHeader := col[dc.Name]
		if _, once := konst[dc.Name]; once == inHeader {
			t.Fatalf("column %s: in the header %v, given once %v", dc.Name, inHeader, once)
		}
		for i := range n {
			want := duneText(p.Rows[i][c])
			if v, once := konst[dc.Name]; once {
				if v != want {
					t.Fatalf("row %d of %d: %s given once as %q, Dune wrote %q", i, n, dc.Name, v, want)
				}
				continue
			}
			at, ok := col[dc.Name]
			if !ok {
				t.Fatalf("column %s neither given once nor in the header", dc.Name)
			}
			cell := recs[i+1][at]
			if strings.Contains(cell, "…[+") {
				if !strings.HasPrefix(want, strings.SplitN(cell, "…[+", 2)[0]) {
					t.Fatalf("row %d %s: shortened cell %q is not a prefix of %q", i, dc.Name, cell, want)
				}
				continue
			}
			if pat, ok := patterns[dc.Name]; ok && cell != "" {
				cell = strings.Replace(pat, "*", cell, 1)
			}
			if cell != want {
				if a, err := strconv.ParseFloat(cell, 64); err != nil || a != p.Rows[i][c] {
					t.Fatalf("row %d %s: cell reads back as %q, Dune wrote %q", i, dc.Name, cell, want)
				}
			}
		}
	}
	return konst
}

// A column that holds one value in the rows a page shows is given once,
// even when rows fetched past them (a large limit) differ; and it is never
// given once for rows shown that differ, wherever the value changes.
func TestConstantsHoldForTheRowsShown(t *testing.T) {
	for _, budget := range []int{2000, 8000, 25000} {
		for _, at := range []int{3, 6, 20, 28, 31, 40, 90, 120, 600} {
			t.Run(fmt.Sprintf("%d/switch-at-%d", budget, at), func(t *testing.T) {
				p := dexPage(1000, 100000)
				p.Views = ViewsStructured
				c := colIndex(t, p, "blockchain")
				p = switchAt(p, c, at, "ethereum", "base")
				out := mustSummarize(t, p, budget)
				konst := checkTableReadsBack(t, p, out)
				_, once := konst["blockchain"]
				if at >= 2*out.ShownRows && !once {
					t.Errorf("%d rows shown, all on ethereum (the chain changes at row %d of 1,000 fetched): blockchain is not given once", out.ShownRows, at)
				}
			})
		}
	}
}

// When the rows a plan shows are far cheaper than the first (whose cost
// sized the rows constants were first found over), constants are found
// again over the rows shown: a column that changes among them is in the
// table.
func TestConstantsFoundAgainOverMoreRows(t *testing.T) {
	for _, budget := range []int{2000, 8000} {
		for _, at := range []int{8, 12, 20, 30} {
			t.Run(fmt.Sprintf("%d/switch-at-%d", budget, at), func(t *testing.T) {
				p := projectPage(dexPage(400, 400), 3)
				p.Columns = append(p.Columns, p.Columns[0], p.Columns[0])
				p.Columns[3].Name, p.Columns[3].Type = "note", "varchar"
				p.Columns[4].Name, p.Columns[4].Type = "chain", "varchar"
				for i := range p.Rows {
					note := "n" + strconv.Itoa(i)
					if i == 0 {
						note = strings.Repeat("costly first row ", 60)
					}
					p.Rows[i] = append(p.Rows[i], note, "")
				}
				p.StatsRows = p.Rows
				p = switchAt(p, 4, at, "ethereum", "base")
				p.Views = ViewsStructured
				out := mustSummarize(t, p, budget)
				if out.ShownRows <= at {
					t.Fatalf("%d rows shown: the chain must change among them (row %d)", out.ShownRows, at)
				}
				konst := checkTableReadsBack(t, p, out)
				if _, once := konst["chain"]; once {
					t.Errorf("chain given once over %d rows that change at row %d", out.ShownRows, at)
				}
			})
		}
	}
}

// Rows fetched past those a page can show (a top-up, or the rest of a
// page a draft was started on early) change nothing it shows: Extend keeps
// the rows measured before, even when a column stops being one value in
// the rows fetched.
func TestExtendPastThePrefixKeepsMeasurements(t *testing.T) {
	for _, views := range []Views{ViewsBoth, ViewsStructured, ViewsText} {
		t.Run(views.String(), func(t *testing.T) {
			whole := dexPage(1000, 100000)
			whole.Views = views
			whole = switchAt(whole, colIndex(t, whole, "blockchain"), 500, "ethereum", "base")
			const k = 200
			before := bytesCounted.Load()
			want := mustSummarize(t, whole, 8000)
			fresh := bytesCounted.Load() - before

			d := mustDraft(t, firstPart(whole, k), 8000)
			d.Planned()
			before = bytesCounted.Load()
			if err := d.Extend(whole.Rows[k:], whole.TotalRowCount, whole.Datapoints); err != nil {
				t.Fatal(err)
			}
			got, err := d.Render(testCursor(whole))
			if err != nil {
				t.Fatal(err)
			}
			after := bytesCounted.Load() - before
			if got.Text != want.Text || string(got.StructuredJSON) != string(want.StructuredJSON) {
				t.Fatalf("extended draft renders otherwise than the whole page")
			}
			t.Logf("bytes counted: whole page %d, extend and render %d (%d rows shown)", fresh, after, got.ShownRows)
			// Measuring the rows is most of a fresh summary's counting; the
			// final encodings are counted once either way.
			if after*4 > fresh*3 {
				t.Errorf("Extend and Render counted %d bytes, the whole page's summary %d: rows measured before Extend were measured again", after, fresh)
			}
		})
	}
}

// A draft made before the page it renders (an early draft, extended)
// reckons the result's age from the time SetNow gives it, as a fresh
// summary of the page at that time does, across a change of unit.
func TestSetNowAgesTheExtendedDraft(t *testing.T) {
	whole := dexPage(400, 100000)
	ended := *whole.EndedAt
	whole.Now = ended.Add(59*time.Minute + 50*time.Second)
	part := firstPart(whole, 100)
	d := mustDraft(t, part, 8000)
	d.Planned()
	later := whole
	later.Now = ended.Add(61 * time.Minute)
	if err := d.Extend(whole.Rows[100:], whole.TotalRowCount, whole.Datapoints); err != nil {
		t.Fatal(err)
	}
	d.SetNow(later.Now)
	got, err := d.Render(testCursor(later))
	if err != nil {
		t.Fatal(err)
	}
	want := mustSummarize(t, later, 8000)
	if got.Text != want.Text {
		t.Fatalf("extended draft, then SetNow:\n%.400s\n---- a fresh summary:\n%.400s", got.Text, want.Text)
	}
	before := mustSummarize(t, whole, 8000)
	if before.Text == want.Text {
		t.Fatal("the two times give the same text: the test shows nothing")
	}
}
