package filter

import (
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
)

// Numbers that float64 cannot tell apart (or cannot hold) must still sort
// exactly: SortKeys orders them as big.Rat does, NULLs last in both
// directions, ties in stored order.
func TestSortKeysNumbersExactly(t *testing.T) {
	texts := []string{
		"0.1", "0.10000000000000000001", "0.09999999999999999999", "0.1000",
		"9007199254740993", "9007199254740992", "9007199254740994",
		"115792089237316195423570985008687907853269984665640564039457584007913129639935",
		"115792089237316195423570985008687907853269984665640564039457584007913129639934",
		"1e400", "1e401", "-1e400", "1e-400", "-1e-400", "2e-400", "0", "-0", "0.0",
		"1e308", "1.7976931348623157e308", "1.7976931348623159e308", "-5", "-5.0000000000000000001", "3", "3.0",
	}
	rnd := rand.New(rand.NewPCG(1, 2))
	var rows []dune.Row
	var vals []*big.Rat // nil: NULL
	for id := range 400 {
		var v any
		var r *big.Rat
		if k := rnd.IntN(len(texts) + 2); k < len(texts) {
			r, _ = new(big.Rat).SetString(texts[k])
			if r == nil {
				t.Fatalf("big.Rat cannot read %q", texts[k])
			}
			if k%2 == 0 {
				v = json.Number(texts[k])
			} else {
				v = texts[k] // uint256-style decimal string
			}
		}
		rows = append(rows, dune.Row{json.Number(string(rune('0' + id%10))), v})
		vals = append(vals, r)
	}
	cols := []dune.Column{{Name: "id", Type: "integer"}, {Name: "amount", Type: "double"}}
	for _, desc := range []bool{false, true} {
		expr := "amount asc"
		if desc {
			expr = "amount desc"
		}
		s, err := ParseSort(expr, cols)
		if err != nil {
			t.Fatal(err)
		}
		keys := s.NewSortKeys(len(rows))
		perm := make([]int32, len(rows))
		for i, r := range rows {
			keys.Set(i, r)
			perm[i] = int32(i)
		}
		keys.Sort(perm)
		want := make([]int32, len(rows))
		for i := range want {
			want[i] = int32(i)
		}
		slices.SortStableFunc(want, func(x, y int32) int {
			a, b := vals[x], vals[y]
			switch {
			case a == nil && b == nil:
				return 0
			case a == nil:
				return 1
			case b == nil:
				return -1
			}
			if desc {
				return b.Cmp(a)
			}
			return a.Cmp(b)
		})
		if !slices.Equal(perm, want) {
			for i := range perm {
				if perm[i] != want[i] {
					t.Fatalf("%s: position %d holds row %d (%v), want row %d (%v)", expr, i, perm[i], rows[perm[i]][1], want[i], rows[want[i]][1])
				}
			}
		}
	}
}
