package summary

import (
	"fmt"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
)

// A timestamp cell past the rows its common part was found over may have
// another shape (empty, one character, a long string): measuring that row
// must not fail, and the rows shown still read back whole.
func TestAffixedColumnWithOtherShapesPastThePrefix(t *testing.T) {
	base := dexPage(400, 5000)
	bt := colIndex(t, base, "block_time")
	for _, odd := range []string{"", "x", "not a timestamp but a long string of words, longer than the pattern"} {
		for _, width := range []int{bt + 1, bt + 3, len(base.Columns)} {
			for _, b := range []int{1000, 2000, 8000, 25000} {
				for _, views := range []Views{ViewsBoth, ViewsText, ViewsStructured} {
					t.Run(fmt.Sprintf("%q/%d/%d/%s", odd, width, b, views), func(t *testing.T) {
						p := projectPage(base, width)
						p.Views = views
						from := mustDraft(t, p, b).f.constN
						rows := make([]dune.Row, len(p.Rows))
						for i, r := range p.Rows {
							rows[i] = r
							if i >= from {
								rows[i] = append(r[:0:0], r...)
								rows[i][bt] = odd
							}
						}
						p.Rows, p.StatsRows = rows, rows
						out, err := Summarize(p, b, testCursor(p))
						if err != nil {
							t.Fatal(err)
						}
						if views == ViewsStructured {
							checkTableReadsBack(t, p, out)
						}
					})
				}
			}
		}
	}
}

// A cell without the common part is given whole, whatever its length.
func TestAffixCellWithoutTheCommonPart(t *testing.T) {
	a := affix{prefix: "2024-06-27 ", suffix: ".000 UTC"}
	for in, want := range map[string]string{
		"2024-06-27 12:39:06.000 UTC": "12:39:06",
		"2024-06-27 .000 UTC":         "",
		"":                            "",
		"x":                           "x",
		"2024-06-27 12:39:06":         "2024-06-27 12:39:06",
		"12:39:06.000 UTC":            "12:39:06.000 UTC",
		"2024-06-27.000 UTC":          "2024-06-27.000 UTC", // prefix and suffix overlap
	} {
		if got := a.cell(in); got != want {
			t.Errorf("cell(%q) = %q, want %q", in, got, want)
		}
	}
}
