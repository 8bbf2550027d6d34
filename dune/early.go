package dune

import (
	"context"
	"sync"
)

// Early rows: a caller that has work to do on the first rows of a page (a
// summary that measures the rows it may show) can start it while the rest
// of the page is still arriving. Dune writes a page's rows before its
// metadata, so the early rows come with their keys in the order the
// decoder met them, not yet in the result's column order (Result.Columns),
// and before the answer is checked: they are a preview, to be checked
// against the Result once it is returned.

type earlyRowsKey struct{}

// earlyRows is one request for the first n rows of a page.
type earlyRows struct {
	n    int
	fn   func(keys []string, rows []Row)
	once sync.Once
}

// WithEarlyRows returns a context whose results requests (GetLatestResult,
// GetExecutionResult) call fn, once for the context, on the decoding
// goroutine, as soon as
// the first n rows of a page are decoded (not at all for a page of fewer
// rows, or one whose decoding failed first). keys are the rows' keys and
// rows their values in that order (nil where a row lacks a key); both are
// the caller's own copies. The rows are those of the first attempt that
// got that far (a retried request may answer other rows) and have not been
// checked or scrubbed: compare them with the Result's rows before relying
// on them. fn must return quickly: start the work on another goroutine.
func WithEarlyRows(ctx context.Context, n int, fn func(keys []string, rows []Row)) context.Context {
	if n < 1 || fn == nil {
		return ctx
	}
	return context.WithValue(ctx, earlyRowsKey{}, &earlyRows{n: n, fn: fn})
}

func earlyRowsFrom(ctx context.Context) *earlyRows {
	e, _ := ctx.Value(earlyRowsKey{}).(*earlyRows)
	return e
}

// rowsDecoded is called by the row decoder after each row: at the n-th, fn
// gets copies of the rows so far.
func (e *earlyRows) rowsDecoded(names []string, rows []Row) {
	if e == nil || len(rows) != e.n {
		return
	}
	e.once.Do(func() {
		keys := append([]string(nil), names...)
		cells := make([]any, len(keys)*len(rows))
		out := make([]Row, len(rows))
		for i, r := range rows {
			out[i] = cells[i*len(keys) : (i+1)*len(keys) : (i+1)*len(keys)]
			copy(out[i], r)
		}
		e.fn(keys, out)
	})
}
