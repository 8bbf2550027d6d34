package tools

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// Sizing the first fetch of get_latest_result. How many rows fit a budget
// depends on the row width, which Dune only reveals with the rows. The
// toolset remembers, per query (and query parameters), the columns of the
// results it served and the measured cost of their rows, so that every call
// after the first sizes its fetch from what the query's rows really cost:
// measured when the same columns were shown before, estimated from the
// column types otherwise (e.g. after narrowing with columns=[…]). Only the
// very first call on a query, without columns, has to guess.
const (
	// maxFetch is Dune's usual silent page cap; asking for more is pointless.
	maxFetch = 30000
	// assumedRowTokens is the guess for a row of unknown width (≈ 20 columns).
	assumedRowTokens = 200
	// tokensPerColumn is the guess per cell when only the column count is known.
	tokensPerColumn = 12
	// minProbe, maxProbe bound the first fetch of get_latest_result.
	minProbe, maxProbe = 5, 1000
	// walkFactor: next_page fetches this many pages' worth of rows at once.
	walkFactor = 3
	// memoEntries bounds each map of the shape memo.
	memoEntries = 1024
)

// cellTokens is the typical cost (o200k_base, structuredContent JSON,
// separator included) of one cell of a Dune type, measured on the demo
// datasets: addresses and hashes are long hex strings, timestamps carry
// milliseconds and a zone.
func cellTokens(typ string) float64 {
	t := strings.ToLower(strings.TrimSpace(typ))
	if i := strings.IndexAny(t, "( "); i >= 0 {
		t = t[:i]
	}
	switch t {
	case "boolean", "bool":
		return 1.5
	case "bigint", "integer", "int", "smallint", "tinyint":
		return 3.5
	case "double", "real", "float", "decimal", "numeric":
		return 7.5
	case "uint256", "int256":
		return 10.5
	case "date":
		return 14
	case "timestamp":
		return 16
	case "varbinary":
		return 25
	case "varchar", "char", "string":
		return 6
	case "array", "map", "row", "json":
		return 24
	}
	return tokensPerColumn
}

// shapeMemo remembers what rows of a query cost. Keys: queryKey (query id
// and parameters) for the columns of the unprojected result, and queryKey +
// projection for the measured tokens per row.
//
// The memo is shared by every caller, whatever their Dune API key: it holds
// column names and types and a token cost per row, never a row value, and
// it only sizes the next fetch, which Dune answers (or refuses) for the
// caller's own key. None of its values is shown in a result.
type shapeMemo struct {
	mu      sync.Mutex
	columns map[string]queryShape
	rowTok  map[string]float64
}

// queryShape is the column list of a query's result and how its measured
// rows compare with their type-based estimate (applied to estimates of
// other projections).
type queryShape struct {
	cols  []dune.Column
	scale float64
}

func newShapeMemo() *shapeMemo {
	return &shapeMemo{columns: map[string]queryShape{}, rowTok: map[string]float64{}}
}

// queryKey identifies the results of a query run with params.
func queryKey(queryID int64, params map[string]string) string {
	var b strings.Builder
	b.WriteString(strconv.FormatInt(queryID, 10))
	keys := make([]string, 0, len(params))
	for k := range params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		b.WriteString("\x1f" + k + "=" + params[k])
	}
	return b.String()
}

func projectionKey(qk string, columns []string) string {
	return qk + "\x1e" + strings.Join(columns, "\x1f")
}

// record notes the columns of a result of query qk (when it was not
// projected) and the measured cost of its rows under that projection.
func (m *shapeMemo) record(qk string, projection []string, cols []dune.Column, rowTokens float64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if len(projection) == 0 && len(cols) > 0 {
		scale := 1.0
		if rowTokens > 0 {
			scale = min(max(rowTokens/typedRowTokens(cols), 0.5), 2)
		}
		bounded(m.columns)[qk] = queryShape{cols: slices.Clone(cols), scale: scale}
	}
	if rowTokens > 0 {
		bounded(m.rowTok)[projectionKey(qk, projection)] = rowTokens
	}
}

// bounded makes room for one more entry by dropping an arbitrary one when
// the map is full (the memo is a hint; losing an entry costs one guess).
func bounded[V any](m map[string]V) map[string]V {
	if len(m) >= memoEntries {
		for k := range m {
			delete(m, k)
			break
		}
	}
	return m
}

// rowEstimate is the expected cost of a row and how sure it is.
type rowEstimate struct {
	tokens float64
	ncols  int
	how    estimateKind
}

// estimate returns the expected cost of a row of query qk under projection:
// measured before, from the column types, from the column count, or a guess.
func (m *shapeMemo) estimate(qk string, projection []string) rowEstimate {
	m.mu.Lock()
	defer m.mu.Unlock()
	shape := m.columns[qk]
	cols := shape.cols
	if t, ok := m.rowTok[projectionKey(qk, projection)]; ok {
		n := len(projection)
		if n == 0 {
			n = len(cols)
		}
		return rowEstimate{t, n, measured}
	}
	if len(projection) == 0 {
		if len(cols) == 0 {
			return rowEstimate{assumedRowTokens, 0, guessed}
		}
		return rowEstimate{typedRowTokens(cols), len(cols), typed}
	}
	byName := make(map[string]string, len(cols))
	for _, c := range cols {
		byName[c.Name] = c.Type
	}
	sum, known := 2.0, 0
	for _, name := range projection {
		if typ, ok := byName[name]; ok {
			sum += cellTokens(typ)
			known++
		} else {
			sum += tokensPerColumn
		}
	}
	if known == len(projection) {
		return rowEstimate{sum * shape.scale, len(projection), typed}
	}
	return rowEstimate{tokensPerColumn*float64(len(projection)) + 4, len(projection), counted}
}

func typedRowTokens(cols []dune.Column) float64 {
	sum := 2.0
	for _, c := range cols {
		sum += cellTokens(c.Type)
	}
	return sum
}

type estimateKind int

const (
	guessed  estimateKind = iota // nothing known about the rows
	counted                      // the column count only
	typed                        // the column types
	measured                     // the same rows were rendered before
)

// probeSize is the first fetch of a get_latest_result page: the rows
// expected to fit budget, plus a margin that shrinks with how well the row
// cost is known (rows fetched but not shown are cached for next_page;
// too few would cost a second request).
func probeSize(budget int, e rowEstimate) int {
	if e.how == guessed {
		// Nothing known (the query's first call without columns): the
		// historical guess, about 40 rows of ~20 columns at 8,000 tokens.
		n := int(float64(budget) * 0.85 / assumedRowTokens * 1.25)
		return min(max(n, minProbe), maxProbe)
	}
	fits := summary.RowsThatFit(budget, e.tokens, e.ncols)
	margin, floor := 1.25, minProbe
	switch e.how {
	case measured:
		margin, floor = 1.1, 1
	case typed: // a table's types, not its values: text lengths vary
		margin, floor = 1.4, 1
	}
	n := int(math.Ceil(fits*margin)) + 1
	return min(max(n, floor), maxProbe)
}
