package emulator

import (
	"encoding/binary"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/dune-mcp/dune-mcp/dune"
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

// demoEpoch is the timestamp of the demo executions' ids (plus their
// registration number in ms). It predates the clock of any real run, so ids
// minted later sort after the demo ones.
var demoEpoch = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)

// demoID is the id of the demo execution registered seq-th on the server,
// the pos-th (from 0) of queryID: a ULID with timestamp demoEpoch + seq ms
// and entropy queryID (8 bytes) and pos (2 bytes). It is the same in every
// process, so a cursor bound to a demo execution id (with a fixed
// DUNE_MCP_CURSOR_SECRET) pages on in the next `dune-mcp --demo` process.
func demoID(seq, queryID int64, pos int) string {
	var id ulid.ULID
	if err := id.SetTime(ulid.Timestamp(demoEpoch.Add(time.Duration(seq) * time.Millisecond))); err != nil {
		panic(err)
	}
	binary.BigEndian.PutUint64(id[6:14], uint64(queryID))
	binary.BigEndian.PutUint16(id[14:16], uint16(pos))
	return id.String()
}

// addDemoData registers the demo executions, with demoID's ids. It runs
// before anything else is registered, so their ids are the same in every
// process.
func addDemoData(s *Server) {
	d := demoSets()
	add := func(queryID int64, e Execution) string { return s.addExecution(queryID, e, true) }
	addQuery := func(queryID int64, ds *Dataset) { add(queryID, Execution{Dataset: ds}) }
	addQuery(DemoDEXTrades, d["dex"])
	addQuery(DemoWide, d["wide"])
	addQuery(DemoLongText, d["long"])
	addQuery(DemoDailySeries, d["daily"])
	addQuery(DemoTiny, d["tiny"])
	colErr := demoColumnError
	id := add(DemoFailed, Execution{State: dune.StateFailed, Error: &colErr})
	s.mu.Lock()
	s.execs[id].errInfo.Message += " [Execution ID: " + id + "]"
	s.mu.Unlock()
	add(DemoPartial, Execution{Dataset: d["partial"], Partial: true})
	addQuery(DemoEmpty, d["empty"])
	add(DemoExecuting, Execution{State: dune.StateExecuting})
	add(DemoByChain, Execution{Dataset: d["ethereum"], Params: map[string]string{"chain": "ethereum"}})
	add(DemoByChain, Execution{Dataset: d["base"], Params: map[string]string{"chain": "base"}})
	tt := demoTopTokens()
	for _, c := range []string{"ethereum", "arbitrum"} {
		for _, p := range []string{"7d", "30d"} {
			add(DemoTopTokens, Execution{Dataset: tt[c+"/"+p], Params: map[string]string{"chain": c, "period": p}})
		}
	}
	add(DemoCancelled, Execution{State: dune.StateCancelled})
	add(DemoExpired, Execution{State: dune.StateExpired})
	add(DemoPending, Execution{State: dune.StatePending})
	add(DemoWallet, Execution{Dataset: WalletActivity(DemoWalletAddress), Params: map[string]string{"wallet": DemoWalletAddress}})
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
