package summary

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
)

// readBackAffixes parses the text's declaration of the cells' common parts
// (name=pattern, or "every TYPE column=pattern") into a pattern per column
// name; written from the format alone.
func readBackAffixes(t *testing.T, text string, cols []dune.Column) map[string]string {
	t.Helper()
	line := lineStarting(text, "cells ")
	if line == "" {
		return nil
	}
	_, list, ok := strings.Cut(line, ": ")
	if !ok {
		t.Fatalf("declaration %q", line)
	}
	out := map[string]string{}
	for _, item := range strings.Split(list, ", ") {
		name, pattern, ok := strings.Cut(item, "=")
		if !ok || strings.Count(pattern, "*") != 1 {
			t.Fatalf("declaration item %q", item)
		}
		if ty, ok := strings.CutPrefix(name, "every "); ok {
			ty = strings.TrimSuffix(ty, " column")
			for _, c := range cols {
				if c.Type == ty {
					out[c.Name] = pattern
				}
			}
			continue
		}
		out[name] = pattern
	}
	return out
}

// TestTimestampCellsReadBackExactly: the text table gives timestamp cells
// without the part every cell shares, declared once as a pattern; each
// cell put into its pattern is the value exactly as Dune wrote it, and
// structuredContent keeps the values as Dune sent them.
func TestTimestampCellsReadBackExactly(t *testing.T) {
	cols := []dune.Column{
		{Name: "block_time", Type: "timestamp"},
		{Name: "day", Type: "date"},
		{Name: "label", Type: "varchar"},
		{Name: "precise", Type: "timestamp(3) with time zone"},
		{Name: "ended", Type: "timestamp"},
	}
	start := time.Date(2024, 6, 30, 23, 59, 9, 0, time.UTC)
	var rows []dune.Row
	for i := range 40 {
		at := start.Add(-time.Duration(i) * 97 * time.Second)
		var ended any
		if i%3 != 0 {
			ended = at.Add(time.Duration(i) * 26 * time.Hour).Format("2006-01-02 15:04:05.000 UTC")
		}
		rows = append(rows, dune.Row{
			at.Format("2006-01-02 15:04:05.000 UTC"),
			at.AddDate(0, 0, -i).Format("2006-01-02") + "T00:00:00Z",
			fmt.Sprintf("row %d", i),
			at.Add(time.Duration(i) * time.Millisecond).Format("2006-01-02 15:04:05.000 UTC"),
			ended,
		})
	}
	p := Page{QueryID: 1, ExecutionID: "e", State: dune.StateCompleted, Columns: cols, Rows: rows,
		TotalRowCount: len(rows), Datapoints: len(rows) * len(cols), Now: testNow}
	out := mustSummarize(t, p, 8000)
	if out.ShownRows != len(rows) {
		t.Fatalf("%d of %d rows shown", out.ShownRows, len(rows))
	}
	patterns := readBackAffixes(t, out.Text, cols)
	want := map[string]string{"block_time": "2024-06-30 *.000 UTC", "day": "*T00:00:00Z", "precise": "2024-06-30 * UTC", "ended": "*.000 UTC"}
	for name, w := range want {
		if patterns[name] != w {
			t.Errorf("%s: pattern %q, want %q\n%s", name, patterns[name], w, lineStarting(out.Text, "cells "))
		}
	}
	if _, ok := patterns["label"]; ok {
		t.Error("a varchar column got a pattern")
	}
	recs := tableRecords(t, out.Text)
	for i, row := range rows {
		for c, v := range row {
			cell := recs[i+1][c]
			got := cell
			if pat, ok := patterns[cols[c].Name]; ok && cell != "" {
				got = strings.Replace(pat, "*", cell, 1)
			}
			wantCell := ""
			if v != nil {
				wantCell = v.(string)
			}
			if got != wantCell {
				t.Fatalf("row %d %s: cell %q reads back as %q, want %q", i, cols[c].Name, cell, got, wantCell)
			}
		}
	}
	js, _ := json.Marshal(out.Structured.Rows[0])
	if want, _ := json.Marshal(rows[0]); string(js) != string(want) {
		t.Errorf("structured row %s, want Dune's values %s", js, want)
	}

	// Two rows: leaving ".000 UTC" out of two cells saves less than its
	// declaration costs, and one date for two values says little.
	p.Rows, p.TotalRowCount = rows[:2], 2
	if out := mustSummarize(t, p, 8000); strings.Contains(out.Text, "\ncells ") || !strings.Contains(out.Text, rows[1][0].(string)) {
		t.Errorf("two rows: cells shortened\n%s", out.Text)
	}
}

// TestNullIsAnEmptyField: NULL is an empty field and the empty string is
// "" (as plain CSV writes them, and said in the table's legend); a table
// of one column writes NULL as ∅, lest its row be an empty line.
func TestNullIsAnEmptyField(t *testing.T) {
	p := Page{QueryID: 1, ExecutionID: "e", State: dune.StateCompleted, Now: testNow,
		Columns: []dune.Column{{Name: "a", Type: "varchar"}, {Name: "b", Type: "bigint"}},
		Rows:    []dune.Row{{nil, json.Number("1")}, {"", json.Number("2")}, {"x", nil}}, TotalRowCount: 3}
	out := mustSummarize(t, p, 2000)
	if !strings.Contains(out.Text, "\n,1\n\"\",2\nx,") || !strings.Contains(out.Text, `empty = NULL, "" = empty string`) {
		t.Errorf("two columns:\n%s", out.Text)
	}
	p.Columns, p.Rows = p.Columns[:1], []dune.Row{{nil}, {""}, {"x"}}
	out = mustSummarize(t, p, 2000)
	if !strings.Contains(out.Text, "\na\n∅\n\"\"\nx") || !strings.Contains(out.Text, `∅ = NULL, "" = empty string`) {
		t.Errorf("one column:\n%s", out.Text)
	}
}
