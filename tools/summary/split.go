package summary

import (
	"sync"
	"sync/atomic"
	"unicode"
	"unicode/utf8"
)

// o200k_base splits text into pieces with one regular expression before
// byte-pair encoding each piece, and no token spans two pieces:
//
//	[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?
//	|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+
//
// (the pattern of github.com/tiktoken-go/tokenizer's codec/o200k_base.go,
// matched there with a backtracking engine). nextPiece is that expression
// as a hand-written scanner, and countTokens adds up the token counts of
// the pieces, each piece encoded once per process (pieceCounts): data rows
// repeat their pieces (digits, hex runs, punctuation), so most are found
// counted. TestCountTokensMatchesCodec checks it against the codec.

// rune classes of the expression.
func isUpper(r rune) bool { // [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]
	if r < utf8.RuneSelf {
		return 'A' <= r && r <= 'Z'
	}
	return unicode.In(r, unicode.Lu, unicode.Lt, unicode.Lm, unicode.Lo, unicode.M)
}

func isLower(r rune) bool { // [\p{Ll}\p{Lm}\p{Lo}\p{M}]
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z'
	}
	return unicode.In(r, unicode.Ll, unicode.Lm, unicode.Lo, unicode.M)
}

func isLetter(r rune) bool {
	if r < utf8.RuneSelf {
		return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z'
	}
	return unicode.IsLetter(r)
}

func isNumber(r rune) bool {
	if r < utf8.RuneSelf {
		return '0' <= r && r <= '9'
	}
	return unicode.IsNumber(r)
}

func isSpace(r rune) bool { return unicode.IsSpace(r) }

// isPrefix is [^\r\n\p{L}\p{N}].
func isPrefix(r rune) bool { return r != '\r' && r != '\n' && !isLetter(r) && !isNumber(r) }

// isPunct is [^\s\p{L}\p{N}].
func isPunct(r rune) bool { return !isSpace(r) && !isLetter(r) && !isNumber(r) }

// at decodes the rune at byte i of s (utf8.RuneError, 0 past the end).
func at(s string, i int) (rune, int) {
	if i >= len(s) {
		return utf8.RuneError, 0
	}
	if c := s[i]; c < utf8.RuneSelf {
		return rune(c), 1
	}
	return utf8.DecodeRuneInString(s[i:])
}

// ASCII classes of the expression, one bit each, looked up in asciiClass
// so that runs of ASCII (most of a page) take no call per byte.
const (
	cUpper uint8 = 1 << iota
	cLower
	cSpace
	cPunct
	cEOLSlash // [\r\n/]
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range rune(utf8.RuneSelf) {
		for _, k := range []struct {
			bit uint8
			in  func(rune) bool
		}{
			{cUpper, isUpper}, {cLower, isLower}, {cSpace, isSpace}, {cPunct, isPunct},
			{cEOLSlash, func(r rune) bool { return r == '\r' || r == '\n' || r == '/' }},
		} {
			if k.in(c) {
				t[c] |= k.bit
			}
		}
	}
	return t
}()

// run returns the end of the longest run of runes in class from i: ASCII
// runes by their bit in asciiClass, others by class.
func run(s string, i int, bit uint8, class func(rune) bool) int {
	for i < len(s) {
		if c := s[i]; c < utf8.RuneSelf {
			if asciiClass[c]&bit == 0 {
				break
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if !class(r) {
			break
		}
		i += n
	}
	return i
}

// contraction returns the end of (?i:'s|'t|'re|'ve|'m|'ll|'d) at i, or i.
func contraction(s string, i int) int {
	if i >= len(s) || s[i] != '\'' {
		return i
	}
	r, n := at(s, i+1)
	switch r {
	case 's', 'S', 'ſ', 't', 'T', 'm', 'M', 'd', 'D':
		return i + 1 + n
	}
	r2, n2 := at(s, i+1+n)
	a, b := unicode.ToLower(r), unicode.ToLower(r2)
	if r < utf8.RuneSelf && r2 < utf8.RuneSelf && (a == 'r' && b == 'e' || a == 'v' && b == 'e' || a == 'l' && b == 'l') {
		return i + 1 + n + n2
	}
	return i
}

// lowerThenUpper is the first letter alternative from i,
// [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+ and a contraction:
// the longest upper run that still leaves a lower rune after it. It
// returns the end, or -1.
func lowerThenUpper(s string, i int) int {
	uEnd := run(s, i, cUpper, isUpper)
	if r, n := at(s, uEnd); n > 0 && isLower(r) {
		return contraction(s, run(s, uEnd, cLower, isLower))
	}
	// Backtrack into the upper run: its last rune that is also lower.
	for k := uEnd; k > i; {
		r, n := utf8.DecodeLastRuneInString(s[i:k])
		k -= n
		if isLower(r) {
			return contraction(s, run(s, k, cLower, isLower))
		}
	}
	return -1
}

// upperThenLower is the second letter alternative from i,
// [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]* and a contraction;
// -1 when no upper rune starts at i.
func upperThenLower(s string, i int) int {
	uEnd := run(s, i, cUpper, isUpper)
	if uEnd == i {
		return -1
	}
	return contraction(s, run(s, uEnd, cLower, isLower))
}

// nextPiece returns the end of the piece that starts at byte i of s
// (i < len(s)), trying the alternatives in the expression's order.
func nextPiece(s string, i int) int {
	r, n := at(s, i)
	switch {
	case '0' <= r && r <= '9':
		// Neither letter alternative starts at a digit (nor takes it as
		// its prefix): straight to \p{N}{1,3}.
		return numberPiece(s, i, n)
	case 'a' <= r && r <= 'z':
		// The first alternative, with no prefix and no upper run.
		return contraction(s, run(s, i, cLower, isLower))
	}
	prefix := isPrefix(r) && i+n < len(s)
	if prefix {
		if e := lowerThenUpper(s, i+n); e >= 0 {
			return e
		}
	}
	if e := lowerThenUpper(s, i); e >= 0 {
		return e
	}
	if prefix {
		if e := upperThenLower(s, i+n); e >= 0 {
			return e
		}
	}
	if e := upperThenLower(s, i); e >= 0 {
		return e
	}
	if isNumber(r) {
		return numberPiece(s, i, n)
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
	p := i
	if r == ' ' {
		if r2, _ := at(s, i+1); i+1 < len(s) && isPunct(r2) {
			p = i + 1
		}
	}
	if r2, _ := at(s, p); p < len(s) && isPunct(r2) {
		e := run(s, p, cPunct, isPunct)
		return run(s, e, cEOLSlash, func(r rune) bool { return r == '\r' || r == '\n' || r == '/' })
	}
	// Whitespace: \s*[\r\n]+ | \s+(?!\S) | \s+
	if isSpace(r) {
		w := run(s, i, cSpace, isSpace)
		lastNL := -1
		for j := i; j < w; {
			c, cn := at(s, j)
			if c == '\r' || c == '\n' {
				lastNL = j + cn
			}
			j += cn
		}
		if lastNL >= 0 {
			return lastNL
		}
		if w == len(s) {
			return w
		}
		// Give the last space back to the piece that follows.
		_, ln := utf8.DecodeLastRuneInString(s[i:w])
		if w-ln > i {
			return w - ln
		}
		return w
	}
	return i + max(n, 1)
}

// numberPiece is the end of \p{N}{1,3} at i, whose first rune is n bytes.
func numberPiece(s string, i, n int) int {
	e := i + n
	for k := 1; k < 3; k++ {
		if e < len(s) && s[e] < utf8.RuneSelf { // ASCII: a digit or the end
			if s[e] < '0' || s[e] > '9' {
				break
			}
			e++
			continue
		}
		r2, n2 := at(s, e)
		if n2 == 0 || !isNumber(r2) {
			break
		}
		e += n2
	}
	return e
}

// pieceCounts memoises the token count of each piece; it is dropped whole
// when it grows past pieceCountsMax entries.
var pieceCounts = struct {
	sync.RWMutex
	m map[string]int32
}{m: map[string]int32{}}

const pieceCountsMax = 1 << 18

// pieceKeepMax is the longest piece, in bytes, whose count is kept: the
// memo holds at most pieceCountsMax × pieceKeepMax bytes of keys (16 MiB).
const pieceKeepMax = 64

// pieceEncodes counts the pieces encoded (not found counted), for tests and
// benchmarks.
var pieceEncodes atomic.Int64

// bytesCounted adds up the bytes of text countTokens splits into pieces,
// for the test that holds a summary to counting each piece once.
var bytesCounted atomic.Int64

// countTokens is the o200k_base token count of s: the sum of its pieces'
// counts (the codec's own count for text that is not valid UTF-8, which it
// repairs first).
func countTokens(s string) int {
	if !utf8.ValidString(s) {
		c, err := encoder().Count(s)
		if err != nil {
			return len(s)
		}
		return c
	}
	bytesCounted.Add(int64(len(s)))
	// One read lock for the whole text, not one per piece: the pieces not
	// counted yet are encoded after it.
	total := 0
	var missed []string
	pieceCounts.RLock()
	for i := 0; i < len(s); {
		e := nextPiece(s, i)
		p := s[i:e]
		i = e
		if len(p) == 1 || len(p) <= 3 && asciiDigits(p) {
			total++ // a byte, or 2–3 ASCII digits: one token each (TestShortPiecesAreOneToken)
			continue
		}
		if n, ok := pieceCounts.m[p]; ok {
			total += int(n)
			continue
		}
		missed = append(missed, p)
	}
	pieceCounts.RUnlock()
	for _, p := range missed {
		total += pieceTokens(p)
	}
	return total
}

// asciiDigits reports whether p is all ASCII digits.
func asciiDigits(p string) bool {
	for i := range len(p) {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
	}
	return true
}

// pieceTokens is the o200k_base token count of one piece.
func pieceTokens(p string) int {
	if len(p) == 1 {
		return 1 // every byte is a token of its own
	}
	pieceCounts.RLock()
	n, ok := pieceCounts.m[p]
	pieceCounts.RUnlock()
	if ok {
		return int(n)
	}
	pieceEncodes.Add(1)
	c, err := encoder().Count(p)
	if err != nil {
		c = len(p)
	}
	if len(p) > pieceKeepMax {
		return c // long pieces (runs of text) rarely repeat: not kept
	}
	pieceCounts.Lock()
	if len(pieceCounts.m) >= pieceCountsMax {
		pieceCounts.m = map[string]int32{}
	}
	pieceCounts.m[string([]byte(p))] = int32(c)
	pieceCounts.Unlock()
	return c
}
