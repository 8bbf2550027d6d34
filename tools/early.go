package tools

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// Overlapping the summary with the fetch.
//
// A get_latest_result with a large explicit limit fetches far more rows
// than the budget shows: the page's rows arrive over most of the call,
// while the summary's costly part, measuring the rows it may show, needs
// only the first of them. So, when the call's page has been seen before
// (its head: ids, times, columns, from the last page of the same query and
// projection), the draft is started on the first rows as soon as they are
// decoded (dune.WithEarlyRows), on a goroutine of its own, and planned
// there while the rest of the page arrives. Once the page is in, the draft
// is used only if the page it was made from is the page present would
// make, the rows and the total aside: every other field equal (the head
// did not change) and its rows equal to the page's first rows. The rest
// of the rows are then appended (summary.Draft.Extend), which renders what
// NewDraft on the whole page would (the summary's
// TestRenderAfterExtendEqualsSummarize). Otherwise the draft is dropped
// and the page summarised as usual: the early work is lost, never the
// answer.
//
// The draft goes one step further when it can: it renders the whole answer
// before the last rows arrive. The page's size is known (the call's limit,
// or the rows left of the remembered total), and past the rows a page can
// show only the number of rows reaches the answer (summary.Draft.RowsRead),
// so the page is drafted with stand-ins for the rows still on their way and
// rendered. The answer is used if the page came back as foreseen: the same
// head, its first rows those the draft read, that many rows, the same
// total and datapoints, and an age that reads the same. Otherwise the page
// is summarised afresh. Pages of a query and projection, at a budget and
// in result views, whose rendering read past the first rows (statistics
// computed, as for a wide table whose rows leave room) or failed are not
// rendered early again: only drafted.

// earlyMinRows is the fewest rows an early draft starts with; earlyMargin
// times the rows the budget is expected to show (probeSize at the query's
// remembered row cost) is the usual start: enough rows that the summary's
// constant columns and timestamp affixes, found over the rows a page of
// that budget can show, are those of the whole page.
const (
	earlyMinRows = 64
	earlyMargin  = 3
	// earlyHeads bounds the heads remembered (one per query and
	// projection); past it they are all forgotten.
	earlyHeads = 256
)

// headMemo remembers the head (the answer without its rows) of the last
// page fetched per query and projection, and the renderings (query,
// projection, budget, result views) whose pages are only drafted early.
// The zero value is ready to use.
type headMemo struct {
	mu    sync.Mutex
	heads map[string]*dune.Result
	// draftOnly: rendering a page early read past its first rows, or
	// failed, so pages rendered so are only drafted early from now on.
	draftOnly map[string]bool
}

func (m *headMemo) get(key string) *dune.Result {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.heads[key]
}

// put remembers res's head under key.
func (m *headMemo) put(key string, res *dune.Result) {
	head := *res
	head.Rows = nil
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.heads == nil || len(m.heads) >= earlyHeads {
		m.heads, m.draftOnly = map[string]*dune.Result{}, map[string]bool{}
	}
	m.heads[key] = &head
}

// onlyDrafted reports whether pages rendered as rkey names (renderKey) are
// only drafted early.
func (m *headMemo) onlyDrafted(rkey string) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.draftOnly[rkey]
}

// draftOnlyFrom notes that pages rendered as rkey names are only drafted
// early from now on.
func (m *headMemo) draftOnlyFrom(rkey string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.draftOnly != nil && len(m.draftOnly) < earlyHeads*4 {
		m.draftOnly[rkey] = true
	}
}

// renderKey names how a page of a query and projection (headKey) is
// rendered: its budget and result views decide whether statistics show.
func renderKey(key string, budget int, views summary.Views) string {
	return key + "\x1f" + strconv.Itoa(budget) + "\x1f" + views.String()
}

// earlyDraft is a draft started on a page's first rows during the fetch.
type earlyDraft struct {
	rows    int         // how many rows it starts with
	started atomic.Bool // the first rows arrived and the draft is being made
	done    chan struct{}
	page    summary.Page   // what the draft was made from
	d       *summary.Draft // nil: none could be made
	// ready is the answer rendered before the last rows arrived, for a
	// page of want rows, total and datapoints as foreseen; nil: none (d
	// is then a draft of the first rows only).
	ready             *summary.Output
	want, total, dpts int
}

// earlyFetch returns ctx asking the fetch of q's first page for its first
// rows, and the draft they will start; ctx and nil when no early draft is
// worth it (the page is small, or its head was never seen). Under a
// datapoint budget there is none either: the page states what is spent,
// which grows by the page's datapoints once it is in, so the early page
// would never be the one present makes.
func (t *Toolset) earlyFetch(ctx context.Context, c *call, q pageQuery, opts dune.Options, probe int) (context.Context, *earlyDraft) {
	if q.executionID != "" || q.explicitLimit <= 0 || t.spend.Limited() {
		return ctx, nil
	}
	key := headKey(q.queryID, opts)
	head := t.heads.get(key)
	rkey := renderKey(key, q.budget, c.views)
	drafted := t.heads.onlyDrafted(rkey)
	n := max(probe*earlyMargin, earlyMinRows)
	if head == nil || opts.Limit <= n || len(head.Columns) == 0 {
		return ctx, nil
	}
	e := &earlyDraft{rows: n, done: make(chan struct{})}
	return dune.WithEarlyRows(ctx, n, func(keys []string, rows []dune.Row) {
		e.started.Store(true)
		// The call's datapoints before this page's: its fetch adds them once
		// decoded, which may be before the goroutine reads them.
		spent := int(c.usage.Datapoints.Load())
		go func() {
			defer close(e.done)
			defer func() {
				// The handler's panics are answered as errors by the
				// transports; this goroutine is not theirs, so it drops
				// the draft instead (the page is summarised afresh).
				if r := recover(); r != nil {
					e.d, e.ready = nil, nil
					t.cfg.Logger.Error().Str("panic", fmt.Sprint(r)).Str("tool", c.tool).Msg("early draft panicked; dropped")
				}
			}()
			if ctx.Err() == nil { // a cancelled call's draft would not be used
				e.make(t, c, q, opts, head, drafted, spent, keys, rows)
				if e.d != nil && e.ready == nil && !drafted && e.want > 0 {
					t.heads.draftOnlyFrom(rkey)
				}
			}
		}()
	}), e
}

// headKey names the pages whose heads are alike: same query, parameters
// and projection.
func headKey(queryID int64, opts dune.Options) string {
	return projectionKey(queryKey(queryID, opts.QueryParameters), opts.Columns)
}

// make renders the whole page from the remembered head and the first rows
// (keys in the decoder's order; spent: the call's datapoints before the
// page) with stand-ins for the rest (render), unless such pages are only
// drafted; when it does not, or that answer would not hold, it drafts the
// first rows and plans them.
func (e *earlyDraft) make(t *Toolset, c *call, q pageQuery, opts dune.Options, head *dune.Result, drafted bool, spent int, keys []string, rows []dune.Row) {
	if len(keys) != len(head.Columns) {
		return
	}
	at := make(map[string]int, len(keys))
	for i, k := range keys {
		at[k] = i
	}
	perm := make([]int, len(head.Columns))
	for j, col := range head.Columns {
		i, ok := at[col.Name]
		if !ok {
			return
		}
		perm[j] = i
	}
	cells := make([]any, len(rows)*len(perm))
	ordered := make([]dune.Row, len(rows))
	for r, row := range rows {
		out := cells[r*len(perm) : (r+1)*len(perm) : (r+1)*len(perm)]
		for j, i := range perm {
			out[j] = row[i]
		}
		ordered[r] = out
	}
	h := *head
	pr := pageReq{
		view:     newView(h.ExecutionID, opts, q.caller),
		ch:       chunkOf(&h, opts.Offset),
		budget:   q.budget,
		explicit: true,
		limit:    q.explicitLimit,
		fresh:    q.fresh,
	}
	e.page = t.page(c, pr, ordered)
	e.page.Datapoints = spent
	if !drafted && e.render(t, pr, opts.Limit) {
		return
	}
	d, err := summary.NewDraft(e.page, q.budget)
	if err != nil {
		return
	}
	d.Planned()
	e.d = d
}

// render renders a page of limit rows (as many as the remembered total
// leaves) made of the first rows and stand-ins for the rest. It reports
// whether the answer holds for any rows in place of the stand-ins (its
// draft read only the first rows: RowsRead), keeping it in e.ready and its
// draft in e.d.
func (e *earlyDraft) render(t *Toolset, pr pageReq, limit int) bool {
	k := len(e.page.Rows)
	want := min(limit, pr.ch.Total-pr.ch.Start)
	if want <= k {
		return false
	}
	// Stand-ins: the first rows again (rows of the right shape, never read).
	rows := make([]dune.Row, want)
	for i := range rows {
		rows[i] = e.page.Rows[i%k]
	}
	// Datapoints as the client counts them (dune/client.go): Dune's
	// datapoint_count, at least rows × columns; per row as on the page
	// the head was remembered from.
	perRow := len(e.page.Columns)
	if m := pr.ch.head.Metadata; m.RowCount > 0 && m.DatapointCount%m.RowCount == 0 {
		perRow = max(perRow, m.DatapointCount/m.RowCount)
	}
	e.want, e.total, e.dpts = want, pr.ch.Total, e.page.Datapoints+want*perRow
	p := e.page
	p.Rows, p.StatsRows, p.TotalRowCount, p.Datapoints = rows, rows, e.total, e.dpts
	d, err := summary.NewDraft(p, pr.budget)
	if err != nil {
		return false
	}
	out, err := d.Render(t.cursorFunc(pr))
	if err != nil || d.RowsRead() > k {
		return false
	}
	e.d, e.ready = d, &out
	return true
}

// use returns what of the early work serves page, the page present makes
// of rows: the answer rendered early when page is the page it foresaw (as
// many rows, the same total and datapoints, an age that reads the same at
// page.Now), or else the draft of the first rows, extended with the rest;
// either only when made from page's head and first rows; (nil, nil) when
// neither. It waits for the draft's goroutine to finish, so that goroutine
// never touches the draft once use has returned; a draft whose fetch
// failed is never used, and its goroutine ends on its own.
func (e *earlyDraft) use(page summary.Page, rows []dune.Row) (*summary.Output, *summary.Draft) {
	if e == nil || !e.started.Load() {
		return nil, nil
	}
	<-e.done
	if e.d == nil || len(rows) <= e.rows || !sameHead(e.page, page) || !sameRows(e.page.Rows, rows[:e.rows]) {
		return nil, nil
	}
	if e.ready != nil { // e.d holds stand-ins: only its answer can serve
		if len(rows) != e.want || page.TotalRowCount != e.total || page.Datapoints != e.dpts || !e.d.SameAge(page.Now) {
			return nil, nil
		}
		return e.ready, nil
	}
	if err := e.d.Extend(rows[e.rows:], page.TotalRowCount, page.Datapoints); err != nil {
		return nil, nil
	}
	e.d.SetNow(page.Now) // the age is the answer's, not the early rows'
	return nil, e.d
}

// sameHead reports whether a and b are the same page but for their rows,
// total row count and datapoints (which Extend sets) and reference time
// (which use sets with Draft.SetNow). Times are compared
// as instants (time.Time.Equal), not by their location.
func sameHead(a, b summary.Page) bool {
	if !a.SubmittedAt.Equal(b.SubmittedAt) || !a.ExpiresAt.Equal(b.ExpiresAt) ||
		(a.EndedAt == nil) != (b.EndedAt == nil) || (a.EndedAt != nil && !a.EndedAt.Equal(*b.EndedAt)) {
		return false
	}
	for _, p := range []*summary.Page{&a, &b} {
		p.Rows, p.StatsRows, p.TotalRowCount, p.Datapoints = nil, nil, 0, 0
		p.Now, p.SubmittedAt, p.ExpiresAt, p.EndedAt = time.Time{}, time.Time{}, time.Time{}, nil
	}
	return reflect.DeepEqual(a, b)
}

// sameRows reports whether a and b hold the same values.
func sameRows(a, b []dune.Row) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if len(a[i]) != len(b[i]) {
			return false
		}
		for j, v := range a[i] {
			if !sameValue(v, b[i][j]) {
				return false
			}
		}
	}
	return true
}

func sameValue(a, b any) bool {
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case json.Number:
		y, ok := b.(json.Number)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return reflect.DeepEqual(a, b)
}
