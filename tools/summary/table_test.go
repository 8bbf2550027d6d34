package summary

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
)

// readBackConstants parses the table's line of columns given once
// ("same in every row…: name (type)=value, …", tersely "name=value")
// into a value per column name; written from the format alone, for
// names without "=" and values without ", ".
func readBackConstants(t *testing.T, table string) map[string]string {
	t.Helper()
	line := lineStarting(table, "same in every row")
	if line == "" {
		return nil
	}
	_, list, ok := strings.Cut(line, ": ")
	if !ok {
		t.Fatalf("constants line %q", line)
	}
	out := map[string]string{}
	for _, item := range strings.Split(list, ", ") {
		// name (type)=value, or tersely name=value
		name, value, ok := strings.Cut(item, "=")
		if !ok {
			t.Fatalf("constants item %q", item)
		}
		if n, typ, typed := strings.Cut(name, " ("); typed {
			if !strings.HasSuffix(typ, ")") {
				t.Fatalf("constants item %q", item)
			}
			name = n
		}
		out[name] = value
	}
	return out
}

// duneText is a value as Dune wrote it, for comparing with a cell read
// back (NULL: the empty cell).
func duneText(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// TestStructuredCarriesTheTable: under ViewsStructured (clients that
// forward only structuredContent), Structured carries the shown rows in
// Table, as CSV a reader can parse: every shown row once, each cell read
// back (with the columns given once and the cells' common parts) as the
// value Dune wrote, no row not shown; no rows, columns or statistics as
// JSON; the JSON says how to continue and what was cut, and the text
// content repeats no row.
func TestStructuredCarriesTheTable(t *testing.T) {
	pages := map[string]Page{"dex": dexPage(300, 100000), "wide": widePage(20, 300), "long": longTextPage(12, 3000)}
	for name, p := range pages {
		for _, budget := range []int{1000, 2000, 8000, 25000} {
			t.Run(fmt.Sprintf("%s/%d", name, budget), func(t *testing.T) {
				p := p
				p.Views = ViewsStructured
				out := mustSummarize(t, p, budget)
				st := out.Structured
				var keys map[string]json.RawMessage
				if err := json.Unmarshal(out.StructuredJSON, &keys); err != nil {
					t.Fatal(err)
				}
				for _, k := range []string{"columns", "rows", "stats"} {
					if _, ok := keys[k]; ok {
						t.Errorf("structuredContent has %q beside its table", k)
					}
				}
				n := out.ShownRows
				if n == 0 {
					if name != "wide" || budget > 2000 {
						t.Fatalf("no row shown at %d", budget)
					}
					return
				}
				if st.ReturnedRows != n || st.Table == "" {
					t.Fatalf("returned_rows %d, shown %d, table %d bytes", st.ReturnedRows, n, len(st.Table))
				}
				checkTableReadsBack(t, p, out)
				if n < len(p.Rows) {
					// The next row is not in the table.
					next := duneText(p.Rows[n][len(p.Columns)-2]) // the tx hash
					if next != "" && strings.Contains(st.Table, next) && name == "dex" {
						t.Errorf("row %d, not returned, is in the table", n)
					}
				}
				js := string(out.StructuredJSON)
				if st.HasMore && (!strings.Contains(js, st.NextCursor) || !strings.Contains(js, "next_page")) {
					t.Errorf("the JSON lacks the cursor or the call to make:\n%.600s", js)
				}
				if n < len(p.Rows) || p.TotalRowCount > n {
					if !st.HasMore {
						t.Errorf("rows were left out and has_more is false")
					}
				}
				if name == "dex" && strings.Contains(out.Text, duneText(p.Rows[0][len(p.Columns)-2])) {
					t.Errorf("the text content repeats a row:\n%s", out.Text)
				}
				if !strings.Contains(out.Text, "structuredContent.table") {
					t.Errorf("the text does not say where the rows are:\n%s", out.Text)
				}
			})
		}
	}
}

// TestTableLegendSaysOnlyWhatTheRowsHold: the table's label explains how
// NULL and the empty string are written only for the kinds of cells the
// shown rows hold; the terse label (small budgets) only when an empty
// field could be either.
func TestTableLegendSaysOnlyWhatTheRowsHold(t *testing.T) {
	cols := []dune.Column{{Name: "a", Type: "varchar"}, {Name: "b", Type: "bigint"}}
	for _, c := range []struct {
		rows          []dune.Row
		legend, terse string
	}{
		{[]dune.Row{{"x", json.Number("1")}, {"y", json.Number("2")}}, "as CSV (one header line):", "\nCSV:\n"},
		{[]dune.Row{{"x", nil}, {"y", json.Number("2")}}, "as CSV (one header line; empty = NULL):", "\nCSV:\n"},
		{[]dune.Row{{"", json.Number("1")}, {"y", json.Number("2")}}, `as CSV (one header line; "" = empty string):`, "\nCSV:\n"},
		{[]dune.Row{{"", nil}, {"y", json.Number("2")}}, `as CSV (one header line; empty = NULL, "" = empty string):`, `CSV (empty = NULL, "" = empty string):`},
	} {
		p := Page{QueryID: 1, ExecutionID: "e", State: dune.StateCompleted, Now: testNow,
			Columns: cols, Rows: c.rows, TotalRowCount: len(c.rows)}
		if out := mustSummarize(t, p, 8000); !strings.Contains(out.Text, c.legend+"\n") {
			t.Errorf("rows %v: want label %q in\n%s", c.rows, c.legend, out.Text)
		}
		// Under 4,000 tokens the terse layout shows as many rows.
		if out := mustSummarize(t, p, 2000); !strings.Contains(out.Text, c.terse) {
			t.Errorf("rows %v, terse: want label %q in\n%s", c.rows, c.terse, out.Text)
		}
	}
}
