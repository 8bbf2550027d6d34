package tools

import (
	"context"
	"fmt"
	"strings"

	"github.com/mark3labs/mcp-go/server"

	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// Result views (--result-views, DUNE_MCP_RESULT_VIEWS): which part of a tool
// result carries the rows. MCP clients differ in what they forward to the
// model, and a result whose text and structuredContent both carry the rows
// costs twice the budget on the wire and, in a client that forwards both,
// in the model's context.
const (
	// ViewsAuto picks the views from the client's name (clientViews), both
	// for a client not in the table.
	ViewsAuto = "auto"
	// ViewsBoth: the text and structuredContent each carry the rows.
	ViewsBoth = "both"
	// ViewsText: the text carries the rows; structuredContent is short.
	ViewsText = "text"
	// ViewsStructured: structuredContent carries the rows; the text is short.
	ViewsStructured = "structured"
)

// ResultViewNames are the values --result-views accepts.
var ResultViewNames = []string{ViewsAuto, ViewsBoth, ViewsText, ViewsStructured}

// clientView is one row of the table of how MCP clients forward a tool
// result to the model.
type clientView struct {
	client string   // the product
	names  []string // substrings of clientInfo.name (lower case) that identify it
	views  summary.Views
	source string // where the behaviour is documented; "unconfirmed" → both
}

// clientViews is the table auto uses, checked 2026-12 against public issue
// threads (docs/result-views.md keeps it for readers, with the reasoning).
// Only behaviours confirmed by a source change the views; a client whose
// behaviour is not confirmed gets both, which every client reads correctly.
var clientViews = []clientView{
	{"Claude Code", []string{"claude-code"}, summary.ViewsStructured,
		"anthropics/claude-code issues #79944, #55677: the model gets JSON.stringify(structuredContent) only"},
	{"GitHub Copilot CLI", []string{"copilot-cli", "github-copilot"}, summary.ViewsStructured,
		"github/copilot-cli issue #3258: only structuredContent is forwarded; #4515 (open, 2026-08): later versions forward both parts, where the short text keeps the rows once"},
	{"Codex", []string{"codex"}, summary.ViewsStructured,
		"openai/codex issue #38287 and anomalyco/opencode PR #32074: structuredContent only"},
	{"Claude Desktop", []string{"claude-ai", "claude desktop"}, summary.ViewsBoth,
		"unconfirmed: strips structuredContent from MCP App views (modelcontextprotocol/ext-apps #696); what reaches the model is not documented"},
	{"VS Code", []string{"visual studio code", "vscode"}, summary.ViewsBoth,
		"microsoft/vscode issue #297669: needs a text content; reported to forward one part, structured first (#290063), not confirmed"},
	{"Kimi Code", []string{"kimi-code"}, summary.ViewsText,
		"MoonshotAI/kimi-code PR #3234: the text content wins whenever it has text, structuredContent only when it is empty (issue #2554: before, it was dropped); clientInfo name kimi-code (packages/agent-core/src/mcp/client-shared.ts)"},
	{"Cursor", []string{"cursor"}, summary.ViewsBoth, "unconfirmed (it requires structuredContent when a tool declares an outputSchema: MCP error -32600 otherwise)"},
	{"Windsurf", []string{"windsurf"}, summary.ViewsBoth, "unconfirmed"},
	{"Zed", []string{"zed"}, summary.ViewsBoth, "unconfirmed"},
}

// parseViews checks a --result-views value ("" is auto).
func parseViews(s string) (string, error) {
	switch s {
	case "":
		return ViewsAuto, nil
	case ViewsAuto, ViewsBoth, ViewsText, ViewsStructured:
		return s, nil
	}
	return "", fmt.Errorf("tools: result views %q: want one of %s", s, strings.Join(ResultViewNames, ", "))
}

// viewsFor resolves setting (a parsed --result-views) for a client named name.
func viewsFor(setting, name string) summary.Views {
	switch setting {
	case ViewsBoth:
		return summary.ViewsBoth
	case ViewsText:
		return summary.ViewsText
	case ViewsStructured:
		return summary.ViewsStructured
	}
	n := strings.ToLower(name)
	if n == "" {
		return summary.ViewsBoth
	}
	for _, c := range clientViews {
		for _, k := range c.names {
			if strings.Contains(n, k) {
				return c.views
			}
		}
	}
	return summary.ViewsBoth
}

// clientName is the calling client's clientInfo.name: from the request's
// _meta (protocol 2026-07-28 on), else from the session's initialize; ""
// when the client did not say.
func clientName(ctx context.Context) string {
	if info := server.RequestProtocolInfoFromContext(ctx); info != nil && info.ClientInfo != nil {
		return info.ClientInfo.Name
	}
	if s, ok := server.ClientSessionFromContext(ctx).(server.SessionWithClientInfo); ok {
		return s.GetClientInfo().Name
	}
	return ""
}
