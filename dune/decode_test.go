package dune

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func decodeString(t testing.TB, body string) (*Result, error) {
	t.Helper()
	res := &Result{}
	err := decodeResult(strings.NewReader(body), res)
	return res, err
}

func TestRowDecoderEdgeCases(t *testing.T) {
	tests := []struct {
		name string
		body string
		cols []string
		want []Row
	}{
		{
			name: "escapes in keys and values",
			body: `{"state":"QUERY_STATE_COMPLETED","result":{"rows":[{"a\"b":"x\"y\\z\/","\u00e9":"caf\u00e9 \ud83d\ude00","t\tab":"line\nbreak"}],
				"metadata":{"column_names":["a\"b","é","t\tab"]}}}`,
			cols: []string{`a"b`, "é", "t\tab"},
			want: []Row{{`x"y\z/`, "café 😀", "line\nbreak"}},
		},
		{
			name: "nested, booleans, null, empty string, whitespace",
			body: "{\"state\":\"QUERY_STATE_COMPLETED\",\"result\":{\"rows\":[ {\n \"arr\" : [1, \"two\", {\"k\": [null]}] ,\t\"obj\":{\"x\":1.50},\"b\":true,\"f\":false,\"n\":null,\"s\":\"\"} ],\n" +
				`"metadata":{"column_names":["arr","obj","b","f","n","s"]}}}`,
			cols: []string{"arr", "obj", "b", "f", "n", "s"},
			want: []Row{{[]any{json.Number("1"), "two", map[string]any{"k": []any{nil}}}, map[string]any{"x": json.Number("1.50")}, true, false, nil, ""}},
		},
		{
			name: "missing keys, extra keys, a key first seen late",
			body: `{"state":"QUERY_STATE_COMPLETED","result":{"rows":[{"a":1},{"a":2,"b":"x","extra":3},{"b":"y"},{}],
				"metadata":{"column_names":["b","a","never"]}}}`,
			cols: []string{"b", "a", "never"},
			want: []Row{{nil, json.Number("1"), nil}, {"x", json.Number("2"), nil}, {"y", nil, nil}, {nil, nil, nil}},
		},
		{
			name: "column order as first seen, a later row longer",
			body: `{"state":"QUERY_STATE_COMPLETED","result":{"rows":[{"a":1},{"a":2,"b":3}],"metadata":{"column_names":["a","b"]}}}`,
			cols: []string{"a", "b"},
			want: []Row{{json.Number("1"), nil}, {json.Number("2"), json.Number("3")}},
		},
		{
			name: "metadata before rows",
			body: `{"state":"QUERY_STATE_COMPLETED","result":{"metadata":{"column_names":["z","y"],"column_types":["varchar","bigint"]},"rows":[{"y":1,"z":"a"},{"z":"b","y":2,"q":0}]}}`,
			cols: []string{"z", "y"},
			want: []Row{{"a", json.Number("1")}, {"b", json.Number("2")}},
		},
		{
			name: "duplicate column names",
			body: `{"state":"QUERY_STATE_COMPLETED","result":{"rows":[{"a":1}],"metadata":{"column_names":["a","a"]}}}`,
			cols: []string{"a", "a"},
			want: []Row{{json.Number("1"), json.Number("1")}},
		},
		{
			name: "rows null",
			body: `{"state":"QUERY_STATE_COMPLETED","result":{"rows":null,"metadata":{"column_names":["a"]}}}`,
			cols: []string{"a"},
			want: []Row{},
		},
		{
			name: "unknown members skipped",
			body: `{"state":"QUERY_STATE_COMPLETED","update_type":"x","next_uri":"https://evil.example/?api_key=1","execution_cost_credits":1.5,
				"result":{"rows":[{"a":-0.5e-3}],"future":{"x":[1,2]},"metadata":{"column_names":["a"],"future_field":1}}}`,
			cols: []string{"a"},
			want: []Row{{json.Number("-0.5e-3")}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := decodeString(t, tt.body)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, c := range res.Columns {
				names = append(names, c.Name)
			}
			if !reflect.DeepEqual(names, tt.cols) {
				t.Errorf("columns = %q", names)
			}
			if !reflect.DeepEqual(res.Rows, tt.want) {
				t.Errorf("rows = %#v\nwant %#v", res.Rows, tt.want)
			}
		})
	}
}

func TestColumnTypesKept(t *testing.T) {
	res, err := decodeString(t, `{"state":"QUERY_STATE_COMPLETED","result":{"rows":[],"metadata":{"column_names":["a","b","c"],"column_types":["varchar","uint256"]}}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := []Column{{"a", "varchar"}, {"b", "uint256"}, {"c", ""}}
	if !reflect.DeepEqual(res.Columns, want) {
		t.Errorf("columns = %v", res.Columns)
	}
}

// FuzzRowDecoder checks the specialised row parser against encoding/json on
// any row object encoding/json accepts.
func FuzzRowDecoder(f *testing.F) {
	for _, s := range []string{
		`{"a":1,"b":"x"}`, `{}`, `{"a":[1,{"b":null}],"c":true,"d":false}`, `{"\u0041":"\\\"","a":"é"}`,
		`{ "a" : -1.5E+10 , "b" : "" }`, `{"a":1,"a":2}`, `{"k":"\ud800"}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, obj string) {
		var m map[string]any
		dec := json.NewDecoder(strings.NewReader(obj))
		dec.UseNumber()
		if !json.Valid([]byte(obj)) || dec.Decode(&m) != nil || m == nil {
			return
		}
		cols := make([]string, 0, len(m))
		for k := range m {
			cols = append(cols, k)
		}
		meta, _ := json.Marshal(cols)
		// Twice: the second row shares values with the first.
		res, err := decodeString(t, `{"state":"QUERY_STATE_COMPLETED","result":{"rows":[`+obj+`,`+obj+`],"metadata":{"column_names":`+string(meta)+`}}}`)
		if err != nil {
			t.Fatalf("decode %q: %v", obj, err)
		}
		want := make(Row, len(cols))
		for i, c := range cols {
			want[i] = m[c]
		}
		if !reflect.DeepEqual(res.Rows, []Row{want, want}) {
			t.Fatalf("%q: got %#v want %#v", obj, res.Rows, want)
		}
	})
}

func TestDecodeDEXPageMatchesReference(t *testing.T) {
	body := dexPage(t, 2000)
	res, err := decodeString(t, string(body))
	if err != nil {
		t.Fatal(err)
	}
	_, want := referenceRows(t, string(body))
	if !reflect.DeepEqual(res.Rows, want) {
		t.Fatal("rows differ from encoding/json")
	}
	if res.NextOffset == nil || *res.NextOffset != 2000 || res.Metadata.DatapointCount != 44000 {
		t.Errorf("next %v meta %+v", res.NextOffset, res.Metadata)
	}
}

// Decoding allocates less than 3× the page's JSON size in total, so its peak
// heap cannot exceed that either (the body is streamed, never held whole).
func TestDecodeMemoryBound(t *testing.T) {
	body := dexPage(t, 5000)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res := &Result{}
	err := decodeResult(bytes.NewReader(body), res)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	if ratio := float64(alloc) / float64(len(body)); ratio >= 3 {
		t.Errorf("allocated %.2f× the body", ratio)
	}
	runtime.KeepAlive(res)
}

func TestBodyReader(t *testing.T) {
	br := &bodyReader{r: strings.NewReader("0123456789"), max: 10}
	b, err := readAll(br)
	if err != nil || string(b) != "0123456789" || br.n != 10 {
		t.Fatalf("%q %v %d", b, err, br.n)
	}
	br = &bodyReader{r: strings.NewReader("0123456789X"), max: 10}
	if _, err := readAll(br); !errors.Is(err, ErrBodyTooLarge) {
		t.Fatalf("err = %v", err)
	}
}

func readAll(br *bodyReader) ([]byte, error) {
	var buf bytes.Buffer
	p := make([]byte, 3)
	for {
		n, err := br.Read(p)
		buf.Write(p[:n])
		if err != nil {
			if err == io.EOF {
				return buf.Bytes(), nil
			}
			return buf.Bytes(), err
		}
	}
}

// BenchmarkDecodeDEXPage30000 decodes a 30,000-row, 22-column page shaped
// like Dune's DEX trades fixture from an in-memory body. Extra metrics:
// MB/s (SetBytes), alloc/body (total bytes allocated per decode over the
// body size: an upper bound of the decode's peak heap), peak/body (sampled
// peak heap growth during one decode over the body size) and live/body (heap
// retained by the decoded Result).
func BenchmarkDecodeDEXPage30000(b *testing.B) {
	body := dexPage(b, 30000)
	b.SetBytes(int64(len(body)))

	peak, live := measureHeap(b, body)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		res := &Result{}
		if err := decodeResult(bytes.NewReader(body), res); err != nil {
			b.Fatal(err)
		}
		if len(res.Rows) != 30000 {
			b.Fatal(len(res.Rows))
		}
	}
	b.StopTimer()
	runtime.ReadMemStats(&after)
	perOp := float64(after.TotalAlloc-before.TotalAlloc) / float64(b.N)
	b.ReportMetric(perOp/float64(len(body)), "alloc/body")
	b.ReportMetric(float64(peak)/float64(len(body)), "peak/body")
	b.ReportMetric(float64(live)/float64(len(body)), "live/body")
	b.ReportMetric(float64(len(body))/(1<<20), "bodyMB")
}

// measureHeap decodes body once while sampling heap object bytes, returning
// the peak growth over the starting heap and what the Result keeps alive.
func measureHeap(b *testing.B, body []byte) (peak, live uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	runtime.GC()
	base := read()
	var (
		maxSeen atomic.Uint64
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Microsecond)
		defer tick.Stop()
		for {
			if v := read(); v > maxSeen.Load() {
				maxSeen.Store(v)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	res := &Result{}
	if err := decodeResult(bytes.NewReader(body), res); err != nil {
		b.Fatal(err)
	}
	close(stop)
	wg.Wait()
	if v := read(); v > maxSeen.Load() {
		maxSeen.Store(v)
	}
	runtime.GC()
	kept := read()
	runtime.KeepAlive(res)
	return maxSeen.Load() - base, kept - base
}

// Envelope keys are read as JSON strings (escapes included); a key too long
// to be one the decoder knows is skipped as it streams, with its value.
func TestDecodeEnvelopeKeys(t *testing.T) {
	long := strings.Repeat("k", 10000)
	body := `{"st\u0061te":"QUERY_STATE_COMPLETED","` + long + `":{"x":[1,2,"` + long + `"]},"result":{"` + long + `":1,"rows":[{"a":1}],"metadata":{"column_names":["a"]}}}`
	res, err := decodeString(t, body)
	if err != nil {
		t.Fatal(err)
	}
	if res.State != StateCompleted || len(res.Rows) != 1 || res.Rows[0][0] != json.Number("1") {
		t.Errorf("state %q, rows %v", res.State, res.Rows)
	}
}

// The body guard follows the request: rows × columns × MaxCellBytes plus
// the envelope, capped; without a limit, the cap.
func TestGuardFor(t *testing.T) {
	const max = 256 << 20
	tests := []struct {
		o    Options
		want int64
	}{
		{Options{Limit: 10, Columns: []string{"a", "b"}}, guardEnvelope + 10*2*MaxCellBytes},
		{Options{Limit: 10}, guardEnvelope + 10*assumedWidth*MaxCellBytes},
		{Options{SampleCount: 5, Columns: []string{"a"}}, guardEnvelope + 10*MaxCellBytes},
		{Options{}, max},
		{Options{Limit: 1 << 30}, max},
	}
	for _, tt := range tests {
		if got := guardFor(tt.o, max); got != tt.want {
			t.Errorf("%+v: guard %d, want %d", tt.o, got, tt.want)
		}
	}
}
