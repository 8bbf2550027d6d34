package tools

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
)

func zzResult(b *testing.B) *mcp.CallToolResult {
	emu := emulator.NewServer()
	b.Cleanup(emu.Close)
	emu.AddQuery(1, emulator.DEXTrades(100000, 1))
	e := newEnvConfig(b, emu, emulator.DefaultAPIKey, nil)
	var handler func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error)
	for _, st := range e.ts.ServerTools() {
		if st.Tool.Name == schemas.GetLatestResult {
			handler = st.Handler
		}
	}
	req := mcp.CallToolRequest{}
	req.Params.Arguments = map[string]any{"query_id": 1, "limit": 1000}
	out, _ := handler(context.Background(), req)
	return out
}

func BenchmarkZZMarshalResponse(b *testing.B) {
	out := zzResult(b)
	resp := mcp.NewJSONRPCResultResponse(mcp.NewRequestId(7), out)
	var n int
	for b.Loop() {
		js, _ := json.Marshal(resp)
		n = len(js)
	}
	b.ReportMetric(float64(n), "bytes")
}

func BenchmarkZZUnmarshalID(b *testing.B) {
	out := zzResult(b)
	js, _ := json.Marshal(mcp.NewJSONRPCResultResponse(mcp.NewRequestId(7), out))
	for b.Loop() {
		var msg struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		json.Unmarshal(js, &msg)
	}
}

func BenchmarkZZClientDecode(b *testing.B) {
	out := zzResult(b)
	js, _ := json.Marshal(mcp.NewJSONRPCResultResponse(mcp.NewRequestId(7), out))
	for b.Loop() {
		var msg struct {
			ID     *int            `json:"id"`
			Result json.RawMessage `json:"result"`
		}
		json.Unmarshal(js, &msg)
		var r struct {
			IsError bool `json:"isError"`
			Content []struct{ Type, Text string } `json:"content"`
			Structured struct {
				ReturnedRows int     `json:"returned_rows"`
				Rows         [][]any `json:"rows"`
			} `json:"structuredContent"`
		}
		json.Unmarshal(msg.Result, &r)
	}
}
