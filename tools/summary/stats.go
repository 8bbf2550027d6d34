package summary

import (
	"cmp"
	"encoding/json"
	"hash/maphash"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// kind is how a column's values are compared and summarised.
type kind uint8

const (
	kindText   kind = iota // strings: distinct, top values, lengths
	kindNumber             // integers, doubles, decimals, uint256/int256 strings
	kindTime               // timestamps and dates, compared chronologically
	kindBool               // booleans
	kindOther              // arrays, maps, rows: distinct and top values of their JSON
)

const (
	// distinctBound bounds the exact distinct-count map of one column; past
	// it the count is reported as a lower bound.
	distinctBound = 1 << 17
	// lowCardinality: columns with at most this many distinct values get
	// top values.
	lowCardinality = 20
	// topKeep is how many top values statistics keep.
	topKeep = 10
	// topValueLimit bounds a top value's length in Structured.
	topValueLimit = CellLimit
)

// hashSeed is fixed for the process so that repeated calls agree.
var hashSeed = maphash.MakeSeed()

// kindOfType maps a Dune (Trino) type name to a kind; ok is false for an
// empty or unknown type.
func kindOfType(typ string) (kind, bool) {
	t := strings.ToLower(strings.TrimSpace(typ))
	if i := strings.IndexAny(t, "( "); i >= 0 {
		t = t[:i]
	}
	switch t {
	case "double", "real", "float", "bigint", "integer", "int", "smallint", "tinyint",
		"uint256", "int256", "decimal", "numeric", "long":
		return kindNumber, true
	case "timestamp", "date", "datetime":
		return kindTime, true
	case "boolean", "bool":
		return kindBool, true
	case "varchar", "char", "varbinary", "string", "json", "uuid", "ipaddress", "time", "interval":
		return kindText, true
	case "array", "map", "row":
		return kindOther, true
	}
	return kindText, false
}

// kindOfValue infers a kind from a value, for columns of unknown type.
func kindOfValue(v any) kind {
	switch v.(type) {
	case json.Number, float64, float32, int, int64, int32, uint64:
		return kindNumber
	case bool:
		return kindBool
	case string:
		return kindText
	}
	return kindOther
}

// colStats are the statistics of one column, computed in one pass.
type colStats struct {
	name, typ string
	kind      kind

	count   int // non-null values
	nulls   int
	invalid int // non-null values not readable as the kind

	hasRange bool
	min, max string // exactly as Dune wrote them

	hasMean bool
	mean    float64

	distinct      int
	distinctExact bool

	maxLen int // runes of the longest value, text columns

	top []schemas.TopValue // most frequent first; values not shortened
}

// distinctEntry counts one distinct value and remembers where it was first seen.
type distinctEntry struct {
	count int32
	first int32
}

// numVal is a parsed number that keeps its original text.
type numVal struct {
	s     string
	f     float64
	isInt bool
}

// timeVal is a parsed timestamp that keeps its original text.
type timeVal struct {
	s    string
	sec  int64
	nsec int32
}

// computeStats computes every column's statistics over rows in time linear
// in the number of cells. One distinct-count map is reused column after
// column, so memory stays bounded by the largest column's distinct values.
func computeStats(cols []dune.Column, rows []dune.Row) []colStats {
	out := make([]colStats, len(cols))
	m := make(map[uint64]distinctEntry, min(len(rows), distinctBound))
	for c, col := range cols {
		clear(m)
		out[c] = columnStats(col, c, rows, m)
	}
	return out
}

func columnStats(col dune.Column, c int, rows []dune.Row, m map[uint64]distinctEntry) colStats {
	st := colStats{name: col.Name, typ: col.Type, distinctExact: true}
	k, known := kindOfType(col.Type)
	if !known {
		for _, r := range rows {
			if r[c] != nil {
				k = kindOfValue(r[c])
				break
			}
		}
	}
	st.kind = k

	var (
		nMin, nMax numVal
		tMin, tMax timeVal
		sum, comp  float64 // Neumaier compensated sum
		nNum       int
	)
	for i, r := range rows {
		v := r[c]
		if v == nil {
			st.nulls++
			continue
		}
		st.count++
		s := valueText(v)

		switch k {
		case kindNumber:
			nv, ok := parseNum(s)
			if !ok {
				st.invalid++
				break
			}
			if nNum == 0 || cmpNum(nv, nMin) < 0 {
				nMin = nv
			}
			if nNum == 0 || cmpNum(nv, nMax) > 0 {
				nMax = nv
			}
			nNum++
			t := sum + nv.f
			if math.Abs(sum) >= math.Abs(nv.f) {
				comp += (sum - t) + nv.f
			} else {
				comp += (nv.f - t) + sum
			}
			sum = t
		case kindTime:
			tv, ok := parseTime(s)
			if !ok {
				st.invalid++
				break
			}
			if !st.hasRange || cmpTime(tv, tMin) < 0 {
				tMin = tv
			}
			if !st.hasRange || cmpTime(tv, tMax) > 0 {
				tMax = tv
			}
			st.hasRange = true
		case kindText:
			// Runes never outnumber bytes: only a longer string can raise
			// the maximum.
			if len(s) > st.maxLen {
				st.maxLen = max(st.maxLen, utf8.RuneCountInString(s))
			}
		}

		h := maphash.String(hashSeed, s)
		if e, ok := m[h]; ok {
			e.count++
			m[h] = e
		} else if len(m) < distinctBound {
			m[h] = distinctEntry{count: 1, first: int32(i)}
		} else {
			st.distinctExact = false
		}
	}

	if k == kindNumber && nNum > 0 {
		st.hasRange = true
		st.min, st.max = nMin.s, nMax.s
		mean := (sum + comp) / float64(nNum)
		if !math.IsInf(mean, 0) && !math.IsNaN(mean) {
			st.hasMean, st.mean = true, mean
		}
	}
	if k == kindTime && st.hasRange {
		st.min, st.max = tMin.s, tMax.s
	}
	st.distinct = len(m)
	if st.distinctExact {
		st.top = topValues(m, rows, c, st.count)
	}
	return st
}

// topValues returns the most frequent values of a low-cardinality column
// (at most lowCardinality distinct values, or the three most frequent
// covering at least half of the non-null values), most frequent first, ties
// broken by value so that the output never depends on map order. Values
// seen once are not "top" values.
func topValues(m map[uint64]distinctEntry, rows []dune.Row, c, nonNull int) []schemas.TopValue {
	if len(m) == 0 {
		return nil
	}
	if len(m) > lowCardinality {
		var c1, c2, c3 int32
		for _, e := range m {
			switch {
			case e.count > c1:
				c1, c2, c3 = e.count, c1, c2
			case e.count > c2:
				c2, c3 = e.count, c2
			case e.count > c3:
				c3 = e.count
			}
		}
		if 2*int(c1+c2+c3) < nonNull {
			return nil
		}
	}
	better := func(a, b schemas.TopValue) int { // <0 when a ranks before b
		if a.Count != b.Count {
			return cmp.Compare(b.Count, a.Count)
		}
		return strings.Compare(a.Value, b.Value)
	}
	top := make([]schemas.TopValue, 0, topKeep+1)
	for _, e := range m {
		if e.count < 2 {
			continue
		}
		if len(top) == topKeep && int(e.count) < top[topKeep-1].Count {
			continue
		}
		tv := schemas.TopValue{Value: valueText(rows[e.first][c]), Count: int(e.count)}
		if len(top) == topKeep && better(tv, top[topKeep-1]) >= 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(top, tv, better)
		top = slices.Insert(top, i, tv)
		if len(top) > topKeep {
			top = top[:topKeep]
		}
	}
	if len(top) == 0 {
		return nil
	}
	return top
}

// valueText is a non-null value's text exactly as Dune wrote it (strings and
// numbers as they are; nested values as compact JSON).
func valueText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	case bool:
		if x {
			return "true"
		}
		return "false"
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32)
	case int:
		return strconv.Itoa(x)
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "<unencodable value>"
	}
	return string(b)
}

// isIntText reports whether s is an optionally signed run of decimal digits.
func isIntText(s string) bool {
	if s != "" && (s[0] == '-' || s[0] == '+') {
		s = s[1:]
	}
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// parseNum reads a finite number; integers of any size compare exactly.
func parseNum(s string) (numVal, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return numVal{}, false
	}
	return numVal{s: s, f: f, isInt: isIntText(s)}, true
}

// cmpNum compares two numbers: exactly when both are integers (uint256
// included), by float64 value otherwise.
func cmpNum(a, b numVal) int {
	if a.isInt && b.isInt {
		return cmpIntText(a.s, b.s)
	}
	return cmp.Compare(a.f, b.f)
}

// cmpIntText compares two decimal integer strings of any length exactly.
func cmpIntText(a, b string) int {
	an, a := splitSign(a)
	bn, b := splitSign(b)
	if a == "" {
		an = false // -0 is 0
	}
	if b == "" {
		bn = false
	}
	if an != bn {
		if an {
			return -1
		}
		return 1
	}
	c := cmp.Compare(len(a), len(b))
	if c == 0 {
		c = strings.Compare(a, b)
	}
	if an {
		return -c
	}
	return c
}

// splitSign returns whether s is negative and its digits without sign or
// leading zeros.
func splitSign(s string) (bool, string) {
	neg := false
	if s != "" && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	return neg, strings.TrimLeft(s, "0")
}

func cmpTime(a, b timeVal) int {
	if c := cmp.Compare(a.sec, b.sec); c != 0 {
		return c
	}
	return cmp.Compare(a.nsec, b.nsec)
}

// parseTime reads Dune's timestamp encodings: "2024-03-05 20:50:59.000 UTC",
// "2021-06-01T00:00:00Z", "2021-06-01", with optional fraction and a UTC,
// Z or ±hh:mm zone. It does not allocate.
func parseTime(s string) (timeVal, bool) {
	num := func(b string) (int, bool) {
		n := 0
		for i := 0; i < len(b); i++ {
			if b[i] < '0' || b[i] > '9' {
				return 0, false
			}
			n = n*10 + int(b[i]-'0')
		}
		return n, len(b) > 0
	}
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return timeVal{}, false
	}
	y, ok1 := num(s[0:4])
	mo, ok2 := num(s[5:7])
	d, ok3 := num(s[8:10])
	if !ok1 || !ok2 || !ok3 || mo < 1 || mo > 12 || d < 1 || d > 31 {
		return timeVal{}, false
	}
	var hh, mm, ss, ns, offset int
	rest := s[10:]
	if rest != "" {
		if len(rest) < 9 || (rest[0] != ' ' && rest[0] != 'T') || rest[3] != ':' || rest[6] != ':' {
			return timeVal{}, false
		}
		var ok4, ok5, ok6 bool
		hh, ok4 = num(rest[1:3])
		mm, ok5 = num(rest[4:6])
		ss, ok6 = num(rest[7:9])
		if !ok4 || !ok5 || !ok6 || hh > 23 || mm > 59 || ss > 60 {
			return timeVal{}, false
		}
		rest = rest[9:]
		if rest != "" && rest[0] == '.' {
			i := 1
			scale := 100000000
			for i < len(rest) && rest[i] >= '0' && rest[i] <= '9' {
				ns += int(rest[i]-'0') * scale
				scale /= 10
				i++
			}
			if i == 1 {
				return timeVal{}, false
			}
			rest = rest[i:]
		}
		switch {
		case rest == "" || rest == "Z" || rest == " UTC" || rest == "UTC":
		case len(rest) >= 6 && (rest[len(rest)-6] == '+' || rest[len(rest)-6] == '-') && rest[len(rest)-3] == ':':
			z := rest[len(rest)-6:]
			if pre := rest[:len(rest)-6]; pre != "" && pre != " " {
				return timeVal{}, false
			}
			oh, ok7 := num(z[1:3])
			om, ok8 := num(z[4:6])
			if !ok7 || !ok8 {
				return timeVal{}, false
			}
			offset = oh*3600 + om*60
			if z[0] == '-' {
				offset = -offset
			}
		default:
			return timeVal{}, false
		}
	}
	t := time.Date(y, time.Month(mo), d, hh, mm, ss, ns, time.UTC)
	return timeVal{s: s, sec: t.Unix() - int64(offset), nsec: int32(t.Nanosecond())}, true
}

// informative returns the statistics that carry information, in column
// order, and how many were left out: those of a text column whose values
// are all different (hashes, addresses: "distinct = n" says nothing the
// rows do not), and those of a column holding one value in every row of
// the page, which the page gives once (see findConstants).
func (f *frame) informative(all []colStats) ([]colStats, int) {
	out := all[:0:0]
	for i, st := range all {
		unique := st.kind == kindText && st.distinctExact && st.count > 1 && st.distinct == st.count && st.nulls == 0 && st.invalid == 0
		one := i < len(f.cols) && f.isConst(i) && st.distinctExact && st.distinct <= 1 && st.invalid == 0 && (st.nulls == 0 || st.count == 0)
		if unique || one {
			continue
		}
		out = append(out, st)
	}
	return out, len(all) - len(out)
}
