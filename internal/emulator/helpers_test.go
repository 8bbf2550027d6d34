package emulator_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"testing"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// response is a decoded emulator answer.
type response struct {
	Status int
	Header http.Header
	Body   []byte
}

// get sends GET base+path with the default key in the header.
func get(t *testing.T, s *emulator.Server, path string) response {
	t.Helper()
	return do(t, s.URL+path, map[string]string{"X-Dune-Api-Key": emulator.DefaultAPIKey})
}

func do(t *testing.T, url string, headers map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range headers {
		req.Header[k] = []string{v} // as given, not canonicalised
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read body: %v", url, err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// object decodes a JSON object keeping numbers exact.
func (r response) object(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("decode %q: %v", trunc(r.Body), err)
	}
	return m
}

// page is the typed view of a results body.
type page struct {
	ExecutionID         string  `json:"execution_id"`
	QueryID             int64   `json:"query_id"`
	State               string  `json:"state"`
	IsExecutionFinished *bool   `json:"is_execution_finished"`
	NextOffset          *int    `json:"next_offset"`
	NextURI             *string `json:"next_uri"`
	Result              *struct {
		Rows     []map[string]any `json:"rows"`
		Metadata struct {
			ColumnNames         []string `json:"column_names"`
			ColumnTypes         []string `json:"column_types"`
			RowCount            int      `json:"row_count"`
			ResultSetBytes      int64    `json:"result_set_bytes"`
			TotalRowCount       int      `json:"total_row_count"`
			TotalResultSetBytes int64    `json:"total_result_set_bytes"`
			DatapointCount      int      `json:"datapoint_count"`
		} `json:"metadata"`
	} `json:"result"`
}

func (r response) page(t *testing.T) page {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("status %d, body %s", r.Status, trunc(r.Body))
	}
	var p page
	dec := json.NewDecoder(bytes.NewReader(r.Body))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return p
}

// wantError asserts status and the exact {"error": msg} body.
func (r response) wantError(t *testing.T, status int, msg string) {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status = %d, want %d (body %s)", r.Status, status, trunc(r.Body))
	}
	want, _ := json.Marshal(map[string]string{"error": msg})
	if !bytes.Equal(r.Body, want) {
		t.Fatalf("body = %s, want %s", r.Body, want)
	}
}

func trunc(b []byte) string {
	if len(b) > 400 {
		return string(b[:400]) + "..."
	}
	return string(b)
}

func (r response) String() string { return string(r.Body) }

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
