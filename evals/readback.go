package evals

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strings"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// Where a result's rows are, when structuredContent does not carry them
// as JSON.
const (
	fromTable = "structuredContent.table"
	fromText  = "the text content"
)

// readBack is a result's rows read back from the part that carries them
// as text (result views "structured": structuredContent.table; "text":
// the text content), in the result's column order.
type readBack struct {
	// source is fromTable or fromText.
	source string
	table  *readTable
	// cols and rows are the columns and the rows with the columns given
	// once put back in their positions; cells are tableCell values.
	cols []dune.Column
	rows []any
	// err says why the rows could not be read back.
	err error
}

// readBack reads back out's rows when they travel as text: from
// structuredContent.table, or, when structuredContent's rows are empty
// though rows were returned, from the text content. It returns nil when
// structuredContent carries the rows as JSON (or the result is an error).
// The columns given once go back where the ground truth of view v puts
// them when the result's execution is known, else after the table's.
func (ru *run) readBack(out *outcome, v view) *readBack {
	doc, ok := out.doc.(map[string]any)
	if out.isError || !ok {
		return nil
	}
	n, _ := asInt(doc["returned_rows"])
	rb := &readBack{}
	var src string
	if s, ok := doc["table"].(string); ok {
		rb.source, src, n = fromTable, s, -1
	} else if rows, _ := doc["rows"].([]any); len(rows) == 0 && n > 0 {
		rb.source, src = fromText, out.text
	} else {
		return nil
	}
	rb.table, rb.err = parseTable(src, n)
	if rb.err != nil {
		return rb
	}
	rb.cols, rb.rows, rb.err = arrange(rb.table, ru.columnOrder(doc, v))
	return rb
}

// columnOrder is the ground truth's columns for view v of the result's
// execution, nil when they cannot be known.
func (ru *run) columnOrder(doc map[string]any, v view) []dune.Column {
	if !v.known {
		return nil
	}
	id, _ := doc["execution_id"].(string)
	ds := ru.emu.dataset(id)
	if ds == nil {
		return nil
	}
	cols, _, _, err := emulator.Evaluate(ds, dune.Options{Columns: v.columns, Limit: 1}, 1)
	if err != nil {
		return nil
	}
	return cols
}

// arrange puts the table's columns, the header's and those given once, in
// order (the ground truth's columns): every column of one must be in the
// other, and the header's must follow order. Without an order, the columns
// given once follow the header's. A table without rows gives the columns its
// schema line lists.
func arrange(t *readTable, order []dune.Column) ([]dune.Column, []any, error) {
	if len(t.cols) == 0 && len(t.consts) == 0 {
		return t.listed, nil, nil
	}
	const constBit = 1 << 30
	at := map[string]int{}
	for i, c := range t.cols {
		at[c.Name] = i
	}
	for k, c := range t.consts {
		at[c.col.Name] = constBit + k
	}
	if order == nil {
		order = append([]dune.Column(nil), t.cols...)
		for _, k := range t.consts {
			order = append(order, k.col)
		}
	} else {
		inOrder := map[string]bool{}
		var header []string
		for _, c := range order {
			inOrder[c.Name] = true
			if i, ok := at[c.Name]; !ok {
				return nil, nil, fmt.Errorf("column %q is neither in the CSV header nor given once", c.Name)
			} else if i < constBit {
				header = append(header, c.Name)
			}
		}
		for name := range at {
			if !inOrder[name] {
				return nil, nil, fmt.Errorf("column %q is not a column of the result", name)
			}
		}
		if len(header) != len(t.cols) {
			return nil, nil, fmt.Errorf("the result has %d columns named like the CSV header's %d", len(header), len(t.cols))
		}
		for i, c := range t.cols {
			if header[i] != c.Name {
				return nil, nil, fmt.Errorf("the CSV header's columns are not in the result's order: %q where %q belongs", c.Name, header[i])
			}
		}
	}
	cols := make([]dune.Column, len(order))
	for j, c := range order {
		if i := at[c.Name]; i >= constBit {
			cols[j] = t.consts[i-constBit].col
			if cols[j].Type == "" {
				// A terse constants line leaves types out: the result's.
				cols[j].Type = c.Type
			}
		} else {
			cols[j] = t.cols[i]
		}
	}
	rows := make([]any, len(t.rows))
	for r, rec := range t.rows {
		row := make([]any, len(order))
		for j, c := range order {
			if i := at[c.Name]; i >= constBit {
				row[j] = t.consts[i-constBit].cell
			} else {
				row[j] = rec[i]
			}
		}
		rows[r] = row
	}
	return cols, rows, nil
}

// cellMatches reports whether a cell read back from a table stands for
// Dune's value v: NULL for null; a string as is (or cut to a true prefix
// with an exact …[+N of M chars] marker); a number by its JSON text or
// numerically equal; a boolean as true/false; an array or object as JSON
// equal to it.
func cellMatches(c tableCell, v any) bool {
	if v == nil || c.null {
		return v == nil && c.null
	}
	switch x := v.(type) {
	case string:
		return c.text == x || shortenedCorrectly(c.text, x)
	case bool:
		return c.text == fmt.Sprint(x)
	}
	if want, ok := numeric(v); ok {
		if c.text == canonical(v) {
			return true
		}
		got, ok := new(big.Rat).SetString(c.text)
		return ok && got.Cmp(want) == 0
	}
	if got := decodeJSON([]byte(c.text)); got != nil && canonical(got) == canonical(v) {
		return true
	}
	return shortenedCorrectly(c.text, canonical(v))
}

// numericTypes are the Dune types whose cells typedValue reads as numbers.
var numericTypes = []string{"tinyint", "smallint", "integer", "int", "bigint", "real", "double", "float", "decimal", "uint256", "int256"}

// typedValue is a cell as a JSON value for field checks: NULL as null, a
// number column's cell as a number, a boolean column's as a boolean, any
// other as its text.
func typedValue(c tableCell, typ string) any {
	if c.null {
		return nil
	}
	base, _, _ := strings.Cut(strings.ToLower(typ), "(")
	for _, n := range numericTypes {
		if base == n {
			if _, ok := new(big.Rat).SetString(c.text); ok {
				return json.Number(c.text)
			}
		}
	}
	if base == "boolean" && (c.text == "true" || c.text == "false") {
		return c.text == "true"
	}
	return c.text
}

// fieldDoc is the document field checks resolve paths into rows and
// columns with when the rows were read back: structuredContent with
// columns ([{name, type}]) and rows (typed values, see typedValue) from
// the read-back; nil when there is none.
func (rb *readBack) fieldDoc(doc any) any {
	m, ok := doc.(map[string]any)
	if rb == nil || rb.err != nil || !ok {
		return nil
	}
	out := make(map[string]any, len(m)+2)
	for k, v := range m {
		out[k] = v
	}
	out["columns"] = columnsJSON(rb.cols)
	rows := make([]any, len(rb.rows))
	for i, r := range rb.rows {
		cells := r.([]any)
		typed := make([]any, len(cells))
		for j, c := range cells {
			typed[j] = typedValue(c.(tableCell), rb.cols[j].Type)
		}
		rows[i] = typed
	}
	out["rows"] = rows
	return out
}

func columnsJSON(cols []dune.Column) []any {
	out := make([]any, len(cols))
	for i, c := range cols {
		out[i] = map[string]any{"name": c.Name, "type": c.Type}
	}
	return out
}

// resultRows is the rows of a result as structuredContent carries them,
// or as read back from text (cells are then tableCell values), and its
// columns as [{name, type}].
func resultRows(out *outcome) (rows []any, cols any, err error) {
	if rb := out.back; rb != nil {
		if rb.err != nil {
			return nil, nil, fmt.Errorf("rows in %s could not be read back: %w", rb.source, rb.err)
		}
		return rb.rows, columnsJSON(rb.cols), nil
	}
	r, _ := lookup(out.doc, "rows")
	rows, _ = r.([]any)
	cols, _ = lookup(out.doc, "columns")
	return rows, cols, nil
}

// cellText shows an actual cell in a diff.
func cellText(v any) string {
	if c, ok := v.(tableCell); ok {
		return c.String()
	}
	return canonical(v)
}

// sameCell compares an actual cell (a JSON value, or a tableCell read
// back from text) with Dune's value.
func sameCell(a, t any) bool {
	if c, ok := a.(tableCell); ok {
		return cellMatches(c, t)
	}
	return canonical(a) == canonical(t) || shortenedCorrectly(a, t)
}
