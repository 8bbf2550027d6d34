package summary

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestAddingRowsCountsEachPieceOnce holds Summarize to issue 10's rule that
// each piece of a result is tokenised once and adding a row does not
// re-tokenise the whole output. The same page is summarised at two
// budgets; the bytes split into pieces for counting grow, per byte of
// output added, by at most 2: each row's text line and JSON once, and
// Structured's final encoding once (its one exact check). Counting the
// whole output again per row added, or per layout tried, takes it to 3 or
// more.
func TestAddingRowsCountsEachPieceOnce(t *testing.T) {
	for _, views := range []Views{ViewsBoth, ViewsStructured, ViewsText} {
		t.Run(views.String(), func(t *testing.T) {
			p := dexPage(1000, 100000)
			p.Views = views
			var counted, output, shown [2]int
			for i, budget := range []int{8000, 25000} {
				before := bytesCounted.Load()
				out, err := Summarize(p, budget, testCursor(p))
				if err != nil {
					t.Fatal(err)
				}
				counted[i] = int(bytesCounted.Load() - before)
				js, err := json.Marshal(out.Structured)
				if err != nil {
					t.Fatal(err)
				}
				output[i], shown[i] = len(out.Text)+len(js), out.ShownRows
			}
			if shown[1] <= shown[0] || output[1] <= output[0] {
				t.Fatalf("rows shown %v, output bytes %v: the larger budget must show more", shown, output)
			}
			per := float64(counted[1]-counted[0]) / float64(output[1]-output[0])
			t.Logf("rows %v, output %v B, counted %v B: %.2f B counted per B of output added", shown, output, counted, per)
			if per > 2.05 {
				t.Errorf("%.2f bytes counted per byte of output added (rows %v): rows are tokenised more than once", per, shown)
			}
		})
	}
}

// TestCountAddsUpAtNewlines checks joinsAtNewline against the codec
// itself: where it holds, the codec's count of a+b is its count of a plus
// its count of b.
func TestCountAddsUpAtNewlines(t *testing.T) {
	enc := encoder()
	count := func(s string) int {
		n, err := enc.Count(s)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	ends := []string{"a\n", "x,\n", "1,2\n", "  \n", "\"q\"\n", "—\n", ",,\n", "abc's\n", "\t\n", "é\n", "/\n", "]\n"}
	starts := []string{"a", "A", "1", ",", "\"", "x,y", "'s", "'ll", "—", "é", "…", "[", "-1", "TRUNCATED", "next_cursor: x"}
	bad := []string{" a", "\n", "\r\n", "/x", "\tx", "  ", " \n"}
	checked := 0
	for _, a := range ends {
		for _, pre := range []string{"", "rows 1–2 as CSV:\n", "value,\"a b\",   "} {
			a := pre + a
			for _, b := range append(starts, bad...) {
				for _, post := range []string{"", "\n", " tail", "s\n"} {
					b := b + post
					if !joinsAtNewline(a, b) {
						if strings.HasPrefix(b, " ") || strings.HasPrefix(b, "\n") || strings.HasPrefix(b, "/") || strings.HasPrefix(b, "\t") || strings.HasPrefix(b, "\r") {
							continue
						}
						t.Errorf("joinsAtNewline(%q, %q) = false", a, b)
						continue
					}
					checked++
					if got, want := count(a)+count(b), count(a+b); got != want {
						t.Errorf("count(%q)+count(%q) = %d, count of both = %d", a, b, got, want)
					}
				}
			}
		}
	}
	if checked < 500 {
		t.Fatalf("only %d joins checked", checked)
	}
}
