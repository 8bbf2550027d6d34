package transport_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcptransport "github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/later"
	"github.com/dune-mcp/dune-mcp/internal/testio"
	"github.com/dune-mcp/dune-mcp/transport"
)

const testToken = "tok-4f1c2a9e8b7d6c5e"

// gate lets a test hold the "slow" stub tool until it says so.
type gate struct {
	entered chan struct{}
	release chan struct{}
	seen    chan struct{} // the client saw a progress notification
	// afterAnswer, if set, is what the tool "after" leaves for after its
	// answer (internal/later); afterQueued reports whether it was queued.
	afterAnswer func()
	afterQueued chan bool
}

func newGate() *gate {
	return &gate{entered: make(chan struct{}, 8), release: make(chan struct{}), seen: make(chan struct{}, 1), afterQueued: make(chan bool, 1)}
}

// stubTools is a small tool set standing in for the real tools:
// whoami reports the per-request key and the headers it can see, slow blocks
// on a gate (or until cancelled), progress sends progress notifications,
// after leaves work for after its answer (internal/later).
func stubTools(g *gate, cancelled chan<- error) []server.ServerTool {
	whoami := mcp.NewTool("whoami", mcp.WithDescription("report the request key"), mcp.WithReadOnlyHintAnnotation(true))
	slow := mcp.NewTool("slow", mcp.WithDescription("block until released"), mcp.WithReadOnlyHintAnnotation(true))
	progress := mcp.NewTool("progress", mcp.WithDescription("send three progress notifications"), mcp.WithReadOnlyHintAnnotation(true))
	after := mcp.NewTool("after", mcp.WithDescription("leave work for after the answer"), mcp.WithReadOnlyHintAnnotation(true))
	return []server.ServerTool{
		{Tool: after, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			g.afterQueued <- later.Do(ctx, g.afterAnswer)
			return mcp.NewToolResultText("answered"), nil
		}},
		{Tool: whoami, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			key, ok := dune.APIKeyFrom(ctx)
			if !ok {
				key = "<none>"
			}
			return mcp.NewToolResultText(fmt.Sprintf("key=%s auth_header=%t key_header=%t",
				key, req.Header.Get("Authorization") != "", req.Header.Get(transport.APIKeyHeader) != "")), nil
		}},
		{Tool: slow, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			g.entered <- struct{}{}
			select {
			case <-g.release:
				return mcp.NewToolResultText("slow done"), nil
			case <-ctx.Done():
				if cancelled != nil {
					cancelled <- ctx.Err()
				}
				return nil, ctx.Err()
			}
		}},
		{Tool: progress, Handler: func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			if req.Params.Meta == nil || req.Params.Meta.ProgressToken == nil {
				return mcp.NewToolResultError("no progress token"), nil
			}
			err := server.ServerFromContext(ctx).SendNotificationToClient(ctx, "notifications/progress", map[string]any{
				"progressToken": req.Params.Meta.ProgressToken, "progress": 1.0, "total": 2.0,
			})
			if err != nil {
				return mcp.NewToolResultError(err.Error()), nil
			}
			// Answer only once the client has seen the notification: the
			// final response may otherwise overtake it.
			select {
			case <-g.seen:
				return mcp.NewToolResultText("progress seen"), nil
			case <-time.After(5 * time.Second):
				return mcp.NewToolResultError("the client never saw the progress notification"), nil
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}},
	}
}

func newServer(t *testing.T, g *gate, requireKey bool, logs io.Writer) *transport.Server {
	t.Helper()
	if logs == nil {
		logs = io.Discard
	}
	return transport.New(transport.Options{
		Name: "dune-mcp", Version: "test", Instructions: "stub tools",
		Tools:             stubTools(g, nil),
		Logger:            zerolog.New(logs),
		RequireRequestKey: requireKey,
	})
}

func initRequest() mcp.InitializeRequest {
	var req mcp.InitializeRequest
	req.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	req.Params.ClientInfo = mcp.Implementation{Name: "transport-test", Version: "1"}
	return req
}

func startClient(t *testing.T, c *client.Client) *client.Client {
	t.Helper()
	// The SSE transport ties its stream to Start's context: keep it alive.
	if err := c.Start(context.Background()); err != nil {
		t.Fatalf("start: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.Initialize(ctx, initRequest()); err != nil {
		t.Fatalf("initialize: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func callText(t *testing.T, c *client.Client, name string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var req mcp.CallToolRequest
	req.Params.Name = name
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	if len(res.Content) == 0 {
		t.Fatalf("call %s: empty content", name)
	}
	return mcp.GetTextFromContent(res.Content[0]), res.IsError
}

func post(t *testing.T, url string, hdr map[string]string, body string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	return resp
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"curl","version":"1"}}}`

func TestHealthzNeedsNoAuth(t *testing.T) {
	s := newServer(t, newGate(), false, nil)
	ts := httptest.NewServer(s.NewHTTPHandler(transport.HTTPConfig{AuthToken: testToken, Health: map[string]any{"version": "test"}}))
	defer ts.Close()

	resp, err := http.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || body["status"] != "ok" || body["version"] != "test" {
		t.Fatalf("healthz = %d %v", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("content-type %q", ct)
	}
	resp2 := post(t, ts.URL+"/healthz", nil, "{}")
	if resp2.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /healthz = %d, want 405", resp2.StatusCode)
	}
	resp3, err := http.Get(ts.URL + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp3.Body.Close()
	if resp3.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope = %d, want 404", resp3.StatusCode)
	}
}

func TestBearerAuth(t *testing.T) {
	s := newServer(t, newGate(), false, nil)
	ts := httptest.NewServer(s.NewHTTPHandler(transport.HTTPConfig{AuthToken: testToken}))
	defer ts.Close()

	for _, path := range []string{"/mcp", "/message?sessionId=x"} {
		cases := []struct {
			name, auth string
			want       int
			wantErr    bool
		}{
			{"missing", "", http.StatusUnauthorized, false},
			{"wrong", "Bearer not-the-token", http.StatusUnauthorized, true},
			{"wrong scheme", "Basic " + testToken, http.StatusUnauthorized, false},
			{"prefix of token", "Bearer " + testToken[:8], http.StatusUnauthorized, true},
		}
		for _, tc := range cases {
			hdr := map[string]string{}
			if tc.auth != "" {
				hdr["Authorization"] = tc.auth
			}
			resp := post(t, ts.URL+path, hdr, initializeBody)
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s: status %d, want %d", path, tc.name, resp.StatusCode, tc.want)
			}
			wa := resp.Header.Get("WWW-Authenticate")
			if !strings.HasPrefix(wa, "Bearer") {
				t.Errorf("%s %s: WWW-Authenticate %q", path, tc.name, wa)
			}
			if tc.wantErr != strings.Contains(wa, "invalid_token") {
				t.Errorf("%s %s: WWW-Authenticate %q, invalid_token expected %v", path, tc.name, wa, tc.wantErr)
			}
		}
	}
	// GET /sse is guarded too.
	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/sse", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("GET /sse without token = %d", resp.StatusCode)
	}

	ok := post(t, ts.URL+"/mcp", map[string]string{"Authorization": "bearer " + testToken}, initializeBody)
	if ok.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(ok.Body)
		t.Fatalf("with token: %d %s", ok.StatusCode, b)
	}

	// The mcp-go client surfaces a 401 as an error and works with the token.
	bad, err := client.NewStreamableHttpClient(ts.URL+"/mcp", mcptransport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer nope"}))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = bad.Start(ctx)
	if _, err := bad.Initialize(ctx, initRequest()); err == nil {
		t.Error("initialize with a wrong token succeeded")
	}
	_ = bad.Close()
	good, err := client.NewStreamableHttpClient(ts.URL+"/mcp", mcptransport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + testToken}))
	if err != nil {
		t.Fatal(err)
	}
	startClient(t, good)
	// The Authorization header never reaches the tools.
	if text, _ := callText(t, good, "whoami"); !strings.Contains(text, "auth_header=false") {
		t.Errorf("tool saw the Authorization header: %s", text)
	}
}

func TestOrigin(t *testing.T) {
	s := newServer(t, newGate(), false, nil)
	ts := httptest.NewServer(s.NewHTTPHandler(transport.HTTPConfig{AllowedOrigins: []string{"https://app.example.com"}}))
	defer ts.Close()
	cases := []struct {
		origin string
		want   int
	}{
		{"", http.StatusOK},
		{"http://localhost:3000", http.StatusOK},
		{"http://LOCALHOST", http.StatusOK},
		{"http://127.0.0.1:9", http.StatusOK},
		{"https://[::1]:8443", http.StatusOK},
		{"https://app.example.com", http.StatusOK},
		{"https://APP.example.com", http.StatusOK},
		{"http://app.example.com", http.StatusForbidden},
		{"https://app.example.com:8443", http.StatusForbidden},
		{"https://evil.example", http.StatusForbidden},
		{"http://localhost.evil.example", http.StatusForbidden},
		{"http://127.0.0.1.nip.io", http.StatusForbidden},
		{"null", http.StatusForbidden},
		{"file://", http.StatusForbidden},
	}
	for _, tc := range cases {
		for _, path := range []string{"/mcp", "/message"} {
			hdr := map[string]string{}
			if tc.origin != "" {
				hdr["Origin"] = tc.origin
			}
			resp := post(t, ts.URL+path, hdr, initializeBody)
			got := resp.StatusCode
			if path == "/message" && got != http.StatusForbidden {
				got = http.StatusOK // past the origin check: mcp-go answers "missing sessionId"
			}
			if got != tc.want {
				t.Errorf("%s Origin %q: %d, want %d", path, tc.origin, resp.StatusCode, tc.want)
			}
		}
	}
}

func TestBodyLimit(t *testing.T) {
	s := newServer(t, newGate(), false, nil)
	ts := httptest.NewServer(s.NewHTTPHandler(transport.HTTPConfig{MaxBodyBytes: 1024}))
	defer ts.Close()
	big := `{"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"` + strings.Repeat("x", 2048) + `"}}`
	if resp := post(t, ts.URL+"/mcp", nil, big); resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body with Content-Length: %d, want 413", resp.StatusCode)
	}
	// Unknown length (chunked): the MaxBytesReader stops it; mcp-go answers a
	// parse error instead of processing the request.
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/mcp", io.MultiReader(strings.NewReader(big)))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		if !strings.Contains(string(b), `"error"`) {
			t.Errorf("chunked oversized body accepted: %s", b)
		}
	}
	if resp := post(t, ts.URL+"/mcp", nil, initializeBody); resp.StatusCode != http.StatusOK {
		t.Errorf("small body: %d", resp.StatusCode)
	}
}

func TestClientsOverStreamableAndSSE(t *testing.T) {
	logs := &testio.SyncBuffer{}
	s := newServer(t, newGate(), false, logs)
	ts := httptest.NewServer(s.NewHTTPHandler(transport.HTTPConfig{AuthToken: testToken, AcceptRequestKeys: true}))
	defer ts.Close()
	hdr := map[string]string{"Authorization": "Bearer " + testToken, transport.APIKeyHeader: "user-key-123"}

	streamable, err := client.NewStreamableHttpClient(ts.URL+"/mcp", mcptransport.WithHTTPHeaders(hdr))
	if err != nil {
		t.Fatal(err)
	}
	sse, err := client.NewSSEMCPClient(ts.URL+"/sse", client.WithHeaders(hdr))
	if err != nil {
		t.Fatal(err)
	}
	sseTr, err := mcptransport.NewSSE(ts.URL+"/sse", mcptransport.WithHeaders(hdr))
	if err != nil {
		t.Fatal(err)
	}
	legacy := client.NewClient(sseTr, client.WithProtocolVersion(mcp.ProtocolVersion20250618))

	for name, c := range map[string]*client.Client{"streamable": streamable, "sse": sse, "sse-2025-06-18": legacy} {
		t.Run(name, func(t *testing.T) {
			startClient(t, c)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			tools, err := c.ListTools(ctx, mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			if len(tools.Tools) != 4 {
				t.Fatalf("listed %d tools", len(tools.Tools))
			}
			text, isErr := callText(t, c, "whoami")
			if isErr || text != "key=user-key-123 auth_header=false key_header=false" {
				t.Errorf("whoami = %q (isError %v)", text, isErr)
			}
			var lvl mcp.SetLevelRequest
			lvl.Params.Level = mcp.LoggingLevelDebug
			//lint:ignore SA1019 the legacy protocol era (logging/setLevel, ping) is what older clients use
			if err := c.SetLevel(ctx, lvl); err != nil && name != "streamable" {
				// Modern-era (streamable default) clients record the level
				// locally; legacy sessions send logging/setLevel.
				t.Errorf("setLevel: %v", err)
			}
			//lint:ignore SA1019 the legacy protocol era (logging/setLevel, ping) is what older clients use
			if err := c.Ping(ctx); err != nil && name == "sse-2025-06-18" {
				t.Errorf("ping: %v", err)
			}
		})
	}
	out := logs.String()
	for _, secret := range []string{testToken, "user-key-123"} {
		if strings.Contains(out, secret) {
			t.Errorf("logs contain secret %q", secret)
		}
	}
	if !strings.Contains(out, `"path":"/mcp"`) || !strings.Contains(out, `"path":"/message"`) {
		t.Errorf("access log lines missing:\n%s", out)
	}
	if strings.Contains(out, "sessionId=") {
		t.Errorf("access log carries a query string:\n%s", out)
	}
}

func TestRequestKeys(t *testing.T) {
	cases := []struct {
		name       string
		accept     bool
		requireKey bool
		header     string
		want       string
		wantErr    bool
	}{
		{"accepted", true, true, "k-abc", "key=k-abc", false},
		{"ignored in demo mode", false, false, "k-abc", "key=<none>", false},
		{"none sent, server has a key", true, false, "", "key=<none>", false},
		{"none sent, server has no key", true, true, "", transport.NoKeyMessage, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, newGate(), tc.requireKey, nil)
			ts := httptest.NewServer(s.NewHTTPHandler(transport.HTTPConfig{AcceptRequestKeys: tc.accept}))
			defer ts.Close()
			hdr := map[string]string{}
			if tc.header != "" {
				hdr[transport.APIKeyHeader] = tc.header
			}
			c, err := client.NewStreamableHttpClient(ts.URL+"/mcp", mcptransport.WithHTTPHeaders(hdr))
			if err != nil {
				t.Fatal(err)
			}
			startClient(t, c)
			text, isErr := callText(t, c, "whoami")
			if !strings.HasPrefix(text, tc.want) || isErr != tc.wantErr {
				t.Errorf("got %q (isError %v), want prefix %q (isError %v)", text, isErr, tc.want, tc.wantErr)
			}
		})
	}
}

func TestProgressAndCancellationReachTools(t *testing.T) {
	g := newGate()
	cancelled := make(chan error, 1)
	s := transport.New(transport.Options{Name: "dune-mcp", Version: "test", Tools: stubTools(g, cancelled), Logger: zerolog.Nop()})
	ts := httptest.NewServer(s.NewHTTPHandler(transport.HTTPConfig{}))
	defer ts.Close()
	c, err := client.NewStreamableHttpClient(ts.URL + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	startClient(t, c)

	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == "notifications/progress" && n.Params.AdditionalFields["progressToken"] == "tok-1" {
			select {
			case g.seen <- struct{}{}:
			default:
			}
		}
	})
	var req mcp.CallToolRequest
	req.Params.Name = "progress"
	req.Params.Meta = &mcp.Meta{ProgressToken: "tok-1"}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.CallTool(ctx, req)
	if err != nil || res.IsError || mcp.GetTextFromContent(res.Content[0]) != "progress seen" {
		t.Fatalf("progress call: %v %+v", err, res)
	}

	// Cancelling the client's context cancels the handler's.
	cctx, ccancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		var req mcp.CallToolRequest
		req.Params.Name = "slow"
		_, err := c.CallTool(cctx, req)
		errc <- err
	}()
	<-g.entered
	ccancel()
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler ctx error %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("handler context was not cancelled")
	}
	if err := <-errc; err == nil {
		t.Error("cancelled call returned no error")
	}
}

// serve runs ServeHTTP on a fresh loopback listener.
func serve(t *testing.T, s *transport.Server, cfg transport.HTTPConfig) (url string, stop context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.ServeHTTP(ctx, ln, cfg) }()
	t.Cleanup(cancel)
	return "http://" + ln.Addr().String(), cancel, errc
}

func TestGracefulShutdownLetsCallsFinish(t *testing.T) {
	for _, kind := range []string{"streamable", "sse"} {
		t.Run(kind, func(t *testing.T) {
			g := newGate()
			s := newServer(t, g, false, nil)
			url, stop, done := serve(t, s, transport.HTTPConfig{DrainTimeout: 10 * time.Second})
			var c *client.Client
			var err error
			if kind == "sse" {
				c, err = client.NewSSEMCPClient(url + "/sse")
			} else {
				c, err = client.NewStreamableHttpClient(url + "/mcp")
			}
			if err != nil {
				t.Fatal(err)
			}
			startClient(t, c)

			type result struct {
				text string
				err  error
			}
			resc := make(chan result, 1)
			go func() {
				var req mcp.CallToolRequest
				req.Params.Name = "slow"
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				res, err := c.CallTool(ctx, req)
				if err != nil {
					resc <- result{err: err}
					return
				}
				resc <- result{text: mcp.GetTextFromContent(res.Content[0])}
			}()
			<-g.entered
			stop()
			// The server must not return while the call is in flight.
			select {
			case err := <-done:
				t.Fatalf("ServeHTTP returned (%v) with a call in flight", err)
			case <-time.After(200 * time.Millisecond):
			}
			// New connections are refused once shutdown started.
			if resp, err := http.Get(url + "/healthz"); err == nil {
				resp.Body.Close()
				t.Error("new request accepted during shutdown")
			}
			close(g.release)
			r := <-resc
			if r.err != nil || r.text != "slow done" {
				t.Fatalf("in-flight call: %q, %v", r.text, r.err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("ServeHTTP: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("ServeHTTP did not return after the call finished")
			}
		})
	}
}

// A call still running at the end of the drain is cancelled and answered
// with ShuttingDownMessage (isError) on its own connection or SSE stream,
// and ServeHTTP returns.
func TestShutdownAnswersCallsAfterTheDrain(t *testing.T) {
	for _, kind := range []string{"streamable", "sse"} {
		t.Run(kind, func(t *testing.T) {
			g := newGate()
			cancelled := make(chan error, 1)
			s := transport.New(transport.Options{Name: "dune-mcp", Version: "test", Tools: stubTools(g, cancelled), Logger: zerolog.Nop()})
			url, stop, done := serve(t, s, transport.HTTPConfig{DrainTimeout: 50 * time.Millisecond})
			var c *client.Client
			var err error
			if kind == "sse" {
				c, err = client.NewSSEMCPClient(url + "/sse")
			} else {
				c, err = client.NewStreamableHttpClient(url + "/mcp")
			}
			if err != nil {
				t.Fatal(err)
			}
			startClient(t, c)
			type result struct {
				res *mcp.CallToolResult
				err error
			}
			resc := make(chan result, 1)
			go func() {
				var req mcp.CallToolRequest
				req.Params.Name = "slow"
				ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
				defer cancel()
				res, err := c.CallTool(ctx, req)
				resc <- result{res, err}
			}()
			<-g.entered
			stop()
			if err := <-cancelled; !errors.Is(err, context.Canceled) {
				t.Errorf("the tool's context ended with %v, want cancelled", err)
			}
			r := <-resc
			if r.err != nil || !r.res.IsError || mcp.GetTextFromContent(r.res.Content[0]) != transport.ShuttingDownMessage {
				t.Fatalf("call in flight at the end of the drain: %+v, %v", r.res, r.err)
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("ServeHTTP: %v", err)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("ServeHTTP did not return after answering the call")
			}
		})
	}
}

// --max-streams: SSE and GET /mcp streams share one cap; beyond it a stream
// is refused with 503 and Retry-After, while posts (tool calls) still pass.
func TestMaxStreams(t *testing.T) {
	s := newServer(t, newGate(), false, nil)
	url, _, _ := serve(t, s, transport.HTTPConfig{MaxStreams: 2})
	// Two SSE streams, each open once its endpoint event arrives.
	for range 2 {
		resp, err := http.Get(url + "/sse")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		line, err := bufio.NewReader(resp.Body).ReadString('\n')
		if err != nil || !strings.HasPrefix(line, "event: endpoint") {
			t.Fatalf("SSE stream: %q %v", line, err)
		}
	}
	for _, path := range []string{"/sse", "/mcp"} {
		req, _ := http.NewRequest(http.MethodGet, url+path, nil)
		req.Header.Set("Accept", "text/event-stream")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != strconv.Itoa(transport.StreamsRetryAfter) ||
			!strings.Contains(string(body), "--max-streams") {
			t.Errorf("GET %s beyond the cap: %d, Retry-After %q, %q", path, resp.StatusCode, resp.Header.Get("Retry-After"), body)
		}
	}
	c, err := client.NewStreamableHttpClient(url + "/mcp")
	if err != nil {
		t.Fatal(err)
	}
	startClient(t, c)
	if text, isErr := callText(t, c, "whoami"); isErr || !strings.HasPrefix(text, "key=") {
		t.Errorf("tool call while the stream cap is reached: %q", text)
	}
}

func TestServeHTTPReturnsListenerErrors(t *testing.T) {
	s := newServer(t, newGate(), false, nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if err := s.ServeHTTP(context.Background(), ln, transport.HTTPConfig{}); err == nil {
		t.Fatal("ServeHTTP on a closed listener returned nil")
	}
}

// Streamable HTTP is stateless: every client's calls share one session, so a
// notifications/cancelled naming a request id must not reach mcp-go, or one
// client cancels another's call that has the same id.
func TestStreamableIgnoresCancellationNotifications(t *testing.T) {
	g := newGate()
	cancelled := make(chan error, 1)
	s := transport.New(transport.Options{Name: "dune-mcp", Version: "test", Tools: stubTools(g, cancelled), Logger: zerolog.Nop()})
	ts := httptest.NewServer(s.NewHTTPHandler(transport.HTTPConfig{}))
	defer ts.Close()

	type answer struct {
		code int
		body string
		err  error
	}
	victim := make(chan answer, 1)
	go func() {
		code, body, err := testio.PostJSONRPC(ts.URL+"/mcp", `{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"slow"}}`)
		victim <- answer{code, body, err}
	}()
	<-g.entered
	for _, body := range []string{
		`{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7,"reason":"not yours"}}`,
		` [{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":7}}]`,
	} {
		code, resp, err := testio.PostJSONRPC(ts.URL+"/mcp", body)
		if err != nil || code != http.StatusAccepted {
			t.Errorf("POST %s: %d %q %v, want 202", body, code, resp, err)
		}
	}
	select {
	case err := <-cancelled:
		t.Fatalf("another client's notifications/cancelled cancelled the call: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(g.release)
	a := <-victim
	if a.err != nil || a.code != http.StatusOK || !strings.Contains(a.body, "slow done") {
		t.Fatalf("the call: %d %q %v", a.code, a.body, a.err)
	}
	// Other messages pass, even when they mention the method.
	code, body, err := testio.PostJSONRPC(ts.URL+"/mcp", `{"jsonrpc":"2.0","id":8,"method":"tools/call","params":{"name":"whoami","arguments":{"note":"notifications/cancelled"}}}`)
	if err != nil || code != http.StatusOK || !strings.Contains(body, "auth_header=false") {
		t.Errorf("a call mentioning notifications/cancelled: %d %q %v", code, body, err)
	}
}

// Over the legacy SSE transport each client has its own session id, so
// notifications/cancelled works, and only within the session.
func TestSSECancellationIsPerSession(t *testing.T) {
	g := newGate()
	defer close(g.release)
	cancelled := make(chan error, 1)
	s := transport.New(transport.Options{Name: "dune-mcp", Version: "test", Tools: stubTools(g, cancelled), Logger: zerolog.Nop()})
	ts := httptest.NewServer(s.NewHTTPHandler(transport.HTTPConfig{}))
	t.Cleanup(ts.Close) // after the clients close their streams
	sseTransport := func() *mcptransport.SSE {
		tr, err := mcptransport.NewSSE(ts.URL + "/sse")
		if err != nil {
			t.Fatal(err)
		}
		startClient(t, client.NewClient(tr))
		return tr
	}
	a, b := sseTransport(), sseTransport()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() {
		_, _ = a.SendRequest(ctx, mcptransport.JSONRPCRequest{
			JSONRPC: mcp.JSONRPC_VERSION, ID: mcp.NewRequestId(int64(1000)),
			Method: string(mcp.MethodToolsCall), Params: map[string]any{"name": "slow"},
		})
	}()
	<-g.entered
	cancelNote := mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION, Notification: mcp.Notification{
		Method: string(mcp.MethodNotificationCancelled),
		Params: mcp.NotificationParams{AdditionalFields: map[string]any{"requestId": 1000}},
	}}
	if err := b.SendNotification(ctx, cancelNote); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-cancelled:
		t.Fatalf("another SSE session's notifications/cancelled cancelled the call: %v", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := a.SendNotification(ctx, cancelNote); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-cancelled:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("handler ctx error %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the session's own notifications/cancelled did not cancel its call")
	}
}
