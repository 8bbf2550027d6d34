// Package credits estimates what Dune reads cost and keeps the spending of
// this process within its limits: a cap per tool call and a cumulative
// budget per caller (a fingerprint of the Dune API key, never the key).
//
// Dune bills reads by datapoints: about max(rows × columns, bytes / 100) per
// page, 1 credit per 1,000 (Free), 5,000 (Plus) or 25,000 (Premium)
// datapoints. Executions are billed separately, in credits (about 10 on a
// medium engine, 20 on a large one), and are reported, not budgeted here.
package credits

import (
	"sync"
)

// Estimate is the datapoints a page of rows × columns costs before it is
// read (the bytes/100 Dune bills for very wide values are not known yet;
// the Dune client charges what Dune reports once it is read).
func Estimate(rows, columns int) int64 {
	return int64(max(rows, 0)) * int64(max(columns, 0))
}

// Budget is a cumulative datapoint budget per caller. The zero limit means
// unlimited. It is safe for concurrent use.
type Budget struct {
	limit int64

	mu       sync.Mutex
	spent    map[string]int64
	reserved map[string]int64 // by calls still reading
}

// NewBudget returns a budget of limit datapoints per caller (0: unlimited).
func NewBudget(limit int64) *Budget {
	return &Budget{limit: max(limit, 0), spent: map[string]int64{}, reserved: map[string]int64{}}
}

// Limited reports whether the budget has a limit.
func (b *Budget) Limited() bool { return b.limit > 0 }

// Limit is the budget per caller, 0 when unlimited.
func (b *Budget) Limit() int64 { return b.limit }

// Left returns what caller may still spend: the limit minus what was spent
// and what calls in progress have reserved (meaningless when unlimited).
func (b *Budget) Left(caller string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return max(b.limit-b.spent[caller]-b.reserved[caller], 0)
}

// Reserve sets n datapoints aside for a read caller is about to make, if
// that much is left; concurrent calls then cannot spend it too. Settle
// releases the reservation.
func (b *Budget) Reserve(caller string, n int64) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.limit > 0 && b.spent[caller]+b.reserved[caller]+n > b.limit {
		return false
	}
	b.reserved[caller] += max(n, 0)
	return true
}

// Settle records what a call spent and releases what it had reserved.
func (b *Budget) Settle(caller string, reserved, spent int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reserved[caller] = max(b.reserved[caller]-max(reserved, 0), 0)
	if b.reserved[caller] == 0 {
		delete(b.reserved, caller)
	}
	b.spent[caller] += max(spent, 0)
}

// Spent returns what caller has spent so far.
func (b *Budget) Spent(caller string) int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.spent[caller]
}
