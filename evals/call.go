package evals

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/tools/summary"
)

// callGroup makes a step's call st.Parallel times at once (once by
// default) and measures the emulator's counters over the whole group: the
// first call's record carries them (and the raw bodies for the baseline),
// and every outcome of the group shares them for the upstream checks. Token
// counts are computed in the background (see finalize). A call that failed
// without a result has err set.
func (ru *run) callGroup(ctx context.Context, st *Step, iter int, tool string, args map[string]any) []*outcome {
	ru.emu.rec.drain()
	before := ru.emu.srv.Stats()
	outs := make([]*outcome, max(st.Parallel, 1))
	var wg sync.WaitGroup
	for k := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[k] = ru.invoke(ctx, st, iter+k, tool, args)
		}()
	}
	wg.Wait()
	during := statsDelta(ru.emu.srv.Stats(), before)
	total := ru.totals()
	bodies := ru.emu.rec.drain()
	for k, out := range outs {
		out.during, out.total, out.lead = during, total, k == 0
		if out.lead {
			rec := out.rec
			rec.UpstreamRequests, rec.UpstreamRows, rec.Datapoints = during.requests, during.rows, during.datapoints
			rec.Executions, rec.Credits = during.executions, during.credits
			if len(during.byEndpoint) > 0 {
				rec.Upstream = during.byEndpoint
			}
			out.upstream = bodies
		}
		if out.err != nil {
			close(out.measured)
			continue
		}
		go out.measure()
	}
	return outs
}

// measure counts the tokens of a call's result and of the raw bodies.
func (out *outcome) measure() {
	defer close(out.measured)
	rec := out.rec
	if len(out.rawStructured) > 0 {
		rec.StructuredTokens = summary.CountTokens(string(out.rawStructured))
	}
	rec.TextTokens = summary.CountTokens(out.text)
	if out.listTools {
		rec.TextTokens = rec.StructuredTokens
	}
	rec.ModelTokens = rec.TextTokens
	if _, ok := lookup(out.doc, "table"); ok && !out.listTools {
		rec.ModelTokens = rec.StructuredTokens
	}
	rec.BaselineTokens, rec.BaselineEstimated = baselineTokens(out.upstream)
}

// invoke makes one call over the session; it is safe to run several at
// once (it records failures in the outcome, not in the run).
func (ru *run) invoke(ctx context.Context, st *Step, iter int, tool string, args map[string]any) *outcome {
	timeout := time.Duration(st.Timeout)
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if d := time.Duration(st.CancelAfter); d > 0 {
		t := time.AfterFunc(d, cancel)
		defer t.Stop()
	}
	rec := &CallRecord{Step: st.ID, Iteration: iter, Tool: tool, Args: shortArgs(args)}
	out := &outcome{rec: rec, st: st, measured: make(chan struct{})}
	t0 := time.Now()
	if tool == "tools/list" {
		lr, err := ru.sess.client.ListTools(cctx, mcp.ListToolsRequest{})
		rec.LatencyMS = ms(time.Since(t0))
		if err != nil {
			out.err = err
			return out
		}
		raw, err := json.Marshal(lr)
		if err != nil {
			out.err = fmt.Errorf("encode tools/list: %w", err)
			return out
		}
		out.doc, out.rawStructured = decodeJSON(raw), raw
		names := make([]string, 0, len(lr.Tools))
		for _, t := range lr.Tools {
			names = append(names, t.Name)
		}
		out.text = strings.Join(names, "\n")
		out.listTools = true
		return out
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = tool
	req.Params.Arguments = args
	token := fmt.Sprintf("%s#%d", st.ID, iter)
	if st.sendsProgressToken() {
		req.Params.Meta = &mcp.Meta{ProgressToken: token}
	}
	res, err := ru.sess.client.CallTool(cctx, req)
	rec.LatencyMS = ms(time.Since(t0))
	if st.sendsProgressToken() {
		out.progress, out.progressSent = ru.sess.progress.take(token), true
		rec.Progress = len(out.progress)
	}
	if err != nil {
		out.err = err
		return out
	}
	rec.Budget = ru.budgetFor(args)
	out.isError, rec.IsError = res.IsError, res.IsError
	var texts []string
	for _, c := range res.Content {
		if tc, ok := mcp.AsTextContent(c); ok {
			texts = append(texts, tc.Text)
		}
	}
	out.text = strings.Join(texts, "\n")
	out.blocks, out.textBlocks = len(res.Content), len(texts)
	raw := res.RawStructuredContent
	if len(raw) == 0 && res.StructuredContent != nil {
		raw, _ = json.Marshal(res.StructuredContent)
	}
	if len(raw) > 0 {
		out.doc, out.rawStructured = decodeJSON(raw), raw
	}
	if n, ok := lookup(out.doc, "returned_rows"); ok {
		rec.ReturnedRows = toInt(n)
	}
	if out.isError {
		rec.Message = firstChars(out.text, 200)
	}
	return out
}

// sendsProgressToken reports whether the step's calls carry a progress token.
func (st *Step) sendsProgressToken() bool {
	if st.ProgressToken != nil {
		return *st.ProgressToken
	}
	return st.Expect.Progress != nil
}

func (ru *run) dump(out *outcome) {
	base := filepath.Join(ru.r.DumpDir, fmt.Sprintf("%s.%s.%s.%d", ru.sc.Name, ru.tr, out.rec.Step, out.rec.Iteration))
	if err := os.MkdirAll(ru.r.DumpDir, 0o755); err != nil {
		return
	}
	_ = os.WriteFile(base+".txt", []byte(out.text), 0o644)
	if len(out.rawStructured) > 0 {
		var pretty bytes.Buffer
		if json.Indent(&pretty, out.rawStructured, "", "  ") == nil {
			_ = os.WriteFile(base+".json", pretty.Bytes(), 0o644)
		}
	}
}

// finalize waits for a call's token counts, records it and checks it.
func (ru *run) finalize(out *outcome) {
	if out == nil {
		return
	}
	<-out.measured
	rec := out.rec
	if ru.r.DumpDir != "" {
		ru.dump(out)
	}
	out.upstream, out.rawStructured = nil, nil
	ru.res.Calls = append(ru.res.Calls, *rec) // rec is not changed after this
	if ru.r.Logf != nil {
		status := "ok"
		if out.isError {
			status = "isError: " + firstChars(out.text, 80)
		}
		ru.r.Logf("%s/%s %s#%d %s: %s rows=%d tokens=%d/%d upstream: %s; %.0fms", ru.sc.Name, ru.tr, rec.Step, rec.Iteration, rec.Tool, status,
			rec.ReturnedRows, rec.TextTokens, rec.StructuredTokens, out.during, rec.LatencyMS)
	}
	ru.checkCall(out.st, rec.Iteration, out, out.view)
}

func (ru *run) budgetFor(args map[string]any) int {
	if v, ok := args["max_tokens"]; ok {
		if n, ok := asInt(v); ok {
			return clampBudget(max(n, 1))
		}
	}
	return ru.budget
}
