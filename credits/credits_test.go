package credits

import (
	"sync"
	"testing"
)

func TestEstimate(t *testing.T) {
	cases := []struct {
		rows, cols int
		want       int64
	}{
		{1000, 22, 22000},
		{10, 3, 30},
		{0, 22, 0},
		{-5, 3, 0},
		{100_000, 300, 30_000_000},
	}
	for _, c := range cases {
		if got := Estimate(c.rows, c.cols); got != c.want {
			t.Errorf("Estimate(%d, %d) = %d, want %d", c.rows, c.cols, got, c.want)
		}
	}
}

func TestBudgetPerCaller(t *testing.T) {
	b := NewBudget(1000)
	if !b.Limited() || b.Limit() != 1000 {
		t.Fatalf("limited=%v limit=%d", b.Limited(), b.Limit())
	}
	// Twenty concurrent calls each reserve 100: only ten fit.
	var wg sync.WaitGroup
	var mu sync.Mutex
	granted := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if b.Reserve("a", 100) {
				mu.Lock()
				granted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if granted != 10 || b.Left("a") != 0 || b.Left("b") != 1000 {
		t.Fatalf("granted %d, a left %d, b left %d", granted, b.Left("a"), b.Left("b"))
	}
	// Calls settle what they really read: reservations are released.
	for range granted {
		b.Settle("a", 100, 30)
	}
	if b.Spent("a") != 300 || b.Left("a") != 700 {
		t.Errorf("after settling: spent %d, left %d", b.Spent("a"), b.Left("a"))
	}
	// Spending past the limit is recorded (Dune billed it); nothing is left.
	b.Settle("a", 0, 5000)
	if b.Spent("a") != 5300 || b.Left("a") != 0 || b.Reserve("a", 1) {
		t.Errorf("after overspending: spent %d, left %d", b.Spent("a"), b.Left("a"))
	}
	b.Settle("a", -5, -10)
	if b.Spent("a") != 5300 {
		t.Error("a negative settlement changed the total")
	}
	if u := NewBudget(0); u.Limited() {
		t.Error("a zero budget is unlimited")
	}
}
