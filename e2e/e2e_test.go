// Package e2e builds the real dune-mcp binary once and drives it as users
// and MCP clients do: over stdio, streamable HTTP and legacy SSE, against an
// in-test Dune API emulator.
package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcptransport "github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/internal/childenv"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/testio"
)

const (
	testVersion = "e2e-1.2.3"
	// Distinctive secrets, grepped for in every stderr.
	duneKey   = "e2e-dune-key-7f3a9c1d2b"
	authToken = "e2e-auth-token-5b8e2d4f6a1c"
)

var bin string

func TestMain(m *testing.M) {
	// DUNE_MCP_E2E_BIN runs a binary built elsewhere instead, stamped with
	// testVersion (-ldflags "-X main.version=e2e-1.2.3"): one that outlives
	// the run, for a profiler (perf record -g, then perf report --comm).
	if bin = os.Getenv("DUNE_MCP_E2E_BIN"); bin != "" {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "dune-mcp-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "dune-mcp")
	build := exec.Command("go", "build", "-ldflags", "-X main.version="+testVersion, "-o", bin, "github.com/dune-mcp/dune-mcp")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "building dune-mcp:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// baseEnv is a child's environment by the rule of childenv (ours without
// any DUNE_* variable, so none leaks in from the developer's shell) plus kv,
// given as name, value, name, value, ...
func baseEnv(kv ...string) []string {
	return childenv.Environ(childenv.Pairs(kv...)...)
}

func newEmulator(t *testing.T) *emulator.Server {
	t.Helper()
	emu := emulator.NewServer(emulator.WithDemoData(), emulator.WithAPIKey(duneKey))
	t.Cleanup(emu.Close)
	return emu
}

// runOnce runs the binary to completion.
func runOnce(t *testing.T, env []string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Stdin = strings.NewReader("")
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		code = ee.ExitCode()
	default:
		t.Fatalf("run %v: %v", args, err)
	}
	return out.String(), errb.String(), code
}

// proc is a long-running dune-mcp process.
type proc struct {
	t      *testing.T
	cmd    *exec.Cmd
	stderr *testio.SyncBuffer
	stdout *testio.SyncBuffer
	done   chan struct{}
	err    error
}

func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, cmd: exec.Command(bin, args...), stderr: &testio.SyncBuffer{}, stdout: &testio.SyncBuffer{}, done: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

// waitLog waits for a JSON log line with the given message and returns it.
func (p *proc) waitLog(msg string) map[string]any {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		for _, line := range strings.Split(p.stderr.String(), "\n") {
			var m map[string]any
			if json.Unmarshal([]byte(line), &m) == nil && m["message"] == msg {
				return m
			}
		}
		select {
		case <-p.done:
			p.t.Fatalf("process exited (%v) before logging %q; stderr:\n%s", p.err, msg, p.stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	p.t.Fatalf("no %q log line; stderr:\n%s", msg, p.stderr.String())
	return nil
}

// waitStdout waits until the process's stdout contains want.
func (p *proc) waitStdout(want string) {
	p.t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(p.stdout.String(), want); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			p.t.Fatalf("stdout lacks %q:\n%s", want, p.stdout.String())
		}
	}
}

// stop sends SIGTERM and returns the exit code.
func (p *proc) stop() int {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatal(err)
	}
	return p.wait()
}

func (p *proc) wait() int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.t.Fatalf("process did not exit; stderr:\n%s", p.stderr.String())
	}
	var ee *exec.ExitError
	if errors.As(p.err, &ee) {
		return ee.ExitCode()
	}
	if p.err != nil {
		p.t.Fatal(p.err)
	}
	return 0
}

// startHTTP runs the binary with --transport http on a free loopback port.
func startHTTP(t *testing.T, env []string, args ...string) (*proc, string) {
	t.Helper()
	p := start(t, env, append([]string{"--transport", "http", "--addr", "127.0.0.1:0"}, args...)...)
	m := p.waitLog("listening")
	return p, "http://" + m["addr"].(string)
}

func assertNoSecrets(t *testing.T, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("%s contains the secret %q", where, s)
		}
	}
}

func assertJSONLines(t *testing.T, where, text string) {
	t.Helper()
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if line == "" {
			continue
		}
		if !json.Valid([]byte(line)) {
			t.Errorf("%s: line is not JSON: %q", where, line)
		}
	}
}

func initialize(t *testing.T, c *client.Client, version string) *mcp.InitializeResult {
	t.Helper()
	// SSE ties its stream to Start's context: keep it alive.
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var req mcp.InitializeRequest
	req.Params.ProtocolVersion = version
	req.Params.ClientInfo = mcp.Implementation{Name: "dune-mcp-e2e", Version: "1"}
	res, err := c.Initialize(ctx, req)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return res
}

func call(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var req mcp.CallToolRequest
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("%s(%v): %v", name, args, err)
	}
	return res
}

func text(res *mcp.CallToolResult) string {
	var b strings.Builder
	for _, c := range res.Content {
		if tc, ok := mcp.AsTextContent(c); ok {
			b.WriteString(tc.Text)
		}
	}
	return b.String()
}

func structured(t *testing.T, res *mcp.CallToolResult) map[string]any {
	t.Helper()
	m, ok := res.StructuredContent.(map[string]any)
	if !ok {
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, &m); err != nil || m == nil {
			t.Fatalf("structuredContent is not an object: %T %s", res.StructuredContent, b)
		}
	}
	return m
}

// assertProgress makes a call with a progress token and asserts that at
// least one progress notification for it reaches the client. The emulator
// answers slowly, so the notification sent before the fetch is out well
// before the answer (mcp-go sends stdio notifications on their own
// goroutine, unordered with responses).
func assertProgress(t *testing.T, c *client.Client, emu *emulator.Server, token string) {
	t.Helper()
	var seen atomic.Int32
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == "notifications/progress" && n.Params.AdditionalFields["progressToken"] == token {
			seen.Add(1)
		}
	})
	emu.InjectFault(emulator.Fault{Latency: 300 * time.Millisecond})
	var req mcp.CallToolRequest
	req.Params.Name = "get_latest_result"
	req.Params.Arguments = map[string]any{"query_id": emulator.DemoTiny}
	req.Params.Meta = &mcp.Meta{ProgressToken: token}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	if r, err := c.CallTool(ctx, req); err != nil || r.IsError {
		t.Fatalf("call with a progress token: %v %v", err, r)
	}
	for deadline := time.Now().Add(5 * time.Second); seen.Load() == 0; {
		if time.Now().After(deadline) {
			t.Fatal("no progress notification reached the client")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// exerciseTools lists the tools and calls each one the way an agent would:
// a first page, the next page through the cursor, a sample.
func exerciseTools(t *testing.T, c *client.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range list.Tools {
		names = append(names, tool.Name)
		// get_latest_result may run the query (max_age_hours): it spends
		// credits and replaces the latest result, so it is not read-only.
		readOnly := tool.Name != "get_latest_result"
		if tool.Annotations.ReadOnlyHint == nil || *tool.Annotations.ReadOnlyHint != readOnly {
			t.Errorf("%s: readOnlyHint %v, want %v", tool.Name, tool.Annotations.ReadOnlyHint, readOnly)
		}
	}
	if strings.Join(names, ",") != "get_latest_result,next_page,sample_result" {
		t.Fatalf("tools = %v", names)
	}

	first := call(t, c, "get_latest_result", map[string]any{"query_id": emulator.DemoDEXTrades, "columns": []string{"block_time", "project", "amount_usd"}, "max_tokens": 600})
	if first.IsError {
		t.Fatalf("get_latest_result: %s", text(first))
	}
	s1 := structured(t, first)
	if s1["total_row_count"] != float64(100000) || s1["has_more"] != true || s1["next_cursor"] == nil {
		t.Fatalf("first page structured content: %v", s1)
	}
	shown := s1["returned_rows"].(float64)

	next := call(t, c, "next_page", map[string]any{"cursor": s1["next_cursor"], "max_tokens": 600})
	if next.IsError {
		t.Fatalf("next_page: %s", text(next))
	}
	s2 := structured(t, next)
	if s2["offset"] != shown || s2["execution_id"] != s1["execution_id"] {
		t.Errorf("next_page continued at offset %v of %v, want %v of %v", s2["offset"], s2["execution_id"], shown, s1["execution_id"])
	}

	sample := call(t, c, "sample_result", map[string]any{"query_id": "1004", "sample_count": 5})
	if sample.IsError {
		t.Fatalf("sample_result: %s", text(sample))
	}
	// Dune's sample_count is approximate.
	if s3 := structured(t, sample); s3["total_row_count"] != float64(1096) || s3["returned_rows"].(float64) < 1 || s3["returned_rows"].(float64) > 20 {
		t.Errorf("sample_result: %v rows of %v, want about 5 of 1096", s3["returned_rows"], s3["total_row_count"])
	}
}

func TestVersion(t *testing.T) {
	for _, env := range [][]string{
		baseEnv(),
		// --version answers whatever else is misconfigured.
		baseEnv("DUNE_MCP_MAX_TOKENS", "abc", "DUNE_MCP_TRANSPORT", "ws"),
	} {
		out, errOut, code := runOnce(t, env, "--version")
		if code != 0 || strings.TrimSpace(out) != "dune-mcp "+testVersion || errOut != "" {
			t.Errorf("--version with %v: code %d, stdout %q, stderr %q", env[2:], code, out, errOut)
		}
	}
}

func TestUsageErrorsExit2WithOneLine(t *testing.T) {
	cases := []struct {
		name string
		env  []string
		args []string
		want string
	}{
		{"unknown flag", baseEnv(duneKeyEnv...), []string{"--frobnicate"}, "flag provided but not defined"},
		{"bad transport", baseEnv(duneKeyEnv...), []string{"--transport", "ws"}, "invalid --transport"},
		{"bad max tokens", baseEnv(duneKeyEnv...), []string{"--max-tokens", "lots"}, "invalid --max-tokens"},
		{"bad env value", baseEnv("DUNE_API_KEY", duneKey, "DUNE_MCP_MAX_TOKENS", "-5"), nil, "invalid DUNE_MCP_MAX_TOKENS"},
		{"bad log format", baseEnv(duneKeyEnv...), []string{"--log-format", "xml"}, "invalid --log-format"},
		{"bad base url", baseEnv(duneKeyEnv...), []string{"--dune-base-url", "api.dune.com"}, "invalid --dune-base-url"},
		{"stray argument", baseEnv(duneKeyEnv...), []string{"serve"}, "unexpected argument"},
		{"non-loopback without token", baseEnv(), []string{"--transport", "http", "--addr", "0.0.0.0:0"}, "--allow-unauthenticated"},
		{"emulator bad flag", baseEnv(), []string{"emulator", "--port", "1"}, "flag provided but not defined"},
		{"demo-session bad flag", baseEnv(), []string{"demo-session", "--port", "1"}, "flag provided but not defined"},
		{"demo-session stray argument", baseEnv(), []string{"demo-session", "now"}, "unexpected argument"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := runOnce(t, tc.env, tc.args...)
			if code != 2 {
				t.Errorf("exit code %d, want 2", code)
			}
			if out != "" {
				t.Errorf("stdout not empty: %q", out)
			}
			lines := strings.Split(strings.TrimRight(errOut, "\n"), "\n")
			if len(lines) != 1 || !strings.HasPrefix(lines[0], "dune-mcp: ") || !strings.Contains(lines[0], tc.want) {
				t.Errorf("stderr %q: want one line containing %q", errOut, tc.want)
			}
		})
	}
}

var duneKeyEnv = []string{"DUNE_API_KEY", duneKey}

func TestHelpExitsZero(t *testing.T) {
	_, errOut, code := runOnce(t, baseEnv(), "--help")
	if code != 0 || !strings.Contains(errOut, "--transport") && !strings.Contains(errOut, "-transport") {
		t.Fatalf("--help: code %d, stderr %q", code, errOut)
	}
}

// stdioSession starts the binary over stdio with a client on its pipes and
// a copy of everything it writes to stdout.
func stdioSession(t *testing.T, env []string, args ...string) (*client.Client, *proc, *testio.SyncBuffer, io.WriteCloser) {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	// Not StdoutPipe: Wait closes that as soon as the process exits, and
	// with it the answers the client has not read yet (the last ones a
	// server writes before it exits).
	stdout, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stdout.Close() })
	cmd.Stdout = w
	p := &proc{t: t, cmd: cmd, stderr: &testio.SyncBuffer{}, stdout: &testio.SyncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = p.stderr
	err = cmd.Start()
	w.Close() // the child has its copy; EOF comes when it exits
	if err != nil {
		t.Fatal(err)
	}
	// Wait reads nothing from the pipes: the client reads stdout through the tee.
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	tr := mcptransport.NewIO(io.TeeReader(stdout, p.stdout), stdin, io.NopCloser(strings.NewReader("")))
	return client.NewClient(tr), p, p.stdout, stdin
}

func TestStdio(t *testing.T) {
	emu := newEmulator(t)
	env := baseEnv("DUNE_API_KEY", duneKey, "DUNE_API_BASE_URL", emu.URL, "DUNE_MCP_CURSOR_SECRET", "cursor-secret-e2e-99")
	c, p, stdout, stdin := stdioSession(t, env)
	res := initialize(t, c, "")
	if res.ServerInfo.Name != "dune-mcp" || res.ServerInfo.Version != testVersion {
		t.Errorf("server info %+v", res.ServerInfo)
	}
	if !strings.Contains(res.Instructions, "next_page") || strings.Contains(res.Instructions, "DEMO") {
		t.Errorf("instructions: %q", res.Instructions)
	}
	exerciseTools(t, c)

	assertProgress(t, c, emu, "p-stdio")
	// The rows a large page fetched but did not show are stored once its
	// answer is written: the next_page sent on reading it finds them.
	for i := range 3 {
		r := structured(t, call(t, c, "get_latest_result", map[string]any{"query_id": emulator.DemoDEXTrades, "limit": 1000, "offset": 5000 * i}))
		before := emu.Stats().Requests
		n := structured(t, call(t, c, "next_page", map[string]any{"cursor": r["next_cursor"]}))
		if got := emu.Stats().Requests - before; got != 0 || n["offset"] != float64(5000*i)+r["returned_rows"].(float64) || n["datapoints"] != float64(0) {
			t.Fatalf("next_page right after a 1,000-row page: %d Dune requests, offset %v, datapoints %v; want 0, the row after the page's, 0", got, n["offset"], n["datapoints"])
		}
	}
	// A tool failure is an isError result, not a protocol error.
	if r := call(t, c, "get_latest_result", map[string]any{"query_id": emulator.DemoFailed}); !r.IsError || !strings.Contains(text(r), "FAILED") {
		t.Errorf("failed execution: isError %v, %q", r.IsError, text(r))
	}

	stdin.Close() // the client quits: EOF
	if code := p.wait(); code != 0 {
		t.Errorf("exit code after EOF: %d; stderr:\n%s", code, p.stderr.String())
	}

	// stdout purity: every line is a JSON-RPC 2.0 message.
	lines := 0
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	sc.Buffer(make([]byte, 4<<20), 4<<20)
	for sc.Scan() {
		lines++
		var msg struct {
			JSONRPC string `json:"jsonrpc"`
		}
		if err := json.Unmarshal(sc.Bytes(), &msg); err != nil || msg.JSONRPC != "2.0" {
			t.Errorf("stdout line is not JSON-RPC: %.200q", sc.Text())
		}
	}
	if lines < 6 {
		t.Errorf("only %d stdout lines", lines)
	}
	errOut := p.stderr.String()
	assertNoSecrets(t, "stderr", errOut, duneKey, "cursor-secret-e2e-99")
	assertJSONLines(t, "stderr", errOut)
	if !strings.Contains(errOut, `"tool":"get_latest_result"`) {
		t.Errorf("no per-call log line on stderr:\n%s", errOut)
	}
}

func TestStdioSignalExitsZero(t *testing.T) {
	c, p, _, _ := stdioSession(t, baseEnv(), "--demo")
	initialize(t, c, mcp.ProtocolVersion20250618)
	if code := p.stop(); code != 0 {
		t.Fatalf("exit code after SIGTERM: %d; stderr:\n%s", code, p.stderr.String())
	}
}

func TestStdioInterruptExitsZero(t *testing.T) {
	c, p, _, _ := stdioSession(t, baseEnv(), "--demo")
	initialize(t, c, mcp.ProtocolVersion20250618)
	if err := p.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit code after SIGINT: %d; stderr:\n%s", code, p.stderr.String())
	}
}

func TestDemoMode(t *testing.T) {
	// DUNE_API_BASE_URL points nowhere: demo mode must not use it.
	env := baseEnv("DUNE_API_BASE_URL", "http://127.0.0.1:1", "DUNE_MCP_DEMO", "1")
	c, p, _, stdin := stdioSession(t, env, "--log-format", "console")
	res := initialize(t, c, mcp.ProtocolVersion20251125)
	for _, want := range []string{"DEMO", "1001", "1006"} {
		if !strings.Contains(res.Instructions, want) {
			t.Errorf("demo instructions lack %q", want)
		}
	}
	r := call(t, c, "get_latest_result", map[string]any{"query_id": "1005"})
	if r.IsError || !strings.Contains(text(r), "DEMO") {
		t.Errorf("demo result: isError %v %q", r.IsError, text(r))
	}
	exerciseTools(t, c)
	stdin.Close()
	if code := p.wait(); code != 0 {
		t.Errorf("exit %d", code)
	}
	errOut := p.stderr.String()
	if strings.HasPrefix(strings.TrimSpace(errOut), "{") || !strings.Contains(errOut, "starting dune-mcp") {
		t.Errorf("--log-format console: stderr %q", errOut)
	}
}

func TestHTTP(t *testing.T) {
	emu := newEmulator(t)
	env := baseEnv("DUNE_API_KEY", duneKey, "DUNE_API_BASE_URL", emu.URL, "DUNE_MCP_AUTH_TOKEN", authToken)
	p, base := startHTTP(t, env, "--allowed-origins", "https://app.example.com")
	auth := map[string]string{"Authorization": "Bearer " + authToken}

	t.Run("healthz", func(t *testing.T) {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || resp.StatusCode != 200 || body["status"] != "ok" || body["version"] != testVersion {
			t.Fatalf("healthz: %d %v %v", resp.StatusCode, body, err)
		}
	})

	rawPost := func(t *testing.T, path string, hdr map[string]string) *http.Response {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"ping"}`))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json, text/event-stream")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}

	t.Run("auth", func(t *testing.T) {
		for _, path := range []string{"/mcp", "/message", "/sse"} {
			for name, hdr := range map[string]map[string]string{"none": nil, "wrong": {"Authorization": "Bearer wrong-token"}} {
				var resp *http.Response
				if path == "/sse" {
					req, _ := http.NewRequest(http.MethodGet, base+path, nil)
					for k, v := range hdr {
						req.Header.Set(k, v)
					}
					var err error
					if resp, err = http.DefaultClient.Do(req); err != nil {
						t.Fatal(err)
					}
					resp.Body.Close()
				} else {
					resp = rawPost(t, path, hdr)
				}
				if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
					t.Errorf("%s with %s token: %d %q", path, name, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
				}
			}
		}
		c, err := client.NewStreamableHttpClient(base+"/mcp", mcptransport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer nope"}))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.Start(context.Background())
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := c.Initialize(ctx, mcp.InitializeRequest{}); err == nil {
			t.Error("client with a wrong token initialized")
		}
		_ = c.Close()
		if resp := rawPost(t, "/mcp", auth); resp.StatusCode != http.StatusOK {
			t.Errorf("with the token: %d", resp.StatusCode)
		}
	})

	t.Run("origin", func(t *testing.T) {
		for origin, want := range map[string]int{
			"https://evil.example":    http.StatusForbidden,
			"http://localhost:6274":   http.StatusOK,
			"https://app.example.com": http.StatusOK,
		} {
			hdr := map[string]string{"Origin": origin, "Authorization": "Bearer " + authToken}
			if resp := rawPost(t, "/mcp", hdr); resp.StatusCode != want {
				t.Errorf("Origin %s: %d, want %d", origin, resp.StatusCode, want)
			}
		}
	})

	t.Run("streamable", func(t *testing.T) {
		c, err := client.NewStreamableHttpClient(base+"/mcp", mcptransport.WithHTTPHeaders(auth))
		if err != nil {
			t.Fatal(err)
		}
		initialize(t, c, "")
		exerciseTools(t, c)
		// Progress notifications travel in the call's response stream.
		assertProgress(t, c, emu, "p-http")
	})
	t.Run("streamable 2025-06-18", func(t *testing.T) {
		tr, err := mcptransport.NewStreamableHTTP(base+"/mcp", mcptransport.WithHTTPHeaders(auth))
		if err != nil {
			t.Fatal(err)
		}
		c := client.NewClient(tr, client.WithProtocolVersion(mcp.ProtocolVersion20250618))
		res := initialize(t, c, mcp.ProtocolVersion20250618)
		if res.ProtocolVersion != mcp.ProtocolVersion20250618 {
			t.Errorf("negotiated %s", res.ProtocolVersion)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		//lint:ignore SA1019 the legacy protocol era (logging/setLevel, ping) is what older clients use
		if err := c.Ping(ctx); err != nil {
			t.Errorf("ping: %v", err)
		}
		var lvl mcp.SetLevelRequest
		lvl.Params.Level = mcp.LoggingLevelWarning
		//lint:ignore SA1019 the legacy protocol era (logging/setLevel, ping) is what older clients use
		if err := c.SetLevel(ctx, lvl); err != nil {
			t.Errorf("logging/setLevel: %v", err)
		}
		exerciseTools(t, c)
	})
	t.Run("sse", func(t *testing.T) {
		c, err := client.NewSSEMCPClient(base+"/sse", client.WithHeaders(auth))
		if err != nil {
			t.Fatal(err)
		}
		initialize(t, c, "")
		exerciseTools(t, c)
	})
	t.Run("sse 2024-11-05", func(t *testing.T) {
		tr, err := mcptransport.NewSSE(base+"/sse", mcptransport.WithHeaders(auth))
		if err != nil {
			t.Fatal(err)
		}
		c := client.NewClient(tr, client.WithProtocolVersion(mcp.ProtocolVersion20241105))
		initialize(t, c, mcp.ProtocolVersion20241105)
		exerciseTools(t, c)
	})

	if code := p.stop(); code != 0 {
		t.Errorf("exit code after SIGTERM: %d", code)
	}
	errOut := p.stderr.String()
	assertNoSecrets(t, "stderr", errOut, duneKey, authToken)
	assertJSONLines(t, "stderr", errOut)
	if p.stdout.String() != "" {
		t.Errorf("HTTP mode wrote to stdout: %q", p.stdout.String())
	}
	for _, want := range []string{`"path":"/mcp"`, `"message":"shutting down"`, `"message":"stopped"`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %s", want)
		}
	}
}

func TestHTTPPerRequestKeys(t *testing.T) {
	emu := newEmulator(t)
	// No DUNE_API_KEY: every client brings its own.
	p, base := startHTTP(t, baseEnv("DUNE_API_BASE_URL", emu.URL))
	const wrongKey = "e2e-wrong-key-0c4d"
	cases := []struct {
		name    string
		key     string
		wantErr string // "" = success
	}{
		{"own key", duneKey, ""},
		{"wrong key", wrongKey, "API key"},
		{"no key", "", "X-Dune-Api-Key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tc.key != "" {
				hdr["X-Dune-Api-Key"] = tc.key
			}
			for _, kind := range []string{"streamable", "sse"} {
				var c *client.Client
				var err error
				if kind == "sse" {
					c, err = client.NewSSEMCPClient(base+"/sse", client.WithHeaders(hdr))
				} else {
					c, err = client.NewStreamableHttpClient(base+"/mcp", mcptransport.WithHTTPHeaders(hdr))
				}
				if err != nil {
					t.Fatal(err)
				}
				initialize(t, c, "")
				r := call(t, c, "get_latest_result", map[string]any{"query_id": emulator.DemoTiny})
				switch {
				case tc.wantErr == "" && r.IsError:
					t.Errorf("%s: isError: %s", kind, text(r))
				case tc.wantErr != "" && (!r.IsError || !strings.Contains(text(r), tc.wantErr)):
					t.Errorf("%s: isError %v %q, want an error mentioning %q", kind, r.IsError, text(r), tc.wantErr)
				}
			}
		})
	}
	if code := p.stop(); code != 0 {
		t.Errorf("exit code %d", code)
	}
	assertNoSecrets(t, "stderr", p.stderr.String(), duneKey, wrongKey)
}

func TestHTTPGracefulShutdownWithCallInFlight(t *testing.T) {
	emu := newEmulator(t)
	p, base := startHTTP(t, baseEnv("DUNE_API_KEY", duneKey, "DUNE_API_BASE_URL", emu.URL))
	c, err := client.NewStreamableHttpClient(base + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	initialize(t, c, "")
	// An idle SSE client holds a stream open: shutdown must close it, not wait on it.
	idle, err := client.NewSSEMCPClient(base + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	initialize(t, idle, "")
	emu.ResetStats()
	emu.InjectFault(emulator.Fault{Latency: 1500 * time.Millisecond})
	type result struct {
		res *mcp.CallToolResult
		err error
	}
	resc := make(chan result, 1)
	go func() {
		var req mcp.CallToolRequest
		req.Params.Name = "get_latest_result"
		req.Params.Arguments = map[string]any{"query_id": emulator.DemoTiny}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		res, err := c.CallTool(ctx, req)
		resc <- result{res, err}
	}()
	// Wait until the upstream request is being served (slowly).
	for deadline := time.Now().Add(10 * time.Second); emu.Stats().Requests == 0; {
		if time.Now().After(deadline) {
			t.Fatal("the call never reached the emulator")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	r := <-resc
	if r.err != nil || r.res.IsError {
		t.Fatalf("in-flight call after SIGTERM: %v %v", r.err, r.res)
	}
	if code := p.wait(); code != 0 {
		t.Fatalf("exit code %d; stderr:\n%s", code, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), `"in_flight":1`) {
		t.Errorf("shutdown did not see the call in flight:\n%s", p.stderr.String())
	}
}

func TestAllowUnauthenticatedNonLoopback(t *testing.T) {
	p := start(t, baseEnv(), "--demo", "--transport", "sse", "--addr", "0.0.0.0:0", "--allow-unauthenticated")
	m := p.waitLog("listening")
	_, port, _ := strings.Cut(m["addr"].(string), "]:")
	if port == "" {
		_, port, _ = strings.Cut(m["addr"].(string), ":")
	}
	resp, err := http.Get("http://127.0.0.1:" + port + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if body["demo"] != true {
		t.Errorf("healthz %v", body)
	}
	if !strings.Contains(p.stderr.String(), "WITHOUT authentication") {
		t.Error("no warning about the unauthenticated public bind")
	}
	if code := p.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestEmulatorSubcommand(t *testing.T) {
	p := start(t, baseEnv(), "emulator", "--addr", "127.0.0.1:0")
	url := "http://" + p.waitLog("emulator listening")["addr"].(string)
	// stdout and stderr reach the test through separate copies, so the
	// start-up text written before the log line may still be on its way.
	p.waitStdout("DUNE_API_BASE_URL=" + url)
	if first := strings.SplitN(p.stdout.String(), "\n", 2)[0]; !strings.HasSuffix(first, url) {
		t.Fatalf("first line %q does not end with the URL %s", first, url)
	}
	req, _ := http.NewRequest(http.MethodGet, url+"/api/v1/query/1005/results?limit=2", nil)
	req.Header.Set("X-Dune-Api-Key", emulator.DefaultAPIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		State  string `json:"state"`
		Result struct {
			Rows []map[string]any `json:"rows"`
		} `json:"result"`
	}
	err = json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || len(body.Result.Rows) != 2 {
		t.Fatalf("emulator answer: %d %+v %v", resp.StatusCode, body, err)
	}
	for _, want := range []string{"1001", "1006", "DUNE_API_BASE_URL=" + url} {
		if !strings.Contains(p.stdout.String(), want) {
			t.Errorf("start-up text lacks %q", want)
		}
	}
	if code := p.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestDemoSessionSubcommand(t *testing.T) {
	// Settings meant for another run must not derail the scripted session.
	env := baseEnv("DUNE_MCP_TRANSPORT", "http", "DUNE_MCP_LOG_FORMAT", "xml", "DUNE_MCP_MAX_TOKENS", "abc",
		"DUNE_API_BASE_URL", "http://127.0.0.1:1", "DUNE_MCP_DEMO", "false", "DUNE_MCP_CALL_TIMEOUT", "1ns")
	out, errOut, code := runOnce(t, env, "demo-session")
	if code != 0 {
		t.Fatalf("demo-session exit %d: %s", code, errOut)
	}
	for _, want := range []string{"get_latest_result", "next_page", "sample_result", "DEMO", "isError: true"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo-session output lacks %q", want)
		}
	}
}

// A stdio client may close the server's stderr before it closes stdin
// (mcp-go's client does on Close); the log lines written after that must
// not kill the server with SIGPIPE: EOF still exits 0.
func TestStdioClosedStderrStillExitsZero(t *testing.T) {
	cmd := exec.Command(bin, "--demo")
	cmd.Env = baseEnv()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	// Read the startup log line, then close our end of stderr.
	if _, err := bufio.NewReader(stderr).ReadString('\n'); err != nil {
		t.Fatalf("reading startup log: %v", err)
	}
	stderr.Close()

	// A tool call logs a line to the closed stderr; its answer must still come.
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	for _, msg := range []string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"e2e","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"get_latest_result","arguments":{"query_id":1005}}}`,
	} {
		if _, err := io.WriteString(stdin, msg+"\n"); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond) // let the call run and log
	stdin.Close()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after EOF with stderr closed: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("server did not exit after EOF")
	}
}

// toolLogs returns the per-call log lines ("tool call") in a JSON stderr.
func toolLogs(stderr string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == "tool call" {
			out = append(out, m)
		}
	}
	return out
}

// waitToolLog polls stderr until a "tool call" line matches, or fails after
// within.
func (p *proc) waitToolLog(within time.Duration, match func(map[string]any) bool) map[string]any {
	p.t.Helper()
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, m := range toolLogs(p.stderr.String()) {
			if match(m) {
				return m
			}
		}
	}
	p.t.Fatalf("no matching tool call log line within %v; stderr:\n%s", within, p.stderr.String())
	return nil
}

func waitUpstream(t *testing.T, emu *emulator.Server) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); emu.Stats().Requests == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the call never reached the emulator")
		}
	}
}

// Streamable HTTP is stateless, so request ids are not scoped to a client:
// client B's notifications/cancelled naming id 7 must not cancel client A's
// call 7. (Over HTTP a client cancels by aborting its request.)
func TestHTTPOneClientCannotCancelAnothersCall(t *testing.T) {
	emu := newEmulator(t)
	emu.SetLatency(3 * time.Second)
	p, base := startHTTP(t, baseEnv("DUNE_API_KEY", duneKey, "DUNE_API_BASE_URL", emu.URL))
	type answer struct {
		code int
		body string
		err  error
	}
	resc := make(chan answer, 1)
	go func() {
		code, body, err := testio.PostJSONRPC(base+"/mcp", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"get_latest_result","arguments":{"query_id":1005}}}`)
		resc <- answer{code, body, err}
	}()
	waitUpstream(t, emu)
	code, body, err := testio.PostJSONRPC(base+"/mcp", `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"not my call"}}`)
	if err != nil || code != http.StatusAccepted {
		t.Errorf("client B's cancellation: %d %q %v, want 202", code, body, err)
	}
	a := <-resc
	if a.err != nil || a.code != http.StatusOK || !strings.Contains(a.body, `"id":7`) || strings.Contains(a.body, `"isError":true`) {
		t.Fatalf("client A's call: %d %.300q %v", a.code, a.body, a.err)
	}
	m := p.waitToolLog(5*time.Second, func(map[string]any) bool { return true })
	if m["error_kind"] != nil || m["rows_shown"] != float64(3) {
		t.Errorf("tool call log: %v", m)
	}
}

// A client that gives up on a call cancels the Dune request behind it:
// over stdio with notifications/cancelled (sent by mcp-go's client when the
// call's context ends), over streamable HTTP by aborting the request. The
// server stays usable.
func TestCancellationStopsUpstreamRequest(t *testing.T) {
	for _, kind := range []string{"stdio", "streamable"} {
		t.Run(kind, func(t *testing.T) {
			emu := newEmulator(t)
			emu.SetLatency(5 * time.Second)
			env := baseEnv("DUNE_API_KEY", duneKey, "DUNE_API_BASE_URL", emu.URL)
			var c *client.Client
			var p *proc
			if kind == "stdio" {
				c, p, _, _ = stdioSession(t, env)
			} else {
				var base string
				p, base = startHTTP(t, env)
				var err error
				if c, err = client.NewStreamableHttpClient(base + "/mcp"); err != nil {
					t.Fatal(err)
				}
			}
			initialize(t, c, mcp.ProtocolVersion20250618)

			// The client gives up once the call waits on the emulator (not
			// after a fixed time, which a busy machine may not reach it in).
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				var req mcp.CallToolRequest
				req.Params.Name = "get_latest_result"
				req.Params.Arguments = map[string]any{"query_id": emulator.DemoTiny}
				_, err := c.CallTool(ctx, req)
				errc <- err
			}()
			waitUpstream(t, emu)
			cancel()
			if err := <-errc; err == nil {
				t.Fatal("the call outlived its context")
			}
			// The tool logs its end well before the emulator's 5 s answer.
			m := p.waitToolLog(4*time.Second, func(map[string]any) bool { return true })
			if m["error_kind"] != "cancelled" {
				t.Errorf("tool call log: %v, want error_kind cancelled", m)
			}
			if n := emu.Stats().ByEndpoint["query_results"]; n < 1 {
				t.Errorf("the emulator saw %d query_results requests, want the cancelled one", n)
			}
			emu.SetLatency(0)
			if r := call(t, c, "get_latest_result", map[string]any{"query_id": emulator.DemoTiny}); r.IsError {
				t.Errorf("call after a cancellation: %s", text(r))
			}
		})
	}
}

// printfSession is what `printf '...' | dune-mcp` writes: initialize (the
// given protocol version and client name), initialized and one tool call
// (id 2), all at once, without waiting for an answer.
func printfSession(version, client, tool, args string) string {
	return strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"` + version + `","capabilities":{},"clientInfo":{"name":"` + client + `","version":"1"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"` + tool + `","arguments":` + args + `}}`,
	}, "\n") + "\n"
}

// `printf '...' | dune-mcp`: the client writes its requests and closes stdin
// at once. The call still runs and its answer is written before the exit 0.
func TestStdioEOFAnswersCallsInFlight(t *testing.T) {
	emu := newEmulator(t)
	emu.InjectFault(emulator.Fault{Latency: 500 * time.Millisecond})
	cmd := exec.Command(bin)
	cmd.Env = baseEnv("DUNE_API_KEY", duneKey, "DUNE_API_BASE_URL", emu.URL)
	cmd.Stdin = strings.NewReader(printfSession("2025-06-18", "e2e", "get_latest_result", `{"query_id":1005}`))
	var stdout bytes.Buffer
	stderr := &testio.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v; stderr:\n%s", err, stderr.String())
		}
	case <-time.After(20 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatal("no exit after EOF")
	}
	var answered bool
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var msg struct {
			ID     any `json:"id"`
			Result *struct {
				IsError           bool           `json:"isError"`
				StructuredContent map[string]any `json:"structuredContent"`
			} `json:"result"`
		}
		if err := json.Unmarshal([]byte(line), &msg); err != nil {
			t.Errorf("stdout line is not JSON: %.200q", line)
		}
		if msg.ID == float64(2) && msg.Result != nil {
			answered = !msg.Result.IsError && msg.Result.StructuredContent["returned_rows"] == float64(3)
		}
	}
	if !answered {
		t.Errorf("the call was not answered before exit; stdout:\n%.2000s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

// A client that writes initialize and its first call at once, without
// waiting for the answer to initialize, gets its call shaped for the name
// it gave: Claude Code's rows in structuredContent.table, not both views
// (the order is the stdio loop's: TestStdioReadsNothingBeforeInitializeIsAnswered
// in transport/stdio_test.go).
func TestStdioCallRightAfterInitializeKnowsTheClient(t *testing.T) {
	cmd := exec.Command(bin, "--demo")
	cmd.Env = baseEnv()
	cmd.Stdin = strings.NewReader(printfSession("2025-11-25", "claude-code", "get_latest_result", `{"query_id":1005}`))
	var stdout bytes.Buffer
	stderr := &testio.SyncBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("exit: %v; stderr:\n%s", err, stderr.String())
	}
	var answered bool
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		var msg struct {
			ID     any `json:"id"`
			Result *struct {
				StructuredContent map[string]any `json:"structuredContent"`
			} `json:"result"`
		}
		if json.Unmarshal([]byte(line), &msg) != nil || msg.ID != float64(2) || msg.Result == nil {
			continue
		}
		answered = true
		st := msg.Result.StructuredContent
		if table, _ := st["table"].(string); !strings.Contains(table, "uniswap") || st["rows"] != nil {
			t.Fatalf("claude-code's first call was not shaped for it (rows %v, table %q)", st["rows"], table)
		}
	}
	if !answered {
		t.Fatalf("no answer to the call; stdout:\n%.2000s\nstderr:\n%s", stdout.String(), stderr.String())
	}
}

// Short secrets are not scrubbed from logs (they would corrupt every line);
// a short DUNE_MCP_AUTH_TOKEN draws a warning instead, without its value.
func TestShortSecrets(t *testing.T) {
	const token = "tok-123"
	p, _ := startHTTP(t, baseEnv("DUNE_API_KEY", "true", "DUNE_MCP_AUTH_TOKEN", token), "--demo")
	if code := p.stop(); code != 0 {
		t.Errorf("exit %d", code)
	}
	errOut := p.stderr.String()
	assertJSONLines(t, "stderr", errOut)
	assertNoSecrets(t, "stderr", errOut, token)
	warned := false
	for _, line := range strings.Split(errOut, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["level"] == "warn" {
			msg, _ := m["message"].(string)
			warned = warned || strings.Contains(msg, "DUNE_MCP_AUTH_TOKEN is shorter than 16")
		}
	}
	if !warned {
		t.Errorf("no warning about the short token:\n%s", errOut)
	}
}

// TestResultViewsFromEnvAndClientInfo: the real binary shapes results as
// DUNE_MCP_RESULT_VIEWS says, and with auto as the client's clientInfo
// says (the e2e client is not in the table: both parts carry the rows).
func TestResultViewsFromEnvAndClientInfo(t *testing.T) {
	for _, c := range []struct {
		views                string
		inText, inStructured bool
	}{
		{"structured", false, true},
		{"text", true, false},
		{"auto", true, true},
	} {
		t.Run(c.views, func(t *testing.T) {
			cl, p, _, stdin := stdioSession(t, baseEnv("DUNE_MCP_DEMO", "1", "DUNE_MCP_RESULT_VIEWS", c.views))
			initialize(t, cl, "")
			r := call(t, cl, "get_latest_result", map[string]any{"query_id": emulator.DemoTiny})
			if r.IsError {
				t.Fatalf("error: %s", text(r))
			}
			st := structured(t, r)
			rows, _ := st["rows"].([]any)
			table, _ := st["table"].(string)
			// The tiny demo result's projects appear where the rows are:
			// under structured, in structuredContent's table (CSV).
			if got := strings.Contains(text(r), "uniswap"); got != c.inText {
				t.Errorf("rows in the text: %v, want %v:\n%s", got, c.inText, text(r))
			}
			if got := len(rows) > 0 || strings.Contains(table, "uniswap"); got != c.inStructured {
				t.Errorf("rows in structuredContent: %v, want %v", got, c.inStructured)
			}
			if c.views == "structured" && (len(rows) > 0 || !strings.Contains(table, "uniswap")) {
				t.Errorf("structured: rows %d as JSON, table %q; want the rows in table only", len(rows), table)
			}
			if !strings.Contains(text(r), "query 1005") {
				t.Errorf("the text lacks provenance:\n%s", text(r))
			}
			stdin.Close()
			if code := p.wait(); code != 0 {
				t.Errorf("exit %d", code)
			}
		})
	}
}
