package emulator

import (
	"fmt"
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clip"
	"github.com/dune-mcp/dune-mcp/internal/emulator/filter"
)

// DefaultMaxPageSize is the emulator's default silent cap on limit.
const DefaultMaxPageSize = 30000

// badRequest is a request the emulator answers with 400 and this message.
type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

func badf(format string, args ...any) error { return &badRequest{msg: fmt.Sprintf(format, args...)} }

// request holds the post-processing parameters of one results request.
type request struct {
	limit, offset          int
	hasLimit, hasOffset    bool
	columns                []string
	columnsRaw             string // as received, carried into next_uri
	filters, sortBy        string
	sampleCount            int
	hasSample              bool
	allowPartial           bool
	ignoreCredits          bool
	ignoreCreditsParamName string
}

// parseRequest reads the post-processing parameters from a query string.
func parseRequest(q url.Values) (request, error) {
	var rq request
	intParam := func(name string, min int) (int, bool, error) {
		if !q.Has(name) {
			return 0, false, nil
		}
		s := strings.TrimSpace(q.Get(name))
		v, err := strconv.Atoi(s)
		if err != nil {
			return 0, false, badf("invalid %s %q: must be an integer", name, clipText(s))
		}
		if v < min {
			return 0, false, badf("invalid %s %d: must be at least %d", name, v, min)
		}
		return v, true, nil
	}
	boolParam := func(name string) (bool, error) {
		if !q.Has(name) || q.Get(name) == "" {
			return false, nil
		}
		v, err := strconv.ParseBool(q.Get(name))
		if err != nil {
			return false, badf("invalid %s %q: must be true or false", name, clipText(q.Get(name)))
		}
		return v, nil
	}
	var err error
	if rq.limit, rq.hasLimit, err = intParam("limit", 0); err != nil {
		return rq, err
	}
	if rq.offset, rq.hasOffset, err = intParam("offset", 0); err != nil {
		return rq, err
	}
	if rq.sampleCount, rq.hasSample, err = intParam("sample_count", 1); err != nil {
		return rq, err
	}
	rq.filters = q.Get("filters")
	rq.sortBy = q.Get("sort_by")
	if raw := q.Get("columns"); strings.TrimSpace(raw) != "" {
		rq.columnsRaw = raw
		if rq.columns, err = splitColumns(raw); err != nil {
			return rq, err
		}
	}
	if rq.allowPartial, err = boolParam("allow_partial_results"); err != nil {
		return rq, err
	}
	for _, name := range []string{"ignore_max_credits_per_request", "ignore_max_datapoints_per_request"} {
		v, err := boolParam(name)
		if err != nil {
			return rq, err
		}
		if v && !rq.ignoreCredits {
			rq.ignoreCredits, rq.ignoreCreditsParamName = true, name
		}
	}
	return rq, nil
}

// requestFromOptions converts client options to a request (zero values mean
// "not given", as the client sends them).
func requestFromOptions(o dune.Options) (request, error) {
	if o.Limit < 0 || o.Offset < 0 || o.SampleCount < 0 {
		return request{}, badf("limit, offset and sample_count must not be negative")
	}
	rq := request{
		limit: o.Limit, hasLimit: o.Limit > 0,
		offset: o.Offset, hasOffset: o.Offset > 0,
		sampleCount: o.SampleCount, hasSample: o.SampleCount > 0,
		filters: o.Filters, sortBy: o.SortBy,
		allowPartial:  o.AllowPartialResults,
		ignoreCredits: o.IgnoreMaxCreditsPerRequest,
	}
	if len(o.Columns) > 0 {
		rq.columns = o.Columns
		rq.columnsRaw = strings.Join(o.Columns, ",")
	}
	return rq, nil
}

// splitColumns splits a columns parameter on commas outside double quotes,
// trims spaces and strips optional surrounding double quotes ("" inside a
// quoted name stands for one quote).
func splitColumns(raw string) ([]string, error) {
	var out []string
	var cur strings.Builder
	inQuote := false
	flush := func() error {
		name := strings.TrimSpace(cur.String())
		cur.Reset()
		if len(name) >= 2 && name[0] == '"' && name[len(name)-1] == '"' {
			name = strings.ReplaceAll(name[1:len(name)-1], `""`, `"`)
		}
		if name == "" {
			return badf("invalid columns %q: empty column name", clipText(raw))
		}
		out = append(out, name)
		return nil
	}
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '"':
			inQuote = !inQuote
			cur.WriteByte(c)
		case c == ',' && !inQuote:
			if err := flush(); err != nil {
				return nil, err
			}
		default:
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return nil, badf("invalid columns %q: unterminated double quote", clipText(raw))
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return out, nil
}

func clipText(s string) string { return clip.Bytes(s, 80+len(clip.Mark)) }

// plan is what a request selects from a dataset.
type plan struct {
	cols     []int   // selected column indices, output order
	order    []int32 // matching row indices in output order; nil = identity
	total    int     // total_row_count: matching rows (full count when sampling)
	page     []int32 // rows of this response (when order is nil and not sampled: nil, use start/end)
	start    int     // first position in order of this page
	end      int     // one past the last position
	sampled  bool
	effLimit int
}

// rowIndex returns the dataset row index of page position k (start <= k < end).
func (p *plan) rowIndex(k int) int {
	if p.sampled {
		return int(p.page[k])
	}
	if p.order == nil {
		return k
	}
	return int(p.order[k])
}

// positions returns the loop bounds over the page.
func (p *plan) positions() (int, int) {
	if p.sampled {
		return 0, len(p.page)
	}
	return p.start, p.end
}

// hasNext reports whether rows remain after this page.
func (p *plan) hasNext() bool { return !p.sampled && p.end < p.total }

// orderCache memoises filter+sort orders per dataset, so paging through a
// sorted or filtered result does not sort once per page, and computes each
// order once: requests that want an order already being computed wait for
// it instead of sorting the same rows again (many agents opening the same
// sorted view at once would otherwise sort 100,000 rows once each).
type orderCache struct {
	mu      sync.Mutex
	entries []*orderEntry // most recent last
	// joined, when set (tests), is called each time a request waits for an
	// order another request is computing.
	joined func()
}

// orderEntry is one order, ready once done is closed; ok is false if its
// computation did not finish (the waiters then compute it themselves).
type orderEntry struct {
	ds              *Dataset
	filters, sortBy string
	done            chan struct{}
	order           []int32
	ok              bool
}

const orderCacheSize = 8

// do returns the order of (ds, filters, sortBy), from the cache, from the
// request already computing it, or by calling compute (once).
func (c *orderCache) do(ds *Dataset, filters, sortBy string, compute func() []int32) []int32 {
	if c == nil {
		return compute()
	}
	c.mu.Lock()
	for i, e := range c.entries {
		if e.ds == ds && e.filters == filters && e.sortBy == sortBy {
			c.entries = append(append(c.entries[:i:i], c.entries[i+1:]...), e)
			joined := c.joined
			c.mu.Unlock()
			select {
			case <-e.done:
			default:
				if joined != nil {
					joined()
				}
				<-e.done
			}
			if !e.ok {
				return compute()
			}
			return e.order
		}
	}
	e := &orderEntry{ds: ds, filters: filters, sortBy: sortBy, done: make(chan struct{})}
	c.entries = append(c.entries, e)
	if len(c.entries) > orderCacheSize {
		c.entries = slices.Delete(c.entries, 0, 1)
	}
	c.mu.Unlock()
	defer func() {
		if !e.ok { // compute panicked: forget the entry, release the waiters
			c.mu.Lock()
			if i := slices.Index(c.entries, e); i >= 0 {
				c.entries = slices.Delete(c.entries, i, i+1)
			}
			c.mu.Unlock()
		}
		close(e.done)
	}()
	e.order = compute()
	e.ok = true
	return e.order
}

// evaluate applies rq to ds. rng is used only for sample_count.
func evaluate(ds *Dataset, rq request, maxPage int, rng *rand.Rand, cache *orderCache) (*plan, error) {
	if rq.hasSample && (rq.hasLimit || rq.hasOffset || rq.filters != "") {
		return nil, badf("sample_count cannot be combined with limit, offset or filters")
	}
	if maxPage <= 0 {
		maxPage = DefaultMaxPageSize
	}
	p := &plan{}
	var err error
	if p.cols, err = resolveColumns(ds.Columns, rq.columns); err != nil {
		return nil, err
	}
	order, err := orderRows(ds, rq.filters, rq.sortBy, cache)
	if err != nil {
		return nil, err
	}
	p.order = order
	p.total = ds.Len()
	if order != nil {
		p.total = len(order)
	}
	if rq.hasSample {
		p.sampled = true
		n := ds.Len()
		prob := float64(rq.sampleCount) / float64(max(n, 1))
		for k := 0; k < n; k++ {
			if prob >= 1 || rng.Float64() < prob {
				idx := int32(k)
				if order != nil {
					idx = order[k]
				}
				p.page = append(p.page, idx)
			}
		}
		p.end = len(p.page)
		return p, nil
	}
	p.effLimit = maxPage
	if rq.limit > 0 && rq.limit < maxPage {
		p.effLimit = rq.limit
	}
	p.start = min(rq.offset, p.total)
	p.end = p.start + min(p.effLimit, p.total-p.start) // no overflow with maxPage = math.MaxInt
	return p, nil
}

// resolveColumns maps requested names to column indices (all columns when
// names is empty). Unknown and duplicate names are 400s.
func resolveColumns(cols []dune.Column, names []string) ([]int, error) {
	if len(names) == 0 {
		out := make([]int, len(cols))
		for i := range out {
			out[i] = i
		}
		return out, nil
	}
	out := make([]int, 0, len(names))
	for _, n := range names {
		j := slices.IndexFunc(cols, func(c dune.Column) bool { return c.Name == n })
		if j < 0 {
			return nil, badf("columns: unknown column %q; available: %s", clipText(n), columnList(cols))
		}
		if slices.Contains(out, j) {
			return nil, badf("columns: column %q requested twice", clipText(n))
		}
		out = append(out, j)
	}
	return out, nil
}

// columnList names up to 20 columns for an error message.
func columnList(cols []dune.Column) string {
	names := make([]string, 0, 21)
	for k, c := range cols {
		if k == 20 {
			names = append(names, fmt.Sprintf("… (%d more)", len(cols)-20))
			break
		}
		names = append(names, c.Name)
	}
	return strings.Join(names, ", ")
}

// orderRows returns the indices of the rows matching filters, in sort_by
// order (stable), or nil when neither is given.
func orderRows(ds *Dataset, filters, sortBy string, cache *orderCache) ([]int32, error) {
	if strings.TrimSpace(filters) == "" && strings.TrimSpace(sortBy) == "" {
		return nil, nil
	}
	var f *filter.Filter
	var s *filter.Sort
	var err error
	if strings.TrimSpace(filters) != "" {
		if f, err = filter.Parse(filters, ds.Columns); err != nil {
			return nil, filterError(err)
		}
	}
	if strings.TrimSpace(sortBy) != "" {
		if s, err = filter.ParseSort(sortBy, ds.Columns); err != nil {
			return nil, filterError(err)
		}
	}
	return cache.do(ds, filters, sortBy, func() []int32 {
		n := ds.Len()
		order := make([]int32, 0, n)
		var want []bool
		if f != nil {
			want = ds.wantCols(f.Columns())
		}
		var buf dune.Row
		for i := 0; i < n; i++ {
			if f == nil {
				order = append(order, int32(i))
				continue
			}
			if buf = ds.rowColsInto(i, want, buf); f.Match(buf) {
				order = append(order, int32(i))
			}
		}
		if s != nil {
			sortOrder(ds, s, order)
		}
		return order
	}), nil
}

// filterError turns a parser error (*filter.SyntaxError or *filter.Error,
// whose text names the parameter and the position) into a 400.
func filterError(err error) error { return &badRequest{msg: err.Error()} }

// sortOrder sorts order (ascending row indices) by s, stably. Each row's
// sort values are read once, typed, as it is generated (only the sort
// columns are filled), and only they are kept; the sort then compares
// those, never the cells.
func sortOrder(ds *Dataset, s *filter.Sort, order []int32) {
	var cols []int
	for _, k := range s.Keys() {
		cols = append(cols, k.Index)
	}
	want := ds.wantCols(cols)
	keys := s.NewSortKeys(len(order))
	perm := make([]int32, len(order))
	var buf dune.Row
	for k, idx := range order {
		buf = ds.rowColsInto(int(idx), want, buf)
		keys.Set(k, buf)
		perm[k] = int32(k)
	}
	keys.Sort(perm) // ties keep their position in order: the stored order
	rows := slices.Clone(order)
	for k, p := range perm {
		order[k] = rows[p]
	}
}

// Evaluate is the emulator's ground truth: the columns and rows the server
// answers for opts on ds (after filters, sort_by, columns, offset and the
// limit capped at maxPage, DefaultMaxPageSize when maxPage <= 0), and
// total, the number of rows matching the filters (the full row count when
// sampling). A sample_count sample uses a fixed seed, so it matches the
// server's only in its distribution. Errors are the 400s the server would
// return; QueryParameters and AllowPartialResults are ignored here.
func Evaluate(ds *Dataset, opts dune.Options, maxPage int) (cols []dune.Column, rows []dune.Row, total int, err error) {
	rq, err := requestFromOptions(opts)
	if err != nil {
		return nil, nil, 0, err
	}
	p, err := evaluate(ds, rq, maxPage, rand.New(rand.NewPCG(0, 0)), nil)
	if err != nil {
		return nil, nil, 0, err
	}
	cols = make([]dune.Column, len(p.cols))
	for k, j := range p.cols {
		cols[k] = ds.Columns[j]
	}
	lo, hi := p.positions()
	rows = make([]dune.Row, 0, hi-lo)
	want := ds.wantCols(p.cols)
	for k := lo; k < hi; k++ {
		src := ds.rowCols(p.rowIndex(k), want)
		r := make(dune.Row, len(p.cols))
		for c, j := range p.cols {
			r[c] = src[j]
		}
		rows = append(rows, r)
	}
	return cols, rows, p.total, nil
}
