package evals

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// truthSet is the whole result of one execution under one view, per the
// emulator's reference evaluation.
type truthSet struct {
	cols  []dune.Column
	rows  []dune.Row
	total int
}

func (v view) options() dune.Options {
	var o dune.Options
	o.Columns = v.columns
	o.Filters = v.filters
	o.SortBy = v.sortBy
	return o
}

// fullTruth evaluates every row of the view (cached per execution and view).
func (ru *run) fullTruth(execID string, ds *emulator.Dataset, v view) (*truthSet, error) {
	key := execID + "\x00" + strings.Join(v.columns, ",") + "\x00" + v.filters + "\x00" + v.sortBy
	if t, ok := ru.truth[key]; ok {
		return t, nil
	}
	n := max(ds.Len(), 1)
	opts := v.options()
	opts.Limit = n
	cols, rows, total, err := emulator.Evaluate(ds, opts, n)
	if err != nil {
		return nil, fmt.Errorf("emulator.Evaluate: %w", err)
	}
	t := &truthSet{cols: cols, rows: rows, total: total}
	ru.truth[key] = t
	return t, nil
}

// datasetOf finds the dataset that served a result.
func (ru *run) datasetOf(doc any) (string, *emulator.Dataset, *Failure) {
	execID, _ := lookup(doc, "execution_id")
	id, _ := execID.(string)
	ds := ru.emu.dataset(id)
	if ds == nil {
		return id, nil, &Failure{Check: "rows: the result's execution_id is not an execution this scenario created", Expected: "one of the scenario's executions", Actual: render(execID, execID != nil)}
	}
	return id, ds, nil
}

// checkRows compares one result's rows with the ground truth.
func (ru *run) checkRows(mode string, v view, out *outcome) []Failure {
	doc := out.doc
	if !v.known {
		return []Failure{{Check: "rows: cannot tell which query view (columns, filters, sort_by) this call reads; set view_from"}}
	}
	execID, ds, f := ru.datasetOf(doc)
	if f != nil {
		return []Failure{*f}
	}
	actual, gotCols, err := resultRows(out)
	if err != nil {
		return []Failure{{Check: "rows: " + err.Error()}}
	}
	offset := toInt(mustLookup(doc, "offset"))
	var fails []Failure
	switch mode {
	case "subset":
		base := view{known: true, columns: v.columns}
		t, err := ru.fullTruth(execID, ds, base)
		if err != nil {
			return []Failure{{Check: "rows: " + err.Error()}}
		}
		fails = append(fails, compareColumns(gotCols, t.cols, len(actual) == 0)...)
		set := make(map[string]bool, len(t.rows))
		for _, r := range t.rows {
			set[canonical(r)] = true
		}
		var bad []string
		for i, r := range actual {
			if !set[canonical(r)] && !inRows(r, t.rows) {
				bad = append(bad, fmt.Sprintf("row %d: %s", i, firstChars(rowText(r), 200)))
			}
		}
		if len(bad) > 0 {
			fails = append(fails, Failure{Check: "rows: every sampled row exists in the result", Expected: "rows of the query result",
				Actual: fmt.Sprintf("%d of %d rows not found:\n%s", len(bad), len(actual), strings.Join(bad[:min(len(bad), 3)], "\n"))})
		}
	case "truth":
		if v.sample {
			return []Failure{{Check: "rows: truth needs a deterministic page; use rows: subset for samples"}}
		}
		n := max(len(actual), 1)
		opts := v.options()
		opts.Offset, opts.Limit = offset, n
		cols, trows, total, err := emulator.Evaluate(ds, opts, n)
		if err != nil {
			return []Failure{{Check: "rows: emulator.Evaluate: " + err.Error()}}
		}
		if len(actual) == 0 {
			trows = nil
		}
		fails = append(fails, compareColumns(gotCols, cols, len(actual) == 0)...)
		if got := toInt(mustLookup(doc, "total_row_count")); got != total {
			fails = append(fails, Failure{Check: "rows: total_row_count equals the ground truth", Expected: strconv.Itoa(total), Actual: strconv.Itoa(got)})
		}
		if f := compareRows(actual, trows, offset, cols); f != nil {
			fails = append(fails, *f)
		}
	}
	return fails
}

// inRows reports whether row r of cells read back from text is one of
// rows, compared cell by cell (JSON rows are looked up by their canonical
// JSON instead).
func inRows(r any, rows []dune.Row) bool {
	cells, _ := r.([]any)
	if len(cells) == 0 {
		return false
	}
	if _, ok := cells[0].(tableCell); !ok {
		return false
	}
	for _, t := range rows {
		if len(t) != len(cells) || !sameCell(cells[0], t[0]) {
			continue
		}
		all := true
		for j := 1; j < len(cells) && all; j++ {
			all = sameCell(cells[j], t[j])
		}
		if all {
			return true
		}
	}
	return false
}

// rowText shows an actual row in a failure.
func rowText(r any) string {
	cells, ok := r.([]any)
	if !ok {
		return canonical(r)
	}
	parts := make([]string, len(cells))
	for i, c := range cells {
		parts[i] = cellText(c)
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func mustLookup(doc any, path string) any {
	v, _ := lookup(doc, path)
	return v
}

// compareColumns checks the result's columns against the truth. A result
// showing no rows may carry only a prefix of the schema (a tight budget).
func compareColumns(got any, cols []dune.Column, prefixOK bool) []Failure {
	want := make([]any, len(cols))
	for i, c := range cols {
		want[i] = map[string]any{"name": c.Name, "type": c.Type}
	}
	if gl, ok := got.([]any); ok && prefixOK && len(gl) < len(want) {
		want = want[:len(gl)]
	}
	if canonical(got) != canonical(want) {
		return []Failure{{Check: "rows: columns equal the ground truth", Expected: firstChars(canonical(want), 600), Actual: firstChars(canonical(got), 600)}}
	}
	return nil
}

// shortenedPattern is how the summary marks a long cell it cut:
// the kept prefix, then "…[+N of M chars]".
var shortenedPattern = regexp.MustCompile(`(?s)^(.*)…\[\+(\d+) of (\d+) chars\]$`)

// shortenedCorrectly reports whether actual is truth cut to a prefix with an
// exact "…[+N of M chars]" marker (M the full length, N the part left out).
func shortenedCorrectly(actual, truth any) bool {
	a, ok1 := actual.(string)
	t, ok2 := truth.(string)
	if !ok1 || !ok2 {
		return false
	}
	m := shortenedPattern.FindStringSubmatch(a)
	if m == nil || !strings.HasPrefix(t, m[1]) {
		return false
	}
	total := utf8.RuneCountInString(t)
	kept := utf8.RuneCountInString(m[1])
	return m[3] == strconv.Itoa(total) && m[2] == strconv.Itoa(total-kept)
}

// compareRows reports the first differing cells of actual vs truth.
func compareRows(actual []any, truth []dune.Row, offset int, cols []dune.Column) *Failure {
	var diffs []string
	ndiff := 0
	for i := 0; i < min(len(actual), len(truth)); i++ {
		cells, _ := actual[i].([]any)
		for j := 0; j < max(len(cells), len(truth[i])); j++ {
			var a, t any = "(missing)", "(missing)"
			if j < len(cells) {
				a = cells[j]
			}
			if j < len(truth[i]) {
				t = truth[i][j]
			}
			if sameCell(a, t) {
				continue
			}
			ca, ct := cellText(a), canonical(t)
			ndiff++
			if len(diffs) < 5 {
				name := strconv.Itoa(j)
				if j < len(cols) {
					name = cols[j].Name
				}
				diffs = append(diffs, fmt.Sprintf("row %d (offset %d) %s: expected %s, got %s", i, offset+i, name, firstChars(ct, 120), firstChars(ca, 120)))
			}
		}
	}
	if len(actual) != len(truth) {
		return &Failure{Check: "rows: equal the ground truth", Expected: fmt.Sprintf("%d rows from offset %d", len(truth), offset),
			Actual: fmt.Sprintf("%d rows (%d differing cells in the common part)", len(actual), ndiff)}
	}
	if ndiff == 0 {
		return nil
	}
	return &Failure{Check: fmt.Sprintf("rows: equal the ground truth (%d differing cells)", ndiff),
		Expected: "every cell exactly as Dune sent it", Actual: strings.Join(diffs, "\n")}
}

// canonical is a value's JSON (numbers keep their literal; map keys sorted).
func canonical(v any) string {
	if r, ok := v.(dune.Row); ok {
		v = []any(r)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// checkWalk applies a loop step's walk expectations over all its calls.
func (ru *run) checkWalk(st *Step, ss *stepState) {
	w := st.Walk
	var pages []*outcome
	v := ss.view
	for i, id := range w.IncludeSteps {
		inc := ru.steps[id]
		if inc == nil {
			continue
		}
		if i == 0 {
			v = inc.view
		}
		pages = append(pages, inc.calls...)
	}
	pages = append(pages, ss.calls...)
	m := map[string]float64{"calls": float64(len(pages))}
	delivered, fetched := 0, 0
	for _, p := range pages {
		r := p.rec
		delivered += r.ReturnedRows
		fetched += r.UpstreamRows
		m["upstream_requests"] += float64(r.UpstreamRequests)
		m["datapoints"] += float64(r.Datapoints)
		m["text_tokens"] += float64(r.TextTokens)
		m["baseline_tokens"] += float64(r.BaselineTokens)
		m["max_text_tokens"] = max(m["max_text_tokens"], float64(r.TextTokens))
		m["max_structured_tokens"] = max(m["max_structured_tokens"], float64(r.StructuredTokens))
	}
	m["rows_delivered"], m["upstream_rows"] = float64(delivered), float64(fetched)
	ru.addFailures(st, 0, checkMetrics(m, w.Metrics, "walk "))
	if w.MaxFetchFactor > 0 {
		factor := float64(fetched) / float64(max(delivered, 1))
		if factor > w.MaxFetchFactor {
			ru.fail(st, 0, "walk: rows fetched upstream / rows delivered", fmt.Sprintf("<= %.3g", w.MaxFetchFactor),
				fmt.Sprintf("%.3f (%d fetched, %d delivered)", factor, fetched, delivered))
		}
	}
	if w.Rows == "truth" {
		ru.walkTruth(st, v, pages)
	}
}

func (ru *run) walkTruth(st *Step, v view, pages []*outcome) {
	if !v.known || v.sample {
		ru.fail(st, 0, "walk rows: cannot tell which query view (columns, filters, sort_by) the walk reads", "", "")
		return
	}
	if len(pages) == 0 || pages[0].isError {
		ru.fail(st, 0, "walk rows: the walk's first call has no rows to compare", "", "")
		return
	}
	execID, ds, f := ru.datasetOf(pages[0].doc)
	if f != nil {
		ru.addFailures(st, 0, []Failure{*f})
		return
	}
	t, err := ru.fullTruth(execID, ds, v)
	if err != nil {
		ru.fail(st, 0, "walk rows: "+err.Error(), "", "")
		return
	}
	pos := toInt(mustLookup(pages[0].doc, "offset"))
	start := pos
	for k, p := range pages {
		if p.isError {
			ru.fail(st, 0, fmt.Sprintf("walk rows: call %d is an error", k+1), "a page of rows", firstChars(p.text, 200))
			return
		}
		if id, _ := lookup(p.doc, "execution_id"); id != execID {
			ru.fail(st, 0, fmt.Sprintf("walk rows: call %d reads the same execution", k+1), execID, render(id, true))
			return
		}
		off := toInt(mustLookup(p.doc, "offset"))
		if off != pos {
			ru.fail(st, 0, fmt.Sprintf("walk rows: call %d continues where the previous stopped", k+1), fmt.Sprintf("offset %d", pos), fmt.Sprintf("offset %d (a %s)", off, map[bool]string{true: "gap", false: "overlap"}[off > pos]))
			return
		}
		actual, _, err := resultRows(p)
		if err != nil {
			ru.fail(st, 0, fmt.Sprintf("walk rows: call %d: %s", k+1, err), "", "")
			return
		}
		end := min(off+len(actual), len(t.rows))
		var want []dune.Row
		if off < end {
			want = t.rows[off:end]
		}
		if f := compareRows(actual, want, off, t.cols); f != nil {
			f.Check = fmt.Sprintf("walk call %d %s", k+1, f.Check)
			ru.addFailures(st, 0, []Failure{*f})
			return
		}
		pos = off + len(actual)
	}
	if pos != t.total {
		ru.fail(st, 0, "walk rows: every row delivered once, to the end of the result", fmt.Sprintf("rows %d..%d (%d rows)", start, t.total, t.total-start),
			fmt.Sprintf("stopped at row %d (%d rows delivered)", pos, pos-start))
	}
}
