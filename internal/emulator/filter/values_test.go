package filter

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

// ratOf is the math/big oracle for parseDecimal: it accepts the same
// syntax, normalised to what big.Rat.SetString reads.
func ratOf(s string) (*big.Rat, bool) {
	m, e, _ := strings.Cut(strings.ToLower(s), "e")
	m = strings.TrimPrefix(m, "+")
	neg := strings.HasPrefix(m, "-")
	m = strings.TrimPrefix(m, "-")
	if strings.HasPrefix(m, ".") {
		m = "0" + m
	}
	m = strings.TrimSuffix(m, ".")
	if neg {
		m = "-" + m
	}
	r, ok := new(big.Rat).SetString(m)
	if !ok {
		return nil, false
	}
	if e != "" {
		exp, ok := new(big.Int).SetString(e, 10)
		if !ok || exp.CmpAbs(big.NewInt(400)) > 0 {
			return nil, false
		}
		p := new(big.Int).Exp(big.NewInt(10), new(big.Int).Abs(exp), nil)
		if exp.Sign() < 0 {
			r.Quo(r, new(big.Rat).SetInt(p))
		} else {
			r.Mul(r, new(big.Rat).SetInt(p))
		}
	}
	return r, true
}

func randDecimal(rng *rand.Rand) string {
	var b strings.Builder
	switch rng.IntN(4) {
	case 0:
		b.WriteByte('-')
	case 1:
		b.WriteByte('+')
	}
	digits := func(n int) {
		for range n {
			b.WriteByte("0001234567899"[rng.IntN(13)])
		}
	}
	digits(rng.IntN(25))
	if rng.IntN(2) == 0 {
		b.WriteByte('.')
		digits(rng.IntN(25))
	}
	if b.Len() == 0 || strings.Trim(b.String(), "+-.") == "" {
		b.WriteByte('7')
	}
	if rng.IntN(3) == 0 {
		fmt.Fprintf(&b, "e%d", rng.IntN(61)-30)
	}
	return b.String()
}

// TestDecimalOracle compares the allocation-free decimal order with big.Rat.
func TestDecimalOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		a, b := randDecimal(rng), randDecimal(rng)
		if rng.IntN(4) == 0 {
			b = a + "0" // trailing zeros / same prefix
		}
		checkDecimalPair(t, a, b)
	}
	for _, s := range []string{"", "-", "+", ".", "e5", "1e", "1e+", "--1", "1.2.3", "0x10", "1_000", " 1", "NaN", "Infinity"} {
		if _, ok := parseDecimal(s); ok {
			t.Errorf("parseDecimal(%q) accepted", s)
		}
	}
}

func checkDecimalPair(t *testing.T, a, b string) {
	t.Helper()
	da, oka := parseDecimal(a)
	db, okb := parseDecimal(b)
	ra, rokA := ratOf(a)
	rb, rokB := ratOf(b)
	if !oka || !okb {
		return
	}
	if !rokA || !rokB {
		return // exponent beyond the oracle's range
	}
	if got, want := cmpDecimal(&da, &db), ra.Cmp(rb); got != want {
		t.Fatalf("cmpDecimal(%q, %q) = %d, big.Rat says %d", a, b, got, want)
	}
}

// TestInstantOracle compares parseInstant with the time package.
func TestInstantOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	layouts := []string{
		"2006-01-02 15:04:05.000 MST", // Dune's cell format
		"2006-01-02T15:04:05Z07:00",
		time.RFC3339Nano,
		"2006-01-02 15:04:05.999999999",
		"2006-01-02 15:04:05",
		"2006-01-02 15:04",
		"2006-01-02",
		"2006-01-02T15:04:05-0700",
	}
	zones := []*time.Location{time.UTC, time.FixedZone("", 2*3600), time.FixedZone("", -(5*3600 + 30*60))}
	for range 5000 {
		tm := time.Unix(rng.Int64N(8e10)-3e10, rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])
		layout := layouts[rng.IntN(len(layouts))]
		if strings.Contains(layout, "MST") {
			tm = tm.UTC()
		}
		s := tm.Format(layout)
		want, err := time.Parse(strings.Replace(layout, "MST", "UTC", 1), s)
		if err != nil {
			t.Fatalf("oracle cannot parse %q: %v", s, err)
		}
		got, ok := parseInstant(s)
		if !ok || got.sec != want.Unix() || int(got.nsec) != want.Nanosecond() {
			t.Fatalf("parseInstant(%q) = %+v %v, want %d.%09d", s, got, ok, want.Unix(), want.Nanosecond())
		}
	}
	for _, s := range []string{
		"", "2024", "2024-3-05", "2024-02-30", "2023-02-29", "2024-13-01", "2024-00-10", "2024-03-05 24:00",
		"2024-03-05 15:60", "2024-03-05 15:03:61", "2024-03-05 15", "2024-03-05 15:03:01.", "2024-03-05 15:03:01.1234567891",
		"2024-03-05 CET", "2024-03-05 15:03 +2", "2024-03-05 15:03 +02:0", "2024-03-05X", "yesterday", "2024-03-05  15:03",
	} {
		if _, ok := parseInstant(s); ok {
			t.Errorf("parseInstant(%q) accepted", s)
		}
	}
	if a, ok := parseInstant("2024-02-29"); !ok || a.sec != time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC).Unix() {
		t.Error("leap day")
	}
}

// likeRegexp is the oracle for LIKE: % → .*, _ → . (one code point).
func likeRegexp(pat string) *regexp.Regexp {
	var b strings.Builder
	b.WriteString(`(?s)\A`)
	for _, r := range pat {
		switch r {
		case '%':
			b.WriteString(".*")
		case '_':
			b.WriteString(".")
		default:
			b.WriteString(regexp.QuoteMeta(string(r)))
		}
	}
	b.WriteString(`\z`)
	return regexp.MustCompile(b.String())
}

func TestLikeOracle(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	gen := func(alpha []string, n int) string {
		var b strings.Builder
		for range rng.IntN(n) {
			b.WriteString(alpha[rng.IntN(len(alpha))])
		}
		return b.String()
	}
	for range 20000 {
		pat := gen([]string{"a", "b", "é", "%", "_", "%", "_"}, 8)
		s := gen([]string{"a", "b", "é", "🚀"}, 10)
		checkLike(t, pat, s)
	}
}

func checkLike(t *testing.T, pat, s string) {
	t.Helper()
	if !utf8.ValidString(pat) || !utf8.ValidString(s) {
		return
	}
	p := compileLike(pat)
	if got, want := p.match(s), likeRegexp(pat).MatchString(s); got != want {
		t.Fatalf("%q LIKE %q = %v, oracle says %v", s, pat, got, want)
	}
}

func TestKindOf(t *testing.T) {
	tests := map[string]kind{
		"": kindUnknown, "unknown": kindUnknown, "varchar": kindString, "VARCHAR(42)": kindString, "json": kindString,
		"bigint": kindNumeric, "integer": kindNumeric, "double": kindNumeric, "decimal(38,0)": kindNumeric,
		"uint256": kindNumeric, "int256": kindNumeric, "real": kindNumeric, "tinyint": kindNumeric, "smallint": kindNumeric,
		"timestamp(3) with time zone": kindTemporal, "timestamp": kindTemporal, "date": kindTemporal,
		"varbinary": kindBinary, "boolean": kindBoolean, "array(varchar)": kindComplex,
		"map(varchar, varchar)": kindComplex, "row(a bigint)": kindComplex,
	}
	for typ, want := range tests {
		if got := kindOf(typ); got != want {
			t.Errorf("kindOf(%q) = %d, want %d", typ, got, want)
		}
	}
}
