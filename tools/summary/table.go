package summary

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"

	"github.com/dune-mcp/dune-mcp/schemas"
)

// Under ViewsStructured the client forwards only structuredContent, as
// JSON, to the model. Rows as JSON arrays of the values Dune sent, and
// columns as [{name, type}] objects, cost more tokens than plain CSV of the
// same rows: about 11 tokens a column against 3–4 in a CSV header, and a
// quote pair around every string. So Structured carries the rows as the
// text's table renders them (types, statistics, CSV with the text's savings:
// columns with one value given once, the common part of timestamps left
// out, NULL empty), in Structured.Table, and the text content is a short
// summary (the brief text). The table gets the room Structured's other
// fields leave (frame.reserve); the JSON string adds an escape to each
// newline and quote, which the final count of the encoding checks.

// tableFieldTokens is what the table's field name and quotes add to
// Structured's encoding, on top of the table's own tokens; counted when
// first needed, not at start-up (the codec loads on first use).
var tableFieldTokens = sync.OnceValue(func() int { return CountTokens(`,"table":""`) })

// tableReserve is the tokens Structured of ViewsStructured takes besides
// its table: its encoding without a table, with no row shown (which lists
// every fetched row as not returned, the longest omitted), and the table's
// field.
func (s *structView) tableReserve(minimal bool) (int, error) {
	st := s.renderTable(structLayout{table: true, minimal: minimal}, 0, tableOf{cut: true, noStats: minimal})
	js, err := json.Marshal(st)
	if err != nil {
		return 0, fmt.Errorf("summary: encoding structured content: %w", err)
	}
	return CountTokens(string(js)) + tableFieldTokens(), nil
}

// reserve is the room the text of layout l leaves for the rest of
// Structured: its other fields when l is the table Structured carries,
// else nothing.
func (t *textView) reserve(l textLayout) int {
	if !l.table {
		return 0
	}
	return t.f.reserve[b2i(l.compact)]
}

// tableOut renders Structured of ViewsStructured with text layout l (the
// table) and n rows, and encodes it. Its token count is added up from the
// count of the encoding without the table and the table's count (from its
// parts, textView.count), unless exact asks for the encoding's own count.
func (d *Draft) tableOut(l textLayout, n int, exact bool) (*schemas.Structured, []byte, int, error) {
	t, s, f := d.text, d.st, &d.f
	table := t.render(l, n)
	tb := tableOf{text: table}
	for i := range n {
		tb.cells += t.rowCut[i]
	}
	C := len(f.cols)
	statsCut := f.fetched > 0 && C > 0 && (!f.statsKnown || l.statsN < len(f.stats))
	tb.cut = tb.cells > 0 || !l.typesOnly && l.schemaN < C || statsCut
	tb.noStats = t.statsLineLeftOut(l)
	st := s.renderTable(structLayout{table: true, minimal: l.compact}, n, tb)
	js, err := json.Marshal(st)
	if err != nil {
		return nil, nil, 0, fmt.Errorf("summary: encoding structured content: %w", err)
	}
	if exact || table == "" {
		return st, js, countLarge(string(js)), nil
	}
	st.Table = ""
	bare, err := json.Marshal(st)
	st.Table = table
	if err != nil {
		return nil, nil, 0, fmt.Errorf("summary: encoding structured content: %w", err)
	}
	return st, js, CountTokens(string(bare)) + tableFieldTokens() + t.count(l, n) + escapeAllowance(table), nil
}

// escapeAllowance bounds what escaping table as a JSON string adds to its
// count: each newline becomes \n and each quote \", which o200k mostly
// splits as before (measured on the demo datasets: 0–4 tokens a table
// without quotes, about half a token a quote).
func escapeAllowance(table string) int {
	return 2 + strings.Count(table, "\n")/8 + (2*strings.Count(table, `"`)+2)/3
}

// renderTable is render under ViewsStructured: Structured carries the
// rows in its table, within the budget, and the text is brief. Rows are
// added while the sum of parts says they fit (as grow does), then the
// final encoding is counted once; if that count is over the budget, the
// layout is trimmed counting each encoding whole.
func (d *Draft) renderTable() (Output, error) {
	pl, err := d.plan()
	if err != nil {
		return Output{}, err
	}
	t, f := d.text, &d.f
	budget := f.budget
	tl, n := pl.tl, pl.n
	exact := false
	for {
		if tl.typesOnly && n == 0 {
			// No row left to name the columns: list them in full.
			tl.typesOnly, tl.schemaN = false, len(f.cols)
		}
		st, js, tok, err := d.tableOut(tl, n, exact)
		if err != nil {
			return Output{}, err
		}
		if c := sized(js, tok); c > budget {
			// Statistics only get the room rows leave: they go first.
			if tl.statsN > 0 {
				tl.statsN = dropFromEnd(tl.statsN, c-budget, t.statCost)
				continue
			}
			if t.shrink(&tl, &n, c-budget) {
				continue
			}
			return Output{}, fmt.Errorf("%w: %d tokens needed, budget %d", ErrBudgetTooSmall, c, budget)
		}
		if !f.statsKnown && f.fetched > 0 {
			// The rows leave room no further row fits in: statistics may.
			if room := budget - sized(js, tok); room >= max(100, budget/10) {
				if pl, err = d.withStats(); err != nil {
					return Output{}, err
				}
				tl, n = pl.tl, pl.n
				continue
			}
		}
		for range growTries {
			if n >= f.constN || budget-tok < t.rowCost(n) {
				break
			}
			st2, js2, tok2, err := d.tableOut(tl, n+1, exact)
			if err != nil || sized(js2, tok2) > budget {
				break
			}
			st, js, tok, n = st2, js2, tok2, n+1
		}
		if !exact {
			// The one count of the final encoding.
			exact = true
			if tok = countLarge(string(js)); tok > budget {
				continue
			}
		}
		text, tt := d.briefText(tl.compact, n)
		return Output{Text: text, Structured: st, StructuredJSON: js, ShownRows: n,
			TextTokens: tt, StructuredTokens: tok, RowTokens: d.meanRowTokens(n)}, nil
	}
}

// briefText is the text content under ViewsStructured: provenance, counts,
// where the n rows are, what was cut and the cursor, within the budget.
func (d *Draft) briefText(compact bool, n int) (string, int) {
	t, budget := d.text, d.f.budget
	l := textLayout{brief: true, compact: compact}
	text := t.render(l, n)
	tt := CountTokens(text)
	if sized(text, tt) > budget && !compact {
		l.compact = true
		text = t.render(l, n)
		tt = CountTokens(text)
	}
	if sized(text, tt) > budget {
		text = t.hardCut(l, n)
		tt = CountTokens(text)
	}
	return t.withAge(text, l.compact, tt)
}
