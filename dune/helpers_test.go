package dune

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

const testKey = "sk-test-SECRET-7d1f0c9a"

// recorder is a scripted Dune stand-in: each request gets the next reply
// (the last one repeats) and is recorded.
type recorder struct {
	mu      sync.Mutex
	reqs    []*http.Request
	times   []time.Time
	replies []reply
}

type reply struct {
	status  int
	body    string
	header  map[string]string
	handler http.HandlerFunc // overrides everything else when set
	// asIs sends body unchanged; otherwise a results answer is made to
	// answer the request (answeringRequest), as Dune's would.
	asIs bool
}

var (
	queryIDMember     = regexp.MustCompile(`"query_id":\s*[0-9]+`)
	executionIDMember = regexp.MustCompile(`"execution_id":\s*"[^"]*"`)
)

// answeringRequest rewrites the first query_id (latest-result requests) or
// execution_id (execution-result requests) of a scripted body to the one
// the request names, so that scripted bodies pass the client's answer
// check; tests of that check send their bodies asIs.
func answeringRequest(body string, r *http.Request) string {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/api/v1/"), "/")
	if len(parts) != 3 || parts[2] != "results" {
		return body
	}
	replaceFirst := func(re *regexp.Regexp, with string) string {
		loc := re.FindStringIndex(body)
		if loc == nil || strings.ReplaceAll(body[loc[0]:loc[1]], " ", "") == with {
			return body
		}
		return body[:loc[0]] + with + body[loc[1]:]
	}
	switch parts[0] {
	case "query":
		return replaceFirst(queryIDMember, `"query_id":`+parts[1])
	case "execution":
		return replaceFirst(executionIDMember, `"execution_id":"`+parts[1]+`"`)
	}
	return body
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	n := len(rc.reqs)
	rc.reqs = append(rc.reqs, r.Clone(context.Background()))
	rc.times = append(rc.times, time.Now())
	rp := rc.replies[min(n, len(rc.replies)-1)]
	rc.mu.Unlock()
	if rp.handler != nil {
		rp.handler(w, r)
		return
	}
	for k, v := range rp.header {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json")
	st := rp.status
	if st == 0 {
		st = http.StatusOK
	}
	w.WriteHeader(st)
	body := rp.body
	if !rp.asIs {
		body = answeringRequest(body, r)
	}
	_, _ = w.Write([]byte(body))
}

func (rc *recorder) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.reqs)
}

func (rc *recorder) req(i int) *http.Request {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.reqs[i]
}

// serve starts a scripted server and a client pointed at it, with waits
// recorded instead of slept.
func serve(t *testing.T, replies ...reply) (*Client, *recorder, *[]time.Duration) {
	t.Helper()
	rc := &recorder{replies: replies}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	c := NewClient(Config{BaseURL: srv.URL, APIKey: testKey, Retry: RetryPolicy{MaxAttempts: 4, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second, MaxElapsed: 20 * time.Second}})
	waits := &[]time.Duration{}
	var mu sync.Mutex
	c.sleep = func(ctx context.Context, d time.Duration) error {
		mu.Lock()
		*waits = append(*waits, d)
		mu.Unlock()
		return ctx.Err()
	}
	return c, rc, waits
}

func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// referenceRows decodes body with encoding/json (UseNumber) into maps and
// orders them by column_names: the ground truth for the row decoder.
func referenceRows(t testing.TB, body string) ([]string, []Row) {
	t.Helper()
	var env struct {
		Result struct {
			Rows     []map[string]any `json:"rows"`
			Metadata struct {
				ColumnNames []string `json:"column_names"`
			} `json:"metadata"`
		} `json:"result"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(body)))
	dec.UseNumber()
	if err := dec.Decode(&env); err != nil {
		t.Fatal(err)
	}
	rows := make([]Row, len(env.Result.Rows))
	for i, m := range env.Result.Rows {
		r := make(Row, len(env.Result.Metadata.ColumnNames))
		for j, c := range env.Result.Metadata.ColumnNames {
			r[j] = m[c]
		}
		rows[i] = r
	}
	return env.Result.Metadata.ColumnNames, rows
}

// dexPage builds a results body of n rows shaped like
// testdata/results_page_with_next_uri.json (22 columns, row keys sorted,
// nulls, uint256 strings), with values varied per row.
func dexPage(t testing.TB, n int) []byte {
	t.Helper()
	var fx struct {
		Result struct {
			Rows     []map[string]any `json:"rows"`
			Metadata map[string]any   `json:"metadata"`
		} `json:"result"`
	}
	dec := json.NewDecoder(bytes.NewReader([]byte(fixture(t, "results_page_with_next_uri.json"))))
	dec.UseNumber()
	if err := dec.Decode(&fx); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"execution_id":"01HPFJ7VSFXPTA8WPMDKBXE167","query_id":3426636,"is_execution_finished":true,"state":"QUERY_STATE_COMPLETED","submitted_at":"2024-02-12T21:05:48.848069Z","expires_at":"2024-05-12T21:05:50.199443Z","execution_started_at":"2024-02-12T21:05:48.863094766Z","execution_ended_at":"2024-02-12T21:05:50.199442351Z","result":{"rows":[`)
	for i := 0; i < n; i++ {
		src := fx.Result.Rows[i%len(fx.Result.Rows)]
		row := make(map[string]any, len(src))
		for k, v := range src {
			row[k] = v
		}
		row["tx_hash"] = fmt.Sprintf("0x%064x", i*7919+1)
		row["evt_index"] = json.Number(strconv.Itoa(i % 500))
		row["token_bought_amount_raw"] = fmt.Sprintf("%d%018d", i+1, i*31)
		if i%3 != 0 {
			row["amount_usd"] = json.Number(fmt.Sprintf("%d.%06d", i%100000, i%999983))
		}
		b, err := json.Marshal(row)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			buf.WriteByte(',')
		}
		buf.Write(b)
	}
	meta := map[string]any{}
	for k, v := range fx.Result.Metadata {
		meta[k] = v
	}
	meta["row_count"] = n
	meta["datapoint_count"] = n * 22
	meta["total_row_count"] = 100000
	mb, err := json.Marshal(meta)
	if err != nil {
		t.Fatal(err)
	}
	buf.WriteString(`],"metadata":`)
	buf.Write(mb)
	fmt.Fprintf(&buf, `},"next_offset":%d,"next_uri":"https://api.dune.com/api/v1/execution/01HPFJ7VSFXPTA8WPMDKBXE167/results?limit=%d&offset=%d"}`, n, n, n)
	return buf.Bytes()
}
