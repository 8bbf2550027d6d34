package dune

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/internal/clock"
)

const okEmpty = `{"execution_id":"01HPF1299EV69Z08DBKW1B6MJR","query_id":7,"state":"QUERY_STATE_COMPLETED","is_execution_finished":true,
 "submitted_at":"2024-02-12T16:05:40.270193Z","expires_at":"2024-05-12T16:05:40.654018Z",
 "result":{"rows":[],"metadata":{"column_names":["foo"],"column_types":["varchar"],"row_count":0,"total_row_count":0,"datapoint_count":0}}}`

// okEmptyWith is okEmpty with these columns.
func okEmptyWith(cols []string) string {
	if len(cols) == 0 {
		return okEmpty
	}
	names, _ := json.Marshal(cols)
	return strings.Replace(okEmpty, `"column_names":["foo"],"column_types":["varchar"]`, `"column_names":`+string(names), 1)
}

// queryIDOf returns the query_id of a results body.
func queryIDOf(t *testing.T, body string) int64 {
	t.Helper()
	var env struct {
		QueryID int64 `json:"query_id"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil || env.QueryID == 0 {
		t.Fatalf("no query_id in the body: %v", err)
	}
	return env.QueryID
}

func TestQueryEncoding(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"none", Options{}, ""},
		{"limit", Options{Limit: 10}, "limit=10"},
		{"offset zero omitted", Options{Limit: 5, Offset: 0}, "limit=5"},
		{"offset", Options{Offset: 5}, "offset=5"},
		{"columns", Options{Columns: []string{"a", "b c", "é"}}, "columns=a%2Cb+c%2C%C3%A9"},
		{"filters", Options{Filters: "block_time > '2024-03-01'"}, "filters=block_time+%3E+%272024-03-01%27"},
		{"blank filters omitted", Options{Filters: "  "}, ""},
		{"sort_by", Options{SortBy: "amount_usd desc, block_time"}, "sort_by=amount_usd+desc%2C+block_time"},
		{"sample_count", Options{SampleCount: 100}, "sample_count=100"},
		{"allow partial", Options{AllowPartialResults: true}, "allow_partial_results=true"},
		{"ignore credits", Options{IgnoreMaxCreditsPerRequest: true}, "ignore_max_credits_per_request=true"},
		{"params", Options{QueryParameters: map[string]string{"LooksRare Wash Trading Filter": "ON", "chain": "ethereum", "day": ""}},
			"params.LooksRare+Wash+Trading+Filter=ON&params.chain=ethereum&params.day="},
		{"all, keys sorted", Options{
			Limit: 100, Offset: 200,
			Columns:                    []string{"x", "y"},
			SortBy:                     "x desc",
			Filters:                    "y = 'a&b'",
			AllowPartialResults:        true,
			IgnoreMaxCreditsPerRequest: true,
			QueryParameters:            map[string]string{"p": "1"},
		}, "allow_partial_results=true&columns=x%2Cy&filters=y+%3D+%27a%26b%27&ignore_max_credits_per_request=true&limit=100&offset=200&params.p=1&sort_by=x+desc"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rc, _ := serve(t, reply{body: okEmptyWith(tt.opts.Columns)})
			if _, err := c.GetLatestResult(context.Background(), 3426636, tt.opts); err != nil {
				t.Fatal(err)
			}
			r := rc.req(0)
			if r.URL.Path != "/api/v1/query/3426636/results" {
				t.Errorf("path = %q", r.URL.Path)
			}
			if r.URL.RawQuery != tt.want || tt.opts.QueryString() != tt.want {
				t.Errorf("query = %q, QueryString %q, want %q", r.URL.RawQuery, tt.opts.QueryString(), tt.want)
			}
			if got := r.Header.Get("X-Dune-Api-Key"); got != testKey {
				t.Errorf("key header = %q", got)
			}
		})
	}
}

// The query string of Dune's own next_uri for the filtered fixture is what we
// send for the same options.
func TestQueryEncodingMatchesDuneNextURI(t *testing.T) {
	var fx struct {
		NextURI string `json:"next_uri"`
	}
	if err := json.Unmarshal([]byte(fixture(t, "results_filtered_columns_next_uri.json")), &fx); err != nil {
		t.Fatal(err)
	}
	opts := Options{
		Limit: 10, Offset: 10,
		Columns: []string{"block_time", "tx_from", "tx_to", "tx_hash", "amount_usd"},
		Filters: "block_time > '2024-03-01'",
	}
	c, rc, _ := serve(t, reply{body: okEmptyWith(opts.Columns)})
	if _, err := c.GetExecutionResult(context.Background(), "01HR8AGD6CWGHGP1BN3Z1SJ4MD", opts); err != nil {
		t.Fatal(err)
	}
	r := rc.req(0)
	if got := "https://api.dune.com" + r.URL.RequestURI(); got != fx.NextURI {
		t.Errorf("sent  %s\nDune %s", got, fx.NextURI)
	}
}

func TestValidationSendsNothing(t *testing.T) {
	type call func(c *Client) error
	latest := func(id int64, o Options) call {
		return func(c *Client) error { _, err := c.GetLatestResult(context.Background(), id, o); return err }
	}
	exec := func(id string, o Options) call {
		return func(c *Client) error { _, err := c.GetExecutionResult(context.Background(), id, o); return err }
	}
	tests := []struct {
		name  string
		call  call
		field string
	}{
		{"negative limit", latest(1, Options{Limit: -1}), "limit"},
		{"negative offset", latest(1, Options{Offset: -5}), "offset"},
		{"negative sample", latest(1, Options{SampleCount: -1}), "sample_count"},
		{"sample+limit", latest(1, Options{SampleCount: 10, Limit: 5}), "sample_count"},
		{"sample+offset", latest(1, Options{SampleCount: 10, Offset: 5}), "sample_count"},
		{"sample+filters", latest(1, Options{SampleCount: 10, Filters: "a = 1"}), "sample_count"},
		{"empty column", latest(1, Options{Columns: []string{"a", ""}}), "columns"},
		{"blank column", latest(1, Options{Columns: []string{" \t"}}), "columns"},
		{"comma column", latest(1, Options{Columns: []string{"a,b"}}), "columns"},
		{"blank param name", latest(1, Options{QueryParameters: map[string]string{" ": "x"}}), "query_parameters"},
		{"query id 0", latest(0, Options{}), "query_id"},
		{"query id negative", latest(-3, Options{}), "query_id"},
		{"execution id empty", exec("", Options{}), "execution_id"},
		{"execution id blank", exec("  ", Options{}), "execution_id"},
		{"execution id path", exec("../query/1", Options{}), "execution_id"},
		{"execution id query", exec("01HR8?api_key=x", Options{}), "execution_id"},
		{"params on execution", exec("01HR8AGD6CWGHGP1BN3Z1SJ4MD", Options{QueryParameters: map[string]string{"a": "b"}}), "query_parameters"},
		{"execution options validated", exec("01HR8AGD6CWGHGP1BN3Z1SJ4MD", Options{Limit: -1}), "limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, rc, _ := serve(t, reply{body: okEmpty})
			err := tt.call(c)
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("err = %v, want *ValidationError", err)
			}
			if ve.Field != tt.field {
				t.Errorf("field = %q, want %q (%v)", ve.Field, tt.field, err)
			}
			if n := rc.count(); n != 0 {
				t.Errorf("%d requests sent", n)
			}
		})
	}
	// Combinations Dune accepts stay accepted.
	for _, o := range []Options{
		{SampleCount: 10, SortBy: "a", Columns: []string{"a"}},
		{SampleCount: 10, Filters: " "},
		{Limit: 0, Offset: 0},
	} {
		if err := o.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", o, err)
		}
	}
}

func TestMissingKeySendsNothing(t *testing.T) {
	rc := &recorder{replies: []reply{{body: okEmpty}}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	c := NewClient(Config{BaseURL: srv.URL})
	_, err := c.GetLatestResult(context.Background(), 1, Options{})
	if !errors.Is(err, ErrMissingAPIKey) {
		t.Fatalf("err = %v", err)
	}
	if rc.count() != 0 {
		t.Fatal("request sent without a key")
	}
	// A per-request key is enough.
	if _, err := c.GetLatestResult(WithAPIKey(context.Background(), "ctx-key"), 1, Options{}); err != nil {
		t.Fatal(err)
	}
	if got := rc.req(0).Header.Get("X-Dune-Api-Key"); got != "ctx-key" {
		t.Fatalf("key = %q", got)
	}
}

func TestContextKeyBeatsConfig(t *testing.T) {
	c, rc, _ := serve(t, reply{body: okEmpty})
	ctx := WithAPIKey(context.Background(), "per-user-key")
	if _, err := c.GetExecutionResult(ctx, "01HR8AGD6CWGHGP1BN3Z1SJ4MD", Options{}); err != nil {
		t.Fatal(err)
	}
	r := rc.req(0)
	if got := r.Header.Get("X-Dune-Api-Key"); got != "per-user-key" {
		t.Errorf("key = %q", got)
	}
	if strings.Contains(r.URL.String(), "key") {
		t.Errorf("key in URL: %s", r.URL)
	}
	if r.URL.Path != "/api/v1/execution/01HR8AGD6CWGHGP1BN3Z1SJ4MD/results" {
		t.Errorf("path = %s", r.URL.Path)
	}
}

func TestAPIErrorKinds(t *testing.T) {
	long := strings.Repeat("ab", 600)
	tests := []struct {
		status int
		body   string
		kind   ErrorKind
		msg    string
	}{
		{401, `{"error":"invalid API Key"}`, KindInvalidKey, "invalid API Key"},
		{402, `{"error":"This api request would exceed your configured limits per billing cycle. Please visit your settings on dune.com and adjust your limits to continue usage."}`, KindPayment, "This api request would exceed your configured limits per billing cycle. Please visit your settings on dune.com and adjust your limits to continue usage."},
		{402, `{"error":"This api request would exceed your configured limits per request. Please visit your settings on dune.com and adjust your limits to continue usage."}`, KindCreditsPerRequest, "This api request would exceed your configured limits per request. Please visit your settings on dune.com and adjust your limits to continue usage."},
		{402, `{"error":"Payment required"}`, KindPayment, "Payment required"},
		{403, `{"error":"Not allowed to execute query. Query is archived, unsaved or not enough permissions"}`, KindForbidden, "Not allowed to execute query. Query is archived, unsaved or not enough permissions"},
		{404, `{"error":"Query not found"}`, KindNotFound, "Query not found"},
		{429, `{"error":"Too many requests"}`, KindRateLimited, "Too many requests"},
		{400, `{"error":"Partial Result, please request with 'allows_partial_results=true'"}`, KindPartialResult, "Partial Result, please request with 'allows_partial_results=true'"},
		{400, `{"error":"The requested execution ID (ID: not-a-ulid) is invalid."}`, KindBadRequest, "The requested execution ID (ID: not-a-ulid) is invalid."},
		{500, `{"error":"Internal error"}`, KindServer, "Internal error"},
		{418, `{"error":"teapot"}`, KindOther, "teapot"},
		{409, ``, KindOther, "Conflict"},
		{500, `upstream   exploded` + "\n", KindServer, "upstream exploded"},
		{502, `<html><body>Bad gateway</body></html>`, KindServer, "Bad Gateway"},
		{400, `{"error":{"code":3}}`, KindBadRequest, "map[code:3]"},
		{400, `{"error":"` + long + `"}`, KindBadRequest, long[:499] + "…"},
	}
	for _, tt := range tests {
		t.Run(http.StatusText(tt.status), func(t *testing.T) {
			c, rc, _ := serve(t, reply{status: tt.status, body: tt.body})
			c.cfg.Retry.MaxAttempts = 1
			res, err := c.GetLatestResult(context.Background(), 42, Options{})
			var ae *APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v (%T)", err, err)
			}
			if res != nil {
				t.Error("result with an API error")
			}
			if ae.StatusCode != tt.status || ae.Kind != tt.kind || ae.Message != tt.msg || ae.Endpoint != "/api/v1/query/42/results" {
				t.Errorf("got %+v", *ae)
			}
			if rc.count() != 1 {
				t.Errorf("%d requests", rc.count())
			}
		})
	}
}

func TestRetryAfterParsing(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	tests := []struct {
		name   string
		header http.Header
		want   time.Duration
		ok     bool
	}{
		{"seconds", http.Header{"Retry-After": {"3"}}, 3 * time.Second, true},
		{"zero", http.Header{"Retry-After": {"0"}}, 0, true},
		{"http date", http.Header{"Retry-After": {now.Add(90 * time.Second).Format(http.TimeFormat)}}, 90 * time.Second, true},
		{"past date", http.Header{"Retry-After": {now.Add(-time.Hour).Format(http.TimeFormat)}}, 0, true},
		{"huge", http.Header{"Retry-After": {"99999999999"}}, 24 * time.Hour, true},
		{"garbage", http.Header{"Retry-After": {"soon"}}, 0, false},
		{"ratelimit", http.Header{"Ratelimit": {`"read";r=0;t=30`}}, 30 * time.Second, true},
		{"ratelimit most restrictive", http.Header{"Ratelimit": {`"ip";r=0;t=1, "read";r=0;t=12, "write";r=5;t=50`}}, 12 * time.Second, true},
		{"ratelimit several fields", http.Header{"Ratelimit": {`"ip";r=10;t=1`, `"read";r=0;t=7`}}, 7 * time.Second, true},
		{"ratelimit not exhausted", http.Header{"Ratelimit": {`"read";r=3;t=30`}}, 0, false},
		{"garbage falls back to ratelimit", http.Header{"Retry-After": {"soon"}, "Ratelimit": {`"read";r=0;t=4`}}, 4 * time.Second, true},
		{"retry-after wins", http.Header{"Retry-After": {"2"}, "Ratelimit": {`"read";r=0;t=40`}}, 2 * time.Second, true},
		{"none", http.Header{}, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseRetryAfter(tt.header, now)
			if got != tt.want || ok != tt.ok {
				t.Errorf("got %v,%v want %v,%v", got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestRateLimitedErrorCarriesRetryAfter(t *testing.T) {
	for _, h := range []map[string]string{
		{"Retry-After": "30"},
		{"Retry-After": time.Now().Add(30 * time.Second).UTC().Format(http.TimeFormat)},
		{"RateLimit": `"read";r=0;t=30`, "RateLimit-Policy": `"read";q=40;w=60`},
	} {
		c, rc, waits := serve(t, reply{status: 429, body: `{"error":"rate limited"}`, header: h})
		c.cfg.Retry.MaxElapsed = time.Hour // MaxBackoff alone must stop the loop
		_, err := c.GetLatestResult(context.Background(), 1, Options{})
		var ae *APIError
		if !errors.As(err, &ae) || ae.Kind != KindRateLimited {
			t.Fatalf("%v: err = %v", h, err)
		}
		// 30s exceeds MaxBackoff (2s): give up at once, tell the caller when to retry.
		if ae.RetryAfter < 28*time.Second || ae.RetryAfter > 30*time.Second {
			t.Errorf("%v: RetryAfter = %v", h, ae.RetryAfter)
		}
		if !strings.Contains(err.Error(), "retry after") {
			t.Errorf("message lacks the wait: %v", err)
		}
		if rc.count() != 1 || len(*waits) != 0 {
			t.Errorf("%v: %d requests, waits %v", h, rc.count(), *waits)
		}
	}
}

func TestStates(t *testing.T) {
	head := `"execution_id":"01HPFJ7VSFXPTA8WPMDKBXE167","query_id":9,"is_execution_finished":true,"submitted_at":"2024-02-12T21:05:48.848069Z","expires_at":"2024-05-12T21:05:50.199443Z"`
	result := `"result":{"rows":[{"a":1}],"metadata":{"column_names":["a"],"column_types":["bigint"],"row_count":1,"datapoint_count":1,"total_row_count":1}}`
	t.Run("failed", func(t *testing.T) {
		c, _, _ := serve(t, reply{body: fixture(t, "status_failed_with_error.json")})
		res, err := c.GetExecutionResult(context.Background(), "01K85QHSS0RBGW4BHDM0RFCG9C", Options{})
		var re *ResultError
		if !errors.As(err, &re) {
			t.Fatalf("err = %v", err)
		}
		if re.State != StateFailed || re.Type != "FAILED_TYPE_EXECUTION_FAILED" || re.Line != 1 || re.Column != 8 ||
			!strings.Contains(re.Message, "Column 'x' cannot be resolved") || re.ExecutionID != "01K85QHSS0RBGW4BHDM0RFCG9C" || re.QueryID != 6012998 {
			t.Errorf("got %+v", *re)
		}
		if res == nil || res.State != StateFailed || res.HasResult || res.Error == nil || res.Error.Line != 1 {
			t.Errorf("result = %+v", res)
		}
		if !strings.Contains(err.Error(), "line 1, column 8") {
			t.Errorf("message: %v", err)
		}
	})
	for _, st := range []State{StateCancelled, StateExpired} {
		t.Run(string(st), func(t *testing.T) {
			c, _, _ := serve(t, reply{body: `{` + head + `,"state":"` + string(st) + `","cancelled_at":"2024-02-12T21:05:49Z"}`})
			res, err := c.GetExecutionResult(context.Background(), "01HPFJ7VSFXPTA8WPMDKBXE167", Options{})
			var re *ResultError
			if !errors.As(err, &re) || re.State != st || re.Message != "" {
				t.Fatalf("err = %v", err)
			}
			if res == nil || res.State != st || res.HasResult {
				t.Errorf("result = %+v", res)
			}
			if st == StateCancelled && (res.CancelledAt == nil || res.CancelledAt.Second() != 49) {
				t.Errorf("cancelled_at = %v", res.CancelledAt)
			}
		})
	}
	t.Run("partial", func(t *testing.T) {
		c, rc, _ := serve(t, reply{body: `{` + head + `,"state":"QUERY_STATE_COMPLETED_PARTIAL",` + result + `}`})
		res, err := c.GetLatestResult(context.Background(), 9, Options{AllowPartialResults: true})
		if err != nil {
			t.Fatal(err)
		}
		if res.State != StateCompletedPartial || !res.HasResult || len(res.Rows) != 1 || res.Rows[0][0] != json.Number("1") || res.Columns[0] != (Column{"a", "bigint"}) {
			t.Errorf("result = %+v", res)
		}
		if q := rc.req(0).URL.RawQuery; q != "allow_partial_results=true" {
			t.Errorf("query = %q", q)
		}
	})
	for _, st := range []State{StatePending, StateExecuting} {
		t.Run(string(st), func(t *testing.T) {
			c, _, _ := serve(t, reply{body: `{` + strings.Replace(head, `"is_execution_finished":true`, `"is_execution_finished":false`, 1) + `,"state":"` + string(st) + `"}`})
			res, err := c.GetLatestResult(context.Background(), 9, Options{})
			var re *ResultError
			if !errors.As(err, &re) || re.State != st {
				t.Fatalf("err = %v, want a *ResultError in state %s", err, st)
			}
			if res.State != st || res.HasResult || res.IsExecutionFinished || res.Rows != nil {
				t.Errorf("result = %+v", res)
			}
		})
	}
	t.Run("unknown state", func(t *testing.T) {
		for _, body := range []string{`{` + head + `,"state":"QUERY_STATE_THINKING"}`, `{` + head + `,"state":"QUERY_STATE_THINKING",` + result + `}`} {
			c, _, _ := serve(t, reply{body: body})
			res, err := c.GetLatestResult(context.Background(), 9, Options{})
			var re *ResultError
			if !errors.As(err, &re) || re.State != "QUERY_STATE_THINKING" {
				t.Fatalf("err = %v, want a *ResultError for the unknown state", err)
			}
			if res.State != "QUERY_STATE_THINKING" || res.State.Known() {
				t.Errorf("state = %v", res.State)
			}
			if strings.Contains(body, "rows") != (len(res.Rows) == 1) {
				t.Errorf("rows = %v", res.Rows)
			}
		}
	})
	malformed := map[string]string{
		"completed without result": `{` + head + `,"state":"QUERY_STATE_COMPLETED"}`,
		"partial without result":   `{` + head + `,"state":"QUERY_STATE_COMPLETED_PARTIAL","result":null}`,
		"no state":                 `{` + head + `,` + result + `}`,
		"no column_names":          `{` + head + `,"state":"QUERY_STATE_COMPLETED","result":{"rows":[{"a":1}],"metadata":{"row_count":1}}}`,
		"rows not an array":        `{` + head + `,"state":"QUERY_STATE_COMPLETED","result":{"rows":{},"metadata":{"column_names":[]}}}`,
		"row not an object":        `{` + head + `,"state":"QUERY_STATE_COMPLETED","result":{"rows":[[1]],"metadata":{"column_names":["a"]}}}`,
		"not json":                 `<html>maintenance</html>`,
		"bad next_offset":          `{` + head + `,"state":"QUERY_STATE_COMPLETED","next_offset":-4,` + result + `}`,
		"query_id not a number":    `{` + head + `,"query_id":"x","state":"QUERY_STATE_COMPLETED",` + result + `}`,
		"document not closed":      `{` + head + `,"state":"QUERY_STATE_COMPLETED",` + result + `]`,
		"trailing garbage":         `{` + head + `,"state":"QUERY_STATE_COMPLETED",` + result + `}]`,
		"two documents":            `{` + head + `,"state":"QUERY_STATE_COMPLETED",` + result + `} {"state":"QUERY_STATE_FAILED"}`,
		"negative row_count":       `{` + head + `,"state":"QUERY_STATE_COMPLETED","result":{"rows":[],"metadata":{"column_names":["a"],"row_count":-1}}}`,
		"negative datapoint_count": `{` + head + `,"state":"QUERY_STATE_COMPLETED","result":{"rows":[],"metadata":{"column_names":["a"],"datapoint_count":-100}}}`,
	}
	for name, body := range malformed {
		t.Run(name, func(t *testing.T) {
			c, rc, _ := serve(t, reply{body: body})
			_, err := c.GetLatestResult(context.Background(), 9, Options{})
			if !errors.Is(err, ErrMalformedResponse) {
				t.Fatalf("err = %v", err)
			}
			if rc.count() != 1 {
				t.Errorf("malformed body retried: %d requests", rc.count())
			}
		})
	}
}

func TestFixturePages(t *testing.T) {
	for _, name := range []string{"results_page_with_next_uri.json", "results_filtered_columns_next_uri.json", "results_offset_past_end_empty.json"} {
		t.Run(name, func(t *testing.T) {
			body := fixture(t, name)
			c, _, _ := serve(t, reply{body: body})
			ctx, usage := WithUsage(context.Background())
			res, err := c.GetLatestResult(ctx, queryIDOf(t, body), Options{})
			if err != nil {
				t.Fatal(err)
			}
			cols, rows := referenceRows(t, body)
			if len(res.Columns) != len(cols) {
				t.Fatalf("columns = %v", res.Columns)
			}
			for i, col := range res.Columns {
				if col.Name != cols[i] || col.Type != "" {
					t.Errorf("column %d = %+v, want %s", i, col, cols[i])
				}
			}
			if res.Rows == nil || !reflect.DeepEqual(res.Rows, rows) {
				t.Errorf("rows differ:\n got %v\nwant %v", res.Rows, rows)
			}
			if res.BodyBytes != int64(len(body)) || usage.Bytes.Load() != int64(len(body)) {
				t.Errorf("bytes = %d / %d, want %d", res.BodyBytes, usage.Bytes.Load(), len(body))
			}
			if usage.Requests.Load() != 1 || usage.Rows.Load() != int64(len(rows)) || usage.Datapoints.Load() != int64(res.Metadata.DatapointCount) {
				t.Errorf("usage = %d req %d rows %d dp", usage.Requests.Load(), usage.Rows.Load(), usage.Datapoints.Load())
			}
			if !res.HasResult || res.State != StateCompleted || !res.IsExecutionFinished || res.ExecutionEndedAt == nil || res.SubmittedAt.IsZero() {
				t.Errorf("envelope = %+v", res)
			}
		})
	}
	t.Run("details", func(t *testing.T) {
		c, _, _ := serve(t, reply{body: fixture(t, "results_page_with_next_uri.json")})
		res, err := c.GetLatestResult(context.Background(), 3426636, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if res.NextOffset == nil || *res.NextOffset != 5 {
			t.Errorf("next offset = %v", res.NextOffset)
		}
		want := Metadata{RowCount: 5, TotalRowCount: 10, TotalResultSetBytes: 5639, DatapointCount: 110, PendingTimeMillis: 15, ExecutionTimeMillis: 1336}
		if res.Metadata != want {
			t.Errorf("metadata = %+v", res.Metadata)
		}
		r0 := res.Rows[0]
		// column_names order: amount_usd, block_date, token_bought_symbol, ...
		if r0[0] != nil || r0[1] != "2021-06-07 00:00:00.000 UTC" || r0[2] != "USDG" || r0[6] != json.Number("432") || r0[14] != "2985646787349243786078" {
			t.Errorf("row 0 = %v", r0)
		}
		if res.ExecutionID != "01HPFJ7VSFXPTA8WPMDKBXE167" || res.QueryID != 3426636 ||
			!res.ExecutionEndedAt.Equal(time.Date(2024, 2, 12, 21, 5, 50, 199442351, time.UTC)) {
			t.Errorf("envelope = %+v", res)
		}
	})
	t.Run("empty page past the end", func(t *testing.T) {
		c, _, _ := serve(t, reply{body: fixture(t, "results_offset_past_end_empty.json")})
		res, err := c.GetLatestResult(context.Background(), 1, Options{Offset: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows == nil || len(res.Rows) != 0 || res.NextOffset != nil || res.Metadata.TotalRowCount != 25 || !res.HasResult {
			t.Errorf("result = %+v", res)
		}
	})
}

func TestNumbersStayExact(t *testing.T) {
	body := `{"state":"QUERY_STATE_COMPLETED","query_id":9007199254740993,"result":{"rows":[
	 {"big":123456789012345678901234567890,"neg":-9223372036854775809,"f":0.1000000000000000055511151231257827,"e":1.5e+300,
	  "u256":"115792089237316195423570985008687907853269984665640564039457584007913129639935","small":42}],
	 "metadata":{"column_names":["big","neg","f","e","u256","small"],"column_types":["int256","int256","double","double","uint256","bigint"]}}}`
	c, _, _ := serve(t, reply{body: body})
	res, err := c.GetLatestResult(context.Background(), 9007199254740993, Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := Row{json.Number("123456789012345678901234567890"), json.Number("-9223372036854775809"), json.Number("0.1000000000000000055511151231257827"),
		json.Number("1.5e+300"), "115792089237316195423570985008687907853269984665640564039457584007913129639935", json.Number("42")}
	if !reflect.DeepEqual(res.Rows[0], want) {
		t.Errorf("row = %#v", res.Rows[0])
	}
	if res.QueryID != 9007199254740993 {
		t.Errorf("query id = %d", res.QueryID)
	}
	if res.Columns[4].Type != "uint256" {
		t.Errorf("types = %v", res.Columns)
	}
}

func TestBodySizeGuard(t *testing.T) {
	body := fixture(t, "results_page_with_next_uri.json")
	c, rc, _ := serve(t, reply{body: body})
	c.cfg.MaxBodyBytes = 1000
	_, err := c.GetLatestResult(context.Background(), 1, Options{})
	if !errors.Is(err, ErrBodyTooLarge) || !strings.Contains(err.Error(), "1000 bytes") {
		t.Fatalf("err = %v", err)
	}
	if rc.count() != 1 {
		t.Errorf("retried: %d requests", rc.count())
	}
	// A body of exactly the limit passes.
	c.cfg.MaxBodyBytes = int64(len(body))
	if _, err := c.GetLatestResult(context.Background(), 1, Options{}); err != nil {
		t.Fatal(err)
	}
}

func TestRedirectsNotFollowed(t *testing.T) {
	other := &recorder{replies: []reply{{body: okEmpty}}}
	osrv := httptest.NewServer(other)
	defer osrv.Close()
	c, _, _ := serve(t, reply{handler: func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, osrv.URL+r.URL.Path, http.StatusFound)
	}})
	_, err := c.GetLatestResult(context.Background(), 1, Options{})
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != http.StatusFound || ae.Kind != KindOther {
		t.Fatalf("err = %v", err)
	}
	if other.count() != 0 {
		t.Fatal("redirect followed: the key went to another host")
	}
}

// retryClient is serve with a custom retry policy and a fixed jitter.
func retryClient(t *testing.T, p RetryPolicy, replies ...reply) (*Client, *recorder, *[]time.Duration) {
	c, rc, waits := serve(t, replies...)
	c.cfg.Retry = p
	c.jitter = func(d time.Duration) time.Duration { return d } // the top of the jitter range
	return c, rc, waits
}

var fastRetry = RetryPolicy{MaxAttempts: 4, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second, MaxElapsed: 20 * time.Second}

func TestRetries(t *testing.T) {
	unavailable := reply{status: 503, body: `{"error":"unavailable"}`}
	t.Run("5xx then success", func(t *testing.T) {
		c, rc, waits := retryClient(t, fastRetry, unavailable, reply{status: 502}, reply{status: 504}, reply{body: okEmpty})
		ctx, usage := WithUsage(context.Background())
		if _, err := c.GetLatestResult(ctx, 1, Options{}); err != nil {
			t.Fatal(err)
		}
		if rc.count() != 4 || usage.Requests.Load() != 4 {
			t.Errorf("requests = %d, usage %d", rc.count(), usage.Requests.Load())
		}
		if want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}; !reflect.DeepEqual(*waits, want) {
			t.Errorf("waits = %v, want %v", *waits, want)
		}
	})
	t.Run("attempts exhausted", func(t *testing.T) {
		c, rc, _ := retryClient(t, RetryPolicy{MaxAttempts: 3, InitialBackoff: time.Millisecond, MaxBackoff: time.Second, MaxElapsed: time.Minute}, unavailable)
		_, err := c.GetLatestResult(context.Background(), 1, Options{})
		var ae *APIError
		if !errors.As(err, &ae) || ae.StatusCode != 503 || ae.Kind != KindServer {
			t.Fatalf("err = %v", err)
		}
		if rc.count() != 3 {
			t.Errorf("requests = %d", rc.count())
		}
	})
	t.Run("backoff capped and jittered", func(t *testing.T) {
		c, _, waits := retryClient(t, RetryPolicy{MaxAttempts: 8, InitialBackoff: 100 * time.Millisecond, MaxBackoff: 500 * time.Millisecond, MaxElapsed: time.Hour}, unavailable)
		c.jitter = func(time.Duration) time.Duration { return 0 } // bottom of the range: half the backoff
		_, _ = c.GetLatestResult(context.Background(), 1, Options{})
		want := []time.Duration{50, 100, 200, 250, 250, 250, 250}
		for i := range want {
			want[i] *= time.Millisecond
		}
		if !reflect.DeepEqual(*waits, want) {
			t.Errorf("waits = %v, want %v", *waits, want)
		}
	})
	t.Run("honours Retry-After", func(t *testing.T) {
		c, rc, waits := retryClient(t, fastRetry, reply{status: 429, header: map[string]string{"Retry-After": "1"}}, reply{body: okEmpty})
		if _, err := c.GetLatestResult(context.Background(), 1, Options{}); err != nil {
			t.Fatal(err)
		}
		if rc.count() != 2 || len(*waits) != 1 || (*waits)[0] != time.Second {
			t.Errorf("requests %d waits %v", rc.count(), *waits)
		}
	})
	t.Run("honours RateLimit reset", func(t *testing.T) {
		c, rc, waits := retryClient(t, fastRetry, reply{status: 429, header: map[string]string{"RateLimit": `"read";r=0;t=2`}}, reply{body: okEmpty})
		if _, err := c.GetLatestResult(context.Background(), 1, Options{}); err != nil {
			t.Fatal(err)
		}
		if rc.count() != 2 || len(*waits) != 1 || (*waits)[0] != 2*time.Second {
			t.Errorf("requests %d waits %v", rc.count(), *waits)
		}
	})
	t.Run("Retry-After beyond the elapsed budget", func(t *testing.T) {
		c, rc, waits := retryClient(t, RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: time.Minute, MaxElapsed: 3 * time.Second},
			reply{status: 429, header: map[string]string{"Retry-After": "5"}}, reply{body: okEmpty})
		_, err := c.GetLatestResult(context.Background(), 1, Options{})
		var ae *APIError
		if !errors.As(err, &ae) || ae.RetryAfter != 5*time.Second {
			t.Fatalf("err = %v", err)
		}
		if rc.count() != 1 || len(*waits) != 0 {
			t.Errorf("requests %d waits %v", rc.count(), *waits)
		}
	})
	for _, st := range []int{400, 401, 402, 403, 404, 500} {
		t.Run("no retry on "+http.StatusText(st), func(t *testing.T) {
			c, rc, _ := retryClient(t, fastRetry, reply{status: st, body: `{"error":"x"}`}, reply{body: okEmpty})
			if _, err := c.GetLatestResult(context.Background(), 1, Options{}); err == nil {
				t.Fatal("no error")
			}
			if rc.count() != 1 {
				t.Errorf("requests = %d", rc.count())
			}
		})
	}
	t.Run("dropped connection", func(t *testing.T) {
		c, rc, _ := retryClient(t, fastRetry, reply{handler: hangUp}, reply{body: okEmpty})
		if _, err := c.GetLatestResult(context.Background(), 1, Options{}); err != nil {
			t.Fatal(err)
		}
		if rc.count() != 2 {
			t.Errorf("requests = %d", rc.count())
		}
	})
	t.Run("truncated body", func(t *testing.T) {
		body := fixture(t, "results_page_with_next_uri.json")
		c, rc, _ := retryClient(t, fastRetry, reply{handler: func(w http.ResponseWriter, r *http.Request) { truncate(w, body) }}, reply{body: body})
		res, err := c.GetLatestResult(context.Background(), 1, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if rc.count() != 2 || len(res.Rows) != 5 {
			t.Errorf("requests = %d rows = %d", rc.count(), len(res.Rows))
		}
	})
	t.Run("truncated body every time", func(t *testing.T) {
		body := fixture(t, "results_page_with_next_uri.json")
		c, rc, _ := retryClient(t, RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: time.Second, MaxElapsed: time.Minute},
			reply{handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(body[:len(body)/2])) // well-framed but incomplete JSON
			}})
		_, err := c.GetLatestResult(context.Background(), 1, Options{})
		if !errors.Is(err, ErrMalformedResponse) || !strings.Contains(err.Error(), "after 2 attempts") {
			t.Fatalf("err = %v", err)
		}
		if rc.count() != 2 {
			t.Errorf("requests = %d", rc.count())
		}
	})
	t.Run("attempt timeout", func(t *testing.T) {
		slow := reply{handler: func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
				t.Error("the attempt was not given up at its timeout")
			}
		}}
		// The retry must answer within the attempt timeout, which is
		// wall-clock time: should a starved machine make it late too, the
		// case is tried again with twice the timeout (nothing about time is
		// asserted). No retry at all fails at once.
		for timeout := 100 * time.Millisecond; ; timeout *= 2 {
			c, rc, _ := retryClient(t, fastRetry, slow, reply{body: okEmpty})
			c.cfg.RequestTimeout = timeout
			_, err := c.GetLatestResult(context.Background(), 1, Options{})
			switch n := rc.count(); {
			case err == nil && n == 2:
				return
			case n < 2:
				t.Fatalf("the attempt past its timeout was not retried: %d request(s), err %v", n, err)
			case timeout > 30*time.Second:
				t.Fatalf("requests = %d, err %v", n, err)
			}
		}
	})
	t.Run("connection refused is not retried", func(t *testing.T) {
		addr := closedAddr(t)
		c := NewClient(Config{BaseURL: "http://" + addr, APIKey: testKey})
		c.sleep = func(context.Context, time.Duration) error { t.Error("slept"); return nil }
		_, err := c.GetLatestResult(context.Background(), 1, Options{Limit: 5})
		if err == nil || strings.Contains(err.Error(), "limit=5") || !strings.Contains(err.Error(), "/api/v1/query/1/results") {
			t.Fatalf("err = %v", err)
		}
	})
}

// hangUp closes the connection without answering.
func hangUp(w http.ResponseWriter, _ *http.Request) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err == nil {
		conn.Close()
	}
}

// truncate announces the whole body and sends half of it.
func truncate(w http.ResponseWriter, body string) {
	conn, buf, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	defer conn.Close()
	_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body[:len(body)/2])
	_ = buf.Flush()
}

func TestCancelStopsRetryLoop(t *testing.T) {
	c, rc, _ := serve(t, reply{status: 429, header: map[string]string{"Retry-After": "30"}})
	c.cfg.Retry = RetryPolicy{MaxAttempts: 5, InitialBackoff: time.Millisecond, MaxBackoff: time.Minute, MaxElapsed: 5 * time.Minute}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var waits []time.Duration
	c.sleep = func(sctx context.Context, d time.Duration) error {
		waits = append(waits, d)
		cancel() // the caller gives up while we wait
		return clock.Sleep(sctx, d)
	}
	_, err := c.GetLatestResult(ctx, 1, Options{})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
	if len(waits) != 1 || waits[0] != 30*time.Second {
		t.Errorf("waits = %v, want the 30s Retry-After", waits)
	}
	if rc.count() != 1 {
		t.Errorf("requests = %d", rc.count())
	}
	// An already cancelled context sends nothing.
	_, err = c.GetLatestResult(ctx, 1, Options{})
	if !errors.Is(err, context.Canceled) || rc.count() != 1 {
		t.Errorf("err = %v, requests = %d", err, rc.count())
	}
}

// A real (not injected) wait: the second request comes at least Retry-After
// after the first. Only a lower bound, which sleeping guarantees.
func TestRetryAfterRealWait(t *testing.T) {
	rc := &recorder{replies: []reply{{status: 503, header: map[string]string{"Retry-After": "1"}}, {body: okEmpty}}}
	srv := httptest.NewServer(rc)
	defer srv.Close()
	c := NewClient(Config{BaseURL: srv.URL, APIKey: testKey})
	if _, err := c.GetLatestResult(context.Background(), 1, Options{}); err != nil {
		t.Fatal(err)
	}
	if gap := rc.times[1].Sub(rc.times[0]); gap < time.Second {
		t.Errorf("gap = %v", gap)
	}
}

// No failure path puts the key in an error, a URL or a log line.
func TestSecretsNeverLeak(t *testing.T) {
	var logs bytes.Buffer
	echo := `{"error":"invalid API Key ` + testKey + `"}`
	body := fixture(t, "results_page_with_next_uri.json")
	cases := map[string]reply{
		"401 echo":        {status: 401, body: echo},
		"500 text echo":   {status: 500, body: "boom key=" + testKey},
		"429 exhausted":   {status: 429, body: echo, header: map[string]string{"Retry-After": "3600"}},
		"503 exhausted":   {status: 503, body: echo},
		"failed echo":     {body: `{"state":"QUERY_STATE_FAILED","error":{"type":"x","message":"bad key ` + testKey + `","metadata":{"line":2,"column":3}}}`},
		"malformed":       {body: `{"state":` + testKey},
		"string body":     {body: `"` + testKey + `"`},
		"member echo":     {body: `{"` + testKey + `":`},
		"result member":   {body: `{"state":"QUERY_STATE_COMPLETED","result":{"` + testKey + `":[`},
		"trailing echo":   {body: okEmpty + `"` + testKey + `"`},
		"failed ids echo": {body: `{"execution_id":"` + testKey + `","state":"QUERY_STATE_FAILED","error":{"type":"` + testKey + `","message":"m ` + testKey + `"}}`},
		"cancelled echo":  {body: `{"execution_id":"x` + testKey + `","state":"QUERY_STATE_CANCELLED"}`},
		"too large":       {body: body},
		"dropped":         {handler: hangUp},
		"truncated":       {handler: func(w http.ResponseWriter, r *http.Request) { truncate(w, body) }},
		"slow (timeout)":  {handler: func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }},
	}
	for name, rp := range cases {
		t.Run(name, func(t *testing.T) {
			c, rc, _ := serve(t, rp)
			c.cfg.Retry = RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: time.Second, MaxElapsed: time.Minute}
			c.cfg.MaxBodyBytes = 4000
			c.cfg.RequestTimeout = 200 * time.Millisecond
			c.log = zerolog.New(&logs).Level(zerolog.DebugLevel)
			res, err := c.GetLatestResult(context.Background(), 1, Options{Filters: "a = 1"})
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), testKey) {
				t.Errorf("key in error: %v", err)
			}
			var re *ResultError
			if errors.As(err, &re) {
				if b, _ := json.Marshal(re); strings.Contains(string(b), testKey) {
					t.Errorf("key in ResultError fields: %s", b)
				}
			}
			if b, _ := json.Marshal(res); strings.Contains(string(b), testKey) {
				t.Errorf("key in result: %s", b)
			}
			for i := 0; i < rc.count(); i++ {
				if strings.Contains(rc.req(i).URL.String(), testKey) {
					t.Errorf("key in URL")
				}
			}
		})
	}
	t.Run("cancelled", func(t *testing.T) {
		c, _, _ := serve(t, reply{body: okEmpty})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := c.GetLatestResult(ctx, 1, Options{}); err == nil || strings.Contains(err.Error(), testKey) {
			t.Errorf("err = %v", err)
		}
	})
	if !strings.Contains(logs.String(), `"message":"dune request"`) || !strings.Contains(logs.String(), `"message":"dune retry"`) {
		t.Errorf("debug logging not exercised: %s", logs.String())
	}
	if strings.Contains(logs.String(), testKey) {
		t.Error("key in logs")
	}
}

func TestUsageCountsRetries(t *testing.T) {
	body := fixture(t, "results_filtered_columns_next_uri.json")
	c, _, _ := retryClient(t, fastRetry, reply{status: 503, body: `{"error":"busy"}`}, reply{body: body})
	ctx, usage := WithUsage(context.Background())
	res, err := c.GetLatestResult(ctx, queryIDOf(t, body), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if usage.Requests.Load() != 2 || usage.Rows.Load() != 10 || usage.Datapoints.Load() != 50 ||
		usage.Bytes.Load() != int64(len(body))+int64(len(`{"error":"busy"}`)) || res.BodyBytes != int64(len(body)) {
		t.Errorf("usage = %d req, %d rows, %d dp, %d bytes", usage.Requests.Load(), usage.Rows.Load(), usage.Datapoints.Load(), usage.Bytes.Load())
	}
}

func TestDefaults(t *testing.T) {
	c := NewClient(Config{})
	if c.base != DefaultBaseURL || c.cfg.RequestTimeout != DefaultRequestTimeout || c.cfg.MaxBodyBytes != DefaultMaxBodyBytes ||
		c.cfg.Retry != (RetryPolicy{DefaultMaxAttempts, DefaultInitialBackoff, DefaultMaxBackoff, DefaultMaxElapsed}) {
		t.Errorf("defaults = %+v", c.cfg)
	}
	hc := &http.Client{Timeout: time.Minute}
	c = NewClient(Config{BaseURL: "http://x/", HTTPClient: hc})
	if c.base != "http://x" || c.http == hc || c.http.Timeout != time.Minute || hc.CheckRedirect != nil {
		t.Error("caller's http.Client must be copied, not modified")
	}
}

func TestNormalizeBase(t *testing.T) {
	for in, want := range map[string]string{
		"https://api.dune.com":         "https://api.dune.com",
		"https://api.dune.com/":        "https://api.dune.com",
		"https://api.dune.com/api":     "https://api.dune.com",
		"https://api.dune.com/api/":    "https://api.dune.com",
		"https://api.dune.com/api/v1":  "https://api.dune.com",
		"http://127.0.0.1:9090/prefix": "http://127.0.0.1:9090/prefix",
	} {
		if got := normalizeBase(in); got != want {
			t.Errorf("normalizeBase(%q) = %q, want %q", in, got, want)
		}
	}
}

// deadlineRecorder answers every request with 503 and records how far away
// the attempt's deadline was when the request was sent.
type deadlineRecorder struct{ left []time.Duration }

func (d *deadlineRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	dl, ok := r.Context().Deadline()
	if !ok {
		dl = time.Now().Add(1000 * time.Hour)
	}
	d.left = append(d.left, time.Until(dl))
	return &http.Response{StatusCode: 503, Header: http.Header{"Retry-After": {"30"}}, Body: io.NopCloser(strings.NewReader(`{"error":"busy"}`)), Request: r}, nil
}

// MaxElapsed caps the whole call: each attempt's deadline follows the
// schedule (attemptTimeout): RequestTimeout, and at most half of what
// remains of the budget while another attempt may follow, all of it for the
// last. Time advances on a fake clock moved by the injected sleep.
func TestAttemptDeadlineWithinMaxElapsed(t *testing.T) {
	rt := &deadlineRecorder{}
	c := NewClient(Config{APIKey: testKey, HTTPClient: &http.Client{Transport: rt}, RequestTimeout: time.Minute,
		Retry: RetryPolicy{MaxAttempts: 10, InitialBackoff: time.Second, MaxBackoff: time.Minute, MaxElapsed: 100 * time.Second}})
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c.now = func() time.Time { return clock }
	var waits []time.Duration
	c.sleep = func(_ context.Context, d time.Duration) error {
		waits = append(waits, d)
		clock = clock.Add(d)
		return nil
	}
	_, err := c.GetLatestResult(context.Background(), 1, Options{})
	var ae *APIError
	if !errors.As(err, &ae) || ae.StatusCode != 503 {
		t.Fatalf("err = %v", err)
	}
	// 0s: min(60, 100/2); 30s: min(60, 70/2); 60s: 40/2; 90s: 10/2; a
	// fifth attempt would start past the budget.
	want := []time.Duration{50 * time.Second, 35 * time.Second, 20 * time.Second, 5 * time.Second}
	if len(rt.left) != len(want) || !reflect.DeepEqual(waits, []time.Duration{30 * time.Second, 30 * time.Second, 30 * time.Second}) {
		t.Fatalf("deadlines %v, waits %v", rt.left, waits)
	}
	for i, w := range want {
		// The deadline is set on the real clock just before the request:
		// it can only be a little nearer than computed, never further.
		if got := rt.left[i]; got > w || got < w-5*time.Second {
			t.Errorf("attempt %d: deadline in %v, want %v", i+1, got, w)
		}
	}
}

// A Config printed or logged does not show the key.
func TestConfigRedactsKey(t *testing.T) {
	cfg := Config{BaseURL: "http://dune.example", APIKey: testKey, HTTPClient: &http.Client{}, Retry: RetryPolicy{MaxAttempts: 2}}
	var logs bytes.Buffer
	logger := zerolog.New(&logs)
	logger.Info().Interface("cfg", cfg).Interface("ptr", &cfg).Msg("config")
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{
		fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), fmt.Sprintf("%v", &cfg), fmt.Sprintf("%+v", struct{ C Config }{cfg}),
		logs.String(), string(js),
	} {
		if strings.Contains(out, testKey) || !strings.Contains(out, "http://dune.example") || !strings.Contains(out, "redacted") {
			t.Errorf("printed as %s", out)
		}
	}
	if s := fmt.Sprint(Config{BaseURL: "x"}); strings.Contains(s, "redacted") || !strings.Contains(s, "x") {
		t.Errorf("no key, yet %s", s)
	}
}

// A row_count that disagrees with the rows is not fatal: the rows win and a
// debug line says so.
func TestRowCountMismatchLogged(t *testing.T) {
	c, _, _ := serve(t, reply{body: `{"state":"QUERY_STATE_COMPLETED","result":{"rows":[{"a":1}],"metadata":{"column_names":["a"],"row_count":3}}}`})
	var logs bytes.Buffer
	c.log = zerolog.New(&logs).Level(zerolog.DebugLevel)
	res, err := c.GetLatestResult(context.Background(), 1, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Metadata.RowCount != 1 || !strings.Contains(logs.String(), `"row_count":3`) || !strings.Contains(logs.String(), `"rows":1`) {
		t.Errorf("row_count %d, logs %s", res.Metadata.RowCount, logs.String())
	}
}

// The per-attempt schedule: half of what is left while a retry may follow,
// everything for the last attempt or when half would be under
// MinAttemptTimeout, never more than RequestTimeout.
func TestAttemptTimeoutSchedule(t *testing.T) {
	c := NewClient(Config{RequestTimeout: 60 * time.Second, Retry: RetryPolicy{MaxAttempts: 3}})
	tests := []struct {
		n    int
		left time.Duration
		want time.Duration
	}{
		{1, 45 * time.Second, 22500 * time.Millisecond},
		{2, 22 * time.Second, 11 * time.Second},
		{3, 10 * time.Second, 10 * time.Second},               // the last attempt takes what is left
		{1, 200 * time.Second, 60 * time.Second},              // RequestTimeout caps it
		{1, 1500 * time.Millisecond, 1500 * time.Millisecond}, // half would be under a second
		{2, 2 * time.Second, time.Second},
	}
	for _, tt := range tests {
		if got := c.attemptTimeout(tt.n, tt.left); got != tt.want {
			t.Errorf("attempt %d with %v left: %v, want %v", tt.n, tt.left, got, tt.want)
		}
	}
}

// query_parameters are bounded in count and size, before any request.
func TestQueryParametersBounded(t *testing.T) {
	params := func(n, valueLen int) map[string]string {
		m := make(map[string]string, n)
		for i := range n {
			m["p"+strconv.Itoa(i)] = strings.Repeat("v", valueLen)
		}
		return m
	}
	for name, tt := range map[string]struct {
		params map[string]string
		reason string
	}{
		"10,000 parameters": {params(10000, 1), "10000 parameters, at most 100"},
		"101 parameters":    {params(MaxQueryParameters+1, 1), "at most 100"},
		"too many bytes":    {params(2, MaxQueryParametersBytes/2), "total 16388 bytes, at most 16384"},
	} {
		t.Run(name, func(t *testing.T) {
			c, rc, _ := serve(t, reply{body: okEmpty})
			_, err := c.GetLatestResult(context.Background(), 7, Options{QueryParameters: tt.params})
			var ve *ValidationError
			if !errors.As(err, &ve) || ve.Field != "query_parameters" || !strings.Contains(ve.Reason, tt.reason) {
				t.Fatalf("err = %v, want %q", err, tt.reason)
			}
			if rc.count() != 0 {
				t.Errorf("%d requests sent", rc.count())
			}
			if _, err := c.ExecuteQuery(context.Background(), 7, tt.params, ""); !errors.As(err, &ve) {
				t.Errorf("execute: err = %v", err)
			}
		})
	}
	c, rc, _ := serve(t, reply{body: okEmpty})
	if _, err := c.GetLatestResult(context.Background(), 7, Options{QueryParameters: params(MaxQueryParameters, 100)}); err != nil || rc.count() != 1 {
		t.Fatalf("100 parameters of 100 bytes: %v, %d requests", err, rc.count())
	}
	if got := len(rc.req(0).URL.Query()); got != MaxQueryParameters {
		t.Errorf("%d parameters sent", got)
	}
}
