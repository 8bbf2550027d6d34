package filter

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
)

// Addresses of real length (20 bytes) used by the documented IN example.
const (
	addrA = "0x6a3e8a4b5c1d2e3f40516273849aabbccddeeff0"
	addrB = "0xdbf80d0c1b2a39485766aabbccddeeff00112233"
	addrC = "0x1111111254eeb25477b68fb85ed929f73a960582"
)

// docCols covers every column named in the spec's section 4 examples, typed
// as Dune would type them.
var docCols = []dune.Column{
	{Name: "block_time", Type: "timestamp(3) with time zone"},
	{Name: "tx_to", Type: "varbinary"},
	{Name: "special, column", Type: "varchar"},
	{Name: "token_symbol", Type: "varchar"},
	{Name: "project", Type: "varchar"},
	{Name: "volume_usd", Type: "double"},
	{Name: "amount_usd", Type: "double"},
	{Name: "token.symbol", Type: "varchar"},
	{Name: "chain", Type: "varchar"},
	{Name: "token_pair", Type: "varchar"},
	{Name: "number", Type: "integer"},
	{Name: "raw", Type: "uint256"},
	{Name: "block_month", Type: "date"},
	{Name: "is_whale", Type: "boolean"},
	{Name: "tags", Type: "array(varchar)"},
	{Name: "🚀 price", Type: "double"},
	{Name: `say "hi"`, Type: "varchar"},
}

func n(s string) json.Number { return json.Number(s) }

// mkRow builds a row in cols order from name → value.
func mkRow(cols []dune.Column, vals map[string]any) dune.Row {
	r := make(dune.Row, len(cols))
	for name, v := range vals {
		i := slices.IndexFunc(cols, func(c dune.Column) bool { return c.Name == name })
		if i < 0 {
			panic("no column " + name)
		}
		r[i] = v
	}
	return r
}

// docRows are the rows the documented examples are evaluated over.
var docRows = []dune.Row{
	mkRow(docCols, map[string]any{
		"block_time": "2024-03-05 15:03:00.000 UTC", "tx_to": addrA, "special, column": "ABC",
		"token_symbol": "WETH", "project": "uniswap", "volume_usd": n("50000"), "amount_usd": n("1.5"),
		"token.symbol": "USDC", "chain": "base", "token_pair": "WETH-USDC", "number": n("1"),
		"raw": "2985646787349243786078", "block_month": "2024-03-01T00:00:00Z", "is_whale": true,
		"tags": []any{"a"}, "🚀 price": n("3.5"), `say "hi"`: "hi",
	}),
	mkRow(docCols, map[string]any{
		"block_time": "2024-03-05 15:02:59.999 UTC", "tx_to": addrB, "special, column": "abc",
		"token_symbol": "WETH.e", "project": "sushiswap", "volume_usd": n("100000"), "amount_usd": nil,
		"token.symbol": "usdc", "chain": "optimism", "token_pair": "USDC-DAI", "number": n("2"),
		"raw": "18446744073709551617", "block_month": "2024-03-01T00:00:00Z", "is_whale": false,
		"🚀 price": n("1e2"),
	}),
	mkRow(docCols, map[string]any{
		"block_time": "2023-01-03 00:00:00.000 UTC", "tx_to": addrC, "special, column": "ABC ",
		"token_symbol": "weth", "project": "curve", "volume_usd": n("9999.99"), "amount_usd": n("0"),
		"token.symbol": "USDC", "chain": "ethereum", "token_pair": "usdc-weth", "number": n("3"),
		"raw": "9007199254740993", "block_month": "2023-01-01T00:00:00Z",
	}),
	mkRow(docCols, map[string]any{
		"block_time": "2023-01-03 00:00:00.001 UTC", "special, column": nil,
		"token_symbol": "WETH", "project": "balancer", "volume_usd": n("1e4"), "amount_usd": n("-3.2"),
		"chain": "base", "number": nil, "raw": "0",
	}),
	make(dune.Row, len(docCols)), // all NULL
}

// matching returns the indexes of rows f matches.
func matching(f *Filter, rows []dune.Row) []int {
	out := []int{}
	for i, r := range rows {
		if f.Match(r) {
			out = append(out, i)
		}
	}
	return out
}

// untyped returns cols with every type removed, as the fixtures come.
func untyped(cols []dune.Column) []dune.Column {
	out := make([]dune.Column, len(cols))
	for i, c := range cols {
		out[i] = dune.Column{Name: c.Name}
	}
	return out
}

func mustParse(t testing.TB, expr string, cols []dune.Column) *Filter {
	t.Helper()
	f, err := Parse(expr, cols)
	if err != nil {
		t.Fatalf("Parse(%q): %v", expr, err)
	}
	return f
}

// errInfo extracts the type, kind and position of a parse error.
func errInfo(err error) (typ string, k ErrorKind, pos int) {
	var se *SyntaxError
	var fe *Error
	switch {
	case errors.As(err, &se):
		return "syntax", "", se.Pos
	case errors.As(err, &fe):
		return "semantic", fe.Kind, fe.Pos
	case err == nil:
		return "nil", "", 0
	}
	return fmt.Sprintf("%T", err), "", 0
}
