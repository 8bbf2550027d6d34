package emulator

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"

	"github.com/oklog/ulid/v2"
)

// serveJSON answers method path on s's handler (default key) and decodes
// the JSON body into a map.
func serveJSON(t *testing.T, s *Server, method, path string) map[string]any {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	req.Header.Set("X-Dune-Api-Key", DefaultAPIKey)
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, rec.Code, rec.Body)
	}
	var m map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return m
}

// demoExecIDs lists the ids of every execution of every demo query, in
// DemoQueries order, each query's executions in order of registration.
func demoExecIDs(s *Server) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, q := range DemoQueries {
		for _, x := range s.queries[q.ID] {
			ids = append(ids, x.id)
		}
	}
	return ids
}

// TestDemoExecutionIDsStableAcrossServers: two demo emulators created
// independently (as two `dune-mcp --demo` processes are) serve the same
// execution ids, valid ULIDs sorting in registration order, and a page of
// one server's execution is served by the other.
func TestDemoExecutionIDsStableAcrossServers(t *testing.T) {
	a, b := NewUnstartedServer(WithDemoData()), NewUnstartedServer(WithDemoData(), WithSeed(9))
	ids := demoExecIDs(a)
	if n := len(ids); n < len(DemoQueries)+4 {
		t.Fatalf("%d demo executions, want at least %d", n, len(DemoQueries)+4)
	}
	if other := demoExecIDs(b); !slices.Equal(ids, other) {
		t.Fatalf("demo execution ids differ:\n%v\n%v", ids, other)
	}
	for _, id := range ids {
		if u, err := ulid.ParseStrict(id); err != nil || u.String() != id {
			t.Errorf("demo execution id %q is not a ULID: %v", id, err)
		}
	}
	if !slices.IsSorted(ids) || len(slices.Compact(slices.Clone(ids))) != len(ids) {
		t.Errorf("demo execution ids do not sort in registration order: %v", ids)
	}
	for _, id := range ids { // each id minted by a is served by b
		if got := serveJSON(t, b, http.MethodGet, "/api/v1/execution/"+id+"/status")["execution_id"]; got != id {
			t.Errorf("status of %s on the other server: execution %v", id, got)
		}
	}

	first := serveJSON(t, a, http.MethodGet, "/api/v1/query/1001/results?limit=5")
	eid, _ := first["execution_id"].(string)
	next := serveJSON(t, b, http.MethodGet, "/api/v1/execution/"+eid+"/results?limit=5&offset=5")
	if next["execution_id"] != eid {
		t.Fatalf("page on the other server: execution %v, want %s", next["execution_id"], eid)
	}
	rows := next["result"].(map[string]any)["rows"].([]any)
	want := DEXTrades(100000, 1001).Row(5)
	if len(rows) != 5 || rows[0].(map[string]any)["tx_hash"] != want[20] {
		t.Errorf("page at offset 5 on the other server: %d rows, first %v", len(rows), rows[0])
	}

	// Executions registered or started later get fresh ids sorting after.
	added := a.AddQuery(77, Tiny())
	started := serveJSON(t, a, http.MethodPost, "/api/v1/query/1005/execute")["execution_id"].(string)
	for _, id := range []string{added, started} {
		if slices.Contains(ids, id) || id <= ids[len(ids)-1] {
			t.Errorf("later execution id %s collides with or sorts before the demo ids", id)
		}
	}
	if c := NewUnstartedServer(WithDemoData()); c.AddQuery(77, Tiny()) == added {
		t.Error("non-demo execution ids repeat across servers")
	}
}
