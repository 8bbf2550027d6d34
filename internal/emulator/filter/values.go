package filter

import (
	"encoding/json"
	"strconv"
	"strings"
)

// kind is how a column's values compare, derived from its Dune type.
type kind uint8

const (
	kindUnknown kind = iota // no type information: decide per cell
	kindNumeric
	kindTemporal
	kindString
	kindBinary
	kindBoolean
	kindComplex // array, map, row: only IS [NOT] NULL
)

// kindOf maps a Dune/Trino type name to its comparison kind.
func kindOf(typ string) kind {
	t := strings.ToLower(strings.TrimSpace(typ))
	base := t
	if i := strings.IndexByte(base, '('); i >= 0 {
		base = strings.TrimSpace(base[:i])
	}
	switch base {
	case "", "unknown":
		return kindUnknown
	case "tinyint", "smallint", "integer", "int", "bigint", "real", "double", "double precision",
		"float", "decimal", "numeric", "uint256", "int256", "hugeint", "uint64", "int128", "uint128":
		return kindNumeric
	case "date":
		return kindTemporal
	case "varbinary":
		return kindBinary
	case "boolean", "bool":
		return kindBoolean
	case "array", "map", "row":
		return kindComplex
	}
	if strings.HasPrefix(base, "timestamp") {
		return kindTemporal
	}
	return kindString
}

// decimal is an exact decimal number read from text without allocating:
// value = sign × 0.D × 10^exp where D = hi+lo are the significant digits with
// no leading or trailing zeros (both empty for zero).
type decimal struct {
	neg    bool
	inf    bool // ±infinity (cells only)
	hi, lo string
	exp    int
}

func (d *decimal) ndigits() int { return len(d.hi) + len(d.lo) }

func (d *decimal) digit(i int) byte {
	if i < len(d.hi) {
		return d.hi[i]
	}
	return d.lo[i-len(d.hi)]
}

func (d *decimal) sign() int {
	switch {
	case d.inf && d.neg, d.ndigits() > 0 && d.neg:
		return -1
	case d.inf, d.ndigits() > 0:
		return 1
	}
	return 0
}

// maxExp saturates exponents; 4000-byte inputs cannot get near it, so the
// order of any two readable numbers is preserved.
const maxExp = 1_000_000_000

// parseDecimal reads [+-]digits[.digits][(e|E)[+-]digits] (at least one
// mantissa digit; ".5" and "5." are accepted).
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		d.neg = s[i] == '-'
		i++
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart := s[intStart:i]
	var frac string
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		frac = s[fs:i]
	}
	if len(intPart)+len(frac) == 0 {
		return decimal{}, false
	}
	e10 := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		eneg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			eneg = s[i] == '-'
			i++
		}
		es := i
		for i < len(s) && isDigit(s[i]) {
			if e10 < maxExp {
				e10 = e10*10 + int(s[i]-'0')
			}
			i++
		}
		if i == es {
			return decimal{}, false
		}
		if e10 > maxExp {
			e10 = maxExp
		}
		if eneg {
			e10 = -e10
		}
	}
	if i != len(s) {
		return decimal{}, false
	}
	// Significant digits are intPart+frac minus leading and trailing zeros.
	n := len(intPart) + len(frac)
	at := func(k int) byte {
		if k < len(intPart) {
			return intPart[k]
		}
		return frac[k-len(intPart)]
	}
	lead := 0
	for lead < n && at(lead) == '0' {
		lead++
	}
	if lead == n {
		return decimal{}, true // zero, sign dropped
	}
	end := n
	for at(end-1) == '0' {
		end--
	}
	split := len(intPart)
	d.hi = intPart[min(lead, split):min(end, split)]
	d.lo = frac[max(lead-split, 0):max(end-split, 0)]
	d.exp = len(intPart) - lead + e10
	return d, true
}

// readNumber reads a numeric cell as Dune writes it: a JSON number, a
// decimal string (uint256/int256) or the strings Infinity/-Infinity.
func readNumber(s string) (decimal, bool) {
	if d, ok := parseDecimal(s); ok {
		return d, true
	}
	switch s {
	case "Infinity", "+Infinity", "inf", "+inf":
		return decimal{inf: true}, true
	case "-Infinity", "-inf":
		return decimal{inf: true, neg: true}, true
	}
	return decimal{}, false
}

// cmpDecimal orders two decimals exactly.
func cmpDecimal(a, b *decimal) int {
	sa, sb := a.sign(), b.sign()
	if sa != sb {
		return cmpInt(sa, sb)
	}
	if sa == 0 {
		return 0
	}
	m := cmpMagnitude(a, b)
	if sa < 0 {
		return -m
	}
	return m
}

func cmpMagnitude(a, b *decimal) int {
	if a.inf || b.inf {
		switch {
		case a.inf && b.inf:
			return 0
		case a.inf:
			return 1
		}
		return -1
	}
	if a.exp != b.exp {
		return cmpInt(a.exp, b.exp)
	}
	na, nb := a.ndigits(), b.ndigits()
	for i := range min(na, nb) {
		if da, db := a.digit(i), b.digit(i); da != db {
			return cmpInt(int(da), int(db))
		}
	}
	return cmpInt(na, nb)
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// instant is a point in time with nanosecond precision.
type instant struct {
	sec  int64
	nsec int32
}

func cmpInstant(a, b instant) int {
	switch {
	case a.sec != b.sec:
		if a.sec < b.sec {
			return -1
		}
		return 1
	case a.nsec != b.nsec:
		return cmpInt(int(a.nsec), int(b.nsec))
	}
	return 0
}

// parseInstant reads YYYY-MM-DD[( |T)HH:MM[:SS[.fffffffff]]][zone] where
// zone is empty (UTC), Z, [ ]UTC or [ ]±HH[:MM]. It covers the filter
// examples, Dune's cell format "2024-03-05 20:50:59.000 UTC" and RFC 3339.
func parseInstant(s string) (instant, bool) {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' {
		return instant{}, false
	}
	year, ok1 := atoiFixed(s[0:4])
	month, ok2 := atoiFixed(s[5:7])
	day, ok3 := atoiFixed(s[8:10])
	if !ok1 || !ok2 || !ok3 || month < 1 || month > 12 || day < 1 || day > daysIn(year, month) {
		return instant{}, false
	}
	i := 10
	var hour, minute, second, nsec int
	if i+1 < len(s) && (s[i] == ' ' || s[i] == 'T' || s[i] == 't') && isDigit(s[i+1]) {
		if len(s) < i+6 || s[i+3] != ':' {
			return instant{}, false
		}
		var okh, okm bool
		hour, okh = atoiFixed(s[i+1 : i+3])
		minute, okm = atoiFixed(s[i+4 : i+6])
		if !okh || !okm || hour > 23 || minute > 59 {
			return instant{}, false
		}
		i += 6
		if i < len(s) && s[i] == ':' {
			if len(s) < i+3 {
				return instant{}, false
			}
			var oks bool
			second, oks = atoiFixed(s[i+1 : i+3])
			if !oks || second > 59 {
				return instant{}, false
			}
			i += 3
			if i < len(s) && s[i] == '.' {
				i++
				fs := i
				for i < len(s) && isDigit(s[i]) {
					i++
				}
				nd := i - fs
				if nd == 0 || nd > 9 {
					return instant{}, false
				}
				f, _ := atoiFixed(s[fs:i])
				for range 9 - nd {
					f *= 10
				}
				nsec = f
			}
		}
	}
	offset, ok := parseZone(s[i:])
	if !ok {
		return instant{}, false
	}
	days := daysFromCivil(year, month, day)
	sec := days*86400 + int64(hour*3600+minute*60+second) - int64(offset)
	return instant{sec: sec, nsec: int32(nsec)}, true
}

// parseZone returns the zone's offset east of UTC in seconds.
func parseZone(z string) (int, bool) {
	switch z {
	case "", "Z", "z", "UTC", " UTC":
		return 0, true
	}
	if z[0] == ' ' {
		z = z[1:]
	}
	if len(z) < 3 || (z[0] != '+' && z[0] != '-') {
		return 0, false
	}
	sign := 1
	if z[0] == '-' {
		sign = -1
	}
	h, ok := atoiFixed(z[1:3])
	if !ok || h > 23 {
		return 0, false
	}
	rest := z[3:]
	if len(rest) > 0 && rest[0] == ':' {
		rest = rest[1:]
	}
	m := 0
	switch len(rest) {
	case 0:
	case 2:
		m, ok = atoiFixed(rest)
		if !ok || m > 59 {
			return 0, false
		}
	default:
		return 0, false
	}
	return sign * (h*3600 + m*60), true
}

// atoiFixed parses a short all-digit string.
func atoiFixed(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int(s[i]-'0')
	}
	return n, len(s) > 0
}

func daysIn(year, month int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// daysFromCivil returns days since 1970-01-01 of a proleptic Gregorian date
// (H. Hinnant's algorithm).
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	if y < 0 && y%400 != 0 {
		era--
	}
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era)*146097 + int64(doe) - 719468
}

// class is the comparable category a value was read as. Values of different
// classes never compare equal; in sorting they order by class.
type class uint8

const (
	clsBool class = iota
	clsNum
	clsTime
	clsText
	clsHex  // text compared case-insensitively (varbinary)
	clsNull // sorts last
	clsOther
)

// key is one value read for comparison.
type key struct {
	cls  class
	b    bool
	num  decimal
	ts   instant
	text string
}

// cellText returns the textual form of a scalar cell.
func cellText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return string(x), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64), true
	case float32:
		return strconv.FormatFloat(float64(x), 'g', -1, 32), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case int32:
		return strconv.FormatInt(int64(x), 10), true
	case uint64:
		return strconv.FormatUint(x, 10), true
	}
	return "", false
}

// readKey reads a cell for a column of kind k.
func readKey(k kind, v any) key {
	if v == nil {
		return key{cls: clsNull}
	}
	if b, ok := v.(bool); ok && (k == kindBoolean || k == kindUnknown) {
		return key{cls: clsBool, b: b}
	}
	s, ok := cellText(v)
	if !ok {
		return key{cls: clsOther}
	}
	switch k {
	case kindNumeric, kindTemporal, kindUnknown:
		// numeric: a number (Infinity included); temporal: an instant;
		// unknown: a plain decimal, else an instant.
		if k != kindTemporal {
			read := parseDecimal
			if k == kindNumeric {
				read = readNumber
			}
			if d, ok := read(s); ok {
				return key{cls: clsNum, num: d}
			}
		}
		if k != kindNumeric {
			if t, ok := parseInstant(s); ok {
				return key{cls: clsTime, ts: t}
			}
		}
	case kindBinary:
		return key{cls: clsHex, text: s}
	case kindBoolean:
		if b, ok := parseBool(s); ok {
			return key{cls: clsBool, b: b}
		}
	case kindComplex:
		return key{cls: clsOther}
	}
	return key{cls: clsText, text: s}
}

func parseBool(s string) (bool, bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// cmpKeys is a total order over keys: by class, then within the class.
func cmpKeys(a, b *key) int {
	if a.cls != b.cls {
		return cmpInt(int(a.cls), int(b.cls))
	}
	switch a.cls {
	case clsBool:
		return cmpBool(a.b, b.b)
	case clsNum:
		return cmpDecimal(&a.num, &b.num)
	case clsTime:
		return cmpInstant(a.ts, b.ts)
	case clsText:
		return strings.Compare(a.text, b.text)
	case clsHex:
		return cmpFold(a.text, b.text)
	}
	return 0
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case b:
		return -1
	}
	return 1
}

// cmpFold compares with ASCII letters folded to lower case.
func cmpFold(a, b string) int {
	n := min(len(a), len(b))
	for i := range n {
		ca, cb := lowerASCII(a[i]), lowerASCII(b[i])
		if ca != cb {
			return cmpInt(int(ca), int(cb))
		}
	}
	return cmpInt(len(a), len(b))
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// isHexLiteral reports whether s is 0x followed by at least one hex digit.
func isHexLiteral(s string) bool {
	if len(s) < 3 || s[0] != '0' || (s[1] != 'x' && s[1] != 'X') {
		return false
	}
	for i := 2; i < len(s); i++ {
		if !isHexDigit(s[i]) {
			return false
		}
	}
	return true
}

func isHexDigit(c byte) bool {
	return isDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

// lowerASCIIString lower-cases ASCII letters, returning s itself (no
// allocation) when it has none in upper case.
func lowerASCIIString(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				b[j] = lowerASCII(b[j])
			}
			return string(b)
		}
	}
	return s
}
