package tools

import (
	"fmt"
	"strconv"

	"github.com/dune-mcp/dune-mcp/dune"
)

// Answers checked against what a cursor pins. The dune client checks each
// answer against its own request (the query of a latest result, the
// execution of an execution result, the columns asked for); what only the
// cursor knows is checked here: the query its execution ran, the width of
// its rows, and the columns of the rows already cached that a fetched page
// is about to be merged with.

// checkPinnedQuery refuses an execution's page that names another query
// than the one the cursor (or the first page) was issued for.
func checkPinnedQuery(res *dune.Result, queryID int64, where string) error {
	if queryID != 0 && res.QueryID != 0 && res.QueryID != queryID {
		return &dune.MismatchError{Field: "query_id", Want: strconv.FormatInt(queryID, 10), Got: strconv.FormatInt(res.QueryID, 10), Where: where}
	}
	return nil
}

// checkMergeable refuses a fetched page whose columns differ (names, order
// or count) from the cached rows it continues; width is the cursor's column
// count, 0 when unknown.
func checkMergeable(res *dune.Result, cached []dune.Column, width int, where string) error {
	if width > 0 && len(res.Columns) != width {
		return &dune.MismatchError{Field: "columns", Want: fmt.Sprintf("%d columns", width), Got: fmt.Sprintf("%d columns", len(res.Columns)), Where: where}
	}
	if cached == nil {
		return nil
	}
	same := len(cached) == len(res.Columns)
	for i := 0; same && i < len(cached); i++ {
		same = cached[i].Name == res.Columns[i].Name
	}
	if !same {
		return &dune.MismatchError{Field: "columns", Want: fmt.Sprintf("the %d columns of the cached rows", len(cached)), Got: fmt.Sprintf("%d other columns", len(res.Columns)), Where: where}
	}
	return nil
}
