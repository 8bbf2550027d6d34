// Package summary turns a page of Dune rows into what an agent sees: a compact
// text rendering and a structured object, each fitting a token budget counted
// with the o200k_base tokenizer, saying what was left out.
//
// The text holds provenance (query, execution, state, freshness and expiry,
// whether this call ran the query and what that cost, the caller's
// datapoint budget), the schema (only the types when the CSV header names
// the columns), row counts with the whole result's size and datapoints,
// per-column statistics over the fetched rows, the rows as a CSV table
// (NULL rendered as ∅, cells longer than CellLimit characters shortened
// with a visible …[+N of M chars] marker, columns holding one value in
// every row given once above the table), and what to do next (the cursor
// and hints). Rows come first: statistics get only the room rows leave,
// and are computed only when there is such room (a sample's statistics,
// which profile a result, come before most of its rows), and statistics
// that say nothing (text columns whose values all
// differ, columns with one value) are left out. When the budget is short,
// rows go first, then statistics, then schema entries; whatever is cut is
// said, in the text and in Structured.Omitted. When the page has rows and
// not one fits, a note says that max_tokens is too small for one row of
// these columns. The age of the result ("3 h ago") is the only part that
// depends on the time of the call: it never changes which rows are shown
// or what is cut.
//
// Page.Views says which part carries the rows: both (each within the
// budget), the text only (Structured is a short object with the ids,
// counts and cursor), or Structured only (Structured.Table holds the
// text's table: types, statistics and CSV, in place of columns, rows and
// stats; the text is a short summary with the cursor). MCP clients differ
// in which part reaches the model (docs/result-views.md).
//
// A page of an execution that has not finished (state pending or
// executing, no columns, no rows) says so, with the cursor to come back
// with, instead of row counts.
//
// Small budgets (under 1,500 tokens) change one thing, so that rows show
// whenever a few can fit: each rendering may switch to a terse form when
// that shows more rows: for the text, one-line provenance, a short demo
// mark, the counts folded into the TRUNCATED line, a terse CSV legend and no
// hints; for Structured, no notes or echoed filters, execution_ended_at to
// the second, omitted listing only what the other fields do not show, and
// neither truncated when has_more is true nor fetched_rows when it equals
// returned_rows.
//
// Token counts are exact: CountTokens splits text with o200k's own split
// expression (split.go) and encodes each distinct piece once per process.
package summary

import (
	"errors"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// CellLimit is the longest cell, in characters (runes), shown in full. Longer
// cells are cut to their first cellKeep characters followed by the marker
// …[+N of M chars], N characters being left out of M. A page of a few rows
// that ends the result (e.g. a filter on a key) gets a larger bound, scaled
// to the budget, so that long cells can be read whole.
const CellLimit = 200

// NullMark is how a SQL NULL appears in top values, in the columns given
// once, and in a text table of one column (a wider table writes NULL as an
// empty field, and the empty string as "").
const NullMark = "∅"

// ErrBudgetTooSmall is returned when even the result's essentials (ids, counts,
// cursor, notes) do not fit the structured budget.
var ErrBudgetTooSmall = errors.New("summary: token budget too small for the result's essentials")

// Page is what a tool fetched and wants to show.
type Page struct {
	Tool        string // tool name, for the header
	QueryID     int64
	ExecutionID string
	State       dune.State
	SubmittedAt time.Time
	EndedAt     *time.Time
	// ExpiresAt is when Dune deletes the result (zero: unknown).
	ExpiresAt time.Time
	// Executed: this call ran the query, so the rows come from a fresh
	// execution (or, while State is pending or executing, none have come
	// yet).
	Executed bool
	// ExecutionCostCredits is what the execution this call ran cost, in
	// Dune credits, when known (shown only when Executed).
	ExecutionCostCredits *float64
	// Budget is the caller's cumulative datapoint budget after this call;
	// nil when no budget is configured.
	Budget *BudgetUse
	Demo   bool // data comes from the embedded emulator, say so loudly

	Columns []dune.Column
	// Rows are the rows available to show, Rows[0] being row Offset of the result.
	Rows   []dune.Row
	Offset int
	// TotalRowCount is Dune's total_row_count (after filters).
	TotalRowCount int
	// StatsRows are the rows statistics are computed over (the rows fetched
	// upstream by this call, or the cached rows of the same page). When nil,
	// Rows are used. Rows and StatsRows must not be modified in place once
	// passed: statistics of large row sets are memoised by their identity.
	StatsRows []dune.Row
	// Datapoints is the upstream datapoint_count this call cost (0 from cache).
	Datapoints int
	// FromCache: the rows come from the page cache, not from Dune.
	FromCache bool
	// SampleCount is set for sample_result: rows are a random sample.
	SampleCount int
	// Filters, SortBy echo the request so the rendering can say what applies.
	Filters string
	SortBy  string
	// Notes are extra one-line explanations (limit capped by Dune, partial
	// result, offset past the end, served from cache, ...).
	Notes []string
	// Views says which rendering carries the rows (see Views); the zero
	// value is ViewsBoth.
	Views Views
	// ResultBytes is Dune's size of the whole result in bytes
	// (total_result_set_bytes; 0: unknown), a free whole-result fact.
	ResultBytes int64
	// Now is the reference time for freshness ("2 h ago"); zero means
	// time.Now(). It changes the age phrase only: the rows shown, and all
	// that is cut, do not depend on it.
	Now time.Time
}

// Views says which part of a tool result carries the rows: MCP clients
// differ in what they forward to the model (tools/views.go keeps the table).
type Views uint8

const (
	// ViewsBoth: the text and Structured each carry the rows, each within
	// the budget (for a client whose choice is unknown).
	ViewsBoth Views = iota
	// ViewsText: the text carries the rows; Structured is a short object
	// (ids, counts, cursor, what was cut) with no rows or statistics.
	ViewsText
	// ViewsStructured: Structured carries the rows in Table, as the text's
	// table renders them (a client that forwards only structuredContent
	// shows the model its JSON, where CSV costs fewer tokens than JSON rows
	// and column objects); the text is a short summary with the cursor.
	ViewsStructured
)

// String is the name of v as --result-views spells it.
func (v Views) String() string {
	switch v {
	case ViewsText:
		return "text"
	case ViewsStructured:
		return "structured"
	}
	return "both"
}

// BudgetUse is a caller's cumulative use of a datapoint budget.
type BudgetUse struct {
	Spent int64 // datapoints spent so far, this call included
	Left  int64 // datapoints that may still be spent
	Limit int64 // the budget
}

// CursorFunc returns the opaque cursor that continues after the first
// shown rows of the page, or "" when nothing is left.
type CursorFunc func(shown int) string

// Output is a rendered page.
type Output struct {
	Text       string
	Structured *schemas.Structured
	ShownRows  int
	// TextTokens and StructuredTokens are o200k_base token counts (the latter
	// of json.Marshal(Structured)).
	TextTokens       int
	StructuredTokens int
	// StructuredJSON is json.Marshal(Structured), the bytes counted: a
	// transport sends them as they are instead of encoding Structured
	// again. It must not be modified, and is stale once Structured is.
	StructuredJSON []byte
	// RowTokens is the mean cost of a shown row (of the first row when none
	// is shown; 0 without rows) in the part that carries the rows (the
	// larger of the two under ViewsBoth). Callers size later fetches with it.
	RowTokens float64
}

// Summarize renders p within budget tokens: both Output.Text and the JSON
// encoding of Output.Structured have at most budget o200k_base tokens. The
// cursor function is called with the number of rows shown; nil means no
// cursor can be offered.
//
// Summarize is NewDraft followed by Render: a caller that may fetch more
// rows once it knows how many fit uses a Draft.
func Summarize(p Page, budget int, cursor CursorFunc) (Output, error) {
	d, err := NewDraft(p, budget)
	if err != nil {
		return Output{}, err
	}
	return d.Render(cursor)
}
