package dune_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// Memory of large answers (issue 11): one 100 MB answer, eight at once.
// The body is built once by the emulator and then served from memory, so
// that the heap measured is the client's.

const bigRows = 115000 // DEX trades rows: about 100 MB of JSON

var (
	bigOnce sync.Once
	bigFile string // the body, on disk
	bigSize int64
	bigErr  error
)

// bigPage returns the path and size of a file holding the emulator's body
// for bigRows DEX trades (query 1001). The body is kept on disk, not in the
// heap, so that the heap measured is the client's alone, as in production
// (where the answer comes from another process).
func bigPage(tb testing.TB) (string, int64) {
	bigOnce.Do(func() {
		s := emulator.NewServer(emulator.WithMaxPageSize(bigRows))
		defer s.Close()
		s.AddQuery(1001, emulator.DEXTrades(bigRows, 7))
		body := rawPage(tb, s, "/api/v1/query/1001/results?limit=115000")
		dir, err := os.MkdirTemp("", "dune-bigpage")
		if err != nil {
			bigErr = err
			return
		}
		bigFile, bigSize = filepath.Join(dir, "page.json"), int64(len(body))
		bigErr = os.WriteFile(bigFile, body, 0o600)
	})
	if bigErr != nil {
		tb.Fatal(bigErr)
	}
	return bigFile, bigSize
}

// TestMain removes the big page's file (bigPage) once every test and
// benchmark has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if bigFile != "" {
		_ = os.RemoveAll(filepath.Dir(bigFile))
	}
	os.Exit(code)
}

// serveFile answers every request with the file at path, streamed from
// disk.
func serveFile(tb testing.TB, path string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, err := os.Open(path)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer f.Close()
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.Copy(w, f)
	}))
	tb.Cleanup(srv.Close)
	return srv
}

// heapPeak runs f while sampling the heap's object bytes (live and not yet
// swept, as runtime/metrics reports them), and returns the peak growth over
// the heap before f.
func heapPeak(f func()) uint64 {
	growth, _ := heapPeakAbs(f)
	return growth
}

// heapPeakAbs is heapPeak, also returning the peak itself.
func heapPeakAbs(f func()) (uint64, uint64) {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 { metrics.Read(sample); return sample[0].Value.Uint64() }
	runtime.GC()
	base := read()
	var (
		peak atomic.Uint64
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(200 * time.Microsecond)
		defer tick.Stop()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	f()
	close(stop)
	wg.Wait()
	if v := read(); v > peak.Load() {
		peak.Store(v)
	}
	return peak.Load() - min(base, peak.Load()), peak.Load()
}

// One call's peak heap stays under 1.5× its body + 50 MB: everything the
// call allocates (an upper bound of its peak) does.
func TestOneLargeAnswerHeapBound(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("builds a 100 MB page; allocations differ under -race")
	}
	path, size := bigPage(t)
	srv := serveFile(t, path)
	c := dune.NewClient(dune.Config{BaseURL: srv.URL, APIKey: emulator.DefaultAPIKey})
	var res *dune.Result
	var err error
	alloc := allocated(func() { res, err = c.GetLatestResult(context.Background(), 1001, dune.Options{Limit: bigRows}) })
	if err != nil || len(res.Rows) != bigRows {
		t.Fatalf("err = %v", err)
	}
	bound := uint64(1.5*float64(size)) + 50<<20
	t.Logf("%d MB body: the call allocated %d MB (bound %d MB)", size>>20, alloc>>20, bound>>20)
	if alloc > bound {
		t.Errorf("allocated %d bytes, bound %d", alloc, bound)
	}
}

// Eight ~100 MB answers at once: the heap, sampled while they are read,
// never grows past the default budget (256 MiB), and every call is
// answered.
func TestEightLargeAnswersStayUnderTheBudget(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("builds a 100 MB page; allocations differ under -race")
	}
	path, size := bigPage(t)
	srv := serveFile(t, path)
	c := dune.NewClient(dune.Config{BaseURL: srv.URL, APIKey: emulator.DefaultAPIKey, Retry: dune.RetryPolicy{MaxElapsed: 10 * time.Minute}, RequestTimeout: 10 * time.Minute})
	var rows atomic.Int64
	growth, _ := heapPeakAbs(func() {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
				defer cancel()
				res, err := c.GetLatestResult(ctx, 1001, dune.Options{Limit: bigRows})
				if err != nil {
					t.Error(err)
					return
				}
				rows.Add(int64(len(res.Rows)))
			})
		}
		wg.Wait()
	})
	t.Logf("8 answers of %d MB at once: the heap grew by at most %d MB (budget %d MiB)", size>>20, growth>>20, c.MemoryBudget().Size()>>20)
	if rows.Load() != 8*bigRows {
		t.Errorf("%d rows in all, want %d", rows.Load(), 8*bigRows)
	}
	if growth > uint64(c.MemoryBudget().Size()) {
		t.Errorf("the heap grew by %d bytes, over the budget of %d", growth, c.MemoryBudget().Size())
	}
}

// BenchmarkMemoryOneCall100MB fetches and decodes one ~100 MB answer.
// Metrics: peakMB (sampled heap growth), peak/body, alloc/body, and the
// target 1.5×body+50 MB as boundMB.
func BenchmarkMemoryOneCall100MB(b *testing.B) {
	path, size := bigPage(b)
	srv := serveFile(b, path)
	c := dune.NewClient(dune.Config{BaseURL: srv.URL, APIKey: emulator.DefaultAPIKey})
	b.SetBytes(int64(size))
	var peak uint64
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		peak = max(peak, heapPeak(func() {
			res, err := c.GetLatestResult(context.Background(), 1001, dune.Options{Limit: bigRows})
			if err != nil || len(res.Rows) != bigRows {
				b.Fatal(err)
			}
		}))
	}
	runtime.ReadMemStats(&after)
	n := float64(size)
	b.ReportMetric(float64(peak)/(1<<20), "peakMB")
	b.ReportMetric(float64(peak)/n, "peak/body")
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/n, "alloc/body")
	b.ReportMetric((1.5*n+50<<20)/(1<<20), "boundMB")
}

// BenchmarkMemoryEightCalls100MB runs eight ~100 MB answers at once under
// the default budget (256 MiB). Metrics: peakMB (sampled heap growth; the
// target is budgetMB), heapMB (the sampled heap's peak, the test binary's
// own heap included), inflightMB (the budget's high-water mark) and
// budgetMB.
func BenchmarkMemoryEightCalls100MB(b *testing.B) {
	path, size := bigPage(b)
	srv := serveFile(b, path)
	c := dune.NewClient(dune.Config{BaseURL: srv.URL, APIKey: emulator.DefaultAPIKey, Retry: dune.RetryPolicy{MaxElapsed: 10 * time.Minute}, RequestTimeout: 10 * time.Minute})
	b.SetBytes(8 * int64(size))
	var peak, abs uint64
	for b.Loop() {
		g, a := heapPeakAbs(func() {
			var wg sync.WaitGroup
			for range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
					defer cancel()
					res, err := c.GetLatestResult(ctx, 1001, dune.Options{Limit: bigRows})
					if err != nil || len(res.Rows) != bigRows {
						b.Error(err)
					}
				}()
			}
			wg.Wait()
		})
		peak, abs = max(peak, g), max(abs, a)
	}
	b.ReportMetric(float64(peak)/(1<<20), "peakMB")
	b.ReportMetric(float64(abs)/(1<<20), "heapMB")
	b.ReportMetric(float64(c.MemoryBudget().Peak())/(1<<20), "inflightMB")
	b.ReportMetric(float64(c.MemoryBudget().Size())/(1<<20), "budgetMB")
}

// BenchmarkDecodeWidePage300 decodes a 1,000-row, 300-column page from the
// emulator. Metrics: MB/s, alloc/body (an upper bound of peak/body; the
// target is 2).
func BenchmarkDecodeWidePage300(b *testing.B) {
	s := emulator.NewServer()
	s.AddQuery(3003, emulator.Wide(1000, 300, 5))
	body := rawPage(b, s, "/api/v1/query/3003/results?limit=1000")
	s.Close()
	b.SetBytes(int64(len(body)))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for b.Loop() {
		res := &dune.Result{}
		if err := dune.DecodeResultForTest(bytes.NewReader(body), res); err != nil || len(res.Rows) != 1000 {
			b.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/float64(b.N)/float64(len(body)), "alloc/body")
}

// BenchmarkGetDecode1000DEX compares, side by side in one run, the
// client's fetch and decode of a 1,000-row DEX trades page from the
// emulator ("client") with a bare HTTP GET of the same page decoded by
// encoding/json into maps ("bare_get_json"): the baseline of the per-call
// cost ratio of issue 10.
func BenchmarkGetDecode1000DEX(b *testing.B) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(1001, emulator.DEXTrades(1000, 7))
	body := rawPage(b, s, "/api/v1/query/1001/results?limit=1000")
	b.Run("client", func(b *testing.B) {
		c := dune.NewClient(dune.Config{BaseURL: s.URL, APIKey: emulator.DefaultAPIKey})
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			res, err := c.GetLatestResult(context.Background(), 1001, dune.Options{Limit: 1000})
			if err != nil || len(res.Rows) != 1000 {
				b.Fatal(err)
			}
		}
	})
	b.Run("bare_get_json", func(b *testing.B) {
		hc := &http.Client{}
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			req, _ := http.NewRequest(http.MethodGet, s.URL+"/api/v1/query/1001/results?limit=1000", nil)
			req.Header.Set("X-Dune-Api-Key", emulator.DefaultAPIKey)
			resp, err := hc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var page struct {
				Result struct {
					Rows []map[string]any `json:"rows"`
				} `json:"result"`
			}
			dec := json.NewDecoder(resp.Body)
			dec.UseNumber()
			err = dec.Decode(&page)
			resp.Body.Close()
			if err != nil || len(page.Result.Rows) != 1000 {
				b.Fatal(err)
			}
		}
	})
}
