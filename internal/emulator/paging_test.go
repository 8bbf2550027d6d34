package emulator_test

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// TestWalkDEXByNextOffset walks the 100,000-row DEX result with plain
// net/http, following next_offset under the default 30,000-row cap, and
// checks every row comes exactly once, in order.
func TestWalkDEXByNextOffset(t *testing.T) {
	s := emulator.NewServer(emulator.WithDemoData())
	defer s.Close()
	ds := emulator.DEXTrades(100000, 1001)
	const hash = 20 // tx_hash column
	if ds.Columns[hash].Name != "tx_hash" {
		t.Fatal("tx_hash column moved")
	}
	seen := make(map[string]bool, ds.Len())
	var sizes []int
	offset, eid := 0, ""
	for {
		path := "/api/v1/query/1001/results?limit=50000&columns=tx_hash,block_time"
		if eid != "" {
			path = "/api/v1/execution/" + eid + "/results?limit=50000&columns=tx_hash,block_time&offset=" + strconv.Itoa(offset)
		}
		p := get(t, s, path).page(t)
		eid = p.ExecutionID
		md := p.Result.Metadata
		if md.TotalRowCount != 100000 || md.RowCount != len(p.Result.Rows) || md.DatapointCount != 2*md.RowCount {
			t.Fatalf("offset %d: metadata %+v", offset, md)
		}
		for k, row := range p.Result.Rows {
			h := row["tx_hash"].(string)
			if seen[h] {
				t.Fatalf("row %s served twice", h)
			}
			seen[h] = true
			if k%97 == 0 || k == len(p.Result.Rows)-1 { // spot-check order (uniqueness covers the rest)
				if want := ds.Row(offset + k)[hash]; h != want {
					t.Fatalf("row %d = %s, want %s", offset+k, h, want)
				}
			}
		}
		sizes = append(sizes, len(p.Result.Rows))
		if p.NextOffset == nil {
			if p.NextURI != nil {
				t.Fatal("next_uri without next_offset")
			}
			break
		}
		if *p.NextOffset != offset+len(p.Result.Rows) || p.NextURI == nil {
			t.Fatalf("next_offset %d after offset %d + %d rows", *p.NextOffset, offset, len(p.Result.Rows))
		}
		offset = *p.NextOffset
	}
	if len(seen) != 100000 || !slices.Equal(sizes, []int{30000, 30000, 30000, 10000}) {
		t.Fatalf("walk: %d rows in pages %v", len(seen), sizes)
	}
}

func TestMaxPageAndFollowNextURI(t *testing.T) {
	s := emulator.NewServer(emulator.WithMaxPageSize(40))
	defer s.Close()
	ds := emulator.DailySeries(100, 3)
	s.AddQuery(5, ds)
	// no limit: the cap; limit above the cap: the cap, silently
	for _, path := range []string{"/api/v1/query/5/results", "/api/v1/query/5/results?limit=1000"} {
		p := get(t, s, path).page(t)
		if len(p.Result.Rows) != 40 || *p.NextOffset != 40 || !strings.Contains(*p.NextURI, "limit=40&offset=40") {
			t.Errorf("%s: %d rows, next %v", path, len(p.Result.Rows), *p.NextURI)
		}
	}
	// follow next_uri (absolute, on this server) to the end
	next := s.URL + "/api/v1/query/5/results?limit=30&sort_by=volume_usd%20desc"
	var days []string
	for next != "" {
		if !strings.HasPrefix(next, s.URL+"/api/v1/") {
			t.Fatalf("next_uri %q not rooted at %s", next, s.URL)
		}
		p := do(t, next, map[string]string{"X-Dune-Api-Key": emulator.DefaultAPIKey}).page(t)
		for _, r := range p.Result.Rows {
			days = append(days, r["day"].(string))
		}
		next = ""
		if p.NextURI != nil {
			next = *p.NextURI
		}
	}
	_, want, _, err := emulator.Evaluate(ds, dune.Options{SortBy: "volume_usd desc", Limit: 1000}, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 100 {
		t.Fatalf("followed next_uri to %d rows", len(days))
	}
	for i := range days {
		if days[i] != want[i][0] {
			t.Fatalf("row %d = %s, want %s", i, days[i], want[i][0])
		}
	}
}

func TestNextURIFormat(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	eid := s.AddQuery(3, emulator.DEXTrades(200, 1))
	q := url.Values{}
	q.Set("columns", "block_time,tx_from,tx_to,tx_hash,amount_usd")
	q.Set("filters", "block_time > '2024-03-01'")
	q.Set("limit", "10")
	p := get(t, s, "/api/v1/query/3/results?"+q.Encode()).page(t)
	// the fixture's next_uri, re-rooted at the emulator
	want := s.URL + "/api/v1/execution/" + eid + "/results?columns=block_time%2Ctx_from%2Ctx_to%2Ctx_hash%2Camount_usd&filters=block_time+%3E+%272024-03-01%27&limit=10&offset=10"
	if p.NextURI == nil || *p.NextURI != want {
		t.Fatalf("next_uri =\n%v\nwant\n%s", *p.NextURI, want)
	}
	if *p.NextOffset != 10 {
		t.Errorf("next_offset = %d", *p.NextOffset)
	}
	// sort_by, allow_partial_results, the ignore flag and the CSV endpoint; no api_key
	r := do(t, s.URL+"/api/v1/query/3/results/csv?api_key="+emulator.DefaultAPIKey+"&sort_by=amount_usd%20desc,%20block_time&limit=5&offset=5&allow_partial_results=true&ignore_max_datapoints_per_request=true", nil)
	got := r.Header.Get("X-Dune-Next-Uri")
	want = s.URL + "/api/v1/execution/" + eid + "/results/csv?allow_partial_results=true&ignore_max_datapoints_per_request=true&limit=5&offset=10&sort_by=amount_usd+desc%2C+block_time"
	if got != want || r.Header.Get("X-Dune-Next-Offset") != "10" {
		t.Fatalf("X-Dune-Next-Uri =\n%s\nwant\n%s", got, want)
	}
	// the uri follows to the same rows as the equivalent offset request
	viaURI := do(t, strings.Replace(got, "/csv?", "/csv?api_key="+emulator.DefaultAPIKey+"&", 1), nil)
	direct := get(t, s, "/api/v1/execution/"+eid+"/results/csv?sort_by=amount_usd%20desc,%20block_time&limit=5&offset=10")
	if string(viaURI.Body) != string(direct.Body) {
		t.Errorf("next_uri page differs from offset page")
	}
	// last page: no next_*
	m := get(t, s, "/api/v1/query/3/results?limit=100&offset=100").object(t)
	if _, ok := m["next_uri"]; ok {
		t.Error("next_uri on the last page")
	}
	if _, ok := m["next_offset"]; ok {
		t.Error("next_offset on the last page")
	}
}

func TestOffsetPastEnd(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(3, emulator.Tiny())
	r := get(t, s, "/api/v1/query/3/results?offset=10&limit=5")
	p := r.page(t)
	md := p.Result.Metadata
	if p.Result.Rows == nil || len(p.Result.Rows) != 0 || md.RowCount != 0 || md.DatapointCount != 0 || md.TotalRowCount != 3 || p.NextURI != nil || p.NextOffset != nil {
		t.Errorf("past end: %s", r.Body)
	}
	if !strings.Contains(string(r.Body), `"rows":[]`) {
		t.Errorf("rows must be [] not null: %s", r.Body)
	}
	for _, bad := range []string{"offset=-1", "limit=-5", "limit=abc", "offset=1.5"} {
		if r := get(t, s, "/api/v1/query/3/results?"+bad); r.Status != 400 {
			t.Errorf("%s: status %d", bad, r.Status)
		}
	}
}

func TestColumns(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(3, emulator.NewDataset("special", []dune.Column{{Name: "a", Type: "bigint"}, {Name: "special, column", Type: "varchar"}, {Name: "b", Type: "varchar"}},
		[]dune.Row{{json.Number("1"), "x", "y"}}))
	p := get(t, s, "/api/v1/query/3/results?columns="+url.QueryEscape(`b,"special, column", a`)).page(t)
	md := p.Result.Metadata
	if !slices.Equal(md.ColumnNames, []string{"b", "special, column", "a"}) || !slices.Equal(md.ColumnTypes, []string{"varchar", "varchar", "bigint"}) || md.DatapointCount != 3 {
		t.Errorf("columns = %v %v dp %d", md.ColumnNames, md.ColumnTypes, md.DatapointCount)
	}
	if len(p.Result.Rows[0]) != 3 || p.Result.Rows[0]["special, column"] != "x" {
		t.Errorf("row = %v", p.Result.Rows[0])
	}
	p = get(t, s, "/api/v1/query/3/results?columns=%22a%22").page(t)
	if !slices.Equal(p.Result.Metadata.ColumnNames, []string{"a"}) || len(p.Result.Rows[0]) != 1 {
		t.Errorf("quoted column: %v", p.Result.Metadata.ColumnNames)
	}
	for _, bad := range []string{"columns=a,nope", "columns=a,,b", "columns=a,a", `columns=%22a`} {
		if r := get(t, s, "/api/v1/query/3/results?"+bad); r.Status != 400 {
			t.Errorf("%s: status %d", bad, r.Status)
		}
	}
}

func TestFiltersAndSort(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	ds := emulator.DEXTrades(3000, 5)
	s.AddQuery(3, ds)
	cases := []dune.Options{
		{Filters: "blockchain = 'base' AND amount_usd > 100"},
		{Filters: "token_bought_symbol IS NULL OR project IN ('curve', 'balancer')", Columns: []string{"project", "token_bought_symbol"}},
		{SortBy: "amount_usd desc, block_time", Limit: 50, Offset: 100},
		{SortBy: "blockchain", Filters: "block_time >= '2024-06-29'"},
	}
	for _, o := range cases {
		p := get(t, s, "/api/v1/query/3/results?"+o.QueryString()).page(t)
		cols, rows, total, err := emulator.Evaluate(ds, o, 0)
		if err != nil {
			t.Fatal(err)
		}
		if total == 0 || total == ds.Len() && o.Filters != "" {
			t.Errorf("%+v: filter selects %d of %d rows, a useless case", o, total, ds.Len())
		}
		if p.Result.Metadata.TotalRowCount != total || len(p.Result.Rows) != len(rows) {
			t.Fatalf("%+v: server %d/%d rows, Evaluate %d/%d", o, len(p.Result.Rows), p.Result.Metadata.TotalRowCount, len(rows), total)
		}
		for i, r := range rows {
			for j, c := range cols {
				if got := p.Result.Rows[i][c.Name]; got != r[j] {
					t.Fatalf("%+v: row %d %s = %v, want %v", o, i, c.Name, got, r[j])
				}
			}
		}
	}
	// sort semantics: desc with NULLs last, stable ties
	_, rows, _, _ := emulator.Evaluate(ds, dune.Options{SortBy: "amount_usd desc", Columns: []string{"amount_usd"}}, 5000)
	prev, nulls := 1e300, false
	for _, r := range rows {
		if r[0] == nil {
			nulls = true
			continue
		}
		if nulls {
			t.Fatal("non-NULL after NULL")
		}
		v, _ := r[0].(json.Number).Float64()
		if v > prev {
			t.Fatal("amount_usd not descending")
		}
		prev = v
	}
	if !nulls {
		t.Fatal("no NULL amount_usd in the dataset")
	}
	_, rows, _, _ = emulator.Evaluate(ds, dune.Options{SortBy: "blockchain", Columns: []string{"blockchain", "block_time"}}, 5000)
	for i := 1; i < len(rows); i++ {
		if rows[i][0] == rows[i-1][0] && rows[i][1].(string) > rows[i-1][1].(string) {
			t.Fatalf("sort not stable at %d", i)
		}
	}
	// bad expressions: 400 with the parser's message
	bad := map[string]string{
		"filters=" + url.QueryEscape("amount_usd >"):         "filters: unexpected end of input at position 13",
		"filters=" + url.QueryEscape("project NOT IN ('x')"): "NOT",
		"filters=" + url.QueryEscape("nope = 1"):             `unknown column "nope"`,
		"sort_by=" + url.QueryEscape("amount_usd sideways"):  "sort_by: unexpected identifier \"sideways\" at position 12",
		"columns=nope": `columns: unknown column "nope"; available: amount_usd, block_date,`,
	}
	for q, want := range bad {
		r := get(t, s, "/api/v1/query/3/results?"+q)
		if r.Status != 400 {
			t.Errorf("%s: status %d", q, r.Status)
			continue
		}
		if msg := r.object(t)["error"].(string); !strings.Contains(msg, want) {
			t.Errorf("%s: message %q, want it to contain %q", q, msg, want)
		}
	}
}

func TestSampling(t *testing.T) {
	ds := emulator.DEXTrades(20000, 3)
	s1 := emulator.NewServer(emulator.WithSeed(7), emulator.WithDemoData())
	defer s1.Close()
	s2 := emulator.NewServer(emulator.WithSeed(7))
	defer s2.Close()
	s1.AddQuery(1, ds)
	s2.AddQuery(1, ds)
	path := "/api/v1/query/1/results?sample_count=1000&columns=tx_hash,amount_usd&sort_by=amount_usd%20desc"
	a, b := get(t, s1, path).page(t), get(t, s2, path).page(t)
	n := len(a.Result.Rows)
	if n < 850 || n > 1150 || a.Result.Metadata.TotalRowCount != 20000 || a.NextURI != nil || a.NextOffset != nil {
		t.Fatalf("sample: %d rows, total %d", n, a.Result.Metadata.TotalRowCount)
	}
	if len(b.Result.Rows) != n || b.Result.Rows[0]["tx_hash"] != a.Result.Rows[0]["tx_hash"] {
		t.Error("same seed, different samples")
	}
	c := get(t, s1, path).page(t) // the next request differs
	if len(c.Result.Rows) == n && c.Result.Rows[0]["tx_hash"] == a.Result.Rows[0]["tx_hash"] {
		t.Error("two requests gave the same sample")
	}
	// sorted within the sample, NULLs last
	last := a.Result.Rows[n-1]["amount_usd"]
	if first := a.Result.Rows[0]["amount_usd"]; first == nil || last != nil {
		t.Errorf("sample not sorted: first %v last %v", first, last)
	}
	// sample_count >= total: every row
	if p := get(t, s1, "/api/v1/query/1005/results?sample_count=10").page(t); len(p.Result.Rows) != 3 {
		t.Errorf("oversampling tiny: %d rows", len(p.Result.Rows))
	}
	for _, bad := range []string{"sample_count=10&limit=5", "sample_count=10&offset=5", "sample_count=10&filters=rank%3D1", "sample_count=0", "sample_count=x"} {
		if r := get(t, s1, "/api/v1/query/1005/results?"+bad); r.Status != 400 {
			t.Errorf("%s: status %d", bad, r.Status)
		}
	}
	if _, _, _, err := emulator.Evaluate(emulator.Tiny(), dune.Options{SampleCount: 2, Limit: 1}, 0); err == nil {
		t.Error("Evaluate accepted sample_count with limit")
	}
}

func TestCSV(t *testing.T) {
	s := emulator.NewServer(emulator.WithMaxPageSize(7))
	defer s.Close()
	ds := emulator.LongText(10, 2)
	s.AddQuery(3, ds)
	s.AddQuery(4, emulator.Tiny())
	// pages repeat the header; quoting round-trips text with commas, quotes and newlines
	var all [][]string
	next := s.URL + "/api/v1/query/3/results/csv"
	pages := 0
	for next != "" {
		r := do(t, next, map[string]string{"X-Dune-Api-Key": emulator.DefaultAPIKey})
		if r.Status != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv: %d %s", r.Status, r.Header.Get("Content-Type"))
		}
		recs, err := csv.NewReader(strings.NewReader(string(r.Body))).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(recs[0], []string{"id", "title", "body", "word_count", "created_at"}) {
			t.Fatalf("page %d header = %v", pages, recs[0])
		}
		if !strings.HasSuffix(string(r.Body), "\n") || strings.Contains(string(r.Body), "\r\n") {
			t.Error("csv line endings")
		}
		all = append(all, recs[1:]...)
		pages++
		next = r.Header.Get("X-Dune-Next-Uri")
		if next != "" && !strings.Contains(next, "/results/csv?") {
			t.Fatalf("next uri %s", next)
		}
	}
	if pages != 2 || len(all) != 10 {
		t.Fatalf("%d pages, %d rows", pages, len(all))
	}
	for i, rec := range all {
		if rec[2] != ds.Row(i)[2] {
			t.Fatalf("row %d body does not round-trip", i)
		}
	}
	// NULL is an empty field, numbers as JSON writes them
	r := get(t, s, "/api/v1/query/4/results/csv?columns=project,volume_usd")
	if string(r.Body) != "project,volume_usd\nuniswap,1523432187.25\npancakeswap,811209334.5\ncurve,\n" {
		t.Errorf("tiny csv = %q", r.Body)
	}
	// the TS e2e shape: limit and offset
	if r := get(t, s, "/api/v1/query/4/results/csv?columns=rank&limit=1&offset=2"); string(r.Body) != "rank\n3\n" || r.Header.Get("X-Dune-Next-Uri") != "" {
		t.Errorf("limit/offset csv = %q", r.Body)
	}
	if r := get(t, s, "/api/v1/query/4/results/csv?columns=nope"); r.Status != http.StatusBadRequest {
		t.Errorf("bad columns csv: %d", r.Status)
	}
}
