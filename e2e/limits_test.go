package e2e

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcptransport "github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/redistest"
)

var limitsDuration = flag.Duration("limits-duration", 0, "how long TestLimitsAcrossReplicas drives the replicas (default 60s, 10s with -short)")

// limitsRedis runs a real redis-server on a free loopback port, without
// persistence, for the test's life, and returns its address (redistest
// skips the test, or fails it in CI, when redis-server is not installed).
// The rate limiter's script runs on Redis and Valkey in ratelimit's tests.
func limitsRedis(t *testing.T) string {
	t.Helper()
	return redistest.Start(t).Addr
}

func limitsFreePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// retryAdvice is how a result says when to retry.
var retryAdvice = regexp.MustCompile(`Retry after \d+ s\.`)

// TestLimitsAcrossReplicas: three replicas of the binary share one
// redis-server and one Dune key against an emulator that enforces the Free
// plan (40 reads a minute per key, 429 beyond). Driven at five times that
// rate, they send Dune no request it refuses, and every call either
// succeeds or says when to retry: with --dune-plan free, and (the default)
// without a plan, from the limits the emulator's RateLimit-Policy header
// declares (not under -short: a short run stays under 40 reads anyway).
func TestLimitsAcrossReplicas(t *testing.T) {
	d := *limitsDuration
	if d == 0 {
		d = 60 * time.Second
		if testing.Short() {
			d = 10 * time.Second
		}
	}
	t.Run("free plan", func(t *testing.T) { driveReplicas(t, d, "--dune-plan", "free") })
	t.Run("limits from the headers", func(t *testing.T) {
		if testing.Short() {
			t.Skip("-short: a run of 10 s stays under the quota without a limiter")
		}
		driveReplicas(t, d)
	})
}

// driveReplicas runs three replicas with extra args against a Free-plan
// emulator for d and checks the outcome.
func driveReplicas(t *testing.T, d time.Duration, extra ...string) {
	redisAddr := limitsRedis(t)
	free, _ := emulator.PlanRateLimits(dune.PlanFree)
	emu := emulator.NewServer(emulator.WithAPIKey(duneKey), emulator.WithRateLimits(free))
	t.Cleanup(emu.Close)
	emu.AddQuery(4242, emulator.Tiny())

	env := baseEnv("DUNE_API_KEY", duneKey, "DUNE_API_BASE_URL", emu.URL, "DUNE_MCP_AUTH_TOKEN", authToken, "DUNE_MCP_CURSOR_SECRET", "shared-cursor-secret-0123456789")
	metricsAddr := fmt.Sprintf("127.0.0.1:%d", limitsFreePort(t))
	var clients []*client.Client
	for i := range 3 {
		args := append([]string{"--redis-url", "redis://" + redisAddr + "/0", "--call-timeout", "5s"}, extra...)
		if i == 0 {
			args = append(args, "--metrics-addr", metricsAddr)
		}
		_, base := startHTTP(t, env, args...)
		c, err := client.NewStreamableHttpClient(base+"/mcp", mcptransport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + authToken}))
		if err != nil {
			t.Fatal(err)
		}
		initialize(t, c, mcp.LATEST_PROTOCOL_VERSION)
		clients = append(clients, c)
	}

	// Open loop: a call every 300 ms (200 a minute, 5× Free's 40), round
	// robin over the replicas, whatever the earlier calls are doing.
	var (
		mu         sync.Mutex
		ok, retry  int
		perReplica [3]int
		other      []string
		wg         sync.WaitGroup
	)
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	start := time.Now()
	for n := 0; time.Since(start) < d; n++ {
		<-tick.C
		c, i := clients[n%3], n%3
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var req mcp.CallToolRequest
			req.Params.Name = "get_latest_result"
			req.Params.Arguments = map[string]any{"query_id": 4242}
			res, err := c.CallTool(ctx, req)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				other = append(other, "protocol error: "+err.Error())
			case !res.IsError:
				ok++
				perReplica[i]++
			case retryAdvice.MatchString(text(res)):
				retry++
			default:
				other = append(other, text(res))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)

	st := emu.Stats()
	reads := st.Requests - st.RateLimited
	perMinute := float64(reads) / elapsed.Minutes()
	t.Logf("%s at 200 calls/min over 3 replicas: %d ok (per replica %v), %d told when to retry, %d other; Dune saw %d requests, %d refused with 429; %.1f reads/min admitted (Free: 40)",
		elapsed.Round(time.Second), ok, perReplica, retry, len(other), st.Requests, st.RateLimited, perMinute)
	if st.RateLimited != 0 {
		t.Errorf("Dune answered %d requests with 429; want 0", st.RateLimited)
	}
	if len(other) > 0 {
		t.Errorf("%d calls neither succeeded nor said when to retry, e.g. %q", len(other), other[0])
	}
	// Not starved: at least 70% of the plan's rate reached Dune and came back.
	if floor := int(0.7 * 40 * elapsed.Minutes()); ok < floor {
		t.Errorf("%d calls succeeded; want at least %d (70%% of 40 a minute)", ok, floor)
	}
	if retry == 0 {
		t.Error("no call was told to retry at 5× the plan's rate: is the limiter on?")
	}

	// The replica with --metrics-addr counts what it held back and what it sent.
	m := limitsScrape(t, "http://"+metricsAddr+"/metrics")
	if m[`dune_mcp_ratelimit_refused_total{class="read"}`] < 1 || m[`dune_mcp_upstream_requests_total{endpoint="query_results",status="200"}`] < 1 {
		t.Errorf("metrics lack refusals or upstream 200s: %v", m)
	}
	for k, v := range m {
		if strings.Contains(k, `status="429"`) && v > 0 {
			t.Errorf("metrics report 429s: %s %v", k, v)
		}
	}
}

// limitsScrape reads a Prometheus text page into series → value.
func limitsScrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			if v, err := strconv.ParseFloat(line[i+1:], 64); err == nil {
				out[line[:i]] = v
			}
		}
	}
	return out
}

// TestEmulatorPlanFlag: `dune-mcp emulator --plan free` refuses the 41st
// read of a minute with 429, Retry-After and the RateLimit headers.
func TestEmulatorPlanFlag(t *testing.T) {
	p := start(t, baseEnv(), "emulator", "--addr", "127.0.0.1:0", "--plan", "free")
	p.waitLog("emulator listening")
	// stdout and stderr are read apart: the banner may come in after the log line.
	var first string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if out := p.stdout.String(); strings.Contains(out, "\n") {
			first = strings.SplitN(out, "\n", 2)[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no start-up banner on stdout within 10s")
		}
	}
	i := strings.Index(first, "http://")
	if i < 0 {
		t.Fatalf("no URL in %q", first)
	}
	url := strings.TrimSpace(first[i:]) + "/api/v1/query/1001/results?limit=1"
	var last *http.Response
	for n := 1; n <= 41; n++ {
		req, _ := http.NewRequest(http.MethodGet, url, nil)
		req.Header.Set("X-Dune-Api-Key", emulator.DefaultAPIKey)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if n <= 40 && resp.StatusCode != 200 {
			t.Fatalf("read %d: %d", n, resp.StatusCode)
		}
		last = resp
	}
	if last.StatusCode != 429 || last.Header.Get("Retry-After") == "" || !strings.HasPrefix(last.Header.Get("RateLimit"), `"read";r=0;t=`) || last.Header.Get("RateLimit-Policy") != `"read";q=40;w=60` {
		t.Fatalf("41st read: %d, Retry-After %q, RateLimit %q, RateLimit-Policy %q", last.StatusCode, last.Header.Get("Retry-After"), last.Header.Get("RateLimit"), last.Header.Get("RateLimit-Policy"))
	}
	if code := p.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}
