package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/client"
	mcptransport "github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/internal/childenv"
	"github.com/dune-mcp/dune-mcp/internal/clip"
)

// demoStep is one scripted tool call of the demo session.
type demoStep struct {
	why  string
	tool string
	args map[string]any
	// cursorFromPrevious fills args["cursor"] with the previous result's next_cursor.
	cursorFromPrevious bool
	// progress asks for progress notifications and prints them as they come.
	progress bool
}

var demoScript = []demoStep{
	{
		why:  "Overview of a 100,000-row result: schema, counts, column stats and the rows that fit the budget.",
		tool: "get_latest_result",
		args: map[string]any{"query_id": 1001, "columns": []string{"block_time", "blockchain", "project", "token_pair", "amount_usd"}, "max_tokens": 2000},
	},
	{
		why:                "Continue exactly after the last row shown, with the cursor from the previous result.",
		tool:               "next_page",
		args:               map[string]any{"max_tokens": 1200},
		cursorFromPrevious: true,
	},
	{
		why:  "Let Dune filter and sort before anything reaches the context window.",
		tool: "get_latest_result",
		args: map[string]any{"query_id": 1001, "columns": []string{"block_time", "project", "token_pair", "amount_usd"}, "filters": "blockchain = 'ethereum' AND amount_usd > 100000", "sort_by": "amount_usd desc", "max_tokens": 1200},
	},
	{
		why:  "A uniform random sample to profile a long daily series.",
		tool: "sample_result",
		args: map[string]any{"query_id": 1004, "sample_count": 8, "columns": []string{"day", "volume_usd", "trades"}, "max_tokens": 700},
	},
	{
		why:      "Ask for a result that ended just now (max_age_hours 0): the query runs on Dune (it costs credits), the server waits, reporting progress, and shows the fresh result.",
		tool:     "get_latest_result",
		args:     map[string]any{"query_id": 1005, "max_age_hours": 0, "max_tokens": 1000},
		progress: true,
	},
	{
		why:  "A failed execution comes back as an isError result the agent can act on.",
		tool: "get_latest_result",
		args: map[string]any{"query_id": 1006},
	},
}

// demoSessionUsage is the text of `dune-mcp demo-session --help`.
const demoSessionUsage = `Usage: dune-mcp demo-session

Starts this binary with --demo over stdio, as an MCP client would, and prints
what an agent sees from a scripted series of tool calls on the sample data
(no Dune key, no network). It takes no flags and ignores DUNE_* variables.
`

// runDemoSession is the hidden `dune-mcp demo-session` (make demo): it starts
// `dune-mcp --demo` over stdio like an MCP client would and prints what an
// agent sees from each tool.
func runDemoSession(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("dune-mcp demo-session", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fmt.Fprint(stderr, demoSessionUsage)
		return 0
	case err != nil:
		fmt.Fprintf(stderr, "dune-mcp: demo-session: %v (see dune-mcp demo-session --help)\n", err)
		return 2
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "dune-mcp: demo-session: unexpected argument %q (see dune-mcp demo-session --help)\n", fs.Arg(0))
		return 2
	}
	exe, err := os.Executable()
	if err != nil {
		fmt.Fprintln(stderr, "dune-mcp: demo-session:", err)
		return 1
	}
	if err := demoSession(ctx, exe, stdout, stderr); err != nil {
		fmt.Fprintln(stderr, "dune-mcp: demo-session:", err)
		return 1
	}
	return 0
}

func demoSession(ctx context.Context, exe string, out, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	// The session is scripted: the server gets every setting it needs from
	// flags, and none of the caller's DUNE_* variables (a DUNE_MCP_TRANSPORT=http
	// meant for another run would leave us waiting on stdio forever).
	args := []string{"--demo", "--transport", "stdio", "--log-level", "warn", "--log-format", "console"}
	tr := mcptransport.NewStdioWithOptions(exe, nil, args, mcptransport.WithCommandFunc(
		func(ctx context.Context, command string, _ []string, args []string) (*exec.Cmd, error) {
			cmd := exec.CommandContext(ctx, command, args...)
			cmd.Env = childenv.Environ()
			cmd.Stderr = stderr
			return cmd, nil
		}))
	if err := tr.Start(ctx); err != nil {
		return fmt.Errorf("starting %s --demo: %w", exe, err)
	}
	c := client.NewClient(tr, client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION))
	defer c.Close()
	if err := c.Start(ctx); err != nil {
		return err
	}
	c.OnNotification(func(n mcp.JSONRPCNotification) {
		if n.Method == "notifications/progress" {
			if msg, ok := n.Params.AdditionalFields["message"].(string); ok {
				fmt.Fprintf(out, "  … progress: %s\n", msg)
			}
		}
	})
	var init mcp.InitializeRequest
	init.Params.ClientInfo = mcp.Implementation{Name: "dune-mcp demo-session", Version: version}
	info, err := c.Initialize(ctx, init)
	if err != nil {
		return fmt.Errorf("initialize: %w", err)
	}

	rule := strings.Repeat("─", 78)
	fmt.Fprintf(out, "%s\n dune-mcp demo: what an AI agent sees, against the embedded Dune emulator\n (synthetic data: no API key, no network). Client: `dune-mcp --demo` over stdio.\n%s\n\n", rule, rule)
	fmt.Fprintf(out, "▶ initialize → %s %s, protocol %s\n  instructions:\n%s\n\n", info.ServerInfo.Name, info.ServerInfo.Version, info.ProtocolVersion, indent(info.Instructions, "  │ "))

	list, err := c.ListTools(ctx, mcp.ListToolsRequest{})
	if err != nil {
		return fmt.Errorf("tools/list: %w", err)
	}
	fmt.Fprintln(out, "▶ tools/list")
	for _, t := range list.Tools {
		fmt.Fprintf(out, "  • %-18s %s\n", t.Name, firstSentence(t.Description))
	}
	fmt.Fprintln(out)

	var cursor string
	for i, step := range demoScript {
		args := map[string]any{}
		for k, v := range step.args {
			args[k] = v
		}
		shown := map[string]any{}
		for k, v := range args {
			shown[k] = v
		}
		if step.cursorFromPrevious {
			if cursor == "" {
				return fmt.Errorf("step %d: the previous result had no next_cursor", i+1)
			}
			args["cursor"] = cursor
			shown["cursor"] = clip.Bytes(cursor, 24)
		}
		var argJSON strings.Builder
		enc := json.NewEncoder(&argJSON)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(shown)
		fmt.Fprintf(out, "%s\n▶ %d. %s %s\n  why: %s\n%s\n", rule, i+1, step.tool, strings.TrimSpace(argJSON.String()), step.why, rule)

		var req mcp.CallToolRequest
		req.Params.Name = step.tool
		req.Params.Arguments = args
		if step.progress {
			req.Params.Meta = &mcp.Meta{ProgressToken: fmt.Sprintf("demo-%d", i+1)}
		}
		res, err := c.CallTool(ctx, req)
		if err != nil {
			return fmt.Errorf("%s: %w", step.tool, err)
		}
		for _, content := range res.Content {
			if text, ok := mcp.AsTextContent(content); ok {
				fmt.Fprintln(out, indent(text.Text, "  "))
			}
		}
		fmt.Fprintln(out, summaryLine(res))
		fmt.Fprintln(out)
		cursor = nextCursor(res)
	}
	fmt.Fprintf(out, "%s\nThat's the session. Attach dune-mcp to your client: see README.md (stdio or HTTP).\n", rule)
	return nil
}

// summaryLine describes the machine-readable part of a result in one line.
func summaryLine(res *mcp.CallToolResult) string {
	if res.IsError {
		return "  ⇢ isError: true (the model reads the message above and adjusts its call)"
	}
	m, ok := res.StructuredContent.(map[string]any)
	if !ok {
		return "  ⇢ (no structuredContent)"
	}
	var parts []string
	for _, k := range []string{"returned_rows", "total_row_count", "offset", "has_more", "datapoints", "executed", "execution_cost_credits"} {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%v", k, v))
		}
	}
	if c, ok := m["next_cursor"].(string); ok && c != "" {
		parts = append(parts, "next_cursor="+clip.Bytes(c, 24))
	}
	return "  ⇢ structuredContent: " + strings.Join(parts, " ")
}

func nextCursor(res *mcp.CallToolResult) string {
	if m, ok := res.StructuredContent.(map[string]any); ok {
		if c, ok := m["next_cursor"].(string); ok {
			return c
		}
	}
	return ""
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

func firstSentence(s string) string {
	if i := strings.Index(s, ". "); i >= 0 {
		return s[:i+1]
	}
	return s
}
