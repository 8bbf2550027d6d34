package filter

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dune-mcp/dune-mcp/internal/clip"
)

// Parameter names used as the prefix of error messages.
const (
	ParamFilters = "filters"
	ParamSortBy  = "sort_by"
)

// SyntaxError reports input that does not follow the grammar. Its Error text
// reads like `filters: unexpected "(" at position 12: expected a column name`.
type SyntaxError struct {
	// Param is ParamFilters or ParamSortBy.
	Param string
	// Pos is the 1-based character (rune) position of the offending token.
	Pos int
	// Offset is the 0-based byte offset of the offending token.
	Offset int
	// Msg says what was found, e.g. `unexpected "("`.
	Msg string
	// Hint says what was expected or how to fix it; may be empty.
	Hint string
}

// Error returns "<param>: <msg> at position <pos>", then ": <hint>" when
// there is one.
func (e *SyntaxError) Error() string {
	s := fmt.Sprintf("%s: %s at position %d", e.Param, e.Msg, e.Pos)
	if e.Hint != "" {
		s += ": " + e.Hint
	}
	return s
}

// ErrorKind classifies a semantic (non-syntax) error.
type ErrorKind string

// Semantic error kinds.
const (
	KindUnknownColumn   ErrorKind = "unknown_column"
	KindAmbiguousColumn ErrorKind = "ambiguous_column"
	KindNotUnsupported  ErrorKind = "not_unsupported" // NOT, NOT IN, NOT LIKE
	KindTypeMismatch    ErrorKind = "type_mismatch"   // literal or operator does not fit the column's type
	KindBadValue        ErrorKind = "bad_value"       // e.g. a string that is not a timestamp
	KindLimit           ErrorKind = "limit"           // input too long or nested too deeply
)

// Error is a semantic error: the input parses but cannot be applied to the
// columns (unknown column, unsupported NOT, type mismatch) or exceeds a limit.
type Error struct {
	// Param is ParamFilters or ParamSortBy.
	Param string
	// Kind classifies the error (KindUnknownColumn, ...).
	Kind ErrorKind
	// Pos is the 1-based character position of the offending token (0: none).
	Pos int
	// Offset is the 0-based byte offset of the offending token.
	Offset int
	// Column is the column name involved, if any (as written or resolved).
	Column string
	// Msg says what is wrong, e.g. `unknown column "amount"`.
	Msg string
	// Hint says how to fix it (e.g. the closest column names); may be empty.
	Hint string
}

// Error returns "<param>: <msg>", then " at position <pos>" when known and
// ": <hint>" when there is one.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Param)
	b.WriteString(": ")
	b.WriteString(e.Msg)
	if e.Pos > 0 {
		b.WriteString(" at position ")
		b.WriteString(strconv.Itoa(e.Pos))
	}
	if e.Hint != "" {
		b.WriteString(": ")
		b.WriteString(e.Hint)
	}
	return b.String()
}

// runePos converts a byte offset into a 1-based character position.
func runePos(src string, off int) int {
	if off > len(src) {
		off = len(src)
	}
	return utf8.RuneCountInString(src[:off]) + 1
}

// maxQuoted bounds user text repeated in error messages.
const maxQuoted = 40

// quoted shortens user text repeated in an error message to maxQuoted runes
// and the cut mark.
func quoted(s string) string { return clip.Runes(s, maxQuoted+1) }

// quoteIdent renders a column name the way it would be written in a filter.
func quoteIdent(name string) string {
	return `"` + strings.ReplaceAll(quoted(name), `"`, `""`) + `"`
}

// quoteString renders a string literal the way it would be written in a filter.
func quoteString(s string) string {
	return `'` + strings.ReplaceAll(quoted(s), `'`, `''`) + `'`
}
