package transport_test

import (
	"context"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/transport"
)

// A tool call whose handler ignores the cancellation is answered with the
// shutdown message at the end of the drain, and the server stops, while
// that handler is still running: shutdown does not wait on it.
func TestShutdownDoesNotWaitForAHandlerThatIgnoresCancellation(t *testing.T) {
	entered, release, returned := make(chan struct{}), make(chan struct{}), make(chan struct{})
	defer close(release)
	stubborn := mcp.NewTool("slow", mcp.WithDescription("ignore cancellation"), mcp.WithReadOnlyHintAnnotation(true))
	s := transport.New(transport.Options{
		Name: "dune-mcp", Version: "test", Instructions: "stub tools", Logger: zerolog.Nop(),
		Tools: []server.ServerTool{{Tool: stubborn, Handler: func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			close(entered)
			<-release // never the context
			close(returned)
			return mcp.NewToolResultText("too late"), nil
		}}},
	})
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	defer inW.Close()
	done := make(chan error, 1)
	go func() {
		err := s.ServeStdio(ctx, inR, outW, 10*time.Millisecond)
		outW.Close()
		done <- err
	}()
	lines := collectLines(outR)
	writeLines(t, inW, initLine, initializedLine, slowCallLine)
	<-entered
	stop()
	if err := <-done; err != nil {
		t.Fatalf("ServeStdio: %v", err)
	}
	select {
	case <-returned:
		t.Fatal("the handler returned: the test cannot tell whether shutdown waited for it")
	default:
	}
	var answer string
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
		if json.Unmarshal([]byte(l), &msg) == nil && msg.ID == float64(2) && msg.Result.IsError && len(msg.Result.Content) == 1 {
			answer = msg.Result.Content[0].Text
		}
	}
	if answer != transport.ShuttingDownMessage {
		t.Errorf("the call was answered %q, want the shutdown message", answer)
	}
}
