package emulator

import (
	"encoding/json"
	"slices"
	"strconv"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
)

// Reading rows into a reused buffer gives the wanted columns exactly as
// Row does, and nothing else: no value leaks from the previous row.
func TestRowColsIntoReusesTheBufferCleanly(t *testing.T) {
	ds := DEXTrades(3000, 5)
	cols := []int{dAmountUSD, dTxTo, dBoughtSymbol}
	want := ds.wantCols(cols)
	var buf dune.Row
	for i := range ds.Len() {
		buf = ds.rowColsInto(i, want, buf)
		full := ds.Row(i)
		for j := range ds.Columns {
			if slices.Contains(cols, j) {
				if buf[j] != full[j] {
					t.Fatalf("row %d column %s: %v, Row has %v", i, ds.Columns[j].Name, buf[j], full[j])
				}
			} else if buf[j] != nil {
				t.Fatalf("row %d column %s: %v, want nil (not wanted)", i, ds.Columns[j].Name, buf[j])
			}
		}
	}
}

// orderRows sorts by amount_usd as the float values order, NULLs last in
// both directions, ties in stored order; checked against a sort of the
// parsed values.
func TestOrderRowsSortsDEXAmounts(t *testing.T) {
	ds := DEXTrades(5000, 9)
	amount := func(i int) (float64, bool) {
		v := ds.Row(i)[dAmountUSD]
		if v == nil {
			return 0, false
		}
		f, err := strconv.ParseFloat(string(v.(json.Number)), 64)
		if err != nil {
			t.Fatalf("row %d amount_usd %v: %v", i, v, err)
		}
		return f, true
	}
	nulls := 0
	for _, desc := range []bool{false, true} {
		expr := "amount_usd asc"
		if desc {
			expr = "amount_usd desc"
		}
		got, err := orderRows(ds, "", expr, nil)
		if err != nil {
			t.Fatal(err)
		}
		want := make([]int32, ds.Len())
		for i := range want {
			want[i] = int32(i)
		}
		slices.SortStableFunc(want, func(x, y int32) int {
			a, aok := amount(int(x))
			b, bok := amount(int(y))
			switch {
			case !aok && !bok:
				return 0
			case !aok:
				return 1
			case !bok:
				return -1
			case a == b:
				return 0
			case (a < b) != desc:
				return -1
			}
			return 1
		})
		if !slices.Equal(got, want) {
			t.Fatalf("%s: order differs from the parsed values' order", expr)
		}
		if _, ok := amount(int(got[len(got)-1])); ok {
			t.Fatalf("%s: the last row has an amount; NULLs should sort last", expr)
		}
		for _, idx := range got {
			if _, ok := amount(int(idx)); !ok {
				nulls++
			}
		}
	}
	if nulls == 0 {
		t.Fatal("no NULL amounts in the sample: the test checks nothing about NULLs")
	}
}
