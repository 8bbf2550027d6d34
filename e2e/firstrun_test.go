package e2e

import (
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// noKeyText is the explanation of a stdio server started without a Dune
// key (tools.MissingKeyMessage), as a client shows it.
const noKeyText = "No Dune API key is configured: set DUNE_API_KEY in this server's env in your MCP client config (create a key at https://dune.com/settings/api), or start it with --demo to try sample data."

// A stdio server without a key starts, lists its tools and answers every
// tool call with how to configure one, instead of exiting (which MCP
// clients show only as "Failed to connect").
func TestStdioWithoutKeyExplainsItself(t *testing.T) {
	// The base URL points nowhere: no request may be sent without a key.
	c, p, _, stdin := stdioSession(t, baseEnv("DUNE_API_BASE_URL", "http://127.0.0.1:1"))
	initialize(t, c, mcp.ProtocolVersion20250618)
	list, err := c.ListTools(t.Context(), mcp.ListToolsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Tools) != 3 {
		t.Errorf("tools/list: %d tools, want 3", len(list.Tools))
	}
	for _, tc := range []struct {
		tool string
		args map[string]any
	}{
		{"get_latest_result", map[string]any{"query_id": 1001}},
		{"sample_result", map[string]any{"query_id": 1004, "sample_count": 5}},
		{"next_page", map[string]any{"cursor": "not-a-cursor"}},
	} {
		r := call(t, c, tc.tool, tc.args)
		if !r.IsError || text(r) != noKeyText {
			t.Errorf("%s: isError %v, %q; want the no-key explanation", tc.tool, r.IsError, text(r))
		}
	}
	stdin.Close()
	if code := p.wait(); code != 0 {
		t.Errorf("exit code after EOF: %d; stderr:\n%s", code, p.stderr.String())
	}
	errOut := p.stderr.String()
	assertJSONLines(t, "stderr", errOut)
	warned := 0
	for line := range strings.SplitSeq(errOut, "\n") {
		if strings.Contains(line, `"level":"warn"`) && strings.Contains(line, "No Dune API key is configured") {
			warned++
		}
	}
	if warned != 1 {
		t.Errorf("stderr has the no-key warning %d times, want once:\n%s", warned, errOut)
	}
}

func TestHelpListsSubcommands(t *testing.T) {
	_, errOut, code := runOnce(t, baseEnv(), "--help")
	if code != 0 {
		t.Fatalf("--help: exit %d", code)
	}
	for _, want := range []string{"dune-mcp emulator", "dune-mcp demo-session", "--transport"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("--help lacks %q:\n%s", want, errOut)
		}
	}
	for sub, want := range map[string]string{
		"emulator":     "Usage: dune-mcp emulator",
		"demo-session": "Usage: dune-mcp demo-session",
	} {
		for _, flag := range []string{"--help", "-h"} {
			out, errOut, code := runOnce(t, baseEnv(), sub, flag)
			if code != 0 || out != "" || !strings.Contains(errOut, want) || len(strings.Split(strings.TrimSpace(errOut), "\n")) < 3 {
				t.Errorf("%s %s: exit %d, stdout %q, stderr %q; want exit 0 and a usage text", sub, flag, code, out, errOut)
			}
		}
	}
}
