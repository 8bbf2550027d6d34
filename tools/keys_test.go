package tools

import (
	"context"
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// Per-request Dune keys (multi-user HTTP): the server has no key of its own
// and each call brings one in its context, as the transport does with the
// X-Dune-Api-Key header.
const (
	keyA        = "user-a-key-7d1f"
	keyB        = "user-b-key-93c2"
	attackerKey = "attacker-key-55e0"
)

// keyEnv is a key-less server in front of an emulator accepting keyA and keyB.
func keyEnv(t *testing.T) *env {
	t.Helper()
	emu := emulator.NewServer(emulator.WithAPIKey(keyA), emulator.WithAPIKey(keyB))
	t.Cleanup(emu.Close)
	return newEnvWith(t, emu, "")
}

func withKey(key string) context.Context { return dune.WithAPIKey(context.Background(), key) }

// A cursor is bound to the key it was issued for: presented with another
// key (invalid or valid) it is refused before the page cache or Dune is
// consulted, so no row fetched with A's key reaches B. A's own walk is
// still served from the cache.
func TestCursorOfAnotherKeyRefused(t *testing.T) {
	e := keyEnv(t)
	e.emu.AddQuery(1001, emulator.DEXTrades(5000, 1))
	first := e.callCtx(t, withKey(keyA), schemas.GetLatestResult, map[string]any{"query_id": 1001, "max_tokens": 2000})
	checkBudget(t, first, 2000)
	if first.S.NextCursor == "" || e.emu.Stats().RowsServed <= first.S.ReturnedRows {
		t.Fatalf("setup: cursor %q, %d rows fetched for %d shown: nothing cached for next_page", first.S.NextCursor, e.emu.Stats().RowsServed, first.S.ReturnedRows)
	}
	for name, key := range map[string]string{"invalid key": attackerKey, "another valid key": keyB} {
		before := e.emu.Stats()
		r := e.callCtx(t, withKey(key), schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
		if !r.IsError || !strings.Contains(r.Text, "different Dune API key") || !strings.Contains(r.Text, "get_latest_result again with your key") {
			t.Errorf("%s: isError %v, %.300q", name, r.IsError, r.Text)
		}
		if len(r.S.Rows) != 0 || strings.Contains(r.Text, "page cache") {
			t.Errorf("%s: rows served: %d", name, len(r.S.Rows))
		}
		if after := e.emu.Stats(); after.Requests != before.Requests {
			t.Errorf("%s: %d upstream requests for a refused cursor", name, after.Requests-before.Requests)
		}
	}
	// A's walk goes on, a re-read of A's page without a request.
	a := e.callExact(t, schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
	if !a.IsError {
		t.Error("the server's own key accepted a cursor issued for key A")
	}
	pageA := e.callCtx(t, withKey(keyA), schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
	checkBudget(t, pageA, 2000)
	if pageA.S.Offset != first.S.ReturnedRows || pageA.S.ReturnedRows == 0 {
		t.Fatalf("A's next page: offset %d, %d rows", pageA.S.Offset, pageA.S.ReturnedRows)
	}
	before := e.emu.Stats().Requests
	again := e.callCtx(t, withKey(keyA), schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
	if e.emu.Stats().Requests != before || again.S.Datapoints != 0 || mustJSON(again.S.Rows) != mustJSON(pageA.S.Rows) {
		t.Errorf("A's re-read: %d requests, %d datapoints", e.emu.Stats().Requests-before, again.S.Datapoints)
	}
}

// Cached rows are served only to a caller with the key they were fetched
// with, even when the caller holds a genuine cursor for the same rows (the
// same position of the same execution, e.g. after walking the same pages):
// everyone else's rows come from Dune, which checks their key.
func TestPageCacheIsolatedByKey(t *testing.T) {
	e := keyEnv(t)
	e.emu.AddQuery(1001, emulator.DEXTrades(5000, 1))
	first := e.callCtx(t, withKey(keyA), schemas.GetLatestResult, map[string]any{"query_id": 1001, "max_tokens": 2000})
	checkBudget(t, first, 2000)
	cur, err := e.ts.codec.Decode(first.S.NextCursor, e.ts.codec.fingerprint(keyA))
	if err != nil {
		t.Fatal(err)
	}
	cursorFor := func(key string) string {
		c := cur
		c.KeyFP = e.ts.codec.fingerprint(key)
		return e.ts.codec.Encode(c)
	}

	// A key Dune rejects gets Dune's rejection, not A's cached rows.
	before := e.emu.Stats()
	r := e.callCtx(t, withKey(attackerKey), schemas.NextPage, map[string]any{"cursor": cursorFor(attackerKey)})
	after := e.emu.Stats()
	if !r.IsError || !strings.Contains(r.Text, "X-Dune-Api-Key") || len(r.S.Rows) != 0 {
		t.Errorf("attacker: isError %v, %d rows, %.200q", r.IsError, len(r.S.Rows), r.Text)
	}
	if after.Requests == before.Requests || after.RowsServed != before.RowsServed {
		t.Errorf("attacker: %d requests, %d rows served upstream; want Dune asked and no rows", after.Requests-before.Requests, after.RowsServed-before.RowsServed)
	}

	// A valid key B gets the same rows, fetched with its own key.
	before = e.emu.Stats()
	b := e.callCtx(t, withKey(keyB), schemas.NextPage, map[string]any{"cursor": cursorFor(keyB)})
	checkBudget(t, b, 2000)
	if e.emu.Stats().Requests == before.Requests || b.S.Datapoints == 0 {
		t.Errorf("B's page came from A's cache (%d requests, %d datapoints)", e.emu.Stats().Requests-before.Requests, b.S.Datapoints)
	}
	// A's page: the rows A fetched, from the cache.
	before = e.emu.Stats()
	a := e.callCtx(t, withKey(keyA), schemas.NextPage, map[string]any{"cursor": first.S.NextCursor})
	checkBudget(t, a, 2000)
	if b.S.Offset != a.S.Offset || mustJSON(b.S.Rows[:min(len(a.S.Rows), len(b.S.Rows))]) != mustJSON(a.S.Rows[:min(len(a.S.Rows), len(b.S.Rows))]) {
		t.Error("B and A see different rows at the same offset")
	}
	if cached := before.RowsServed - first.S.ReturnedRows; cached >= a.S.ReturnedRows && (e.emu.Stats().Requests != before.Requests || a.S.Datapoints != 0) {
		t.Errorf("A's %d cached rows not served from the cache", cached)
	}
}

// A 401 for a key the client sent says so and tells the client to send a
// valid one; the server's own key keeps the operator's advice.
func TestRejectedKeyMessage(t *testing.T) {
	e := keyEnv(t)
	e.emu.AddQuery(1005, emulator.Tiny())
	r := e.callCtx(t, withKey(attackerKey), schemas.GetLatestResult, map[string]any{"query_id": 1005})
	if !r.IsError || r.Text != rejectedRequestKey {
		t.Errorf("per-request key: isError %v, %q", r.IsError, r.Text)
	}
	for _, not := range []string{"DUNE_API_KEY", "restart", attackerKey} {
		if strings.Contains(r.Text, not) {
			t.Errorf("per-request key message mentions %q: %s", not, r.Text)
		}
	}
	if strings.Contains(e.logs.String(), attackerKey) {
		t.Error("the key leaked into the logs")
	}
	// The server's own key (TestInvalidAPIKey checks through the emulator).
	own := explain(&dune.APIError{StatusCode: 401, Kind: dune.KindInvalidKey}, callSite{tool: schemas.GetLatestResult})
	if !strings.Contains(own.Msg, "DUNE_API_KEY") || strings.Contains(own.Msg, "X-Dune-Api-Key header") {
		t.Errorf("server key message: %s", own.Msg)
	}
}
