package summary_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/tools/summary"
)

func ExampleSummarize() {
	ended := time.Date(2024, 3, 5, 20, 51, 2, 0, time.UTC)
	p := summary.Page{
		Tool: "get_latest_result", QueryID: 3493826, ExecutionID: "01HR8ZQ5SJ4X0Y9W1V2T3S4R5Q",
		State: dune.StateCompleted, EndedAt: &ended, Now: ended.Add(2*time.Hour + 10*time.Minute),
		Columns: []dune.Column{
			{Name: "block_time", Type: "timestamp(3) with time zone"}, {Name: "symbol", Type: "varchar"},
			{Name: "amount_usd", Type: "double"}, {Name: "amount_raw", Type: "uint256"}, {Name: "taker", Type: "varbinary"},
		},
		Rows: []dune.Row{
			{"2024-03-05 20:50:59.000 UTC", "WETH", json.Number("3812.5"), "1000000000000000000", "0x88bf5a2e82510847e5dcbf33f44a9f611f1c1df5"},
			{"2024-03-05 20:49:11.000 UTC", "WETH", nil, "2500000000000000000", "0x10ed43c718714eb63d5aa57b78b54704e256024e"},
			{"2024-03-05 20:48:40.000 UTC", "USDC, bridged", json.Number("12.03"), "12030000", "0x88bf5a2e82510847e5dcbf33f44a9f611f1c1df5"},
		},
		TotalRowCount: 1250, Datapoints: 15,
	}
	cursor := func(shown int) string { return fmt.Sprintf("AQU…cursor-after-%d", shown) }
	out, err := summary.Summarize(p, 8000, cursor)
	if err != nil {
		panic(err)
	}
	fmt.Println(out.Text)
	// Output:
	// get_latest_result · query 3493826 · execution 01HR8ZQ5SJ4X0Y9W1V2T3S4R5Q · QUERY_STATE_COMPLETED
	// ended 2024-03-05 20:51:02 UTC (2 h ago)
	// schema (5 columns, named in the CSV header; types in its order): timestamp(3) with time zone,varchar,double,uint256,varbinary
	// rows: 1,250 in result (6,250 datapoints to read in full) · 3 fetched this call (15 datapoints) · 3 shown (rows 1–3) · 1,247 left
	// stats over 3 fetched rows (not the whole result):
	// block_time: nulls 0 · min 2024-03-05 20:48:40.000 UTC · max 2024-03-05 20:50:59.000 UTC · distinct 3
	// symbol: nulls 0 · distinct 2 · top WETH×2
	// amount_usd: nulls 1 · min 12.03 · max 3812.5 · mean 1912.27 · distinct 2
	// amount_raw: nulls 0 · min 12030000 · max 2500000000000000000 · mean 1.16667e+18 · distinct 3
	// taker: nulls 0 · distinct 2 · top 0x88bf5a2e82510847e5dcbf33f44a9f611f1c1df5×2
	// rows 1–3 as CSV (one header line; empty = NULL):
	// block_time,symbol,amount_usd,amount_raw,taker
	// 2024-03-05 20:50:59.000 UTC,WETH,3812.5,1000000000000000000,0x88bf5a2e82510847e5dcbf33f44a9f611f1c1df5
	// 2024-03-05 20:49:11.000 UTC,WETH,,2500000000000000000,0x10ed43c718714eb63d5aa57b78b54704e256024e
	// 2024-03-05 20:48:40.000 UTC,"USDC, bridged",12.03,12030000,0x88bf5a2e82510847e5dcbf33f44a9f611f1c1df5
	// TRUNCATED: showing rows 1–3 of 1,250; 1,247 rows not shown.
	// next_cursor: AQU…cursor-after-3
	// (pass next_cursor to next_page to continue after the last row shown)
	// hints: fit more rows per call with columns=[…] (fewer columns), filters or sort_by (get the rows you need first), a larger max_tokens (≤ 25000), or profile the whole result with sample_result.
}
