package tools

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/dune-mcp/dune-mcp/dune"
)

// flights shares the execution pages in flight in this process: a call that
// needs exactly the rows another call is fetching at that moment (same key
// fingerprint, execution, view and range; results of an execution never
// change) waits for that answer instead of paying for the same rows again.
// Latest-result requests are not shared: the latest result can change
// between two calls. Only answers are shared: when
// the first call's request fails, each call that waited fetches for itself,
// so one call's deadline or cancellation never fails another.
type flights struct {
	mu sync.Mutex
	m  map[string]*flight
	// joined, when set (tests), is called each time a call waits for
	// another call's request.
	joined func()
}

// flight is one request in flight; res and err are set before done closes.
type flight struct {
	done chan struct{}
	res  *dune.Result
	err  error
}

// errAbandoned is a flight's error when its request never returned (it
// panicked).
var errAbandoned = errors.New("the shared request was abandoned")

// do returns get's answer, or the answer of the identical request (key)
// another call has in flight.
func (f *flights) do(ctx context.Context, key string, get func() (*dune.Result, error)) (*dune.Result, error) {
	f.mu.Lock()
	if fl, ok := f.m[key]; ok {
		joined := f.joined
		f.mu.Unlock()
		if joined != nil {
			joined()
		}
		select {
		case <-fl.done:
			if fl.err == nil {
				return fl.res, nil
			}
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return get()
	}
	if f.m == nil {
		f.m = map[string]*flight{}
	}
	fl := &flight{done: make(chan struct{}), err: errAbandoned}
	f.m[key] = fl
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.m, key)
		f.mu.Unlock()
		close(fl.done)
	}()
	fl.res, fl.err = get()
	return fl.res, fl.err
}

// rowsFlight is the flight key of rows [offset, offset+limit) of v.
func rowsFlight(v view, offset, limit int) string {
	k := v.key(offset)
	return fmt.Sprintf("rows\x1e%v\x1e%s\x1e%s\x1e%d\x1e%d", k.fp, k.exec, k.params, k.start, limit)
}
