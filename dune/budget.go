package dune

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"golang.org/x/sync/semaphore"
)

// Memory design. Every results answer is read under two bounds:
//
//   - a per-request body guard (guardFor), sized from what the request can
//     legitimately return: rows asked for × columns × MaxCellBytes, plus
//     an envelope allowance; Config.MaxBodyBytes and the memory budget cap
//     it;
//   - a process-wide budget of upstream bytes in flight (MemoryBudget,
//     Config.MaxUpstreamMemory): before a request is sent, its expected
//     size (estimateFor) is reserved, waiting in line (FIFO) while the
//     budget is in use, at most until the call's deadline; as the body
//     streams in past the reservation, more is reserved in
//     reserveStep steps. The reservation is returned when the body has
//     been decoded. A call that cannot get budget in time fails with
//     ErrMemoryBudget, before it costs anything when it is waiting to send.
//
// The decoder streams (decode.go), so the bytes in flight become rows
// (about 1.4× their JSON size for a Dune page) rather than a buffered body.

// Defaults of the memory bounds.
const (
	// DefaultMaxUpstreamMemory is the default process-wide budget of
	// upstream bytes in flight: 256 MiB.
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
}

// NewMemoryBudget returns a budget of size bytes (DefaultMaxUpstreamMemory
// when size is not positive).
func NewMemoryBudget(size int64) *MemoryBudget {
	if size <= 0 {
		size = DefaultMaxUpstreamMemory
	}
	return &MemoryBudget{sem: semaphore.NewWeighted(size), size: size}
}

// Size returns the budget in bytes.
func (b *MemoryBudget) Size() int64 { return b.size }

// InFlight returns the bytes reserved now.
func (b *MemoryBudget) InFlight() int64 { return b.inFlight.Load() }

// Peak returns the most bytes ever reserved at once.
func (b *MemoryBudget) Peak() int64 { return b.peak.Load() }

// acquire reserves n bytes (at most the budget), waiting until ctx ends.
func (b *MemoryBudget) acquire(ctx context.Context, n int64) (int64, error) {
	n = min(n, b.size)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return 0, fmt.Errorf("%w (%d MiB, waited for %d KiB): %w", ErrMemoryBudget, b.size>>20, n>>10, err)
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

// reservation is one attempt's share of the budget.
type reservation struct {
	b    *MemoryBudget
	ctx  context.Context
	held int64
}

// cover makes the reservation cover n bytes, reserving reserveStep more at
// a time.
func (r *reservation) cover(n int64) error {
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
