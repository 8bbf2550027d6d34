package summary

import (
	"math/bits"
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
// counted. Splitting is most of the cost of counting a page, so the common
// pieces of data (runs of ASCII digits and lower-case letters) are read off
// 8 bytes at a time in countTokens, and nextPiece decides on ASCII bytes
// with table tests before it falls back to decoding runes.
//
// The scanner follows the codec's matcher where it departs from the
// expression: \s*[\r\n]+ ends at the end of the first run of newlines
// in a run of spaces, not the last (newlinesEnd). One departure it does
// not follow: the codec matches no piece at DEL (0x7f) and so counts it as
// no token; countTokens counts a DEL alone as one, an overcount.
// TestPiecesMatchCodec checks the pieces against the codec's own matcher
// and the counts against the codec, on generated text and data rows.

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
// so that runs of ASCII (most of a page) take no call per byte. Every ASCII
// byte is exactly one of upper, lower, digit, space, punct.
const (
	cUpper uint8 = 1 << iota
	cLower
	cSpace
	cPunct
	cEOLSlash // [\r\n/]
	cDigit
	cPrefix // [^\r\n\p{L}\p{N}]
)

var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := range rune(utf8.RuneSelf) {
		for _, k := range []struct {
			bit uint8
			in  func(rune) bool
		}{
			{cUpper, isUpper}, {cLower, isLower}, {cSpace, isSpace}, {cPunct, isPunct},
			{cEOLSlash, func(r rune) bool { return r == '\r' || r == '\n' || r == '/' }},
			{cDigit, isNumber}, {cPrefix, isPrefix},
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
// (i < len(s)). It decides from ASCII bytes alone with direct table tests
// (data rows are mostly ASCII), and hands the piece to nextPieceSlow when
// a byte it has to look at is not ASCII.
func nextPiece(s string, i int) int {
	c := s[i]
	if c >= utf8.RuneSelf {
		return nextPieceSlow(s, i)
	}
	k := asciiClass[c]
	switch {
	case k&cLower != 0:
		// The first alternative, with no prefix and no upper run.
		return lowerEnd(s, i+1)
	case k&cDigit != 0:
		// Neither letter alternative starts at a digit (nor takes it as
		// its prefix): straight to \p{N}{1,3}.
		return numberPiece(s, i, 1)
	case k&cUpper != 0:
		return upperEnd(s, i, i+1)
	case i+1 == len(s):
		return i + 1 // a last punctuation or space byte is a piece alone
	}
	d := s[i+1]
	if d >= utf8.RuneSelf {
		return nextPieceSlow(s, i)
	}
	kd := asciiClass[d]
	if k&cPrefix != 0 {
		// A letter alternative with c as its prefix.
		if kd&cLower != 0 {
			return lowerEnd(s, i+2)
		}
		if kd&cUpper != 0 {
			return upperEnd(s, i, i+2)
		}
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n/]*'
	if k&cPunct != 0 {
		return punctEnd(s, i+1)
	}
	if c == ' ' && kd&cPunct != 0 {
		return punctEnd(s, i+2)
	}
	// Whitespace (c is a space): the end of the run of spaces, w.
	w := i + 1
	for w < len(s) && s[w] < utf8.RuneSelf && asciiClass[s[w]]&cSpace != 0 {
		w++
	}
	if e := newlinesEnd(s, i, w); e >= 0 {
		return e
	}
	if w < len(s) && s[w] >= utf8.RuneSelf {
		return nextPieceSlow(s, i) // the run may go on with a space that is not ASCII
	}
	if w == len(s) || w-1 == i {
		return w
	}
	return w - 1 // give the last space back to the piece that follows
}

// lowerEnd is the end of a piece whose run of lower runes goes on at j:
// the run, then a contraction.
func lowerEnd(s string, j int) int {
	for j < len(s) {
		c := s[j]
		if c >= utf8.RuneSelf {
			j = run(s, j, cLower, isLower)
			break
		}
		if asciiClass[c]&cLower == 0 {
			break
		}
		j++
	}
	if j < len(s) && s[j] == '\'' {
		return contraction(s, j)
	}
	return j
}

// upperEnd is the end of the piece from i whose run of upper runes goes on
// at j, all ASCII so far: the first letter alternative if the run is
// followed by a lower rune, else the second (an ASCII upper rune is never
// lower, so the first alternative has nothing to backtrack into).
func upperEnd(s string, i, j int) int {
	for j < len(s) {
		c := s[j]
		if c >= utf8.RuneSelf {
			return nextPieceSlow(s, i)
		}
		k := asciiClass[c]
		if k&cLower != 0 {
			return lowerEnd(s, j+1)
		}
		if k&cUpper == 0 {
			break
		}
		j++
	}
	if j < len(s) && s[j] == '\'' {
		return contraction(s, j)
	}
	return j
}

// punctEnd is the end of a piece whose run of punctuation goes on at j:
// the run, then [\r\n/]*.
func punctEnd(s string, j int) int {
	for j < len(s) {
		c := s[j]
		if c >= utf8.RuneSelf {
			j = run(s, j, cPunct, isPunct)
			break
		}
		if asciiClass[c]&cPunct == 0 {
			break
		}
		j++
	}
	for j < len(s) && (s[j] == '\r' || s[j] == '\n' || s[j] == '/') {
		j++
	}
	return j
}

// newlinesEnd is \s*[\r\n]+ over the run of spaces s[i:w] as the codec
// matches it: the run up to the end of its first run of newlines (its
// generated matcher backtracks \s* to the first newline, not the last:
// " \n \n" is two pieces). It returns -1 when the run has no newline.
func newlinesEnd(s string, i, w int) int {
	for j := i; j < w; j++ {
		if s[j] == '\r' || s[j] == '\n' {
			for j < w && (s[j] == '\r' || s[j] == '\n') {
				j++
			}
			return j
		}
	}
	return -1
}

// nextPieceSlow is nextPiece for any text: it tries the alternatives of the
// expression in order, decoding runes.
func nextPieceSlow(s string, i int) int {
	r, n := at(s, i)
	switch {
	case '0' <= r && r <= '9':
		return numberPiece(s, i, n)
	case 'a' <= r && r <= 'z':
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
		if e := newlinesEnd(s, i, w); e >= 0 {
			return e
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

// pieceCounts memoises the token count of each piece: ASCII pieces of 2 to
// 8 bytes (most pieces of data rows: hex runs, words, punctuation) in
// short, keyed by their bytes packed into an integer (shortKey), which is
// cheaper to hash and compare than a string; longer pieces in long. Both
// are dropped whole when together they grow past pieceCountsMax entries.
// They are read under the read lock, written under the lock.
var pieceCounts = struct {
	sync.RWMutex
	short shortCounts
	long  map[string]int32
}{long: map[string]int32{}}

// shortCounts is a hash table from shortKey keys to counts, open
// addressing with linear probing in a power-of-two array at most half
// full: a lookup is a multiplication, a shift and (mostly) one compare.
type shortCounts struct {
	slots []shortSlot
	n     int  // keys held
	shift uint // 64 - log2(len(slots))
}

type shortSlot struct {
	key   uint64 // 0: empty
	count int32
}

// get returns the count of key k (not 0), if held.
func (t *shortCounts) get(k uint64) (int32, bool) {
	if t.n == 0 {
		return 0, false
	}
	mask := uint64(len(t.slots) - 1)
	for h := (k * 0x9e3779b97f4a7c15) >> t.shift; ; h = (h + 1) & mask {
		switch sl := &t.slots[h]; sl.key {
		case k:
			return sl.count, true
		case 0:
			return 0, false
		}
	}
}

// put holds count c for key k (not 0), growing the table as needed.
func (t *shortCounts) put(k uint64, c int32) {
	if 2*(t.n+1) > len(t.slots) {
		old := t.slots
		size := max(1024, 2*len(old))
		t.slots, t.n, t.shift = make([]shortSlot, size), 0, uint(64-bits.TrailingZeros(uint(size)))
		for _, sl := range old {
			if sl.key != 0 {
				t.put(sl.key, sl.count)
			}
		}
	}
	mask := uint64(len(t.slots) - 1)
	for h := (k * 0x9e3779b97f4a7c15) >> t.shift; ; h = (h + 1) & mask {
		switch sl := &t.slots[h]; sl.key {
		case k:
			sl.count = c
			return
		case 0:
			sl.key, sl.count = k, c
			t.n++
			return
		}
	}
}

const pieceCountsMax = 1 << 18

// pieceKeepMax is the longest piece, in bytes, whose count is kept: the
// memo holds at most pieceCountsMax × pieceKeepMax bytes of long keys
// (16 MiB), and a short table of at most 2 × pieceCountsMax slots (8 MiB).
const pieceKeepMax = 64

// pieceEncodes counts the pieces encoded (not found counted), for tests and
// benchmarks.
var pieceEncodes atomic.Int64

// bytesCounted adds up the bytes of text countTokens splits into pieces,
// for the test that holds a summary to counting each piece once.
var bytesCounted atomic.Int64

// shortKey packs the piece s[i:i+n] (2 ≤ n ≤ 8) into its key in
// pieceCounts.short: its bytes, the first lowest, with the high bit of the
// last one set to mark the length (ASCII bytes leave that bit free). It
// returns 0, which is no key, when the piece is not ASCII.
func shortKey(s string, i, n int) uint64 {
	var k uint64
	if i+8 <= len(s) {
		k = load64(s[i:i+8]) & (^uint64(0) >> (64 - 8*n))
	} else {
		for j := i + n - 1; j >= i; j-- {
			k = k<<8 | uint64(s[j])
		}
	}
	if k&0x8080808080808080 != 0 {
		return 0
	}
	return k | 0x80<<(8*(n-1))
}

// load64 is the first 8 bytes of b, the first lowest: one load.
func load64(b string) uint64 {
	return uint64(b[0]) | uint64(b[1])<<8 | uint64(b[2])<<16 | uint64(b[3])<<24 |
		uint64(b[4])<<32 | uint64(b[5])<<40 | uint64(b[6])<<48 | uint64(b[7])<<56
}

// leadingRun is the number of leading bytes of w (the first lowest) in
// [lo, hi] (ASCII), 0 to 8: each byte tested at once, with no carry from
// one to the next.
func leadingRun(w uint64, lo, hi byte) int {
	const ones, high = 0x0101010101010101, 0x8080808080808080
	x := w &^ high
	ge := x + ones*uint64(0x80-lo) // high bit set: ≥ lo
	gt := x + ones*uint64(0x7f-hi) // high bit set: > hi
	out := ^(ge &^ gt &^ w) & high // high bit set: not in [lo, hi]
	return bits.TrailingZeros64(out) >> 3
}

// digitRun is leadingRun(w, '0', '9'), in fewer steps: the digits are
// the bytes that x (w with the bits of '0' flipped) holds as 0 to 9.
func digitRun(w uint64) int {
	const high = 0x8080808080808080
	x := w ^ 0x3030303030303030
	out := ((x &^ high) + 0x7676767676767676 | x) & high // high bit set: not a digit
	return bits.TrailingZeros64(out) >> 3
}

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
		// The commonest pieces of data rows (runs of ASCII digits, runs
		// of lower-case letters, a byte before a digit: 98% of the pieces
		// of BenchmarkCountTokensRows' texts) are measured here without a
		// call or a loop over bytes, in the next 8 bytes loaded at once,
		// which also hold the key of a short piece (shortKey).
		var e int
		if i+8 <= len(s) {
			w := load64(s[i : i+8])
			switch c := byte(w); {
			case c-'0' < 10:
				// \p{N}{1,3} splits a run of ASCII digits into pieces of
				// three from its start, each one token
				// (TestShortPiecesAreOneToken): a run of m digits that ends
				// in w with an ASCII byte is ⌈m/3⌉ tokens; a run that
				// fills w, two pieces of three and more to come.
				m := digitRun(w)
				if m == 8 {
					total += 2
					i += 6
					continue
				}
				if w>>(8*m)&0x80 == 0 {
					total += (m + 2) / 3
					i += m
					continue
				}
				e = nextPiece(s, i) // a digit that is not ASCII may follow
			case c-'a' < 26:
				n := leadingRun(w, 'a', 'z')
				if next := byte(w >> (8 * n)); n == 8 || next >= utf8.RuneSelf || next == '\'' {
					// The run may go on, or end in a contraction.
					e = lowerEnd(s, i+n)
					break
				}
				if n == 1 {
					total++ // a byte: one token
				} else if c, ok := pieceCounts.short.get(w&(^uint64(0)>>(64-8*n)) | 0x80<<(8*(n-1))); ok { // shortKey(s, i, n)
					total += int(c)
				} else {
					missed = append(missed, s[i:i+n])
				}
				i += n
				continue
			case byte(w>>8)-'0' < 10 && c < utf8.RuneSelf:
				// Any other ASCII byte before a digit is a piece of one
				// byte: an upper-case letter alone, or punctuation, a
				// space or a newline with no letter after it to prefix,
				// nor more punctuation or spaces.
				total++
				i++
				continue
			default:
				e = nextPiece(s, i)
			}
		} else {
			e = nextPiece(s, i)
		}
		n := e - i
		if n == 1 {
			total++ // a byte: one token (TestShortPiecesAreOneToken)
			i = e
			continue
		}
		if n <= 8 {
			if k := shortKey(s, i, n); k != 0 {
				if n <= 3 && s[i]-'0' < 10 {
					// An ASCII piece that starts with a digit is 2–3 digits:
					// one token (TestShortPiecesAreOneToken).
					total++
				} else if c, ok := pieceCounts.short.get(k); ok {
					total += int(c)
				} else {
					missed = append(missed, s[i:e])
				}
				i = e
				continue
			}
		}
		if c, ok := pieceCounts.long[s[i:e]]; ok {
			total += int(c)
		} else {
			missed = append(missed, s[i:e])
		}
		i = e
	}
	pieceCounts.RUnlock()
	for _, p := range missed {
		total += pieceTokens(p)
	}
	return total
}

// pieceTokens is the o200k_base token count of one piece.
func pieceTokens(p string) int {
	if len(p) == 1 {
		return 1 // every byte is a token of its own
	}
	var k uint64
	if len(p) <= 8 {
		k = shortKey(p, 0, len(p))
	}
	pieceCounts.RLock()
	var n int32
	var ok bool
	if k != 0 {
		n, ok = pieceCounts.short.get(k)
	} else {
		n, ok = pieceCounts.long[p]
	}
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
	if pieceCounts.short.n+len(pieceCounts.long) >= pieceCountsMax {
		pieceCounts.short, pieceCounts.long = shortCounts{}, map[string]int32{}
	}
	if k != 0 {
		pieceCounts.short.put(k, int32(c))
	} else {
		pieceCounts.long[string([]byte(p))] = int32(c)
	}
	pieceCounts.Unlock()
	return c
}
