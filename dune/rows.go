package dune

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// rowSink receives each row object from json.Decoder.Decode, which has
// validated it, without copying it out of the decoder's buffer.
type rowSink rowDecoder

// UnmarshalJSON implements json.Unmarshaler.
func (s *rowSink) UnmarshalJSON(b []byte) error {
	if err := (*rowDecoder)(s).add(b); err != nil {
		return &rowError{err}
	}
	return nil
}

// rowError marks a row the row parser refused, as opposed to a JSON error.
type rowError struct{ err error }

func (e *rowError) Error() string { return e.err.Error() }

// rowDecoder turns validated row objects into Rows (see the decoding
// strategy at the top of decode.go).
type rowDecoder struct {
	slots  map[string]int // key -> slot index in a decoded row
	names  []string       // slot -> key
	seeded bool           // slots are the columns: other keys are skipped
	rows   []Row
	spans  []valueSpan // values of the row being decoded
	arena  []byte      // their bytes (strings unescaped)
	nested []any       // decoded arrays/objects of the row being decoded
	block  []any       // free cells for the next rows
	grow   int         // rows per next block

	maxKeys  int   // distinct keys allowed before the metadata; 0 until the first row
	cells    int64 // cells handed out to rows
	rowBytes int64 // bytes of the row objects read
}

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

type valueKind uint8

const (
	kindString valueKind = iota
	kindNumber
	kindTrue
	kindFalse
	kindNull
	kindNested
)

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
	}
	r := d.block[:n:n]
	d.block = d.block[n:]
	return r, nil
}

// add decodes one row object. raw has been validated by encoding/json, so
// the parser only has to find boundaries; indexes are still checked so that
// an unexpected input returns an error rather than panicking.
func (d *rowDecoder) add(raw []byte) error {
	d.spans = d.spans[:0]
	d.arena = d.arena[:0]
	d.nested = d.nested[:0]
	d.rowBytes += int64(len(raw))
	width := 0 // 1 + the highest slot of this row
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return errRowNotObject
	}
	i = skipWS(raw, i+1)
	if i >= len(raw) {
		return errRowNotObject
	}
	for raw[i] != '}' { // one member per iteration; breaks after the last
		if raw[i] != '"' {
			return errRowNotObject
		}
		end, esc := scanString(raw, i)
		if end < 0 {
			return errRowNotObject
		}
		var (
			slot int
			err  error
		)
		if !esc && utf8.Valid(raw[i+1:end-1]) {
			slot, err = d.slot(raw[i+1 : end-1])
		} else {
			var k string
			if err := json.Unmarshal(raw[i:end], &k); err != nil {
				return err
			}
			slot, err = d.slot([]byte(k))
		}
		if err != nil {
			return err
		}
		i = skipWS(raw, end)
		if i >= len(raw) || raw[i] != ':' {
			return errRowNotObject
		}
		i = skipWS(raw, i+1)
		if i >= len(raw) {
			return errRowNotObject
		}
		sp := valueSpan{slot: slot}
		switch c := raw[i]; c {
		case '"':
			end, esc := scanString(raw, i)
			if end < 0 {
				return errRowNotObject
			}
			if slot >= 0 {
				sp.kind, sp.start = kindString, len(d.arena)
				if !esc && utf8.Valid(raw[i+1:end-1]) {
					d.arena = append(d.arena, raw[i+1:end-1]...)
				} else {
					var s string
					if err := json.Unmarshal(raw[i:end], &s); err != nil {
						return err
					}
					d.arena = append(d.arena, s...)
				}
				sp.end = len(d.arena)
			}
			i = end
		case 't':
			sp.kind, i = kindTrue, i+4
		case 'f':
			sp.kind, i = kindFalse, i+5
		case 'n':
			sp.kind, i = kindNull, i+4
		case '{', '[':
			end := skipComposite(raw, i)
			if end < 0 {
				return errRowNotObject
			}
			if slot >= 0 {
				v, err := decodeAny(raw[i:end])
				if err != nil {
					return err
				}
				sp.kind, sp.start = kindNested, len(d.nested)
				d.nested = append(d.nested, v)
			}
			i = end
		default:
			j := i
			for j < len(raw) && isNumberByte(raw[j]) {
				j++
			}
			if j == i {
				return errRowNotObject
			}
			if slot >= 0 {
				sp.kind, sp.start = kindNumber, len(d.arena)
				d.arena = append(d.arena, raw[i:j]...)
				sp.end = len(d.arena)
			}
			i = j
		}
		if slot >= 0 {
			d.spans = append(d.spans, sp)
			width = max(width, slot+1)
		}
		i = skipWS(raw, i)
		if i >= len(raw) {
			return errRowNotObject
		}
		if raw[i] == '}' {
			break
		}
		if raw[i] != ',' {
			return errRowNotObject
		}
		if i = skipWS(raw, i+1); i >= len(raw) || raw[i] != '"' {
			return errRowNotObject
		}
	}
	if d.maxKeys == 0 && !d.seeded {
		d.maxKeys = maxKeysFor(len(d.names))
	}
	if d.seeded {
		width = len(d.names) // rows are already in column order
	}
	row, err := d.take(width)
	if err != nil {
		return err
	}
	s := string(d.arena) // one allocation for every string and number of the row
	for _, sp := range d.spans {
		switch sp.kind {
		case kindString:
			row[sp.slot] = s[sp.start:sp.end]
		case kindNumber:
			row[sp.slot] = json.Number(s[sp.start:sp.end])
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
	d.rows = append(d.rows, row)
	return nil
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

// scanString returns the index just past the string starting at b[i] ('"')
// and whether it contains escapes; -1 if it does not end. Strings without
// escapes are still unquoted by encoding/json when they hold invalid UTF-8
// (it substitutes U+FFFD), so callers check utf8.Valid too.
func scanString(b []byte, i int) (int, bool) {
	j := i + 1
	q := bytes.IndexByte(b[j:], '"')
	if q < 0 {
		return -1, false
	}
	if bytes.IndexByte(b[j:j+q], '\\') < 0 {
		return j + q + 1, false
	}
	for j < len(b) {
		switch b[j] {
		case '\\':
			j += 2
		case '"':
			return j + 1, true
		default:
			j++
		}
	}
	return -1, true
}

// skipComposite returns the index just past the array or object at b[i].
func skipComposite(b []byte, i int) int {
	depth := 0
	for i < len(b) {
		switch b[i] {
		case '"':
			end, _ := scanString(b, i)
			if end < 0 {
				return -1
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
