package summary

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// TestCountTokensMatchesCodec: the piece-wise count equals the codec's
// count of the whole string, on random strings over an alphabet that
// exercises every alternative of the split expression (letters of every
// case and script, marks, numbers of every kind, contractions, spaces of
// every kind, newlines, punctuation) and on rendered results.
func TestCountTokensMatchesCodec(t *testing.T) {
	alphabet := []string{
		"a", "b", "Z", "Q", "é", "É", "ß", "ǅ", "ʰ", "中", "ا", "\u0301", "\u0903", "ſ", "\u212A",
		"0", "7", "²", "Ⅻ", "٣", "'", "'s", "'T", "'re", "'VE", "'m", "'ll", "'D", "'x",
		" ", "  ", "\t", "\n", "\r", "\r\n", "\v", "\f", "\u00a0", "\u2028", "\u3000", "\u0085",
		".", ",", "/", "//", "-", "_", "\"", "…", "∅", "×", "·", "–", "$", "€", "😀", "(", ")", "[", "]", "{", "}", ":",
		"0x", "hello", "World", "HTTPServer", "ABC", "ÀÉ", "abc123", "2024-06-30 00:00:00.000 UTC",
	}
	r := rand.New(rand.NewPCG(5, 8))
	for range 20000 {
		var b strings.Builder
		for range 1 + r.IntN(16) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		s := b.String()
		want, err := encoder().Count(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := countTokens(s); got != want {
			t.Fatalf("countTokens(%q) = %d, codec %d", s, got, want)
		}
	}
	for _, p := range []Page{dexPage(60, 1000), widePage(4, 300), longTextPage(5, 3000)} {
		out := mustSummarize(t, p, 8000)
		for _, s := range []string{out.Text, structJSON(t, out.Structured)} {
			want, _ := encoder().Count(s)
			if got := countTokens(s); got != want {
				t.Fatalf("rendered result: countTokens %d, codec %d", got, want)
			}
		}
	}
}

// TestShortPiecesAreOneToken: countTokens counts a one-byte piece (ASCII:
// other bytes are not valid UTF-8 alone) and a piece of two or three ASCII
// digits as one token without looking it up. The codec agrees, except that
// it counts DEL (0x7f) as none: one is an overcount, which keeps a budget.
func TestShortPiecesAreOneToken(t *testing.T) {
	for c := range 0x80 {
		p := string([]byte{byte(c)})
		want := 1
		if c == 0x7f {
			want = 0
		}
		if got, err := encoder().Count(p); err != nil || got != want {
			t.Errorf("codec counts %q as %d tokens (%v), want %d", p, got, err, want)
		}
	}
	for n := range 1000 {
		for _, p := range []string{fmt.Sprintf("%02d", n%100), fmt.Sprintf("%03d", n), fmt.Sprint(n)} {
			if got, err := encoder().Count(p); err != nil || got != 1 {
				t.Errorf("codec counts %q as %d tokens (%v), countTokens as 1", p, got, err)
			}
			if got := countTokens(p); got != 1 {
				t.Errorf("countTokens(%q) = %d", p, got)
			}
		}
	}
}

// TestCharacterCapHeld: a result of plain English words (about five
// characters a token) fits the budget by characters / 4 too, Claude Code's
// measure, in each view mode, not only by o200k tokens.
func TestCharacterCapHeld(t *testing.T) {
	words := strings.Fields("the quick brown fox jumps over the lazy dog while several other animals watch from behind a large wooden fence near the river")
	p := dexPage(0, 400)
	p.Columns = p.Columns[:3]
	for i := range 400 {
		var b strings.Builder
		for j := range 30 {
			b.WriteString(words[(i*7+j)%len(words)])
			b.WriteByte(' ')
		}
		p.Rows = append(p.Rows, []any{b.String(), "another sentence with words", "and a third column of words"})
	}
	p.StatsRows = p.Rows
	for _, views := range []Views{ViewsBoth, ViewsText, ViewsStructured} {
		p.Views = views
		for _, budget := range []int{1000, 4000} {
			out := mustSummarize(t, p, budget)
			for _, s := range []string{out.Text, structJSON(t, out.Structured)} {
				if q := quarterLen(s); q > budget {
					t.Errorf("%s at %d: %d characters / 4 = %d over the budget", views, budget, len([]rune(s)), q)
				}
			}
			if out.ShownRows == 0 {
				t.Errorf("%s at %d: no rows", views, budget)
			}
		}
	}
}

// forgetPieces empties the piece-count memo (a fresh process).
func forgetPieces() {
	pieceCounts.Lock()
	pieceCounts.m = map[string]int32{}
	pieceCounts.Unlock()
}

// TestEachPieceEncodedOnce: rendering a page encodes each distinct piece
// of its text once; rendering it again, or with one more row, encodes only
// the pieces the new row brings (never the whole output again).
func TestEachPieceEncodedOnce(t *testing.T) {
	all := dexPage(41, 100000)
	p := firstPart(all, 40)
	forgetPieces()
	start := pieceEncodes.Load()
	out := mustSummarize(t, p, 25000)
	first := pieceEncodes.Load() - start
	distinct := map[string]bool{}
	for _, s := range []string{out.Text, structJSON(t, out.Structured)} {
		for i := 0; i < len(s); {
			e := nextPiece(s, i)
			distinct[s[i:e]] = true
			i = e
		}
	}
	if first > int64(len(distinct))*3 {
		t.Errorf("first render encoded %d pieces; the output has %d distinct pieces", first, len(distinct))
	}
	start = pieceEncodes.Load()
	mustSummarize(t, p, 25000)
	if again := pieceEncodes.Load() - start; again != 0 {
		t.Errorf("rendering the same page again encoded %d pieces, want 0", again)
	}
	// One more row: only its new pieces are encoded.
	row := all.Rows[40]
	newPieces := map[string]bool{}
	for _, v := range row {
		s := fmt.Sprint(v)
		for _, form := range []string{s + ",", `"` + s + `",`} {
			for i := 0; i < len(form); {
				e := nextPiece(form, i)
				newPieces[form[i:e]] = true
				i = e
			}
		}
	}
	start = pieceEncodes.Load()
	out2 := mustSummarize(t, all, 25000)
	if out2.ShownRows <= out.ShownRows {
		t.Fatalf("41 rows shown %d, 40 rows %d", out2.ShownRows, out.ShownRows)
	}
	if more := pieceEncodes.Load() - start; more > int64(len(newPieces))+20 {
		t.Errorf("one more row encoded %d pieces; the row has at most %d", more, len(newPieces))
	}
}
