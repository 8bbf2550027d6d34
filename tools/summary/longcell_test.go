package summary

import (
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
)

// anyLongCell(n) is true exactly when one of the first n rows has a cell of
// more than CellLimit characters (not bytes), whatever the cell's type; and
// it answers the same before and after the rows' lines are made.
func TestAnyLongCell(t *testing.T) {
	long := strings.Repeat("x", CellLimit+1)
	cols := []dune.Column{{Name: "id", Type: "bigint"}, {Name: "note", Type: "varchar"}, {Name: "tags", Type: "array(varchar)"}, {Name: "chain", Type: "varchar"}}
	page := func(set func(i int, r dune.Row)) Page {
		rows := make([]dune.Row, 50)
		for i := range rows {
			rows[i] = dune.Row{float64(i) * 1e300, "short", []any{"a"}, "ethereum"}
			set(i, rows[i])
		}
		// Not the whole result: the cell limit stays CellLimit.
		return Page{Tool: "get_latest_result", QueryID: 1, ExecutionID: "01HLONGCELL000000000000000", State: dune.StateCompleted,
			EndedAt: testEnded(), Columns: cols, Rows: rows, StatsRows: rows, TotalRowCount: 10000, Datapoints: 200, Now: testNow}
	}
	cases := []struct {
		name  string
		set   func(i int, r dune.Row)
		first int // the first row with a long cell; -1: none
	}{
		{"none", func(int, dune.Row) {}, -1},
		{"a long string in row 30", func(i int, r dune.Row) {
			if i == 30 {
				r[1] = long
			}
		}, 30},
		{"CellLimit characters of 3 bytes each are not long", func(i int, r dune.Row) { r[1] = strings.Repeat("€", CellLimit) }, -1},
		{"one more is", func(i int, r dune.Row) {
			if i >= 7 {
				r[1] = strings.Repeat("€", CellLimit+1)
			}
		}, 7},
		{"an array whose JSON is long, in row 12", func(i int, r dune.Row) {
			if i == 12 {
				r[2] = []any{strings.Repeat("y", 120), strings.Repeat("z", 120)}
			}
		}, 12},
		{"the same long value in every row (only short ones make a one-value column)", func(i int, r dune.Row) { r[3] = long }, 0},
		{"NULLs", func(i int, r dune.Row) { r[1], r[2] = nil, nil }, -1},
	}
	for _, c := range cases {
		for _, made := range []bool{false, true} {
			d, err := NewDraft(page(c.set), 8000)
			if err != nil {
				t.Fatal(err)
			}
			if d.f.cellLimit != CellLimit {
				t.Fatalf("%s: cell limit %d, want %d", c.name, d.f.cellLimit, CellLimit)
			}
			if made {
				for i := range 50 {
					d.text.row(i)
				}
			}
			for _, n := range []int{0, 1, 7, 8, 12, 13, 30, 31, 50, 1000} {
				want := c.first >= 0 && n > c.first
				if got := d.text.anyLongCell(n); got != want {
					t.Errorf("%s (lines made: %v): anyLongCell(%d) = %v, want %v", c.name, made, n, got, want)
				}
			}
		}
	}
}
