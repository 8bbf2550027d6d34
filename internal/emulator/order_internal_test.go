package emulator

import (
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// Requests that want an order another request is computing wait for it:
// the rows are sorted once, and every request gets that one order.
func TestOrderCacheComputesOnceForConcurrentRequests(t *testing.T) {
	ds := DEXTrades(100, 1)
	c := &orderCache{}
	joined := make(chan struct{}, 1)
	c.joined = func() { joined <- struct{}{} }
	var computed atomic.Int32
	started := make(chan struct{})
	first := make(chan []int32, 1)
	go func() {
		first <- c.do(ds, "", "amount_usd desc", func() []int32 {
			computed.Add(1)
			close(started)
			select {
			case <-joined: // the second request is waiting for this order
			case <-time.After(30 * time.Second): // a failure bound, not synchronisation
				t.Error("the second request did not wait for the order being computed")
			}
			return []int32{2, 0, 1}
		})
	}()
	<-started
	second := c.do(ds, "", "amount_usd desc", func() []int32 { computed.Add(1); return []int32{7} })
	if got := <-first; !slices.Equal(got, []int32{2, 0, 1}) || !slices.Equal(second, got) {
		t.Errorf("first request got %v, second %v; want both [2 0 1]", got, second)
	}
	if n := computed.Load(); n != 1 {
		t.Errorf("the order was computed %d times, want 1", n)
	}
	// Done, it is cached; another sort of the same rows is another order.
	if got := c.do(ds, "", "amount_usd desc", func() []int32 { computed.Add(1); return nil }); !slices.Equal(got, []int32{2, 0, 1}) || computed.Load() != 1 {
		t.Errorf("cached order: %v after %d computations", got, computed.Load())
	}
	if got := c.do(ds, "", "amount_usd asc", func() []int32 { return []int32{1, 0, 2} }); !slices.Equal(got, []int32{1, 0, 2}) {
		t.Errorf("another sort_by got %v", got)
	}
}

// A computation that panics leaves nothing behind: the next request
// computes the order itself.
func TestOrderCacheForgetsAFailedComputation(t *testing.T) {
	ds := DEXTrades(100, 1)
	c := &orderCache{}
	func() {
		defer func() { _ = recover() }()
		c.do(ds, "", "amount_usd desc", func() []int32 { panic("boom") })
	}()
	if got := c.do(ds, "", "amount_usd desc", func() []int32 { return []int32{5} }); !slices.Equal(got, []int32{5}) {
		t.Errorf("after a failed computation: %v, want the new one [5]", got)
	}
}
