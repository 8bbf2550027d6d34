package evals

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// checkCall applies the invariants every result must meet, then the step's expectations.
func (ru *run) checkCall(st *Step, iter int, out *outcome, v view) {
	rec := out.rec
	if rec.Tool != "tools/list" {
		out.back = ru.readBack(out, v)
		ru.checkInvariants(st, iter, out)
	}
	want := false
	if st.Expect.IsError != nil {
		want = *st.Expect.IsError
	}
	if out.isError != want {
		ru.fail(st, iter, "is_error", strconv.FormatBool(want), fmt.Sprintf("%v: %s", out.isError, firstChars(out.text, 400)))
	}
	fields, err := ru.substituteChecks(st.Expect.Fields)
	if err != nil {
		ru.fail(st, iter, "expected values: "+err.Error(), "", "")
	}
	ru.addFailures(st, iter, checkFieldsIn(out.doc, out.back.fieldDoc(out.doc), fields))
	for _, s := range st.Expect.TextContains {
		if !strings.Contains(strings.ToLower(out.text), strings.ToLower(s)) {
			ru.fail(st, iter, "text contains", fmt.Sprintf("%q (case-insensitive)", s), firstChars(out.text, 600))
		}
	}
	for _, s := range st.Expect.TextNotContains {
		if strings.Contains(strings.ToLower(out.text), strings.ToLower(s)) {
			ru.fail(st, iter, "text does not contain", fmt.Sprintf("no %q", s), excerptAround(out.text, s))
		}
	}
	if n := st.Expect.MaxTokens; n > 0 {
		if rec.TextTokens > n {
			ru.fail(st, iter, "text tokens", fmt.Sprintf("<= %d", n), strconv.Itoa(rec.TextTokens))
		}
		if rec.StructuredTokens > n {
			ru.fail(st, iter, "structured tokens", fmt.Sprintf("<= %d", n), strconv.Itoa(rec.StructuredTokens))
		}
	}
	if p := st.Expect.MaxUpstreamRequests; p != nil && rec.UpstreamRequests > *p {
		ru.fail(st, iter, "upstream requests", fmt.Sprintf("<= %d", *p), strconv.Itoa(rec.UpstreamRequests))
	}
	if p := st.Expect.MaxDatapoints; p != nil && rec.Datapoints > *p {
		ru.fail(st, iter, "upstream datapoints", fmt.Sprintf("<= %d", *p), strconv.Itoa(rec.Datapoints))
	}
	ru.addFailures(st, iter, checkMetrics(callMetrics(rec), st.Expect.Metrics, "metric "))
	if out.lead {
		ru.checkUpstream(st, iter, out.during, out.total)
	}
	if out.progressSent {
		ru.checkProgress(st, iter, out.progress)
	}
	if st.Expect.Rows != "" && !out.isError {
		ru.addFailures(st, iter, ru.checkRows(st.Expect.Rows, v, out))
	}
}

func callMetrics(rec *CallRecord) map[string]float64 {
	return map[string]float64{
		"text_tokens": float64(rec.TextTokens), "structured_tokens": float64(rec.StructuredTokens),
		"upstream_requests": float64(rec.UpstreamRequests), "upstream_rows": float64(rec.UpstreamRows),
		"datapoints": float64(rec.Datapoints), "returned_rows": float64(rec.ReturnedRows),
		"baseline_tokens": float64(rec.BaselineTokens), "budget": float64(rec.Budget), "latency_ms": rec.LatencyMS,
	}
}

// checkInvariants are the promises that hold for every tool result (listed
// under "Invariants checked on every tool result" in evals/README.md).
func (ru *run) checkInvariants(st *Step, iter int, out *outcome) {
	rec := out.rec
	if out.blocks != 1 || out.textBlocks != 1 {
		ru.fail(st, iter, "result content must be exactly one text block", "1 text block", fmt.Sprintf("%d blocks, %d text", out.blocks, out.textBlocks))
	}
	if rec.TextTokens > rec.Budget {
		ru.fail(st, iter, "invariant: text tokens within the budget", fmt.Sprintf("<= %d", rec.Budget), strconv.Itoa(rec.TextTokens))
	}
	if rec.StructuredTokens > rec.Budget {
		ru.fail(st, iter, "invariant: structuredContent tokens within the budget", fmt.Sprintf("<= %d", rec.Budget), strconv.Itoa(rec.StructuredTokens))
	}
	structured, _ := json.Marshal(out.doc)
	for _, s := range ru.secrets {
		if strings.Contains(out.text, s) || bytes.Contains(structured, []byte(s)) {
			ru.fail(st, iter, "invariant: no secret (API key, auth token) in results", "absent", "present")
		}
	}
	if out.isError {
		if strings.TrimSpace(out.text) == "" {
			ru.fail(st, iter, "invariant: an isError result says what happened", "a message", "empty text")
		}
		if len(out.text) > maxErrorMessage {
			ru.fail(st, iter, "invariant: an isError message is short", fmt.Sprintf("<= %d bytes", maxErrorMessage), fmt.Sprintf("%d bytes", len(out.text)))
		}
		return
	}
	doc, ok := out.doc.(map[string]any)
	if !ok {
		ru.fail(st, iter, "invariant: a successful result has structuredContent", "an object", render(out.doc, out.doc != nil))
		return
	}
	required := []string{"query_id", "execution_id", "state", "total_row_count", "offset", "returned_rows", "has_more", "datapoints"}
	_, hasTable := doc["table"]
	if hasTable {
		// The rows travel once, as text: no JSON rows, columns or stats.
		for _, f := range []string{"columns", "rows", "stats"} {
			if _, ok := doc[f]; ok {
				ru.fail(st, iter, "invariant: structuredContent with a table has no "+f, "absent", "present")
			}
		}
	} else {
		required = append(required, "columns", "rows", "stats")
	}
	for _, f := range required {
		if _, ok := doc[f]; !ok {
			ru.fail(st, iter, "invariant: structuredContent has "+f, "present", "missing")
		}
	}
	if rb := out.back; rb != nil {
		ru.checkReadBack(st, iter, doc, rb)
	} else {
		rows, _ := doc["rows"].([]any)
		cols, _ := doc["columns"].([]any)
		if n, ok := asInt(doc["returned_rows"]); ok && n != len(rows) {
			ru.fail(st, iter, "invariant: returned_rows = len(rows)", strconv.Itoa(len(rows)), strconv.Itoa(n))
		}
		for i, r := range rows {
			cells, _ := r.([]any)
			if len(cells) != len(cols) {
				ru.fail(st, iter, fmt.Sprintf("invariant: row %d has one value per column", i), strconv.Itoa(len(cols)), strconv.Itoa(len(cells)))
				break
			}
		}
	}
	hasMore, _ := doc["has_more"].(bool)
	if hasMore != hasValue(doc, "next_cursor") {
		ru.fail(st, iter, "invariant: has_more iff next_cursor", fmt.Sprintf("has_more=%v with next_cursor present=%v", hasMore, !hasMore), fmt.Sprintf("has_more=%v, next_cursor present=%v", hasMore, hasValue(doc, "next_cursor")))
	}
}

// checkReadBack checks the rows a result carries as text: they read back
// (a types line, a label, the header, one field per column in every
// record), as many as returned_rows, and the label's rows a–b are
// offset+1 to offset+returned_rows.
func (ru *run) checkReadBack(st *Step, iter int, doc map[string]any, rb *readBack) {
	if rb.err != nil {
		ru.fail(st, iter, "invariant: the rows in "+rb.source+" read back", "a table as docs/result-views.md describes it", rb.err.Error())
		return
	}
	n, _ := asInt(doc["returned_rows"])
	if len(rb.rows) != n {
		ru.fail(st, iter, "invariant: returned_rows = the records in "+rb.source, strconv.Itoa(len(rb.rows)), strconv.Itoa(n))
	}
	off, _ := asInt(doc["offset"])
	if t := rb.table; t.first > 0 && (t.first != off+1 || t.last != off+n) {
		ru.fail(st, iter, "invariant: the table's label names the rows returned", fmt.Sprintf("rows %d–%d", off+1, off+n), fmt.Sprintf("rows %d–%d", t.first, t.last))
	}
}

// checkProgress checks the progress notifications of a call that sent a
// progress token: each one's progress is larger than the last (MCP requires
// it), and the step's progress expectations.
func (ru *run) checkProgress(st *Step, iter int, notes []progressNote) {
	var msgs []string
	for i, n := range notes {
		msgs = append(msgs, fmt.Sprintf("%g %q", n.Progress, n.Message))
		if i > 0 && n.Progress <= notes[i-1].Progress {
			ru.fail(st, iter, "invariant: progress increases with each notification", fmt.Sprintf("> %g", notes[i-1].Progress), fmt.Sprint(n.Progress))
		}
	}
	pe := st.Expect.Progress
	if pe == nil {
		return
	}
	got := fmt.Sprintf("%d notifications: %s", len(notes), firstChars(strings.Join(msgs, "; "), 600))
	if pe.Min != nil && len(notes) < *pe.Min {
		ru.fail(st, iter, "progress notifications", fmt.Sprintf(">= %d", *pe.Min), got)
	}
	if pe.Max != nil && len(notes) > *pe.Max {
		ru.fail(st, iter, "progress notifications", fmt.Sprintf("<= %d", *pe.Max), got)
	}
	for _, want := range pe.Contains {
		found := false
		for _, n := range notes {
			found = found || strings.Contains(strings.ToLower(n.Message), strings.ToLower(want))
		}
		if !found {
			ru.fail(st, iter, "progress message contains", fmt.Sprintf("%q in some message (case-insensitive)", want), got)
		}
	}
}
