// Command load is `make load`: it starts `dune-mcp --demo --transport http`
// on 127.0.0.1, runs N streamable-HTTP MCP clients (mcp-go's client) against
// it for a bounded time, each making tool calls back to back, then stops the
// server with SIGTERM and prints calls/s, latency percentiles, errors by kind,
// and the server's memory (RSS) and open file descriptors before, at peak
// and after. It stops by itself.
//
//	go run ./cmd/load -bin ./dune-mcp -clients 200 -duration 60s
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcptransport "github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/internal/childenv"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

func main() {
	bin := flag.String("bin", "./dune-mcp", "the dune-mcp `binary` to load")
	clients := flag.Int("clients", 200, "concurrent MCP clients, `N`")
	duration := flag.Duration("duration", 60*time.Second, "how long the clients make calls")
	callTimeout := flag.Duration("call-timeout", 30*time.Second, "how long one call may take before it counts as a timeout")
	flag.Parse()
	if *clients < 1 || *duration <= 0 {
		fmt.Fprintln(os.Stderr, "load: -clients must be ≥ 1 and -duration > 0")
		os.Exit(2)
	}
	if err := run(*bin, *clients, *duration, *callTimeout, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "load:", err)
		os.Exit(1)
	}
}

// call is one tool call a client makes; the clients cycle through calls.
type call struct {
	name string
	args map[string]any
}

// mix is what every client does, in turn: small and large pages, a filter,
// a sample, each followed by next_page when it has a cursor.
var mix = []call{
	{"get_latest_result", map[string]any{"query_id": emulator.DemoTiny}},
	{"get_latest_result", map[string]any{"query_id": emulator.DemoDEXTrades, "max_tokens": 4000}},
	{"get_latest_result", map[string]any{"query_id": emulator.DemoDailySeries, "filters": "trades > 1000"}},
	{"sample_result", map[string]any{"query_id": emulator.DemoDEXTrades, "sample_count": 20}},
	{"get_latest_result", map[string]any{"query_id": emulator.DemoTopTokens}},
}

// result is the outcome of one call.
type result struct {
	took time.Duration
	kind string // "" for success, else the error kind
}

func run(bin string, n int, d, callTimeout time.Duration, out io.Writer) error {
	srv, err := startServer(bin)
	if err != nil {
		return err
	}
	defer srv.kill()
	before := srv.sample()
	fmt.Fprintf(out, "dune-mcp --demo on %s (pid %d); %d clients for %v\n", srv.url, srv.cmd.Process.Pid, n, d)

	// Peak descriptors and RSS, sampled while the clients run.
	stopSampling := make(chan struct{})
	peak := before
	var sampled sync.WaitGroup
	sampled.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopSampling:
				return
			case <-t.C:
				s := srv.sample()
				peak.fds = max(peak.fds, s.fds)
				peak.rssKB = max(peak.rssKB, s.rssKB)
			}
		}
	})

	results := make([][]result, n)
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	start := time.Now()
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i] = runClient(ctx, srv.url, i, callTimeout) })
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stopSampling)
	sampled.Wait()
	after := srv.sample()
	hwm := srv.peakRSS()
	cpu := srv.cpuTime()

	stopStart := time.Now()
	code, err := srv.stop()
	stopTook := time.Since(stopStart)

	report(out, results, elapsed)
	fmt.Fprintf(out, "server RSS: before %s, peak %s (VmHWM %s), after %s\n",
		mb(before.rssKB), mb(peak.rssKB), mb(hwm), mb(after.rssKB))
	fmt.Fprintf(out, "server open fds: before %s, peak %s, after %s\n", count(before.fds), count(peak.fds), count(after.fds))
	if total := calls(results); cpu >= 0 && total > 0 {
		// CPU time per call holds up on a shared machine, where calls/s
		// and latency measure the machine's load as much as the server.
		fmt.Fprintf(out, "server CPU: %.1f s in all, %.1f ms per call\n", cpu.Seconds(), float64(cpu.Milliseconds())/float64(total))
	}
	if err != nil {
		return fmt.Errorf("stopping the server: %w", err)
	}
	fmt.Fprintf(out, "server stopped with SIGTERM: exit %d in %v\n", code, stopTook.Round(time.Millisecond))
	return nil
}

// runClient connects one MCP client and makes calls until ctx ends.
func runClient(ctx context.Context, url string, i int, callTimeout time.Duration) []result {
	var out []result
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 2, IdleConnTimeout: 30 * time.Second}}
	defer hc.CloseIdleConnections()
	c, err := client.NewStreamableHttpClient(url, mcptransport.WithHTTPBasicClient(hc))
	if err == nil {
		err = c.Start(ctx)
	}
	if err == nil {
		ictx, cancel := context.WithTimeout(ctx, callTimeout)
		var req mcp.InitializeRequest
		req.Params.ClientInfo = mcp.Implementation{Name: "dune-mcp-load", Version: "1"}
		_, err = c.Initialize(ictx, req)
		cancel()
	}
	if err != nil {
		if ctx.Err() == nil {
			out = append(out, result{kind: "initialize: " + errKind(err)})
		}
		return out
	}
	defer c.Close()
	for n := i; ctx.Err() == nil; n++ {
		cl := mix[n%len(mix)]
		r, cursor := do(ctx, c, cl.name, cl.args, callTimeout)
		if ctx.Err() != nil && r.kind != "" {
			break // cut off by the end of the run: not the server's error
		}
		out = append(out, r)
		if cursor != "" && ctx.Err() == nil {
			r, _ = do(ctx, c, "next_page", map[string]any{"cursor": cursor}, callTimeout)
			if ctx.Err() != nil && r.kind != "" {
				break
			}
			out = append(out, r)
		}
	}
	return out
}

// do makes one call and returns its result and next_cursor.
func do(ctx context.Context, c *client.Client, name string, args map[string]any, timeout time.Duration) (result, string) {
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	start := time.Now()
	res, err := c.CallTool(cctx, req)
	r := result{took: time.Since(start)}
	switch {
	case err != nil:
		r.kind = errKind(err)
	case res.IsError:
		r.kind = "isError: " + firstWords(res)
	}
	var cursor string
	if err == nil && !res.IsError {
		if m, ok := res.StructuredContent.(map[string]any); ok {
			cursor, _ = m["next_cursor"].(string)
		}
	}
	return r, cursor
}

// errKind names a transport-level failure.
func errKind(err error) string {
	var ne net.Error
	switch s := err.Error(); {
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || strings.Contains(s, "EOF"):
		return "connection closed"
	case strings.Contains(s, "503"):
		return "HTTP 503"
	default:
		if len(s) > 60 {
			s = s[:60]
		}
		return "transport: " + s
	}
}

// firstWords is the first few words of an isError result's text.
func firstWords(res *mcp.CallToolResult) string {
	for _, c := range res.Content {
		if tc, ok := mcp.AsTextContent(c); ok {
			w := strings.Fields(tc.Text)
			return strings.Join(w[:min(len(w), 6)], " ")
		}
	}
	return "(no text)"
}

func report(out io.Writer, results [][]result, elapsed time.Duration) {
	var lat []time.Duration
	kinds := map[string]int{}
	total := 0
	for _, rs := range results {
		for _, r := range rs {
			total++
			if r.kind != "" {
				kinds[r.kind]++
				continue
			}
			lat = append(lat, r.took)
		}
	}
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	fmt.Fprintf(out, "calls: %d in %v = %.1f calls/s; ok %d, errors %d\n",
		total, elapsed.Round(time.Millisecond), float64(total)/elapsed.Seconds(), len(lat), total-len(lat))
	fmt.Fprintf(out, "latency of ok calls: p50 %v, p99 %v, max %v\n",
		pct(0.50).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), pct(1).Round(time.Millisecond))
	if len(kinds) == 0 {
		fmt.Fprintln(out, "errors by kind: none")
		return
	}
	fmt.Fprintln(out, "errors by kind:")
	names := make([]string, 0, len(kinds))
	for k := range kinds {
		names = append(names, k)
	}
	slices.SortFunc(names, func(a, b string) int { return kinds[b] - kinds[a] })
	for _, k := range names {
		fmt.Fprintf(out, "  %6d  %s\n", kinds[k], k)
	}
}

// server is the dune-mcp child process.
type server struct {
	cmd  *exec.Cmd
	url  string
	done chan struct{}
	err  error
}

// startServer runs bin --demo over HTTP on a free loopback port and waits
// for its "listening" log line.
func startServer(bin string) (*server, error) {
	// The default log level (info): a line per request and per call is part
	// of the server's work.
	cmd := exec.Command(bin, "--demo", "--transport", "http", "--addr", "127.0.0.1:0")
	cmd.Env = childenv.Environ()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	s := &server{cmd: cmd, done: make(chan struct{})}
	addr := make(chan string, 1)
	// Read the address from the "listening" line, then keep draining stderr
	// so the server never blocks on it.
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			var m struct {
				Message string `json:"message"`
				Addr    string `json:"addr"`
			}
			if json.Unmarshal(sc.Bytes(), &m) == nil && m.Message == "listening" {
				select {
				case addr <- m.Addr:
				default:
				}
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	go func() { s.err = cmd.Wait(); close(s.done) }()
	select {
	case a := <-addr:
		s.url = "http://" + a + "/mcp"
		return s, nil
	case <-s.done:
		return nil, fmt.Errorf("%s exited before listening: %v", bin, s.err)
	case <-time.After(30 * time.Second):
		s.kill()
		return nil, fmt.Errorf("%s did not log \"listening\" within 30 s", bin)
	}
}

// stop sends SIGTERM and waits for the exit (at most 30 s).
func (s *server) stop() (int, error) {
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return 0, err
	}
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		s.kill()
		return 0, errors.New("no exit within 30 s of SIGTERM")
	}
	var ee *exec.ExitError
	if errors.As(s.err, &ee) {
		return ee.ExitCode(), nil
	}
	return 0, s.err
}

func (s *server) kill() {
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

// usage is the server's resident memory and open descriptors; -1 where
// /proc is not available.
type usage struct {
	rssKB int64
	fds   int
}

func (s *server) sample() usage {
	pid := s.cmd.Process.Pid
	u := usage{rssKB: procStatusKB(pid, "VmRSS:"), fds: -1}
	if ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid)); err == nil {
		u.fds = len(ents)
	}
	return u
}

// cpuTime is the CPU time (user + system) the server has used, or -1.
// /proc/<pid>/stat counts it in clock ticks, 100 a second on Linux.
func (s *server) cpuTime() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	// Fields after the command name, which is in parentheses: state is
	// the first, utime the 12th and stime the 13th.
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if i < 0 || len(f) < 13 {
		return -1
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return time.Duration(u+st) * 10 * time.Millisecond
}

// calls counts the calls made.
func calls(results [][]result) int {
	n := 0
	for _, rs := range results {
		n += len(rs)
	}
	return n
}

// peakRSS is the kernel's high-water mark of the server's RSS.
func (s *server) peakRSS() int64 { return procStatusKB(s.cmd.Process.Pid, "VmHWM:") }

// procStatusKB reads a "Name:   123 kB" field of /proc/<pid>/status.
func procStatusKB(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field); ok {
			if f := strings.Fields(rest); len(f) > 0 {
				if n, err := strconv.ParseInt(f[0], 10, 64); err == nil {
					return n
				}
			}
		}
	}
	return -1
}

func mb(kb int64) string {
	if kb < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f MB", float64(kb)/1024)
}

func count(n int) string {
	if n < 0 {
		return "n/a"
	}
	return strconv.Itoa(n)
}
