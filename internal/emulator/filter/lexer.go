package filter

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

type tokKind uint8

const (
	tEOF    tokKind = iota
	tIdent          // bare identifier, possibly a keyword
	tQIdent         // "quoted identifier"; text is the unescaped name
	tString         // 'string'; text is the unescaped value
	tNumber         // text is the number as written
	tHex            // 0x…; text as written
	tOp             // = != <> < <= > >=
	tLParen
	tRParen
	tComma
	tError // lexical error; err is set
)

type keyword uint8

const (
	kwNone keyword = iota
	kwAnd
	kwOr
	kwIn
	kwLike
	kwIs
	kwNull
	kwNot
	kwTrue
	kwFalse
	kwAsc
	kwDesc
	kwBetween
	kwIlike
)

var keywords = [...]struct {
	word string
	kw   keyword
}{
	{"AND", kwAnd}, {"OR", kwOr}, {"IN", kwIn}, {"LIKE", kwLike}, {"IS", kwIs},
	{"NULL", kwNull}, {"NOT", kwNot}, {"TRUE", kwTrue}, {"FALSE", kwFalse},
	{"ASC", kwAsc}, {"DESC", kwDesc}, {"BETWEEN", kwBetween}, {"ILIKE", kwIlike},
}

func lookupKeyword(s string) keyword {
	if len(s) > 7 {
		return kwNone
	}
	for _, k := range keywords {
		if strings.EqualFold(s, k.word) {
			return k.kw
		}
	}
	return kwNone
}

type token struct {
	kind     tokKind
	off, end int // byte range in the source
	text     string
	kw       keyword
	err      *SyntaxError
}

// lexer splits the input into tokens on demand. It is a small value, so
// copying it gives one token of lookahead.
type lexer struct {
	src   string
	param string
	pos   int
}

func (l *lexer) errAt(off int, msg, hint string) token {
	return token{kind: tError, off: off, end: off, err: &SyntaxError{
		Param: l.param, Pos: runePos(l.src, off), Offset: off, Msg: msg, Hint: hint,
	}}
}

func isIdentStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isIdentPart(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

func (l *lexer) next() token {
	for l.pos < len(l.src) {
		r, size := utf8.DecodeRuneInString(l.src[l.pos:])
		if !unicode.IsSpace(r) {
			break
		}
		l.pos += size
	}
	start := l.pos
	if start >= len(l.src) {
		return token{kind: tEOF, off: start, end: start}
	}
	c := l.src[start]
	simple := func(k tokKind, n int) token {
		l.pos = start + n
		return token{kind: k, off: start, end: l.pos, text: l.src[start:l.pos]}
	}
	peek := func(i int) byte {
		if start+i < len(l.src) {
			return l.src[start+i]
		}
		return 0
	}
	switch {
	case c == '(':
		return simple(tLParen, 1)
	case c == ')':
		return simple(tRParen, 1)
	case c == ',':
		return simple(tComma, 1)
	case c == '=':
		if peek(1) == '=' {
			return l.errAt(start, `unexpected "=="`, `use a single "=" to compare`)
		}
		return simple(tOp, 1)
	case c == '!':
		if peek(1) == '=' {
			return simple(tOp, 2)
		}
		return l.errAt(start, `unexpected "!"`, `use != or <> for "not equal"; NOT is not supported`)
	case c == '<':
		if peek(1) == '=' || peek(1) == '>' {
			return simple(tOp, 2)
		}
		return simple(tOp, 1)
	case c == '>':
		if peek(1) == '=' {
			return simple(tOp, 2)
		}
		return simple(tOp, 1)
	case c == '\'':
		return l.quoted('\'', tString)
	case c == '"':
		return l.quoted('"', tQIdent)
	case isDigit(c),
		c == '.' && isDigit(peek(1)),
		(c == '-' || c == '+') && (isDigit(peek(1)) || peek(1) == '.' && isDigit(peek(2))):
		return l.number()
	case c == '\\':
		return l.errAt(start, `unexpected "\"`, `backslash escapes are not part of the syntax: write "col.name" for a quoted column and '' for a quote inside a string`)
	}
	r, size := utf8.DecodeRuneInString(l.src[start:])
	if isIdentStart(r) {
		i := start + size
		for i < len(l.src) {
			r, size := utf8.DecodeRuneInString(l.src[i:])
			if !isIdentPart(r) {
				break
			}
			i += size
		}
		l.pos = i
		text := l.src[start:i]
		return token{kind: tIdent, off: start, end: i, text: text, kw: lookupKeyword(text)}
	}
	if r == utf8.RuneError && size == 1 {
		return l.errAt(start, "invalid UTF-8", "")
	}
	hint := "column names with special characters must be double-quoted; arithmetic and other SQL expressions are not allowed"
	if c == ';' {
		hint = "only a single filter expression is allowed"
	}
	return l.errAt(start, fmt.Sprintf("unexpected character %q", r), hint)
}

// quoted reads a '…' string or "…" identifier where a doubled quote stands
// for one quote character.
func (l *lexer) quoted(q byte, k tokKind) token {
	start := l.pos
	var b strings.Builder
	i := start + 1
	segStart := i
	for {
		j := strings.IndexByte(l.src[i:], q)
		if j < 0 {
			if k == tString {
				return l.errAt(start, "unterminated string", "a string starts and ends with ' (write '' for a quote inside it)")
			}
			return l.errAt(start, "unterminated quoted column name", `a quoted column name starts and ends with " (write "" for a quote inside it)`)
		}
		i += j
		if i+1 < len(l.src) && l.src[i+1] == q {
			b.WriteString(l.src[segStart : i+1])
			i += 2
			segStart = i
			continue
		}
		break
	}
	var text string
	if b.Len() == 0 {
		text = l.src[segStart:i]
	} else {
		b.WriteString(l.src[segStart:i])
		text = b.String()
	}
	l.pos = i + 1
	if k == tQIdent && text == "" {
		return l.errAt(start, `empty quoted column name ""`, "")
	}
	if !utf8.ValidString(text) {
		return l.errAt(start, "invalid UTF-8", "")
	}
	return token{kind: k, off: start, end: l.pos, text: text}
}

// number reads a decimal number or a 0x hex literal.
func (l *lexer) number() token {
	start := l.pos
	s := l.src
	i := start
	if s[i] == '0' && i+1 < len(s) && (s[i+1] == 'x' || s[i+1] == 'X') {
		i += 2
		hs := i
		for i < len(s) && isHexDigit(s[i]) {
			i++
		}
		if i == hs || l.identContinues(i) {
			return l.badNumber(start, i, "invalid hex literal", "write hex as 0x followed by hex digits, e.g. 0x6a3e")
		}
		l.pos = i
		return token{kind: tHex, off: start, end: i, text: s[start:i]}
	}
	if s[i] == '-' || s[i] == '+' {
		i++
	}
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		j := i + 1
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j < len(s) && isDigit(s[j]) {
			for j < len(s) && isDigit(s[j]) {
				j++
			}
			i = j
		}
	}
	if l.identContinues(i) || (i < len(s) && (s[i] == '.' || s[i] == '\'' || s[i] == '"')) {
		return l.badNumber(start, i, "invalid number", "numbers are written like 42, -1.5 or 2.5e-3; quote text values with '")
	}
	l.pos = i
	return token{kind: tNumber, off: start, end: i, text: s[start:i]}
}

func (l *lexer) identContinues(i int) bool {
	if i >= len(l.src) {
		return false
	}
	r, _ := utf8.DecodeRuneInString(l.src[i:])
	return isIdentPart(r)
}

func (l *lexer) badNumber(start, i int, msg, hint string) token {
	end := i
	for end < len(l.src) {
		r, size := utf8.DecodeRuneInString(l.src[end:])
		if !isIdentPart(r) && r != '.' {
			break
		}
		end += size
	}
	return l.errAt(start, fmt.Sprintf("%s %q", msg, quoted(l.src[start:end])), hint)
}

// literalPhrase names a string, number or hex literal token ("string
// 'x'", "number 42", "hex literal 0x6a"); ok is false for other tokens.
func literalPhrase(t token) (s string, ok bool) {
	switch t.kind {
	case tString:
		return "string " + quoteString(t.text), true
	case tNumber:
		return "number " + quoted(t.text), true
	case tHex:
		return "hex literal " + quoted(t.text), true
	}
	return "", false
}

// describe names a token for an "unexpected …" message.
func describe(t token) string {
	if s, ok := literalPhrase(t); ok {
		return "unexpected " + s
	}
	switch t.kind {
	case tEOF:
		return "unexpected end of input"
	case tIdent:
		if t.kw != kwNone && t.kw != kwAsc && t.kw != kwDesc {
			return "unexpected keyword " + strings.ToUpper(t.text)
		}
		return fmt.Sprintf("unexpected identifier %q", quoted(t.text))
	case tQIdent:
		return "unexpected column name " + quoteIdent(t.text)
	}
	return fmt.Sprintf("unexpected %q", t.text)
}
