package emulator_test

import (
	"encoding/json"
	"strconv"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// edgeDataset is a small table of the values where typed comparison is easy
// to get wrong, beside the demo datasets: uint256 and int256 around 2^53,
// 2^64 and 2^256, doubles in exponent form, -0 and infinities, timestamps
// before 1970 and at the ends of the calendar written in several forms,
// text with LIKE wildcards, quotes, GLOB metacharacters and non-ASCII
// letters, varbinary in both cases, booleans, NULLs everywhere, and column
// names that need double quotes or differ only in case.
func edgeDataset() *emulator.Dataset {
	n := func(s string) json.Number { return json.Number(s) }
	cols := []struct {
		col  dune.Column
		vals []any
	}{
		{dune.Column{Name: "u256", Type: "uint256"}, []any{"0", "1", "9", "10", "9007199254740992", "9007199254740993",
			"18446744073709551615", "18446744073709551616", "18446744073709551617", "100000000000000000000",
			"115792089237316195423570985008687907853269984665640564039457584007913129639935",
			"115792089237316195423570985008687907853269984665640564039457584007913129639934", nil}},
		{dune.Column{Name: "i256", Type: "int256"}, []any{"-1", "0", "1", "-18446744073709551617", "-18446744073709551616",
			"-9007199254740993", "57896044618658097711785492504343953926634992332820282019728792003956564819967", nil}},
		{dune.Column{Name: "dbl", Type: "double"}, []any{n("0.1"), n("0.30000000000000004"), n("1e-7"), n("1.5e+25"),
			n("15000000000000000000000000"), n("-0"), n("0"), n("123.456"), n("-123.456"), n("1e300"), n("5e-324"),
			"Infinity", "-Infinity", n("2"), n("2.0"), nil}},
		{dune.Column{Name: "big", Type: "bigint"}, []any{n("-9223372036854775808"), n("9223372036854775807"), n("0"), n("1"), n("-1"), n("42"), nil}},
		{dune.Column{Name: "ts", Type: "timestamp"}, []any{"2024-03-05 15:03:01.250 UTC", "2024-03-05T15:03:01.25Z",
			"2024-03-05T17:03:01.250+02:00", "2024-03-05 15:03:01 UTC", "1969-12-31 23:59:59.999 UTC", "1970-01-01 00:00:00.000 UTC",
			"2024-02-29 12:00:00.000 UTC", "0001-01-01 00:00:00.000 UTC", "9999-12-31 23:59:59.999 UTC", "2023-12-31T23:59:59Z", nil}},
		{dune.Column{Name: "day", Type: "date"}, []any{"2024-03-05", "2024-03-05T00:00:00Z", "2024-03-06", "2000-02-29", "1900-03-01", nil}},
		{dune.Column{Name: "s", Type: "varchar"}, []any{"", "a", "A", "Z", "z", "a_b", "a%b", "axb", "a b", "café", "cafe", "CAFÉ",
			"naïve", "日本語", "emoji 🚀", "it's", `quote"d`, "trailing ", " leading", "0xabc", "0xABC", "a\nb", "[x]", "*star",
			"?q", "NULL", "true", "10", "9", nil}},
		{dune.Column{Name: "h", Type: "varbinary"}, []any{"0xabcdef", "0xABCDEF", "0xabcdee", "0x", "0x00", "0x0", "0xff", "0xFF00", nil}},
		{dune.Column{Name: "b", Type: "boolean"}, []any{true, false, nil}},
		{dune.Column{Name: "token.symbol", Type: "varchar"}, []any{"WETH", "weth", "USDC", nil}},
		{dune.Column{Name: "Mixed Case", Type: "double"}, []any{n("1"), n("-2.5"), n("1e3"), nil}},
		{dune.Column{Name: "in", Type: "bigint"}, []any{n("1"), n("2"), nil}},
		{dune.Column{Name: "Tag", Type: "varchar"}, []any{"x", "y", nil}},
		{dune.Column{Name: "tag", Type: "varchar"}, []any{"p", "q", "r", nil}},
	}
	const rows = 120
	out := make([]dune.Row, rows)
	columns := []dune.Column{{Name: "id", Type: "bigint"}}
	for _, c := range cols {
		columns = append(columns, c.col)
	}
	for i := range out {
		row := dune.Row{json.Number(strconv.Itoa(i))}
		for j, c := range cols {
			// Co-prime strides spread the combinations over the rows.
			row = append(row, c.vals[(i*(2*j+1)+j)%len(c.vals)])
		}
		out[i] = row
	}
	return emulator.NewDataset("edge", columns, out)
}
