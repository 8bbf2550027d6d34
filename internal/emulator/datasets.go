package emulator

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
)

// wideTypes cycle over the columns of Wide.
var wideTypes = []string{"bigint", "double", "varchar", "timestamp", "boolean", "varbinary", "uint256", "date"}

var words = strings.Fields(`swap pool liquidity token vault bridge router oracle epoch block
validator staking reward yield curve whale arbitrage slippage gas fee mint burn airdrop
governance proposal vote treasury emission lending borrow collateral liquidation price
market volume trader wallet contract deploy upgrade proxy layer rollup sequencer batch
settlement finality mempool nonce signature address balance transfer approve allowance`)

// Wide returns a rows x cols dataset whose column types cycle through
// bigint, double, varchar, timestamp, boolean, varbinary, uint256 and date
// (names like "c007_date"), with about 5% NULLs.
func Wide(rows, cols int, seed int64) *Dataset {
	cs := make([]dune.Column, cols)
	for j := range cs {
		t := wideTypes[j%len(wideTypes)]
		cs[j] = dune.Column{Name: fmt.Sprintf("c%03d_%s", j, t), Type: t}
	}
	return GeneratedDataset("wide", cs, rows, func(i int) dune.Row {
		row := make(dune.Row, cols)
		r := newRnd(seed, i, 2)
		for j := range row {
			h := r.next()
			if h%20 == 0 && j > 0 {
				continue // NULL
			}
			row[j] = wideCell(j%len(wideTypes), h, i)
		}
		return row
	})
}

func wideCell(kind int, h uint64, i int) any {
	switch kind {
	case 0:
		if h&3 == 0 {
			return numInt(int64(i))
		}
		return numInt(int64(h>>40) - 1<<22)
	case 1:
		return numFloat(round(float64(h>>11)/(1<<53)*1e4, 4))
	case 2:
		return words[h%uint64(len(words))] + "_" + words[(h>>16)%uint64(len(words))]
	case 3:
		t := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(h%(180*86400)) * time.Second)
		return duneTimestamp(t)
	case 4:
		return h&1 == 1
	case 5:
		return hexFrom(h, 20)
	case 6:
		return strconv.FormatUint(h, 10) + strconv.FormatUint(mix64(h)%1e9, 10)
	default:
		d := time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, int(h%730))
		return d.Format("2006-01-02") + "T00:00:00Z"
	}
}

// LongText returns rows of forum-like posts: id bigint, title varchar, body
// varchar (1 to 20 KB of text with commas, quotes, newlines and some
// non-ASCII), word_count bigint, created_at timestamp.
func LongText(rows int, seed int64) *Dataset {
	cols := columnsOf(
		"id bigint", "title varchar", "body varchar", "word_count bigint", "created_at timestamp",
	)
	return GeneratedDataset("long_text", cols, rows, func(i int) dune.Row {
		r := newRnd(seed, i, 3)
		target := 1024 + r.intn(19*1024)
		var b strings.Builder
		b.Grow(target + 32)
		nw := 0
		for b.Len() < target {
			w := words[r.intn(len(words))]
			if nw%12 == 0 && len(w) > 0 {
				w = strings.ToUpper(w[:1]) + w[1:]
			}
			b.WriteString(w)
			nw++
			switch x := r.intn(40); {
			case x == 0:
				b.WriteString(".\n\n")
			case x < 3:
				b.WriteString(", ")
			case x == 3:
				b.WriteString(` "quoted" `)
			case x == 4:
				b.WriteString(" — café ")
			default:
				b.WriteByte(' ')
			}
		}
		title := fmt.Sprintf("Post %d: %s %s", i+1, words[r.intn(len(words))], words[r.intn(len(words))])
		created := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC).Add(time.Duration(i)*time.Hour + time.Duration(r.intn(3600))*time.Second)
		return dune.Row{numInt(int64(i + 1)), title, b.String(), numInt(int64(nw)), duneTimestamp(created)}
	})
}

// DailySeries returns one row per day from 2022-01-01: day timestamp,
// volume_usd double, trades bigint, active_traders bigint, avg_trade_usd
// double, fees_usd double. Metrics grow with a trend, a weekly cycle and
// noise; about 1% of fees_usd are NULL.
func DailySeries(days int, seed int64) *Dataset {
	cols := columnsOf(
		"day timestamp", "volume_usd double", "trades bigint", "active_traders bigint",
		"avg_trade_usd double", "fees_usd double",
	)
	start := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	return GeneratedDataset("daily_series", cols, days, func(i int) dune.Row {
		r := newRnd(seed, i, 4)
		d := start.AddDate(0, 0, i)
		trend := 1 + float64(i)/365
		week := 1 + 0.15*math.Sin(2*math.Pi*float64(d.Weekday())/7)
		trades := int64(20000 * trend * week * (1 + 0.1*r.normal()))
		if trades < 1 {
			trades = 1
		}
		avg := 450 * (1 + 0.2*r.normal())
		if avg < 5 {
			avg = 5
		}
		volume := float64(trades) * avg
		traders := int64(float64(trades) * (0.3 + 0.05*r.float()))
		row := dune.Row{
			d.Format("2006-01-02") + " 00:00:00.000 UTC",
			numFloat(round(volume, 2)),
			numInt(trades),
			numInt(traders),
			numFloat(round(avg, 4)),
			nil,
		}
		if !r.chance(0.01) {
			row[5] = numFloat(round(volume*0.003, 2))
		}
		return row
	})
}

// topTokens returns a small ranking (rank, symbol, volume_usd, trades) whose
// values depend on a label, for the parameterised demo queries.
func topTokens(label string, n int) *Dataset {
	cols := columnsOf("rank bigint", "token_symbol varchar", "volume_usd double", "trades bigint")
	seed := int64(hashString(label))
	syms := make([]string, 0, n)
	for _, c := range dexChains {
		for _, t := range c.tokens {
			if !slices.Contains(syms, t.symbol) {
				syms = append(syms, t.symbol)
			}
		}
	}
	rows := make([]dune.Row, 0, n)
	vol := 1e9 * (0.5 + float64(uint64(seed)%100)/100)
	for i := 0; i < n && i < len(syms); i++ {
		r := newRnd(seed, i, 5)
		k := (i + int(uint64(seed)%uint64(len(syms)))) % len(syms)
		vol *= 0.4 + 0.5*r.float()
		rows = append(rows, dune.Row{numInt(int64(i + 1)), syms[k], numFloat(round(vol, 2)), numInt(int64(vol/800) + 1)})
	}
	return NewDataset("top_tokens_"+label, cols, rows)
}
