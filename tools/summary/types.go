package summary

import (
	"strconv"
	"strings"
)

// typeList writes the column types of the text's types line, in column
// order, in as few tokens as stays unambiguous: a run of one type as
// type×k (k ≥ 3), and a list that repeats one sequence throughout (a wide
// table built from the same few columns) as (sequence)×k followed by the
// start of the sequence that remains: (bigint,double,date)×3 then bigint
// is bigint,double,date,bigint,double,date,bigint,double,date,bigint.
func typeList(types []string) string {
	n := len(types)
	for p := 1; p <= n/2; p++ {
		if !periodic(types, p) {
			continue
		}
		if p == 1 {
			return types[0] + "×" + strconv.Itoa(n)
		}
		var b strings.Builder
		b.WriteByte('(')
		writeRuns(&b, types[:p])
		b.WriteString(")×")
		b.WriteString(strconv.Itoa(n / p))
		if r := n % p; r > 0 {
			b.WriteString(" then ")
			writeRuns(&b, types[:r])
		}
		return b.String()
	}
	var b strings.Builder
	writeRuns(&b, types)
	return b.String()
}

// periodic reports whether types repeats its first p types throughout.
func periodic(types []string, p int) bool {
	for i := p; i < len(types); i++ {
		if types[i] != types[i-p] {
			return false
		}
	}
	return true
}

// writeRuns writes types comma-separated, a run of at least 3 of one type
// as type×k.
func writeRuns(b *strings.Builder, types []string) {
	for i := 0; i < len(types); {
		j := i + 1
		for j < len(types) && types[j] == types[i] {
			j++
		}
		if i > 0 {
			b.WriteByte(',')
		}
		if k := j - i; k >= 3 {
			b.WriteString(types[i])
			b.WriteString("×")
			b.WriteString(strconv.Itoa(k))
		} else {
			for m := i; m < j; m++ {
				if m > i {
					b.WriteByte(',')
				}
				b.WriteString(types[m])
			}
		}
		i = j
	}
}
