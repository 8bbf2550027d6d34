package emulator

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
)

// Dataset is an immutable table the emulator serves. Generated datasets
// compute row i on demand from their seed and i, so a 100,000-row dataset
// costs nothing until rows are read; fixture and NewDataset datasets hold
// their rows in memory.
type Dataset struct {
	// Name is a short human-readable label, e.g. "dex_trades".
	Name string
	// Columns are the dataset's columns in query order with Dune types.
	Columns []dune.Column

	n       int
	gen     func(i int) dune.Row
	genSome func(i int, want []bool, buf dune.Row) dune.Row // optional: only the wanted columns (others nil), into buf if it has room
	rows    []dune.Row
	once    sync.Once
	bytes   int64 // total_result_set_bytes, computed once
}

// NewDataset returns a dataset holding rows (values in cols order, encoded as
// Dataset.Row documents). The rows are not copied; do not modify them later.
func NewDataset(name string, cols []dune.Column, rows []dune.Row) *Dataset {
	return &Dataset{Name: name, Columns: cols, n: len(rows), rows: rows}
}

// GeneratedDataset returns an n-row dataset whose row i is gen(i). gen must
// be deterministic, safe for concurrent use, and return a fresh slice of
// len(cols) values on every call.
func GeneratedDataset(name string, cols []dune.Column, n int, gen func(i int) dune.Row) *Dataset {
	return &Dataset{Name: name, Columns: cols, n: n, gen: gen}
}

// columnsOf builds columns from "name type" pairs, e.g. "rank bigint".
func columnsOf(pairs ...string) []dune.Column {
	cols := make([]dune.Column, len(pairs))
	for i, p := range pairs {
		name, typ, _ := strings.Cut(p, " ")
		cols[i] = dune.Column{Name: name, Type: typ}
	}
	return cols
}

// Len returns the number of rows.
func (d *Dataset) Len() int { return d.n }

// Row returns row i (0 <= i < Len()) with values in Columns order, exactly as
// Dune's JSON would carry them: nil for NULL, string (varchar, varbinary,
// timestamps, uint256/int256), json.Number for other numbers, bool, or nested
// []any / map[string]any. The returned slice belongs to the caller.
func (d *Dataset) Row(i int) dune.Row {
	if d.gen != nil {
		return d.gen(i)
	}
	return append(dune.Row(nil), d.rows[i]...)
}

// row is Row without the defensive copy, for read-only internal use.
func (d *Dataset) row(i int) dune.Row {
	if d.gen != nil {
		return d.gen(i)
	}
	return d.rows[i]
}

// exactBytesRows is the size up to which totalBytes reads every row; larger
// generated datasets are measured on an even sample of rows.
const exactBytesRows = 8192

// rowCols returns row i with at least the columns where want is true
// filled; other values may be nil. want == nil means every column.
func (d *Dataset) rowCols(i int, want []bool) dune.Row {
	if want != nil && d.genSome != nil {
		return d.genSome(i, want, nil)
	}
	return d.row(i)
}

// rowColsInto is rowCols that may reuse buf (a row it returned earlier,
// no longer in use) instead of allocating a row, for loops that read each
// row once and keep none of them.
func (d *Dataset) rowColsInto(i int, want []bool, buf dune.Row) dune.Row {
	if want != nil && d.genSome != nil {
		return d.genSome(i, want, buf)
	}
	return d.row(i)
}

// wantCols returns a column mask for rowCols, nil when every column is needed.
func (d *Dataset) wantCols(cols []int) []bool {
	if d.genSome == nil || len(cols) >= len(d.Columns) {
		return nil
	}
	want := make([]bool, len(d.Columns))
	for _, j := range cols {
		want[j] = true
	}
	return want
}

// totalBytes returns the dataset's total_result_set_bytes: one header line of
// column names plus the text of every cell (NULL counts 0), computed once
// (estimated from exactBytesRows evenly spaced rows for large generated
// datasets, so a 100,000-row dataset is not generated twice).
func (d *Dataset) totalBytes() int64 {
	d.once.Do(func() {
		var header int64
		for _, c := range d.Columns {
			header += int64(len(c.Name))
		}
		rowBytes := func(i int) (n int64) {
			for _, v := range d.row(i) {
				n += int64(cellBytes(v))
			}
			return n
		}
		var cells int64
		if d.gen == nil || d.n <= exactBytesRows {
			for i := 0; i < d.n; i++ {
				cells += rowBytes(i)
			}
		} else {
			for k := 0; k < exactBytesRows; k++ {
				cells += rowBytes(int(int64(k) * int64(d.n) / exactBytesRows))
			}
			cells = int64(float64(cells) * float64(d.n) / exactBytesRows)
		}
		d.bytes = header + cells
	})
	return d.bytes
}

// duneTimestamp formats t (UTC) as Dune writes timestamps:
// "2024-03-05 20:50:59.000 UTC" (milliseconds).
func duneTimestamp(t time.Time) string {
	var b [27]byte
	y, mo, d := t.Date()
	h, mi, s := t.Clock()
	ms := t.Nanosecond() / 1e6
	put := func(at, v, width int) {
		for k := width - 1; k >= 0; k-- {
			b[at+k] = byte('0' + v%10)
			v /= 10
		}
	}
	put(0, y, 4)
	b[4] = '-'
	put(5, int(mo), 2)
	b[7] = '-'
	put(8, d, 2)
	b[10] = ' '
	put(11, h, 2)
	b[13] = ':'
	put(14, mi, 2)
	b[16] = ':'
	put(17, s, 2)
	b[19] = '.'
	put(20, ms, 3)
	copy(b[23:], " UTC")
	return string(b[:])
}

// cellBytes is the size of one value in Dune's raw result-set byte count.
func cellBytes(v any) int {
	switch x := v.(type) {
	case nil:
		return 0
	case string:
		return len(x)
	case json.Number:
		return len(x)
	case bool:
		if x {
			return 4
		}
		return 5
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return 0
		}
		return len(b)
	}
}

// ---- deterministic per-row randomness ----

const golden = 0x9e3779b97f4a7c15

// mix64 is the splitmix64 finaliser.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// rnd is a splitmix64 stream; a fresh one per row keeps rows independent.
type rnd struct{ s uint64 }

func newRnd(seed int64, i int, salt uint64) rnd {
	return rnd{s: mix64(uint64(seed)*golden ^ mix64(uint64(i)+salt*0x632be59bd9b4e019))}
}

func (r *rnd) next() uint64 {
	r.s += golden
	return mix64(r.s)
}

// intn returns a value in [0, n).
func (r *rnd) intn(n int) int { return int(r.next() % uint64(n)) }

// float returns a value in [0, 1).
func (r *rnd) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// chance reports true with probability p.
func (r *rnd) chance(p float64) bool { return r.float() < p }

// normal returns a standard normal variate (Box-Muller).
func (r *rnd) normal() float64 {
	u1 := r.float()
	if u1 < 1e-300 {
		u1 = 1e-300
	}
	return math.Sqrt(-2*math.Log(u1)) * math.Cos(2*math.Pi*r.float())
}

// pickWeighted returns an index into weights with probability proportional
// to its weight.
func (r *rnd) pickWeighted(weights []float64, sum float64) int {
	x := r.float() * sum
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

const hexdigits = "0123456789abcdef"

// hexFrom returns "0x" + nbytes of bytes derived from h as lower-case hex.
func hexFrom(h uint64, nbytes int) string {
	b := make([]byte, 2+2*nbytes)
	b[0], b[1] = '0', 'x'
	s := h
	for i := 0; i < nbytes; i += 8 {
		s += golden
		v := mix64(s)
		for k := 0; k < 8 && i+k < nbytes; k++ {
			c := byte(v >> (8 * k))
			b[2+2*(i+k)] = hexdigits[c>>4]
			b[3+2*(i+k)] = hexdigits[c&15]
		}
	}
	return string(b)
}

// hashString is FNV-1a, to derive stable addresses from labels.
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// numFloat formats f the way encoding/json does, as a json.Number.
func numFloat(f float64) json.Number {
	return json.Number(appendFloat(nil, f))
}

func appendFloat(b []byte, f float64) []byte {
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	b = strconv.AppendFloat(b, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

func numInt(v int64) json.Number { return json.Number(strconv.FormatInt(v, 10)) }

// round rounds f to d decimals.
func round(f float64, d int) float64 {
	p := math.Pow10(d)
	return math.Round(f*p) / p
}

// ---- Tiny and Empty ----

// Tiny returns a 3-row dataset (rank bigint, project varchar, volume_usd
// double, launched date) with one NULL, for quick tests.
func Tiny() *Dataset {
	cols := columnsOf("rank bigint", "project varchar", "volume_usd double", "launched date")
	rows := []dune.Row{
		{json.Number("1"), "uniswap", json.Number("1523432187.25"), "2018-11-01T00:00:00Z"},
		{json.Number("2"), "pancakeswap", json.Number("811209334.5"), "2020-09-01T00:00:00Z"},
		{json.Number("3"), "curve", nil, "2020-01-01T00:00:00Z"},
	}
	return NewDataset("tiny", cols, rows)
}

// Empty returns a dataset with three columns (block_time timestamp, tx_hash
// varbinary, amount_usd double) and no rows.
func Empty() *Dataset {
	cols := columnsOf("block_time timestamp", "tx_hash varbinary", "amount_usd double")
	return NewDataset("empty", cols, nil)
}

// String describes the dataset in one line, e.g. "dex_trades: 100000 rows x 22 columns".
func (d *Dataset) String() string {
	return fmt.Sprintf("%s: %d rows x %d columns", d.Name, d.n, len(d.Columns))
}
