package dune

import (
	"strconv"
	"strings"
)

// answerWant is what a results request pins, for checking that the answer
// belongs to it (a proxy or cache between us and Dune can misroute): the
// query of a latest-result request, the execution of an execution-result
// request, and the columns when the request names them.
type answerWant struct {
	queryID     int64    // 0: any query (execution requests)
	executionID string   // "": any execution (latest-result requests)
	columns     []string // empty: every column
}

// check returns a *MismatchError when res does not answer the request
// (the answer's strings have the key removed).
// A query_id of 0 (Dune leaves it out for raw SQL runs) is accepted;
// execution ids are ULIDs, compared without regard to case; columns are
// compared as a set of names (sameColumns).
func (w answerWant) check(res *Result, where, key string) error {
	if w.queryID != 0 && res.QueryID != 0 && res.QueryID != w.queryID {
		return &MismatchError{Field: "query_id", Want: strconv.FormatInt(w.queryID, 10), Got: strconv.FormatInt(res.QueryID, 10), Where: where}
	}
	if w.executionID != "" && !strings.EqualFold(res.ExecutionID, w.executionID) {
		got := res.ExecutionID
		if got == "" {
			got = "(none)"
		}
		return &MismatchError{Field: "execution_id", Want: w.executionID, Got: got, Where: where}
	}
	if len(w.columns) > 0 && res.HasResult && !sameColumns(w.columns, res.Columns) {
		names := make([]string, len(res.Columns))
		for i, c := range res.Columns {
			names[i] = c.Name
		}
		return &MismatchError{Field: "columns", Want: columnList(w.columns, key), Got: columnList(names, key), Where: where}
	}
	return nil
}

// sameColumns reports whether got holds exactly the columns asked for, each
// once, in any order; names are compared without regard to case (SQL
// engines fold unquoted identifiers), so only an answer with other columns
// is refused.
func sameColumns(asked []string, got []Column) bool {
	if len(asked) != len(got) {
		return false
	}
	want := make(map[string]int, len(asked))
	for _, a := range asked {
		want[strings.ToLower(strings.TrimSpace(a))]++
	}
	for _, c := range got {
		k := strings.ToLower(c.Name)
		if want[k] == 0 {
			return false
		}
		want[k]--
	}
	return true
}

// maxColumnsInError bounds the column names a MismatchError lists.
const maxColumnsInError = 8

// columnList names up to maxColumnsInError columns (each bounded), then how
// many more there are.
func columnList(names []string, key string) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, n := range names {
		if i == maxColumnsInError {
			b.WriteString(", … " + strconv.Itoa(len(names)-i) + " more")
			break
		}
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(strconv.Quote(scrub(n, key, 64)))
	}
	b.WriteByte(']')
	return b.String()
}
