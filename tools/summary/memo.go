package summary

import (
	"sync"
	"sync/atomic"
	"weak"

	"github.com/dune-mcp/dune-mcp/dune"
)

// Statistics of large row sets are memoised by the identity of the rows, so
// that rendering the same fetched rows again (a re-render with a note, a
// stats-only baseline) does not recompute them. Keys are weak pointers: the
// memo never keeps a page alive, and a reclaimed page can never be mistaken
// for a new one at the same address.
const (
	memoMinRows = 1024
	memoSize    = 4
)

type statsKey struct {
	rows  weak.Pointer[dune.Row] // &rows[0]
	first weak.Pointer[any]      // &rows[0][0]
	last  weak.Pointer[any]      // &rows[n-1][0]
	n     int
	cols  weak.Pointer[dune.Column] // &cols[0]
	nCols int
}

var (
	memoOn atomic.Bool // off only in benchmarks measuring the cold path
	memo   struct {
		sync.Mutex
		keys [memoSize]statsKey
		vals [memoSize][]colStats
		next int
	}
)

func init() { memoOn.Store(true) }

// statsFor returns computeStats(cols, rows), memoised for large row sets.
// The returned statistics are shared and must not be modified.
func statsFor(cols []dune.Column, rows []dune.Row) []colStats {
	if !memoOn.Load() || len(rows) < memoMinRows || len(cols) == 0 {
		return computeStats(cols, rows)
	}
	key := statsKey{
		rows:  weak.Make(&rows[0]),
		first: weak.Make(&rows[0][0]),
		last:  weak.Make(&rows[len(rows)-1][0]),
		n:     len(rows),
		cols:  weak.Make(&cols[0]),
		nCols: len(cols),
	}
	memo.Lock()
	for i, k := range memo.keys {
		if k == key && memo.vals[i] != nil {
			st := memo.vals[i]
			memo.Unlock()
			return st
		}
	}
	memo.Unlock()
	st := computeStats(cols, rows)
	memo.Lock()
	memo.keys[memo.next], memo.vals[memo.next] = key, st
	memo.next = (memo.next + 1) % memoSize
	memo.Unlock()
	return st
}
