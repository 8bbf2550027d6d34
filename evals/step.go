package evals

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// step runs one step; an error stops the scenario (later steps would only cascade).
func (ru *run) step(ctx context.Context, st *Step) error {
	if done, err := ru.action(ctx, st); done {
		return err
	}
	ss := &stepState{}
	maxIter := st.MaxIterations
	if maxIter <= 0 {
		maxIter = defaultMaxIter
	}
	var prev, pending *outcome
	for iter := 1; ; iter++ {
		tool, rawArgs := st.Tool, st.Args
		if iter > 1 {
			tool, rawArgs = loopCall(st)
		}
		args, ref, err := ru.substitute(rawArgs, prev)
		if err != nil {
			ru.finalize(pending)
			return fmt.Errorf("step %s arguments: %w", st.ID, err)
		}
		v := ru.viewFor(st, tool, args, ref, ss, iter)
		if iter == 1 {
			ss.view = v
			for _, f := range st.Faults {
				ru.emu.inject(f)
			}
		}
		group := ru.callGroup(ctx, st, iter, tool, args)
		// The previous call's token counts ran while this call was served;
		// finish its checks now.
		ru.finalize(pending)
		pending = nil
		if st.Expect.CallError {
			ru.expectCallErrors(st, iter, group)
			ru.steps[st.ID] = ss
			return nil
		}
		if err := ru.takeResults(ctx, st, tool, v, ss, group); err != nil {
			return err
		}
		out := group[len(group)-1]
		pending = out
		if st.LoopUntilNo == "" || out.isError || !hasValue(out.doc, st.LoopUntilNo) {
			break
		}
		if prev != nil && out.rec.ReturnedRows == 0 && !unfinished(out.doc) && toInt(mustLookup(out.doc, "offset")) == toInt(mustLookup(prev.doc, "offset")) {
			ru.fail(st, iter, "walk makes progress: a call with a next cursor shows at least one new row", "rows after offset "+strconv.Itoa(toInt(mustLookup(out.doc, "offset"))), "0 rows, same offset as the previous call")
			break
		}
		if iter >= maxIter {
			ru.fail(st, iter, fmt.Sprintf("walk still has %s after max_iterations", st.LoopUntilNo), fmt.Sprintf("no %s within %d calls", st.LoopUntilNo, maxIter), "still present")
			break
		}
		prev = out
	}
	ru.finalize(pending)
	ru.steps[st.ID] = ss
	if st.Walk != nil {
		ru.checkWalk(st, ss)
	}
	last := ss.calls[len(ss.calls)-1]
	for _, name := range sortedKeys(st.Capture) {
		v, ok := lookup(last.doc, st.Capture[name])
		if !ok {
			return fmt.Errorf("capture %s: no %s in the result", name, st.Capture[name])
		}
		ru.captures[name] = v
	}
	return nil
}

// action runs an action step (done is false for a tool call).
func (ru *run) action(ctx context.Context, st *Step) (done bool, err error) {
	switch {
	case st.Rerun != nil:
		if err := ru.emu.rerun(*st.Rerun); err != nil {
			return true, fmt.Errorf("rerun: %w", err)
		}
	case st.SetLatency != nil:
		ru.emu.srv.SetLatency(time.Duration(*st.SetLatency))
	case st.RunQuery != nil:
		if err := ru.emu.runQuery(ctx, *st.RunQuery); err != nil {
			return true, fmt.Errorf("run_query: %w", err)
		}
	case st.AdvanceClock != nil:
		ru.emu.advanceClock(time.Duration(*st.AdvanceClock))
	case st.Sleep != nil:
		select {
		case <-time.After(time.Duration(*st.Sleep)):
		case <-ctx.Done():
			return true, ctx.Err()
		}
	default:
		return false, nil
	}
	return true, nil
}

// takeResults adds a group's results to the step; all but the last are
// finalized now (the last is finalized after the next call, or when the
// step ends). A call without a result stops the scenario.
func (ru *run) takeResults(ctx context.Context, st *Step, tool string, v view, ss *stepState, group []*outcome) error {
	var failed *outcome
	for i, out := range group {
		if out.err != nil {
			if failed == nil {
				failed = out
			}
			continue
		}
		out.view = v
		ss.calls = append(ss.calls, out)
		if i < len(group)-1 || failed != nil {
			ru.finalize(out)
		}
	}
	if failed == nil {
		return nil
	}
	for _, out := range group {
		if out.err != nil {
			ru.recordCallError(out)
		}
	}
	ru.fail(st, failed.rec.Iteration, "call "+tool+" failed at the protocol level (tool failures must be isError results)", "a tool result", failed.err.Error())
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%s did not return a result", tool)
}

// expectCallErrors checks a call_error step: no call may return a result,
// and its upstream expectations hold as of the calls' failure.
func (ru *run) expectCallErrors(st *Step, iter int, group []*outcome) {
	for _, out := range group {
		if out.err == nil {
			ru.finalize(out)
			ru.fail(st, out.rec.Iteration, "call_error: the call should fail without a result", "no result (call error)", fmt.Sprintf("a result (is_error=%v): %s", out.isError, firstChars(out.text, 200)))
			continue
		}
		ru.recordCallError(out)
	}
	if lead := group[0]; lead.err != nil {
		ru.checkUpstream(st, iter, lead.during, lead.total)
	}
}

// unfinished reports whether a result is a wait that ended before its
// execution did (state PENDING or EXECUTING): it shows no rows yet.
func unfinished(doc any) bool {
	s, _ := lookup(doc, "state")
	return s == "QUERY_STATE_PENDING" || s == "QUERY_STATE_EXECUTING"
}

// loopCall is the call of a walk's iterations after the first.
func loopCall(st *Step) (string, map[string]any) {
	field := st.LoopUntilNo
	if st.Then != nil {
		tool := st.Then.Tool
		if tool == "" {
			tool = "next_page"
		}
		return tool, st.Then.Args
	}
	args := map[string]any{"cursor": "${prev." + field + "}"}
	if st.Tool == "next_page" {
		for k, v := range st.Args {
			if k != "cursor" {
				args[k] = v
			}
		}
	} else if mt, ok := st.Args["max_tokens"]; ok {
		args["max_tokens"] = mt
	}
	return "next_page", args
}

func hasValue(doc any, path string) bool {
	v, ok := lookup(doc, path)
	return ok && v != nil && v != "" && v != false
}

func (ru *run) viewFor(st *Step, tool string, args map[string]any, ref string, ss *stepState, iter int) view {
	switch {
	case st.ViewFrom != "":
		if s := ru.steps[st.ViewFrom]; s != nil {
			return s.view
		}
	case tool == "get_latest_result" || tool == "sample_result":
		v := view{known: true, sample: tool == "sample_result"}
		if cols, ok := args["columns"].([]any); ok {
			for _, c := range cols {
				v.columns = append(v.columns, fmt.Sprint(c))
			}
		}
		v.filters, _ = args["filters"].(string)
		v.sortBy, _ = args["sort_by"].(string)
		return v
	case iter > 1:
		return ss.view
	case ref != "":
		if s := ru.steps[ref]; s != nil {
			return s.view
		}
	}
	return view{}
}

// recordCallError records a call that failed without a result: it counts
// in the scorecard (calls, latency, what it cost upstream) with no tokens.
func (ru *run) recordCallError(out *outcome) {
	rec := out.rec
	rec.CallError = firstChars(out.err.Error(), 200)
	ru.res.Calls = append(ru.res.Calls, *rec)
	if ru.r.Logf != nil {
		ru.r.Logf("%s/%s %s#%d %s: call error: %s upstream: %s; %.0fms", ru.sc.Name, ru.tr, rec.Step, rec.Iteration, rec.Tool,
			rec.CallError, out.during, rec.LatencyMS)
	}
}
