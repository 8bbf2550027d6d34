package emulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// t0 is when a fakeClock starts.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// fakeClock is a settable clock for emulator.WithClock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *fakeClock { return &fakeClock{now: t0} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Set moves the clock to t0 + d.
func (c *fakeClock) Set(d time.Duration) {
	c.mu.Lock()
	c.now = t0.Add(d)
	c.mu.Unlock()
}

// clocked starts an emulator on a fake clock.
func clocked(t *testing.T, opts ...emulator.Option) (*emulator.Server, *fakeClock) {
	t.Helper()
	c := newClock()
	s := emulator.NewServer(append(opts, emulator.WithClock(c.Now))...)
	t.Cleanup(s.Close)
	return s, c
}

// send sends method base+path with body and the default key.
func send(t *testing.T, s *emulator.Server, method, path, body string) response {
	t.Helper()
	return sendWith(t, method, s.URL+path, body, map[string]string{"X-Dune-Api-Key": emulator.DefaultAPIKey})
}

func sendWith(t *testing.T, method, url, body string, headers map[string]string) response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// execute runs query qid with body and returns the new execution id.
func execute(t *testing.T, s *emulator.Server, qid int64, body string) string {
	t.Helper()
	r := send(t, s, http.MethodPost, "/api/v1/query/"+itoa(qid)+"/execute", body)
	if r.Status != http.StatusOK {
		t.Fatalf("execute %d %s: %d %s", qid, body, r.Status, r.Body)
	}
	var out map[string]string
	if err := json.Unmarshal(r.Body, &out); err != nil || len(out) != 2 || out["state"] != "QUERY_STATE_PENDING" || len(out["execution_id"]) != 26 {
		t.Fatalf("execute answer %s (%v)", r.Body, err)
	}
	return out["execution_id"]
}

// status fetches /execution/{id}/status as an object.
func status(t *testing.T, s *emulator.Server, id string) map[string]any {
	t.Helper()
	r := get(t, s, "/api/v1/execution/"+id+"/status")
	if r.Status != http.StatusOK {
		t.Fatalf("status %s: %d %s", id, r.Status, r.Body)
	}
	return r.object(t)
}

// wantKeys asserts which of the optional status fields are present.
func wantKeys(t *testing.T, m map[string]any, present ...string) {
	t.Helper()
	optional := []string{"execution_started_at", "execution_ended_at", "cancelled_at", "queue_position", "result_metadata", "error", "execution_cost_credits", "result"}
	for _, k := range []string{"execution_id", "query_id", "state", "is_execution_finished", "submitted_at", "expires_at"} {
		if _, ok := m[k]; !ok {
			t.Errorf("missing %s in %v", k, m)
		}
	}
	for _, k := range optional {
		_, got := m[k]
		want := false
		for _, p := range present {
			want = want || p == k
		}
		if got != want {
			t.Errorf("%s present = %v, want %v (state %v)", k, got, want, m["state"])
		}
	}
}

// wantTime asserts that field holds t0 + d.
func wantTime(t *testing.T, m map[string]any, field string, d time.Duration) {
	t.Helper()
	s, _ := m[field].(string)
	got, err := time.Parse(time.RFC3339Nano, s)
	if err != nil || !got.Equal(t0.Add(d)) {
		t.Errorf("%s = %q, want %v", field, s, t0.Add(d))
	}
}

// num reads a JSON number field as an int.
func num(t *testing.T, v any) int {
	t.Helper()
	n, ok := v.(json.Number)
	if !ok {
		t.Fatalf("%v (%T) is not a number", v, v)
	}
	i, err := n.Int64()
	if err != nil {
		t.Fatal(err)
	}
	return int(i)
}
