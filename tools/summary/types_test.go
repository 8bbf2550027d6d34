package summary

import (
	"strings"
	"testing"
)

// expandTypes reads a typeList back: the oracle is written from the format
// alone (runs type×k, a repeated (sequence)×k then the rest).
func expandTypes(s string) []string {
	var out []string
	items := func(list string) []string {
		var got []string
		for _, it := range strings.Split(list, ",") {
			name, k, ok := strings.Cut(it, "×")
			n := 1
			if ok {
				n = 0
				for _, d := range k {
					n = n*10 + int(d-'0')
				}
			}
			for range n {
				got = append(got, name)
			}
		}
		return got
	}
	if strings.HasPrefix(s, "(") {
		end := strings.Index(s, ")×")
		seq := items(s[1:end])
		rest := s[end+len(")×"):]
		count, tail, _ := strings.Cut(rest, " then ")
		n := 0
		for _, d := range count {
			n = n*10 + int(d-'0')
		}
		for range n {
			out = append(out, seq...)
		}
		if tail != "" {
			out = append(out, items(tail)...)
		}
		return out
	}
	return items(s)
}

func TestTypeListIsLosslessAndShort(t *testing.T) {
	wide := make([]string, 300)
	cycle := []string{"bigint", "double", "varchar", "timestamp", "boolean", "varbinary", "uint256", "date"}
	for i := range wide {
		wide[i] = cycle[i%len(cycle)]
	}
	cases := []struct {
		types []string
		want  string
	}{
		{[]string{"double", "varchar", "varchar", "timestamp", "varbinary", "varbinary", "varbinary", "uint256"}, "double,varchar,varchar,timestamp,varbinary×3,uint256"},
		{[]string{"double", "double", "double", "double"}, "double×4"},
		{[]string{"bigint", "varchar", "bigint", "varchar", "bigint"}, "(bigint,varchar)×2 then bigint"},
		{[]string{"bigint"}, "bigint"},
		{nil, ""},
		{wide, "(bigint,double,varchar,timestamp,boolean,varbinary,uint256,date)×37 then bigint,double,varchar,timestamp"},
	}
	for _, c := range cases {
		got := typeList(c.types)
		if got != c.want {
			t.Errorf("typeList(%v) = %q, want %q", c.types, got, c.want)
		}
		if back := expandTypes(got); strings.Join(back, ",") != strings.Join(c.types, ",") {
			t.Errorf("%q reads back as %v, want %v", got, back, c.types)
		}
	}
}
