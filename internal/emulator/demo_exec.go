package emulator

import (
	"slices"
	"strings"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
)

// DemoWalletAddress is the wallet of the registered run of DemoWallet.
const DemoWalletAddress = "0x1234567890abcdef1234567890abcdef12345678"

// demoColumnError is the SQL error of DemoFailed.
var demoColumnError = dune.ExecutionErrorInfo{
	Type:    "FAILED_TYPE_EXECUTION_FAILED",
	Message: "line 1:8: Column 'x' cannot be resolved at line 1, position 8. Please verify that this column exists using the data explorer.",
	Line:    1, Column: 8,
}

// addDemoProfiles sets the demo queries' execution profiles and parameters.
// Queries not named here get DefaultProfile and serve their registered rows.
func addDemoProfiles(s *Server) {
	quick := DefaultProfile()
	with := func(f func(p *Profile)) Profile {
		p := quick
		f(&p)
		return p
	}
	s.SetProfile(DemoFailed, with(func(p *Profile) { p.Outcome, p.Error = OutcomeFailed, &demoColumnError }))
	s.SetProfile(DemoPartial, with(func(p *Profile) { p.Outcome = OutcomePartial }))
	s.SetProfile(DemoExecuting, with(func(p *Profile) { p.Outcome = OutcomeTimeout }))
	queued := DailySeries(30, DemoPending)
	s.SetProfile(DemoPending, with(func(p *Profile) {
		p.Queue, p.QueuePositions, p.Dataset = 3*time.Second, 3, fixed(queued)
	}))
	tiny := Tiny()
	s.SetProfile(DemoCancelled, with(func(p *Profile) { p.Dataset = fixed(tiny) }))
	fresh := DailySeries(365, DemoExpired)
	s.SetProfile(DemoExpired, with(func(p *Profile) { p.Dataset = fixed(fresh) }))

	d := demoSets()
	s.SetParams(DemoByChain, Param{Name: "chain", Default: "ethereum"})
	s.SetProfile(DemoByChain, with(func(p *Profile) {
		p.Dataset = func(params map[string]string) *Dataset {
			if c := params["chain"]; c == "ethereum" || c == "base" {
				return d[c]
			}
			return DailySeries(365, int64(paramSeed(DemoByChain, params)>>1))
		}
	}))
	tt := demoTopTokens()
	s.SetParams(DemoTopTokens, Param{Name: "chain", Default: "ethereum"}, Param{Name: "period", Default: "7d"})
	s.SetProfile(DemoTopTokens, with(func(p *Profile) {
		p.Dataset = func(params map[string]string) *Dataset {
			if ds, ok := tt[params["chain"]+"/"+params["period"]]; ok {
				return ds
			}
			return topTokens(params["chain"]+"_"+params["period"], 15)
		}
	}))
	s.SetParams(DemoWallet, Param{Name: "wallet", Required: true})
	s.SetProfile(DemoWallet, with(func(p *Profile) {
		p.Dataset = func(params map[string]string) *Dataset { return WalletActivity(params["wallet"]) }
	}))
}

func fixed(ds *Dataset) func(map[string]string) *Dataset {
	return func(map[string]string) *Dataset { return ds }
}

// WalletActivity returns the DEX trades of one wallet (DEXTrades' 22
// columns, taker = wallet), 20 to 119 rows, their number and values derived
// from the address (case-insensitively).
func WalletActivity(wallet string) *Dataset {
	seed := hashString(strings.ToLower(wallet))
	n := 20 + int(seed%100)
	base := DEXTrades(n, int64(seed>>1))
	taker := slices.IndexFunc(base.Columns, func(c dune.Column) bool { return c.Name == "taker" })
	return GeneratedDataset("wallet_activity", base.Columns, n, func(i int) dune.Row {
		row := base.Row(i)
		row[taker] = wallet
		return row
	})
}
