package clip

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBytes(t *testing.T) {
	e := "é"              // 2 bytes
	euro := "€"           // 3 bytes
	emoji := "\U0001F600" // 4 bytes
	for _, tc := range []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"empty", "", 5, ""},
		{"shorter", "abc", 5, "abc"},
		{"exact length", "abcde", 5, "abcde"},
		{"exact length multi-byte", e + e, 4, e + e},
		{"one over", "abcdef", 5, "ab…"},
		{"ascii cut", strings.Repeat("x", 100), 10, "xxxxxxx…"},
		{"2-byte rune across the boundary", "a" + e + e + "x", 5, "a…"},
		{"2-byte rune ends at the boundary", e + "abcd", 5, e + "…"},
		{"3-byte rune across the boundary", "ab" + euro + "xy", 6, "ab…"},
		{"4-byte rune across the boundary", "a" + emoji + "xy", 6, "a…"},
		{"4-byte rune ends at the boundary", emoji + "xyzw", 7, emoji + "…"},
		{"only multi-byte runes", strings.Repeat(euro, 10), 10, euro + euro + "…"},
		{"bound equals mark", "abcd", 3, "…"},
		{"bound below mark: unmarked", "abcd", 2, "ab"},
		{"bound below mark, rune fits", e + e, 2, e},
		{"bound 1, 2-byte rune", e + "x", 1, ""},
		{"zero", "abc", 0, ""},
		{"negative", "abc", -1, ""},
		{"zero, empty", "", 0, ""},
		{"stray continuation bytes are cut as bytes", "abc" + strings.Repeat("\x80", 10), 9, "abc\x80\x80\x80…"},
		{"only continuation bytes", strings.Repeat("\x80", 10), 6, "\x80\x80\x80…"},
		{"invalid lead byte", "ab\xc0\x80cdef", 6, "ab…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Bytes(tc.s, tc.n)
			if got != tc.want {
				t.Errorf("Bytes(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
			if len(got) > max(tc.n, 0) {
				t.Errorf("Bytes(%q, %d) = %q: %d bytes, over the bound", tc.s, tc.n, got, len(got))
			}
			if utf8.ValidString(tc.s) && !utf8.ValidString(got) {
				t.Errorf("Bytes(%q, %d) = %q splits a rune", tc.s, tc.n, got)
			}
		})
	}
}

// TestBytesNeverSplitsARune cuts a mixed string at every bound.
func TestBytesNeverSplitsARune(t *testing.T) {
	s := "aé€\U0001F600b€é\U0001F600c"
	for n := 0; n <= len(s)+1; n++ {
		got := Bytes(s, n)
		if len(got) > n || !utf8.ValidString(got) {
			t.Fatalf("Bytes(s, %d) = %q (%d bytes)", n, got, len(got))
		}
		if n >= len(s) {
			if got != s {
				t.Fatalf("Bytes(s, %d) = %q, want s whole", n, got)
			}
			continue
		}
		if n >= len(Mark) {
			if !strings.HasSuffix(got, Mark) || !strings.HasPrefix(s, strings.TrimSuffix(got, Mark)) {
				t.Fatalf("Bytes(s, %d) = %q: want a prefix of s and the mark", n, got)
			}
			// The longest prefix: the next rune would not have fitted.
			kept := len(got) - len(Mark)
			_, size := utf8.DecodeRuneInString(s[kept:])
			if kept+size+len(Mark) <= n {
				t.Fatalf("Bytes(s, %d) = %q: the next rune fits too", n, got)
			}
		}
	}
}

func TestRunes(t *testing.T) {
	for _, tc := range []struct {
		name string
		s    string
		n    int
		want string
	}{
		{"empty", "", 3, ""},
		{"shorter", "ab", 3, "ab"},
		{"exact length", "abc", 3, "abc"},
		{"exact length multi-byte", "é€\U0001F600", 3, "é€\U0001F600"},
		{"one over", "abcd", 3, "ab…"},
		{"multi-byte runes", "é€\U0001F600x", 3, "é€…"},
		{"many bytes, few runes", strings.Repeat("€", 5), 5, strings.Repeat("€", 5)},
		{"bound 1", "ab", 1, "…"},
		{"bound 1, one rune", "€", 1, "€"},
		{"zero", "abc", 0, ""},
		{"negative", "abc", -2, ""},
		{"invalid byte counts as one rune", "a\xffbc", 3, "a\xff…"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Runes(tc.s, tc.n)
			if got != tc.want {
				t.Errorf("Runes(%q, %d) = %q, want %q", tc.s, tc.n, got, tc.want)
			}
			if c := utf8.RuneCountInString(got); c > max(tc.n, 0) {
				t.Errorf("Runes(%q, %d) = %q: %d runes, over the bound", tc.s, tc.n, got, c)
			}
		})
	}
}
