package tools

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/later"
	"github.com/dune-mcp/dune-mcp/internal/redisconn"
	"github.com/dune-mcp/dune-mcp/internal/redistest"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// replicas are Toolsets on one emulator and one Redis, with one cursor
// secret: the replicas of a team deployment, in process.
func replicas(t *testing.T, n int, emu *emulator.Server, url string, set func(*Config)) []*env {
	t.Helper()
	out := make([]*env, n)
	for i := range out {
		conn, err := redisconn.Open(context.Background(), url, redisconn.Options{Logger: zerolog.Nop(), RetryAfter: time.Nanosecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		out[i] = newEnvConfig(t, emu, emulator.DefaultAPIKey, func(c *Config) {
			c.SharedCache, c.SharedRuns = conn, conn
			if set != nil {
				set(c)
			}
		})
	}
	return out
}

// lastLog is the last "tool call" log line of e.
func lastLog(t *testing.T, e *env) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(e.logs.String()), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("log line %q: %v", lines[len(lines)-1], err)
	}
	return m
}

func TestSharedCacheServesAnotherReplicasRows(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		srv := redistest.StartKind(t, k)
		emu := emulator.NewServer()
		t.Cleanup(emu.Close)
		emu.AddQuery(5, emulator.DEXTrades(5000, 5))
		r := replicas(t, 2, emu, srv.URL(), nil)

		first := r[0].callExact(t, schemas.GetLatestResult, map[string]any{"query_id": 5, "max_tokens": 2000})
		checkBudget(t, first, 2000)
		a := r[0].callExact(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
		before := emu.Stats().Requests

		// The same cursor on the other replica: the rows replica 0 fetched
		// (shown, and fetched but not shown), no request to Dune, 0 datapoints.
		b := r[1].callExact(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
		checkBudget(t, b, 2000)
		if n := emu.Stats().Requests - before; n != 0 {
			t.Errorf("re-read on another replica made %d upstream requests", n)
		}
		if b.S.Datapoints != 0 || !strings.Contains(b.Text, "page cache (0 datapoints)") {
			t.Errorf("re-read datapoints %d; text does not say it came from the cache:\n%s", b.S.Datapoints, b.Text)
		}
		if mustJSON(a.S.Rows) != mustJSON(b.S.Rows) || a.S.Offset != b.S.Offset || a.S.ExecutionID != b.S.ExecutionID {
			t.Error("the other replica served different rows")
		}
		if m := lastLog(t, r[1]); m["cache"] != "shared" || m["from_cache"] != true {
			t.Errorf("log line %v: want cache shared, from_cache true", m)
		}
		if st := r[1].ts.CacheStats(); st.SharedHits == 0 {
			t.Errorf("replica 1 stats %+v: no shared hit", st)
		}
		// Replica 1 keeps what it read from the shared cache: a re-read there is local.
		r[1].callExact(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
		if m := lastLog(t, r[1]); m["cache"] != "local" {
			t.Errorf("second re-read on replica 1: log %v, want cache local", m)
		}
	})
}

func TestSharedChunkRoundTripsValuesExactly(t *testing.T) {
	end := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	head := &dune.Result{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1", QueryID: 9, State: dune.StateCompleted,
		SubmittedAt: end.Add(-time.Minute), ExpiresAt: end.Add(90 * 24 * time.Hour), ExecutionEndedAt: &end,
		Columns: []dune.Column{{Name: "a", Type: "varchar"}, {Name: "b", Type: "uint256"}}, HasResult: true}
	rows := []dune.Row{
		{"text with \"quotes\" and ünïcode", json.Number("115792089237316195423570985008687907853269984665640564039457584007913129639935")},
		{nil, json.Number("-1.5e-7")},
		{[]any{"x", json.Number("1"), nil}, map[string]any{"k": []any{true, false}}},
	}
	ds := emulator.DEXTrades(200, 3)
	for i := range 200 {
		rows = append(rows, ds.Row(i))
	}
	in := &chunk{head: head, Total: 1000, Start: 40, Rows: rows}
	b, err := encodeChunk(in)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := json.Marshal(rows)
	if len(b) >= len(plain)/2 {
		t.Errorf("entry is %d bytes for %d bytes of JSON rows: not compressed", len(b), len(plain))
	}
	out, err := decodeChunk(b, 40)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(out.Rows, in.Rows) || out.Total != 1000 || out.Start != 40 {
		t.Errorf("rows or position changed in the round trip")
	}
	if out.head.ExecutionID != head.ExecutionID || !out.head.ExpiresAt.Equal(head.ExpiresAt) || !out.head.ExecutionEndedAt.Equal(end) ||
		!reflect.DeepEqual(out.head.Columns, head.Columns) || out.head.State != head.State {
		t.Errorf("head changed: %+v", out.head)
	}
	if _, err := decodeChunk(b, 41); err == nil {
		t.Error("an entry for row 40 was accepted for row 41")
	}
	if _, err := decodeChunk([]byte("not deflate"), 40); err == nil {
		t.Error("garbage decoded")
	}
}

func TestSharedWalkAcrossReplicasFetchesEachRowOnce(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		if raceEnabled {
			t.Skip("165 tokenised pages are slow under -race; e2e's TestClusterWalkFetchesEachRowOnce walks 100,000 rows across 3 binaries")
		}
		srv := redistest.StartKind(t, k)
		emu := emulator.NewServer()
		t.Cleanup(emu.Close)
		ds := emulator.DEXTrades(3000, 12)
		emu.AddQuery(12, ds)
		r := replicas(t, 3, emu, srv.URL(), nil)
		delivered, calls := walkAlternating(t, r, 12, ds, 8000)
		st := emu.Stats()
		t.Logf("walk over 3 replicas: %d calls, %d upstream requests, %d rows upstream for %d delivered", calls, st.Requests, st.RowsServed, delivered)
		if st.RowsServed != delivered {
			t.Errorf("fetched %d rows upstream for %d delivered, want each row once", st.RowsServed, delivered)
		}
	})
}

// walkAlternating walks query id from the first page to the last, each call
// on the next replica, checks every row against ds, and returns the rows
// delivered and the calls made.
func walkAlternating(t *testing.T, r []*env, id int64, ds *emulator.Dataset, budget int) (delivered, calls int) {
	t.Helper()
	res := r[0].callExact(t, schemas.GetLatestResult, map[string]any{"query_id": id, "max_tokens": budget})
	for calls = 1; ; calls++ {
		if res.IsError || res.S.Offset != delivered {
			t.Fatalf("call %d: offset %d, want %d: %s", calls, res.S.Offset, delivered, res.Text)
		}
		for i, row := range res.S.Rows {
			if got, want := mustJSON(row), mustJSON(ds.Row(delivered+i)); got != want {
				t.Fatalf("row %d differs:\n got %s\nwant %s", delivered+i, got, want)
			}
		}
		delivered += res.S.ReturnedRows
		if res.S.NextCursor == "" {
			break
		}
		res = r[calls%len(r)].callExact(t, schemas.NextPage, map[string]any{"cursor": res.S.NextCursor})
	}
	if delivered != ds.Len() {
		t.Fatalf("delivered %d rows, want %d", delivered, ds.Len())
	}
	return delivered, calls
}

func TestRedisDownServesInProcessThenShares(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		srv := redistest.StartKind(t, k)
		emu := emulator.NewServer()
		t.Cleanup(emu.Close)
		emu.AddQuery(5, emulator.DEXTrades(3000, 5))
		r := replicas(t, 2, emu, srv.URL(), nil)

		srv.Stop()
		first := r[0].callExact(t, schemas.GetLatestResult, map[string]any{"query_id": 5, "max_tokens": 2000})
		checkBudget(t, first, 2000)
		before := emu.Stats().Requests
		b := r[1].callExact(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
		checkBudget(t, b, 2000) // not an error: fetched from Dune instead
		if n := emu.Stats().Requests - before; n == 0 || b.S.Datapoints == 0 {
			t.Errorf("with Redis down, the other replica claims a shared hit (%d requests, %d datapoints)", n, b.S.Datapoints)
		}
		if b.S.Offset != first.S.ReturnedRows || b.S.ReturnedRows == 0 {
			t.Errorf("page at %d with %d rows, want offset %d", b.S.Offset, b.S.ReturnedRows, first.S.ReturnedRows)
		}
		// Replica 0 still serves its own rows from its in-process cache.
		before = emu.Stats().Requests
		r[0].callExact(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
		if n := emu.Stats().Requests - before; n != 0 {
			t.Errorf("in-process re-read made %d requests with Redis down", n)
		}

		srv.Start()
		// go-redis probes a dead address once a second (its own wall-clock
		// schedule, not ours to inject): retry until a page replica 0 stores
		// reaches replica 1. The bound only stops a hang.
		deadline := time.Now().Add(time.Minute)
		for {
			p := r[0].callExact(t, schemas.GetLatestResult, map[string]any{"query_id": 5, "max_tokens": 1500})
			before = emu.Stats().Requests
			q := r[1].callExact(t, schemas.NextPage, map[string]any{"cursor": p.S.NextCursor})
			if !q.IsError && emu.Stats().Requests == before {
				break // shared again
			}
			if time.Now().After(deadline) {
				t.Fatal("Redis is back, yet replicas do not share pages after a minute")
			}
			<-time.After(100 * time.Millisecond)
		}
	})
}

func TestSharedExecutionRunsOnceAcrossReplicas(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		srv := redistest.StartKind(t, k)
		clk := clock.NewJump(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
		emu := emulator.NewServer(emulator.WithClock(clk.Now))
		t.Cleanup(emu.Close)
		emu.AddExecution(7, emulator.Execution{Dataset: emulator.DEXTrades(500, 7), EndedAt: clk.Now().Add(-30 * time.Hour)})
		emu.SetProfile(7, emulator.Profile{Queue: 4 * time.Second, QueuePositions: 2, Run: 10 * time.Second,
			Dataset: func(map[string]string) *emulator.Dataset { return emulator.DEXTrades(300, 77) }})
		// Each replica's execute request takes a while, so that both decide to
		// run the query before either has an execution id.
		emu.InjectFault(emulator.Fault{Latency: 300 * time.Millisecond, Path: emulator.EndpointExecute})
		r := replicas(t, 3, emu, srv.URL(), func(c *Config) { c.Clock = clk })

		var wg sync.WaitGroup
		res := make([]result, len(r))
		for i := range r {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = r[i].callExact(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 24})
			}()
		}
		wg.Wait()
		executed := 0
		for i, x := range res {
			if x.IsError || x.S.ExecutionID != res[0].S.ExecutionID || x.S.Total != 300 {
				t.Errorf("replica %d: error %v, execution %s (replica 0: %s), total %d: %s", i, x.IsError, x.S.ExecutionID, res[0].S.ExecutionID, x.S.Total, x.Text)
			}
			if x.S.Executed {
				executed++
			}
		}
		if n := emu.Stats().Executions; n != 1 || executed != 1 {
			t.Errorf("%d executions, %d results say executed; want 1 and 1", n, executed)
		}

		// Later, with the run finished and older than asked: a new run, once.
		clk.Advance(2 * time.Hour)
		x := r[1].callExact(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 1})
		if x.IsError || !x.S.Executed || x.S.ExecutionID == res[0].S.ExecutionID || emu.Stats().Executions != 2 {
			t.Errorf("stale shared run: executed %v, execution %s (old %s), %d executions; %s", x.S.Executed, x.S.ExecutionID, res[0].S.ExecutionID, emu.Stats().Executions, x.Text)
		}
	})
}

func TestSharedCacheKeyIsPerKeyAndView(t *testing.T) {
	v := view{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1", Columns: []string{"a"}, Filters: "a > 1", KeyFP: keyFP{1}}
	keys := map[string]string{}
	for name, w := range map[string]view{
		"base":     v,
		"other fp": func() view { w := v; w.KeyFP = keyFP{2}; return w }(),
		"columns":  func() view { w := v; w.Columns = []string{"a", "b"}; return w }(),
		"filters":  func() view { w := v; w.Filters = "a > 2"; return w }(),
		"sort":     func() view { w := v; w.SortBy = "a"; return w }(),
		"partial":  func() view { w := v; w.Partial = true; return w }(),
	} {
		k := sharedKey(w, 10)
		if prev, dup := keys[k]; dup {
			t.Errorf("%s and %s share key %s", name, prev, k)
		}
		keys[k] = name
		if strings.Contains(k, "a > 1") || !strings.HasPrefix(k, sharedKeyPrefix) || !strings.HasSuffix(k, ":10") {
			t.Errorf("key %q", k)
		}
	}
	if sharedKey(v, 10) == sharedKey(v, 11) {
		t.Error("start row is not part of the key")
	}
}

func TestSharedExecutionFailedRequestLetsAnotherRun(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		srv := redistest.StartKind(t, k)
		clk := clock.NewJump(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
		emu := emulator.NewServer(emulator.WithClock(clk.Now))
		t.Cleanup(emu.Close)
		emu.AddExecution(7, emulator.Execution{Dataset: emulator.DEXTrades(500, 7), EndedAt: clk.Now().Add(-30 * time.Hour)})
		emu.SetProfile(7, emulator.Profile{Run: 5 * time.Second, Dataset: func(map[string]string) *emulator.Dataset { return emulator.DEXTrades(300, 77) }})
		// The first execute request is slow, then refused (402): the replica
		// that sent it fails; the claim it held must not keep the others from
		// running the query.
		emu.InjectFault(emulator.Fault{Status: 402, Latency: 300 * time.Millisecond, Path: emulator.EndpointExecute})
		r := replicas(t, 3, emu, srv.URL(), func(c *Config) { c.Clock = clk })

		var wg sync.WaitGroup
		res := make([]result, len(r))
		for i := range r {
			wg.Add(1)
			go func() {
				defer wg.Done()
				res[i] = r[i].callExact(t, schemas.GetLatestResult, map[string]any{"query_id": 7, "max_age_hours": 24})
			}()
		}
		wg.Wait()
		var failed, ok []result
		for _, x := range res {
			if x.IsError {
				failed = append(failed, x)
			} else {
				ok = append(ok, x)
			}
		}
		if len(failed) != 1 || len(ok) != 2 || ok[0].S.ExecutionID != ok[1].S.ExecutionID || ok[0].S.Total != 300 {
			t.Fatalf("%d failed, %d succeeded (want 1 and 2, one execution): %+v", len(failed), len(ok), res)
		}
		if n := emu.Stats().Executions; n != 1 {
			t.Errorf("%d executions, want 1", n)
		}
	})
}

// BenchmarkSharedChunk measures what the shared tier adds per chunk: 200
// DEX rows (22 columns) encoded (JSON, deflated) on put and decoded on a
// shared hit.
func BenchmarkSharedChunk(b *testing.B) {
	ds := emulator.DEXTrades(200, 3)
	rows := make([]dune.Row, ds.Len())
	for i := range rows {
		rows[i] = ds.Row(i)
	}
	ch := &chunk{head: &dune.Result{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1", Columns: ds.Columns}, Total: 1000, Start: 0, Rows: rows}
	enc, err := encodeChunk(ch)
	if err != nil {
		b.Fatal(err)
	}
	plain, _ := json.Marshal(rows)
	b.Run("encode", func(b *testing.B) {
		for b.Loop() {
			if _, err := encodeChunk(ch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(len(enc)), "bytes/entry")
		b.ReportMetric(float64(len(plain)), "json-bytes")
	})
	b.Run("decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := decodeChunk(enc, 0); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// A lookup waits for a page set aside to reach this process's tier, not
// for its write to the shared tier: with Redis stopped mid-write, the rows
// are found at once, and the write ends on its own.
func TestLookupDoesNotWaitForTheSharedWrite(t *testing.T) {
	srv := redistest.Start(t)
	conn, err := redisconn.Open(context.Background(), srv.URL(), redisconn.Options{Logger: zerolog.Nop(), RetryAfter: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	p := newPages(1<<30, conn)
	v := view{ExecutionID: "01HW"}
	ch := &chunk{head: &dune.Result{ExecutionID: "01HW"}, Start: 0, Total: 100, Rows: rowsOf(60, 2)}
	ctx, answered := later.With(context.Background(), func(r any) { t.Errorf("panicked: %v", r) })
	p.storeAside(ctx, v, ch, 10, func(r any) { t.Errorf("the store panicked: %v", r) })
	srv.Pause() // the shared tier's write hangs until its timeout
	t.Cleanup(srv.Resume)
	stored := make(chan struct{})
	go func() {
		answered()
		close(stored)
	}()
	got, tier := p.collect(v, 10, 50)
	if got == nil || len(got.Rows) != 50 || tier != tierLocal {
		t.Fatalf("lookup during the shared write: %v rows from tier %q, want 50 from %q", got, tier, tierLocal)
	}
	select {
	case <-stored:
		t.Fatal("the shared write had already ended: the lookup may have waited for it")
	default:
	}
	srv.Resume()
	select {
	case <-stored:
	case <-time.After(10 * time.Second):
		t.Fatal("the store set aside never ended")
	}
}
