package summary

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// The oracle of these tests is encoding/json: appendJSON must write exactly
// json.Marshal's bytes, and fail where it fails.

// checkAppendJSON fails t unless appendJSON(v) appends json.Marshal(v)'s
// bytes to a prefix it keeps, or fails exactly when json.Marshal does.
func checkAppendJSON(t *testing.T, v any) {
	t.Helper()
	want, wantErr := json.Marshal(v)
	prefix := []byte("[1,")
	got, err := appendJSON(bytes.Clone(prefix), v)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("appendJSON(%#v): error %v, json.Marshal's %v", v, err, wantErr)
	}
	if wantErr != nil {
		return
	}
	if !bytes.HasPrefix(got, prefix) {
		t.Fatalf("appendJSON(%#v) lost what dst held: %q", v, got)
	}
	if got = got[len(prefix):]; !bytes.Equal(got, want) {
		t.Fatalf("appendJSON(%#v)\n got %q\nwant %q", v, got, want)
	}
}

// trickyRunes are the characters encoding/json treats specially, and
// neighbours of them.
var trickyRunes = []string{
	"a", "Z", " ", "~", "\x7f", `"`, `\`, "/", "<", ">", "&", "'", "\x00", "\x01", "\x08", "\x09",
	"\x0a", "\x0b", "\x0c", "\x0d", "\x1b", "\x1f", "é", "—", "€", "\u2027", "\u2028", "\u2029",
	"\u202a", "\ufeff", "\ufffd", "😀", "𝄞", "\U0010ffff",
	"\x80", "\xbf", "\xc0", "\xc3", "\xe2\x80", "\xed\xa0\x80", "\xf0\x9f", "\xf4\x90\x80\x80", "\xff",
}

func trickyString(r *rand.Rand) string {
	var b strings.Builder
	for range r.IntN(12) {
		if r.IntN(3) == 0 {
			b.WriteByte(byte(r.IntN(256))) // any byte: control, ASCII, stray UTF-8
		} else {
			b.WriteString(trickyRunes[r.IntN(len(trickyRunes))])
		}
	}
	return b.String()
}

var trickyNumbers = []string{
	"", "0", "-0", "1", "-1", "01", "00", "-", "+1", "1.", ".5", "0.5", "1.50", "1e5", "1E5", "1e+5",
	"1e-5", "1e", "1e+", "-1.5e-300", "123456789012345678901234567890", "1.5x", "0x10", "NaN",
	"Infinity", " 1", "1 ", "1_000", "9007199254740993", "1.7976931348623157e309",
}

func trickyFloat(r *rand.Rand) float64 {
	switch r.IntN(8) {
	case 0:
		return math.Float64frombits(r.Uint64()) // anything, NaN and ±Inf included
	case 1:
		return []float64{0, math.Copysign(0, -1), 1e-6, 1e-7, 9.99999e-7, 1e21, 1e20, 999999999999999999999.0,
			-1e21, math.MaxFloat64, math.SmallestNonzeroFloat64, 0.1, 1.0 / 3, 5e-324, 123456789.125}[r.IntN(15)]
	case 2:
		return float64(r.Int64N(1<<53)) * math.Pow10(r.IntN(60)-30)
	default:
		return r.NormFloat64() * math.Pow10(r.IntN(50)-25)
	}
}

// trickyValue returns a value of the kinds rows hold (and a few others),
// nested up to depth levels.
func trickyValue(r *rand.Rand, depth int) any {
	switch k := r.IntN(14); {
	case k == 0:
		return nil
	case k == 1:
		return r.IntN(2) == 0
	case k < 5:
		return trickyString(r)
	case k < 7:
		if r.IntN(2) == 0 {
			return json.Number(trickyNumbers[r.IntN(len(trickyNumbers))])
		}
		return json.Number(fmt.Sprint(r.Int64()))
	case k < 9:
		return trickyFloat(r)
	case k == 9:
		return []any{int64(r.Uint64()), r.IntN(1000) - 500, float32(r.NormFloat64()), uint8(r.IntN(256)),
			time.Unix(r.Int64N(1e10), 0).UTC(), []string{trickyString(r)}, map[string]int{trickyString(r): 1},
			struct{ A string }{trickyString(r)}, []any(nil), map[string]any(nil), json.RawMessage(`{"a": 1}`)}[r.IntN(11)]
	case k < 12 && depth > 0:
		a := make([]any, r.IntN(5))
		for i := range a {
			a[i] = trickyValue(r, depth-1)
		}
		return a
	case depth > 0:
		m := map[string]any{}
		for range r.IntN(5) {
			m[trickyString(r)] = trickyValue(r, depth-1)
		}
		return m
	}
	return trickyString(r)
}

func TestAppendJSONMatchesMarshal(t *testing.T) {
	for _, v := range []any{
		nil, true, false, "", "<a href=\"x\">&amp;</a>", "\u2028\u2029", "\xff\xfe", "tab\there",
		json.Number(""), json.Number("1e5"), json.Number("01"), 0.0, 1e-7, 1e21, 1e20, -0.000001,
		math.NaN(), math.Inf(1), []any{}, []any(nil), map[string]any{}, map[string]any(nil), dune.Row{"x", nil},
		[]any{json.Number("1"), []any{map[string]any{"b": 1.5, "a": "<"}}},
	} {
		checkAppendJSON(t, v)
	}
	r := rand.New(rand.NewPCG(10, 6))
	for range 20000 {
		checkAppendJSON(t, trickyValue(r, 3))
	}
	for range 2000 { // rows: arrays of values
		row := make([]any, r.IntN(30))
		for i := range row {
			row[i] = trickyValue(r, 2)
		}
		checkAppendJSON(t, row)
	}
}

// TestAppendJSONDemoRows checks the demo datasets' rows, as the emulator
// holds them and as dune's decoder (json.Number, nested values) reads
// them back from their JSON.
func TestAppendJSONDemoRows(t *testing.T) {
	sets := map[string]*emulator.Dataset{
		"dex":    emulator.DEXTrades(300, 1001),
		"wide":   emulator.Wide(40, 300, 1002),
		"long":   emulator.LongText(60, 1003),
		"daily":  emulator.DailySeries(400, 1004),
		"tiny":   emulator.Tiny(),
		"wallet": emulator.WalletActivity(emulator.DemoWalletAddress),
	}
	for name, ds := range sets {
		t.Run(name, func(t *testing.T) {
			if ds.Len() == 0 {
				t.Fatal("no rows")
			}
			for i := range ds.Len() {
				row := ds.Row(i)
				checkAppendJSON(t, []any(row))
				js, err := json.Marshal(row)
				if err != nil {
					t.Fatal(err)
				}
				dec := json.NewDecoder(bytes.NewReader(js))
				dec.UseNumber()
				var back []any
				if err := dec.Decode(&back); err != nil {
					t.Fatal(err)
				}
				checkAppendJSON(t, back)
			}
		})
	}
}

func TestValidNumberMatchesMarshal(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	const alphabet = "0123456789-+.eE x"
	for i := range 50000 {
		var s string
		if i < len(trickyNumbers) {
			s = trickyNumbers[i]
		} else {
			b := make([]byte, 1+r.IntN(8))
			for j := range b {
				b[j] = alphabet[r.IntN(len(alphabet))]
			}
			s = string(b)
		}
		_, err := json.Marshal(json.Number(s))
		if want := err == nil && s != ""; validNumber(s) != want {
			t.Fatalf("validNumber(%q) = %v, json.Marshal accepts it: %v", s, !want, want)
		}
	}
}

func TestUTF16Len(t *testing.T) {
	for s, want := range map[string]int{"": 0, "abc": 3, "é": 1, "—": 1, "😀": 2, "a😀b": 4, "\xff": 1, "\xe2\x80": 2} {
		if got := utf16Len([]byte(s)); got != want {
			t.Errorf("utf16Len(%q) = %d, want %d", s, got, want)
		}
		// The string form, and unicode/utf16's own count (the oracle).
		if got, std := utf16Len(s), len(utf16.Encode([]rune(s))); got != want || std != want {
			t.Errorf("utf16Len(string %q) = %d, utf16.Encode gives %d, want %d", s, got, std, want)
		}
	}
}

// trickyPage is a page whose cells are the values appendJSON treats
// specially: HTML characters, line and paragraph separators, control
// characters, invalid UTF-8, long text, nested arrays and objects.
func trickyPage(nRows int) Page {
	r := rand.New(rand.NewPCG(8, 8))
	cols := []dune.Column{
		{Name: "id", Type: "bigint"}, {Name: "label", Type: "varchar"}, {Name: "note", Type: "varchar"},
		{Name: "amount", Type: "double"}, {Name: "tags", Type: "array(varchar)"}, {Name: "meta", Type: "map(varchar, varchar)"},
		{Name: "ok", Type: "boolean"},
	}
	rows := make([]dune.Row, nRows)
	for i := range rows {
		var note strings.Builder
		for note.Len() < 40+r.IntN(3000) {
			note.WriteString(trickyString(r))
			note.WriteString(" <b>a & b</b> ")
		}
		rows[i] = dune.Row{
			json.Number(fmt.Sprint(i + 1)),
			trickyString(r),
			note.String(),
			json.Number(fmt.Sprint(r.NormFloat64() * 1e6)),
			[]any{trickyString(r), "x<y", json.Number("2")},
			map[string]any{"z&": trickyString(r), "a": []any{nil, true}},
			r.IntN(2) == 0,
		}
	}
	return Page{
		Tool: "get_latest_result", QueryID: 1099, ExecutionID: "01HTRICKY00000000000000000", State: dune.StateCompleted,
		EndedAt: testEnded(), Columns: cols, Rows: rows, StatsRows: rows, TotalRowCount: nRows * 4,
		Datapoints: nRows * len(cols), Filters: "label = '<x>' & more", Now: testNow,
	}
}

// TestStructuredJSONIsMarshal checks the encoding Summarize builds from the
// rows' JSON kept while counting (structView.marshal) against json.Marshal
// of the Structured it returns, byte for byte, for pages of every shape at
// several budgets and in every result view.
func TestStructuredJSONIsMarshal(t *testing.T) {
	pages := map[string]Page{
		"dex":    dexPage(1000, 100000),
		"wide":   widePage(200, 120),
		"long":   longTextPage(60, 6000),
		"tricky": trickyPage(80),
	}
	withRows, shortened := 0, 0
	for name, p := range pages {
		for _, views := range []Views{ViewsBoth, ViewsText, ViewsStructured} {
			for _, budget := range []int{1000, 2000, 8000, 25000} {
				t.Run(fmt.Sprintf("%s/%s/%d", name, views, budget), func(t *testing.T) {
					p.Views = views
					out, err := Summarize(p, budget, testCursor(p))
					if err != nil {
						t.Fatal(err)
					}
					want, err := json.Marshal(out.Structured)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(out.StructuredJSON, want) {
						t.Fatalf("StructuredJSON differs from json.Marshal(Structured) at byte %d:\n got %.300q\nwant %.300q",
							firstDiff(out.StructuredJSON, want), out.StructuredJSON, want)
					}
					if len(out.Structured.Rows) > 0 {
						withRows++
					}
					if out.Structured.ShortenedCells > 0 && len(out.Structured.Rows) > 0 {
						shortened++
					}
				})
			}
		}
	}
	// The cases cover rows carried whole and shortened.
	if withRows == 0 || shortened == 0 {
		t.Fatalf("%d results carried rows, %d shortened cells in rows: the cases no longer cover both", withRows, shortened)
	}
}

// TestStructuredLengthAddedUp checks the length estimate and encode add up
// from the rows' kept lengths against quarterLen of json.Marshal, in both
// row modes.
func TestStructuredLengthAddedUp(t *testing.T) {
	for name, p := range map[string]Page{"tricky": trickyPage(30), "long": longTextPage(20, 6000)} {
		d, err := NewDraft(p, 25000)
		if err != nil {
			t.Fatal(err)
		}
		d.ready()
		s := d.st
		for _, short := range []bool{false, true} {
			s.shortMode = short
			for _, n := range []int{0, 1, 7, len(p.Rows)} {
				l := structLayout{columnsN: len(s.cols)}
				for _, measure := range []func(structLayout, int) (*schemas.Structured, int, error){s.estimate, s.encode} {
					st, _, err := measure(l, n)
					if err != nil {
						t.Fatal(err)
					}
					js, err := json.Marshal(st)
					if err != nil {
						t.Fatal(err)
					}
					if want := quarterLen(string(js)); s.lastQuarter != want {
						t.Fatalf("%s, short %v, %d rows: lastQuarter %d, quarterLen of the encoding %d", name, short, n, s.lastQuarter, want)
					}
				}
			}
		}
	}
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestRowJSONKeepsOnlyItsRow checks that a row's kept JSON is used for
// that row only: another row at the same index (equal length, other
// values) is encoded afresh, in both row modes.
func TestRowJSONKeepsOnlyItsRow(t *testing.T) {
	p := longTextPage(3, 6000)
	d, err := NewDraft(p, 1000)
	if err != nil {
		t.Fatal(err)
	}
	s := d.st
	for _, short := range []bool{false, true} {
		s.shortMode = short
		r, cut := s.row(0)
		if short && cut == 0 {
			t.Fatal("no cell of the long row shortened: the case tests nothing")
		}
		s.rowCost(0) // encodes and keeps row 0
		kept, _, err := s.rowJSON(0, r)
		if err != nil {
			t.Fatal(err)
		}
		if want, _ := json.Marshal(r); kept != string(want) {
			t.Fatalf("short %v: kept JSON of row 0 %.80q, json.Marshal %.80q", short, kept, want)
		}
		other := []any{json.Number("7"), "<other>", "row"}
		got, units, err := s.rowJSON(0, other)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(other)
		if got != string(want) || units != len(want) {
			t.Fatalf("short %v: another row at index 0 encoded as %q (%d units), json.Marshal %q", short, got, units, want)
		}
	}
}

// TestStructuredJSONIsMarshalAfterExtend is TestStructuredJSONIsMarshal for
// a Draft planned on the first rows and extended with the rest (rows
// encoded before the extension are kept; shortened ones are dropped when
// the cell bound changes).
func TestStructuredJSONIsMarshalAfterExtend(t *testing.T) {
	for name, p := range map[string]Page{"long": longTextPage(60, 6000), "tricky": trickyPage(80), "dex": dexPage(300, 100000)} {
		for _, budget := range []int{1000, 2000, 8000, 25000} {
			d, err := NewDraft(firstPart(p, 5), budget)
			if err != nil {
				t.Fatal(err)
			}
			d.Planned()
			if err := d.Extend(p.Rows[5:], p.TotalRowCount, p.Datapoints); err != nil {
				t.Fatal(err)
			}
			out, err := d.Render(testCursor(p))
			if err != nil {
				t.Fatal(err)
			}
			if want, err := json.Marshal(out.Structured); err != nil || !bytes.Equal(out.StructuredJSON, want) {
				t.Fatalf("%s at %d: StructuredJSON differs from json.Marshal(Structured) (%v) at byte %d", name, budget, err, firstDiff(out.StructuredJSON, want))
			}
		}
	}
}
