package emulator

import (
	"fmt"
	"strings"
	"sync"

	"dune-mcp/dune"
)

// DemoQuery describes one query registered by WithDemoData.
type DemoQuery struct {
	// ID is the query id to pass to /api/v1/query/{id}/results.
	ID int64
	// Name is a short title, e.g. "DEX trades".
	Name string
	// Description says what the result holds (size, columns, state).
	Description string
}

// Demo query ids.
const (
	DemoDEXTrades   int64 = 1001
	DemoWide        int64 = 1002
	DemoLongText    int64 = 1003
	DemoDailySeries int64 = 1004
	DemoTiny        int64 = 1005
	DemoFailed      int64 = 1006
	DemoPartial     int64 = 1007
	DemoEmpty       int64 = 1008
	DemoExecuting   int64 = 1009
	DemoByChain     int64 = 1010
	DemoTopTokens   int64 = 1011
	DemoCancelled   int64 = 1012
	DemoExpired     int64 = 1013
	DemoPending     int64 = 1014
	DemoWallet      int64 = 1015
)

// DemoQueries are the queries WithDemoData registers, with fixed ids.
var DemoQueries = []DemoQuery{
	{DemoDEXTrades, "DEX trades", "100,000 DEX trades shaped like Dune's dex.trades (22 columns: blockchain, project, token symbols and amounts, uint256 raw amounts, addresses, tx hashes, amount_usd with NULLs), newest first."},
	{DemoWide, "Wide table", "2,000 rows x 300 columns of mixed types (bigint, double, varchar, timestamp, boolean, varbinary, uint256, date)."},
	{DemoLongText, "Forum posts", "60 posts whose body column holds 1-20 KB of text each."},
	{DemoDailySeries, "Daily DEX volume", "3 years (1,096 days from 2022-01-01) of daily volume_usd, trades, active_traders, avg_trade_usd and fees_usd."},
	{DemoTiny, "Top DEX projects", "3 rows: rank, project, volume_usd (one NULL), launched."},
	{DemoFailed, "Broken query", "Latest execution FAILED: line 1:8: Column 'x' cannot be resolved. A new execution fails the same way."},
	{DemoPartial, "Large trades export", "Result truncated by Dune for size (QUERY_STATE_COMPLETED_PARTIAL): needs allow_partial_results=true; 5,000 rows."},
	{DemoEmpty, "No matching trades", "Completed with 0 rows (columns block_time, tx_hash, amount_usd)."},
	{DemoExecuting, "Long-running query", "Still executing: no result yet. A new execution never finishes: it fails at Dune's 30-minute execution timeout."},
	{DemoByChain, "Daily volume by chain", "Parameter chain (ethereum or base; default ethereum): one year of daily metrics per chain; latest run: base. Executing with another chain generates another year."},
	{DemoTopTokens, "Top tokens", "Parameters chain (ethereum, arbitrum; default ethereum) and period (7d, 30d; default 7d): a 15-row token ranking per combination; latest run: arbitrum/30d."},
	{DemoCancelled, "Cancelled query", "Latest execution was CANCELLED. A new execution completes with 3 rows."},
	{DemoExpired, "Old report", "Latest result EXPIRED (older than 90 days). A new execution completes with a fresh 365-day daily series."},
	{DemoPending, "Queued query", "Latest execution is PENDING in the queue. A new execution waits at queue positions 3, 2, 1 (3 s), runs 2 s and completes with 30 daily rows."},
	{DemoWallet, "Wallet activity", "Required parameter wallet (a 0x address, no default): the wallet's DEX trades, 20 to 119 rows x 22 columns depending on the address; latest run: wallet=" + DemoWalletAddress + " (53 rows)."},
}

// Demo datasets are shared by every demo server so their lazily computed
// sizes are computed once per process.
var demoSets = sync.OnceValue(func() map[string]*Dataset {
	return map[string]*Dataset{
		"dex":      DEXTrades(100000, 1001),
		"wide":     Wide(2000, 300, 1002),
		"long":     LongText(60, 1003),
		"daily":    DailySeries(1096, 1004),
		"tiny":     Tiny(),
		"partial":  DEXTrades(5000, 1007),
		"empty":    Empty(),
		"ethereum": DailySeries(365, 1010),
		"base":     DailySeries(365, 1011),
	}
})

var demoTopTokens = sync.OnceValue(func() map[string]*Dataset {
	m := map[string]*Dataset{}
	for _, c := range []string{"ethereum", "arbitrum"} {
		for _, p := range []string{"7d", "30d"} {
			m[c+"/"+p] = topTokens(c+"_"+p, 15)
		}
	}
	return m
})

func addDemoData(s *Server) {
	d := demoSets()
	s.AddQuery(DemoDEXTrades, d["dex"])
	s.AddQuery(DemoWide, d["wide"])
	s.AddQuery(DemoLongText, d["long"])
	s.AddQuery(DemoDailySeries, d["daily"])
	s.AddQuery(DemoTiny, d["tiny"])
	colErr := demoColumnError
	id := s.AddExecution(DemoFailed, Execution{State: dune.StateFailed, Error: &colErr})
	s.mu.Lock()
	s.execs[id].errInfo.Message += " [Execution ID: " + id + "]"
	s.mu.Unlock()
	s.AddExecution(DemoPartial, Execution{Dataset: d["partial"], Partial: true})
	s.AddQuery(DemoEmpty, d["empty"])
	s.AddExecution(DemoExecuting, Execution{State: dune.StateExecuting})
	s.AddExecution(DemoByChain, Execution{Dataset: d["ethereum"], Params: map[string]string{"chain": "ethereum"}})
	s.AddExecution(DemoByChain, Execution{Dataset: d["base"], Params: map[string]string{"chain": "base"}})
	tt := demoTopTokens()
	for _, c := range []string{"ethereum", "arbitrum"} {
		for _, p := range []string{"7d", "30d"} {
			s.AddExecution(DemoTopTokens, Execution{Dataset: tt[c+"/"+p], Params: map[string]string{"chain": c, "period": p}})
		}
	}
	s.AddExecution(DemoCancelled, Execution{State: dune.StateCancelled})
	s.AddExecution(DemoExpired, Execution{State: dune.StateExpired})
	s.AddExecution(DemoPending, Execution{State: dune.StatePending})
	s.AddExecution(DemoWallet, Execution{Dataset: WalletActivity(DemoWalletAddress), Params: map[string]string{"wallet": DemoWalletAddress}})
	addDemoProfiles(s)
}

// Describe lists the demo queries, one per line ("1001  DEX trades: ..."),
// for the standalone emulator's start-up message and documentation.
func Describe() string {
	var b strings.Builder
	for _, q := range DemoQueries {
		fmt.Fprintf(&b, "%d  %s: %s\n", q.ID, q.Name, q.Description)
	}
	return b.String()
}
