package emulator_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

func BenchmarkDEXRow(b *testing.B) {
	ds := emulator.DEXTrades(100000, 1)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = ds.Row(i % 100000)
	}
}

// BenchmarkDEXPage30000 measures encoding a full 30,000-row DEX page.
func BenchmarkDEXPage30000(b *testing.B) {
	s := emulator.NewUnstartedServer()
	eid := s.AddQuery(1, emulator.DEXTrades(100000, 1))
	h := s.Handler()
	req := httptest.NewRequest(http.MethodGet, "/api/v1/execution/"+eid+"/results?limit=30000&offset=30000", nil)
	req.Header.Set("X-Dune-Api-Key", emulator.DefaultAPIKey)
	h.ServeHTTP(discard{}, req) // warm the total size
	b.ReportAllocs()
	var n int64
	for b.Loop() {
		w := &counter{}
		h.ServeHTTP(w, req)
		n = w.n
	}
	b.SetBytes(n)
}

type discard struct{}

func (discard) Header() http.Header         { return http.Header{} }
func (discard) Write(p []byte) (int, error) { return len(p), nil }
func (discard) WriteHeader(int)             {}

type counter struct {
	h http.Header
	n int64
}

func (c *counter) Header() http.Header {
	if c.h == nil {
		c.h = http.Header{}
	}
	return c.h
}
func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return io.Discard.Write(p) }
func (c *counter) WriteHeader(int)             {}

// BenchmarkSortedFirstPage measures the first page of a sort_by view of
// 100,000 DEX rows on a fresh server: the sort itself.
func BenchmarkSortedFirstPage(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		b.StopTimer()
		s := emulator.NewUnstartedServer()
		eid := s.AddQuery(1, emulator.DEXTrades(100000, 1))
		h := s.Handler()
		req := httptest.NewRequest(http.MethodGet, "/api/v1/execution/"+eid+"/results?limit=100&sort_by=amount_usd+desc&columns=tx_hash,amount_usd", nil)
		req.Header.Set("X-Dune-Api-Key", emulator.DefaultAPIKey)
		b.StartTimer()
		h.ServeHTTP(&counter{}, req)
	}
}
