package e2e

import (
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// The binary runs a query when max_age_hours asks for a fresher result, waits
// within --call-timeout, hands out a cursor while the run goes on, and
// --no-execute refuses it. The embedded demo emulator runs executions in real
// time (a few seconds each).
func TestRefreshOnTheBinary(t *testing.T) {
	c, p, _, stdin := stdioSession(t, baseEnv(), "--demo", "--call-timeout", "2s")
	initialize(t, c, mcp.ProtocolVersion20251125)

	// Query 1005's default profile: ~1 s queued, ~2 s running.
	r := call(t, c, "get_latest_result", map[string]any{"query_id": emulator.DemoTiny, "max_age_hours": 0})
	s := structured(t, r)
	for range 5 { // the 2 s call timeout may end a wait first
		if r.IsError || s["returned_rows"].(float64) > 0 {
			break
		}
		r = call(t, c, "next_page", map[string]any{"cursor": s["next_cursor"]})
		s = structured(t, r)
	}
	if r.IsError || s["executed"] != true || s["execution_cost_credits"] != float64(emulator.CreditsMedium) || s["returned_rows"] != float64(3) {
		t.Fatalf("refresh: isError %v %v\n%s", r.IsError, s, text(r))
	}
	if !strings.Contains(text(r), "ran the query now") {
		t.Errorf("text does not say the query ran:\n%s", text(r))
	}

	// A run of query 1004 (~3 s) outlasts one call's wait (2 s minus a reserve).
	r = call(t, c, "get_latest_result", map[string]any{"query_id": emulator.DemoDailySeries, "max_age_hours": 0})
	s = structured(t, r)
	if r.IsError || s["state"] == "QUERY_STATE_COMPLETED" || s["has_more"] != true || s["next_cursor"] == nil || !strings.Contains(text(r), "still running") {
		t.Fatalf("at the bound: isError %v %v\n%s", r.IsError, s, text(r))
	}
	id := s["execution_id"]
	for range 5 {
		r = call(t, c, "next_page", map[string]any{"cursor": s["next_cursor"]})
		s = structured(t, r)
		if r.IsError || s["returned_rows"].(float64) > 0 {
			break
		}
	}
	if r.IsError || s["execution_id"] != id || s["returned_rows"].(float64) == 0 || s["offset"] != float64(0) {
		t.Fatalf("resumed: isError %v %v\n%s", r.IsError, s, text(r))
	}
	stdin.Close()
	if code := p.wait(); code != 0 {
		t.Errorf("exit %d", code)
	}
}

func TestNoExecuteOnTheBinary(t *testing.T) {
	c, p, _, stdin := stdioSession(t, baseEnv("DUNE_MCP_NO_EXECUTE", "true"), "--demo")
	initialize(t, c, mcp.ProtocolVersion20251125)
	list, err := c.ListTools(t.Context(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range list.Tools {
		if tool.Annotations.ReadOnlyHint == nil || !*tool.Annotations.ReadOnlyHint {
			t.Errorf("%s is not read-only under --no-execute", tool.Name)
		}
	}
	r := call(t, c, "get_latest_result", map[string]any{"query_id": emulator.DemoTiny, "max_age_hours": 0})
	if !r.IsError || !strings.Contains(text(r), "--no-execute") {
		t.Errorf("no-execute: isError %v %q", r.IsError, text(r))
	}
	stdin.Close()
	if code := p.wait(); code != 0 {
		t.Errorf("exit %d", code)
	}
}
