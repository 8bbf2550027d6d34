package emulator_test

// A test-only oracle for filters and sort_by: the demo datasets loaded into
// SQLite (modernc.org/sqlite, pure Go), with each Dune type stored so that
// SQLite's own comparison, IN, GLOB and ORDER BY give Dune's documented
// semantics (internal/emulator/filter/doc.go):
//
//   - numeric types (bigint, double, uint256, ...): an order-preserving text
//     key of the exact decimal value (numKey), so uint256 strings beyond 2^64
//     and doubles compare exactly, never through float64;
//   - timestamp and date: the instant in UTC as fixed-width text
//     (timeKey), so text order is chronological whatever format the cell or
//     the literal was written in;
//   - varchar: the text, BINARY collation (byte order, case-sensitive);
//   - varbinary: the hex text with COLLATE NOCASE (ASCII case folded);
//   - boolean: INTEGER 0/1 (FALSE < TRUE);
//   - NULL: SQL NULL. The filter language has no NOT, so SQL's three-valued
//     logic selects exactly the rows where a NULL comparison counts as false.
//
// LIKE becomes GLOB (case-sensitive, one UTF-8 character per ?), sorting is
// ORDER BY key ASC|DESC NULLS LAST with the original row index as the last
// key (stable). Nothing here uses the emulator's filter package.

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "modernc.org/sqlite"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// okind is how the oracle stores and compares a column.
type okind uint8

const (
	oNum okind = iota
	oTime
	oText
	oHex
	oBool
)

// okindOf maps a Dune type to its oracle kind.
func okindOf(typ string) (okind, error) {
	t := strings.ToLower(typ)
	if i := strings.IndexByte(t, '('); i >= 0 {
		t = t[:i]
	}
	switch {
	case t == "tinyint", t == "smallint", t == "integer", t == "bigint", t == "real", t == "double",
		t == "decimal", t == "uint256", t == "int256":
		return oNum, nil
	case t == "date", strings.HasPrefix(t, "timestamp"):
		return oTime, nil
	case t == "varchar":
		return oText, nil
	case t == "varbinary":
		return oHex, nil
	case t == "boolean":
		return oBool, nil
	}
	return 0, fmt.Errorf("oracle: no representation for type %q", typ)
}

// numKey encodes a decimal number ([+-]digits[.digits][(e|E)[+-]digits]) as
// text whose byte order is the numbers' order: "1" for zero, "2" + biased
// exponent + significant digits for positives, "0" + complemented exponent
// + complemented digits + "~" for negatives.
func numKey(s string) (string, bool) {
	i, neg := 0, false
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		neg = s[i] == '-'
		i++
	}
	var digits []byte
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		digits = append(digits, s[i])
		i++
	}
	intDigits := len(digits)
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			digits = append(digits, s[i])
			i++
		}
	}
	if len(digits) == 0 {
		return "", false
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		rest := s[i+1:]
		if rest == "" || rest[0] == '+' && len(rest) == 1 {
			return "", false
		}
		e, err := strconv.Atoi(rest)
		if err != nil || e > 100000 || e < -100000 {
			return "", false
		}
		exp, i = e, len(s)
	}
	if i != len(s) {
		return "", false
	}
	// value = 0.digits x 10^e
	e := intDigits + exp
	for len(digits) > 0 && digits[0] == '0' {
		digits = digits[1:]
		e--
	}
	for len(digits) > 0 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	if len(digits) == 0 {
		return "1", true
	}
	const bias = 500000
	if !neg {
		return fmt.Sprintf("2%06d%s", e+bias, digits), true
	}
	comp := make([]byte, len(digits))
	for k, d := range digits {
		comp[k] = '9' - d + '0'
	}
	return fmt.Sprintf("0%06d%s~", 2*bias-1-(e+bias), comp), true
}

// timeLayouts are the forms the oracle reads timestamps in: Dune's cells
// ("2024-03-05 20:50:59.000 UTC", "2024-03-01T00:00:00Z") and the literal
// forms the package documents. Go accepts a fraction after seconds even when
// a layout has none; a time without a zone is UTC.
var timeLayouts = []string{
	"2006-01-02",
	"2006-01-02 15:04",
	"2006-01-02 15:04:05",
	"2006-01-02 15:04:05 MST",
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05",
	time.RFC3339,
}

func parseTime(s string) (time.Time, bool) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// cellTimeLayouts are the forms Dune writes timestamp and date cells in,
// tried first when loading.
var cellTimeLayouts = []string{"2006-01-02 15:04:05 MST", time.RFC3339}

// timeKey is the instant as fixed-width UTC text (years 0000-9999).
func timeKey(s string) (string, bool) {
	t, ok := parseTime(s)
	if !ok || t.UTC().Year() < 0 || t.UTC().Year() > 9999 {
		return "", false
	}
	return t.UTC().Format("2006-01-02 15:04:05.000000000"), true
}

// ocol is one dataset column as the oracle stores it.
type ocol struct {
	name, typ string
	kind      okind
	ds        int    // index in the dataset's columns
	sql       string // SQLite column name
	vals      []any  // distinct non-NULL cells, in row order, for literals
	nulls     int
}

// otable is one dataset loaded into SQLite.
type otable struct {
	name    string
	ds      *emulator.Dataset
	cols    []*ocol
	idCols  []string       // columns that identify a row in projected HTTP answers
	queryID int64          // demo query serving the same rows
	partial bool           // COMPLETED_PARTIAL: needs allow_partial_results=true
	execID  string         // on the demo server
	copyID  string         // on the server of in-memory copies
	index   map[string]int // column name -> index in the dataset
}

// oracle is an in-memory SQLite database holding the tables.
type oracle struct {
	db     *sql.DB
	tables []*otable
}

func newOracle(t testing.TB) *oracle {
	t.Helper()
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one connection: one in-memory database
	t.Cleanup(func() { _ = db.Close() })
	return &oracle{db: db}
}

// cellKey converts a dataset cell to the value stored for kind k.
func cellKey(k okind, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	var s string
	switch x := v.(type) {
	case string:
		s = x
	case json.Number:
		s = string(x)
	case bool:
		if k != oBool {
			return nil, fmt.Errorf("boolean cell in a non-boolean column")
		}
		if x {
			return int64(1), nil
		}
		return int64(0), nil
	default:
		return nil, fmt.Errorf("unexpected cell %T %v", v, v)
	}
	switch k {
	case oNum:
		if key, ok := numKey(s); ok {
			return key, nil
		}
		switch s { // double infinities, as Dune writes them: beyond every finite key
		case "Infinity":
			return "3", nil
		case "-Infinity":
			return "/", nil
		}
	case oTime:
		for _, l := range cellTimeLayouts {
			if t, err := time.Parse(l, s); err == nil {
				return t.UTC().Format("2006-01-02 15:04:05.000000000"), nil
			}
		}
		if key, ok := timeKey(s); ok {
			return key, nil
		}
	case oText, oHex:
		return s, nil
	}
	return nil, fmt.Errorf("cannot read %q as kind %d", s, k)
}

// load copies ds into a table.
func (o *oracle) load(t testing.TB, name string, ds *emulator.Dataset, idCols []string) *otable {
	t.Helper()
	ncols := len(ds.Columns)
	tb := &otable{name: name, ds: ds, idCols: idCols, index: map[string]int{}}
	for j, c := range ds.Columns {
		tb.index[c.Name] = j
	}
	defs := []string{"idx INTEGER PRIMARY KEY"}
	for j, c := range ds.Columns {
		k, err := okindOf(c.Type)
		if err != nil {
			t.Fatal(err)
		}
		oc := &ocol{name: c.Name, typ: c.Type, kind: k, ds: j, sql: fmt.Sprintf("c%d", j)}
		decl := map[okind]string{oNum: "TEXT", oTime: "TEXT", oText: "TEXT", oHex: "TEXT COLLATE NOCASE", oBool: "INTEGER"}[k]
		defs = append(defs, oc.sql+" "+decl)
		tb.cols = append(tb.cols, oc)
	}
	mustExec(t, o.db, fmt.Sprintf("CREATE TABLE %s (%s)", name, strings.Join(defs, ", ")))
	seen := make([]map[string]bool, ncols)
	for j := range seen {
		seen[j] = map[string]bool{}
	}
	// Many rows per INSERT: each statement costs far more than a row.
	const batch = 100
	tuple := "(" + strings.TrimSuffix(strings.Repeat("?,", ncols+1), ",") + ")"
	insert := func(rows int) string {
		return fmt.Sprintf("INSERT INTO %s VALUES %s", name, strings.TrimSuffix(strings.Repeat(tuple+",", rows), ","))
	}
	full, err := o.db.Prepare(insert(batch))
	if err != nil {
		t.Fatal(err)
	}
	defer full.Close()
	var args []any
	flush := func(rows int) {
		var err error
		switch rows {
		case 0:
			return
		case batch:
			_, err = full.Exec(args...)
		default:
			_, err = o.db.Exec(insert(rows), args...)
		}
		if err != nil {
			t.Fatal(err)
		}
		args = args[:0]
	}
	for i := 0; i < ds.Len(); i++ {
		row := ds.Row(i)
		args = append(args, i)
		for j, oc := range tb.cols {
			v := row[oc.ds]
			key, err := cellKey(oc.kind, v)
			if err != nil {
				t.Fatalf("%s row %d column %s: %v", name, i, oc.name, err)
			}
			args = append(args, key)
			if v == nil {
				oc.nulls++
			} else if s := cellString(v); !seen[j][s] {
				seen[j][s] = true
				oc.vals = append(oc.vals, v)
			}
		}
		if (i+1)%batch == 0 {
			flush(batch)
		}
	}
	flush(ds.Len() % batch)
	o.tables = append(o.tables, tb)
	return tb
}

// cellString is a scalar cell's text (columns hold one type each).
func cellString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return string(x)
	}
	return fmt.Sprint(v)
}

func mustExec(t testing.TB, db *sql.DB, q string) {
	t.Helper()
	if _, err := db.Exec(q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// query returns the indexes of the rows matching where (SQL, "" for all),
// in orderBy order (SQL terms, may be empty) then by index.
func (o *oracle) query(tb *otable, where, orderBy string) ([]int, error) {
	q := "SELECT idx FROM " + tb.name
	if where != "" {
		q += " WHERE " + where
	}
	q += " ORDER BY "
	if orderBy != "" {
		q += orderBy + ", "
	}
	q += "idx"
	rows, err := o.db.Query(q)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", q, err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var i int
		if err := rows.Scan(&i); err != nil {
			return nil, err
		}
		out = append(out, i)
	}
	return out, rows.Err()
}

// col finds a loaded column by name.
func (tb *otable) col(name string) *ocol {
	for _, c := range tb.cols {
		if c.name == name {
			return c
		}
	}
	return nil
}

// project returns row i of the dataset restricted to the named columns.
func (tb *otable) project(i int, names []string) dune.Row {
	row := tb.ds.Row(i)
	out := make(dune.Row, len(names))
	for k, n := range names {
		out[k] = row[tb.index[n]]
	}
	return out
}

// colNames lists the loaded columns' names.
func (tb *otable) colNames() []string {
	out := make([]string, len(tb.cols))
	for k, c := range tb.cols {
		out[k] = c.name
	}
	return out
}
