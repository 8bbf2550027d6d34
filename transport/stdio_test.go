package transport_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcptransport "github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/internal/testio"
	"github.com/dune-mcp/dune-mcp/transport"
)

// stdioRaw runs ServeStdio on pipes with the stub tools (slow reports its
// cancellation on cancelled, which may be nil): the test writes JSON-RPC
// lines to in and reads the server's output from out, which ends when
// ServeStdio returns; done carries its result. record, if not nil, gets a
// copy of the output. Its stdout is an OS pipe, buffered as a real one is.
func stdioRaw(t *testing.T, ctx context.Context, g *gate, cancelled chan<- error, drain time.Duration, record io.Writer) (in io.WriteCloser, out io.Reader, done <-chan error) {
	t.Helper()
	outR, outW, err := os.Pipe() // server -> client
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { outR.Close() })
	return stdioOn(t, ctx, g, cancelled, drain, record, outR, outW)
}

// stdioOn is stdioRaw with the server's stdout given: outW is closed when
// ServeStdio returns.
func stdioOn(t *testing.T, ctx context.Context, g *gate, cancelled chan<- error, drain time.Duration, record io.Writer, outR io.Reader, outW io.WriteCloser) (in io.WriteCloser, out io.Reader, done <-chan error) {
	t.Helper()
	s := transport.New(transport.Options{
		Name: "dune-mcp", Version: "test", Instructions: "stub tools",
		Tools: stubTools(g, cancelled), Logger: zerolog.Nop(),
	})
	inR, inW := io.Pipe() // client -> server
	var w io.Writer = outW
	if record != nil {
		w = io.MultiWriter(outW, record)
	}
	errc := make(chan error, 1)
	go func() {
		err := s.ServeStdio(ctx, inR, w, drain)
		outW.Close()
		errc <- err
	}()
	t.Cleanup(func() { inW.Close() })
	return inW, outR, errc
}

// stdioPair runs ServeStdio on pipes and returns a client speaking to it,
// a record of everything the server wrote, the server's stdin writer and
// its result.
func stdioPair(t *testing.T, ctx context.Context, g *gate) (*client.Client, *testio.SyncBuffer, io.WriteCloser, <-chan error) {
	t.Helper()
	written := &testio.SyncBuffer{}
	in, out, done := stdioRaw(t, ctx, g, nil, 5*time.Second, written)
	tr := mcptransport.NewIO(out, in, io.NopCloser(eofReader{}))
	return client.NewClient(tr), written, in, done
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

func TestStdioServesAndExitsOnEOF(t *testing.T) {
	c, written, stdin, done := stdioPair(t, context.Background(), newGate())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	var init mcp.InitializeRequest
	init.Params.ProtocolVersion = mcp.ProtocolVersion20250618
	init.Params.ClientInfo = mcp.Implementation{Name: "t", Version: "1"}
	res, err := c.Initialize(ctx, init)
	if err != nil {
		t.Fatal(err)
	}
	if res.Instructions != "stub tools" {
		t.Errorf("instructions %q", res.Instructions)
	}
	if res.Capabilities.Logging == nil {
		t.Error("logging capability not advertised")
	}
	var lvl mcp.SetLevelRequest
	lvl.Params.Level = mcp.LoggingLevelInfo
	//lint:ignore SA1019 the legacy protocol era (logging/setLevel, ping) is what older clients use
	if err := c.SetLevel(ctx, lvl); err != nil {
		t.Errorf("logging/setLevel: %v", err)
	}
	if text, isErr := callText(t, c, "whoami"); isErr || text != "key=<none> auth_header=false key_header=false" {
		t.Errorf("whoami = %q", text)
	}
	stdin.Close() // EOF
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeStdio after EOF: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeStdio did not return on EOF")
	}
	// Every line the server wrote is a JSON-RPC 2.0 message.
	n := 0
	sc := bufio.NewScanner(strings.NewReader(written.String()))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		var msg struct {
			JSONRPC string `json:"jsonrpc"`
		}
		if err := json.Unmarshal([]byte(line), &msg); err != nil || msg.JSONRPC != "2.0" {
			t.Errorf("stdout line is not JSON-RPC: %q", line)
		}
		n++
	}
	if n < 3 {
		t.Errorf("only %d stdout lines", n)
	}
}

func TestStdioShutdownDrainsInFlightCalls(t *testing.T) {
	g := newGate()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	c, _, stdin, done := stdioPair(t, ctx, g)
	defer stdin.Close()
	startClient(t, c)
	resc := make(chan string, 1)
	go func() {
		var req mcp.CallToolRequest
		req.Params.Name = "slow"
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		res, err := c.CallTool(cctx, req)
		if err != nil {
			resc <- "error: " + err.Error()
			return
		}
		resc <- mcp.GetTextFromContent(res.Content[0])
	}()
	<-g.entered
	stop() // SIGTERM in main
	select {
	case err := <-done:
		t.Fatalf("ServeStdio returned (%v) with a call in flight", err)
	case <-time.After(200 * time.Millisecond):
	}
	close(g.release)
	if got := <-resc; got != "slow done" {
		t.Errorf("in-flight call: %s", got)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeStdio: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeStdio did not return after drain")
	}
}

// SIGTERM with a call still running at the end of the drain: the call is
// cancelled and answered with ShuttingDownMessage on stdout before
// ServeStdio returns. (e2e covers calls queued behind the stdio workers.)
func TestStdioShutdownAnswersCallsAfterTheDrain(t *testing.T) {
	g := newGate()
	cancelled := make(chan error, 8)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	in, out, done := stdioRaw(t, ctx, g, cancelled, 50*time.Millisecond, nil)
	lines := collectLines(out)
	writeLines(t, in, initLine, initializedLine, slowCallLine)
	<-g.entered
	stop()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Errorf("the tool's context ended with %v, want cancelled", err)
	}
	if err := <-done; err != nil {
		t.Fatalf("ServeStdio: %v", err)
	}
	var answered bool
	for _, l := range lines() {
		var msg struct {
			ID     any `json:"id"`
			Result struct {
				IsError bool `json:"isError"`
				Content []struct {
					Text string `json:"text"`
				} `json:"content"`
			} `json:"result"`
		}
		if json.Unmarshal([]byte(l), &msg) == nil && msg.ID == float64(2) {
			answered = msg.Result.IsError && len(msg.Result.Content) == 1 && msg.Result.Content[0].Text == transport.ShuttingDownMessage
		}
	}
	if !answered {
		t.Error("the call in flight was not answered with the shutdown message")
	}
}

// Raw JSON-RPC lines of a stdio session.
const (
	initLine        = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}`
	initializedLine = `{"jsonrpc":"2.0","method":"notifications/initialized"}`
	slowCallLine    = `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"slow"}}`
)

func writeLines(t *testing.T, w io.Writer, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if _, err := io.WriteString(w, l+"\n"); err != nil {
			t.Fatal(err)
		}
	}
}

// collectLines reads out to its end in the background; the returned
// function waits for that end and gives the lines.
func collectLines(out io.Reader) func() []string {
	ch := make(chan []string, 1)
	go func() {
		var lines []string
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		_, _ = io.Copy(io.Discard, out)
		ch <- lines
	}()
	return func() []string { return <-ch }
}

// A client may write its requests and close stdin at once (echo ... |
// dune-mcp): the calls still run to completion and are answered.
func TestStdioEOFLetsCallsFinish(t *testing.T) {
	g := newGate()
	cancelled := make(chan error, 1)
	in, out, done := stdioRaw(t, context.Background(), g, cancelled, 5*time.Second, nil)
	lines := collectLines(out)
	writeLines(t, in, initLine, initializedLine, slowCallLine)
	in.Close()
	select {
	case <-g.entered:
	case <-time.After(5 * time.Second):
		t.Fatal("the call never started: EOF dropped it")
	}
	select {
	case err := <-cancelled:
		t.Fatalf("EOF cancelled the call in flight: %v", err)
	case err := <-done:
		t.Fatalf("ServeStdio returned (%v) with a call in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(g.release)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeStdio: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeStdio did not return once the call was answered")
	}
	var answered bool
	for _, l := range lines() {
		var msg struct {
			ID     any `json:"id"`
			Result struct {
				Content []struct{ Text string }
			}
		}
		if json.Unmarshal([]byte(l), &msg) == nil && msg.ID == float64(2) {
			answered = len(msg.Result.Content) == 1 && msg.Result.Content[0].Text == "slow done"
		}
	}
	if !answered {
		t.Errorf("no answer to the call on stdout")
	}
}

// The wait at EOF is bounded: a call that never ends is cancelled after the
// drain timeout and the server returns.
func TestStdioEOFDrainIsBounded(t *testing.T) {
	g := newGate()
	defer close(g.release)
	cancelled := make(chan error, 1)
	in, out, done := stdioRaw(t, context.Background(), g, cancelled, 300*time.Millisecond, nil)
	collectLines(out)
	writeLines(t, in, initLine, initializedLine, slowCallLine)
	in.Close()
	<-g.entered
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeStdio: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the wait at EOF is not bounded by the drain timeout")
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Error("the stuck call was not cancelled")
	}
}

// A cancelled request is not waited for at EOF, and the session ends at once.
func TestStdioEOFDoesNotWaitForCancelledRequests(t *testing.T) {
	g := newGate()
	defer close(g.release)
	cancelled := make(chan error, 1)
	in, out, done := stdioRaw(t, context.Background(), g, cancelled, time.Minute, nil)
	collectLines(out)
	writeLines(t, in, initLine, initializedLine, slowCallLine)
	<-g.entered
	writeLines(t, in, `{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":2,"reason":"user"}}`)
	in.Close()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("notifications/cancelled did not reach the call")
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeStdio: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeStdio waited at EOF for a cancelled request")
	}
}

// What the loop does with each kind of line: a line that is not JSON gets
// a parse error (id null) and the session goes on; blank lines are
// skipped; notifications the tools send and every answer are JSON-RPC
// lines of their own, each request answered once; a last request without
// its newline before EOF is served too.
func TestStdioLines(t *testing.T) {
	g := newGate()
	g.seen <- struct{}{} // the progress tool answers at once (its notification comes first or not: not checked here)
	in, out, done := stdioRaw(t, context.Background(), g, nil, 5*time.Second, nil)
	lines := collectLines(out)
	writeLines(t, in, initLine, initializedLine, "", "   ", "not json {",
		`{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"whoami"}}`,
		`{"jsonrpc":"2.0","id":"p","method":"tools/call","params":{"name":"progress","_meta":{"progressToken":"tok"}}}`,
		`{"jsonrpc":"2.0","id":4,"method":"ping"}`)
	if _, err := io.WriteString(in, `{"jsonrpc":"2.0","id":5,"method":"tools/call","params":{"name":"whoami"}}`); err != nil {
		t.Fatal(err)
	}
	in.Close()
	if err := <-done; err != nil {
		t.Fatalf("ServeStdio: %v", err)
	}
	answers := map[string]int{}
	parseErrors, progress := 0, 0
	for _, l := range lines() {
		var msg struct {
			JSONRPC string          `json:"jsonrpc"`
			ID      json.RawMessage `json:"id"`
			Method  string          `json:"method"`
			Params  struct {
				ProgressToken string `json:"progressToken"`
			} `json:"params"`
			Result *struct {
				Content []struct{ Text string } `json:"content"`
			} `json:"result"`
			Error *struct {
				Code int `json:"code"`
			} `json:"error"`
		}
		if err := json.Unmarshal([]byte(l), &msg); err != nil || msg.JSONRPC != "2.0" {
			t.Errorf("stdout line is not JSON-RPC 2.0: %q", l)
			continue
		}
		switch {
		case msg.Method == "notifications/progress":
			if msg.Params.ProgressToken == "tok" {
				progress++
			}
		case msg.Error != nil && string(msg.ID) == "null":
			if msg.Error.Code == mcp.PARSE_ERROR {
				parseErrors++
			}
		case msg.Result != nil:
			answers[string(msg.ID)]++
			if (string(msg.ID) == "3" || string(msg.ID) == "5") && (len(msg.Result.Content) != 1 || !strings.HasPrefix(msg.Result.Content[0].Text, "key=")) {
				t.Errorf("whoami %s answered %s", msg.ID, l)
			}
		default:
			t.Errorf("unexpected line %s", l)
		}
	}
	if parseErrors != 1 {
		t.Errorf("%d parse errors for one line that is not JSON (blank lines are skipped)", parseErrors)
	}
	if progress == 0 {
		t.Error("the progress tool's notifications did not reach stdout")
	}
	for _, id := range []string{"1", "3", `"p"`, "4", "5"} {
		if answers[id] != 1 {
			t.Errorf("request %s answered %d times, want once (answers: %v)", id, answers[id], answers)
		}
	}
}

// Tool calls run five at a time, the others waiting for a worker, while
// other requests are still served; every call is answered in the end.
func TestStdioRunsFiveToolCallsAtOnce(t *testing.T) {
	g := newGate()
	in, out, done := stdioRaw(t, context.Background(), g, nil, 5*time.Second, nil)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	next := func() string {
		if !sc.Scan() {
			t.Fatalf("stdout ended: %v", sc.Err())
		}
		return sc.Text()
	}
	writeLines(t, in, initLine, initializedLine)
	next() // the initialize answer
	for i := range 7 {
		writeLines(t, in, fmt.Sprintf(`{"jsonrpc":"2.0","id":%d,"method":"tools/call","params":{"name":"slow"}}`, 10+i))
	}
	for range 5 {
		<-g.entered
	}
	writeLines(t, in, `{"jsonrpc":"2.0","id":99,"method":"ping"}`)
	if l := next(); !strings.Contains(l, `"id":99`) {
		t.Fatalf("first answer with 7 slow calls in flight: %s, want the ping's", l)
	}
	select {
	case <-g.entered:
		t.Fatal("a sixth tool call runs while five are running")
	default:
	}
	close(g.release)
	seen := map[string]bool{}
	for range 7 {
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Result struct {
				Content []struct{ Text string } `json:"content"`
			} `json:"result"`
		}
		l := next()
		if json.Unmarshal([]byte(l), &msg) != nil || len(msg.Result.Content) != 1 || msg.Result.Content[0].Text != "slow done" {
			t.Fatalf("answer to a slow call: %s", l)
		}
		seen[string(msg.ID)] = true
	}
	if len(seen) != 7 {
		t.Errorf("answers to %d distinct calls, want 7", len(seen))
	}
	in.Close()
	if err := <-done; err != nil {
		t.Fatalf("ServeStdio: %v", err)
	}
}

type failingReader struct{ err error }

func (r failingReader) Read([]byte) (int, error) { return 0, r.err }

// A stdin that fails (rather than ending) ends the session after the
// requests read before were answered, and ServeStdio returns the failure.
func TestStdioReadErrorIsReturned(t *testing.T) {
	s := transport.New(transport.Options{Name: "dune-mcp", Version: "test", Tools: stubTools(newGate(), nil), Logger: zerolog.Nop()})
	boom := errors.New("stdin broke")
	in := io.MultiReader(strings.NewReader(initLine+"\n"), failingReader{boom})
	out := &testio.SyncBuffer{}
	err := s.ServeStdio(context.Background(), in, out, time.Second)
	if !errors.Is(err, boom) {
		t.Errorf("ServeStdio = %v, want the read error", err)
	}
	if !strings.Contains(out.String(), `"id":1,"result"`) {
		t.Errorf("the request read before the failure was not answered: %q", out.String())
	}
}

// The loop reads no line after initialize before it has answered it: what
// the client says of itself (its name picks the result views) holds for
// the requests that follow, even when it writes them without waiting for
// the answer. Here nobody reads the answer to initialize yet, so the
// server is still writing it; the next line must stay unread meanwhile.
// (The bound only makes the wrong order show; the right order never reads
// the line early, however long the wait.)
func TestStdioReadsNothingBeforeInitializeIsAnswered(t *testing.T) {
	// Unbuffered: the server's write of an answer lasts until it is read.
	outR, outW := io.Pipe()
	in, out, done := stdioOn(t, context.Background(), newGate(), nil, 5*time.Second, nil, outR, outW)
	writeLines(t, in, initLine)
	nextRead := make(chan struct{})
	go func() {
		_, _ = io.WriteString(in, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"whoami"}}`+"\n")
		close(nextRead)
	}()
	select {
	case <-nextRead:
		t.Fatal("the line after initialize was read before initialize was answered")
	case <-time.After(time.Second):
	}
	br := bufio.NewReader(out)
	first, err := br.ReadString('\n')
	if err != nil || !strings.Contains(first, `"id":1`) || !strings.Contains(first, `"protocolVersion"`) {
		t.Fatalf("first answer %q (%v), want initialize's", first, err)
	}
	<-nextRead // now the line is read
	second, err := br.ReadString('\n')
	if err != nil || !strings.Contains(second, `"id":2`) || !strings.Contains(second, "key=") {
		t.Fatalf("second answer %q (%v), want the call's", second, err)
	}
	in.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// Work a call leaves for after its answer (internal/later: its log line,
// storing rows) runs on stdio once the answer is written, before the
// request counts as done.
func TestStdioRunsWorkLeftForAfterTheAnswer(t *testing.T) {
	g := newGate()
	written := &testio.SyncBuffer{}
	var seenAnswer, ran bool
	g.afterAnswer = func() {
		ran = true
		seenAnswer = strings.Contains(written.String(), `"answered"`)
	}
	in, out, done := stdioRaw(t, context.Background(), g, nil, 5*time.Second, written)
	lines := collectLines(out)
	writeLines(t, in, initLine, initializedLine, `{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"after"}}`)
	in.Close() // EOF: ServeStdio returns once the request is done
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("ServeStdio: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("ServeStdio did not return")
	}
	if queued := <-g.afterQueued; !queued {
		t.Fatal("the work was not queued: stdio gave the request no queue")
	}
	if !ran || !seenAnswer {
		t.Fatalf("work left for after the answer: ran %v, the answer written when it ran %v\n%s", ran, seenAnswer, strings.Join(lines(), "\n"))
	}
}
