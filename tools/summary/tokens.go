package summary

import (
	"sync"
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
