package tools

import (
	"net"
	"strings"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// TestThrottledSaysWhenToRetry: a request the rate limiter held back (as
// dune.Client returns it: inside a NetError's dial error) is explained with
// the limit and a whole number of seconds to wait, rounded up.
func TestThrottledSaysWhenToRetry(t *testing.T) {
	for _, tc := range []struct {
		class dune.Class
		limit int
		after time.Duration
		want  string
	}{
		{dune.ClassRead, 40, 1722 * time.Millisecond, "(40 reads a minute); the next slot is after this call's deadline. Nothing was fetched or spent. Retry after 2 s."},
		{dune.ClassWrite, 15, 30 * time.Second, "(15 query runs a minute); the next slot is after this call's deadline. Nothing was fetched or spent. Retry after 30 s. Reading the existing result (without max_age_hours) is not affected."},
	} {
		th := &dune.ThrottledError{Class: tc.class, RetryAfter: tc.after, Limit: tc.limit, Window: time.Minute}
		err := &dune.NetError{Host: "api.dune.com", Where: "GET /api/v1/query/1/results", Err: &net.OpError{Op: "dial", Net: "tcp", Err: th}}
		res := callTool(t, newTestToolset(t, &fakeFetcher{err: err}), schemas.GetLatestResult, `{"query_id":1}`)
		msg := resultText(t, res)
		if !res.IsError || !strings.Contains(msg, tc.want) || !strings.HasPrefix(msg, "Held back to stay under Dune's rate limit") {
			t.Errorf("%s: isError %v, %q; want it to contain %q", tc.class, res.IsError, msg, tc.want)
		}
	}
}
