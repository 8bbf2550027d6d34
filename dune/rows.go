package dune

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// rowDecoder turns row objects into Rows (see the decoding strategy at the
// top of decode.go).
type rowDecoder struct {
	slots  map[string]int // key -> slot index in a decoded row
	names  []string       // slot -> key
	seeded bool           // slots are the columns: other keys are skipped
	rows   []Row
	spans  []valueSpan // values of the row being decoded
	arena  []byte      // their bytes (strings unescaped)
	prev   []prevValue // slot -> the last string or number decoded in it
	shared []any       // boxed values of the row being decoded taken from prev
	nested []any       // decoded arrays/objects of the row being decoded
	block  []any       // free cells for the next rows
	grow   int         // rows per next block

	// byPos remembers, for the n-th member of the last rows, its key and
	// slot: rows repeat their keys in the same order, so most lookups are
	// one comparison instead of a hash.
	byPos []posKey

	maxKeys  int   // distinct keys allowed before the metadata; 0 until the first row
	cells    int64 // cells handed out to rows
	rowBytes int64 // bytes of the row objects read

	// heap is what the rows occupy in the heap, counted as they are made:
	// cell blocks, the rows' value strings and boxes, nested values, the
	// rows slice. The memory budget is charged with it (see budget.go).
	heap  int64
	meter heapMeter // nil: not metered

	early *earlyRows // nil: no early rows wanted (see WithEarlyRows)
}

// metered tells the meter what the rows and the scanner's buffer occupy.
func (d *rowDecoder) metered(s *scanner) error {
	if d.meter == nil {
		return nil
	}
	return d.meter.occupied(d.heap + int64(len(s.buf)))
}

// Heap costs the row decoder counts (heap): an interface cell, the box of
// a string or json.Number value, a row's slice header; a nested value
// (maps and slices of encoding/json) is counted at nestedFactor times its
// JSON.
const (
	cellBytes    = 16
	boxBytes     = 16
	rowHeader    = 24
	nestedFactor = 3
)

// Limits on what rows may cost (see the decoding strategy in decode.go).
const (
	// minKeyCap is the least number of distinct keys allowed before the
	// metadata, whatever the width of the first row.
	minKeyCap = 256
	// keyCapFactor times the first row's width is the key cap otherwise.
	keyCapFactor = 4
	// cellSlack is the number of cells allowed beyond the byte budget, so
	// that small bodies with sparse rows still decode.
	cellSlack = 4096
)

// maxKeysFor returns the cap on distinct keys when the first row has width
// keys.
func maxKeysFor(width int) int { return max(keyCapFactor*width, minKeyCap) }

// cellBudget is the number of cells the rows read so far may occupy: one
// per two bytes of row objects (Dune spends at least five a cell), plus
// cellSlack.
func (d *rowDecoder) cellBudget() int64 { return d.rowBytes/2 + cellSlack }

var (
	errTooManyKeys  = errors.New("rows carry too many distinct keys")
	errSparseRows   = errors.New("rows lack most of their columns")
	errRowNotObject = errors.New("row is not a JSON object")
)

type posKey struct {
	key  string
	slot int
}

// value records a string or number v for sp. A value equal to the one the
// previous rows had last in the same slot shares its boxed value (columns
// such as blockchain, project or a month repeat): no allocation, no bytes.
// The others go to the arena, which becomes one string per row.
func (d *rowDecoder) value(sp *valueSpan, kind valueKind, v []byte) {
	if sp.slot < len(d.prev) {
		if p := &d.prev[sp.slot]; p.kind == kind && p.box != nil && p.s == string(v) {
			sp.kind, sp.start = kindShared, len(d.shared)
			d.shared = append(d.shared, p.box)
			return
		}
	}
	sp.kind, sp.start = kind, len(d.arena)
	d.arena = append(d.arena, v...)
	sp.end = len(d.arena)
}

// slotAt is slot for the m-th member of a row, through byPos.
func (d *rowDecoder) slotAt(m int, key []byte) (int, error) {
	if m < len(d.byPos) && d.byPos[m].key == string(key) {
		return d.byPos[m].slot, nil
	}
	slot, err := d.slot(key)
	if err != nil || m > len(d.byPos) || m >= maxKeysFor(0) {
		return slot, err
	}
	pk := posKey{key: string(key), slot: slot}
	if m == len(d.byPos) {
		d.byPos = append(d.byPos, pk)
	} else {
		d.byPos[m] = pk
	}
	return slot, nil
}

type valueKind uint8

const (
	kindString valueKind = iota
	kindNumber
	kindTrue
	kindFalse
	kindNull
	kindNested
	kindShared // the previous row's value in the slot, at shared[start]
)

// prevValue is the last string or number decoded in a slot, boxed.
type prevValue struct {
	kind valueKind
	s    string
	box  any
}

type valueSpan struct {
	slot       int
	kind       valueKind
	start, end int // arena offsets, or nested index for kindNested
}

// seed makes the slots the (distinct) columns, used when the metadata
// arrives before the rows: rows then need no reordering, and keys that are
// not columns are skipped.
func (d *rowDecoder) seed(names []string) {
	for _, n := range names {
		if _, err := d.slot([]byte(n)); err != nil {
			return // cannot happen: the cap applies to unseeded decoders only
		}
	}
	d.seeded = true
}

// slot returns the slot of key, adding one for a new key; -1 for a key that
// is not a column once the columns are known.
func (d *rowDecoder) slot(key []byte) (int, error) {
	if d.slots == nil {
		d.slots = make(map[string]int, 32)
	}
	if s, ok := d.slots[string(key)]; ok { // no allocation for the lookup
		return s, nil
	}
	if d.seeded {
		return -1, nil
	}
	if d.maxKeys > 0 && len(d.names) >= d.maxKeys {
		return 0, fmt.Errorf("%w (more than %d)", errTooManyKeys, d.maxKeys)
	}
	s := len(d.names)
	name := string(key)
	d.slots[name] = s
	d.names = append(d.names, name)
	return s, nil
}

// take returns a zeroed row of n cells carved from the current block,
// counting them against the cell budget.
func (d *rowDecoder) take(n int) (Row, error) {
	d.cells += int64(n)
	if d.cells > d.cellBudget() {
		return nil, fmt.Errorf("%w (%d cells for %d bytes of rows)", errSparseRows, d.cells, d.rowBytes)
	}
	if n == 0 {
		return Row{}, nil
	}
	if len(d.block) < n {
		if d.grow == 0 {
			d.grow = 16
		} else if d.grow < 1024 {
			d.grow *= 2
		}
		// Never more cells ahead than the budget has room for.
		rows := min(int64(d.grow), max(1, (d.cellBudget()-d.cells)/int64(n)+1))
		d.block = make([]any, n*int(rows))
		d.heap += cellBytes * int64(len(d.block))
	}
	r := d.block[:n:n]
	d.block = d.block[n:]
	return r, nil
}

// add decodes the row object at the start of raw and returns its length.
// raw is what the scanner has buffered: when the row runs past it, add
// returns errNeedMore and is called again, from the row's start, with more
// (so nothing of a row is kept before it is complete). It checks the
// syntax as it goes: strings (escapes, control characters), numbers,
// literals; nested values are decoded, and checked, by encoding/json.
func (d *rowDecoder) add(raw []byte) (int, error) {
	d.spans = d.spans[:0]
	d.arena = d.arena[:0]
	d.nested = d.nested[:0]
	d.shared = d.shared[:0]
	width := 0 // 1 + the highest slot of this row
	if len(raw) == 0 || raw[0] != '{' {
		return 0, errRowNotObject
	}
	i := skipWS(raw, 1)
	if i >= len(raw) {
		return 0, errNeedMore
	}
	if raw[i] == '}' {
		i++
	} else {
		for m := 0; ; m++ { // one member per iteration
			if raw[i] != '"' {
				return 0, errRowNotObject
			}
			end, info, err := scanString(raw, i)
			if err != nil {
				return 0, err
			}
			var slot int
			if info == 0 {
				slot, err = d.slotAt(m, raw[i+1:end-1])
			} else {
				var k string
				if k, err = stringValue(raw[i:end], info); err == nil {
					slot, err = d.slot([]byte(k))
				}
			}
			if err != nil {
				return 0, err
			}
			if i = skipWS(raw, end); i >= len(raw) {
				return 0, errNeedMore
			}
			if raw[i] != ':' {
				return 0, errRowNotObject
			}
			if i = skipWS(raw, i+1); i >= len(raw) {
				return 0, errNeedMore
			}
			sp := valueSpan{slot: slot}
			switch c := raw[i]; c {
			case '"':
				end, info, err := scanString(raw, i)
				if err != nil {
					return 0, err
				}
				if slot >= 0 {
					if info == 0 {
						d.value(&sp, kindString, raw[i+1:end-1])
					} else {
						v, err := stringValue(raw[i:end], info)
						if err != nil {
							return 0, err
						}
						d.value(&sp, kindString, []byte(v))
					}
				}
				i = end
			case 't', 'f', 'n':
				lit, kind := "null", kindNull
				switch c {
				case 't':
					lit, kind = "true", kindTrue
				case 'f':
					lit, kind = "false", kindFalse
				}
				if i+len(lit) > len(raw) {
					return 0, errNeedMore
				}
				if string(raw[i:i+len(lit)]) != lit {
					return 0, errBadLiteral
				}
				sp.kind, i = kind, i+len(lit)
			case '{', '[':
				end := skipComposite(raw, i)
				switch end {
				case -1:
					return 0, errNeedMore
				case -2:
					return 0, errBadNested
				}
				if slot >= 0 {
					v, err := decodeAny(raw[i:end])
					if err != nil {
						return 0, err
					}
					sp.kind, sp.start = kindNested, len(d.nested)
					d.nested = append(d.nested, v)
					d.heap += nestedFactor * int64(end-i)
				} else if !json.Valid(raw[i:end]) {
					return 0, errBadNested
				}
				i = end
			default:
				j, err := scanNumber(raw, i, false)
				if err != nil {
					return 0, err
				}
				if slot >= 0 {
					d.value(&sp, kindNumber, raw[i:j])
				}
				i = j
			}
			if slot >= 0 {
				d.spans = append(d.spans, sp)
				width = max(width, slot+1)
			}
			if i = skipWS(raw, i); i >= len(raw) {
				return 0, errNeedMore
			}
			if raw[i] == '}' {
				i++
				break
			}
			if raw[i] != ',' {
				return 0, errRowNotObject
			}
			if i = skipWS(raw, i+1); i >= len(raw) {
				return 0, errNeedMore
			}
		}
	}
	d.rowBytes += int64(i)
	if d.maxKeys == 0 && !d.seeded {
		d.maxKeys = maxKeysFor(len(d.names))
	}
	if d.seeded {
		width = len(d.names) // rows are already in column order
	}
	row, err := d.take(width)
	if err != nil {
		return 0, err
	}
	s := string(d.arena) // one allocation for the row's values not shared (see value)
	d.heap += int64(len(s))
	if len(d.prev) < len(d.names) {
		d.prev = append(d.prev, make([]prevValue, len(d.names)-len(d.prev))...)
	}
	for _, sp := range d.spans {
		switch sp.kind {
		case kindShared:
			row[sp.slot] = d.shared[sp.start]
		case kindString:
			v := s[sp.start:sp.end]
			row[sp.slot] = v
			d.heap += boxBytes
			d.prev[sp.slot] = prevValue{kind: kindString, s: v, box: row[sp.slot]}
		case kindNumber:
			v := s[sp.start:sp.end]
			row[sp.slot] = json.Number(v)
			d.heap += boxBytes
			d.prev[sp.slot] = prevValue{kind: kindNumber, s: v, box: row[sp.slot]}
		case kindTrue:
			row[sp.slot] = true
		case kindFalse:
			row[sp.slot] = false
		case kindNull:
			row[sp.slot] = nil
		case kindNested:
			row[sp.slot] = d.nested[sp.start]
		}
	}
	if len(d.rows) == cap(d.rows) {
		old := cap(d.rows)
		d.rows = append(d.rows, row)
		d.heap += rowHeader * int64(cap(d.rows)-old)
	} else {
		d.rows = append(d.rows, row)
	}
	d.early.rowsDecoded(d.names, d.rows)
	return i, nil
}

// finish returns the rows with values in columns order. Cells of keys a row
// lacks are nil, as are columns no row object carried; keys that are not
// columns are dropped. Widening every row to the columns is refused when it
// would exceed the cell budget.
func (d *rowDecoder) finish(columns []string) ([]Row, error) {
	if len(d.rows) == 0 {
		return []Row{}, nil
	}
	n := len(columns)
	perm := make([]int, n)
	identity := len(d.names) == n
	for i, name := range columns {
		p, ok := d.slots[name]
		if !ok {
			p = -1
		}
		perm[i] = p
		if p != i {
			identity = false
		}
	}
	if identity {
		for _, r := range d.rows {
			if len(r) != n {
				identity = false
				break
			}
		}
		if identity {
			return d.rows, nil
		}
	}
	var extra int64 // cells of the widened rows
	for _, r := range d.rows {
		if len(r) < n {
			extra += int64(n)
		}
	}
	if d.cells+extra > d.cellBudget() {
		return nil, fmt.Errorf("%w: %w (%d rows of %d columns for %d bytes of rows)", ErrMalformedResponse, errSparseRows, len(d.rows), n, d.rowBytes)
	}
	scratch := make([]any, len(d.names))
	for k, r := range d.rows {
		copy(scratch, r)
		clear(scratch[len(r):])
		if len(r) >= n {
			r = r[:n]
		} else {
			var err error
			if r, err = d.take(n); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
			}
		}
		for i, p := range perm {
			if p >= 0 {
				r[i] = scratch[p]
			} else {
				r[i] = nil
			}
		}
		d.rows[k] = r
	}
	return d.rows, nil
}

func decodeAny(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}

func skipWS(b []byte, i int) int {
	for i < len(b) {
		switch b[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

func isNumberByte(c byte) bool {
	return '0' <= c && c <= '9' || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E'
}

// Syntax errors of the row parser (they never quote the input).
var (
	errControlChar = errors.New("control character in a string")
	errBadEscape   = errors.New("invalid escape in a string")
	errBadLiteral  = errors.New("invalid literal")
	errBadNumber   = errors.New("invalid number")
	errBadNested   = errors.New("invalid array or object")
)

// String flags from scanString: 0 means plain ASCII without escapes, whose
// bytes are the value.
const (
	strEscaped = 1 << iota // has a backslash escape
	strHigh                // has bytes >= 0x80
)

// scanString returns the index just past the string starting at b[i] ('"')
// and its flags; errNeedMore if it does not end within b. Eight bytes at a
// time are skipped while none of them is special (a quote, a backslash, a
// control character or a byte >= 0x80).
func scanString(b []byte, i int) (int, int, error) {
	info := 0
	j := i + 1
	for {
		for j+8 <= len(b) {
			w := binary.LittleEndian.Uint64(b[j:])
			special := (w-lsb*0x20)&^w | hasZero(w^(lsb*'"')) | hasZero(w^(lsb*'\\')) | w
			if special &= msb; special != 0 {
				j += bits.TrailingZeros64(special) >> 3
				break
			}
			j += 8
		}
		if j >= len(b) {
			return 0, 0, errNeedMore
		}
		switch c := b[j]; {
		case c == '"':
			return j + 1, info, nil
		case c == '\\':
			info |= strEscaped
			k, err := escapeLen(b, j)
			if err != nil {
				return 0, 0, err
			}
			j += k
		case c < 0x20:
			return 0, 0, errControlChar
		case c >= 0x80:
			info |= strHigh
			j++
		default:
			j++
		}
	}
}

// SWAR constants: a byte of ones, a byte of high bits, in every lane.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// hasZero has the high bit set in (at least) the lowest lane of w that is
// zero; lanes above it may be set too, which only matters beyond the first.
func hasZero(w uint64) uint64 { return (w - lsb) &^ w }

// escapeLen returns the length of the escape at b[j] ('\\').
func escapeLen(b []byte, j int) (int, error) {
	if j+1 >= len(b) {
		return 0, errNeedMore
	}
	switch b[j+1] {
	case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		return 2, nil
	case 'u':
		if j+6 > len(b) {
			return 0, errNeedMore
		}
		for _, h := range b[j+2 : j+6] {
			if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
				return 0, errBadEscape
			}
		}
		return 6, nil
	}
	return 0, errBadEscape
}

// stringValue returns the value of the quoted string q with flags info:
// its bytes when they are valid UTF-8 without escapes, else as
// encoding/json unquotes it (invalid UTF-8 becomes U+FFFD).
func stringValue(q []byte, info int) (string, error) {
	if info&strEscaped == 0 && utf8.Valid(q[1:len(q)-1]) {
		return string(q[1 : len(q)-1]), nil
	}
	var s string
	err := json.Unmarshal(q, &s)
	return s, err
}

// scanNumber returns the index just past the JSON number at b[i];
// errNeedMore when it reaches the end of b, unless eof (then the number
// ends there).
func scanNumber(b []byte, i int, eof bool) (int, error) {
	j := i
	if j < len(b) && b[j] == '-' {
		j++
	}
	digits := func() int {
		k := j
		for j < len(b) && '0' <= b[j] && b[j] <= '9' {
			j++
		}
		return j - k
	}
	switch {
	case j >= len(b):
	case b[j] == '0':
		j++
	case '1' <= b[j] && b[j] <= '9':
		digits()
	default:
		return 0, errBadNumber
	}
	if j < len(b) && b[j] == '.' {
		j++
		if digits() == 0 && j < len(b) {
			return 0, errBadNumber
		}
	}
	if j < len(b) && (b[j] == 'e' || b[j] == 'E') {
		j++
		if j < len(b) && (b[j] == '+' || b[j] == '-') {
			j++
		}
		if digits() == 0 && j < len(b) {
			return 0, errBadNumber
		}
	}
	if j >= len(b) {
		if !eof {
			return 0, errNeedMore
		}
		if !json.Valid(b[i:j]) { // a number cut after '-', '.', 'e' or a sign
			return 0, errBadNumber
		}
	}
	return j, nil
}

// skipComposite returns the index just past the array or object at b[i]:
// -1 when it does not end within b, -2 for a string in it that is not
// valid.
func skipComposite(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			end, _, err := scanString(b, i)
			if err == errNeedMore {
				return -1
			}
			if err != nil {
				return -2
			}
			i = end
			continue
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
		i++
	}
	return -1
}
