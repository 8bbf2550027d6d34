package summary

import (
	"encoding/json"
	"fmt"
	"testing"
)

// BenchmarkSummarizeViews is the summary of a 1,000-row DEX page in each
// result view at the default budget and at 25,000 tokens (more rows shown:
// under both views, rows in the text and in Structured), statistics
// computed afresh, the piece counts of earlier pages known.
func BenchmarkSummarizeViews(b *testing.B) {
	memoOn.Store(false)
	defer memoOn.Store(true)
	p := dexPage(1000, 100000)
	cursor := testCursor(p)
	for _, views := range []Views{ViewsBoth, ViewsText, ViewsStructured} {
		for _, budget := range []int{8000, 25000} {
			b.Run(fmt.Sprintf("%s/%d", views, budget), func(b *testing.B) {
				p.Views = views
				out, err := Summarize(p, budget, cursor)
				if err != nil {
					b.Fatal(err)
				}
				cpu0 := cpuTime()
				n := 0
				for b.Loop() {
					if _, err := Summarize(p, budget, cursor); err != nil {
						b.Fatal(err)
					}
					n++
				}
				if cpu := cpuTime() - cpu0; cpu > 0 {
					b.ReportMetric(float64(cpu.Microseconds())/1000/float64(n), "cpu-ms/op")
				}
				b.ReportMetric(float64(len(out.Structured.Rows)), "structured-rows")
			})
		}
	}
}

// BenchmarkRowJSON encodes 1,000 DEX rows with appendJSON, and with
// json.Marshal (what each row cost before).
func BenchmarkRowJSON(b *testing.B) {
	rows := dexRows(1000, 1)
	b.Run("appendJSON", func(b *testing.B) {
		var buf []byte
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range rows {
				var err error
				if buf, err = appendJSON(buf[:0], []any(r)); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
	b.Run("json.Marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, r := range rows {
				if _, err := json.Marshal(r); err != nil {
					b.Fatal(err)
				}
			}
		}
	})
}
