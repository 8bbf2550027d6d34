package summary

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// benchRowsText returns data-like texts to count: 200 DEX rows as the text
// view's CSV lines, the same rows as JSON, and 20 rows of the demo's wide
// table (300 columns of mixed types, internal/emulator) as CSV lines.
func benchRowsText(tb testing.TB) map[string]string {
	csvOf := func(p Page) string {
		d, err := NewDraft(p, 8000)
		if err != nil {
			tb.Fatal(err)
		}
		lines := make([]string, len(p.Rows))
		for i := range p.Rows {
			lines[i] = d.text.row(i)
		}
		return strings.Join(lines, "\n")
	}
	dex := dexPage(200, 100000)
	js, err := json.Marshal(dex.Rows)
	if err != nil {
		tb.Fatal(err)
	}
	w := emulator.Wide(20, 300, 1)
	rows := make([]dune.Row, w.Len())
	for i := range rows {
		rows[i] = w.Row(i)
	}
	wide := dexPage(0, 100000)
	wide.Columns, wide.Rows, wide.StatsRows, wide.Datapoints = w.Columns, rows, rows, len(rows)*len(w.Columns)
	return map[string]string{"csv": csvOf(dex), "json": string(js), "wide": csvOf(wide)}
}

// BenchmarkCountTokensRows counts data rows with the piece memo warm (as
// after the first page of a result), reporting MB/s of text counted: the
// cost is splitting the text into pieces and looking them up.
func BenchmarkCountTokensRows(b *testing.B) {
	texts := benchRowsText(b)
	for _, name := range []string{"csv", "json", "wide"} {
		s := texts[name]
		b.Run(name, func(b *testing.B) {
			CountTokens(s) // warm the memo
			b.SetBytes(int64(len(s)))
			for b.Loop() {
				CountTokens(s)
			}
		})
	}
}
