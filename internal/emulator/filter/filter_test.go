package filter

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
)

// docExamples are every example of spec section 4 (and the live-API
// observations) with the docRows they match.
var docExamples = []struct {
	expr string
	want []int
}{
	{`block_time >= '2024-03-05 15:03'`, []int{0}},
	{`tx_to IN (0x6A3E8A4B5C1D2E3F40516273849AABBCCDDEEFF0, ` + addrB + `)`, []int{0, 1}},
	{`"special, column" = 'ABC'`, []int{0}},
	{`token_symbol LIKE 'WETH%'`, []int{0, 1, 3}},
	{`project IN ('uniswap', 'sushiswap', 'curve')`, []int{0, 1, 2}},
	{`volume_usd >= 10000 AND volume_usd <= 100000`, []int{0, 1, 3}},
	{`amount_usd IS NOT NULL`, []int{0, 2, 3}},
	{`"token.symbol" = 'USDC'`, []int{0, 2}}, // the doc's "\"token.symbol\" = 'USDC'" once unescaped
	{`chain in ('base', 'optimism') and token_pair like '%USDC%'`, []int{0, 1}},
	{`number < 3`, []int{0, 1}},
	{`block_time > '2023-01-03'`, []int{0, 1, 3}},
	{`block_time > '2024-03-01'`, []int{0, 1}}, // the filtered fixture's next_uri
	{`amount_usd IS NULL`, []int{1, 4}},
}

// TestDocumentedExamples evaluates every example of spec section 4 (and the
// live-API observations) over docRows, with column types and without them.
func TestDocumentedExamples(t *testing.T) {
	tests := docExamples
	for _, tc := range tests {
		for _, typed := range []bool{true, false} {
			cols := docCols
			if !typed {
				cols = untyped(docCols)
			}
			t.Run(fmt.Sprintf("typed=%v/%s", typed, tc.expr), func(t *testing.T) {
				f := mustParse(t, tc.expr, cols)
				if got := matching(f, docRows); !slices.Equal(got, tc.want) {
					t.Errorf("matched rows %v, want %v", got, tc.want)
				}
			})
		}
	}
}

// TestDocumentedRejections covers the forms the docs call unsupported or wrong.
func TestDocumentedRejections(t *testing.T) {
	tests := []struct {
		expr    string
		typ     string
		kind    ErrorKind
		pos     int
		message string
	}{
		{`block_time > now() - interval '1' day`, "syntax", "", 14, "function calls are not allowed"},
		{`project NOT IN ('uniswap')`, "semantic", KindNotUnsupported, 9, "The NOT operator is not supported"},
		{`token_symbol NOT LIKE 'WETH%'`, "semantic", KindNotUnsupported, 14, "NOT LIKE cannot be used"},
		{`project not in ('uniswap')`, "semantic", KindNotUnsupported, 9, "NOT IN cannot be used"},
		{`NOT project = 'uniswap'`, "semantic", KindNotUnsupported, 1, "The NOT operator is not supported"},
		{`amount_usd > '1000'`, "semantic", KindTypeMismatch, 14, "write numbers without quotes, e.g. amount_usd > 1000"},
		{`\"token.symbol\" = 'USDC'`, "syntax", "", 1, "backslash escapes are not part of the syntax"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			_, err := Parse(tc.expr, docCols)
			typ, k, pos := errInfo(err)
			if typ != tc.typ || k != tc.kind || pos != tc.pos {
				t.Fatalf("got %s/%s at %d (%v), want %s/%s at %d", typ, k, pos, err, tc.typ, tc.kind, tc.pos)
			}
			if !strings.Contains(err.Error(), tc.message) {
				t.Errorf("error %q lacks %q", err, tc.message)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	tests := []struct{ expr, want string }{
		{`number > 1 AND (`, `filters: unexpected end of input at position 17: expected a column name or "("`},
		{`number > 1 AND ()`, `filters: unexpected ")" at position 17: empty parentheses; expected a column name or "("`},
		{`lower(project) = 'x'`, `filters: unexpected "(" at position 6: function calls and SQL expressions are not allowed; expected an operator: =, !=, <>, <, <=, >, >=, IN, LIKE, IS NULL or IS NOT NULL`},
		{`project NOT IN ('a')`, `filters: The NOT operator is not supported at position 9: NOT IN cannot be used; only IS NOT NULL is allowed`},
		{`nosuch = 1`, `filters: unknown column "nosuch" at position 1: columns: block_time, tx_to, "special, column", token_symbol, project, volume_usd, amount_usd, "token.symbol", chain, token_pair, … (17 in total)`},
		{`projct = 'a'`, `filters: unknown column "projct" at position 1: did you mean "project"? columns: block_time, tx_to, "special, column", token_symbol, project, volume_usd, amount_usd, "token.symbol", chain, token_pair, … (17 in total)`},
	}
	for _, tc := range tests {
		_, err := Parse(tc.expr, docCols)
		if err == nil || err.Error() != tc.want {
			t.Errorf("Parse(%q) error\n got: %v\nwant: %s", tc.expr, err, tc.want)
		}
	}
}

// TestMalformed asserts the error type and 1-based character position of
// malformed inputs.
var (
	deepExpr = strings.Repeat("(", MaxDepth+1) + "number = 1" + strings.Repeat(")", MaxDepth+1)
	longExpr = "project IN (" + strings.Repeat("'a', ", 800) + "'b')"
)

// malformedCases are inputs Parse must reject over docCols, with the error
// type, kind and 1-based position; msg is a substring of the error text.
var malformedCases = []struct {
	expr string
	typ  string
	kind ErrorKind
	pos  int
	msg  string // substring of the error text
}{
	{"", "syntax", "", 1, "empty expression"},
	{"  \t\n", "syntax", "", 1, "empty expression"},
	{"(", "syntax", "", 2, "unexpected end of input"},
	{"()", "syntax", "", 2, "empty parentheses"},
	{"number < 3)", "syntax", "", 11, `unmatched ")"`},
	{"(number < 3", "syntax", "", 12, `expected ")" to close the "(" at position 1`},
	{"number > 1 AND (project = 'a'", "syntax", "", 30, `to close the "(" at position 16`},
	{"(number < 3 project = 'a')", "syntax", "", 13, `expected AND, OR or ")"`},
	{"number <", "syntax", "", 9, "expected a value"},
	{"number 3", "syntax", "", 8, "expected an operator"},
	{"number", "syntax", "", 7, "expected an operator"},
	{"= 3", "syntax", "", 1, "expected a column name"},
	{"3 = number", "syntax", "", 1, "the column comes first"},
	{"'a' = project", "syntax", "", 1, "the column comes first"},
	{"project = 'uniswap", "syntax", "", 11, "unterminated string"},
	{"project = 'it''s", "syntax", "", 11, "unterminated string"},
	{`"project = 'x'`, "syntax", "", 1, "unterminated quoted column name"},
	{`"token.symbol" = 'USDC`, "syntax", "", 18, "unterminated string"},
	{"project = uniswap", "syntax", "", 11, "quote text values: 'uniswap'"},
	{`project = "uniswap"`, "syntax", "", 11, "double quotes denote column names"},
	{"number IN ()", "syntax", "", 12, "the IN list is empty"},
	{"number IN (1,)", "syntax", "", 14, "expected a value"},
	{"number IN 1", "syntax", "", 11, `expected "(" to start the IN list`},
	{"number IN (1 2)", "syntax", "", 14, `expected "," or ")"`},
	{"number IN (1, 2", "syntax", "", 16, `expected "," or ")"`},
	{"number == 1", "syntax", "", 8, `unexpected "=="`},
	{"number !1", "syntax", "", 8, `unexpected "!"`},
	{"number => 1", "syntax", "", 9, "unexpected"},
	{"number < 3 AND", "syntax", "", 15, "unexpected end of input"},
	{"number < 3 OR OR number > 1", "syntax", "", 15, "unexpected keyword OR"},
	{"number < 3 number > 1", "syntax", "", 12, "expected AND, OR or the end of the filter"},
	{"number < 3 )(", "syntax", "", 12, `unmatched ")"`},
	{"block_time > now()", "syntax", "", 14, "SQL expressions and function calls are not allowed"},
	{"block_time > current_date", "syntax", "", 14, "SQL expressions and function calls are not allowed"},
	{"block_time > interval '1' day", "syntax", "", 14, "SQL expressions"},
	{"lower(project) = 'x'", "syntax", "", 6, "function calls"},
	{"number > 1 - 2", "syntax", "", 12, `unexpected character '-'`},
	{"number > number", "syntax", "", 10, "expected a value"},
	{"number > -", "syntax", "", 10, `unexpected character '-'`},
	{"number > 0x", "syntax", "", 10, `invalid hex literal "0x"`},
	{"number > 0xZZ", "syntax", "", 10, `invalid hex literal "0xZZ"`},
	{"number > 12abc", "syntax", "", 10, `invalid number "12abc"`},
	{"number > 1.2.3", "syntax", "", 10, `invalid number "1.2.3"`},
	{"number > 1e", "syntax", "", 10, `invalid number "1e"`},
	{"number > -0x10", "syntax", "", 10, "invalid number"},
	{"project LIKE 5", "syntax", "", 14, "LIKE needs a quoted pattern"},
	{"project LIKE", "syntax", "", 13, "LIKE needs a quoted pattern"},
	{"project LIKE 'a", "syntax", "", 14, "unterminated string"},
	{"project IS 5", "syntax", "", 12, "expected NULL or NOT NULL"},
	{"project IS NOT 5", "syntax", "", 16, "expected NULL"},
	{"project IS NOT", "syntax", "", 15, "expected NULL"},
	{"project IS NOT NOT NULL", "syntax", "", 16, "expected NULL"},
	{"project = NULL", "syntax", "", 11, "use IS NULL or IS NOT NULL"},
	{"project IN ('a', NULL)", "syntax", "", 18, "use IS NULL"},
	{"project = 'a'; DROP TABLE x", "syntax", "", 14, "only a single filter expression"},
	{`"" = 'x'`, "syntax", "", 1, "empty quoted column name"},
	{"number BETWEEN 1 AND 2", "syntax", "", 8, "BETWEEN is not supported"},
	{"project ILIKE 'a'", "syntax", "", 9, "ILIKE is not supported"},
	{"and = 1", "syntax", "", 1, `must be double-quoted: "and"`},
	{"null IS NULL", "syntax", "", 1, "unexpected keyword NULL"},
	{"select * from t", "syntax", "", 8, "unexpected character '*'"},
	{"number = 1 AND\x00", "syntax", "", 15, `unexpected character '\x00'`},
	{"number = \xff", "syntax", "", 10, "invalid UTF-8"},
	{"🚀 price > 1", "syntax", "", 1, "must be double-quoted"},
	{`"🚀 price" > 1 AND )`, "syntax", "", 19, `unexpected ")"`},
	{`"🚀 price" > 1 AND 'é' = 'x'`, "syntax", "", 19, "the column comes first"},
	{"number > 1 OR", "syntax", "", 14, "unexpected end of input"},
	{"number > 1 AND OR number < 1", "syntax", "", 16, "unexpected keyword OR"},
	{"(number > 1))", "syntax", "", 13, `unmatched ")"`},
	{"number, project", "syntax", "", 7, "expected an operator"},
	{"number > 1,", "syntax", "", 11, "expected AND, OR"},
	{"number IN ((1))", "syntax", "", 12, "expected a value"},
	{deepExpr, "semantic", KindLimit, MaxDepth + 1, "nested too deeply"},
	{strings.Repeat(" ", MaxLength) + "x", "semantic", KindLimit, MaxLength + 1, "at most 4000 bytes"},
	{longExpr, "semantic", KindLimit, MaxLength + 1, "bytes long"},
	// semantic errors, in source order
	{"project NOT IN ('a')", "semantic", KindNotUnsupported, 9, "NOT IN cannot be used"},
	{"project NOT LIKE 'a%'", "semantic", KindNotUnsupported, 9, "NOT LIKE cannot be used"},
	{"project NOT = 'a'", "semantic", KindNotUnsupported, 9, "The NOT operator is not supported"},
	{"number > 1 AND NOT (number = 2)", "semantic", KindNotUnsupported, 16, "NOT"},
	{"(NOT number = 2)", "semantic", KindNotUnsupported, 2, "NOT"},
	{"nosuch = 1", "semantic", KindUnknownColumn, 1, `unknown column "nosuch"`},
	{"number = 1 OR nosuch = 1", "semantic", KindUnknownColumn, 15, `unknown column "nosuch"`},
	{`"PROJECT" = 'a'`, "semantic", KindUnknownColumn, 1, `unknown column "PROJECT"`},
	{`"special,column" = 'a'`, "semantic", KindUnknownColumn, 1, `did you mean "special, column"?`},
	{"amount_usd > '1000'", "semantic", KindTypeMismatch, 14, "amount_usd > 1000"},
	{"amount_usd > 'lots'", "semantic", KindTypeMismatch, 14, "the column holds numbers"},
	{"amount_usd > 0x10", "semantic", KindTypeMismatch, 14, "hex literal"},
	{"amount_usd = TRUE", "semantic", KindTypeMismatch, 14, "boolean TRUE"},
	{"raw > '1000'", "semantic", KindTypeMismatch, 7, "raw > 1000"},
	{"block_time > 5", "semantic", KindTypeMismatch, 14, "write dates and times as strings"},
	{"block_time > 'yesterday'", "semantic", KindBadValue, 14, "cannot read 'yesterday' as a timestamp(3) with time zone"},
	{"block_time > '2024-02-30'", "semantic", KindBadValue, 14, "cannot read"},
	{"block_time > '2024-03-05 25:00'", "semantic", KindBadValue, 14, "cannot read"},
	{"block_time > '2024-03-05 15:03 CET'", "semantic", KindBadValue, 14, "cannot read"},
	{"project = 5", "semantic", KindTypeMismatch, 11, "quote text values, e.g. project = '5'"},
	{"tx_to = 'abc'", "semantic", KindTypeMismatch, 9, "0x… hex"},
	{"tx_to = 5", "semantic", KindTypeMismatch, 9, "0x… hex"},
	{"is_whale = 1", "semantic", KindTypeMismatch, 12, "use TRUE or FALSE"},
	{"is_whale = 'yes'", "semantic", KindTypeMismatch, 12, "use TRUE or FALSE"},
	{"number LIKE '1%'", "semantic", KindTypeMismatch, 8, "LIKE cannot be applied to integer column"},
	{"is_whale LIKE 't%'", "semantic", KindTypeMismatch, 10, "LIKE cannot be applied"},
	{"tags = 'a'", "semantic", KindTypeMismatch, 6, "only IS NULL and IS NOT NULL"},
	{"tags LIKE 'a'", "semantic", KindTypeMismatch, 6, "LIKE cannot be applied"},
	{"number IN (1, 'two')", "semantic", KindTypeMismatch, 15, "the string 'two'"},
	{`"🚀 price" = 'x'`, "semantic", KindTypeMismatch, 13, `e.g. "🚀 price" > 1000`},
}

func TestMalformed(t *testing.T) {
	okDeep := strings.Repeat("(", MaxDepth) + "number = 1" + strings.Repeat(")", MaxDepth)
	if _, err := Parse(okDeep, docCols); err != nil {
		t.Fatalf("nesting of exactly MaxDepth rejected: %v", err)
	}
	tests := malformedCases
	for _, tc := range tests {
		name := tc.expr
		if len(name) > 60 {
			name = name[:60]
		}
		t.Run(name, func(t *testing.T) {
			f, err := Parse(tc.expr, docCols)
			if f != nil {
				t.Fatalf("Parse returned a filter with error %v", err)
			}
			typ, k, pos := errInfo(err)
			if typ != tc.typ || k != tc.kind || pos != tc.pos {
				t.Fatalf("got %s/%s at position %d (%v), want %s/%s at %d", typ, k, pos, err, tc.typ, tc.kind, tc.pos)
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error %q lacks %q", err, tc.msg)
			}
			if len(err.Error()) > 700 {
				t.Errorf("error text is %d bytes long", len(err.Error()))
			}
		})
	}
}

// TestPrecedence checks AND-over-OR precedence and parentheses against Go's
// own boolean evaluation on random expressions over three 0/1 columns.
func TestPrecedence(t *testing.T) {
	cols := []dune.Column{{Name: "a", Type: "integer"}, {Name: "b", Type: "integer"}, {Name: "c", Type: "integer"}}
	var rows []dune.Row
	for i := range 8 {
		rows = append(rows, dune.Row{n(fmt.Sprint(i & 1)), n(fmt.Sprint(i >> 1 & 1)), n(fmt.Sprint(i >> 2 & 1))})
	}
	fixed := []struct {
		expr string
		eval func(a, b, c bool) bool
	}{
		{"a = 1 OR b = 1 AND c = 1", func(a, b, c bool) bool { return a || (b && c) }},
		{"a = 1 AND b = 1 OR c = 1", func(a, b, c bool) bool { return (a && b) || c }},
		{"(a = 1 OR b = 1) AND c = 1", func(a, b, c bool) bool { return (a || b) && c }},
		{"a = 1 AND (b = 1 OR c = 1)", func(a, b, c bool) bool { return a && (b || c) }},
		{"((a = 1))", func(a, b, c bool) bool { return a }},
		{"a=1 or b=1 and c=0 or a=0 and c=1", func(a, b, c bool) bool { return a || (b && !c) || (!a && c) }},
		{"a <> 1 AND b != 0", func(a, b, c bool) bool { return !a && b }},
	}
	for _, tc := range fixed {
		f := mustParse(t, tc.expr, cols)
		for i, r := range rows {
			if got, want := f.Match(r), tc.eval(i&1 == 1, i>>1&1 == 1, i>>2&1 == 1); got != want {
				t.Errorf("%q on a=%d b=%d c=%d: got %v, want %v", tc.expr, i&1, i>>1&1, i>>2&1, got, want)
			}
		}
	}

	// Random trees printed with minimal parentheses (SQL precedence).
	rng := rand.New(rand.NewPCG(1, 2))
	type node struct {
		op   string // "AND", "OR" or "" for a leaf
		l, r *node
		col  int
		val  int
	}
	var gen func(depth int) *node
	gen = func(depth int) *node {
		if depth == 0 || rng.IntN(3) == 0 {
			return &node{col: rng.IntN(3), val: rng.IntN(2)}
		}
		op := "AND"
		if rng.IntN(2) == 0 {
			op = "OR"
		}
		return &node{op: op, l: gen(depth - 1), r: gen(depth - 1)}
	}
	var render func(x *node, parent string) string
	render = func(x *node, parent string) string {
		if x.op == "" {
			return fmt.Sprintf("%c = %d", 'a'+x.col, x.val)
		}
		s := render(x.l, x.op) + " " + x.op + " " + render(x.r, x.op)
		if parent == "AND" && x.op == "OR" || parent == "right" {
			return "(" + s + ")"
		}
		return s
	}
	var eval func(x *node, i int) bool
	eval = func(x *node, i int) bool {
		switch x.op {
		case "AND":
			return eval(x.l, i) && eval(x.r, i)
		case "OR":
			return eval(x.l, i) || eval(x.r, i)
		}
		return (i>>x.col)&1 == x.val
	}
	for range 300 {
		tree := gen(5)
		expr := render(tree, "")
		f := mustParse(t, expr, cols)
		for i, r := range rows {
			if got, want := f.Match(r), eval(tree, i); got != want {
				t.Fatalf("%q on row %03b: got %v, want %v", expr, i, got, want)
			}
		}
	}
}

// TestNullSemantics: every comparison with NULL is false; IS NULL is true.
func TestNullSemantics(t *testing.T) {
	nullRow := make(dune.Row, len(docCols))
	short := dune.Row{} // missing values count as NULL
	for _, expr := range []string{
		"number = 1", "number != 1", "number <> 1", "number < 1", "number <= 1", "number > 1", "number >= 1",
		"number IN (1, 2)", "project LIKE '%'", "project = ''", "project != 'x'", "block_time > '2000-01-01'",
		"tx_to = " + addrA, "is_whale = TRUE", "is_whale != TRUE", "number IS NOT NULL", "amount_usd >= 0 OR amount_usd < 0",
	} {
		f := mustParse(t, expr, docCols)
		if f.Match(nullRow) || f.Match(short) {
			t.Errorf("%q matched a NULL row", expr)
		}
	}
	for _, expr := range []string{"number IS NULL", "number = 1 OR number IS NULL", "project is null and tags IS NULL"} {
		f := mustParse(t, expr, docCols)
		if !f.Match(nullRow) || !f.Match(short) {
			t.Errorf("%q did not match a NULL row", expr)
		}
	}
	// != does not match NULLs (three-valued logic)
	f := mustParse(t, "amount_usd != 1.5", docCols)
	if got := matching(f, docRows); !slices.Equal(got, []int{2, 3}) {
		t.Errorf("amount_usd != 1.5 matched %v, want [2 3]", got)
	}
}

// TestNumbers: exact numeric comparison, including uint256 beyond 2^64 and
// integers beyond float64's 2^53.
func TestNumbers(t *testing.T) {
	cols := []dune.Column{{Name: "v", Type: "uint256"}, {Name: "d", Type: "double"}, {Name: "i", Type: "int256"}, {Name: "x", Type: "decimal(38,18)"}}
	tests := []struct {
		cell any
		expr string
		want bool
	}{
		{"2985646787349243786078", "v > 2985646787349243786077", true},
		{"2985646787349243786078", "v = 2985646787349243786078", true},
		{"2985646787349243786078", "v >= 2985646787349243786079", false},
		{"18446744073709551617", "v > 18446744073709551616", true}, // 2^64+1 > 2^64
		{"18446744073709551616", "v = 1.8446744073709551616e19", true},
		{"9007199254740993", "v > 9007199254740992", true}, // equal as float64
		{"115792089237316195423570985008687907853269984665640564039457584007913129639935", "v > 1e77", true},
		{"115792089237316195423570985008687907853269984665640564039457584007913129639935", "v < 1.2e77", true},
		{"0", "v = 0.000", true},
		{"0", "v = -0", true},
		{n("0.1"), "d = 1e-1", true},
		{n("100"), "d = 1e2", true},
		{n("1e2"), "d = 100.0", true},
		{n("2985.646787349244"), "d > 2985.646787349243", true},
		{n("2985.646787349244"), "d < 2985.6467873492441", true},
		{n("0.00001404037053195"), "d < 1.5e-5", true},
		{n("-3.2"), "d < -3.19", true},
		{n("-3.2"), "d > -3.21", true},
		{n("-3.2"), "d IN (-3.20, 7)", true},
		{"Infinity", "d > 1e300", true},
		{"-Infinity", "d < -1e300", true},
		{"NaN", "d != 1", false}, // unreadable: uncomparable
		{"NaN", "d = 1", false},
		{"-115792089237316195423570985008687907853269984665640564039457584007913129639935", "i < -1", true},
		{"-5", "i > -6", true},
		{n("12.500000000000000000"), "x = 12.5", true},
		{n("1"), "x = +1", true},
		{n("5"), "x = .5e1", true},
		{n("5"), "x = 5.", true},
	}
	for _, tc := range tests {
		i := 0
		switch tc.expr[0] {
		case 'd':
			i = 1
		case 'i':
			i = 2
		case 'x':
			i = 3
		}
		row := make(dune.Row, len(cols))
		row[i] = tc.cell
		if got := mustParse(t, tc.expr, cols).Match(row); got != tc.want {
			t.Errorf("%q on %v: got %v, want %v", tc.expr, tc.cell, got, tc.want)
		}
	}
}

func TestTypedComparisons(t *testing.T) {
	r0 := docRows[0] // block_time 2024-03-05 15:03:00 UTC, tx_to addrA, is_whale true
	tests := []struct {
		expr string
		want bool
	}{
		{"block_time = '2024-03-05 15:03'", true},
		{"block_time = '2024-03-05 15:03:00'", true},
		{"block_time = '2024-03-05 15:03:00.000'", true},
		{"block_time = '2024-03-05 15:03:00.000 UTC'", true},
		{"block_time = '2024-03-05T15:03:00Z'", true},
		{"block_time = '2024-03-05T17:03:00+02:00'", true},
		{"block_time = '2024-03-05 10:03:00-0500'", true},
		{"block_time < '2024-03-05 15:03:00.001'", true},
		{"block_time > '2024-03-05 15:02:59.999999999'", true},
		{"block_time > '2024-03-05'", true},
		{"block_time < '2024-03-06'", true},
		{"block_time IN ('2020-01-01', '2024-03-05 15:03')", true},
		{"block_time LIKE '2024-03-05%'", true}, // on the cell text as served
		{"block_month = '2024-03-01'", true},
		{"block_month >= '2024-03-01 00:00:00.000 UTC'", true},
		{"tx_to = " + addrA, true},
		{"tx_to = '" + strings.ToUpper(addrA) + "'", true}, // '0X…' upper-case prefix too
		{"tx_to = '0x" + strings.ToUpper(addrA[2:]) + "'", true},
		{"tx_to = 0x" + strings.ToUpper(addrA[2:]), true},
		{"tx_to > 0x6a", true},
		{"tx_to < 0x6a3f", true},
		{"tx_to LIKE '0x6a3e%'", true},
		{"is_whale = TRUE", true},
		{"is_whale = true", true},
		{"is_whale = 'TRUE'", true},
		{"is_whale != FALSE", true},
		{"is_whale > FALSE", true},
		{"token_symbol = 'WETH'", true},
		{"token_symbol = 'weth'", false}, // case-sensitive
		{"token_symbol > 'WETG'", true},
		{"token_symbol < 'WETHa'", true},
		{"project = 0x756e6973776170", false}, // hex vs varchar compares the text, not bytes
		{`"🚀 price" = 3.5`, true},
		{`"say ""hi""" = 'hi'`, true},
		{`"special, column" IN ('x', 'ABC')`, true},
		{"BLOCK_TIME > '2024-01-01'", true}, // bare identifiers: case-insensitive fallback
		{"Token_Symbol = 'WETH'", true},
		{"raw = 2985646787349243786078", true},
		{"tags IS NOT NULL", true},
		{"project = 'it''s'", false},
	}
	for _, tc := range tests {
		if got := mustParse(t, tc.expr, docCols).Match(r0); got != tc.want {
			t.Errorf("%q: got %v, want %v", tc.expr, got, tc.want)
		}
	}
	// A quoted '' escape and a varchar holding a quote.
	cols := []dune.Column{{Name: "s", Type: "varchar"}}
	if !mustParse(t, "s = 'it''s'", cols).Match(dune.Row{"it's"}) {
		t.Error("'' escape not applied")
	}
	// 0x literal against a varchar column compares case-insensitively.
	if !mustParse(t, "s = 0xABCD", cols).Match(dune.Row{"0xabcd"}) {
		t.Error("hex literal vs varchar")
	}
	// Unreadable timestamp cells never match.
	tcols := []dune.Column{{Name: "t", Type: "timestamp"}}
	for _, expr := range []string{"t > '2000-01-01'", "t < '2100-01-01'", "t != '2000-01-01'"} {
		if mustParse(t, expr, tcols).Match(dune.Row{"not a time"}) {
			t.Errorf("%q matched an unreadable timestamp", expr)
		}
	}
}

// TestUntypedColumns covers fixture-like columns without column_types.
func TestUntypedColumns(t *testing.T) {
	cols := []dune.Column{{Name: "amount_usd"}, {Name: "block_time"}, {Name: "tx_to"}, {Name: "evt_index"}, {Name: "raw"}, {Name: "flag"}, {Name: "sym"}}
	row := dune.Row{n("0.0038254393551350966"), "2024-03-05 20:50:59.000 UTC", "0x1111111254eeb25477b68fb85ed929f73a960582", n("432"), "23274980840704048977780", true, "USDC"}
	tests := []struct {
		expr string
		want bool
	}{
		{"amount_usd > 0.0038", true},
		{"amount_usd < 0.004", true},
		{"amount_usd > 'abc'", false}, // number vs text: uncomparable
		{"block_time > '2024-03-01'", true},
		{"block_time = '2024-03-05T20:50:59Z'", true},
		{"block_time < '2024-03-05 20:50'", false},
		{"tx_to = 0x1111111254EEB25477B68FB85ED929F73A960582", true},
		{"tx_to = '0x1111111254EEB25477B68FB85ED929F73A960582'", false}, // strings stay case-sensitive
		{"evt_index = 432", true},
		{"evt_index = '432'", true}, // lenient without a type
		{"evt_index IN (1, 432)", true},
		{"evt_index LIKE '43%'", true},
		{"raw > 23274980840704048977779", true},
		{"raw < 2.4e22", true},
		{"flag = TRUE", true},
		{"flag = 'true'", true},
		{"flag = FALSE", false},
		{"flag LIKE 't%'", false},
		{"sym = 'USDC'", true},
		{"sym = 5", false},
		{"sym IS NOT NULL", true},
	}
	for _, tc := range tests {
		if got := mustParse(t, tc.expr, cols).Match(row); got != tc.want {
			t.Errorf("%q: got %v, want %v", tc.expr, got, tc.want)
		}
	}
}

func TestLike(t *testing.T) {
	tests := []struct {
		pat, s string
		want   bool
	}{
		{"WETH%", "WETH", true},
		{"WETH%", "WETH.e", true},
		{"WETH%", "weth", false},
		{"%USDC%", "WETH-USDC", true},
		{"%USDC%", "USDC", true},
		{"%USDC%", "USD", false},
		{"%", "", true},
		{"", "", true},
		{"", "a", false},
		{"_", "é", true},
		{"_", "", false},
		{"__", "🚀x", true},
		{"a_c", "abc", true},
		{"a_c", "abbc", false},
		{"a%c", "ac", true},
		{"a%c", "abxc", true},
		{"a%c", "abxcd", false},
		{"%a%b%c%", "xxaxxbxxcxx", true},
		{"%a%b%c%", "cba", false},
		{"%ab_d%", "abxabcd", true},
		{"a%%b", "ab", true},
		{"%aa", "aaa", true},
		{"aa%aa", "aaa", false},
		{"aa%aa", "aaaa", true},
		{"%_%", "", false},
		{"%_%", "x", true},
		{"it's%", "it's here", true},
		{"100\\%", "100\\x", true}, // no escape character: \ is literal, % a wildcard
		{"100\\%", "100%", false},
	}
	cols := []dune.Column{{Name: "s", Type: "varchar"}}
	for _, tc := range tests {
		expr := "s LIKE '" + strings.ReplaceAll(tc.pat, "'", "''") + "'"
		if got := mustParse(t, expr, cols).Match(dune.Row{tc.s}); got != tc.want {
			t.Errorf("%q LIKE %q: got %v, want %v", tc.s, tc.pat, got, tc.want)
		}
	}
}

func TestColumnResolution(t *testing.T) {
	cols := []dune.Column{{Name: "Amount", Type: "double"}, {Name: "AMOUNT", Type: "double"}, {Name: "amount_usd", Type: "double"}}
	row := dune.Row{n("1"), n("2"), n("3")}
	if !mustParse(t, "Amount = 1", cols).Match(row) || !mustParse(t, "AMOUNT = 2", cols).Match(row) {
		t.Error("exact matches must win")
	}
	if !mustParse(t, `"AMOUNT" = 2`, cols).Match(row) {
		t.Error("quoted exact match")
	}
	if !mustParse(t, "AMOUNT_USD = 3", cols).Match(row) {
		t.Error("case-insensitive fallback")
	}
	_, err := Parse("amount = 1", cols)
	if typ, k, pos := errInfo(err); typ != "semantic" || k != KindAmbiguousColumn || pos != 1 {
		t.Errorf("ambiguous: got %s/%s at %d (%v)", typ, k, pos, err)
	}
	_, err = Parse(`"amount_USD" = 3`, cols)
	if _, k, _ := errInfo(err); k != KindUnknownColumn {
		t.Errorf("quoted names must match exactly: %v", err)
	}
	_, err = Parse("x = 1", nil)
	if !strings.Contains(fmt.Sprint(err), "the result has no columns") {
		t.Errorf("no columns: %v", err)
	}
	// The unknown-column hint stays short however many columns there are.
	var wide []dune.Column
	for i := range 300 {
		wide = append(wide, dune.Column{Name: fmt.Sprintf("a_very_long_column_name_number_%03d_%s", i, strings.Repeat("x", 60)), Type: "double"})
	}
	_, err = Parse(strings.Repeat("y", 300)+" = 1", wide)
	if _, k, _ := errInfo(err); k != KindUnknownColumn || len(err.Error()) > 1000 || !strings.Contains(err.Error(), "(300 in total)") {
		t.Errorf("wide unknown column error (%d bytes): %v", len(fmt.Sprint(err)), err)
	}
	var fe *Error
	if _, err := Parse("nosuch = 1", docCols); !asError(err, &fe) || fe.Column != "nosuch" {
		t.Errorf("Error.Column: %+v", fe)
	}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	*target = e
	return ok
}

func TestColumns(t *testing.T) {
	f := mustParse(t, "number > 1 OR (project = 'a' AND number < 0)", docCols)
	if got := f.Columns(); !slices.Equal(got, []int{4, 10}) {
		t.Errorf("Columns() = %v", got)
	}
}

// TestLargeIn uses the set path for long IN lists on varchar and varbinary.
func TestLargeIn(t *testing.T) {
	var vals, hexes []string
	for i := range 50 {
		vals = append(vals, fmt.Sprintf("'p%d'", i))
		hexes = append(hexes, fmt.Sprintf("0x%040X", i))
	}
	f := mustParse(t, "project IN ("+strings.Join(vals, ", ")+")", docCols)
	g := mustParse(t, "tx_to IN ("+strings.Join(hexes, ", ")+")", docCols)
	h := mustParse(t, "token_pair IN ("+strings.Join(hexes, ", ")+", 'x', 'y', 'z', 'u', 'v', 'w', 'q', 'r')", docCols)
	row := mkRow(docCols, map[string]any{"project": "p49", "tx_to": fmt.Sprintf("0x%040x", 7), "token_pair": fmt.Sprintf("0x%040x", 3)})
	if !f.Match(row) || !g.Match(row) || !h.Match(row) {
		t.Errorf("large IN: %v %v %v", f.Match(row), g.Match(row), h.Match(row))
	}
	row = mkRow(docCols, map[string]any{"project": "P49", "tx_to": "0x01", "token_pair": "X"})
	if f.Match(row) || g.Match(row) || h.Match(row) {
		t.Error("large IN matched a non-member")
	}
}

// TestConcurrentMatch exercises a shared Filter from several goroutines
// (meaningful under -race).
func TestConcurrentMatch(t *testing.T) {
	f := mustParse(t, "token_symbol LIKE 'WETH%' AND (number < 3 OR number IS NULL)", docCols)
	done := make(chan []int)
	for range 4 {
		go func() { done <- matching(f, docRows) }()
	}
	for range 4 {
		if got := <-done; !slices.Equal(got, []int{0, 1, 3}) {
			t.Errorf("got %v", got)
		}
	}
}
