package emulator

import (
	"math"
	"strconv"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
)

// dexColumns are the 22 columns of Dune's dex.trades in the order of
// fixtures/results_page_with_next_uri.json's column_names.
var dexColumns = columnsOf(
	"amount_usd double", "block_date timestamp", "token_bought_symbol varchar", "token_pair varchar",
	"block_time timestamp", "blockchain varchar", "evt_index bigint", "block_month date",
	"maker varbinary", "project varchar", "project_contract_address varbinary", "taker varbinary",
	"token_bought_address varbinary", "token_bought_amount double", "token_bought_amount_raw uint256",
	"token_sold_address varbinary", "token_sold_amount double", "token_sold_amount_raw uint256",
	"token_sold_symbol varchar", "tx_from varbinary", "tx_hash varbinary", "tx_to varbinary",
)

// Column positions in dexColumns.
const (
	dAmountUSD = iota
	dBlockDate
	dBoughtSymbol
	dTokenPair
	dBlockTime
	dBlockchain
	dEvtIndex
	dBlockMonth
	dMaker
	dProject
	dPool
	dTaker
	dBoughtAddr
	dBoughtAmount
	dBoughtRaw
	dSoldAddr
	dSoldAmount
	dSoldRaw
	dSoldSymbol
	dTxFrom
	dTxHash
	dTxTo
)

type dexToken struct {
	symbol   string
	decimals int
	price    float64 // USD; 0 = unpriced (amount_usd NULL)
	weight   float64
	address  string
}

type dexProject struct {
	name    string
	weight  float64
	routers []string
}

type dexChain struct {
	name     string
	weight   float64
	projects []dexProject
	projSum  float64
	tokens   []dexToken
	tokSum   float64
}

func tok(chain, sym string, dec int, price, w float64) dexToken {
	return dexToken{symbol: sym, decimals: dec, price: price, weight: w,
		address: hexFrom(hashString(chain+"/token/"+sym), 20)}
}

func proj(chain, name string, w float64, nRouters int) dexProject {
	p := dexProject{name: name, weight: w}
	for k := 0; k < nRouters; k++ {
		p.routers = append(p.routers, hexFrom(hashString(chain+"/router/"+name+strconv.Itoa(k)), 20))
	}
	return p
}

// dexChains is the static market the DEX generator draws from: a few
// blockchains with their main projects and tokens, weighted so top-value
// statistics are meaningful.
var dexChains, dexChainSum = func() ([]dexChain, float64) {
	chains := []dexChain{
		{name: "ethereum", weight: 35,
			projects: []dexProject{proj("ethereum", "uniswap", 60, 3), proj("ethereum", "curve", 15, 1),
				proj("ethereum", "sushiswap", 10, 1), proj("ethereum", "balancer", 10, 1), proj("ethereum", "pancakeswap", 5, 1)},
			tokens: []dexToken{tok("ethereum", "WETH", 18, 3500, 40), tok("ethereum", "USDC", 6, 1, 25),
				tok("ethereum", "USDT", 6, 1, 15), tok("ethereum", "DAI", 18, 1, 5), tok("ethereum", "WBTC", 8, 65000, 5),
				tok("ethereum", "PEPE", 18, 0.0000105, 5), tok("ethereum", "LINK", 18, 15.2, 3), tok("ethereum", "UNI", 18, 8.4, 2)}},
		{name: "bnb", weight: 25,
			projects: []dexProject{proj("bnb", "pancakeswap", 80, 2), proj("bnb", "biswap", 12, 1), proj("bnb", "uniswap", 8, 1)},
			tokens: []dexToken{tok("bnb", "WBNB", 18, 590, 40), tok("bnb", "BUSD", 18, 1, 15), tok("bnb", "USDT", 18, 1, 25),
				tok("bnb", "CAKE", 18, 2.6, 10), tok("bnb", "GMT", 18, 0.21, 5), tok("bnb", "USDG", 18, 1, 5)}},
		{name: "arbitrum", weight: 15,
			projects: []dexProject{proj("arbitrum", "uniswap", 55, 2), proj("arbitrum", "camelot", 25, 1), proj("arbitrum", "sushiswap", 20, 1)},
			tokens: []dexToken{tok("arbitrum", "WETH", 18, 3500, 45), tok("arbitrum", "USDC", 6, 1, 30),
				tok("arbitrum", "ARB", 18, 1.05, 15), tok("arbitrum", "GMX", 18, 29.5, 10)}},
		{name: "base", weight: 15,
			projects: []dexProject{proj("base", "aerodrome", 55, 2), proj("base", "uniswap", 45, 2)},
			tokens: []dexToken{tok("base", "WETH", 18, 3500, 45), tok("base", "USDC", 6, 1, 30),
				tok("base", "DEGEN", 18, 0.012, 15), tok("base", "AERO", 18, 1.2, 10)}},
		{name: "polygon", weight: 10,
			projects: []dexProject{proj("polygon", "quickswap", 60, 1), proj("polygon", "uniswap", 40, 1)},
			tokens: []dexToken{tok("polygon", "WMATIC", 18, 0.71, 40), tok("polygon", "USDC", 6, 1, 35),
				tok("polygon", "WETH", 18, 3500, 25)}},
	}
	var sum float64
	for i := range chains {
		c := &chains[i]
		sum += c.weight
		for _, p := range c.projects {
			c.projSum += p.weight
		}
		for _, t := range c.tokens {
			c.tokSum += t.weight
		}
	}
	return chains, sum
}()

func chainWeights() []float64 {
	w := make([]float64, len(dexChains))
	for i, c := range dexChains {
		w[i] = c.weight
	}
	return w
}

var dexChainWeights = chainWeights()

// dexEnd is the newest block_time of a DEXTrades dataset; rows go back in
// time about one trade per minute (100,000 rows span ~69 days).
var dexEnd = time.Date(2024, 6, 30, 23, 59, 59, 0, time.UTC)

// DEXTrades returns n rows shaped exactly like Dune's dex.trades (the 22
// columns of fixtures/results_page_with_next_uri.json, same order, Dune
// types): a few blockchains and projects with skewed weights, repeat traders,
// uint256 raw amounts as decimal strings, lower-case 0x addresses and hashes,
// some NULL symbols, amounts, prices and makers. Rows are ordered by
// block_time descending. Same n and seed give the same rows.
func DEXTrades(n int, seed int64) *Dataset {
	some := func(i int, want []bool, buf dune.Row) dune.Row {
		r := newRnd(seed, i, 1)
		return dexFill(&r, seed, i, r.pickWeighted(dexChainWeights, dexChainSum), want, buf)
	}
	d := GeneratedDataset("dex_trades", append([]dune.Column(nil), dexColumns...), n, func(i int) dune.Row {
		return some(i, nil, nil)
	})
	d.genSome = some
	return d
}

// DEXTradesOn is DEXTrades restricted to one blockchain (one of ethereum,
// bnb, arbitrum, base, polygon; an unknown name falls back to ethereum).
func DEXTradesOn(blockchain string, n int, seed int64) *Dataset {
	ci := 0
	for k, c := range dexChains {
		if c.name == blockchain {
			ci = k
		}
	}
	some := func(i int, want []bool, buf dune.Row) dune.Row {
		r := newRnd(seed, i, 1)
		r.next() // keep the stream aligned with DEXTrades
		return dexFill(&r, seed, i, ci, want, buf)
	}
	d := GeneratedDataset("dex_trades_"+dexChains[ci].name, append([]dune.Column(nil), dexColumns...), n, func(i int) dune.Row {
		return some(i, nil, nil)
	})
	d.genSome = some
	return d
}

// dexFill computes one row. Every random draw happens whatever want says,
// so values do not depend on it; want (nil = all) only skips formatting the
// columns nobody reads, which stay nil. The row is buf, cleared, when buf
// has room for it.
func dexFill(r *rnd, seed int64, i, ci int, want []bool, buf dune.Row) dune.Row {
	row := buf[:0:cap(buf)]
	if cap(row) < len(dexColumns) {
		row = make(dune.Row, len(dexColumns))
	} else {
		row = row[:len(dexColumns)]
		clear(row)
	}
	need := func(j int) bool { return want == nil || want[j] }
	c := &dexChains[ci]

	// project
	x := r.float() * c.projSum
	p := &c.projects[len(c.projects)-1]
	for k := range c.projects {
		if x < c.projects[k].weight {
			p = &c.projects[k]
			break
		}
		x -= c.projects[k].weight
	}

	// time: strictly descending with i
	t := dexEnd.Add(-time.Duration(i)*time.Minute - time.Duration(r.intn(60))*time.Second)
	if need(dBlockTime) || need(dBlockDate) || need(dBlockMonth) {
		bt := duneTimestamp(t)
		if need(dBlockTime) {
			row[dBlockTime] = bt
		}
		if need(dBlockDate) {
			row[dBlockDate] = bt[:10] + " 00:00:00.000 UTC"
		}
		if need(dBlockMonth) {
			row[dBlockMonth] = bt[:7] + "-01T00:00:00Z"
		}
	}
	if need(dBlockchain) {
		row[dBlockchain] = c.name
	}
	if need(dProject) {
		row[dProject] = p.name
	}
	evt := int64(math.Floor(math.Pow(r.float(), 2) * 600))
	if need(dEvtIndex) {
		row[dEvtIndex] = numInt(evt)
	}

	// tokens
	pick := func() int {
		x := r.float() * c.tokSum
		for k, t := range c.tokens {
			if x < t.weight {
				return k
			}
			x -= t.weight
		}
		return len(c.tokens) - 1
	}
	bi := pick()
	si := pick()
	if si == bi {
		si = (bi + 1 + r.intn(len(c.tokens)-1)) % len(c.tokens)
	}
	bought, sold := c.tokens[bi], c.tokens[si]
	boughtKnown, soldKnown := !r.chance(0.03), !r.chance(0.03)
	needPool := need(dPool)
	if !boughtKnown {
		h := r.next()
		bought = dexToken{decimals: 18}
		if needPool || need(dBoughtAddr) {
			bought.address = hexFrom(h, 20)
		}
	}
	if !soldKnown {
		h := r.next()
		sold = dexToken{decimals: 18}
		if needPool || need(dSoldAddr) {
			sold.address = hexFrom(h, 20)
		}
	}

	// trade size: log-normal around ~$150, heavy tail
	usd := math.Exp(5 + 1.9*r.normal())
	if usd > 5e7 {
		usd = 5e7
	}
	slip := 1 + 0.003*r.normal()
	boughtPrice, soldPrice := bought.price, sold.price
	if boughtPrice == 0 {
		boughtPrice = 0.001 + r.float()
	}
	if soldPrice == 0 {
		soldPrice = 0.001 + r.float()
	}
	if need(dBoughtAmount) || need(dBoughtRaw) {
		bAmount, bRaw := dexAmount(usd/boughtPrice, bought.decimals)
		if need(dBoughtRaw) {
			row[dBoughtRaw] = bRaw
		}
		if boughtKnown && need(dBoughtAmount) {
			row[dBoughtAmount] = numFloat(bAmount)
		}
	}
	if need(dSoldAmount) || need(dSoldRaw) {
		sAmount, sRaw := dexAmount(usd*slip/soldPrice, sold.decimals)
		if need(dSoldRaw) {
			row[dSoldRaw] = sRaw
		}
		if soldKnown && need(dSoldAmount) {
			row[dSoldAmount] = numFloat(sAmount)
		}
	}
	if need(dBoughtAddr) {
		row[dBoughtAddr] = bought.address
	}
	if need(dSoldAddr) {
		row[dSoldAddr] = sold.address
	}
	if boughtKnown && need(dBoughtSymbol) {
		row[dBoughtSymbol] = bought.symbol
	}
	if soldKnown && need(dSoldSymbol) {
		row[dSoldSymbol] = sold.symbol
	}
	if boughtKnown && soldKnown {
		a, b := bought.symbol, sold.symbol
		if b < a {
			a, b = b, a
		}
		if need(dTokenPair) {
			row[dTokenPair] = a + "-" + b
		}
		// a few priced trades still miss amount_usd, as on Dune
		if !r.chance(0.05) {
			v := usd * (1 + 0.001*r.normal())
			if need(dAmountUSD) {
				row[dAmountUSD] = numFloat(v)
			}
		}
	} else if boughtKnown || soldKnown {
		if r.chance(0.5) && need(dAmountUSD) {
			row[dAmountUSD] = numFloat(usd)
		}
	}

	// pool: one per (chain, project, pair)
	if needPool {
		pa, pb := bought.address, sold.address
		if pb < pa {
			pa, pb = pb, pa
		}
		row[dPool] = hexFrom(hashString(c.name+p.name+pa+pb), 20)
	}

	// traders: a Zipf-like pool so some addresses repeat a lot
	traderBase := mix64(uint64(seed) ^ 0x7ade)
	trader := func() uint64 { return traderBase + uint64(int(math.Pow(r.float(), 3)*5000))*golden }
	taker := trader()
	var maker, from uint64
	hasMaker := r.chance(0.12)
	if hasMaker {
		maker = trader()
	}
	if r.chance(0.7) {
		from = taker
	} else {
		from = trader()
	}
	if need(dTaker) {
		row[dTaker] = hexFrom(taker, 20)
	}
	if hasMaker && need(dMaker) {
		row[dMaker] = hexFrom(maker, 20)
	}
	if need(dTxFrom) {
		row[dTxFrom] = hexFrom(from, 20)
	}
	if to := p.routers[r.intn(len(p.routers))]; need(dTxTo) {
		row[dTxTo] = to
	}
	h := r.next() ^ uint64(i)
	if need(dTxHash) {
		row[dTxHash] = hexFrom(h, 32)
	}
	return row
}

// dexAmount returns a token amount and its raw integer (amount scaled by
// 10^decimals) as a decimal string; the amount is recomputed from the raw
// value so the two agree.
func dexAmount(amount float64, decimals int) (float64, string) {
	raw := math.Floor(amount * math.Pow10(decimals))
	if raw < 1 {
		raw = 1
	}
	s := strconv.FormatFloat(raw, 'f', 0, 64)
	return raw / math.Pow10(decimals), s
}
