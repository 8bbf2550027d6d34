package e2e

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcptransport "github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/redis/go-redis/v9"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/redistest"
)

// clusterSecret is the cursor secret every replica shares; redisPassword
// protects their Redis (and is grepped for in every replica's stderr).
const (
	clusterSecret = "e2e-cluster-cursor-secret-3c9f1a7e"
	redisPassword = "e2e-redis-password-8b2d6f0e4a"
)

// clusterRedis starts a password-protected server of kind k (redis-server
// or valkey-server) and returns it with the URL the replicas use.
func clusterRedis(t *testing.T, k redistest.Kind) (*redistest.Server, string) {
	t.Helper()
	srv := redistest.StartKind(t, k, "--requirepass", redisPassword)
	return srv, "redis://:" + redisPassword + "@" + srv.Addr + "/0"
}

// replica is one dune-mcp process of a team deployment, over HTTP.
type replica struct {
	p    *proc
	base string
}

// startCluster runs n replicas of the binary on one emulator and one Redis,
// with one cursor secret.
func startCluster(t *testing.T, n int, emu *emulator.Server, redisURL string) []*replica {
	t.Helper()
	env := baseEnv("DUNE_API_KEY", duneKey, "DUNE_API_BASE_URL", emu.URL, "DUNE_MCP_CURSOR_SECRET", clusterSecret,
		"DUNE_MCP_REDIS_URL", redisURL, "DUNE_MCP_AUTH_TOKEN", authToken)
	out := make([]*replica, n)
	for i := range out {
		p, base := startHTTP(t, env)
		out[i] = &replica{p: p, base: base}
		t.Cleanup(func() {
			assertNoSecrets(t, fmt.Sprintf("replica %d stderr", i), p.stderr.String(), redisPassword, duneKey, authToken, clusterSecret)
		})
	}
	return out
}

// session opens an MCP session with r.
func (r *replica) session(t *testing.T) *client.Client {
	t.Helper()
	c, err := client.NewStreamableHttpClient(r.base+"/mcp", mcptransport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + authToken}))
	if err != nil {
		t.Fatal(err)
	}
	initialize(t, c, mcp.ProtocolVersion20251125)
	return c
}

// page is what a walk reads of one result.
type page struct {
	offset, rows, datapoints int
	cursor                   string
	first                    []string // the first column of each row
}

func readPage(t *testing.T, r *mcp.CallToolResult) page {
	t.Helper()
	if r.IsError {
		t.Fatalf("tool error: %s", text(r))
	}
	s := structured(t, r)
	p := page{offset: int(s["offset"].(float64)), rows: int(s["returned_rows"].(float64)), datapoints: int(s["datapoints"].(float64))}
	p.cursor, _ = s["next_cursor"].(string)
	rows, _ := s["rows"].([]any)
	for _, row := range rows {
		p.first = append(p.first, fmt.Sprint(row.([]any)[0]))
	}
	return p
}

// walkCluster reads a result from its first page to its last, each call on
// the next session; between calls, between(call, delivered) may act. It
// checks offsets and the first column against want and returns the rows
// delivered and the cursors seen (cursors[i] was answered by sessions[i%n]).
func walkCluster(t *testing.T, sessions []*client.Client, args map[string]any, want []string, between func(call, delivered int)) (int, []string) {
	t.Helper()
	p := readPage(t, call(t, sessions[0], "get_latest_result", args))
	delivered, cursors := 0, []string{}
	for n := 1; ; n++ {
		if p.offset != delivered || p.rows == 0 {
			t.Fatalf("call %d: page at %d with %d rows, want offset %d", n, p.offset, p.rows, delivered)
		}
		for i, v := range p.first {
			if v != want[delivered+i] {
				t.Fatalf("row %d: %q, want %q", delivered+i, v, want[delivered+i])
			}
		}
		delivered += p.rows
		if p.cursor == "" {
			return delivered, cursors
		}
		cursors = append(cursors, p.cursor)
		if between != nil {
			between(n, delivered)
		}
		p = readPage(t, call(t, sessions[n%len(sessions)], "next_page", map[string]any{"cursor": p.cursor}))
	}
}

// walkQuery is the 100,000-row result the cluster walks: DEX trades,
// three columns.
func walkQuery(t *testing.T, emu *emulator.Server, id int64, n int) (map[string]any, []string) {
	t.Helper()
	ds := emulator.DEXTrades(n, id)
	emu.AddQuery(id, ds)
	want := make([]string, ds.Len())
	for i := range want {
		want[i] = fmt.Sprint(ds.Row(i)[4]) // block_time, the first column asked for
	}
	return map[string]any{"query_id": id, "columns": []string{"block_time", "blockchain", "evt_index"}, "max_tokens": 25000}, want
}

func TestClusterWalkFetchesEachRowOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("walks 100,000 rows across 3 replicas")
	}
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		srv, url := clusterRedis(t, k)
		emu := newEmulator(t)
		args, want := walkQuery(t, emu, 4242, 100_000)
		rs := startCluster(t, 3, emu, url)
		sessions := []*client.Client{rs[0].session(t), rs[1].session(t), rs[2].session(t)}

		delivered, cursors := walkCluster(t, sessions, args, want, nil)
		st := emu.Stats()
		ratio := float64(st.RowsServed) / float64(delivered)
		t.Logf("walk across 3 replicas: %d calls, %d upstream requests, %d rows upstream for %d delivered: %.2f", len(cursors)+1, st.Requests, st.RowsServed, delivered, ratio)
		if delivered != len(want) || st.RowsServed != delivered {
			t.Errorf("%d rows upstream for %d delivered (of %d), want each row fetched once (1.00)", st.RowsServed, delivered, len(want))
		}

		// A re-read on another replica: a cursor replica 1 answered, read on
		// replica 2, costs no request and no datapoint.
		i := 1 + 3*(len(cursors)/6) // answered by sessions[i%3] = replica 1
		before := emu.Stats().Requests
		p := readPage(t, call(t, sessions[(i+1)%3], "next_page", map[string]any{"cursor": cursors[i-1]}))
		if n := emu.Stats().Requests - before; n != 0 || p.datapoints != 0 {
			t.Errorf("re-read on another replica: %d upstream requests, %d datapoints; want 0 and 0", n, p.datapoints)
		}
		t.Logf("re-read of rows %d+ on another replica: %d upstream requests", p.offset, emu.Stats().Requests-before)
		t.Logf("redis after the walk: %s", redisInfo(t, srv.Addr, "server_name", "redis_version", "valkey_version", "keys", "used_memory_human", "total_net_input_bytes"))
	})
}

// redisInfo returns the named fields of Redis's INFO (and the number of
// keys), for the test's log.
func redisInfo(t *testing.T, addr string, fields ...string) string {
	t.Helper()
	rdb := redis.NewClient(&redis.Options{Addr: addr, Password: redisPassword})
	defer rdb.Close()
	ctx := context.Background()
	info, err := rdb.Info(ctx, "server", "memory", "stats").Result()
	if err != nil {
		return err.Error()
	}
	keys, _ := rdb.DBSize(ctx).Result()
	var out []string
	for _, f := range fields {
		if f == "keys" {
			out = append(out, fmt.Sprintf("keys:%d", keys))
			continue
		}
		for _, line := range strings.Split(info, "\r\n") {
			if strings.HasPrefix(line, f+":") {
				out = append(out, line)
			}
		}
	}
	return strings.Join(out, " ")
}

func TestClusterSurvivesRedisKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts Redis under a 30,000-row walk (tools' TestRedisDownServesInProcessThenShares runs under -short)")
	}
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		srv, url := clusterRedis(t, k)
		emu := newEmulator(t)
		args, want := walkQuery(t, emu, 4343, 30_000)
		args["max_tokens"] = 8000
		rs := startCluster(t, 3, emu, url)
		sessions := []*client.Client{rs[0].session(t), rs[1].session(t), rs[2].session(t)}

		killed, back := false, false
		delivered, cursors := walkCluster(t, sessions, args, want, func(_, delivered int) {
			switch {
			case !killed && delivered > len(want)/3:
				srv.Stop()
				killed = true
			case killed && !back && delivered > 2*len(want)/3:
				srv.Start()
				back = true
			}
		})
		if !killed || !back || delivered != len(want) {
			t.Fatalf("walk delivered %d of %d rows (killed %v, back %v)", delivered, len(want), killed, back)
		}
		warned := 0
		for i, r := range rs {
			n := strings.Count(r.p.stderr.String(), "redis unavailable")
			if n > 1 {
				t.Errorf("replica %d logged %d 'redis unavailable' lines, want at most 1", i, n)
			}
			warned += n
		}
		if warned == 0 {
			t.Error("no replica warned that Redis was unavailable")
		}
		st := emu.Stats()
		t.Logf("walk with Redis killed at 1/3 and back at 2/3: %d calls, all succeeded; %d rows upstream for %d delivered (%.2f); %d replicas warned once",
			len(cursors)+1, st.RowsServed, delivered, float64(st.RowsServed)/float64(delivered), warned)

		// Sharing resumes: a page replica 0 serves is re-read on replica 1 at no
		// cost. Each try reads another view (a new filter), which replica 1
		// cannot hold in-process; go-redis probes a dead address once a second,
		// so try for a while.
		deadline := time.Now().Add(20 * time.Second)
		for try := 0; ; try++ {
			fresh := map[string]any{"filters": fmt.Sprintf("evt_index >= %d", try)}
			for k, v := range args {
				fresh[k] = v
			}
			p := readPage(t, call(t, sessions[0], "get_latest_result", fresh))
			readPage(t, call(t, sessions[0], "next_page", map[string]any{"cursor": p.cursor}))
			before := emu.Stats().Requests
			q := readPage(t, call(t, sessions[1], "next_page", map[string]any{"cursor": p.cursor}))
			if emu.Stats().Requests == before && q.datapoints == 0 {
				t.Logf("sharing resumed after %d tries", try+1)
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("Redis is back, yet replicas do not share pages after 20 s; replica 1 stderr:\n%s", rs[1].p.stderr.String())
			}
			<-time.After(200 * time.Millisecond)
		}
		for i, r := range rs[:2] {
			if !strings.Contains(r.p.stderr.String(), "redis is back") {
				t.Errorf("replica %d shares again but never logged that Redis is back", i)
			}
		}
	})
}

func TestClusterRunsOneExecution(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		_, url := clusterRedis(t, k)
		emu := newEmulator(t)
		// A slow execute request: every replica decides to run before any
		// has an execution id.
		emu.InjectFault(emulator.Fault{Latency: 500 * time.Millisecond, Path: emulator.EndpointExecute})
		rs := startCluster(t, 3, emu, url)
		sessions := []*client.Client{rs[0].session(t), rs[1].session(t), rs[2].session(t)}

		var wg sync.WaitGroup
		ids := make([]string, len(sessions))
		executed := make([]bool, len(sessions))
		for i, c := range sessions {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := call(t, c, "get_latest_result", map[string]any{"query_id": emulator.DemoTiny, "max_age_hours": 0})
				s := structured(t, r)
				if r.IsError {
					t.Errorf("replica %d: %s", i, text(r))
					return
				}
				ids[i], _ = s["execution_id"].(string)
				executed[i] = s["executed"] == true
			}()
		}
		wg.Wait()
		nexec := 0
		for i := range ids {
			if ids[i] == "" || ids[i] != ids[0] {
				t.Errorf("replica %d followed execution %q, replica 0 %q", i, ids[i], ids[0])
			}
			if executed[i] {
				nexec++
			}
		}
		if n := emu.Stats().Executions; n != 1 || nexec != 1 {
			t.Errorf("3 replicas refreshing at once: %d executions, %d results say executed; want 1 and 1", n, nexec)
		}
	})
}
