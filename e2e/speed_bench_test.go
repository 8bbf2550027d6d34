package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/testio"
)

// BenchmarkStdioLatestVsBareFetch is issue 10's per-call figure on the real
// binary: one get_latest_result of 1,000 DEX rows (22 columns, limit 1000,
// the default budget) sent as a JSON-RPC line to `dune-mcp` over stdio,
// against a bare fetch of the same page (same query, offset, limit and
// columns) from the same emulator. The server is a process of its own, so
// its CPU is the server's alone.
//
// Every iteration takes a page at a new offset (0, 1,000, …, 98,000, then
// again), so each call really fetches upstream (get_latest_result never
// reads the page cache; the benchmark checks, in the server's log line of
// each call, one upstream request and 1,000 rows fetched)
// and meets rows it has not tokenised before, as a real walk does. An
// iteration runs two fetches of the page, one after the other, in either
// order in turn:
//
//   - tool: write the request, read the answer line, decode it as a client
//     that forwards it does (benchResult), check it is not an error and
//     shows rows from the offset asked for;
//   - client: dune.Client.GetLatestResult, the server's own GET + decoder,
//     without retries (the strict baseline: what the server adds to the
//     fetch it cannot avoid);
//   - and, in a second loop of as many iterations, paired with the tool call
//     again: stdlib: net/http GET + encoding/json into a result struct
//     (what a program without dune-mcp would do).
//
// Reported, over the iterations: ratio (median of tool ÷ client) with
// ratio-p25 and ratio-p75, ratio-stdlib (median of tool ÷ stdlib), the
// three median times, handler-ms (the median duration the server logged
// for its handler: tool-ms less handler-ms is the transport's and the
// client's share), and server-cpu-ms: the server process's CPU time
// (utime+stime from /proc/<pid>/stat) over the loop, less its idle rate
// measured afterwards while only bare fetches run, per call (Linux only;
// /proc counts in 10 ms ticks, so run at least ~50 iterations:
// -benchtime 60x); early-used is the fraction of calls whose summary was
// started on the page's first rows during the fetch (early_rows in the
// call's log line, tools/early.go), early-ready the fraction whose answer
// was rendered before the page's last rows arrived (early_ready).
//
// emulator=process runs `dune-mcp emulator` as a process of its own (demo
// query 1001, the same 100,000 DEX rows), so the bare fetch crosses
// processes as the tool's does, for a client the server does not know (both
// views carry the rows); claude-code is the same for Claude Code (rows in
// structuredContent only, as for Copilot CLI and Codex; no stdlib fetch);
// emulator=bench serves the rows from this process.
func BenchmarkStdioLatestVsBareFetch(b *testing.B) {
	b.Run("emulator=process", func(b *testing.B) {
		benchStdioVsBare(b, startEmulatorProcess(b), emulator.DemoDEXTrades, "dune-mcp-bench", true)
	})
	b.Run("claude-code", func(b *testing.B) {
		benchStdioVsBare(b, startEmulatorProcess(b), emulator.DemoDEXTrades, "claude-code", false)
	})
	b.Run("emulator=bench", func(b *testing.B) {
		emu := emulator.NewServer(emulator.WithAPIKey(duneKey))
		b.Cleanup(emu.Close)
		emu.AddQuery(1, emulator.DEXTrades(100000, 1))
		benchStdioVsBare(b, emu.URL, 1, "dune-mcp-bench", true)
	})
}

// startEmulatorProcess starts `dune-mcp emulator` on a free port and
// returns its URL.
func startEmulatorProcess(b *testing.B) string {
	cmd := exec.Command(bin, "emulator", "--addr", "127.0.0.1:0", "--api-key", duneKey)
	cmd.Env = baseEnv()
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, url, ok := strings.Cut(sc.Text(), "listening on "); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return strings.TrimSpace(url)
		}
	}
	b.Fatalf("dune-mcp emulator did not say where it listens: %v", sc.Err())
	return ""
}

// benchStdioVsBare is one placement and client: the client's name is what
// its initialize says (an unknown name gets both views, "claude-code" the
// rows in structuredContent only); withStdlib adds the net/http +
// encoding/json fetch to each iteration.
func benchStdioVsBare(b *testing.B, emuURL string, queryID int64, client string, withStdlib bool) {
	const pageRows, pages = 1000, 99
	s := startRawStdio(b, baseEnv("DUNE_API_KEY", duneKey, "DUNE_API_BASE_URL", emuURL, "DUNE_MCP_CURSOR_SECRET", "bench-cursor-secret"))
	s.initialize(b, client)

	dc := dune.NewClient(dune.Config{BaseURL: emuURL, APIKey: duneKey, Retry: dune.RetryPolicy{MaxAttempts: 1}})
	ctx := context.Background()
	bareClient := func(offset int) {
		res, err := dc.GetLatestResult(ctx, queryID, dune.Options{Limit: pageRows, Offset: offset})
		if err != nil || len(res.Rows) != pageRows {
			b.Fatalf("dune.Client at offset %d: %v", offset, err)
		}
	}
	hc := &http.Client{}
	bareStdlib := func(offset int) {
		if !withStdlib {
			return
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet,
			fmt.Sprintf("%s/api/v1/query/%d/results?limit=%d&offset=%d", emuURL, queryID, pageRows, offset), nil)
		if err != nil {
			b.Fatal(err)
		}
		req.Header.Set("X-Dune-Api-Key", duneKey)
		resp, err := hc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var page struct {
			ExecutionID string `json:"execution_id"`
			State       string `json:"state"`
			Result      struct {
				Rows     []map[string]any `json:"rows"`
				Metadata struct {
					ColumnNames   []string `json:"column_names"`
					TotalRowCount int      `json:"total_row_count"`
				} `json:"metadata"`
			} `json:"result"`
			NextOffset *int `json:"next_offset"`
		}
		err = json.NewDecoder(resp.Body).Decode(&page)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != http.StatusOK || len(page.Result.Rows) != pageRows {
			b.Fatalf("net/http + encoding/json at offset %d: %d %v", offset, resp.StatusCode, err)
		}
	}
	tool := func(offset int) {
		res := s.call(b, "get_latest_result", map[string]any{"query_id": queryID, "limit": pageRows, "offset": offset})
		if res.IsError || res.Structured.ReturnedRows == 0 || res.Structured.Offset != offset {
			b.Fatalf("get_latest_result at offset %d: isError %v, %d rows from %d", offset, res.IsError, res.Structured.ReturnedRows, res.Structured.Offset)
		}
	}
	for i := range 3 { // warm up all three paths (connections, the server's first call)
		tool(i * pageRows)
		bareClient(i * pageRows)
		bareStdlib(i * pageRows)
	}

	var toolT, clientT, stdlibT, ratios, ratiosStdlib []float64
	timed := func(f func(int), offset int) float64 {
		start := time.Now()
		f(offset)
		return float64(time.Since(start).Microseconds()) / 1000
	}
	runtime.GC()
	logged := len(s.calls(b))
	cpu0, cpuOK := procCPU(s.pid())
	wall0 := time.Now()
	// paired times a and b, one after the other, in either order in turn.
	paired := func(i, offset int, a, b func(int)) (ta, tb float64) {
		if i%2 == 0 {
			ta = timed(a, offset)
			return ta, timed(b, offset)
		}
		tb = timed(b, offset)
		return timed(a, offset), tb
	}
	for i := 0; b.Loop(); i++ {
		t, c := paired(i, (i%pages)*pageRows, tool, bareClient)
		toolT, clientT = append(toolT, t), append(clientT, c)
		ratios = append(ratios, t/c)
	}
	b.StopTimer()
	loopWall := time.Since(wall0)
	cpu1, _ := procCPU(s.pid())
	n := len(ratios)
	calls := s.waitCalls(b, logged+n)[logged:]
	if len(calls) < n {
		b.Fatalf("the server logged %d calls, want %d", len(calls), n)
	}
	calls = calls[:n]
	handler := make([]float64, n)
	early, ready := 0, 0
	for i, c := range calls {
		if c.Upstream != 1 || c.Rows != pageRows {
			b.Fatalf("call %d: %d upstream requests, %d rows fetched: each call must fetch its page, once", i, c.Upstream, c.Rows)
		}
		handler[i] = c.Duration
		if c.EarlyRows > 0 {
			early++
		}
		if c.EarlyReady {
			ready++
		}
	}

	if cpuOK {
		// The idle rate: the server's CPU while only bare fetches run, over
		// at least a quarter of the loop's wall time.
		idle0, _ := procCPU(s.pid())
		idleStart := time.Now()
		for i := 0; time.Since(idleStart) < loopWall/4 || i < 10; i++ {
			bareClient((i % pages) * pageRows)
		}
		idle1, _ := procCPU(s.pid())
		idleRate := float64(idle1-idle0) / float64(time.Since(idleStart))
		busy := float64(cpu1-cpu0) - idleRate*float64(loopWall)
		b.ReportMetric(busy/float64(n)/1e6, "server-cpu-ms")
	}
	if withStdlib {
		// net/http + encoding/json, paired with the tool call in a loop of
		// its own. Run between the pair's fetches, its 17 ms of this
		// process's own work left the pair uneven: the server idled through
		// it and the tool call that came next took about 0.8 ms longer,
		// while this process, busy until then, fetched no slower.
		for i := range n { // at the offsets after the first loop's (around the result)
			t, l := paired(i, ((i+n)%pages)*pageRows, tool, bareStdlib)
			stdlibT, ratiosStdlib = append(stdlibT, l), append(ratiosStdlib, t/l)
		}
	}
	b.ReportMetric(median(ratios), "ratio")
	b.ReportMetric(quantile(ratios, 0.25), "ratio-p25")
	b.ReportMetric(quantile(ratios, 0.75), "ratio-p75")
	if withStdlib {
		b.ReportMetric(median(ratiosStdlib), "ratio-stdlib")
		b.ReportMetric(median(stdlibT), "stdlib-ms")
	}
	b.ReportMetric(median(toolT), "tool-ms")
	b.ReportMetric(median(handler), "handler-ms")
	b.ReportMetric(median(clientT), "client-ms")
	b.ReportMetric(float64(early)/float64(n), "early-used")
	b.ReportMetric(float64(ready)/float64(n), "early-ready")
}

// median is the middle of xs (the mean of the two middles for even n).
func median(xs []float64) float64 { return quantile(xs, 0.5) }

// quantile is the q-quantile of xs, linearly interpolated between ranks.
func quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	pos := q * float64(len(s)-1)
	i := int(pos)
	if i+1 >= len(s) {
		return s[len(s)-1]
	}
	return s[i] + (pos-float64(i))*(s[i+1]-s[i])
}

// procCPU is the user + system CPU time pid has used so far, from
// /proc/<pid>/stat (fields 14 and 15, in clock ticks of 1/100 s, Linux's
// USER_HZ); false where there is no /proc.
func procCPU(pid int) (time.Duration, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	// The command name (field 2) is in parentheses and may hold spaces.
	rest := data[bytes.LastIndexByte(data, ')')+2:]
	f := strings.Fields(string(rest)) // f[0] is field 3
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * (time.Second / 100), true
}

// rawStdio is the binary on stdio driven with hand-written JSON-RPC lines,
// so the client's own cost is only writing a line, reading one and
// decoding it.
type rawStdio struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *bufio.Reader
	stderr *testio.SyncBuffer
	nextID int
}

func startRawStdio(b *testing.B, env []string) *rawStdio {
	b.Helper()
	cmd := exec.Command(bin)
	cmd.Env = env
	in, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	s := &rawStdio{cmd: cmd, in: in, out: bufio.NewReaderSize(out, 1<<20), stderr: &testio.SyncBuffer{}}
	cmd.Stderr = s.stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		in.Close() // EOF: the server exits
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return s
}

func (s *rawStdio) pid() int { return s.cmd.Process.Pid }

// loggedCall is what the server's log line of a tool call says.
type loggedCall struct {
	Message  string  `json:"message"`
	Duration float64 `json:"duration"` // ms, the handler's time (no transport)
	Upstream int     `json:"upstream_requests"`
	Rows     int     `json:"rows_fetched"`
	// EarlyRows: the summary started on this many rows while the page was
	// fetched (tools/early.go); 0: it did not, or that draft was dropped.
	EarlyRows int `json:"early_rows"`
	// EarlyReady: the answer was rendered before the page's last rows
	// arrived, and used (tools/early.go).
	EarlyReady bool `json:"early_ready"`
}

// waitCalls waits, for up to 10 s, until the server has logged n tool
// calls (it logs a call once its answer is written), and returns the calls
// logged.
func (s *rawStdio) waitCalls(b *testing.B, n int) []loggedCall {
	calls := s.calls(b)
	for deadline := time.Now().Add(10 * time.Second); len(calls) < n && time.Now().Before(deadline); calls = s.calls(b) {
		time.Sleep(10 * time.Millisecond)
	}
	return calls
}

// calls are the tool calls the server has logged so far.
func (s *rawStdio) calls(b *testing.B) []loggedCall {
	var calls []loggedCall
	for line := range strings.Lines(s.stderr.String()) {
		var c loggedCall
		if json.Unmarshal([]byte(line), &c) == nil && c.Message == "tool call" {
			calls = append(calls, c)
		}
	}
	return calls
}

// roundTrip writes one request and decodes the result of its answer into
// result, in one pass over the answer, skipping any notification the
// server writes before it.
func (s *rawStdio) roundTrip(b *testing.B, method string, params, result any) {
	s.nextID++
	line, err := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": s.nextID, "method": method, "params": params})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := s.in.Write(append(line, '\n')); err != nil {
		b.Fatalf("writing %s: %v; stderr:\n%s", method, err, s.stderr.String())
	}
	for {
		ans, err := s.out.ReadSlice('\n')
		if err != nil {
			b.Fatalf("reading the answer to %s: %v; stderr:\n%s", method, err, s.stderr.String())
		}
		msg := struct {
			ID     *int `json:"id"`
			Result any  `json:"result"`
			Error  *struct {
				Message string `json:"message"`
			} `json:"error"`
		}{Result: result}
		if err := json.Unmarshal(ans, &msg); err != nil {
			b.Fatalf("answer to %s is not JSON: %v: %.200q", method, err, ans)
		}
		if msg.ID == nil {
			continue // a notification
		}
		if *msg.ID != s.nextID || msg.Error != nil {
			b.Fatalf("answer to %s (id %d): %.300s", method, s.nextID, ans)
		}
		return
	}
}

func (s *rawStdio) initialize(b *testing.B, client string) {
	var res struct {
		ServerInfo struct {
			Name string `json:"name"`
		} `json:"serverInfo"`
	}
	s.roundTrip(b, "initialize", map[string]any{
		"protocolVersion": "2025-06-18",
		"capabilities":    map[string]any{},
		"clientInfo":      map[string]any{"name": client, "version": "1"},
	}, &res)
	if res.ServerInfo.Name != "dune-mcp" {
		b.Fatalf("initialize: server %q", res.ServerInfo.Name)
	}
	if _, err := s.in.Write([]byte(`{"jsonrpc":"2.0","method":"notifications/initialized"}` + "\n")); err != nil {
		b.Fatal(err)
	}
}

// benchResult is what the benchmark reads of a tools/call result, as a
// client that forwards it does: the text, and the structuredContent's
// fields it checks (the rows are parsed over, not turned into values).
type benchResult struct {
	IsError bool `json:"isError"`
	Content []struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"content"`
	Structured struct {
		ReturnedRows int `json:"returned_rows"`
		Offset       int `json:"offset"`
	} `json:"structuredContent"`
}

func (s *rawStdio) call(b *testing.B, name string, args map[string]any) benchResult {
	var r benchResult
	s.roundTrip(b, "tools/call", map[string]any{"name": name, "arguments": args}, &r)
	return r
}

// The benchmark's quartiles, checked by hand: ranks interpolate linearly.
func TestQuantile(t *testing.T) {
	xs := []float64{4, 1, 3, 2, 5} // sorted: 1 2 3 4 5
	for _, c := range []struct{ q, want float64 }{{0, 1}, {0.25, 2}, {0.5, 3}, {0.75, 4}, {1, 5}, {0.125, 1.5}} {
		if got := quantile(xs, c.q); got != c.want {
			t.Errorf("quantile(%v) = %v, want %v", c.q, got, c.want)
		}
	}
	if got := median([]float64{10, 1, 4, 2}); got != 3 {
		t.Errorf("median of 1 2 4 10 = %v, want 3", got)
	}
	if xs[0] != 4 {
		t.Error("quantile sorted its argument in place")
	}
}
