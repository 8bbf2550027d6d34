package tools

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// fakeFetcher answers every request with res/err and counts calls.
type fakeFetcher struct {
	res   *dune.Result
	err   error
	calls atomic.Int32
}

func (f *fakeFetcher) GetLatestResult(ctx context.Context, queryID int64, opts dune.Options) (*dune.Result, error) {
	f.calls.Add(1)
	return f.res, f.err
}

func (f *fakeFetcher) GetExecutionResult(ctx context.Context, executionID string, opts dune.Options) (*dune.Result, error) {
	f.calls.Add(1)
	return f.res, f.err
}

// The fake never runs queries: tests of runs use the emulator.
func (f *fakeFetcher) ExecuteQuery(ctx context.Context, queryID int64, params map[string]string, performance string) (*dune.Execution, error) {
	f.calls.Add(1)
	return nil, f.err
}

func (f *fakeFetcher) GetExecutionStatus(ctx context.Context, executionID string) (*dune.Status, error) {
	f.calls.Add(1)
	return nil, f.err
}

func newTestToolset(t *testing.T, f Fetcher) *Toolset {
	t.Helper()
	ts, err := New(Config{Fetcher: f, CursorSecret: []byte("test-secret")})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// callTool invokes the named tool's handler directly with JSON arguments.
func callTool(t *testing.T, ts *Toolset, name, args string) *mcp.CallToolResult {
	t.Helper()
	for _, st := range ts.ServerTools() {
		if st.Tool.Name == name {
			req := mcp.CallToolRequest{}
			req.Params.Name = name
			req.Params.RawArguments = json.RawMessage(args)
			res, err := st.Handler(context.Background(), req)
			if err != nil {
				t.Fatalf("%s: protocol error %v", name, err)
			}
			return res
		}
	}
	t.Fatalf("no tool %s", name)
	return nil
}

func resultText(t *testing.T, res *mcp.CallToolResult) string {
	t.Helper()
	if len(res.Content) != 1 {
		t.Fatalf("want one content block, got %d", len(res.Content))
	}
	tc, ok := mcp.AsTextContent(res.Content[0])
	if !ok {
		t.Fatalf("content is %T, want text", res.Content[0])
	}
	return tc.Text
}

func TestBadArgumentsNeverReachDune(t *testing.T) {
	f := &fakeFetcher{err: errors.New("must not be called")}
	ts := newTestToolset(t, f)
	cases := []struct{ tool, args, want string }{
		{schemas.GetLatestResult, `{"query_id":1,"limt":5}`, `unknown argument "limt"`},
		{schemas.GetLatestResult, `{"query_id":"x"}`, "query_id must be an integer"},
		{schemas.GetLatestResult, `{"query_id":1,"limit":0}`, "limit must be an integer from 1 to 100000"},
		{schemas.GetLatestResult, `{"query_id":1,"offset":-5}`, "offset must be an integer ≥ 0"},
		{schemas.GetLatestResult, `{}`, `missing required argument "query_id"`},
		{schemas.NextPage, `{"cursor":"abc"}`, "cursor is invalid: tampered, truncated, signed by another server"},
		{schemas.NextPage, `{"cursor":"abc","limit":-1}`, "limit must be an integer"},
		{schemas.SampleResult, `{"query_id":1,"sample_count":5,"filters":"a=1"}`, "cannot be combined"},
		{schemas.SampleResult, `{"query_id":1}`, `missing required argument "sample_count"`},
	}
	for _, c := range cases {
		res := callTool(t, ts, c.tool, c.args)
		if !res.IsError {
			t.Errorf("%s %s: not an error", c.tool, c.args)
			continue
		}
		if msg := resultText(t, res); !strings.Contains(msg, c.want) || len(msg) > schemas.MaxMessageLen {
			t.Errorf("%s %s: message %q (want %q, ≤ %d bytes)", c.tool, c.args, msg, c.want, schemas.MaxMessageLen)
		}
	}
	if n := f.calls.Load(); n != 0 {
		t.Errorf("%d upstream calls for bad arguments", n)
	}
}

func TestNumericStringQueryIDAccepted(t *testing.T) {
	f := &fakeFetcher{err: &dune.APIError{StatusCode: 404, Kind: dune.KindNotFound, Message: "Query not found"}}
	ts := newTestToolset(t, f)
	res := callTool(t, ts, schemas.GetLatestResult, `{"query_id":"4242"}`)
	if !res.IsError || !strings.Contains(resultText(t, res), "Query 4242 not found") {
		t.Errorf("got %v %q", res.IsError, resultText(t, res))
	}
	if f.calls.Load() != 1 {
		t.Errorf("calls = %d", f.calls.Load())
	}
}

func TestUpstreamFailuresExplained(t *testing.T) {
	const secret = "sk_live_SECRET123"
	ended := time.Date(2024, 3, 5, 22, 7, 24, 0, time.UTC)
	cases := []struct {
		name string
		tool string
		res  *dune.Result
		err  error
		want []string
	}{
		{"invalid key", schemas.GetLatestResult, nil, &dune.APIError{StatusCode: 401, Kind: dune.KindInvalidKey, Message: "invalid API Key"}, []string{"API key", "DUNE_API_KEY"}},
		{"missing key", schemas.GetLatestResult, nil, fmt.Errorf("wrapped: %w", dune.ErrMissingAPIKey), []string{"DUNE_API_KEY"}},
		{"not found", schemas.GetLatestResult, nil, &dune.APIError{StatusCode: 404, Kind: dune.KindNotFound, Message: "Query not found"}, []string{"Query 77 not found", "private"}},
		{"credits", schemas.GetLatestResult, nil, &dune.APIError{StatusCode: 402, Kind: dune.KindPayment, Message: "This api request would exceed your configured limits per billing cycle."}, []string{"credits", "402", "limits per billing cycle"}},
		{"credits per request", schemas.GetLatestResult, nil, &dune.APIError{StatusCode: 402, Kind: dune.KindCreditsPerRequest, Message: "This request would exceed the max credits per request."}, []string{"per-request credit cap", "402", "fewer columns"}},
		{"rate limited", schemas.GetLatestResult, nil, &dune.APIError{StatusCode: 429, Kind: dune.KindRateLimited, RetryAfter: 2500 * time.Millisecond}, []string{"429", "Retry after 3 s"}},
		{"rate limited no header", schemas.GetLatestResult, nil, &dune.APIError{StatusCode: 429, Kind: dune.KindRateLimited}, []string{"429", "minute"}},
		{"partial", schemas.GetLatestResult, nil, &dune.APIError{StatusCode: 400, Kind: dune.KindPartialResult, Message: "Partial Result, please request with 'allows_partial_results=true'"}, []string{"allow_partial_results=true"}},
		{"partial on next_page", schemas.NextPage, nil, &dune.APIError{StatusCode: 400, Kind: dune.KindPartialResult}, []string{"get_latest_result with allow_partial_results=true"}},
		{"bad filter", schemas.GetLatestResult, nil, &dune.APIError{StatusCode: 400, Kind: dune.KindBadRequest, Message: "invalid filter: unknown column 'amout_usd' at position 1"}, []string{"400", "unknown column 'amout_usd'"}},
		{"server", schemas.GetLatestResult, nil, &dune.APIError{StatusCode: 503, Kind: dune.KindServer, Message: "Internal error"}, []string{"server error", "503", "Try again"}},
		{"forbidden", schemas.GetLatestResult, nil, &dune.APIError{StatusCode: 403, Kind: dune.KindForbidden, Message: "Not allowed"}, []string{"403", "Not allowed"}},
		{"other http", schemas.GetLatestResult, nil, &dune.APIError{StatusCode: 409, Kind: dune.KindOther, Message: "conflict"}, []string{"409", "conflict"}},
		{"timeout", schemas.GetLatestResult, nil, fmt.Errorf("dune: GET: %w", context.DeadlineExceeded), []string{"Timed out"}},
		{"cancelled", schemas.GetLatestResult, nil, fmt.Errorf("dune: GET: %w", context.Canceled), []string{"cancelled"}},
		{"too large", schemas.GetLatestResult, nil, fmt.Errorf("x: %w", dune.ErrBodyTooLarge), []string{"fewer rows"}},
		{"malformed", schemas.GetLatestResult, nil, fmt.Errorf("x: %w", dune.ErrMalformedResponse), []string{"malformed"}},
		{"validation", schemas.GetLatestResult, nil, &dune.ValidationError{Field: "sort_by", Reason: "empty column name"}, []string{"invalid sort_by: empty column name"}},
		{"failed", schemas.GetLatestResult,
			&dune.Result{ExecutionID: "01K85QHSS0RBGW4BHDM0RFCG9C", State: dune.StateFailed, ExecutionEndedAt: &ended},
			&dune.ResultError{ExecutionID: "01K85QHSS0RBGW4BHDM0RFCG9C", State: dune.StateFailed, Type: "FAILED_TYPE_EXECUTION_FAILED", Message: "line 1:8: Column 'x' cannot be resolved", Line: 1, Column: 8},
			[]string{"FAILED", "line 1, column 8", "Column 'x' cannot be resolved"}},
		{"cancelled execution", schemas.GetLatestResult, nil, &dune.ResultError{ExecutionID: "01X", State: dune.StateCancelled}, []string{"CANCELLED", "max_age_hours=0"}},
		{"expired execution", schemas.GetLatestResult, nil, &dune.ResultError{ExecutionID: "01X", State: dune.StateExpired}, []string{"EXPIRED"}},
		// The Dune client reports every state without rows as a
		// *dune.ResultError (dune/client.go checkState), unfinished ones too.
		{"executing", schemas.GetLatestResult, &dune.Result{ExecutionID: "01Y", State: dune.StateExecuting}, &dune.ResultError{ExecutionID: "01Y", State: dune.StateExecuting}, []string{"still running", "Try again"}},
		{"pending", schemas.GetLatestResult, &dune.Result{ExecutionID: "01Y", State: dune.StatePending}, &dune.ResultError{ExecutionID: "01Y", State: dune.StatePending}, []string{"still running"}},
		{"unknown state", schemas.GetLatestResult, &dune.Result{ExecutionID: "01Z", State: "QUERY_STATE_THINKING"}, &dune.ResultError{ExecutionID: "01Z", State: "QUERY_STATE_THINKING"}, []string{"QUERY_STATE_THINKING", "without a result"}},
		{"long upstream message bounded", schemas.GetLatestResult, nil, &dune.APIError{StatusCode: 400, Kind: dune.KindBadRequest, Message: strings.Repeat("very long message ", 100)}, []string{"400"}},
		{"unknown error", schemas.GetLatestResult, nil, errors.New("connection reset by peer"), []string{"connection reset"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestToolset(t, &fakeFetcher{res: c.res, err: c.err})
			args := `{"query_id":77}`
			if c.tool == schemas.NextPage {
				args = fmt.Sprintf(`{"cursor":%q}`, ts.codec.Encode(cursor{view: view{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1", KeyFP: ts.codec.fingerprint("")}, QueryID: 77, Offset: 5, PageSize: 5}))
			}
			res := callTool(t, ts, c.tool, args)
			if !res.IsError {
				t.Fatal("not an error result")
			}
			msg := resultText(t, res)
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			if len(msg) > schemas.MaxMessageLen {
				t.Errorf("message is %d bytes", len(msg))
			}
			if strings.Contains(msg, secret) {
				t.Error("message leaks a secret")
			}
		})
	}
}

func TestNotFoundOnNextPageNamesExecution(t *testing.T) {
	ts := newTestToolset(t, &fakeFetcher{err: &dune.APIError{StatusCode: 404, Kind: dune.KindNotFound, Message: "Object not found"}})
	args := fmt.Sprintf(`{"cursor":%q}`, ts.codec.Encode(cursor{view: view{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1", KeyFP: ts.codec.fingerprint("")}, QueryID: 3, Offset: 5, PageSize: 5}))
	msg := resultText(t, callTool(t, ts, schemas.NextPage, args))
	if !strings.Contains(msg, "01HKZJ2683PHF9Q9PHHQ8FW4Q1") || !strings.Contains(msg, "get_latest_result") {
		t.Errorf("message %q", msg)
	}
}

func TestBound(t *testing.T) {
	s := bound(strings.Repeat("é", 400), 50)
	if len(s) > 50 || !strings.HasSuffix(s, "…") {
		t.Errorf("bound = %q (%d bytes)", s, len(s))
	}
	if got := bound("a\n  b", 50); got != "a b" {
		t.Errorf("whitespace not collapsed: %q", got)
	}
}

// Network failures that last say what is wrong and where, not "try again".
func TestNetworkFailuresExplained(t *testing.T) {
	netErr := func(err error) error {
		return fmt.Errorf("wrapped: %w", &dune.NetError{Host: "api.dune.com", Where: "GET /api/v1/query/77/results", Err: err})
	}
	dial := func(err error) error { return &net.OpError{Op: "dial", Net: "tcp", Err: err} }
	cases := []struct {
		name string
		err  error
		want []string
		not  string
	}{
		{"dns", netErr(dial(&net.DNSError{Name: "api.dune.com", Err: "no such host", IsNotFound: true})),
			[]string{"Cannot reach Dune at api.dune.com: the name does not resolve (DNS); check the network, a proxy, or --dune-base-url"}, "Try again"},
		{"refused", netErr(dial(os.NewSyscallError("connect", syscall.ECONNREFUSED))),
			[]string{"Cannot reach Dune at api.dune.com: connection refused", "--dune-base-url"}, "Try again"},
		{"untrusted", netErr(&tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}),
			[]string{"Cannot reach Dune at api.dune.com: TLS certificate not trusted", "proxy"}, "Try again"},
		{"wrong host", netErr(&tls.CertificateVerificationError{Err: x509.HostnameError{Host: "api.dune.com"}}),
			[]string{"api.dune.com", "not valid for that host"}, "Try again"},
		{"expired", netErr(&tls.CertificateVerificationError{Err: x509.CertificateInvalidError{Reason: x509.Expired}}),
			[]string{"TLS certificate not trusted", "clock"}, "Try again"},
		{"no TLS", netErr(tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}),
			[]string{"api.dune.com", "TLS handshake failed"}, "Try again"},
		// Transient ones keep their advice.
		{"reset", netErr(&net.OpError{Op: "read", Err: os.NewSyscallError("read", syscall.ECONNRESET)}),
			[]string{"connection reset", "Try again"}, "Cannot reach"},
		{"dns timeout", netErr(dial(&net.DNSError{Name: "api.dune.com", Err: "i/o timeout", IsTimeout: true})),
			[]string{"Timed out"}, "does not resolve"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ts := newTestToolset(t, &fakeFetcher{err: c.err})
			msg := resultText(t, callTool(t, ts, schemas.GetLatestResult, `{"query_id":77}`))
			for _, w := range c.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, c.not) {
				t.Errorf("message %q says %q", msg, c.not)
			}
			if len(msg) > schemas.MaxMessageLen {
				t.Errorf("message is %d bytes", len(msg))
			}
		})
	}
}
