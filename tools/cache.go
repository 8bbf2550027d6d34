package tools

import (
	"container/list"
	"encoding/json"
	"strings"
	"sync"

	"github.com/dune-mcp/dune-mcp/dune"
)

// defaultCacheBytes bounds the page cache when Config.CacheBytes is 0.
const defaultCacheBytes = 64 << 20

// view is what identifies a row sequence of an execution: the same execution
// with the same columns, filters, sort and partial flag always yields the
// same rows (results of an execution id never change). KeyFP is the
// fingerprint of the Dune API key the rows were fetched with: cached rows
// are served only to callers with that same key, since Dune checked that
// key, not theirs.
type view struct {
	ExecutionID string
	Columns     []string
	Filters     string
	SortBy      string
	Partial     bool
	KeyFP       keyFP
}

// newView is the view of an execution's rows that o selects (its columns,
// filters, sort and partial flag; paging and query parameters are not part
// of a view), for the caller whose key has fingerprint fp.
func newView(executionID string, o dune.Options, fp keyFP) view {
	return view{ExecutionID: executionID, Columns: o.Columns, Filters: o.Filters, SortBy: o.SortBy, Partial: o.AllowPartialResults, KeyFP: fp}
}

// options are the Dune options that fetch rows [offset, offset+limit) of v.
func (v view) options(offset, limit int) dune.Options {
	return dune.Options{
		Offset:              offset,
		Limit:               limit,
		Columns:             v.Columns,
		Filters:             v.Filters,
		SortBy:              v.SortBy,
		AllowPartialResults: v.Partial,
	}
}

func (v view) key(start int) pageKey {
	return pageKey{
		fp:     v.KeyFP,
		exec:   v.ExecutionID,
		params: strings.Join(v.Columns, "\x1f") + "\x1e" + v.Filters + "\x1e" + v.SortBy + "\x1e" + boolStr(v.Partial),
		start:  start,
	}
}

func boolStr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// pageKey locates a cached chunk: view (key fingerprint included) + first row.
type pageKey struct {
	fp     keyFP
	exec   string
	params string
	start  int
}

// chunk is a run of consecutive rows of a view, Rows[0] being row Start.
type chunk struct {
	// head is the answer the rows came from, without its rows: ids, state,
	// times and columns.
	head  *dune.Result
	Total int
	Start int
	Rows  []dune.Row
}

// pageCache is a byte-bounded LRU of chunks, weighted by the estimated
// bytes of their rows.
//
// Plain recency is the right policy here, and why otter (W-TinyLFU) is not
// used: a chunk is typically written once and read once soon after (the rows
// fetched but not yet shown, read by the next next_page). TinyLFU's admission
// filter rejects exactly such fresh one-hit entries in favour of stale ones;
// in a 100,000-row walk that caused refetches that recency never causes.
type pageCache struct {
	mu    sync.Mutex
	max   int64
	used  int64
	order *list.List // of *cacheEntry, most recently used first
	items map[pageKey]*list.Element
}

type cacheEntry struct {
	key    pageKey
	ch     *chunk
	weight int64
}

func newPageCache(maxBytes int64) *pageCache {
	if maxBytes <= 0 {
		maxBytes = defaultCacheBytes
	}
	return &pageCache{max: maxBytes, order: list.New(), items: map[pageKey]*list.Element{}}
}

// get returns the cached chunk starting at row start of v, if any.
func (p *pageCache) get(v view, start int) (*chunk, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	el, ok := p.items[v.key(start)]
	if !ok {
		return nil, false
	}
	p.order.MoveToFront(el)
	return el.Value.(*cacheEntry).ch, true
}

// put stores ch (non-empty) under its view and start row, replacing what
// was there, and evicts the least recently used chunks beyond the bound.
func (p *pageCache) put(v view, ch *chunk) { p.putWeighed(v, ch, weighRows(ch.Rows)) }

// putWeighed is put of a chunk whose rows weigh rowsWeight (weighRows).
func (p *pageCache) putWeighed(v view, ch *chunk, rowsWeight int64) {
	if len(ch.Rows) == 0 {
		return
	}
	k := v.key(ch.Start)
	w := rowsWeight + int64(len(k.exec)+len(k.params)+128)
	if w > p.max {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if el, ok := p.items[k]; ok {
		e := el.Value.(*cacheEntry)
		p.used += w - e.weight
		e.ch, e.weight = ch, w
		p.order.MoveToFront(el)
	} else {
		p.items[k] = p.order.PushFront(&cacheEntry{key: k, ch: ch, weight: w})
		p.used += w
	}
	for p.used > p.max {
		el := p.order.Back()
		e := el.Value.(*cacheEntry)
		p.order.Remove(el)
		delete(p.items, e.key)
		p.used -= e.weight
	}
}

// collect stitches the cached rows of v from row offset on, segment after
// segment, until it has need rows or reaches the end of the result. It
// returns nil when no segment starts at offset. The chunk carries the
// result's metadata; its rows are shared with the cache when one segment
// suffices, and copied otherwise.
func (p *pageCache) collect(v view, offset, need int) *chunk {
	return collectFrom(func(start int) (*chunk, bool) { return p.get(v, start) }, offset, need)
}

// collectFrom is collect over the segments get finds by their first row.
func collectFrom(get func(start int) (*chunk, bool), offset, need int) *chunk {
	var out *chunk
	owned := false // out.Rows is a copy this call may append to
	for out == nil || len(out.Rows) < need && !out.atEnd() {
		seg, ok := get(offset + lenRows(out))
		switch {
		case !ok:
			return out
		case out == nil:
			c := *seg
			out = &c
		case !owned:
			rows := make([]dune.Row, 0, 2*(len(out.Rows)+len(seg.Rows)))
			out.Rows, owned = append(append(rows, out.Rows...), seg.Rows...), true
		default:
			out.Rows = append(out.Rows, seg.Rows...)
		}
	}
	return out
}

// lenRows is the number of rows of ch, 0 for nil.
func lenRows(ch *chunk) int {
	if ch == nil {
		return 0
	}
	return len(ch.Rows)
}

// atEnd reports whether ch's rows reach the last row of the result.
func (ch *chunk) atEnd() bool { return ch.Start+len(ch.Rows) >= ch.Total }

// size returns the number of chunks and their total weight.
func (p *pageCache) size() (int, int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.items), p.used
}

// slice returns rows [from, to) of ch as a chunk sharing its backing array.
func (ch *chunk) slice(from, to int) *chunk {
	c := *ch
	c.Rows = ch.Rows[from-ch.Start : to-ch.Start : to-ch.Start]
	c.Start = from
	return &c
}

// weighRows estimates the bytes held by rows.
func weighRows(rows []dune.Row) int64 {
	var total int64
	for _, r := range rows {
		total += weighRow(r)
	}
	return total
}

func weighRow(r dune.Row) int64 {
	total := 24 + 16*int64(len(r))
	for _, v := range r {
		total += int64(weighValue(v))
	}
	return total
}

// weighPrefix returns the weights of rows' prefixes: w[i] is
// weighRows(rows[:i]), for i up to len(rows).
func weighPrefix(rows []dune.Row) []int64 {
	w := make([]int64, len(rows)+1)
	for i, r := range rows {
		w[i+1] = w[i] + weighRow(r)
	}
	return w
}

func weighValue(v any) int {
	switch x := v.(type) {
	case string:
		return len(x)
	case json.Number:
		return len(x)
	case []any:
		n := 24
		for _, e := range x {
			n += 16 + weighValue(e)
		}
		return n
	case map[string]any:
		n := 48
		for k, e := range x {
			n += 32 + len(k) + weighValue(e)
		}
		return n
	default:
		return 8
	}
}
