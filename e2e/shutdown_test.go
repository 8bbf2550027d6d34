package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/testio"
	"github.com/dune-mcp/dune-mcp/transport"
)

// shutdownCalls is how many slow calls are in flight when the signal comes.
const shutdownCalls = 50

// stdioWorkers is how many tool calls the stdio transport runs at once
// (transport/stdio.go, like mcp-go's StdioServer's worker pool).
const stdioWorkers = 5

// exitBound is the goal: the process exits within the drain + 1 s of the
// signal. It is checked on the shutdown time the process logs itself (its
// "exiting" line: from the signal to the end of main), so that the time a
// loaded machine takes to deliver the signal, reap the process or run this
// test is not counted.
const exitBound = transport.DefaultDrainTimeout + time.Second

// answer is what a client got for one call: a JSON-RPC response (result or
// error) or none (err: the connection or stream closed first).
type answer struct {
	isError bool
	text    string
	err     error
}

func (a answer) String() string {
	if a.err != nil {
		return "no answer: " + a.err.Error()
	}
	return fmt.Sprintf("isError=%v %.120q", a.isError, a.text)
}

// assertShutdownAnswers checks that every call got a JSON-RPC response that
// tells the client the server is shutting down and to retry.
func assertShutdownAnswers(t *testing.T, answers []answer) {
	t.Helper()
	answered, told := 0, 0
	for _, a := range answers {
		if a.err != nil {
			continue
		}
		answered++
		if a.isError && strings.Contains(a.text, "shutting down") && strings.Contains(a.text, "etry") {
			told++
		}
	}
	t.Logf("%d of %d calls in flight got a JSON-RPC response, %d of them the shutdown isError", answered, len(answers), told)
	if told != len(answers) {
		for i, a := range answers {
			if a.err != nil || !a.isError || !strings.Contains(a.text, "shutting down") {
				t.Errorf("call %d: %v", i, a)
				break
			}
		}
		t.Fatalf("%d of %d calls got the shutdown answer", told, len(answers))
	}
}

// signalAndTime sends sig to p, waits for it to exit, and checks the
// shutdown time it logged against exitBound.
func signalAndTime(t *testing.T, p *proc, sig syscall.Signal) {
	t.Helper()
	start := time.Now()
	if err := p.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(); code != 0 {
		t.Errorf("exit code %d; stderr:\n%s", code, p.stderr.String())
	}
	wall := time.Since(start)
	exiting, stopped := p.logLine("exiting"), p.logLine("stopped")
	ms, ok := exiting["shutdown"].(float64)
	if !ok {
		t.Fatalf("no shutdown time in the exiting line %v; stderr:\n%s", exiting, p.stderr.String())
	}
	took := time.Duration(ms * float64(time.Millisecond))
	t.Logf("shutdown %v by the process's clock (%v after the drain of %v to the transport's end; %v by this test's clock)",
		took.Round(time.Millisecond), stopped["after_drain"], transport.DefaultDrainTimeout, wall.Round(time.Millisecond))
	if took > exitBound {
		t.Errorf("shutdown took %v, more than the drain + 1 s (%v)", took, exitBound)
	}
}

// waitRequests waits until the emulator has received n requests.
func waitRequests(t *testing.T, emu *emulator.Server, n int) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); emu.Stats().Requests < n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d calls reached the emulator", emu.Stats().Requests, n)
		}
	}
}

// callAll makes n concurrent get_latest_result calls with c and returns a
// channel that yields their answers once all have ended.
func callAll(c *client.Client, n int, args map[string]any) <-chan []answer {
	out := make(chan []answer, 1)
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			var req mcp.CallToolRequest
			req.Params.Name = "get_latest_result"
			req.Params.Arguments = args
			req.Params.Meta = &mcp.Meta{ProgressToken: mcp.ProgressToken(fmt.Sprint("call-", i))}
			res, err := c.CallTool(ctx, req)
			if err != nil {
				answers[i] = answer{err: err}
				return
			}
			answers[i] = answer{isError: res.IsError, text: text(res)}
		})
	}
	go func() { wg.Wait(); out <- answers }()
	return out
}

// SIGTERM with 50 slow calls in flight: after the drain, each call still
// running gets a JSON-RPC response (isError: shutting down, retry) before its
// connection or stream closes, over streamable HTTP, legacy SSE and stdio; and
// the process exits within the drain + 1 s (exitBound), without waiting for
// the calls.
func TestShutdownAnswersEveryCallInFlight(t *testing.T) {
	for _, kind := range []string{"streamable", "sse", "stdio"} {
		t.Run(kind, func(t *testing.T) {
			t.Parallel()
			emu := newEmulator(t)
			// Slower than the drain: every call is still waiting on Dune when it ends.
			emu.SetLatency(time.Minute)
			env := baseEnv("DUNE_API_KEY", duneKey, "DUNE_API_BASE_URL", emu.URL)
			args := map[string]any{"query_id": emulator.DemoTiny}
			var p *proc
			var got <-chan []answer
			switch kind {
			case "streamable":
				var base string
				p, base = startHTTP(t, env)
				got = postAll(base+"/mcp", shutdownCalls)
			case "sse":
				var base string
				p, base = startHTTP(t, env)
				c, err := client.NewSSEMCPClient(base + "/sse")
				if err != nil {
					t.Fatal(err)
				}
				initialize(t, c, mcp.ProtocolVersion20250618)
				got = callAll(c, shutdownCalls, args)
			case "stdio":
				var c *client.Client
				c, p, _, _ = stdioSession(t, env)
				initialize(t, c, mcp.ProtocolVersion20250618)
				got = callAll(c, shutdownCalls, args)
			}
			inFlight := shutdownCalls
			if kind == "stdio" {
				// The stdio transport runs 5 tool calls at a time and
				// queues the rest; queued calls are answered too.
				inFlight = stdioWorkers
			}
			waitRequests(t, emu, inFlight)
			signalAndTime(t, p, syscall.SIGTERM)
			answers := <-got
			defer func() {
				if t.Failed() {
					t.Logf("stderr:\n%s", p.stderr.String())
				}
			}()
			assertShutdownAnswers(t, answers)
		})
	}
}

// postAll posts n tools/call requests to a streamable HTTP endpoint, each
// on its own connection, and returns a channel that yields their answers.
func postAll(url string, n int) <-chan []answer {
	out := make(chan []answer, 1)
	answers := make([]answer, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			body := fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"get_latest_result","arguments":{"query_id":%d}}}`, i+1, emulator.DemoTiny)
			_, resp, err := testio.PostJSONRPC(url, body)
			answers[i] = parseAnswer(i+1, resp, err)
		})
	}
	go func() { wg.Wait(); out <- answers }()
	return out
}

// parseAnswer reads a streamable HTTP answer (a JSON body or SSE events) to
// request id.
func parseAnswer(id int, body string, err error) answer {
	if err != nil {
		return answer{err: err}
	}
	for _, line := range strings.Split(body, "\n") {
		line = strings.TrimPrefix(strings.TrimSpace(line), "data: ")
		var msg struct {
			ID     any `json:"id"`
			Result *struct {
				IsError bool `json:"isError"`
				Content []struct {
					Text string `json:"text"`
				} `json:"content"`
			} `json:"result"`
			Error *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if json.Unmarshal([]byte(line), &msg) != nil || msg.ID != float64(id) {
			continue
		}
		switch {
		case msg.Result != nil:
			a := answer{isError: msg.Result.IsError}
			for _, c := range msg.Result.Content {
				a.text += c.Text
			}
			return a
		case msg.Error != nil:
			return answer{isError: true, text: msg.Error.Message}
		}
	}
	return answer{err: fmt.Errorf("no JSON-RPC response to id %d in %.200q", id, body)}
}

// In --demo the embedded emulator stops with the server: SIGINT with calls
// waiting on a run (a refresh of the demo query that never finishes) answers
// them and exits within the drain + 1 s (exitBound), without waiting for
// them (it was the drain + 5 s before: the emulator waited).
func TestDemoShutdownAnswersWaitingCalls(t *testing.T) {
	t.Parallel()
	p, base := startHTTP(t, baseEnv(), "--demo")
	c, err := client.NewStreamableHttpClient(base + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	initialize(t, c, mcp.ProtocolVersion20250618)
	// Each call reports progress once it waits on the run.
	var mu sync.Mutex
	waiting := map[any]bool{}
	all := make(chan struct{})
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method != "notifications/progress" {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		tok := n.Params.AdditionalFields["progressToken"]
		if !waiting[tok] && len(waiting) == shutdownCalls-1 {
			close(all)
		}
		waiting[tok] = true
	})
	got := callAll(c, shutdownCalls, map[string]any{"query_id": emulator.DemoExecuting, "max_age_hours": 0})
	select {
	case <-all:
	case <-time.After(20 * time.Second):
		t.Fatalf("not every call reported waiting; stderr:\n%s", p.stderr.String())
	}
	signalAndTime(t, p, syscall.SIGINT)
	answers := <-got
	if t.Failed() || len(answers) > 0 && answers[0].err != nil {
		t.Logf("stderr:\n%s", p.stderr.String())
	}
	assertShutdownAnswers(t, answers)
}

// logLine returns the last stderr log line of p whose message is msg (nil
// if none).
func (p *proc) logLine(msg string) map[string]any {
	var found map[string]any
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["message"] == msg {
			found = m
		}
	}
	return found
}
