// Package later holds the work a call leaves for after its answer is
// written: what the client need not wait for, such as the call's log line
// or storing the rows it fetched but did not show. A transport that writes
// answers itself (stdio) gives each request a queue (With) and runs it
// once the answer is out; elsewhere the work runs when it is given (Do
// reports which).
package later

import (
	"context"
	"sync"
)

type queueKey struct{}

// queue is one request's work for after its answer.
type queue struct {
	mu        sync.Mutex
	fns       []func()
	done      bool // run has run: work given from now on is not queued
	recovered func(any)
}

// With returns ctx carrying a new, empty queue, and run, which runs the
// work queued on it, in the order it was given, once; work given after run
// is not queued (Do returns false). A panic of one piece of work goes to
// recovered, and the rest still runs.
func With(ctx context.Context, recovered func(any)) (context.Context, func()) {
	q := &queue{recovered: recovered}
	return context.WithValue(ctx, queueKey{}, q), q.run
}

// Do queues f on ctx's queue and reports true, or reports false when ctx
// has no queue or its queue already ran: the caller then does the work
// itself.
func Do(ctx context.Context, f func()) bool {
	q, _ := ctx.Value(queueKey{}).(*queue)
	if q == nil {
		return false
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.done {
		return false
	}
	q.fns = append(q.fns, f)
	return true
}

func (q *queue) run() {
	q.mu.Lock()
	fns := q.fns
	q.fns, q.done = nil, true
	q.mu.Unlock()
	for _, f := range fns {
		q.runOne(f)
	}
}

func (q *queue) runOne(f func()) {
	defer func() {
		if r := recover(); r != nil {
			q.recovered(r)
		}
	}()
	f()
}
