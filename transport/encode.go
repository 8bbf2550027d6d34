package transport

import (
	"bytes"
	"encoding/json"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/internal/jsonstr"
)

// appendMessage appends one JSON-RPC message as a line (its JSON, then a
// newline) to buf.
//
// A tool result of text blocks and structuredContent sent as bytes
// (RawStructuredContent, as the tools send it) is written directly: the
// text as a JSON string, the structured bytes as they are. mcp-go's
// encoding of the same result (CallToolResult.MarshalJSON) goes through a
// map and compacts the structured bytes twice, which for a page of rows
// costs more than the rest of the answer's way out. Both encodings decode
// to the same CallToolResult (TestAppendMessageDecodesAsMcpGo). Every other
// message is encoded by encoding/json.
func appendMessage(buf []byte, msg mcp.JSONRPCMessage) ([]byte, error) {
	if r, ok := msg.(mcp.JSONRPCResponse); ok {
		var res *mcp.CallToolResult
		switch v := r.Result.(type) {
		case *mcp.CallToolResult:
			res = v
		case mcp.CallToolResult:
			res = &v
		}
		if res != nil && directly(res) {
			return appendToolResponse(buf, r.ID, res)
		}
	}
	b, err := json.Marshal(msg)
	if err != nil {
		return buf, err
	}
	return append(append(buf, b...), '\n'), nil
}

// directly reports whether res is written by appendToolResponse: text
// blocks without annotations or _meta, no _meta, resultType or multi
// round-trip fields, and structuredContent either absent or given as
// compact bytes (one JSON object with no newline: a line of its own can
// carry it).
func directly(res *mcp.CallToolResult) bool {
	if res.Meta != nil || res.ResultType != "" || len(res.InputRequests) > 0 || res.RequestState != "" {
		return false
	}
	for _, c := range res.Content {
		t, ok := c.(mcp.TextContent)
		if !ok || t.Annotations != nil || t.Meta != nil || t.Type != "text" {
			return false
		}
	}
	raw := res.RawStructuredContent
	if len(raw) == 0 {
		return res.StructuredContent == nil
	}
	return raw[0] == '{' && raw[len(raw)-1] == '}' && bytes.IndexByte(raw, '\n') < 0
}

// appendToolResponse writes the answer to request id with res (see
// directly), its members in the order mcp-go writes them.
func appendToolResponse(buf []byte, id mcp.RequestId, res *mcp.CallToolResult) ([]byte, error) {
	idJSON, err := json.Marshal(id)
	if err != nil {
		return buf, err
	}
	buf = append(buf, `{"jsonrpc":"2.0","id":`...)
	buf = append(buf, idJSON...)
	buf = append(buf, `,"result":{"content":[`...)
	for i, c := range res.Content {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, `{"type":"text","text":`...)
		buf = jsonstr.Append(buf, c.(mcp.TextContent).Text)
		buf = append(buf, '}')
	}
	buf = append(buf, ']')
	if res.IsError {
		buf = append(buf, `,"isError":true`...)
	}
	if raw := res.RawStructuredContent; len(raw) > 0 {
		buf = append(buf, `,"structuredContent":`...)
		buf = append(buf, raw...)
	}
	return append(buf, "}}\n"...), nil
}
