package filter

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Input limits. They keep the recursive-descent parser's stack and the
// evaluator's work bounded.
const (
	// MaxLength is the longest accepted filters or sort_by value, in bytes.
	MaxLength = 4000
	// MaxDepth is the deepest accepted nesting of parentheses.
	MaxDepth = 64
)

// op is a predicate's operator.
type op uint8

const (
	opEq op = iota
	opNe
	opLt
	opLe
	opGt
	opGe
	opIn
	opLike
	opIsNull
	opIsNotNull
)

func cmpOp(s string) op {
	switch s {
	case "=":
		return opEq
	case "!=", "<>":
		return opNe
	case "<":
		return opLt
	case "<=":
		return opLe
	case ">":
		return opGt
	}
	return opGe
}

// test applies a comparison operator to a three-way comparison result.
func (o op) test(c int) bool {
	switch o {
	case opEq:
		return c == 0
	case opNe:
		return c != 0
	case opLt:
		return c < 0
	case opLe:
		return c <= 0
	case opGt:
		return c > 0
	case opGe:
		return c >= 0
	}
	return false
}

// Syntax tree produced by the parser, before columns are resolved.
type (
	expr interface{ isExpr() }
	// chainExpr is a chain of two or more operands of AND (and) or OR.
	chainExpr struct {
		and  bool
		kids []expr
	}
	predExpr struct {
		col   token // tIdent or tQIdent
		op    op
		opTok token
		lits  []token // tString, tNumber, tHex, or tIdent TRUE/FALSE
	}
)

func (*chainExpr) isExpr() {}
func (*predExpr) isExpr()  {}

type parser struct {
	lx    lexer
	tok   token
	depth int
}

func newParser(src, param string) *parser {
	p := &parser{lx: lexer{src: src, param: param}}
	p.advance()
	return p
}

func (p *parser) advance() { p.tok = p.lx.next() }

// peek returns the token after the current one without consuming it.
func (p *parser) peek() token {
	l := p.lx
	return l.next()
}

func (p *parser) syntaxErr(t token, msg, hint string) error {
	if t.kind == tError {
		return t.err
	}
	return &SyntaxError{Param: p.lx.param, Pos: runePos(p.lx.src, t.off), Offset: t.off, Msg: msg, Hint: hint}
}

// unexpected reports the current token with a hint of what was expected.
func (p *parser) unexpected(hint string) error {
	return p.syntaxErr(p.tok, describe(p.tok), hint)
}

func (p *parser) semErr(t token, k ErrorKind, msg, hint string) error {
	return &Error{Param: p.lx.param, Kind: k, Pos: runePos(p.lx.src, t.off), Offset: t.off, Msg: msg, Hint: hint}
}

// checkInput applies the limits and encoding checks shared by both languages.
func checkInput(src, param string) error {
	if len(src) > MaxLength {
		return &Error{Param: param, Kind: KindLimit, Pos: runePos(src, MaxLength), Offset: MaxLength,
			Msg: fmt.Sprintf("input is %d bytes long", len(src)), Hint: fmt.Sprintf("at most %d bytes are accepted", MaxLength)}
	}
	if !utf8.ValidString(src) {
		off := 0
		for off < len(src) {
			r, size := utf8.DecodeRuneInString(src[off:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			off += size
		}
		return &SyntaxError{Param: param, Pos: runePos(src, off), Offset: off, Msg: "invalid UTF-8"}
	}
	if strings.TrimSpace(src) == "" {
		return &SyntaxError{Param: param, Pos: 1, Msg: "empty expression", Hint: "expected " + map[string]string{
			ParamFilters: "a condition such as amount_usd > 1000",
			ParamSortBy:  "a column name, optionally followed by ASC or DESC",
		}[param]}
	}
	return nil
}

// parseFilterExpr parses a whole filter into a syntax tree.
func parseFilterExpr(src string) (expr, error) {
	if err := checkInput(src, ParamFilters); err != nil {
		return nil, err
	}
	p := newParser(src, ParamFilters)
	e, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	switch p.tok.kind {
	case tEOF:
		return e, nil
	case tRParen:
		return nil, p.syntaxErr(p.tok, `unmatched ")"`, `there is no "(" to close`)
	}
	return nil, p.unexpected(`expected AND, OR or the end of the filter`)
}

// parseOr parses and_expr { OR and_expr }.
func (p *parser) parseOr() (expr, error) { return p.parseChain(kwOr, p.parseAnd) }

// parseAnd parses term { AND term }.
func (p *parser) parseAnd() (expr, error) { return p.parseChain(kwAnd, p.parseTerm) }

// parseChain parses operand { kw operand }: the operand itself when there
// is one, else a chainExpr.
func (p *parser) parseChain(kw keyword, operand func() (expr, error)) (expr, error) {
	first, err := operand()
	if err != nil || !p.isKw(kw) {
		return first, err
	}
	c := &chainExpr{and: kw == kwAnd, kids: []expr{first}}
	for p.isKw(kw) {
		p.advance()
		e, err := operand()
		if err != nil {
			return nil, err
		}
		c.kids = append(c.kids, e)
	}
	return c, nil
}

func (p *parser) isKw(k keyword) bool { return p.tok.kind == tIdent && p.tok.kw == k }

// reserved reports whether a bare word cannot be a column name in a filter.
func reserved(k keyword) bool {
	switch k {
	case kwAnd, kwOr, kwIn, kwLike, kwIs, kwNull, kwNot:
		return true
	}
	return false
}

const expectColumn = `expected a column name or "("`

func (p *parser) parseTerm() (expr, error) {
	t := p.tok
	switch t.kind {
	case tLParen:
		if p.depth >= MaxDepth {
			return nil, p.semErr(t, KindLimit, "parentheses nested too deeply", fmt.Sprintf("at most %d levels are accepted", MaxDepth))
		}
		p.depth++
		p.advance()
		if p.tok.kind == tRParen {
			return nil, p.syntaxErr(p.tok, `unexpected ")"`, "empty parentheses; "+expectColumn)
		}
		e, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			hint := fmt.Sprintf(`expected ")" to close the "(" at position %d`, runePos(p.lx.src, t.off))
			if p.tok.kind != tEOF {
				hint = `expected AND, OR or ")"`
			}
			return nil, p.unexpected(hint)
		}
		p.depth--
		p.advance()
		return e, nil
	case tIdent:
		if t.kw == kwNot {
			return nil, p.semErr(t, KindNotUnsupported, "The NOT operator is not supported",
				"negate the condition instead (e.g. != instead of NOT =); only IS NOT NULL is allowed")
		}
		if reserved(t.kw) {
			return nil, p.unexpected(fmt.Sprintf(`%s; a column named %s must be double-quoted: "%s"`, expectColumn, t.text, t.text))
		}
		return p.parsePredicate()
	case tQIdent:
		return p.parsePredicate()
	case tString, tNumber, tHex:
		return nil, p.unexpected(expectColumn + "; the column comes first, e.g. amount_usd > 1000")
	case tEOF:
		return nil, p.unexpected(expectColumn)
	}
	return nil, p.unexpected(expectColumn)
}

const expectOperator = "expected an operator: =, !=, <>, <, <=, >, >=, IN, LIKE, IS NULL or IS NOT NULL"

func (p *parser) parsePredicate() (expr, error) {
	pred := &predExpr{col: p.tok}
	p.advance()
	t := p.tok
	pred.opTok = t
	switch {
	case t.kind == tLParen:
		return nil, p.unexpected("function calls and SQL expressions are not allowed; " + expectOperator)
	case t.kind == tOp:
		pred.op = cmpOp(t.text)
		p.advance()
		lit, err := p.parseLiteral()
		if err != nil {
			return nil, err
		}
		pred.lits = []token{lit}
	case p.isKw(kwIn):
		pred.op = opIn
		p.advance()
		if p.tok.kind != tLParen {
			return nil, p.unexpected(`expected "(" to start the IN list, e.g. IN ('a', 'b')`)
		}
		p.advance()
		if p.tok.kind == tRParen {
			return nil, p.syntaxErr(p.tok, `unexpected ")"`, "the IN list is empty; expected at least one value")
		}
		for {
			lit, err := p.parseLiteral()
			if err != nil {
				return nil, err
			}
			pred.lits = append(pred.lits, lit)
			if p.tok.kind == tComma {
				p.advance()
				continue
			}
			if p.tok.kind == tRParen {
				p.advance()
				break
			}
			return nil, p.unexpected(`expected "," or ")" in the IN list`)
		}
	case p.isKw(kwLike):
		pred.op = opLike
		p.advance()
		if p.tok.kind != tString {
			if p.tok.kind == tError {
				return nil, p.tok.err
			}
			return nil, p.unexpected("LIKE needs a quoted pattern, e.g. LIKE 'WETH%'")
		}
		pred.lits = []token{p.tok}
		p.advance()
	case p.isKw(kwIs):
		p.advance()
		pred.op = opIsNull
		if p.isKw(kwNot) {
			pred.op = opIsNotNull
			p.advance()
		}
		if !p.isKw(kwNull) {
			if pred.op == opIsNotNull {
				return nil, p.unexpected("expected NULL (IS NOT NULL)")
			}
			return nil, p.unexpected("expected NULL or NOT NULL after IS")
		}
		p.advance()
	case p.isKw(kwNot):
		hint := "only IS NOT NULL is allowed"
		nx := p.peek()
		if nx.kind == tIdent && (nx.kw == kwIn || nx.kw == kwLike || nx.kw == kwBetween || nx.kw == kwIlike) {
			hint = fmt.Sprintf("NOT %s cannot be used; ", strings.ToUpper(nx.text)) + hint
		}
		return nil, p.semErr(t, KindNotUnsupported, "The NOT operator is not supported", hint)
	case p.isKw(kwBetween):
		return nil, p.unexpected("BETWEEN is not supported; write col >= low AND col <= high")
	case p.isKw(kwIlike):
		return nil, p.unexpected("ILIKE is not supported; LIKE is case-sensitive")
	default:
		return nil, p.unexpected(expectOperator)
	}
	return pred, nil
}

const expectValue = "expected a value: a 'quoted string', a number or a 0x… hex literal"

func (p *parser) parseLiteral() (token, error) {
	t := p.tok
	switch t.kind {
	case tString, tNumber, tHex:
		p.advance()
		return t, nil
	case tIdent:
		switch t.kw {
		case kwTrue, kwFalse:
			p.advance()
			return t, nil
		case kwNull:
			return token{}, p.unexpected("NULL is not a value here; use IS NULL or IS NOT NULL")
		}
		if nx := p.peek(); nx.kind == tLParen || isSQLWord(t.text) {
			return token{}, p.unexpected(expectValue + "; SQL expressions and function calls are not allowed")
		}
		return token{}, p.unexpected(fmt.Sprintf("%s; quote text values: '%s'", expectValue, quoted(t.text)))
	case tQIdent:
		return token{}, p.unexpected(fmt.Sprintf(`%s; double quotes denote column names, write text in single quotes: '%s'`, expectValue, strings.ReplaceAll(quoted(t.text), "'", "''")))
	}
	return token{}, p.unexpected(expectValue)
}

// isSQLWord spots words that start SQL expressions agents tend to try.
func isSQLWord(s string) bool {
	switch strings.ToLower(s) {
	case "interval", "current_date", "current_timestamp", "localtimestamp", "date", "timestamp", "cast", "select", "case":
		return true
	}
	return false
}
