package dune

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/dune-mcp/dune-mcp/internal/clip"
)

// Decoding strategy.
//
// The body is read once, as it streams in, by a small hand-written JSON
// scanner (scan.go) over a buffer it refills: the page is never held in
// memory as JSON. Members the decoder does not know (next_uri,
// update_type, future fields) are skipped byte by byte, their syntax
// checked, without being held. Known scalar members, the metadata and an
// execution error are small: their bytes, bounded, go to encoding/json.
// Each row object is parsed straight from the buffer by a specialised
// parser (rowDecoder.add) that checks its syntax and stores every value at
// the slot of its key in one pass. Keys are looked up without allocating,
// all string and number values of a row share one string allocation, and
// rows are carved out of shared blocks, so a cell costs one small
// allocation (its interface box) instead of the three or four of map
// decoding, and none when it repeats the previous row's value in its
// column (the boxed value is shared).
//
// encoding/json's Decoder, which this replaces, scanned every row twice
// before the row parser saw it: 94-106 MB/s on an idle machine against
// 200 and more now (BenchmarkDecodeDEXPage30000). No JSON library is used
// for rows: measured side by side on the same 26 MB page on a loaded
// 2-core machine, this decoder ran at 196-224 MB/s allocating 36 MB,
// bytedance/sonic v1.15.5 into maps at 102-156 MB/s allocating 102 MB (and
// it wants the whole body in memory), goccy/go-json v0.12.0 at 43-50 MB/s,
// encoding/json into maps at 15-18 MB/s.
//
// Dune writes "rows" before "metadata", so column_names are not known while
// rows are read: slots follow the order keys were first seen, each row is as
// long as its own highest slot, and finish widens and permutes the rows into
// column_names order once the metadata has been read (a key missing from a
// row gives nil). When the metadata comes first, slots are the columns and
// keys that are not columns are skipped.
//
// Memory stays proportional to the body whatever the server sends: before
// the metadata, distinct keys are capped (maxKeysFor), and the cells handed
// out, rows × their width, may not exceed a budget that grows with the bytes
// of the rows (cellBudget). A Dune row carries every column, at least five
// bytes a cell ("k":1,), so only bodies whose rows lack most of their
// columns hit it. One row, or one known member, may not exceed
// maxTokenBytes.
//
// Errors never quote the body: they name the field and the kind of token,
// and numbers are clipped (clipNumber), so a server echoing a request
// header cannot put it in an error, and a huge token cannot make one huge.

// decodeResult reads one results response body into res. Errors wrap
// ErrMalformedResponse, or are read errors from r (see bodyReader).
func decodeResult(r io.Reader, res *Result) error {
	_, err := decodeResultNotes(r, res, nil)
	return err
}

// decodeNotes reports what the decoder tolerated, for the caller to log.
type decodeNotes struct {
	// declaredRowCount is metadata.row_count when it disagreed with the
	// rows (Metadata.RowCount is then len(rows)), else -1.
	declaredRowCount int
}

// Bounds of the known members decoded whole (see the decoding strategy).
const (
	maxScalarBytes   = 64 << 10
	maxErrorBytes    = 1 << 20
	maxMetadataBytes = 16 << 20
)

// decodeResultNotes is decodeResult, also returning what was tolerated;
// early, if not nil, gets the first rows (WithEarlyRows).
func decodeResultNotes(r io.Reader, res *Result, early *earlyRows) (decodeNotes, error) {
	notes := decodeNotes{declaredRowCount: -1}
	s := newScanner(r)
	if err := s.expect('{', "response"); err != nil {
		return notes, err
	}
	rd := rowDecoder{early: early}
	rd.meter, _ = r.(heapMeter)
	var stateSeen bool
	if c, err := s.peek(); err != nil {
		return notes, malformed("response", err)
	} else if c == '}' {
		s.i++
	} else {
		for {
			key, known, err := s.key("response")
			if err != nil {
				return notes, err
			}
			if !known {
				key = ""
			}
			switch key {
			case "execution_id":
				err = scalar(s, key, &res.ExecutionID)
			case "query_id":
				var n *json.Number
				if err = scalar(s, key, &n); err == nil && n != nil {
					res.QueryID, err = n.Int64()
					if err != nil {
						err = fmt.Errorf("%w: query_id %s is not a 64-bit integer", ErrMalformedResponse, clipNumber(n.String()))
					}
				}
			case "state":
				stateSeen = true
				err = scalar(s, key, &res.State)
			case "is_execution_finished":
				err = scalar(s, key, &res.IsExecutionFinished)
			case "submitted_at":
				err = decodeTime(s, key, &res.SubmittedAt)
			case "expires_at":
				err = decodeTime(s, key, &res.ExpiresAt)
			case "execution_started_at":
				err = decodeTimePtr(s, key, &res.ExecutionStartedAt)
			case "execution_ended_at":
				err = decodeTimePtr(s, key, &res.ExecutionEndedAt)
			case "cancelled_at":
				err = decodeTimePtr(s, key, &res.CancelledAt)
			case "next_offset":
				var n *json.Number
				if err = scalar(s, key, &n); err == nil && n != nil {
					v, perr := strconv.ParseInt(n.String(), 10, 0)
					if perr != nil || v < 0 {
						err = fmt.Errorf("%w: next_offset %s is not a non-negative integer", ErrMalformedResponse, clipNumber(n.String()))
						break
					}
					off := int(v)
					res.NextOffset = &off
				}
			case "error":
				res.Error, err = decodeExecError(s)
			case "result":
				err = decodeResultObject(s, res, &rd, &notes)
			default: // next_uri (never followed), update_type, execution_cost_credits, ...
				err = s.skip("an unknown response member")
			}
			if err != nil {
				return notes, err
			}
			more, err := s.next('}', "response")
			if err != nil {
				return notes, err
			}
			if !more {
				break
			}
		}
	}
	if end, err := s.atEOF(); err != nil {
		return notes, malformed("response", err)
	} else if !end {
		c, _ := s.peek()
		return notes, fmt.Errorf("%w: %s after the JSON document", ErrMalformedResponse, byteKind(c))
	}
	if !stateSeen || res.State == "" {
		return notes, fmt.Errorf("%w: no state", ErrMalformedResponse)
	}
	return notes, rd.metered(s)
}

// scalar decodes the next value, at most maxScalarBytes, into v with
// encoding/json.
func scalar(s *scanner, name string, v any) error {
	raw, err := s.value(name, maxScalarBytes)
	if err != nil {
		return err
	}
	return unmarshalField(raw, name, v)
}

// unmarshalField decodes raw into v, numbers in untyped members as
// json.Number.
func unmarshalField(raw []byte, name string, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return tokenErr(err, name)
	}
	return nil
}

// decodeResultObject reads the "result" member: rows and metadata in any
// order.
func decodeResultObject(s *scanner, res *Result, rd *rowDecoder, notes *decodeNotes) error {
	c, err := s.peek()
	if err != nil {
		return malformed("result", err)
	}
	if c == 'n' {
		return s.skip("result") // "result": null is the same as no result
	}
	if c != '{' {
		return fmt.Errorf("%w: result is %s, not an object", ErrMalformedResponse, byteKind(c))
	}
	s.i++
	res.HasResult = true
	var (
		meta     metadataJSON
		metaSeen bool
	)
	if c, err := s.peek(); err != nil {
		return malformed("result", err)
	} else if c == '}' {
		s.i++
	} else {
		for {
			key, known, err := s.key("result")
			if err != nil {
				return err
			}
			switch {
			case known && key == "rows":
				err = decodeRows(s, rd)
			case known && key == "metadata":
				var raw []byte
				if raw, err = s.value("result.metadata", maxMetadataBytes); err == nil {
					meta = metadataJSON{}
					if err = unmarshalField(raw, "result.metadata", &meta); err == nil {
						metaSeen = true
						if len(rd.rows) == 0 && !rd.seeded {
							rd.seed(meta.ColumnNames)
						}
					}
				}
			default:
				err = s.skip("an unknown result member")
			}
			if err != nil {
				return err
			}
			more, err := s.next('}', "result")
			if err != nil {
				return err
			}
			if !more {
				break
			}
		}
	}
	if !metaSeen || meta.ColumnNames == nil {
		return fmt.Errorf("%w: result without metadata.column_names", ErrMalformedResponse)
	}
	if err := meta.validate(); err != nil {
		return err
	}
	res.Columns = make([]Column, len(meta.ColumnNames))
	for i, name := range meta.ColumnNames {
		res.Columns[i].Name = name
		if i < len(meta.ColumnTypes) {
			res.Columns[i].Type = meta.ColumnTypes[i]
		}
	}
	if res.Rows, err = rd.finish(meta.ColumnNames); err != nil {
		return err
	}
	res.Metadata = meta.Metadata
	// The rows are the truth: a row_count that disagrees (spec section 3
	// says it equals len(rows)) is replaced, and reported to the caller.
	if meta.RowCount != nil && *meta.RowCount != len(res.Rows) {
		notes.declaredRowCount = *meta.RowCount
	}
	res.Metadata.RowCount = len(res.Rows)
	return nil
}

// decodeRows reads the "rows" array (or null) into rd, each row parsed
// straight from the scanner's buffer.
func decodeRows(s *scanner, rd *rowDecoder) error {
	c, err := s.peek()
	if err != nil {
		return malformed("result.rows", err)
	}
	if c == 'n' {
		return s.skip("result.rows")
	}
	if c != '[' {
		return fmt.Errorf("%w: result.rows is %s, not an array", ErrMalformedResponse, byteKind(c))
	}
	s.i++
	if c, err := s.peek(); err != nil {
		return malformed("result.rows", err)
	} else if c == ']' {
		s.i++
		return nil
	}
	for {
		if _, err := s.peek(); err != nil {
			return malformed("result.rows", err)
		}
		for {
			n, err := rd.add(s.buf[s.i:s.n])
			if err == nil {
				s.i += n
				if err := rd.metered(s); err != nil {
					return err
				}
				break
			}
			if err != errNeedMore {
				return fmt.Errorf("%w: row %d: %w", ErrMalformedResponse, len(rd.rows), err)
			}
			if err := s.more(); err != nil {
				return malformed(fmt.Sprintf("result.rows: row %d", len(rd.rows)), err)
			}
		}
		more, err := s.next(']', "result.rows")
		if err != nil || !more {
			return err
		}
	}
}

// metadataJSON is the wire form of result.metadata: Metadata plus the
// column lists, with row_count kept apart to tell "absent" from 0.
type metadataJSON struct {
	ColumnNames []string `json:"column_names"`
	ColumnTypes []string `json:"column_types"`
	Metadata
	RowCount *int `json:"row_count"` // shadows Metadata.RowCount
}

// validate refuses negative counts and sizes.
func (m *metadataJSON) validate() error {
	rowCount := 0
	if m.RowCount != nil {
		rowCount = *m.RowCount
	}
	for _, f := range []struct {
		name string
		v    int64
	}{
		{"row_count", int64(rowCount)},
		{"datapoint_count", int64(m.DatapointCount)},
		{"total_row_count", int64(m.TotalRowCount)},
		{"result_set_bytes", m.ResultSetBytes},
		{"total_result_set_bytes", m.TotalResultSetBytes},
	} {
		if f.v < 0 {
			return fmt.Errorf("%w: metadata.%s is negative (%d)", ErrMalformedResponse, f.name, f.v)
		}
	}
	return nil
}

// decodeExecError reads Dune's in-band execution error.
func decodeExecError(s *scanner) (*ExecutionErrorInfo, error) {
	raw, err := s.value("error", maxErrorBytes)
	if err != nil {
		return nil, err
	}
	var e *execErrorJSON
	if err := unmarshalField(raw, "error", &e); err != nil {
		return nil, err
	}
	return e.info(), nil
}

// execErrorJSON is the wire form of Dune's in-band execution error
// {"type","message","metadata":{"line","column"}}, on results and status
// answers alike. Decode it with UseNumber (intFrom reads json.Number).
type execErrorJSON struct {
	Type     string         `json:"type"`
	Message  string         `json:"message"`
	Metadata map[string]any `json:"metadata"`
}

// info returns e with the position taken out of its metadata; nil for nil.
func (e *execErrorJSON) info() *ExecutionErrorInfo {
	if e == nil {
		return nil
	}
	return &ExecutionErrorInfo{
		Type:    e.Type,
		Message: e.Message,
		Line:    intFrom(e.Metadata["line"]),
		Column:  intFrom(e.Metadata["column"]),
	}
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

// tokenKind names the kind of a json token without quoting its content:
// the body may echo what we sent, the key included, and may be huge.
func tokenKind(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return strconv.Quote(string(t))
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return "a value"
}

// maxNumberInError bounds the digits of a number quoted in an error.
const maxNumberInError = 24

// clipNumber returns a JSON number for an error message, clipped to
// maxNumberInError bytes and then followed by its full length.
func clipNumber(s string) string {
	if len(s) > maxNumberInError {
		return clip.Bytes(s, maxNumberInError) + fmt.Sprintf(" (%d characters)", len(s))
	}
	return s
}

// decodeTime parses an RFC 3339 timestamp. A null or unparsable value leaves
// t unchanged: timestamps are informative and must not cost the caller the
// rows.
func decodeTime(s *scanner, name string, t *time.Time) error {
	var v lenientTime
	if err := scalar(s, name, &v); err != nil {
		return err
	}
	if !v.IsZero() {
		*t = v.Time
	}
	return nil
}

func decodeTimePtr(s *scanner, name string, t **time.Time) error {
	var v lenientTime
	if err := scalar(s, name, &v); err != nil {
		return err
	}
	if p := v.ptr(); p != nil {
		*t = p
	}
	return nil
}

// lenientTime is an RFC 3339 timestamp member: a string that does not
// parse, and null, leave it zero. Anything but a string or null is an
// error.
type lenientTime struct{ time.Time }

// UnmarshalJSON implements json.Unmarshaler.
func (t *lenientTime) UnmarshalJSON(b []byte) error {
	var s *string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	if s != nil {
		if v, err := time.Parse(time.RFC3339Nano, *s); err == nil {
			t.Time = v
		}
	}
	return nil
}

// ptr returns the time, nil when zero.
func (t lenientTime) ptr() *time.Time {
	if t.IsZero() {
		return nil
	}
	v := t.Time
	return &v
}

// errTruncated marks a body that ended in the middle of the JSON document.
var errTruncated = errors.New("body ended before the JSON document did")

// maxJSONErrorText bounds the text of an encoding/json error kept in ours
// (an overflowing number is quoted whole in json.UnmarshalTypeError).
const maxJSONErrorText = 160

// tokenErr classifies a json error at where: an early end of input is a
// truncated body (retryable), anything else a malformed response, whose
// text is clipped and not wrapped (the json error's own text can quote the
// body). Read errors of the underlying body are recorded by bodyReader and
// take precedence in the caller.
func tokenErr(err error, where string) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: %w", ErrMalformedResponse, where, errTruncated)
	}
	msg := clip.Bytes(err.Error(), maxJSONErrorText)
	return fmt.Errorf("%w: %s: %s", ErrMalformedResponse, where, msg)
}

// expectEOF checks that only whitespace follows the document dec read.
func expectEOF(dec *json.Decoder) error {
	tok, err := dec.Token()
	switch {
	case errors.Is(err, io.EOF):
		return nil
	case err != nil:
		return fmt.Errorf("%w: data after the JSON document", ErrMalformedResponse)
	default:
		return fmt.Errorf("%w: %s after the JSON document", ErrMalformedResponse, tokenKind(tok))
	}
}
