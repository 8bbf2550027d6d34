package tools

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// logEnv is a server with the logging capability (as the transports build
// it) and an in-process client speaking protocol, collecting the
// notifications/message it receives.
type logEnv struct {
	emu  *emulator.Server
	cli  *client.Client
	msgs chan logMsg
}

type logMsg struct {
	Level string
	Data  map[string]any
}

func newLogEnv(t *testing.T, protocol string) *logEnv {
	t.Helper()
	emu := emulator.NewServer()
	t.Cleanup(emu.Close)
	dc := dune.NewClient(dune.Config{
		BaseURL: emu.URL,
		APIKey:  emulator.DefaultAPIKey,
		Retry:   dune.RetryPolicy{MaxAttempts: 2, InitialBackoff: time.Millisecond, MaxBackoff: 5 * time.Millisecond},
	})
	ts, err := New(Config{Fetcher: dc, CursorSecret: []byte("logging")})
	if err != nil {
		t.Fatal(err)
	}
	srv := server.NewMCPServer("dune-mcp", "test", server.WithToolCapabilities(false), server.WithLogging())
	srv.AddTools(ts.ServerTools()...)
	cli, err := client.NewInProcessClientWithOptions(srv, client.WithProtocolVersion(protocol))
	if err != nil {
		t.Fatal(err)
	}
	e := &logEnv{emu: emu, cli: cli, msgs: make(chan logMsg, 256)}
	cli.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method != "notifications/message" {
			return
		}
		raw, _ := json.Marshal(n.Params.AdditionalFields)
		var m struct {
			Level  string         `json:"level"`
			Logger string         `json:"logger"`
			Data   map[string]any `json:"data"`
		}
		if err := json.Unmarshal(raw, &m); err != nil || m.Logger != "dune" {
			t.Errorf("notification %s: %v", raw, err)
		}
		if strings.Contains(string(raw), emulator.DefaultAPIKey) {
			t.Errorf("notification carries the API key: %s", raw)
		}
		e.msgs <- logMsg{Level: m.Level, Data: m.Data}
	})
	ctx := context.Background()
	if err := cli.Start(ctx); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = protocol
	init.Params.ClientInfo = mcp.Implementation{Name: "logging-test", Version: "1"}
	if _, err := cli.Initialize(ctx, init); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cli.Close() })
	return e
}

func (e *logEnv) setLevel(t *testing.T, level mcp.LoggingLevel) {
	t.Helper()
	req := mcp.SetLevelRequest{}
	req.Params.Level = level
	//lint:ignore SA1019 logging/setLevel (legacy era) and the per-request level (modern era) are what clients use today
	if err := e.cli.SetLevel(context.Background(), req); err != nil {
		t.Fatal(err)
	}
}

func (e *logEnv) call(t *testing.T, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := e.cli.CallTool(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// waitFor returns the notifications received up to and including the first
// one whose message contains want (notifications arrive in order).
func (e *logEnv) waitFor(t *testing.T, want string) []logMsg {
	t.Helper()
	var got []logMsg
	timeout := time.After(time.Minute) // a hang guard only: notifications come in order
	for {
		select {
		case m := <-e.msgs:
			got = append(got, m)
			if msg, _ := m.Data["message"].(string); strings.Contains(msg, want) {
				return got
			}
		case <-timeout:
			t.Fatalf("no notification %q; got %v", want, got)
		}
	}
}

// Tool calls log to the client (notifications/message, logger "dune") at
// the level it asked for, in both protocol eras: what was fetched and what
// came from the cache at info, retries and partial results at warning, the
// failure kind at error; at level error only failures are sent.
func TestLogNotifications(t *testing.T) {
	for _, protocol := range []string{mcp.LATEST_PROTOCOL_VERSION, mcp.ProtocolVersion20250618} {
		t.Run(protocol, func(t *testing.T) {
			e := newLogEnv(t, protocol)
			e.emu.AddQuery(1, emulator.DEXTrades(2000, 1))
			e.emu.AddExecution(2, emulator.Execution{Dataset: emulator.DEXTrades(300, 2), Partial: true})

			e.setLevel(t, mcp.LoggingLevelDebug)
			res := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "max_tokens": 2000})
			got := e.waitFor(t, "from Dune in")
			m := got[len(got)-1]
			if m.Level != "info" || m.Data["tool"] != schemas.GetLatestResult || m.Data["query_id"] != 1.0 ||
				m.Data["rows"].(float64) < 1 || m.Data["datapoints"].(float64) < 1 || m.Data["execution_id"] == "" {
				t.Errorf("fetch notification: %+v", m)
			}
			var s struct {
				NextCursor string `json:"next_cursor"`
			}
			raw, _ := json.Marshal(res.StructuredContent)
			_ = json.Unmarshal(raw, &s)
			e.call(t, schemas.NextPage, map[string]any{"cursor": s.NextCursor})
			e.call(t, schemas.NextPage, map[string]any{"cursor": s.NextCursor}) // a re-read: all from the cache
			got = e.waitFor(t, "rows from the page cache (no Dune request)")
			if m := got[len(got)-1]; m.Level != "info" || m.Data["from_cache"] != true || m.Data["tool"] != schemas.NextPage {
				t.Errorf("cache notification: %+v", m)
			}

			e.setLevel(t, mcp.LoggingLevelInfo)
			e.emu.InjectFault(emulator.Fault{Status: 429, Count: 1})
			e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "max_tokens": 1000})
			got = e.waitFor(t, "Dune request retried")
			if m := got[len(got)-1]; m.Level != "warning" || m.Data["attempts"] != 2.0 {
				t.Errorf("retry notification: %+v", m)
			}
			e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 2, "allow_partial_results": true, "max_tokens": 1000})
			got = e.waitFor(t, "partial result")
			if m := got[len(got)-1]; m.Level != "warning" {
				t.Errorf("partial notification: %+v", m)
			}

			// At error: a successful call says nothing, a failure its kind.
			e.setLevel(t, mcp.LoggingLevelError)
			e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 1, "max_tokens": 1000})
			if res := e.call(t, schemas.GetLatestResult, map[string]any{"query_id": 404}); !res.IsError {
				t.Fatal("query 404 did not fail")
			}
			got = e.waitFor(t, "failed")
			for _, m := range got[:len(got)-1] {
				t.Errorf("at level error, a %s notification: %v", m.Level, m.Data)
			}
			if m := got[len(got)-1]; m.Level != "error" || m.Data["kind"] != string(dune.KindNotFound) || m.Data["query_id"] != 404.0 {
				t.Errorf("failure notification: %+v", m)
			}
		})
	}
}

// Without an MCP session (a handler called directly) logging is skipped
// silently and the call still answers.
func TestLogNotificationsWithoutSession(t *testing.T) {
	f := &fakeFetcher{err: &dune.APIError{StatusCode: 404, Kind: dune.KindNotFound}}
	res := callTool(t, newTestToolset(t, f), schemas.GetLatestResult, `{"query_id":1}`)
	if !res.IsError {
		t.Error("not an error result")
	}
}
