package transport_test

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcptransport "github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
)

// stdioPair runs ServeStdio on pipes and returns a client speaking to it,
// a record of everything the server wrote, the server's stdin writer and
// its result.
func stdioPair(t *testing.T, ctx context.Context, g *gate) (*client.Client, *syncBuffer, io.WriteCloser, <-chan error) {
	t.Helper()
	s := newServer(t, g, false, nil)
	inR, inW := io.Pipe()   // client -> server
	outR, outW := io.Pipe() // server -> client
	written := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		err := s.ServeStdio(ctx, inR, io.MultiWriter(outW, written), 5*time.Second)
		outW.Close()
		done <- err
	}()
	tr := mcptransport.NewIO(outR, inW, io.NopCloser(eofReader{}))
	return client.NewClient(tr), written, inW, done
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
