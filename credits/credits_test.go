package credits

import (
	"sync"
	"testing"
)

func TestEstimate(t *testing.T) {
	cases := []struct {
		rows, cols int
		bytes      int64
		want       int64
	}{
		{1000, 22, 0, 22000},
		{10, 3, 0, 30},
		{10, 3, 250_000, 2500}, // wide values: bytes / 100 dominates
		{0, 22, 0, 0},
		{-5, 3, 0, 0},
	}
	for _, c := range cases {
		if got := Estimate(c.rows, c.cols, c.bytes); got != c.want {
			t.Errorf("Estimate(%d, %d, %d) = %d, want %d", c.rows, c.cols, c.bytes, got, c.want)
		}
	}
}

func TestBudgetPerCaller(t *testing.T) {
	b := NewBudget(1000)
	if !b.Limited() || b.Limit() != 1000 {
		t.Fatalf("limited=%v limit=%d", b.Limited(), b.Limit())
	}
	var wg sync.WaitGroup
	for range 10 {
		wg.Add(1)
		go func() { defer wg.Done(); b.Spend("a", 30) }()
	}
	wg.Wait()
	if b.Spent("a") != 300 || b.Left("a") != 700 || b.Left("b") != 1000 {
		t.Errorf("a spent %d left %d; b left %d", b.Spent("a"), b.Left("a"), b.Left("b"))
	}
	// Spending past the limit is recorded (Dune billed it); nothing is left.
	if total := b.Spend("a", 5000); total != 5300 || b.Left("a") != 0 {
		t.Errorf("after overspending: total %d, left %d", total, b.Left("a"))
	}
	if b.Spend("a", -10) != 5300 {
		t.Error("a negative spend changed the total")
	}
	if u := NewBudget(0); u.Limited() {
		t.Error("a zero budget is unlimited")
	}
}
