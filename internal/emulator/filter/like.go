package filter

import (
	"strings"
	"unicode/utf8"
)

// likePattern is a compiled LIKE pattern: the pattern split at each %, so
// segs[0] must match at the start, segs[len-1] at the end and the others in
// order in between. Inside a segment, _ matches exactly one character and
// every other byte matches itself (Trino: no escape character by default).
type likePattern struct {
	segs []string
}

func compileLike(p string) likePattern {
	return likePattern{segs: strings.Split(p, "%")}
}

func (p *likePattern) match(s string) bool {
	if len(p.segs) == 1 {
		end, ok := matchSegAt(s, 0, p.segs[0])
		return ok && end == len(s)
	}
	pos, ok := matchSegAt(s, 0, p.segs[0])
	if !ok {
		return false
	}
	last := len(p.segs) - 1
	for _, seg := range p.segs[1:last] {
		if pos, ok = findSeg(s, pos, seg); !ok {
			return false
		}
	}
	start, ok := matchSegSuffix(s, p.segs[last])
	return ok && start >= pos
}

// matchSegAt matches seg at byte offset i of s and returns the end offset.
func matchSegAt(s string, i int, seg string) (int, bool) {
	for j := 0; j < len(seg); j++ {
		if seg[j] == '_' {
			if i >= len(s) {
				return 0, false
			}
			_, size := utf8.DecodeRuneInString(s[i:])
			i += size
			continue
		}
		if i >= len(s) || s[i] != seg[j] {
			return 0, false
		}
		i++
	}
	return i, true
}

// matchSegSuffix matches seg against the end of s and returns where the
// match starts.
func matchSegSuffix(s string, seg string) (int, bool) {
	i := len(s)
	for j := len(seg) - 1; j >= 0; j-- {
		if seg[j] == '_' {
			if i <= 0 {
				return 0, false
			}
			_, size := utf8.DecodeLastRuneInString(s[:i])
			i -= size
			continue
		}
		if i <= 0 || s[i-1] != seg[j] {
			return 0, false
		}
		i--
	}
	return i, true
}

// findSeg finds the leftmost match of seg at or after from and returns its
// end. Segments match a fixed number of characters, so the leftmost match
// also ends first, which makes the greedy search exact.
func findSeg(s string, from int, seg string) (int, bool) {
	if strings.IndexByte(seg, '_') < 0 {
		i := strings.Index(s[from:], seg)
		if i < 0 {
			return 0, false
		}
		return from + i + len(seg), true
	}
	for i := from; i <= len(s); {
		if end, ok := matchSegAt(s, i, seg); ok {
			return end, true
		}
		if i == len(s) {
			break
		}
		_, size := utf8.DecodeRuneInString(s[i:])
		i += size
	}
	return 0, false
}
