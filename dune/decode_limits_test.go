package dune

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// allocated returns the bytes f allocates on the heap (TotalAlloc counts
// every allocation, collected or not, so no GC is needed around f).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Rows whose keys are all different must not cost rows × distinct keys
// cells: memory stays proportional to the body, whether the metadata comes
// before or after the rows.
func TestDecodeManyDistinctKeysBounded(t *testing.T) {
	const n = 6000
	var distinct, empty, names strings.Builder
	names.WriteByte('[')
	for i := range n {
		if i > 0 {
			distinct.WriteByte(',')
			empty.WriteByte(',')
			names.WriteByte(',')
		}
		fmt.Fprintf(&distinct, `{"k%d":1}`, i)
		empty.WriteString(`{}`)
		fmt.Fprintf(&names, `"k%d"`, i)
	}
	names.WriteByte(']')
	rowsFirst := func(rows, cols string) string {
		return `{"state":"QUERY_STATE_COMPLETED","result":{"rows":[` + rows + `],"metadata":{"column_names":` + cols + `}}}`
	}
	metaFirst := func(rows, cols string) string {
		return `{"state":"QUERY_STATE_COMPLETED","result":{"metadata":{"column_names":` + cols + `},"rows":[` + rows + `]}}`
	}
	tests := []struct {
		name string
		body string
		ok   bool // decodes (else ErrMalformedResponse)
	}{
		{"rows first, a new key per row", rowsFirst(distinct.String(), `["k0"]`), false},
		{"rows first, every key a column", rowsFirst(distinct.String(), names.String()), false},
		{"metadata first, every key a column", metaFirst(distinct.String(), names.String()), false},
		{"metadata first, one column", metaFirst(distinct.String(), `["k0"]`), true},
		{"empty rows, wide metadata after", rowsFirst(empty.String(), names.String()), false},
		{"empty rows, wide metadata first", metaFirst(empty.String(), names.String()), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var (
				res *Result
				err error
			)
			alloc := allocated(func() { res, err = decodeString(t, tt.body) })
			if tt.ok {
				if err != nil || len(res.Rows) != n || res.Rows[0][0] != json.Number("1") || res.Rows[1][0] != nil {
					t.Fatalf("err = %v", err)
				}
			} else if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("err = %v, want ErrMalformedResponse", err)
			}
			t.Logf("%v after %d bytes allocated for a %d-byte body", err, alloc, len(tt.body))
			if limit := 16*uint64(len(tt.body)) + 1<<20; alloc > limit {
				t.Errorf("allocated %d bytes for a %d-byte body (limit %d)", alloc, len(tt.body), limit)
			}
		})
	}
}

// Decode errors are short and never quote the server's bytes at length.
func TestDecodeErrorsBounded(t *testing.T) {
	const secret = "sk-echoed-SECRET-0123"
	digits := strings.Repeat("9", 100000)
	long := strings.Repeat("x", 100000)
	bodies := map[string]string{
		"string document":        `"` + secret + `"`,
		"long string document":   `"` + long + `"`,
		"number document":        digits,
		"query_id huge":          `{"query_id":` + digits + `,"state":"QUERY_STATE_PENDING"}`,
		"query_id fraction":      `{"query_id":1.` + digits + `,"state":"QUERY_STATE_PENDING"}`,
		"next_offset huge":       `{"next_offset":` + digits + `,"state":"QUERY_STATE_PENDING"}`,
		"bool field huge number": `{"is_execution_finished":` + digits + `,"state":"QUERY_STATE_PENDING"}`,
		"row_count huge":         `{"state":"QUERY_STATE_COMPLETED","result":{"rows":[],"metadata":{"column_names":[],"row_count":` + digits + `}}}`,
		"secret member cut":      `{"` + secret + `":`,
		"long member cut":        `{"` + long + `":[`,
		"secret result member":   `{"state":"QUERY_STATE_COMPLETED","result":{"` + secret + `":[`,
		"secret result delim":    `{"state":"QUERY_STATE_COMPLETED","result":"` + secret + `"}`,
		"secret rows":            `{"state":"QUERY_STATE_COMPLETED","result":{"rows":"` + secret + `"}}`,
		"secret row":             `{"state":"QUERY_STATE_COMPLETED","result":{"rows":["` + secret + `"]}}`,
		"trailing secret":        `{"state":"QUERY_STATE_PENDING"}"` + secret + `"`,
		"trailing long":          `{"state":"QUERY_STATE_PENDING"} ` + digits,
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			_, err := decodeString(t, body)
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("err = %.200v", err)
			}
			if msg := err.Error(); len(msg) > 400 || strings.Contains(msg, secret) {
				t.Errorf("error of %d bytes: %.300s", len(msg), msg)
			}
		})
	}
}

// Only whitespace may follow the document.
func TestDecodeTrailingData(t *testing.T) {
	doc := `{"state":"QUERY_STATE_COMPLETED","result":{"rows":[{"a":1}],"metadata":{"column_names":["a"]}}}`
	for _, tail := range []string{"", " ", "\n", " \r\n\t "} {
		if _, err := decodeString(t, doc+tail); err != nil {
			t.Errorf("%q: %v", tail, err)
		}
	}
	for _, tail := range []string{"]", "}", "{}", `{"state":"QUERY_STATE_FAILED"}`, " x", "0", `"more"`, "null", "\n[1]"} {
		if _, err := decodeString(t, doc+tail); !errors.Is(err, ErrMalformedResponse) {
			t.Errorf("%q: err = %v", tail, err)
		}
	}
}

func TestDecodeMetadataValidated(t *testing.T) {
	body := func(meta string, rows string) string {
		return `{"state":"QUERY_STATE_COMPLETED","result":{"rows":[` + rows + `],"metadata":{"column_names":["a"]` + meta + `}}}`
	}
	for _, field := range []string{"row_count", "datapoint_count", "total_row_count", "result_set_bytes", "total_result_set_bytes"} {
		if _, err := decodeString(t, body(`,"`+field+`":-1`, `{"a":1}`)); !errors.Is(err, ErrMalformedResponse) || !strings.Contains(err.Error(), field) {
			t.Errorf("negative %s: err = %v", field, err)
		}
	}
	// row_count disagreeing with the rows: the rows are trusted.
	for meta, rows := range map[string]string{`,"row_count":3`: `{"a":1}`, `,"row_count":0`: `{"a":1},{"a":2}`, ``: `{"a":1},{"a":2}`} {
		res, err := decodeString(t, body(meta, rows))
		if err != nil {
			t.Fatalf("%s: %v", meta, err)
		}
		if res.Metadata.RowCount != len(res.Rows) {
			t.Errorf("%s: row_count %d for %d rows", meta, res.Metadata.RowCount, len(res.Rows))
		}
	}
}

// FuzzDecodeResult runs the whole response decoder on arbitrary bodies: it
// must not panic, must return nil or an error wrapping ErrMalformedResponse,
// must keep its error text short, and must allocate in proportion to the
// body.
func FuzzDecodeResult(f *testing.F) {
	f.Add([]byte(okEmpty))
	f.Add([]byte(`{"state":"QUERY_STATE_COMPLETED","result":{"rows":[{"a":1},{"b":"x","a":[1,{"c":null}]},{}],"metadata":{"column_names":["a","b"],"row_count":3}}}`))
	f.Add([]byte(`{"state":"QUERY_STATE_COMPLETED","result":{"metadata":{"column_names":["b","a","b"]},"rows":[{"a":true,"b":false,"c":"\u00e9"}]}}`))
	f.Add([]byte(`{"state":"QUERY_STATE_FAILED","execution_id":"x","query_id":12,"next_offset":3,"error":{"type":"t","message":"m","metadata":{"line":1,"column":2}}}`))
	f.Add([]byte(`{"state":"QUERY_STATE_COMPLETED","result":{"rows":[{"k0":1},{"k1":1},{"k2":1},{"k3":1}],"metadata":{"column_names":["k0","k1","k2","k3"]}}} `))
	// Small seeds: the fuzzer minimises every new input, which takes long
	// for multi-kilobyte ones (the 22-column fixture page is 8 KB).
	for _, name := range []string{"results_offset_past_end_empty.json", "status_failed_with_error.json"} {
		f.Add([]byte(fixture(f, name)))
	}
	f.Add([]byte(`{"execution_id":"01HR8AGD6CWGHGP1BN3Z1SJ4MD","query_id":3493826,"is_execution_finished":true,"state":"QUERY_STATE_COMPLETED",` +
		`"submitted_at":"2024-03-06T22:13:18.9Z","expires_at":"2024-06-04T22:13:19.6Z","execution_ended_at":"2024-03-06T22:13:19.6Z",` +
		`"result":{"rows":[{"amount_usd":1.5,"block_time":"2024-03-06 00:00:00.000 UTC","tx_hash":"0xab"},{"amount_usd":null,"block_time":"2024-03-05 00:00:00.000 UTC","tx_hash":"0xcd"}],` +
		`"metadata":{"column_names":["block_time","tx_hash","amount_usd"],"column_types":["timestamp","varbinary","double"],"row_count":2,"result_set_bytes":120,"total_row_count":9,"datapoint_count":6}},` +
		`"next_offset":2,"next_uri":"https://api.dune.com/api/v1/execution/01HR8AGD6CWGHGP1BN3Z1SJ4MD/results?limit=2&offset=2"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var (
			res = &Result{}
			err error
		)
		alloc := allocated(func() { err = decodeResult(bytes.NewReader(body), res) })
		if err != nil {
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("error not ErrMalformedResponse: %v", err)
			}
			if len(err.Error()) > 400 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
		} else {
			if !json.Valid(body) {
				t.Fatalf("accepted a body that is not JSON: %q", body)
			}
			if res.State == "" {
				t.Fatal("no state")
			}
			for i, r := range res.Rows {
				if len(r) != len(res.Columns) {
					t.Fatalf("row %d has %d cells for %d columns", i, len(r), len(res.Columns))
				}
			}
			if res.Metadata.RowCount != len(res.Rows) || res.Metadata.DatapointCount < 0 {
				t.Fatalf("metadata %+v for %d rows", res.Metadata, len(res.Rows))
			}
		}
		if limit := 32*uint64(len(body)) + 256<<10; alloc > limit {
			t.Fatalf("allocated %d bytes for a %d-byte body", alloc, len(body))
		}
	})
}
