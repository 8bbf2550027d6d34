package summary

import (
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/tiktoken-go/tokenizer"
)

var (
	codecOnce sync.Once
	codec     tokenizer.Codec
	codecErr  error
)

// encoder returns the shared o200k_base codec, loaded once. The codec is safe
// for concurrent use (its error mode is never changed).
func encoder() tokenizer.Codec {
	codecOnce.Do(func() {
		codec, codecErr = tokenizer.Get(tokenizer.O200kBase)
	})
	if codecErr != nil {
		// The vocabulary is embedded in the binary: failing to load it is a
		// build defect, not a run-time condition.
		panic("summary: loading o200k_base: " + codecErr.Error())
	}
	return codec
}

// CountTokens returns the o200k_base token count of s. Pieces of text
// (split.go) are encoded once per process and their counts reused, so
// counting a page whose rows were counted before costs little more than
// splitting it.
func CountTokens(s string) int {
	if s == "" {
		return 0
	}
	return countTokens(s)
}

// cutToTokens returns s unchanged when it fits budget tokens, otherwise its
// longest prefix that fits together with a visible cut marker. The result
// never exceeds budget tokens.
func cutToTokens(s string, budget int) string {
	if CountTokens(s) <= budget {
		return s
	}
	const marker = "\n…[cut: token budget; raise max_tokens]"
	if CountTokens(marker) > budget {
		if CountTokens("…") <= budget {
			return "…"
		}
		return ""
	}
	lo, hi := 0, len(s) // invariant: prefix lo fits
	for lo < hi {
		mid := (lo + hi + 1) / 2
		for mid > lo && !utf8.RuneStart(s[mid]) {
			mid--
		}
		if mid == lo {
			// No rune boundary strictly between lo and the upper half:
			// step to the next boundary above lo, if it fits.
			next := lo + 1
			for next < hi && !utf8.RuneStart(s[next]) {
				next++
			}
			if next <= hi && CountTokens(s[:next]+marker) <= budget {
				lo = next
				continue
			}
			break
		}
		if CountTokens(s[:mid]+marker) <= budget {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return s[:lo] + marker
}

// halvesFrom is the shortest text countLarge splits in two: below it, a
// goroutine costs about what it saves.
const halvesFrom = 8 << 10

// countLarge is CountTokens of a large text (a result's final encoding),
// counted as two halves at once when s is valid UTF-8 and has a piece
// boundary near its middle (see pieceBoundaryNear): a text's count is the
// sum of its pieces' counts, so the halves' counts add up to the whole's.
// The second half is counted on another goroutine unless this one gets to
// it first (the other core may be busy), so it never takes much longer than
// counting s whole.
func countLarge(s string) int {
	k := -1
	if len(s) >= halvesFrom && utf8.ValidString(s) {
		k = pieceBoundaryNear(s, len(s)/2)
	}
	if k <= 0 {
		return CountTokens(s)
	}
	var claimed atomic.Bool
	second := 0
	done := make(chan struct{})
	go func() {
		defer close(done)
		if claimed.CompareAndSwap(false, true) {
			second = countTokens(s[k:])
		}
	}()
	first := countTokens(s[:k])
	if claimed.CompareAndSwap(false, true) {
		second = countTokens(s[k:])
	}
	<-done
	return first + second
}

// pieceBoundaryNear returns a byte offset at or after mid (and before
// mid+4096) where s splits into two texts whose counts add up to its own
// (splitsAt), -1 when there is none.
func pieceBoundaryNear(s string, mid int) int {
	for i := max(mid, 1); i < len(s) && i < mid+4096; i++ {
		if splitsAt(s, i) {
			return i
		}
	}
	return -1
}

// splitsAt reports whether s[:i] and s[i:] are split into the same pieces
// as s (split.go), so that their counts add up to s's: s[i] is an ASCII
// digit and s[i-1] an ASCII byte that is neither a digit nor white space.
// A digit belongs only to a \p{N}{1,3} piece, which holds nothing but
// digits, so a piece starts at i; and the piece that ends at i is split
// the same without what follows it, which only white space (\s+(?!\S))
// looks past.
func splitsAt(s string, i int) bool {
	if i <= 0 || i >= len(s) || s[i] < '0' || s[i] > '9' {
		return false
	}
	switch p := s[i-1]; {
	case p >= utf8.RuneSelf, '0' <= p && p <= '9':
		return false
	case p == ' ', p == '\t', p == '\n', p == '\r', p == '\v', p == '\f':
		return false
	}
	return true
}
