package dune

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// Memory design. Every results answer is read under two bounds:
//
//   - a per-request body guard (guardFor), sized from what the request can
//     legitimately return: rows asked for × columns × MaxCellBytes, plus
//     an envelope allowance; Config.MaxBodyBytes and the memory budget cap
//     it;
//   - a process-wide budget of the memory upstream answers occupy
//     (MemoryBudget, Config.MaxUpstreamMemory). Before a request is sent,
//     its expected size (estimateFor) is reserved, waiting in line (FIFO)
//     while the budget is in use, at most until the call's deadline. The
//     decoder streams (decode.go): the body is never held, and what counts
//     is what the decoded answer occupies in the heap — its cells, values,
//     boxes and the scanner's buffer, counted as the rows are made
//     (rowDecoder.heap; about 1.3× the JSON for a Dune page). When that
//     outgrows the reservation, more is reserved in reserveStep steps. A
//     call that cannot get budget in time fails with ErrMemoryBudget
//     (before it costs anything when it is waiting to send). One answer
//     never waits for more than the whole budget: alone, it may use it all.
//
// An answer's memory does not come back when the call returns it: its
// rows live on in the caller until they are dropped, then as garbage until
// the garbage collector runs. So the reservation is handed over with the
// Result (handOver): the part the answer does not occupy is returned at
// once, the rest is held until the Result has been collected (a
// runtime.AddCleanup) — or, so that rows a caller keeps (a cache has its
// own bound) never block the budget, until two collections have completed
// since (the rows are then the caller's, not an answer in flight). While a
// call waits for budget that handed-over answers hold, the budget runs the
// collector (collect), so a quiet process does not wait for the pacer. An
// attempt that failed after decoding rows hands its share over without an
// owner: its rows are garbage, held for two collections too. Together,
// upstream answers live or uncollected stay within the budget (eight
// concurrent 100 MB answers: 131 MB of heap under the default 256 MiB;
// TestEightLargeAnswersStayUnderTheBudget, BenchmarkMemoryEightCalls100MB);
// main also sets the Go runtime's soft memory limit from it.
//
// Evaluated and left out: interning strings per column. The decoder
// already shares a value equal to the previous row's in the same column
// (rowDecoder.value), and the counted heap is 0.99× what the runtime
// measures live (TestBudgetChargedWhatTheAnswerOccupies): the overshoot was
// answers returned but not yet collected, not garbage made while decoding
// (allocated ÷ body 1.35, live ÷ body 1.29 for the 100 MB page).

// Defaults of the memory bounds.
const (
	// DefaultMaxUpstreamMemory is the default process-wide budget of
	// the memory upstream answers occupy: 256 MiB.
	DefaultMaxUpstreamMemory = 256 << 20
	// MaxCellBytes is the largest average cell size the body guard allows
	// (a Dune cell is typically 10-100 bytes of JSON; long text cells run to
	// tens of kilobytes).
	MaxCellBytes = 16 << 10
	// guardEnvelope is what the guard allows beyond the cells: the
	// envelope, metadata and an error.
	guardEnvelope = 1 << 20
	// assumedWidth is the column count the guard and the estimate assume
	// when the request does not name its columns.
	assumedWidth = 32
	// estimateCellBytes is the JSON size of a typical cell ("key":value,),
	// for the reservation made before a request is sent.
	estimateCellBytes = 64
	// minReserve is the least reserved per results request, and
	// noLimitReserve what is reserved for a request without a limit.
	minReserve     = 1 << 20
	noLimitReserve = 8 << 20
	// reserveStep is how much more is reserved at a time when a body
	// outgrows its reservation.
	reserveStep = 1 << 20
)

// ErrMemoryBudget is returned (wrapped) when a call could not get its share
// of the process-wide budget of upstream bytes in flight before its
// deadline: too many large answers are being read at once.
var ErrMemoryBudget = errors.New("dune: the upstream memory budget is in use by other calls")

// MemoryBudget bounds the upstream bytes in flight of every client that
// shares it. It is safe for concurrent use.
type MemoryBudget struct {
	sem      *semaphore.Weighted
	size     int64
	inFlight atomic.Int64
	peak     atomic.Int64
	waiting  atomic.Int64 // calls waiting in acquire

	mu         sync.Mutex
	handed     map[*handed]struct{} // reservations handed over with a Result
	orphans    []*handed            // those without one (failed answers), oldest first
	collecting bool                 // the collect goroutine is running
}

// handed is a reservation handed over with an answer: held until the
// answer is collected, or two collections completed after cycle.
type handed struct {
	n     int64
	cycle uint64 // completed GC cycles when it was handed over
}

// NewMemoryBudget returns a budget of size bytes (DefaultMaxUpstreamMemory
// when size is not positive).
func NewMemoryBudget(size int64) *MemoryBudget {
	if size <= 0 {
		size = DefaultMaxUpstreamMemory
	}
	return &MemoryBudget{sem: semaphore.NewWeighted(size), size: size, handed: map[*handed]struct{}{}}
}

// Size returns the budget in bytes.
func (b *MemoryBudget) Size() int64 { return b.size }

// InFlight returns the bytes reserved now.
func (b *MemoryBudget) InFlight() int64 { return b.inFlight.Load() }

// Peak returns the most bytes ever reserved at once.
func (b *MemoryBudget) Peak() int64 { return b.peak.Load() }

// Handed returns the bytes held for answers already returned to callers
// (see the memory design).
func (b *MemoryBudget) Handed() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	var n int64
	for h := range b.handed {
		n += h.n
	}
	return n
}

// acquire reserves n bytes (at most the budget), waiting until ctx ends.
func (b *MemoryBudget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(n, b.size)
	if !b.sem.TryAcquire(n) {
		b.waiting.Add(1)
		b.collect()
		err := b.sem.Acquire(ctx, n)
		b.waiting.Add(-1)
		if err != nil {
			return 0, fmt.Errorf("%w (%d MiB, waited for %d KiB): %w", ErrMemoryBudget, b.size>>20, n>>10, err)
		}
	}
	v := b.inFlight.Add(n)
	for p := b.peak.Load(); v > p && !b.peak.CompareAndSwap(p, v); p = b.peak.Load() {
	}
	return n, nil
}

func (b *MemoryBudget) release(n int64) {
	if n > 0 {
		b.inFlight.Add(-n)
		b.sem.Release(n)
	}
}

// gcCycles returns the number of completed GC cycles.
func gcCycles() uint64 {
	s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// handOver holds n bytes of the budget for owner, an answer returned to
// its caller, until owner is collected or two more GC cycles have
// completed (see the memory design). owner may be nil (an answer that
// failed: its rows are garbage already).
func handOver[T any](b *MemoryBudget, owner *T, n int64) {
	if n <= 0 {
		return
	}
	now := gcCycles()
	h := &handed{n: n, cycle: now}
	b.mu.Lock()
	b.handed[h] = struct{}{}
	if owner == nil {
		b.orphans = append(b.orphans, h)
	}
	// Orphans have no cleanup: settle the old ones here, so that they do
	// not pile up while nobody waits.
	var old []*handed
	for len(b.orphans) > 0 && now >= b.orphans[0].cycle+2 {
		old = append(old, b.orphans[0])
		b.orphans[0] = nil
		b.orphans = b.orphans[1:]
	}
	b.mu.Unlock()
	for _, o := range old {
		b.settle(o)
	}
	if owner != nil {
		runtime.AddCleanup(owner, b.settle, h)
	}
	if b.waiting.Load() > 0 {
		b.collect()
	}
}

// settle returns h to the budget (once).
func (b *MemoryBudget) settle(h *handed) {
	b.mu.Lock()
	_, ok := b.handed[h]
	delete(b.handed, h)
	b.mu.Unlock()
	if ok {
		b.release(h.n)
	}
}

// expire settles what was handed over two completed GC cycles ago or
// more, and reports whether anything is still held.
func (b *MemoryBudget) expire() bool {
	now := gcCycles()
	var done []*handed
	b.mu.Lock()
	for h := range b.handed {
		if now >= h.cycle+2 {
			done = append(done, h)
		}
	}
	for len(b.orphans) > 0 && now >= b.orphans[0].cycle+2 {
		b.orphans[0] = nil
		b.orphans = b.orphans[1:]
	}
	b.mu.Unlock()
	for _, h := range done {
		b.settle(h)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.handed) > 0
}

// collect starts, unless it is running, the goroutine that runs the
// garbage collector while calls wait for budget that handed-over answers
// hold: each run lets the collected answers' cleanups return their share,
// and a share still held after two runs is settled (expire). It stops when
// nobody waits or nothing is handed over: a few collections per wait, each
// followed by a pause as long as it took (at most half a core), and none
// while the budget is free.
func (b *MemoryBudget) collect() {
	b.mu.Lock()
	if b.collecting || len(b.handed) == 0 {
		b.mu.Unlock()
		return
	}
	b.collecting = true
	b.mu.Unlock()
	go func() {
		for {
			began := time.Now()
			runtime.GC()
			held := b.expire()
			b.mu.Lock()
			if !held || b.waiting.Load() == 0 {
				b.collecting = false
				b.mu.Unlock()
				return
			}
			b.mu.Unlock()
			// As long again before the next run: at most half a core.
			time.Sleep(time.Since(began))
		}
	}()
}

// reservation is one attempt's share of the budget.
type reservation struct {
	b    *MemoryBudget
	ctx  context.Context
	held int64
	used int64 // the most the answer was counted to occupy
}

// cover makes the reservation cover n bytes (at most the budget: one
// answer alone may use it all), reserving reserveStep more at a time.
func (r *reservation) cover(n int64) error {
	r.used = max(r.used, n)
	n = min(n, r.b.size)
	for r.held < n {
		got, err := r.b.acquire(r.ctx, max(reserveStep, n-r.held))
		if err != nil {
			return err
		}
		r.held += got
	}
	return nil
}

// release returns the whole reservation.
func (r *reservation) release() {
	if r != nil {
		r.b.release(r.held)
		r.held = 0
	}
}

// keep hands the reservation over with owner, the answer: what the answer
// occupies stays held (handOver), the rest is returned now.
func keep[T any](r *reservation, owner *T) {
	if r == nil {
		return
	}
	n := min(r.used, r.held)
	r.b.release(r.held - n)
	r.held = 0
	handOver(r.b, owner, n)
}

// heapMeter is told, as an answer is decoded, what its decoded form
// occupies; an error (the budget could not cover it) stops the decoding.
type heapMeter interface {
	occupied(n int64) error
}

// guardFor returns the body guard of a results request for o: rows asked
// for × columns × MaxCellBytes plus guardEnvelope, capped by max (the
// client's MaxBodyBytes, or the budget when smaller). A request without a
// limit (or a sample) may return anything up to max.
func guardFor(o Options, max int64) int64 {
	rows := int64(o.Limit)
	if o.SampleCount > 0 {
		rows = 2 * int64(o.SampleCount) // "about" this many
	}
	if rows <= 0 {
		return max
	}
	width := int64(len(o.Columns))
	if width == 0 {
		width = assumedWidth
	}
	if rows > (max-guardEnvelope)/(width*MaxCellBytes) {
		return max
	}
	return min(max, guardEnvelope+rows*width*MaxCellBytes)
}

// estimateFor returns what a results request for o is expected to bring,
// reserved before it is sent.
func estimateFor(o Options) int64 {
	rows := int64(o.Limit)
	if o.SampleCount > 0 {
		rows = int64(o.SampleCount)
	}
	if rows <= 0 {
		return noLimitReserve
	}
	width := int64(len(o.Columns))
	if width == 0 {
		width = assumedWidth
	}
	rows = min(rows, 1<<30)
	return max(minReserve, rows*width*estimateCellBytes)
}
