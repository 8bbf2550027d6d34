package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
	"github.com/tiktoken-go/tokenizer"

	"github.com/dune-mcp/dune-mcp/schemas"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// maxToolsListTokens is the o200k_base budget of the whole tools/list answer.
const maxToolsListTokens = 1500

// TestToolDefinitionSnapshots keeps each tool's full definition (name, title,
// description, annotations, input and output schema) in testdata/<name>.json,
// so any change shows in review. Run with -update to accept a change.
func TestToolDefinitionSnapshots(t *testing.T) {
	ts := newTestToolset(t, &fakeFetcher{})
	for _, st := range ts.ServerTools() {
		got, err := json.MarshalIndent(st.Tool, "", "  ")
		if err != nil {
			t.Fatalf("%s: marshal: %v", st.Tool.Name, err)
		}
		got = append(got, '\n')
		path := filepath.Join("testdata", st.Tool.Name+".json")
		if *update {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%s: %v (run go test ./tools -run TestToolDefinitionSnapshots -update)", st.Tool.Name, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s definition changed; if intended, run with -update.\n--- got\n%s\n--- want\n%s", st.Tool.Name, got, want)
		}
	}
}

// listTools returns the tools/list result exactly as a client receives it.
func listTools(t *testing.T, ts *Toolset) json.RawMessage {
	t.Helper()
	srv := server.NewMCPServer("dune-mcp", "test", server.WithToolCapabilities(false))
	srv.AddTools(ts.ServerTools()...)
	resp := srv.HandleMessage(context.Background(), []byte(`{"jsonrpc":"2.0","id":1,"method":"tools/list"}`))
	raw, err := json.Marshal(resp)
	if err != nil {
		t.Fatal(err)
	}
	var env struct {
		Result json.RawMessage `json:"result"`
		Error  any             `json:"error"`
	}
	if err := json.Unmarshal(raw, &env); err != nil || env.Error != nil || env.Result == nil {
		t.Fatalf("tools/list failed: %s", raw)
	}
	return env.Result
}

func TestToolsListTokenBudget(t *testing.T) {
	checkToolsListCost(t, "tools/list", listTools(t, newTestToolset(t, &fakeFetcher{})))
}

// checkToolsListCost counts the o200k_base tokens of a tools/list answer
// against maxToolsListTokens.
func checkToolsListCost(t *testing.T, what string, raw []byte) {
	t.Helper()
	enc, err := tokenizer.Get(tokenizer.O200kBase)
	if err != nil {
		t.Fatal(err)
	}
	n, err := enc.Count(string(raw))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: %d bytes, %d o200k_base tokens", what, len(raw), n)
	if n > maxToolsListTokens {
		t.Errorf("%s costs %d tokens, budget %d", what, n, maxToolsListTokens)
	}
}

// Go's JSON encoder escapes <, > and & as \u003c, \u003e, \u0026 (several
// tokens each, unreadable for the model): descriptions avoid them.
func TestToolsListHasNoEscapedHTML(t *testing.T) {
	raw := string(listTools(t, newTestToolset(t, &fakeFetcher{})))
	for _, esc := range []string{`\u003c`, `\u003e`, `\u0026`} {
		if strings.Contains(raw, esc) {
			i := strings.Index(raw, esc)
			t.Errorf("tools/list contains %s: …%s…", esc, raw[max(0, i-60):min(len(raw), i+20)])
		}
	}
}

func TestToolsListInvariants(t *testing.T) {
	var list struct {
		Tools []map[string]any `json:"tools"`
	}
	if err := json.Unmarshal(listTools(t, newTestToolset(t, &fakeFetcher{})), &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range list.Tools {
		name, _ := tool["name"].(string)
		names = append(names, name)
		if d, _ := tool["description"].(string); len(d) < 40 {
			t.Errorf("%s: description %q too short", name, d)
		}
		ann, _ := tool["annotations"].(map[string]any)
		if title, _ := ann["title"].(string); title == "" {
			t.Errorf("%s: no title", name)
		}
		// With execution allowed (the default), get_latest_result may run
		// the query (max_age_hours): it spends credits and replaces the
		// query's latest result, so it is neither read-only nor idempotent.
		// It deletes nothing.
		runs := name == schemas.GetLatestResult
		for hint, want := range map[string]bool{"readOnlyHint": !runs, "destructiveHint": false, "idempotentHint": !runs, "openWorldHint": true} {
			if got, ok := ann[hint].(bool); !ok || got != want {
				t.Errorf("%s: %s = %v, want %v", name, hint, ann[hint], want)
			}
		}
		for _, key := range []string{"inputSchema", "outputSchema"} {
			s, _ := tool[key].(map[string]any)
			if s["type"] != "object" {
				t.Errorf("%s.%s: type %v", name, key, s["type"])
			}
			// Inputs are closed (unknown arguments are mistakes); the output
			// lists the contract fields and allows more.
			if key == "inputSchema" && s["additionalProperties"] != false {
				t.Errorf("%s.%s: additionalProperties %v", name, key, s["additionalProperties"])
			}
			for _, c := range []string{"oneOf", "anyOf", "allOf"} {
				if _, ok := s[c]; ok {
					t.Errorf("%s.%s: top-level %s", name, key, c)
				}
			}
			raw, _ := json.Marshal(s)
			for _, bad := range []string{`"$ref"`, `"$defs"`, `"$schema"`, `"definitions"`} {
				if strings.Contains(string(raw), bad) {
					t.Errorf("%s.%s contains %s", name, key, bad)
				}
			}
		}
	}
	if strings.Join(names, ",") != strings.Join(schemas.Names(), ",") {
		t.Errorf("tools = %v, want %v", names, schemas.Names())
	}
}

// With --no-execute no tool runs a query: all three are read-only and
// idempotent, and none is offered as a task.
func TestNoExecuteToolsAreReadOnly(t *testing.T) {
	ts, err := New(Config{Fetcher: &fakeFetcher{}, NoExecute: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range ts.ServerTools() {
		a := st.Tool.Annotations
		if a.ReadOnlyHint == nil || !*a.ReadOnlyHint || a.IdempotentHint == nil || !*a.IdempotentHint || st.Tool.Execution != nil {
			t.Errorf("%s: readOnly %v idempotent %v execution %+v", st.Tool.Name, a.ReadOnlyHint, a.IdempotentHint, st.Tool.Execution)
		}
		if st.Tool.Name == schemas.GetLatestResult && !strings.Contains(st.Tool.Description, "never runs it") {
			t.Errorf("description: %s", st.Tool.Description)
		}
	}
	// With execution allowed, get_latest_result can be a task.
	for _, st := range newTestToolset(t, &fakeFetcher{}).ServerTools() {
		task := st.Tool.Execution != nil && st.Tool.Execution.TaskSupport == mcp.TaskSupportOptional
		if task != (st.Tool.Name == schemas.GetLatestResult) {
			t.Errorf("%s: task support %+v", st.Tool.Name, st.Tool.Execution)
		}
	}
}

func TestDefaultBudgetInSchema(t *testing.T) {
	ts, err := New(Config{Fetcher: &fakeFetcher{}, DefaultMaxTokens: 3000})
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range ts.ServerTools() {
		var s struct {
			Properties map[string]map[string]any `json:"properties"`
		}
		if err := json.Unmarshal(st.Tool.RawInputSchema, &s); err != nil {
			t.Fatal(err)
		}
		if st.Tool.Name == schemas.NextPage {
			continue // its default is the previous page's budget
		}
		if d := s.Properties["max_tokens"]["default"]; d != 3000.0 {
			t.Errorf("%s: max_tokens default = %v, want 3000", st.Tool.Name, d)
		}
	}
}

func TestToolsMarshalWithRawSchemas(t *testing.T) {
	// NewTool + WithRawInputSchema would fail to marshal; literals must not.
	for _, st := range newTestToolset(t, &fakeFetcher{}).ServerTools() {
		if st.Tool.InputSchema.Type != "" {
			t.Errorf("%s: InputSchema.Type set alongside RawInputSchema", st.Tool.Name)
		}
		if _, err := json.Marshal(st.Tool); err != nil {
			t.Errorf("%s: %v", st.Tool.Name, err)
		}
		var _ mcp.Tool = st.Tool
	}
}

func TestInstructions(t *testing.T) {
	plain := Instructions(nil)
	for _, w := range []string{"get_latest_result", "next_page", "sample_result", "max_tokens", "next_cursor"} {
		if !strings.Contains(plain, w) {
			t.Errorf("instructions lack %q", w)
		}
	}
	if strings.Contains(plain, "DEMO") {
		t.Error("demo section without demo queries")
	}
	demo := Instructions([]DemoQuery{{ID: 1001, Name: "DEX trades", Description: "100k rows"}})
	if !strings.Contains(demo, "DEMO MODE") || !strings.Contains(demo, "1001 DEX trades: 100k rows") {
		t.Errorf("demo instructions: %s", demo)
	}
}

// tools/list as a client re-encodes it (the evals measure it this way; key
// order and escaping may differ from the wire) stays within the cap too.
func TestToolsListTokenBudgetReencoded(t *testing.T) {
	var lr mcp.ListToolsResult
	if err := json.Unmarshal(listTools(t, newTestToolset(t, &fakeFetcher{})), &lr); err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(lr)
	if err != nil {
		t.Fatal(err)
	}
	checkToolsListCost(t, "tools/list re-encoded", raw)
}
