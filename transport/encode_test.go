package transport

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// A tool result written by appendMessage decodes to what mcp-go's own
// encoding of the same message (encoding/json through
// CallToolResult.MarshalJSON) decodes to, member for member, and is one
// line; the results it writes directly are the ones the tools send.
func TestAppendMessageDecodesAsMcpGo(t *testing.T) {
	structured := map[string]any{"rows": []any{map[string]any{"a": 1.5, "b": "x<y>&z"}}, "returned_rows": 1.0}
	raw, _ := json.Marshal(structured)
	tricky := "line 1\nline 2\t\"quoted\" \\ <tag> & \u2028 é \x01 " + strings.Repeat("0xabc,", 2000)
	cases := []struct {
		name   string
		res    any
		direct bool // written by appendToolResponse
	}{
		{"text only", &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent(tricky)}}, true},
		{"raw structured", &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent("rows")}, StructuredContent: structured, RawStructuredContent: raw}, true},
		{"error", mcp.NewToolResultError("Dune said no: " + tricky), true},
		{"two texts, value", mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent("a"), mcp.NewTextContent("b")}}, true},
		{"no content", &mcp.CallToolResult{}, true},
		{"structured, no raw bytes", &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent("t")}, StructuredContent: structured}, false},
		{"raw with a newline", &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent("t")}, RawStructuredContent: json.RawMessage("{\"a\":\n1}")}, false},
		{"raw not JSON", &mcp.CallToolResult{Content: []mcp.Content{mcp.NewTextContent("t")}, RawStructuredContent: json.RawMessage(`{"a":1`)}, false},
		{"annotated text", &mcp.CallToolResult{Content: []mcp.Content{mcp.TextContent{Type: "text", Text: "t", Annotated: mcp.Annotated{Annotations: &mcp.Annotations{Priority: ptr(0.5)}}}}}, false},
		{"image", &mcp.CallToolResult{Content: []mcp.Content{mcp.NewImageContent("aGk=", "image/png")}}, false},
		{"resultType (2026-07-28 on)", &mcp.CallToolResult{Result: mcp.Result{ResultType: mcp.ResultTypeComplete}, Content: []mcp.Content{mcp.NewTextContent("t")}, RawStructuredContent: raw}, false},
		{"meta", &mcp.CallToolResult{Result: mcp.Result{Meta: &mcp.Meta{AdditionalFields: map[string]any{"k": "v"}}}, Content: []mcp.Content{mcp.NewTextContent("t")}}, false},
	}
	for _, id := range []any{int64(7), "req-1"} {
		for _, c := range cases {
			msg := mcp.NewJSONRPCResultResponse(mcp.NewRequestId(id), c.res)
			var res *mcp.CallToolResult
			switch v := c.res.(type) {
			case *mcp.CallToolResult:
				res = v
			case mcp.CallToolResult:
				res = &v
			}
			if got := directly(res); got != c.direct {
				t.Errorf("%s: directly = %v, want %v", c.name, got, c.direct)
			}
			got, err := appendMessage([]byte("kept"), msg)
			if err != nil {
				if c.name == "raw not JSON" {
					continue // encoding/json refuses it too
				}
				t.Fatalf("%s: %v", c.name, err)
			}
			line, ok := bytes.CutPrefix(got, []byte("kept"))
			if !ok || !bytes.HasSuffix(line, []byte("\n")) || bytes.Count(line, []byte("\n")) != 1 {
				t.Fatalf("%s: not one line after the buffer's bytes: %q", c.name, got)
			}
			want, err := json.Marshal(msg)
			if err != nil {
				t.Fatalf("%s: mcp-go's encoding: %v", c.name, err)
			}
			var g, w any
			if err := json.Unmarshal(line, &g); err != nil {
				t.Fatalf("%s: our line is not JSON: %v\n%s", c.name, err, line)
			}
			if err := json.Unmarshal(want, &w); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("%s (id %v): decodes differently:\n ours   %.300s\n mcp-go %.300s", c.name, id, line, want)
			}
			var gr, wr struct {
				ID     mcp.RequestId      `json:"id"`
				Result mcp.CallToolResult `json:"result"`
			}
			if err := json.Unmarshal(line, &gr); err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
			if err := json.Unmarshal(want, &wr); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(gr, wr) {
				t.Errorf("%s: CallToolResult differs:\n ours   %+v\n mcp-go %+v", c.name, gr, wr)
			}
		}
	}
}

// Messages other than tool results are encoding/json's, one line each.
func TestAppendMessageOtherMessages(t *testing.T) {
	for _, msg := range []mcp.JSONRPCMessage{
		mcp.NewJSONRPCResultResponse(mcp.NewRequestId(int64(1)), mcp.ListToolsResult{Tools: []mcp.Tool{{Name: "t", Description: "a\nb"}}}),
		mcp.JSONRPCError{JSONRPC: mcp.JSONRPC_VERSION, ID: mcp.NewRequestId(nil), Error: mcp.NewJSONRPCErrorDetails(mcp.PARSE_ERROR, "Parse error", nil)},
		mcp.JSONRPCNotification{JSONRPC: mcp.JSONRPC_VERSION, Notification: mcp.Notification{Method: "notifications/message"}},
	} {
		got, err := appendMessage(nil, msg)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := json.Marshal(msg)
		if string(got) != string(want)+"\n" {
			t.Errorf("got %s\nwant %s", got, want)
		}
	}
}

func ptr[T any](v T) *T { return &v }
