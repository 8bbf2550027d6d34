package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/later"
	"github.com/dune-mcp/dune-mcp/schemas"
)

func rowsOf(n, width int) []dune.Row {
	rows := make([]dune.Row, n)
	for i := range rows {
		r := make(dune.Row, width)
		for j := range r {
			r[j] = fmt.Sprintf("%08d", i*width+j)
		}
		rows[i] = r
	}
	return rows
}

func TestPageCacheLRU(t *testing.T) {
	v := view{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1", Columns: []string{"a"}}
	one := weighRows(rowsOf(10, 4)) + int64(len(v.key(0).exec)+len(v.key(0).params)+128)
	c := newPageCache(3 * one) // room for three chunks
	for i := range 3 {
		c.put(v, &chunk{Start: i * 10, Rows: rowsOf(10, 4), Total: 100})
	}
	if n, used := c.size(); n != 3 || used != 3*one {
		t.Fatalf("size = %d chunks, %d bytes; want 3, %d", n, used, 3*one)
	}
	if _, ok := c.get(v, 0); !ok { // 0 becomes the most recent
		t.Fatal("chunk 0 missing")
	}
	c.put(v, &chunk{Start: 30, Rows: rowsOf(10, 4), Total: 100}) // evicts 10, the least recent
	if _, ok := c.get(v, 10); ok {
		t.Error("least recently used chunk 10 survived")
	}
	for _, start := range []int{0, 20, 30} {
		if _, ok := c.get(v, start); !ok {
			t.Errorf("chunk %d evicted", start)
		}
	}
	// Replacing a key re-weighs it instead of adding.
	c.put(v, &chunk{Start: 30, Rows: rowsOf(5, 4), Total: 100})
	if n, used := c.size(); n != 3 || used >= 3*one {
		t.Errorf("after replace: %d chunks, %d bytes", n, used)
	}
	// Other views, other keys.
	if _, ok := c.get(view{ExecutionID: v.ExecutionID, Columns: []string{"b"}}, 0); ok {
		t.Error("a chunk of columns [a] served for columns [b]")
	}
	if _, ok := c.get(view{ExecutionID: v.ExecutionID, Columns: []string{"a"}, Partial: true}, 0); ok {
		t.Error("a non-partial chunk served for allow_partial_results")
	}
	// A chunk larger than the whole cache is not stored (and evicts nothing).
	c.put(v, &chunk{Start: 50, Rows: rowsOf(100, 4), Total: 200})
	if _, ok := c.get(v, 50); ok {
		t.Error("oversized chunk stored")
	}
	if n, _ := c.size(); n != 3 {
		t.Errorf("oversized put evicted entries: %d left", n)
	}
	// Empty chunks are not stored.
	c.put(v, &chunk{Start: 60, Total: 100})
	if _, ok := c.get(v, 60); ok {
		t.Error("empty chunk stored")
	}
}

func TestViewKeysDoNotCollide(t *testing.T) {
	base := view{ExecutionID: "e", Columns: []string{"a", "b"}, Filters: "x = 1", SortBy: "a"}
	variants := []view{
		{ExecutionID: "e", Columns: []string{"a,b"}, Filters: "x = 1", SortBy: "a"},
		{ExecutionID: "e", Columns: []string{"a", "b"}, Filters: "x = 1", SortBy: "a desc"},
		{ExecutionID: "e", Columns: []string{"a", "b"}, Filters: "x = 2", SortBy: "a"},
		{ExecutionID: "f", Columns: []string{"a", "b"}, Filters: "x = 1", SortBy: "a"},
		{ExecutionID: "e", Columns: []string{"a", "b"}, Filters: "x = 1", SortBy: "a", Partial: true},
		{ExecutionID: "e", Columns: []string{"a", "b"}, Filters: "x = 1", SortBy: "a", KeyFP: keyFP{1}}, // another Dune key
	}
	for _, v := range variants {
		if v.key(0) == base.key(0) {
			t.Errorf("%+v collides with %+v", v, base)
		}
	}
	if base.key(0) == base.key(1) {
		t.Error("start offset not in the key")
	}
}

func TestChunkSliceSharesAndCaps(t *testing.T) {
	ch := &chunk{Start: 100, Rows: rowsOf(10, 1), Total: 500}
	s := ch.slice(103, 107)
	if s.Start != 103 || len(s.Rows) != 4 || s.Rows[0][0] != ch.Rows[3][0] {
		t.Fatalf("slice = start %d, %d rows", s.Start, len(s.Rows))
	}
	// Appending to a slice must not overwrite the parent's next rows.
	_ = append(s.Rows, dune.Row{"x"})
	if ch.Rows[7][0] == "x" {
		t.Error("append through a slice overwrote the parent chunk")
	}
}

func TestWeighRows(t *testing.T) {
	small := weighRows([]dune.Row{{"a", json.Number("1"), nil}})
	big := weighRows([]dune.Row{{string(make([]byte, 1000)), json.Number("1"), nil}})
	nested := weighRows([]dune.Row{{[]any{"a", "b"}, map[string]any{"k": "v"}}})
	if small <= 0 || big < small+999 || nested <= small {
		t.Errorf("weights small %d big %d nested %d", small, big, nested)
	}
}

func TestPageCacheCollectStitchesSegments(t *testing.T) {
	v := view{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1"}
	all := rowsOf(25, 2)
	c := newPageCache(1 << 20)
	for _, seg := range [][2]int{{0, 10}, {10, 20}, {20, 25}} {
		c.put(v, &chunk{head: &dune.Result{QueryID: 7}, Start: seg[0], Rows: all[seg[0]:seg[1]:seg[1]], Total: 25})
	}
	rowText := func(rows []dune.Row) string { return fmt.Sprint(rows) }

	// Enough rows: stops after the segment that reaches need.
	got := c.collect(v, 0, 15)
	if got == nil || got.Start != 0 || got.head.QueryID != 7 || got.Total != 25 || rowText(got.Rows) != rowText(all[:20]) {
		t.Fatalf("collect(0, 15) = %+v", got)
	}
	// Asking past the end: every segment up to the last row, and atEnd.
	got = c.collect(v, 10, 100)
	if got == nil || got.Start != 10 || !got.atEnd() || rowText(got.Rows) != rowText(all[10:]) {
		t.Fatalf("collect(10, 100) = %+v", got)
	}
	// No segment starts at 5.
	if got := c.collect(v, 5, 1); got != nil {
		t.Errorf("collect(5, 1) = %+v, want nil", got)
	}
	// Another view misses.
	if got := c.collect(view{ExecutionID: v.ExecutionID, SortBy: "a"}, 0, 1); got != nil {
		t.Errorf("collect for another view = %+v, want nil", got)
	}
	// Stitching never writes into the cached segments.
	got = c.collect(v, 0, 25)
	got.Rows = append(got.Rows, dune.Row{"x", "y"})
	if seg, _ := c.get(v, 20); len(seg.Rows) != 5 || rowText(seg.Rows) != rowText(all[20:]) {
		t.Errorf("cached segment changed: %v", seg.Rows)
	}
	if rowText(all) != rowText(rowsOf(25, 2)) {
		t.Error("cached rows were overwritten")
	}
}

// rowsBytes is the cache's weight of rows, written from weighRows' rule for
// the values these tests use (strings, numbers, nulls).
func rowsBytes(rows []dune.Row) int64 {
	var want int64
	for _, r := range rows {
		want += 24 + 16*int64(len(r))
		for _, c := range r {
			switch x := c.(type) {
			case string:
				want += int64(len(x))
			case json.Number:
				want += int64(len(x))
			default:
				want += 8
			}
		}
	}
	return want
}

// checkEntriesWeighed holds every chunk in c to the weight of its own rows
// (and its key's overhead).
func checkEntriesWeighed(t *testing.T, c *pageCache) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	var used int64
	for el := c.order.Front(); el != nil; el = el.Next() {
		e := el.Value.(*cacheEntry)
		want := rowsBytes(e.ch.Rows) + int64(len(e.key.exec)+len(e.key.params)+128)
		if e.weight != want {
			t.Errorf("chunk at row %d (%d rows) charged %d bytes, its rows weigh %d", e.ch.Start, len(e.ch.Rows), e.weight, want)
		}
		used += e.weight
	}
	if used != c.used {
		t.Errorf("entries weigh %d bytes, the cache counts %d", used, c.used)
	}
}

// A page stored as two segments is charged to the cache at the weight of
// each segment's own rows, however many rows were shown.
func TestStoreWeighsEachSegment(t *testing.T) {
	rows := rowsOf(600, 3)
	rows[7] = dune.Row{string(make([]byte, 5000)), nil, json.Number("12")} // one heavy row among the shown
	ch := &chunk{head: &dune.Result{ExecutionID: "01HX"}, Start: 40, Total: 10000, Rows: rows}
	v := view{ExecutionID: "01HX"}
	for _, shown := range []int{0, 1, 8, 300, 600} {
		t.Run(fmt.Sprint(shown), func(t *testing.T) {
			ts := &Toolset{cache: newPages(1<<30, nil)}
			ts.cache.store(v, ch, shown)
			n, _ := ts.cache.local.size()
			want := 1
			if shown > 0 && shown < len(rows) {
				want = 2
			}
			if n != want {
				t.Fatalf("%d chunks stored, want %d", n, want)
			}
			checkEntriesWeighed(t, ts.cache.local)
		})
	}
}

// A page stitched from cached segments (next_page) and stored again is
// charged the weight of all its rows, not the first segment's.
func TestStitchedPageWeighedWhole(t *testing.T) {
	ts := &Toolset{cache: newPages(1<<30, nil)}
	v := view{ExecutionID: "01HY"}
	head := &dune.Result{ExecutionID: "01HY"}
	big := rowsOf(25, 1)
	for i := range big {
		big[i] = dune.Row{string(make([]byte, 1000))}
	}
	page := &chunk{head: head, Start: 0, Total: 100, Rows: big}
	ts.cache.store(v, page, 5) // two segments
	got := ts.cache.local.collect(v, 0, 25)
	if got == nil || len(got.Rows) != 25 {
		t.Fatalf("collect: %v", got)
	}
	ts.cache.store(v, got, 25)
	checkEntriesWeighed(t, ts.cache.local)
}

// A page stored aside (pages.storeAside) is found by a lookup made before
// its call's answer was written: the lookup waits for the store instead of
// missing.
func TestLookupWaitsForAStoreSetAside(t *testing.T) {
	p := newPages(1<<30, nil)
	v := view{ExecutionID: "01HZ"}
	ch := &chunk{head: &dune.Result{ExecutionID: "01HZ"}, Start: 0, Total: 100, Rows: rowsOf(50, 2)}
	ctx, answered := later.With(context.Background(), func(r any) { t.Errorf("panicked: %v", r) })
	p.storeAside(ctx, v, ch, 0, func(r any) { t.Errorf("the store panicked: %v", r) })
	found := make(chan *chunk)
	go func() {
		got, _ := p.collect(v, 0, 50)
		found <- got
	}()
	select {
	case got := <-found:
		t.Fatalf("the lookup returned %v while the store was under way", got)
	case <-time.After(50 * time.Millisecond):
	}
	answered()
	if got := <-found; got == nil || len(got.Rows) != 50 {
		t.Fatalf("after the store the lookup found %v, want the 50 rows", got)
	}
}

// The rows a large page fetched but did not show (stored while its answer
// goes out) serve the next_page that follows at once, without a request,
// every time.
func TestNextPageRightAfterALargePageIsCached(t *testing.T) {
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	emu.AddQuery(1, emulator.DEXTrades(20000, 1))
	e := newEnvConfig(t, emu, emulator.DefaultAPIKey, nil)
	for i := range 10 {
		r := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "limit": 1000, "offset": 1000 * i})
		if r.IsError || r.S.NextCursor == "" {
			t.Fatalf("page %d: %s", i, r.Text)
		}
		before := emu.Stats().Requests
		n := e.call(t, schemas.NextPage, map[string]any{"cursor": r.S.NextCursor})
		if n.IsError || n.S.Offset != 1000*i+r.S.ReturnedRows || n.S.ReturnedRows == 0 {
			t.Fatalf("next_page after page %d: isError %v, %d rows from %d", i, n.IsError, n.S.ReturnedRows, n.S.Offset)
		}
		if got := emu.Stats().Requests - before; got != 0 {
			t.Fatalf("next_page after page %d made %d Dune requests: its rows were fetched and should be cached", i, got)
		}
	}
}
