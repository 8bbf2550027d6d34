package summary

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/dlclark/regexp2/v2"
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
	pieceCounts.short, pieceCounts.long = shortCounts{}, map[string]int32{}
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

// codecSplit is the codec's split expression (github.com/tiktoken-go/tokenizer,
// codec/o200k_base.go) in the codec's own regular-expression engine: the
// oracle for nextPiece's pieces, so that a wrong split cannot hide behind a
// count that happens to agree.
var codecSplit = regexp2.MustCompile(`[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+`, regexp2.None)

// codecPieces splits s as the codec does.
func codecPieces(tb testing.TB, s string) []string {
	var out []string
	m, err := codecSplit.FindStringMatch(s)
	for ; m != nil && err == nil; m, err = codecSplit.FindNextMatch(m) {
		out = append(out, m.String())
	}
	if err != nil {
		tb.Fatalf("codec split of %q: %v", s, err)
	}
	return out
}

// ourPieces splits s with nextPiece.
func ourPieces(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		e := nextPiece(s, i)
		if e <= i || e > len(s) {
			panic(fmt.Sprintf("nextPiece(%q, %d) = %d", s, i, e))
		}
		out = append(out, s[i:e])
		i = e
	}
	return out
}

// pieceFragments generate the parts of the differential test's strings:
// each stresses a boundary of the split expression.
var pieceFragments = []func(r *rand.Rand) string{
	// ASCII words: lower, upper, capitalised, camel case, hex.
	func(r *rand.Rand) string { return randFrom(r, "abcdefghijklmnopqrstuvwxyz", 1+r.IntN(8)) },
	func(r *rand.Rand) string { return randFrom(r, "ABCDEFGHIJKLMNOPQRSTUVWXYZ", 1+r.IntN(6)) },
	func(r *rand.Rand) string {
		return randFrom(r, "ABCDEFGHXYZ", 1+r.IntN(3)) + randFrom(r, "abcdefxyz", r.IntN(5))
	},
	func(r *rand.Rand) string { return "0x" + randFrom(r, "0123456789abcdef", 1+r.IntN(40)) },
	func(r *rand.Rand) string { return randFrom(r, "0123456789ABCDEFabcdef", 1+r.IntN(12)) },
	// Non-ASCII letters and marks of each class: Lu, Ll, Lt, Lm, Lo, Mn, Mc, Me.
	func(r *rand.Rand) string {
		return randWords(r, []string{"É", "Σ", "Ж", "é", "ß", "σ", "ж", "ǅ", "ᾈ", "ʰ", "ー", "中", "ا", "\u0301", "\u0903", "\u20dd", "ſ", "\u212a", "İ", "ı"}, 1+r.IntN(4))
	},
	// Digits: ASCII runs, non-ASCII \p{N} (Nd, Nl, No), numbers as data.
	func(r *rand.Rand) string { return randFrom(r, "0123456789", 1+r.IntN(9)) },
	func(r *rand.Rand) string {
		return randWords(r, []string{"²", "Ⅻ", "٣", "½", "߁", "𝟙", "7"}, 1+r.IntN(4))
	},
	func(r *rand.Rand) string {
		return fmt.Sprint([]any{r.Float64() * 1e4, -r.Int64N(1e6), r.Uint64(), r.NormFloat64()}[r.IntN(4)])
	},
	// Contractions, cased or not, and apostrophes that are not one.
	func(r *rand.Rand) string {
		return randWords(r, []string{"'s", "'S", "'t", "'T", "'re", "'RE", "'rE", "'ve", "'Ve", "'m", "'M", "'ll", "'LL", "'lL", "'d", "'D", "'ſ", "'", "'x", "'r", "'l", "'v", "'é"}, 1)
	},
	// Punctuation runs, ASCII or not, then \r \n / or not.
	func(r *rand.Rand) string {
		return randFrom(r, `.,;:!?"#$%&()*+-/<=>@[\]^_{|}~'`+"`", 1+r.IntN(4)) + randWords(r, []string{"", "", "/", "\n", "\r", "\r\n", "//", "\n\n"}, 1)
	},
	func(r *rand.Rand) string {
		return randWords(r, []string{"…", "€", "😀", "×", "·", "–", "∅", "«", "»", "\u200b", "\ufeff"}, 1+r.IntN(3))
	},
	// Spaces before punctuation and letters; whitespace runs ending or not
	// in newlines; spaces of every kind; control characters.
	func(r *rand.Rand) string {
		return randWords(r, []string{" ", "  ", "\t", "\v", "\f", "\u00a0", "\u2028", "\u2029", "\u3000", "\u0085", "\u1680", "\u180e", "\x1c", "\x1f"}, 1+r.IntN(4))
	},
	func(r *rand.Rand) string {
		return randWords(r, []string{" ", "\t", "\n", "\r", "\r\n", "\u00a0"}, 1+r.IntN(5))
	},
	// (Not DEL: the codec's expression matches no piece at it, counting it
	// as no token, where countTokens counts one; see TestShortPiecesAreOneToken.)
	func(r *rand.Rand) string { return randWords(r, []string{"\x00", "\x01", "\x1b", "\x08"}, 1) },
	// Data: CSV and JSON cells, timestamps, paths, URLs.
	func(r *rand.Rand) string {
		return randWords(r, []string{",", `","`, `":"`, `{"`, `"}`, `[[`, `]]`, ",null,", ",,", `\"`, ",true", "-", "_", "2024-06-30 00:00:00.000 UTC", "2023-01-01T00:00:00Z", "https://dune.com/queries/1", "uniswap_v3", "WETH-USDC", "HTTPServer"}, 1+r.IntN(3))
	},
}

// Invalid UTF-8 (countTokens hands it to the codec whole).
var invalidUTF8 = []string{"\xff", "\xc3", "\xed\xa0\x80", "\xe2\x82", "\x80\x80"}

func randFrom(r *rand.Rand, chars string, n int) string {
	cs := []rune(chars)
	b := make([]rune, n)
	for i := range b {
		b[i] = cs[r.IntN(len(cs))]
	}
	return string(b)
}

func randWords(r *rand.Rand, words []string, n int) string {
	var b strings.Builder
	for range n {
		b.WriteString(words[r.IntN(len(words))])
	}
	return b.String()
}

// TestPiecesMatchCodec is the differential test of the splitter: on
// thousands of generated strings that put every kind of text next to every
// other (pieceFragments), nextPiece's pieces equal the codec's expression's
// matches and countTokens equals the codec's count; the same on rendered
// data rows as CSV and JSON and the demo's wide table.
func TestPiecesMatchCodec(t *testing.T) {
	n := 50000
	if testing.Short() {
		n = 10000
	}
	r := rand.New(rand.NewPCG(10, 6))
	check := func(s string) {
		t.Helper()
		if utf8.ValidString(s) {
			want, got := codecPieces(t, s), ourPieces(s)
			if !slices.Equal(got, want) {
				t.Fatalf("pieces of %q:\n got %q\nwant %q", s, got, want)
			}
		}
		want, err := encoder().Count(s)
		if err != nil {
			t.Fatal(err)
		}
		// Twice: the second count finds every piece in the memo.
		for pass := range 2 {
			if got := countTokens(s); got != want {
				t.Fatalf("countTokens(%q) = %d (pass %d), codec %d", s, got, pass, want)
			}
		}
	}
	for range n {
		var b strings.Builder
		for range 1 + r.IntN(12) {
			b.WriteString(pieceFragments[r.IntN(len(pieceFragments))](r))
		}
		if r.IntN(40) == 0 {
			s := b.String()
			k := r.IntN(len(s) + 1)
			b.Reset()
			b.WriteString(s[:k] + invalidUTF8[r.IntN(len(invalidUTF8))] + s[k:])
		}
		check(b.String())
	}
	for name, s := range benchRowsText(t) {
		t.Run(name, func(t *testing.T) { check(s) })
	}
}

// TestShortKey: shortKey gives each ASCII piece of 2 to 8 bytes its own key
// (NUL bytes and the length included), the same wherever the piece stands
// in a text and whatever follows it, and no key (0) to a piece that is not
// ASCII.
func TestShortKey(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 9))
	owner := map[uint64]string{}
	for range 20000 {
		n := 2 + r.IntN(7)
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(r.IntN(4)) // 0–3: many pieces differ only in length or by a NUL
			if r.IntN(3) == 0 {
				b[j] = byte(r.IntN(0x80))
			}
		}
		p := string(b)
		k := shortKey(p, 0, n)
		if k == 0 {
			t.Fatalf("shortKey(%q) = 0", p)
		}
		if q, ok := owner[k]; ok && q != p {
			t.Fatalf("shortKey(%q) = shortKey(%q) = %#x", p, q, k)
		}
		owner[k] = p
		for _, text := range []string{p + "\xff\xfe more text", "x" + p, "xyz" + p + "abcdefgh"} {
			at := strings.Index(text, p)
			if got := shortKey(text, at, n); got != k {
				t.Fatalf("shortKey of %q at %d in %q = %#x, alone %#x", p, at, text, got, k)
			}
		}
	}
	for _, p := range []string{"é", "aé", "\xffabc", "abcdefg\x80"} {
		if k := shortKey(p, 0, len(p)); k != 0 {
			t.Errorf("shortKey(%q) = %#x, want 0 (not ASCII)", p, k)
		}
	}
}

// TestShortCounts: the short-piece table holds what a map holds, through
// its growth and overwrites, keys that share their high bits (one probe
// sequence) included.
func TestShortCounts(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	var tab shortCounts
	want := map[uint64]int32{}
	if _, ok := tab.get(0x8061); ok {
		t.Fatal("empty table holds a key")
	}
	for i := range 50000 {
		k := r.Uint64() | 1
		if i%3 == 0 {
			k = uint64(r.IntN(5000))<<1 | 1 // small keys: their products collide in the high bits
		}
		c := int32(r.IntN(9))
		tab.put(k, c)
		want[k] = c
	}
	if tab.n != len(want) {
		t.Errorf("table holds %d keys, map %d", tab.n, len(want))
	}
	for k, c := range want {
		if got, ok := tab.get(k); !ok || got != c {
			t.Fatalf("get(%#x) = %d, %v; want %d", k, got, ok, c)
		}
	}
	for range 10000 {
		k := r.Uint64() | 1
		if _, in := want[k]; in {
			continue
		}
		if got, ok := tab.get(k); ok {
			t.Fatalf("get(%#x) = %d for a key never put", k, got)
		}
	}
}

// TestCountTokensConcurrent: goroutines counting different texts at once,
// the memo growing under them, each get the codec's count (run with -race:
// the memo is read under the read lock and written under the lock).
func TestCountTokensConcurrent(t *testing.T) {
	forgetPieces()
	r := rand.New(rand.NewPCG(7, 1))
	texts := make([][]string, 4)
	want := make([][]int, 4)
	for g := range texts {
		for range 150 {
			var b strings.Builder
			for range 1 + r.IntN(20) {
				b.WriteString(pieceFragments[r.IntN(len(pieceFragments))](r))
			}
			s := b.String()
			c, err := encoder().Count(s)
			if err != nil {
				t.Fatal(err)
			}
			texts[g] = append(texts[g], s)
			want[g] = append(want[g], c)
		}
	}
	errs := make(chan string, len(texts))
	var wg sync.WaitGroup
	for g := range texts {
		wg.Go(func() {
			for i, s := range texts[g] {
				if got := countTokens(s); got != want[g][i] {
					errs <- fmt.Sprintf("countTokens(%q) = %d, codec %d", s, got, want[g][i])
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// countLarge's halves add up to the whole's count, and the offset it splits
// at is where a piece starts in the whole text's own split (nextPiece from
// the start), for results of every kind at large budgets.
func TestCountLargeSplitsAtAPiece(t *testing.T) {
	pages := []Page{dexPage(300, 100000), widePage(20, 300), longTextPage(12, 3000)}
	checked := 0
	for _, p := range pages {
		for _, views := range []Views{ViewsBoth, ViewsStructured, ViewsText} {
			p.Views = views
			out := mustSummarize(t, p, 25000)
			for _, s := range []string{string(out.StructuredJSON), out.Text} {
				if len(s) < halvesFrom {
					continue
				}
				k := pieceBoundaryNear(s, len(s)/2)
				if k < 0 {
					continue
				}
				starts := map[int]bool{}
				for i := 0; i < len(s); i = nextPiece(s, i) {
					starts[i] = true
				}
				if !starts[k] {
					t.Fatalf("offset %d (%q) is not where a piece starts", k, s[max(k-8, 0):min(k+8, len(s))])
				}
				want, err := encoder().Count(s)
				if got := countLarge(s); err != nil || got != want {
					t.Fatalf("countLarge = %d, the codec's count %d (%v)", got, want, err)
				}
				checked++
			}
		}
	}
	if checked < 5 {
		t.Fatalf("only %d texts were split", checked)
	}
}

// At every offset splitsAt accepts, the codec's counts of the two parts
// add up to its count of the whole (the codec is the oracle), over seeded
// texts that put white space, punctuation, letters and other digits before
// digits; and a text whose middle is such an offset is counted right by
// countLarge.
func TestSplitsAtAddsUp(t *testing.T) {
	count := func(s string) int { return codecCount(t, s) }
	frags := []string{"1", "12", "123", "4567", " ", "  ", "   ", "\t", "\n", " \n", "\r\n", "a", "ab", "Abc", "'s", ",", "\",\"", "-", "/", ".", "é", "—", "x  ", "[", "]", ":"}
	r := rand.New(rand.NewPCG(42, 9))
	accepted := 0
	for range 3000 {
		var b strings.Builder
		for range 2 + r.IntN(10) {
			b.WriteString(frags[r.IntN(len(frags))])
		}
		s := b.String()
		whole := count(s)
		for k := 1; k < len(s); k++ {
			if !splitsAt(s, k) {
				continue
			}
			accepted++
			if a, c := count(s[:k]), count(s[k:]); a+c != whole {
				t.Fatalf("splitsAt(%q, %d): %d + %d tokens, the whole %d", s, k, a, c, whole)
			}
		}
	}
	if accepted < 1000 {
		t.Fatalf("only %d offsets accepted", accepted)
	}
	// The reviewer's case: spaces before a digit at the middle.
	s := strings.Repeat("abc,", 2500) + "   5" + strings.Repeat("x", 10000)
	if got, want := countLarge(s), count(s); got != want {
		t.Fatalf("countLarge = %d, the codec's count %d", got, want)
	}
}
