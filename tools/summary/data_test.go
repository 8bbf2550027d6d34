package summary

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
)

// Test data built here (independent of dune/emulator): deterministic pages
// shaped like real Dune results.

var testNow = time.Date(2024, 2, 12, 23, 10, 0, 0, time.UTC)

func testEnded() *time.Time {
	t := time.Date(2024, 2, 12, 21, 5, 50, 199442351, time.UTC)
	return &t
}

// dexColumns mirror fixtures/results_page_with_next_uri.json.
var dexColumns = []dune.Column{
	{Name: "amount_usd", Type: "double"},
	{Name: "block_date", Type: "timestamp(3) with time zone"},
	{Name: "token_bought_symbol", Type: "varchar"},
	{Name: "token_pair", Type: "varchar"},
	{Name: "block_time", Type: "timestamp(3) with time zone"},
	{Name: "blockchain", Type: "varchar"},
	{Name: "evt_index", Type: "bigint"},
	{Name: "block_month", Type: "date"},
	{Name: "maker", Type: "varbinary"},
	{Name: "project", Type: "varchar"},
	{Name: "project_contract_address", Type: "varbinary"},
	{Name: "taker", Type: "varbinary"},
	{Name: "token_bought_address", Type: "varbinary"},
	{Name: "token_bought_amount", Type: "double"},
	{Name: "token_bought_amount_raw", Type: "uint256"},
	{Name: "token_sold_address", Type: "varbinary"},
	{Name: "token_sold_amount", Type: "double"},
	{Name: "token_sold_amount_raw", Type: "uint256"},
	{Name: "token_sold_symbol", Type: "varchar"},
	{Name: "tx_from", Type: "varbinary"},
	{Name: "tx_hash", Type: "varbinary"},
	{Name: "tx_to", Type: "varbinary"},
}

func hexString(r *rand.Rand, nBytes int) string {
	const digits = "0123456789abcdef"
	b := make([]byte, 2+2*nBytes)
	b[0], b[1] = '0', 'x'
	for i := 2; i < len(b); i++ {
		b[i] = digits[r.IntN(16)]
	}
	return string(b)
}

func uintString(r *rand.Rand, digits int) string {
	b := make([]byte, digits)
	b[0] = byte('1' + r.IntN(9))
	for i := 1; i < digits; i++ {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

// dexRows builds n DEX-trade-like rows: addresses, uint256 strings, doubles,
// timestamps, low-cardinality symbols and nulls.
func dexRows(n int, seed uint64) []dune.Row {
	r := rand.New(rand.NewPCG(seed, 7))
	symbols := []string{"WETH", "USDC", "USDT", "WBNB", "DAI", "GMT", "USDG"}
	chains := []string{"ethereum", "bnb", "arbitrum"}
	projects := []string{"uniswap", "pancakeswap", "sushiswap", "curve"}
	routers := []string{hexString(r, 20), hexString(r, 20), hexString(r, 20)}
	base := time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC)
	rows := make([]dune.Row, n)
	for i := range rows {
		t := base.Add(time.Duration(r.Int64N(int64(400 * 24 * time.Hour))))
		var amountUSD any
		if r.IntN(10) > 0 {
			amountUSD = json.Number(strconv.FormatFloat(r.ExpFloat64()*500, 'g', -1, 64))
		}
		bought := symbols[r.IntN(len(symbols))]
		var sold any = symbols[r.IntN(len(symbols))]
		var pair any = bought + "-" + sold.(string)
		if r.IntN(20) == 0 {
			sold, pair = nil, nil
		}
		var maker any
		if r.IntN(4) == 0 {
			maker = hexString(r, 20)
		}
		taker := hexString(r, 20)
		var soldAmount any = json.Number(strconv.FormatFloat(r.Float64()*1e4, 'g', -1, 64))
		if r.IntN(15) == 0 {
			soldAmount = nil
		}
		rows[i] = dune.Row{
			amountUSD,
			t.Truncate(24 * time.Hour).Format("2006-01-02 15:04:05.000 UTC"),
			bought,
			pair,
			t.Truncate(time.Second).Format("2006-01-02 15:04:05.000 UTC"),
			chains[r.IntN(len(chains))],
			json.Number(strconv.Itoa(r.IntN(500))),
			time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).Format(time.RFC3339),
			maker,
			projects[r.IntN(len(projects))],
			hexString(r, 20),
			taker,
			hexString(r, 20),
			json.Number(strconv.FormatFloat(r.Float64()*3000, 'g', -1, 64)),
			uintString(r, 15+r.IntN(10)),
			hexString(r, 20),
			soldAmount,
			uintString(r, 15+r.IntN(10)),
			sold,
			taker,
			hexString(r, 32),
			routers[r.IntN(len(routers))],
		}
	}
	return rows
}

func dexPage(n, total int) Page {
	rows := dexRows(n, 1)
	return Page{
		Tool:          "get_latest_result",
		QueryID:       3426636,
		ExecutionID:   "01HPFJ7VSFXPTA8WPMDKBXE167",
		State:         dune.StateCompleted,
		EndedAt:       testEnded(),
		Columns:       dexColumns,
		Rows:          rows,
		StatsRows:     rows,
		TotalRowCount: total,
		Datapoints:    n * len(dexColumns),
		Now:           testNow,
	}
}

func widePage(nRows, nCols int) Page {
	r := rand.New(rand.NewPCG(3, 3))
	types := []string{"varchar", "double", "bigint", "uint256", "timestamp(3) with time zone", "boolean"}
	cols := make([]dune.Column, nCols)
	for i := range cols {
		cols[i] = dune.Column{Name: fmt.Sprintf("metric_%03d", i), Type: types[i%len(types)]}
	}
	rows := make([]dune.Row, nRows)
	for i := range rows {
		row := make(dune.Row, nCols)
		for c := range row {
			if r.IntN(30) == 0 {
				continue
			}
			switch types[c%len(types)] {
			case "varchar":
				row[c] = fmt.Sprintf("label-%d", r.IntN(50))
			case "double":
				row[c] = json.Number(strconv.FormatFloat(r.NormFloat64()*100, 'g', -1, 64))
			case "bigint":
				row[c] = json.Number(strconv.Itoa(r.IntN(1_000_000) - 500_000))
			case "uint256":
				row[c] = uintString(r, 20+r.IntN(40))
			case "boolean":
				row[c] = r.IntN(2) == 0
			default:
				row[c] = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(r.Int64N(1e16))).Format("2006-01-02 15:04:05.000 UTC")
			}
		}
		rows[i] = row
	}
	return Page{
		Tool: "get_latest_result", QueryID: 1002, ExecutionID: "01HWIDE0000000000000000000", State: dune.StateCompleted,
		EndedAt: testEnded(), Columns: cols, Rows: rows, StatsRows: rows, TotalRowCount: nRows * 10,
		Datapoints: nRows * nCols, Now: testNow,
	}
}

// longTextPage has a body column of cellBytes characters per row.
func longTextPage(nRows, cellBytes int) Page {
	r := rand.New(rand.NewPCG(5, 5))
	words := strings.Fields("the quick brown fox jumps over the lazy dog, and \"quotes\" with commas, then\nnew lines; dune query results are long sometimes")
	cols := []dune.Column{{Name: "id", Type: "bigint"}, {Name: "title", Type: "varchar"}, {Name: "body", Type: "varchar"}}
	rows := make([]dune.Row, nRows)
	for i := range rows {
		var b strings.Builder
		for b.Len() < cellBytes {
			b.WriteString(words[r.IntN(len(words))])
			b.WriteByte(' ')
		}
		body := b.String()[:cellBytes]
		rows[i] = dune.Row{json.Number(strconv.Itoa(i + 1)), fmt.Sprintf("post %d, about \"things\"", i+1), body}
	}
	return Page{
		Tool: "get_latest_result", QueryID: 1003, ExecutionID: "01HLONG0000000000000000000", State: dune.StateCompleted,
		EndedAt: testEnded(), Columns: cols, Rows: rows, StatsRows: rows, TotalRowCount: nRows * 3,
		Datapoints: nRows * 3, Now: testNow,
	}
}

func emptyPage() Page {
	return Page{
		Tool: "get_latest_result", QueryID: 1008, ExecutionID: "01HEMPTY000000000000000000", State: dune.StateCompleted,
		EndedAt: testEnded(), Columns: dexColumns[:3], Rows: []dune.Row{}, StatsRows: []dune.Row{}, Now: testNow,
	}
}

func singleRowPage() Page {
	p := dexPage(1, 1)
	return p
}

// testCursor mimics the tools' signed cursors (base64url, ~90 chars,
// empty when nothing is left).
func testCursor(p Page) CursorFunc {
	return func(shown int) string {
		next := p.Offset + shown
		if p.SampleCount > 0 || next >= p.TotalRowCount {
			return ""
		}
		return "AQUB" + strings.Repeat("kZ3xQ8vLm2Tn", 6) + "_" + strconv.Itoa(next) + "_Hk3J9aQ2xW8pL0mN4bV7cR1t"
	}
}
