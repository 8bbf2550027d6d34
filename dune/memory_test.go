package dune_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/faultproxy"
)

// rawPage returns the body the emulator sends for a query's results.
func rawPage(t testing.TB, s *emulator.Server, path string) []byte {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.URL+path, nil)
	req.Header.Set("X-Dune-Api-Key", emulator.DefaultAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	return b
}

// liveHeap returns the heap bytes f's result keeps alive.
func liveHeap(f func() any) (uint64, any) {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	v := f()
	runtime.GC()
	runtime.ReadMemStats(&after)
	return after.HeapAlloc - before.HeapAlloc, v
}

// A 300-column page of 1,000 rows takes at most 2× its JSON in heap once
// decoded (issue 11 measured 3.2×).
func TestWidePageHeapWithinTwiceItsJSON(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under -race")
	}
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(3003, emulator.Wide(1000, 300, 5))
	body := rawPage(t, s, "/api/v1/query/3003/results?limit=1000")
	live, v := liveHeap(func() any {
		res := &dune.Result{}
		if err := dune.DecodeResultForTest(bytes.NewReader(body), res); err != nil {
			t.Fatal(err)
		}
		return res
	})
	res := v.(*dune.Result)
	if len(res.Rows) != 1000 || len(res.Columns) != 300 {
		t.Fatalf("%d rows × %d columns", len(res.Rows), len(res.Columns))
	}
	// Everything the decode allocates bounds its peak heap from above.
	s.Close()
	alloc := allocated(func() {
		r := &dune.Result{}
		if err := dune.DecodeResultForTest(bytes.NewReader(body), r); err != nil {
			t.Fatal(err)
		}
	})
	t.Logf("300-column page: %d bytes of JSON; decoding allocates %d bytes (%.2f×), %d stay live (%.2f×)",
		len(body), alloc, float64(alloc)/float64(len(body)), live, float64(live)/float64(len(body)))
	if ratio := float64(alloc) / float64(len(body)); ratio > 2 {
		t.Errorf("decoding allocates %.2f× the page's JSON", ratio)
	}
	runtime.KeepAlive(res)
}

// allocated returns the bytes f allocates on the heap.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// budgetClient is a client of the emulator behind p with a memory budget.
func budgetClient(p *faultproxy.Proxy, budget int64) *dune.Client {
	return dune.NewClient(dune.Config{BaseURL: p.URL, APIKey: emulator.DefaultAPIKey, MaxUpstreamMemory: budget,
		Retry: dune.RetryPolicy{MaxAttempts: 2, InitialBackoff: 10 * time.Millisecond, MaxElapsed: time.Minute}})
}

// Eight large answers at once stay within the budget: the calls wait in
// line for their share, and every one of them is answered.
func TestMemoryBudgetBoundsConcurrentAnswers(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(1001, emulator.DEXTrades(3000, 7))
	p := faultproxy.New(s.URL)
	defer p.Close()
	const budget = 8 << 20
	c := budgetClient(p, budget)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	bodies := make([]int64, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.GetLatestResult(context.Background(), 1001, dune.Options{Limit: 3000})
			if err == nil && len(res.Rows) != 3000 {
				err = fmt.Errorf("%d rows", len(res.Rows))
			}
			if err == nil {
				bodies[i] = res.BodyBytes
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("call %d: %v", i, err)
		}
	}
	mem := c.MemoryBudget()
	t.Logf("8 answers of %d bytes: peak %d bytes in flight, budget %d", bodies[0], mem.Peak(), mem.Size())
	if mem.Peak() > budget || mem.Peak() < bodies[0] {
		t.Errorf("peak in flight %d, budget %d, one body %d", mem.Peak(), budget, bodies[0])
	}
	// The answers' memory is held until they are collected (or two
	// collections have passed): then nothing is reserved any more.
	dune.SettleForTest(mem)
	if mem.InFlight() != 0 {
		t.Errorf("%d bytes still reserved after every call ended and its answer was collected", mem.InFlight())
	}
}

// The budget is charged what the decoded rows really occupy (as the
// runtime measures the live heap), not their JSON size, and it holds that
// share while the caller has the answer.
func TestBudgetChargedWhatTheAnswerOccupies(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under -race")
	}
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(1001, emulator.DEXTrades(20000, 7))
	s.AddQuery(3003, emulator.Wide(1000, 300, 5))
	for _, q := range []struct {
		id   int64
		rows int
	}{{1001, 20000}, {3003, 1000}} {
		c := dune.NewClient(dune.Config{BaseURL: s.URL, APIKey: emulator.DefaultAPIKey})
		live, v := liveHeap(func() any {
			res, err := c.GetLatestResult(context.Background(), q.id, dune.Options{Limit: q.rows})
			if err != nil || len(res.Rows) != q.rows {
				t.Fatalf("query %d: %v", q.id, err)
			}
			return res
		})
		res := v.(*dune.Result)
		held := c.MemoryBudget().Handed()
		t.Logf("query %d: %d bytes of JSON, %d live in the heap, %d held in the budget (%.2f× live)",
			q.id, res.BodyBytes, live, held, float64(held)/float64(live))
		if float64(held) < 0.85*float64(live) || float64(held) > 1.5*float64(live) {
			t.Errorf("query %d: the budget holds %d bytes for an answer that occupies %d", q.id, held, live)
		}
		if c.MemoryBudget().InFlight() != held {
			t.Errorf("query %d: %d bytes reserved, %d of them held for the answer", q.id, c.MemoryBudget().InFlight(), held)
		}
		runtime.KeepAlive(res)
	}
}

// An answer its caller keeps (a cache has its own bound) does not block the
// budget for ever: a call that needs its share waits for two collections,
// then goes ahead.
func TestKeptAnswerDoesNotBlockTheBudget(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(1001, emulator.DEXTrades(3000, 7))
	p := faultproxy.New(s.URL)
	defer p.Close()
	c := budgetClient(p, 8<<20) // one call's 6 MiB estimate fits; two do not
	kept, err := c.GetLatestResult(context.Background(), 1001, dune.Options{Limit: 3000})
	if err != nil {
		t.Fatal(err)
	}
	held := c.MemoryBudget().Handed()
	if held <= 2<<20 {
		t.Fatalf("%d bytes held for a %d-byte answer", held, kept.BodyBytes)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := c.GetLatestResult(ctx, 1001, dune.Options{Limit: 3000})
	if err != nil || len(res.Rows) != 3000 {
		t.Fatalf("the second call: %v", err)
	}
	if len(kept.Rows) != 3000 {
		t.Errorf("the kept answer has %d rows", len(kept.Rows))
	}
	runtime.KeepAlive(kept)
}

// A call that cannot get its share before its deadline fails with
// ErrMemoryBudget without sending anything.
func TestMemoryBudgetWaitEndsAtTheDeadline(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(1001, emulator.DEXTrades(3000, 7))
	p := faultproxy.New(s.URL)
	defer p.Close()
	p.Inject(faultproxy.Fault{Hang: true})
	c := budgetClient(p, 8<<20)
	holder, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.GetLatestResult(holder, 1001, dune.Options{Limit: 3000}) // reserves 6 MiB, then hangs
		done <- err
	}()
	<-p.Hung
	ctx, stop := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer stop()
	_, err := c.GetLatestResult(ctx, 1001, dune.Options{Limit: 3000})
	if !errors.Is(err, dune.ErrMemoryBudget) {
		t.Errorf("err = %v, want ErrMemoryBudget", err)
	}
	if p.Requests() != 1 {
		t.Errorf("%d requests: the waiting call was sent", p.Requests())
	}
	cancel()
	<-p.Released
	<-done
	if c.MemoryBudget().InFlight() != 0 {
		t.Errorf("%d bytes still reserved", c.MemoryBudget().InFlight())
	}
}

// A body far larger than the request can legitimately return is cut at the
// request's guard (limit × columns × MaxCellBytes + 1 MiB), not read to a
// flat 256 MiB.
func TestHugeBodyRefusedAtTheRequestsGuard(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(1001, emulator.DEXTrades(100, 7))
	p := faultproxy.New(s.URL)
	defer p.Close()
	const huge = 64 << 20
	p.Inject(faultproxy.Fault{Body: func(w io.Writer) error {
		if _, err := io.WriteString(w, `{"query_id":1001,"state":"QUERY_STATE_COMPLETED","padding":"`); err != nil {
			return err
		}
		chunk := bytes.Repeat([]byte("x"), 64<<10)
		for n := 0; n < huge; n += len(chunk) {
			if _, err := w.Write(chunk); err != nil {
				return err
			}
		}
		_, err := io.WriteString(w, `"}`)
		return err
	}})
	c := budgetClient(p, dune.DefaultMaxUpstreamMemory)
	ctx, usage := dune.WithUsage(context.Background())
	_, err := c.GetLatestResult(ctx, 1001, dune.Options{Limit: 10, Columns: []string{"project", "blockchain"}})
	if !errors.Is(err, dune.ErrBodyTooLarge) {
		t.Fatalf("err = %v, want ErrBodyTooLarge", err)
	}
	guard := int64(1<<20 + 10*2*dune.MaxCellBytes)
	if n := usage.Bytes.Load(); n > guard+(64<<10)+1 || n < guard {
		t.Errorf("read %d bytes, guard %d", n, guard)
	}
	if usage.Requests.Load() != 1 {
		t.Errorf("%d requests: a body over the guard is not retried", usage.Requests.Load())
	}
}

// Members the decoder does not know are skipped as they stream in: tens of
// megabytes of them cost almost nothing.
func TestUnknownMembersNeverHeldWhole(t *testing.T) {
	if raceEnabled {
		t.Skip("allocations differ under -race")
	}
	pad := strings.Repeat("y", 24<<20)
	nested := "[" + strings.Repeat(`{"a":[1,"b",null],"c":true},`, 600000) + "0]"
	body := `{"next_uri":"` + pad + `","state":"QUERY_STATE_COMPLETED","result":{"future":` + nested +
		`,"rows":[{"a":1}],"metadata":{"column_names":["a"]}},"update_type":"` + pad + `"}`
	var res dune.Result
	var err error
	alloc := allocated(func() { err = dune.DecodeResultForTest(strings.NewReader(body), &res) })
	if err != nil || len(res.Rows) != 1 {
		t.Fatalf("err = %v, %d rows", err, len(res.Rows))
	}
	t.Logf("%d bytes of unknown members: %d bytes allocated", len(body), alloc)
	if alloc > 1<<20 {
		t.Errorf("allocated %d bytes for %d bytes of unknown members", alloc, len(body))
	}
}

// One answer whose decoded rows need more than the whole budget is still
// read when it is alone: it may use the budget, all of it, but never waits
// for more than that (which would be waiting for itself).
func TestOneAnswerLargerThanTheBudgetAloneSucceeds(t *testing.T) {
	s := emulator.NewServer(emulator.WithMaxPageSize(10000))
	defer s.Close()
	s.AddQuery(1001, emulator.DEXTrades(10000, 7))
	p := faultproxy.New(s.URL)
	defer p.Close()
	const budget = 10 << 20
	c := dune.NewClient(dune.Config{BaseURL: p.URL, APIKey: emulator.DefaultAPIKey, MaxUpstreamMemory: budget})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	res, err := c.GetLatestResult(ctx, 1001, dune.Options{Limit: 10000})
	if err != nil || len(res.Rows) != 10000 {
		t.Fatalf("err = %v", err)
	}
	if res.BodyBytes >= budget {
		t.Fatalf("the body (%d bytes) does not fit the budget: the test needs a smaller page", res.BodyBytes)
	}
	mem := c.MemoryBudget()
	t.Logf("%d bytes of JSON under a budget of %d: %d bytes held", res.BodyBytes, budget, mem.Handed())
	if mem.Handed() != budget {
		t.Errorf("%d bytes held, want the whole budget (%d): the decoded rows need more", mem.Handed(), budget)
	}
	runtime.KeepAlive(res)
}
