package summary

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// cellKeep is how many characters of a shortened cell are kept.
const cellKeep = 180

// fewRows: a page of at most this many rows that holds the rest of the
// result (typically a filter on a key) gets a cell bound scaled to the
// budget, so that an agent can read long cells whole.
const fewRows = 10

// cellBound returns the cell bound of page p at budget: CellLimit, or for a
// page of at most fewRows rows holding the rest of the result, a share of
// half the budget per long cell, in characters at the longest cell's own
// characters-per-token rate.
func cellBound(p Page, budget int) (limit, keep int) {
	limit, keep = CellLimit, cellKeep
	if len(p.Rows) == 0 || len(p.Rows) > fewRows || p.SampleCount > 0 || p.Offset+len(p.Rows) < p.TotalRowCount {
		return limit, keep
	}
	long, longest := 0, ""
	for _, r := range p.Rows {
		for _, v := range r {
			if s, ok := v.(string); ok && len(s) > CellLimit && utf8.RuneCountInString(s) > CellLimit {
				long++
				if len(s) > len(longest) {
					longest = s
				}
			}
		}
	}
	share := (budget/2 - 200) / max(long, 1) // tokens per long cell
	if long == 0 || share <= 0 {
		return limit, keep
	}
	sample := longest
	if len(sample) > 8192 {
		cut := 8192
		for cut > 0 && !utf8.RuneStart(sample[cut]) {
			cut--
		}
		sample = sample[:cut]
	}
	if n := CountTokens(sample); n > 0 {
		chars := int(float64(share) * float64(utf8.RuneCountInString(sample)) / float64(n) * 0.9)
		if chars > CellLimit {
			limit, keep = chars, chars-20
		}
	}
	return limit, keep
}

// commas formats n with thousands separators: 1234567 → "1,234,567".
func commas(n int) string { return commas64(int64(n)) }

// commas64 is commas of an int64.
func commas64(n int64) string {
	s := strconv.FormatInt(n, 10)
	sign := ""
	if n < 0 {
		sign, s = "-", s[1:]
	}
	if len(s) <= 3 {
		return sign + s
	}
	var b strings.Builder
	b.WriteString(sign)
	pre := len(s) % 3
	if pre == 0 {
		pre = 3
	}
	b.WriteString(s[:pre])
	for i := pre; i < len(s); i += 3 {
		b.WriteByte(',')
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// shorten returns s unchanged when it has at most limit runes, otherwise its
// first keep runes and a marker "…[+N of M chars]" saying how many of how
// many characters were left out. ok reports whether s was shortened.
func shorten(s string, limit, keep int) (string, bool) {
	if len(s) <= limit { // bytes ≥ runes
		return s, false
	}
	n := utf8.RuneCountInString(s)
	if n <= limit {
		return s, false
	}
	cut := 0
	for i := 0; i < keep; i++ {
		_, w := utf8.DecodeRuneInString(s[cut:])
		cut += w
	}
	return s[:cut] + "…[+" + strconv.Itoa(n-keep) + " of " + strconv.Itoa(n) + " chars]", true
}

// needsQuote reports whether a CSV field must be quoted: separators, quotes,
// line breaks, leading or trailing spaces, the empty string (so that it is
// told apart from NULL) and the NULL mark itself.
func needsQuote(s string) bool {
	if s == "" || s == NullMark {
		return true
	}
	if s[0] == ' ' || s[len(s)-1] == ' ' {
		return true
	}
	return strings.ContainsAny(s, ",\"\n\r")
}

// writeCSVField writes s as one CSV field.
func writeCSVField(b *strings.Builder, s string) {
	if !needsQuote(s) {
		b.WriteString(s)
		return
	}
	b.WriteByte('"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		b.WriteString(s[:i+1])
		b.WriteByte('"')
		s = s[i+1:]
	}
	b.WriteString(s)
	b.WriteByte('"')
}

// quoteName quotes a column name for the schema and stats lines when it
// contains characters that would make the line ambiguous.
func quoteName(s string) string {
	if s != "" && !strings.ContainsAny(s, ",:;\"·\n\r\t ") {
		return s
	}
	return strconv.Quote(s)
}

// ago renders the age of a timestamp relative to now. The phrases are few
// and short: none costs more tokens than ageSlot (tests check each).
func ago(t, now time.Time) string {
	const day = 24 * time.Hour
	d := now.Sub(t)
	switch {
	case d < -time.Minute:
		return "in the future"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + " min ago"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + " h ago"
	case d < 1000*day:
		return strconv.Itoa(int(d/day)) + " days ago"
	}
	// Durations end at 292 years: count calendar years.
	t, now = t.UTC(), now.UTC()
	y := now.Year() - t.Year()
	if now.YearDay() < t.YearDay() {
		y--
	}
	if y > 999 {
		return "ages ago"
	}
	return strconv.Itoa(y) + " years ago"
}

// fmtFloat renders a mean compactly with 6 significant digits.
func fmtFloat(f float64) string {
	return strconv.FormatFloat(f, 'g', 6, 64)
}

// byteSize renders n bytes as B, KB, MB or GB (decimal units, one decimal
// above a kilobyte).
func byteSize(n int64) string {
	switch {
	case n < 1000:
		return fmt.Sprintf("%d B", n)
	case n < 1000*1000:
		return fmt.Sprintf("%.1f KB", float64(n)/1e3)
	case n < 1000*1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/1e6)
	}
	return fmt.Sprintf("%.1f GB", float64(n)/1e9)
}
