package jsonstr

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
)

// Append writes what json.Marshal writes for a string (the oracle:
// encoding/json's own encoder), for every byte alone, runes around the
// escaped ones, invalid UTF-8, and seeded random mixes of them.
func TestAppendMatchesMarshal(t *testing.T) {
	check := func(s string) {
		t.Helper()
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := Append([]byte("x"), s); string(got) != "x"+string(want) {
			t.Fatalf("Append(%q) = %s, json.Marshal = %s", s, got[1:], want)
		}
	}
	for b := range 256 {
		check(string([]byte{byte(b)}))
		check("a" + string([]byte{byte(b)}) + "z")
	}
	pieces := []string{"a", "Z", "0", " ", "\"", "\\", "/", "<", ">", "&", "\n", "\r", "\t", "\b", "\f", "\x00", "\x1f", "\x7f",
		"é", "—", "…", "\u2027", "\u2028", "\u2029", "\u202a", "😀", "\xff", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\xf0\x9f\x98", "0x9f6d5696", "2024-06-30 00:00:00.000 UTC"}
	r := rand.New(rand.NewPCG(10, 3))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(12) {
			b.WriteString(pieces[r.IntN(len(pieces))])
		}
		check(b.String())
	}
	check("")
}

func BenchmarkAppendText(b *testing.B) {
	s := strings.Repeat("rows 1–24 as CSV (one header line; empty = NULL):\n325.07,2022-05-25,WETH,\"a,b\",0x9f6d569643846db79fc226d9c4e48c9891d303cc\n", 120)
	b.SetBytes(int64(len(s)))
	buf := make([]byte, 0, 2*len(s))
	for b.Loop() {
		buf = Append(buf[:0], s)
	}
}
