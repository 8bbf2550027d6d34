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
	count := func(s string) int { return codecCount(t, s) }
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
	// Joins it refuses can differ: a newline and the next are one piece.
	if a, b := "a\n", "\nb"; joinsAtNewline(a, b) || count(a)+count(b) == count(a+b) {
		t.Errorf("joinsAtNewline(%q, %q) = %v; counts %d+%d, of both %d", a, b, joinsAtNewline(a, b), count(a), count(b), count(a+b))
	}
}

// TestCountsFromPartsMatchCodec checks the counts Summarize adds up from
// parts against the codec's count of what it returns, and that
// StructuredJSON is the encoding of Structured that was counted, for pages
// of several shapes (rows with leading '/', spaces and one column among
// them), budgets and views.
func TestCountsFromPartsMatchCodec(t *testing.T) {
	enc := encoder()
	slashes := dexPage(40, 40)
	for i, r := range slashes.Rows {
		// Rows that start with '/' or white space after rows that end
		// with a quoted or empty field: joins where pieces differ.
		r[0] = []string{"/", " lead", "/x", "", "/", "\tx"}[i%6]
		switch i % 4 {
		case 0:
			r[len(r)-1] = "a,b"
		case 2:
			r[len(r)-1] = nil
		}
	}
	one := widePage(30, 1)
	pages := map[string]Page{
		"dex": dexPage(300, 100000), "wide": widePage(20, 300), "long": longTextPage(12, 3000),
		"slashes": slashes, "one-column": one, "single": singleRowPage(), "empty": emptyPage(),
	}
	for name, p := range pages {
		for _, budget := range []int{256, 1000, 2000, 8000, 25000} {
			for _, views := range []Views{ViewsBoth, ViewsStructured, ViewsText} {
				p := p
				p.Views = views
				out, err := Summarize(p, budget, testCursor(p))
				if err != nil {
					continue // too small a budget: other tests check the error
				}
				tt, err := enc.Count(out.Text)
				if err != nil {
					t.Fatal(err)
				}
				js, err := json.Marshal(out.Structured)
				if err != nil {
					t.Fatal(err)
				}
				st, err := enc.Count(string(js))
				if err != nil {
					t.Fatal(err)
				}
				if tt != out.TextTokens || st != out.StructuredTokens || tt > budget || st > budget {
					t.Errorf("%s/%d/%s: text %d tokens (reported %d), structured %d (reported %d)", name, budget, views, tt, out.TextTokens, st, out.StructuredTokens)
				}
				if string(js) != string(out.StructuredJSON) {
					t.Errorf("%s/%d/%s: StructuredJSON is not the encoding of Structured", name, budget, views)
				}
			}
		}
	}
}

// codecCount is the codec's own count of s (the oracle of the counting
// tests).
func codecCount(t *testing.T, s string) int {
	t.Helper()
	n, err := encoder().Count(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
