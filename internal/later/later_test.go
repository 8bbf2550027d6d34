package later

import (
	"context"
	"slices"
	"testing"
)

// Work given on a queue runs when the queue runs, in the order given, once;
// work given after, or without a queue, is left to the caller.
func TestQueueRunsOnceInOrder(t *testing.T) {
	if Do(context.Background(), func() { t.Error("ran without a queue") }) {
		t.Fatal("Do without a queue reported queued")
	}
	ctx, run := With(context.Background(), func(r any) { t.Errorf("panicked: %v", r) })
	var got []int
	for i := range 3 {
		if !Do(ctx, func() { got = append(got, i) }) {
			t.Fatalf("work %d not queued", i)
		}
	}
	if len(got) != 0 {
		t.Fatalf("work ran before the queue: %v", got)
	}
	run()
	if !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("ran %v, want [0 1 2]", got)
	}
	if Do(ctx, func() { t.Error("work given after the run was queued and ran") }) {
		t.Fatal("Do after the run reported queued")
	}
	run()
	if !slices.Equal(got, []int{0, 1, 2}) {
		t.Fatalf("a second run ran work again: %v", got)
	}
}

// Each request's queue is its own: a context derived from one carries it,
// another request's does not.
func TestQueuesAreSeparate(t *testing.T) {
	a, runA := With(context.Background(), func(r any) { t.Errorf("panicked: %v", r) })
	b, _ := With(context.Background(), func(r any) { t.Errorf("panicked: %v", r) })
	ranA, ranB := false, false
	derived, cancel := context.WithCancel(a)
	defer cancel()
	Do(derived, func() { ranA = true })
	Do(b, func() { ranB = true })
	runA()
	if !ranA || ranB {
		t.Fatalf("after running a's queue: a ran %v, b ran %v; want true, false", ranA, ranB)
	}
}

// A panic of one piece of work goes to recovered; the work after it runs.
func TestPanicDoesNotStopTheQueue(t *testing.T) {
	var got []any
	ctx, run := With(context.Background(), func(r any) { got = append(got, r) })
	ran := false
	Do(ctx, func() { panic("first") })
	Do(ctx, func() { ran = true })
	run()
	if !ran || len(got) != 1 || got[0] != "first" {
		t.Fatalf("after a panicking piece: the next ran %v, recovered %v", ran, got)
	}
}
