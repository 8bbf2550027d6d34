package filter

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
)

var benchCols = []dune.Column{
	{Name: "amount_usd", Type: "double"},
	{Name: "block_time", Type: "timestamp(3) with time zone"},
	{Name: "blockchain", Type: "varchar"},
	{Name: "evt_index", Type: "bigint"},
	{Name: "token_bought_amount_raw", Type: "uint256"},
	{Name: "token_bought_symbol", Type: "varchar"},
	{Name: "tx_to", Type: "varbinary"},
}

// benchRows builds n DEX-trade-like rows the way Dune encodes them.
func benchRows(n int) []dune.Row {
	rng := rand.New(rand.NewPCG(11, 12))
	chains := []string{"ethereum", "bnb", "arbitrum", "base", "optimism"}
	syms := []string{"WETH", "USDC", "USDT", "WBNB", "GMT", "USDG", "DAI"}
	start := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]dune.Row, n)
	for i := range rows {
		var amount any
		if rng.IntN(10) > 0 {
			amount = json.Number(fmt.Sprint(rng.Float64() * 100000))
		}
		rows[i] = dune.Row{
			amount,
			start.Add(time.Duration(rng.Int64N(int64(10 * 24 * time.Hour)))).Truncate(time.Second).Format("2006-01-02 15:04:05.000 UTC"),
			chains[rng.IntN(len(chains))],
			json.Number(fmt.Sprint(rng.IntN(500))),
			fmt.Sprintf("%d%018d", rng.IntN(100000), rng.Int64N(1e18)),
			syms[rng.IntN(len(syms))],
			fmt.Sprintf("0x%040x", rng.IntN(50)),
		}
	}
	return rows
}

func BenchmarkMatch100k(b *testing.B) {
	rows := benchRows(100_000)
	for _, expr := range []string{
		"blockchain = 'ethereum' AND amount_usd > 1000",
		"block_time >= '2024-03-05 15:03' AND token_bought_symbol IN ('WETH', 'USDC')",
		"token_bought_amount_raw > 50000000000000000000000 OR tx_to IN (0x0000000000000000000000000000000000000001, 0x0000000000000000000000000000000000000002)",
		"token_bought_symbol LIKE '%US%' AND amount_usd IS NOT NULL",
	} {
		f := mustParse(b, expr, benchCols)
		b.Run(expr[:20], func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				hits := 0
				for _, r := range rows {
					if f.Match(r) {
						hits++
					}
				}
				if hits == 0 {
					b.Fatal("no hits")
				}
			}
		})
	}
}

func BenchmarkSort100k(b *testing.B) {
	rows := benchRows(100_000)
	s, err := ParseSort("amount_usd desc, block_time", benchCols)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("SortRows", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			s.SortRows(slices.Clone(rows))
		}
	})
	b.Run("SortStableFunc(Compare)", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			slices.SortStableFunc(slices.Clone(rows), s.Compare)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("chain in ('base', 'optimism') and token_pair like '%USDC%' or volume_usd >= 10000", docCols); err != nil {
			b.Fatal(err)
		}
	}
}
