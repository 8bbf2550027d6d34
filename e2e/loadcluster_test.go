package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/redistest"
)

// TestLoadCluster is `make load-cluster`: LOAD_CLUSTER_CLIENTS agents (200)
// walk demo results for DUNE_MCP_LOAD_CLUSTER (a duration, e.g. 60s) across
// 3 replicas sharing one Redis, each call on the next replica. It prints
// errors, latency percentiles, each replica's memory and the page cache's
// hits by tier, then stops. Skipped unless DUNE_MCP_LOAD_CLUSTER is set.
// LOAD_CLUSTER_REDIS=off runs the same load on replicas without Redis, for
// comparison; LOAD_CLUSTER_REDIS=valkey runs it on Valkey.
func TestLoadCluster(t *testing.T) {
	raw := os.Getenv("DUNE_MCP_LOAD_CLUSTER")
	if raw == "" {
		t.Skip("load test: run with make load-cluster (DUNE_MCP_LOAD_CLUSTER=60s)")
	}
	dur, err := time.ParseDuration(raw)
	if err != nil || dur <= 0 {
		t.Fatalf("DUNE_MCP_LOAD_CLUSTER=%q: want a duration such as 60s", raw)
	}
	clients := 200
	if s := os.Getenv("LOAD_CLUSTER_CLIENTS"); s != "" {
		if clients, err = strconv.Atoi(s); err != nil || clients < 1 {
			t.Fatalf("LOAD_CLUSTER_CLIENTS=%q: want a number ≥ 1", s)
		}
	}

	var url, store string
	switch os.Getenv("LOAD_CLUSTER_REDIS") {
	case "off": // the baseline: replicas that share nothing
		store = "no Redis"
	case "valkey":
		srv, u := clusterRedis(t, redistest.Valkey)
		url, store = u, "one Valkey "+srv.Version
	default:
		srv, u := clusterRedis(t, redistest.Redis)
		url, store = u, "one Redis "+srv.Version
	}
	emu := newEmulator(t)
	rs := startCluster(t, 3, emu, url)
	sessions := make([][]*client.Client, clients)
	for i := range sessions {
		sessions[i] = []*client.Client{rs[0].session(t), rs[1].session(t), rs[2].session(t)}
	}
	fmt.Printf("load-cluster: %d clients × 3 replicas (%s, one emulator) for %s\n", clients, store, dur)

	// What agents read: a few views of the demo results, so that walks
	// overlap and the shared cache has something to share.
	views := []map[string]any{
		{"query_id": emulator.DemoDEXTrades, "columns": []string{"block_time", "blockchain", "project", "amount_usd"}, "max_tokens": 4000},
		{"query_id": emulator.DemoDEXTrades, "filters": "blockchain = 'base'", "max_tokens": 8000},
		{"query_id": emulator.DemoDEXTrades, "sort_by": "amount_usd desc", "columns": []string{"tx_hash", "amount_usd"}, "max_tokens": 2000},
		{"query_id": emulator.DemoWide, "max_tokens": 6000},
		{"query_id": emulator.DemoDailySeries, "max_tokens": 3000},
	}

	type sample struct {
		d   time.Duration
		err string
	}
	var (
		mu      sync.Mutex
		samples []sample
	)
	record := func(d time.Duration, err string) {
		mu.Lock()
		samples = append(samples, sample{d, err})
		mu.Unlock()
	}
	begin := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := i // each client starts on its own replica and view
			for ctx.Err() == nil {
				args := views[n%len(views)]
				cursor := ""
				for step := 0; step < 12 && ctx.Err() == nil; step++ {
					c := sessions[i][n%3]
					n++
					var req mcp.CallToolRequest
					if step == 0 {
						req.Params.Name, req.Params.Arguments = "get_latest_result", args
					} else {
						req.Params.Name, req.Params.Arguments = "next_page", map[string]any{"cursor": cursor}
					}
					cctx, ccancel := context.WithTimeout(context.Background(), 60*time.Second)
					start := time.Now()
					res, err := c.CallTool(cctx, req)
					d := time.Since(start)
					ccancel()
					switch {
					case err != nil:
						record(d, "transport: "+err.Error())
					case res.IsError:
						record(d, fmt.Sprintf("tool (view %d, step %d, t=%ds): %s", (n-1-step)%len(views), step, int(time.Since(begin).Seconds())/10*10, firstLine(text(res))))
					default:
						record(d, "")
					}
					if err != nil || res.IsError {
						break
					}
					s, _ := res.StructuredContent.(map[string]any)
					if cursor, _ = s["next_cursor"].(string); cursor == "" {
						break
					}
				}
			}
		}()
	}
	wg.Wait()

	var lat []time.Duration
	errs := map[string]int{}
	for _, s := range samples {
		lat = append(lat, s.d)
		if s.err != "" {
			errs[s.err]++
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	nerr := 0
	for _, n := range errs {
		nerr += n
	}
	fmt.Printf("calls: %d (%.0f/s), errors: %d\n", len(samples), float64(len(samples))/dur.Seconds(), nerr)
	for e, n := range errs {
		fmt.Printf("  %5d × %s\n", n, e)
	}
	fmt.Printf("latency: p50 %s, p99 %s, max %s\n", pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), pct(1).Round(time.Millisecond))
	st := emu.Stats()
	fmt.Printf("upstream: %d requests (%d latest results, %d execution pages), %d rows\n", st.Requests,
		st.ByEndpoint[emulator.EndpointQueryResults], st.ByEndpoint[emulator.EndpointExecutionResults], st.RowsServed)
	var local, shared, calls int
	for i, r := range rs {
		rss, hwm := memory(r.p.cmd.Process.Pid)
		l, s, n := cacheHits(r.p.stderr.String())
		local, shared, calls = local+l, shared+s, calls+n
		down := outages(r.p.stderr.String())
		fmt.Printf("replica %d: RSS %s (peak %s); %d calls, page cache hits: %d local, %d shared; Redis outages seen: %d\n", i, rss, hwm, n, l, s, len(down))
		for _, e := range down {
			fmt.Printf("  redis unavailable: %s\n", e)
		}
	}
	fmt.Printf("page cache hits, all replicas: %d local, %d shared (of %d calls)\n", local, shared, calls)
	if len(samples) == 0 {
		t.Fatal("no call completed")
	}
}

// firstLine is the first line of s, clipped.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// memory reads a process's resident set size, now and at its peak.
func memory(pid int) (rss, peak string) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return "?", "?"
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			rss = f[1] + " kB"
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			peak = f[1] + " kB"
		}
	}
	return rss, peak
}

// outages returns the errors of a replica's "redis unavailable" lines.
func outages(stderr string) []string {
	var out []string
	for _, line := range strings.Split(stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && strings.HasPrefix(fmt.Sprint(m["message"]), "redis unavailable") {
			out = append(out, fmt.Sprint(m["error"]))
		}
	}
	return out
}

// cacheHits counts a replica's tool calls whose rows came (at least in part)
// from its in-process cache or from the shared one, by their log lines.
func cacheHits(stderr string) (local, shared, calls int) {
	for _, line := range strings.Split(stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["message"] != "tool call" {
			continue
		}
		calls++
		switch m["cache"] {
		case "local":
			local++
		case "shared":
			shared++
		}
	}
	return local, shared, calls
}
