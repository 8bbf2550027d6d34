package e2e

import (
	"bufio"
	"io"
	"net/http"
	"strings"
	"testing"
)

// --max-streams on the binary: with one SSE stream open and a cap of 1, the
// next stream (SSE or GET /mcp) gets 503 with Retry-After.
func TestMaxStreamsOnTheBinary(t *testing.T) {
	t.Parallel()
	_, base := startHTTP(t, baseEnv("DUNE_MCP_MAX_STREAMS", "1"), "--demo")
	resp, err := http.Get(base + "/sse")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if line, err := bufio.NewReader(resp.Body).ReadString('\n'); err != nil || !strings.HasPrefix(line, "event: endpoint") {
		t.Fatalf("first SSE stream: %q %v", line, err)
	}
	for _, path := range []string{"/sse", "/mcp"} {
		req, _ := http.NewRequest(http.MethodGet, base+path, nil)
		req.Header.Set("Accept", "text/event-stream")
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusServiceUnavailable || r.Header.Get("Retry-After") == "" {
			t.Errorf("GET %s beyond --max-streams: %d, Retry-After %q, %q", path, r.StatusCode, r.Header.Get("Retry-After"), body)
		}
	}
}
