package dune

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
	"unicode/utf8"
)

// Decoding strategy.
//
// The envelope is read with a json.Decoder (UseNumber) straight from the
// response body, token by token, so a page is never held in memory as JSON.
// Each row object is handed by Decode to rowSink.UnmarshalJSON, straight
// from the decoder's buffer and already validated; a small specialised
// parser (rowDecoder.add) walks those bytes once and stores every value at
// the slot of its key. Keys are looked up without allocating, all string and
// number values of a row share one string allocation, and rows are carved
// out of shared blocks, so a cell costs one small allocation (its interface
// box) instead of the three or four of map decoding.
//
// Dune writes "rows" before "metadata", so column_names are not known while
// rows are read: slots follow the order keys were first seen, and finish
// permutes each row in place into column_names order once the metadata has
// been read (a key missing from a row gives nil).

// decodeResult reads one results response body into res. Errors wrap
// ErrMalformedResponse, or are read errors from r (see bodyReader).
func decodeResult(r io.Reader, res *Result) error {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if err := expectDelim(dec, '{'); err != nil {
		return err
	}
	var rd rowDecoder
	var stateSeen bool
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return err
		}
		switch key {
		case "execution_id":
			err = decodeField(dec, key, &res.ExecutionID)
		case "query_id":
			var n *json.Number
			if err = decodeField(dec, key, &n); err == nil && n != nil {
				res.QueryID, err = n.Int64()
				if err != nil {
					err = fmt.Errorf("%w: query_id %q is not an integer", ErrMalformedResponse, n.String())
				}
			}
		case "state":
			stateSeen = true
			err = decodeField(dec, key, &res.State)
		case "is_execution_finished":
			err = decodeField(dec, key, &res.IsExecutionFinished)
		case "submitted_at":
			err = decodeTime(dec, key, &res.SubmittedAt)
		case "expires_at":
			err = decodeTime(dec, key, &res.ExpiresAt)
		case "execution_started_at":
			err = decodeTimePtr(dec, key, &res.ExecutionStartedAt)
		case "execution_ended_at":
			err = decodeTimePtr(dec, key, &res.ExecutionEndedAt)
		case "cancelled_at":
			err = decodeTimePtr(dec, key, &res.CancelledAt)
		case "next_offset":
			var n *json.Number
			if err = decodeField(dec, key, &n); err == nil && n != nil {
				v, perr := strconv.ParseInt(n.String(), 10, 0)
				if perr != nil || v < 0 {
					err = fmt.Errorf("%w: next_offset %q is not a non-negative integer", ErrMalformedResponse, n.String())
					break
				}
				off := int(v)
				res.NextOffset = &off
			}
		case "error":
			res.Error, err = decodeExecError(dec)
		case "result":
			err = decodeResultObject(dec, res, &rd)
		default: // next_uri (never followed), update_type, execution_cost_credits, ...
			err = skipValue(dec, key)
		}
		if err != nil {
			return err
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if !stateSeen || res.State == "" {
		return fmt.Errorf("%w: no state", ErrMalformedResponse)
	}
	return nil
}

// decodeResultObject reads the "result" member: rows and metadata in any order.
func decodeResultObject(dec *json.Decoder, res *Result, rd *rowDecoder) error {
	tok, err := dec.Token()
	if err != nil {
		return tokenErr(err, "result")
	}
	if tok == nil {
		return nil // "result": null is the same as no result
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return fmt.Errorf("%w: result is not an object", ErrMalformedResponse)
	}
	res.HasResult = true
	var (
		meta     metadataJSON
		metaSeen bool
	)
	for dec.More() {
		key, err := objectKey(dec)
		if err != nil {
			return err
		}
		switch key {
		case "rows":
			tok, err := dec.Token()
			if err != nil {
				return tokenErr(err, "result.rows")
			}
			if tok == nil {
				continue
			}
			if d, ok := tok.(json.Delim); !ok || d != '[' {
				return fmt.Errorf("%w: result.rows is not an array", ErrMalformedResponse)
			}
			sink := (*rowSink)(rd)
			for dec.More() {
				if err := dec.Decode(sink); err != nil {
					var re *rowError
					if errors.As(err, &re) {
						return fmt.Errorf("%w: row %d: %w", ErrMalformedResponse, len(rd.rows), re.err)
					}
					return valueErr(err, "result.rows")
				}
			}
			if err := expectDelim(dec, ']'); err != nil {
				return err
			}
		case "metadata":
			if err := decodeField(dec, "result.metadata", &meta); err != nil {
				return err
			}
			metaSeen = true
			if len(rd.rows) == 0 {
				rd.seed(meta.ColumnNames)
			}
		default:
			if err := skipValue(dec, "result."+key); err != nil {
				return err
			}
		}
	}
	if err := expectDelim(dec, '}'); err != nil {
		return err
	}
	if !metaSeen || meta.ColumnNames == nil {
		return fmt.Errorf("%w: result without metadata.column_names", ErrMalformedResponse)
	}
	res.Columns = make([]Column, len(meta.ColumnNames))
	for i, name := range meta.ColumnNames {
		res.Columns[i].Name = name
		if i < len(meta.ColumnTypes) {
			res.Columns[i].Type = meta.ColumnTypes[i]
		}
	}
	res.Rows = rd.finish(meta.ColumnNames)
	res.Metadata = Metadata{
		RowCount:            meta.RowCount,
		ResultSetBytes:      meta.ResultSetBytes,
		TotalRowCount:       meta.TotalRowCount,
		TotalResultSetBytes: meta.TotalResultSetBytes,
		DatapointCount:      meta.DatapointCount,
		PendingTimeMillis:   meta.PendingTimeMillis,
		ExecutionTimeMillis: meta.ExecutionTimeMillis,
	}
	return nil
}

type metadataJSON struct {
	ColumnNames         []string `json:"column_names"`
	ColumnTypes         []string `json:"column_types"`
	RowCount            int      `json:"row_count"`
	ResultSetBytes      int64    `json:"result_set_bytes"`
	TotalRowCount       int      `json:"total_row_count"`
	TotalResultSetBytes int64    `json:"total_result_set_bytes"`
	DatapointCount      int      `json:"datapoint_count"`
	PendingTimeMillis   int64    `json:"pending_time_millis"`
	ExecutionTimeMillis int64    `json:"execution_time_millis"`
}

// decodeExecError reads Dune's in-band execution error
// {"type","message","metadata":{"line","column"}}.
func decodeExecError(dec *json.Decoder) (*ExecutionErrorInfo, error) {
	var e *struct {
		Type     string         `json:"type"`
		Message  string         `json:"message"`
		Metadata map[string]any `json:"metadata"`
	}
	if err := decodeField(dec, "error", &e); err != nil || e == nil {
		return nil, err
	}
	return &ExecutionErrorInfo{
		Type:    e.Type,
		Message: e.Message,
		Line:    intFrom(e.Metadata["line"]),
		Column:  intFrom(e.Metadata["column"]),
	}, nil
}

// intFrom converts a decoded JSON number (or numeric string) to int, 0 if it
// is not one.
func intFrom(v any) int {
	var s string
	switch v := v.(type) {
	case json.Number:
		s = v.String()
	case string:
		s = v
	default:
		return 0
	}
	if n, err := strconv.Atoi(s); err == nil {
		return n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && f >= -1<<31 && f <= 1<<31 {
		return int(f)
	}
	return 0
}

func objectKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", tokenErr(err, "object key")
	}
	key, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%w: expected an object key, got %v", ErrMalformedResponse, tok)
	}
	return key, nil
}

func expectDelim(dec *json.Decoder, want json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return tokenErr(err, string(want))
	}
	if d, ok := tok.(json.Delim); !ok || d != want {
		return fmt.Errorf("%w: expected %q, got %v", ErrMalformedResponse, want, tok)
	}
	return nil
}

func decodeField(dec *json.Decoder, name string, v any) error {
	if err := dec.Decode(v); err != nil {
		return valueErr(err, name)
	}
	return nil
}

func skipValue(dec *json.Decoder, name string) error {
	var raw json.RawMessage
	return decodeField(dec, name, &raw)
}

// decodeTime parses an RFC 3339 timestamp. A null or unparsable value leaves
// t unchanged: timestamps are informative and must not cost the caller the
// rows.
func decodeTime(dec *json.Decoder, name string, t *time.Time) error {
	var s *string
	if err := decodeField(dec, name, &s); err != nil {
		return err
	}
	if s != nil {
		if v, err := time.Parse(time.RFC3339Nano, *s); err == nil {
			*t = v
		}
	}
	return nil
}

func decodeTimePtr(dec *json.Decoder, name string, t **time.Time) error {
	var v time.Time
	if err := decodeTime(dec, name, &v); err != nil {
		return err
	}
	if !v.IsZero() {
		*t = &v
	}
	return nil
}

// errTruncated marks a body that ended in the middle of the JSON document.
var errTruncated = errors.New("body ended before the JSON document did")

// tokenErr and valueErr classify json errors: an early end of input is a
// truncated body (retryable), anything else a malformed response. Read
// errors of the underlying body are recorded by bodyReader and take
// precedence in the caller.
func tokenErr(err error, where string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: %w", ErrMalformedResponse, where, errTruncated)
	}
	return fmt.Errorf("%w: %s: %w", ErrMalformedResponse, where, err)
}

func valueErr(err error, where string) error { return tokenErr(err, where) }

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

// rowDecoder turns validated row objects into Rows (see the comment at the
// top of this file).
type rowDecoder struct {
	slots  map[string]int // key -> slot index in a decoded row
	names  []string       // slot -> key
	rows   []Row
	spans  []valueSpan // values of the row being decoded
	arena  []byte      // their bytes (strings unescaped)
	nested []any       // decoded arrays/objects of the row being decoded
	block  []any       // free cells for the next rows
	grow   int         // rows per next block
}

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

// seed fixes the first slots to the column order, used when metadata arrives
// before the rows: rows then need no reordering.
func (d *rowDecoder) seed(names []string) {
	for _, n := range names {
		d.slot([]byte(n))
	}
}

// slot returns the slot of key, adding one for a new key.
func (d *rowDecoder) slot(key []byte) int {
	if d.slots == nil {
		d.slots = make(map[string]int, 32)
	}
	if s, ok := d.slots[string(key)]; ok { // no allocation for the lookup
		return s
	}
	s := len(d.names)
	name := string(key)
	d.slots[name] = s
	d.names = append(d.names, name)
	return s
}

// take returns a zeroed row of n cells carved from the current block.
func (d *rowDecoder) take(n int) Row {
	if n == 0 {
		return Row{}
	}
	if len(d.block) < n {
		if d.grow == 0 {
			d.grow = 16
		} else if d.grow < 1024 {
			d.grow *= 2
		}
		d.block = make([]any, n*d.grow)
	}
	r := d.block[:n:n]
	d.block = d.block[n:]
	return r
}

var errRowNotObject = errors.New("row is not a JSON object")

// add decodes one row object. raw has been validated by encoding/json, so
// the parser only has to find boundaries; indexes are still checked so that
// an unexpected input returns an error rather than panicking.
func (d *rowDecoder) add(raw []byte) error {
	d.spans = d.spans[:0]
	d.arena = d.arena[:0]
	d.nested = d.nested[:0]
	i := skipWS(raw, 0)
	if i >= len(raw) || raw[i] != '{' {
		return errRowNotObject
	}
	i = skipWS(raw, i+1)
	if i < len(raw) && raw[i] == '}' {
		d.rows = append(d.rows, d.take(len(d.names)))
		return nil
	}
	for {
		if i >= len(raw) || raw[i] != '"' {
			return errRowNotObject
		}
		end, esc := scanString(raw, i)
		if end < 0 {
			return errRowNotObject
		}
		var slot int
		if !esc && utf8.Valid(raw[i+1:end-1]) {
			slot = d.slot(raw[i+1 : end-1])
		} else {
			var k string
			if err := json.Unmarshal(raw[i:end], &k); err != nil {
				return err
			}
			slot = d.slot([]byte(k))
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
			v, err := decodeAny(raw[i:end])
			if err != nil {
				return err
			}
			sp.kind, sp.start = kindNested, len(d.nested)
			d.nested = append(d.nested, v)
			i = end
		default:
			j := i
			for j < len(raw) && isNumberByte(raw[j]) {
				j++
			}
			if j == i {
				return errRowNotObject
			}
			sp.kind, sp.start = kindNumber, len(d.arena)
			d.arena = append(d.arena, raw[i:j]...)
			sp.end = len(d.arena)
			i = j
		}
		d.spans = append(d.spans, sp)
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
		i = skipWS(raw, i+1)
	}

	row := d.take(len(d.names))
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

// finish returns the rows with values in columns order. Rows decoded before
// a key was first seen are shorter; their missing cells are nil, as are
// columns no row object carried. Keys that are not columns are dropped.
func (d *rowDecoder) finish(columns []string) []Row {
	if len(d.rows) == 0 {
		return []Row{}
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
			return d.rows
		}
	}
	scratch := make([]any, len(d.names))
	for k, r := range d.rows {
		copy(scratch, r)
		clear(scratch[len(r):])
		if cap(r) >= n {
			r = r[:n]
		} else {
			r = make(Row, n)
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
	return d.rows
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
