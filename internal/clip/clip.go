// Package clip shortens text that is repeated in messages (errors, logs,
// reports) to a bound, marking the cut with Mark. It is the one place that
// decides how such text is cut: on a rune boundary, with the mark counted
// inside the bound, so a clipped string never exceeds the bound it was given.
package clip

import "unicode/utf8"

// Mark ends a string that was cut: one rune, three bytes in UTF-8.
const Mark = "…"

// Bytes returns s if it is at most n bytes long. Otherwise it returns the
// longest prefix of s that ends on a rune boundary and leaves room for Mark
// within n bytes, followed by Mark. When n is too small to hold Mark
// (n < len(Mark)), the result is the longest prefix that fits, unmarked; for
// n <= 0 it is "".
//
// Only a cut is made: invalid UTF-8 in the kept prefix is returned as is, but
// no valid multi-byte rune is ever split.
func Bytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n <= 0 {
		return ""
	}
	mark := Mark
	if n < len(Mark) {
		mark = ""
	}
	// Back up to the start of the rune that s[cut] belongs to: at most
	// UTFMax-1 bytes, as no valid rune has more continuation bytes.
	cut := n - len(mark)
	for i := cut; i >= 0 && i > cut-utf8.UTFMax; i-- {
		if utf8.RuneStart(s[i]) {
			cut = i
			break
		}
	}
	return s[:cut] + mark
}

// Runes returns s if it has at most n runes. Otherwise it returns the first
// n-1 runes of s followed by Mark (n runes in all); for n <= 0 it is "".
// Runes are counted as a range loop counts them: each byte of invalid UTF-8
// is one rune.
func Runes(s string, n int) string {
	if n <= 0 {
		return ""
	}
	count := 0
	cut := -1 // byte offset of rune n-1 (the first one that Mark replaces)
	for i := range s {
		if count == n-1 {
			cut = i
		}
		count++
		if count > n {
			return s[:cut] + Mark
		}
	}
	return s
}
