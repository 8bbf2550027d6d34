package summary

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"

	"github.com/dune-mcp/dune-mcp/internal/jsonstr"
)

// appendJSON appends the JSON encoding of v to dst: exactly the bytes
// json.Marshal(v) produces (HTML-safe string escapes, U+2028/U+2029
// escaped, invalid UTF-8 as \ufffd, floats formatted as encoding/json does),
// without reflection for the values rows are made of: nil, bool, string,
// json.Number, float64, int64, int, and arrays ([]any) and objects
// (map[string]any, keys sorted) of them, as dune's decoder produces for
// array, map and json columns. Any other value, and a value json.Marshal
// refuses (an invalid json.Number, NaN, ±Inf), is handed to json.Marshal,
// whose bytes or error are returned. Values must be trees (decoded JSON
// always is): a cycle is not detected.
func appendJSON(dst []byte, v any) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		if v {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case string:
		return jsonstr.Append(dst, v), nil
	case json.Number:
		s := string(v)
		if s == "" {
			s = "0" // encoding/json writes the zero Number as 0
		}
		if validNumber(s) {
			return append(dst, s...), nil
		}
	case float64:
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			return appendFloat64(dst, v), nil
		}
	case int64:
		return strconv.AppendInt(dst, v, 10), nil
	case int:
		return strconv.AppendInt(dst, int64(v), 10), nil
	case []any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		return appendJSONArray(dst, v)
	case map[string]any:
		if v == nil {
			return append(dst, "null"...), nil
		}
		dst = append(dst, '{')
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = jsonstr.Append(dst, k)
			dst = append(dst, ':')
			var err error
			if dst, err = appendJSON(dst, v[k]); err != nil {
				return dst, err
			}
		}
		return append(dst, '}'), nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return dst, err
	}
	return append(dst, b...), nil
}

// appendJSONArray appends the JSON array of the values of a (a row: see
// appendJSON).
func appendJSONArray(dst []byte, a []any) ([]byte, error) {
	dst = append(dst, '[')
	for i, e := range a {
		if i > 0 {
			dst = append(dst, ',')
		}
		var err error
		if dst, err = appendJSON(dst, e); err != nil {
			return dst, err
		}
	}
	return append(dst, ']'), nil
}

// appendFloat64 appends f (finite) as encoding/json writes a float64: like
// ES6's number to string conversion, with exponents for magnitudes below
// 1e-6 or from 1e21, not padded to two digits.
func appendFloat64(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-09 to e-9
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// validNumber reports whether s is a JSON number (RFC 8259's grammar), the
// json.Number values encoding/json writes as they are.
func validNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	digits := func() int {
		j := i
		for i < len(s) && '0' <= s[i] && s[i] <= '9' {
			i++
		}
		return i - j
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(s)
}

// utf16Len is the length of the UTF-8 text b in UTF-16 code units (what
// quarterLen counts, before dividing); an invalid byte counts as one, as
// U+FFFD.
func utf16Len[T ~string | ~[]byte](b T) int {
	n := 0
	for i := 0; i < len(b); {
		if b[i] < utf8.RuneSelf {
			n++
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(string(b[i:min(i+utf8.UTFMax, len(b))]))
		n++
		if r > 0xFFFF {
			n++
		}
		i += size
	}
	return n
}
