package evals

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"dune-mcp/internal/clip"
	"dune-mcp/internal/emulator"
	"dune-mcp/schemas"
	"dune-mcp/tools/summary"
)

const (
	// maxErrorMessage bounds an isError message ("one short actionable message").
	maxErrorMessage = 1000
	defaultMaxIter  = 200
	defaultTimeout  = 60 * time.Second
	scenarioTimeout = 5 * time.Minute
)

// Runner runs scenarios against a dune-mcp binary.
type Runner struct {
	// Binary is the path of a built dune-mcp.
	Binary string
	// Logf, when set, receives one line per call (progress for humans).
	Logf func(format string, args ...any)
	// DumpDir, when set, receives each call's text and structuredContent
	// as files named scenario.transport.step.call.{txt,json}.
	DumpDir string
}

// Result is the outcome of one scenario on one transport.
type Result struct {
	Scenario    string `json:"scenario"`
	Description string `json:"description,omitempty"`
	Transport   string `json:"transport"`
	// Status is PASS, FAIL, or for a scenario with a known_issue XFAIL / XPASS.
	Status     string `json:"status"`
	KnownIssue string `json:"known_issue,omitempty"`
	// Passed reports whether every expectation held.
	Passed     bool         `json:"passed"`
	Error      string       `json:"error,omitempty"`
	Failures   []Failure    `json:"failures,omitempty"`
	Summary    RunSummary   `json:"summary"`
	Calls      []CallRecord `json:"calls"`
	DurationMS float64      `json:"duration_ms"`
}

// CallRecord is what one tool call cost and returned.
type CallRecord struct {
	Step      string         `json:"step"`
	Iteration int            `json:"iteration"`
	Tool      string         `json:"tool"`
	Args      map[string]any `json:"args,omitempty"`
	IsError   bool           `json:"is_error"`
	// Message is the start of an error result's text.
	Message          string `json:"message,omitempty"`
	Budget           int    `json:"budget,omitempty"`
	TextTokens       int    `json:"text_tokens"`
	StructuredTokens int    `json:"structured_tokens"`
	ReturnedRows     int    `json:"returned_rows"`
	// UpstreamRequests, UpstreamRows and Datapoints are the emulator's
	// counters (Stats) during the call.
	UpstreamRequests int `json:"upstream_requests"`
	UpstreamRows     int `json:"upstream_rows"`
	Datapoints       int `json:"datapoints"`
	// BaselineTokens are the o200k_base tokens of the raw Dune response
	// bodies dune-mcp read upstream during the call.
	BaselineTokens    int     `json:"baseline_tokens"`
	BaselineEstimated bool    `json:"baseline_estimated,omitempty"`
	LatencyMS         float64 `json:"latency_ms"`
}

// Statuses of a run.
const (
	StatusPass  = "PASS"
	StatusFail  = "FAIL"
	StatusXFail = "XFAIL" // failed, as its known_issue says it does
	StatusXPass = "XPASS" // passed despite a known_issue: remove the marker
)

// Failed reports whether the run counts as a failure (FAIL; not XFAIL).
func (r *Result) Failed() bool { return r.Status == StatusFail }

func (r *Result) setStatus() {
	switch {
	case r.Passed && r.KnownIssue != "":
		r.Status = StatusXPass
	case r.Passed:
		r.Status = StatusPass
	case r.KnownIssue != "":
		r.Status = StatusXFail
	default:
		r.Status = StatusFail
	}
}

// Diff renders every failure of the run, one block each.
func (r *Result) Diff() string {
	var b strings.Builder
	fmt.Fprintf(&b, "scenario %s [%s] FAILED", r.Scenario, r.Transport)
	if r.KnownIssue != "" {
		fmt.Fprintf(&b, " (known issue: %s)", r.KnownIssue)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "\n  error: %s", r.Error)
	}
	for _, f := range r.Failures {
		b.WriteString("\n  ")
		b.WriteString(strings.ReplaceAll(f.String(), "\n", "\n  "))
	}
	return b.String()
}

// outcome is one call's result as the agent saw it.
type outcome struct {
	rec     *CallRecord
	doc     any // structuredContent decoded with json.Number
	text    string
	isError bool

	st   *Step
	view view
	// measured is closed once rec's token counts are known (they are
	// counted in the background while the next call of a walk runs).
	measured      chan struct{}
	rawStructured []byte
	upstream      []upstreamResponse
	// listTools: a tools/list call, whose cost to the agent's context is
	// the JSON of the tool definitions (counted as its text tokens too).
	listTools bool
}

// view is what a call's rows are a window of: the query's result projected,
// filtered and sorted as the agent asked.
type view struct {
	known   bool
	columns []string
	filters string
	sortBy  string
	sample  bool
}

type stepState struct {
	view  view
	calls []*outcome
}

type run struct {
	r        *Runner
	sc       *Scenario
	tr       string
	emu      *upstream
	sess     *session
	res      *Result
	steps    map[string]*stepState
	captures map[string]any
	secrets  []string
	budget   int
	truth    map[string]*truthSet
}

// Run plays the scenario on one transport and returns its result; it never panics
// on a broken expectation.
func (r *Runner) Run(ctx context.Context, sc *Scenario, tr string) *Result {
	start := time.Now()
	res := &Result{Scenario: sc.Name, Description: sc.Description, Transport: tr, KnownIssue: sc.KnownIssue}
	defer func() {
		res.DurationMS = ms(time.Since(start))
		res.Passed = res.Error == "" && len(res.Failures) == 0
		res.setStatus()
		res.Summary = summarize(res.Calls)
	}()
	ctx, cancel := context.WithTimeout(ctx, scenarioTimeout)
	defer cancel()

	emu, err := newEmulator(sc)
	if err != nil {
		res.Error = "emulator setup: " + err.Error()
		return res
	}
	defer emu.close()

	cfg, secrets := r.sessionConfig(sc, tr, emu.url())
	sess, err := startSession(ctx, cfg)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	ru := &run{r: r, sc: sc, tr: tr, emu: emu, sess: sess, res: res, steps: map[string]*stepState{},
		captures: map[string]any{}, secrets: secrets, budget: clampBudget(sc.Server.MaxTokens),
		truth: map[string]*truthSet{}}
	for i := range sc.Steps {
		if err := ru.step(ctx, &sc.Steps[i]); err != nil {
			res.Failures = append(res.Failures, Failure{Step: sc.Steps[i].ID, Check: "scenario stopped: " + err.Error()})
			break
		}
	}
	if err := sess.close(); err != nil {
		res.Failures = append(res.Failures, Failure{Step: "(shutdown)", Check: err.Error()})
	}
	logs := sess.stderr.All()
	for _, s := range secrets {
		if strings.Contains(logs, s) {
			res.Failures = append(res.Failures, Failure{Step: "(server logs)", Check: "a secret (API key or auth token) appears in dune-mcp's stderr"})
		}
	}
	if len(res.Failures) > 0 {
		res.Failures = append(res.Failures, Failure{Step: "(server logs)", Check: "last lines of dune-mcp's stderr:\n" + lastLines(sess.stderr.Tail(4000), 12)})
	}
	return res
}

func (r *Runner) sessionConfig(sc *Scenario, tr, baseURL string) (sessionConfig, []string) {
	key := emulator.DefaultAPIKey
	if sc.Server.APIKey != nil {
		key = *sc.Server.APIKey
	}
	// The child inherits none of our DUNE_* variables (childenv): these
	// are all the settings it gets besides the scenario's own.
	env := []string{
		"DUNE_API_BASE_URL=" + baseURL,
		"DUNE_API_KEY=" + key,
		"DUNE_MCP_LOG_LEVEL=debug",
		"DUNE_MCP_AUTH_TOKEN=" + sc.Server.AuthToken,
	}
	if sc.Server.MaxTokens > 0 {
		env = append(env, "DUNE_MCP_MAX_TOKENS="+strconv.Itoa(sc.Server.MaxTokens))
	}
	for _, k := range sortedKeys(sc.Server.Env) {
		env = append(env, k+"="+sc.Server.Env[k])
	}
	headers := map[string]string{}
	for k, v := range sc.Server.Headers {
		headers[k] = v
	}
	secrets := []string{emulator.DefaultAPIKey}
	if len(key) >= 8 {
		secrets = append(secrets, key)
	}
	if sc.Server.AuthToken != "" {
		headers["Authorization"] = "Bearer " + sc.Server.AuthToken
		secrets = append(secrets, sc.Server.AuthToken)
	}
	return sessionConfig{binary: r.Binary, transport: tr, env: env, args: sc.Server.Args, headers: headers}, secrets
}

// clampBudget is the budget a call with max_tokens n gets from a server
// with the default budget: the tools clamp max_tokens to
// [schemas.MinMaxTokens, schemas.MaxMaxTokens]; 0 means none was given.
func clampBudget(n int) int {
	switch {
	case n <= 0:
		return schemas.DefaultMaxTokens
	case n < schemas.MinMaxTokens:
		return schemas.MinMaxTokens
	case n > schemas.MaxMaxTokens:
		return schemas.MaxMaxTokens
	}
	return n
}

func (ru *run) fail(st *Step, iter int, check, expected, actual string) {
	ru.res.Failures = append(ru.res.Failures, Failure{Step: st.ID, Iteration: iter, Check: check, Expected: expected, Actual: actual})
}

func (ru *run) addFailures(st *Step, iter int, fs []Failure) {
	for _, f := range fs {
		f.Step, f.Iteration = st.ID, iter
		ru.res.Failures = append(ru.res.Failures, f)
	}
}

// step runs one step; an error stops the scenario (later steps would only cascade).
func (ru *run) step(ctx context.Context, st *Step) error {
	switch {
	case st.Rerun != nil:
		if err := ru.emu.rerun(*st.Rerun); err != nil {
			return fmt.Errorf("rerun: %w", err)
		}
		return nil
	case st.SetLatency != nil:
		ru.emu.srv.SetLatency(time.Duration(*st.SetLatency))
		return nil
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
		out, err := ru.call(ctx, st, iter, tool, args)
		// The previous call's token counts ran while this call was served;
		// finish its checks now.
		ru.finalize(pending)
		pending = nil
		if st.Expect.CallError {
			if err == nil {
				ru.finalize(out)
				ru.fail(st, iter, "call_error: the call should fail without a result", "no result (call error)", fmt.Sprintf("a result (is_error=%v): %s", out.isError, firstChars(out.text, 200)))
			}
			ru.steps[st.ID] = ss
			return nil
		}
		if err != nil {
			ru.fail(st, iter, "call "+tool+" failed at the protocol level (tool failures must be isError results)", "a tool result", err.Error())
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%s did not return a result", tool)
		}
		out.view = v
		ss.calls = append(ss.calls, out)
		pending = out
		if st.LoopUntilNo == "" || out.isError || !hasValue(out.doc, st.LoopUntilNo) {
			break
		}
		if prev != nil && out.rec.ReturnedRows == 0 && toInt(mustLookup(out.doc, "offset")) == toInt(mustLookup(prev.doc, "offset")) {
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

var refPattern = regexp.MustCompile(`\$\{([^}]+)\}`)

// substitute replaces ${steps.ID.PATH}, ${prev.PATH} and ${NAME} (captures),
// each optionally piped through |tamper or |truncate, in every string of
// args. A string that is exactly one reference takes the value's type. It
// also returns the first step referenced (for the ground-truth view).
func (ru *run) substitute(args map[string]any, prev *outcome) (map[string]any, string, error) {
	var firstRef string
	var walk func(v any) (any, error)
	walk = func(v any) (any, error) {
		switch x := v.(type) {
		case string:
			ms := refPattern.FindAllStringSubmatchIndex(x, -1)
			if len(ms) == 0 {
				return x, nil
			}
			if len(ms) == 1 && ms[0][0] == 0 && ms[0][1] == len(x) {
				return ru.resolveRef(x[ms[0][2]:ms[0][3]], prev, &firstRef)
			}
			var b strings.Builder
			last := 0
			for _, m := range ms {
				b.WriteString(x[last:m[0]])
				val, err := ru.resolveRef(x[m[2]:m[3]], prev, &firstRef)
				if err != nil {
					return nil, err
				}
				if s, ok := val.(string); ok {
					b.WriteString(s)
				} else {
					j, _ := json.Marshal(val)
					b.Write(j)
				}
				last = m[1]
			}
			b.WriteString(x[last:])
			return b.String(), nil
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, el := range x {
				nv, err := walk(el)
				if err != nil {
					return nil, err
				}
				out[k] = nv
			}
			return out, nil
		case []any:
			out := make([]any, len(x))
			for i, el := range x {
				nv, err := walk(el)
				if err != nil {
					return nil, err
				}
				out[i] = nv
			}
			return out, nil
		}
		return v, nil
	}
	out, err := walk(args)
	if err != nil {
		return nil, "", err
	}
	m, _ := out.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, firstRef, nil
}

// substituteChecks resolves ${...} references in the operands of checks.
func (ru *run) substituteChecks(checks map[string]Check) (map[string]Check, error) {
	out := make(map[string]Check, len(checks))
	for k, c := range checks {
		ops := map[string]*any{"eq": &c.Eq, "ne": &c.Ne, "gt": &c.Gt, "gte": &c.Gte, "lt": &c.Lt, "lte": &c.Lte, "contains": &c.Contains, "not_contains": &c.NotContains}
		for _, op := range c.order {
			p, ok := ops[op]
			if !ok {
				continue
			}
			if s, isStr := (*p).(string); isStr && strings.Contains(s, "${") {
				m, _, err := ru.substitute(map[string]any{"v": s}, nil)
				if err != nil {
					return nil, err
				}
				*p = m["v"]
			}
		}
		out[k] = c
	}
	return out, nil
}

func (ru *run) resolveRef(expr string, prev *outcome, firstRef *string) (any, error) {
	expr, filter, _ := strings.Cut(expr, "|")
	expr, filter = strings.TrimSpace(expr), strings.TrimSpace(filter)
	var v any
	var ok bool
	switch {
	case strings.HasPrefix(expr, "steps."):
		id, path, _ := strings.Cut(strings.TrimPrefix(expr, "steps."), ".")
		ss := ru.steps[id]
		if ss == nil || len(ss.calls) == 0 {
			return nil, fmt.Errorf("${%s}: step %q has not run", expr, id)
		}
		if *firstRef == "" {
			*firstRef = id
		}
		last := ss.calls[len(ss.calls)-1]
		if path == "text" {
			v, ok = last.text, true
		} else {
			v, ok = lookup(last.doc, path)
		}
	case strings.HasPrefix(expr, "prev."):
		if prev == nil {
			return nil, fmt.Errorf("${%s}: no previous call in this walk", expr)
		}
		v, ok = lookup(prev.doc, strings.TrimPrefix(expr, "prev."))
	default:
		v, ok = ru.captures[expr]
	}
	if !ok || v == nil {
		return nil, fmt.Errorf("${%s} has no value", expr)
	}
	switch filter {
	case "":
		return v, nil
	case "tamper":
		s, isStr := v.(string)
		if !isStr || s == "" {
			return nil, fmt.Errorf("${%s|tamper}: not a string", expr)
		}
		return tamper(s), nil
	case "truncate":
		s, isStr := v.(string)
		if !isStr {
			return nil, fmt.Errorf("${%s|truncate}: not a string", expr)
		}
		return s[:len(s)/2], nil
	}
	return nil, fmt.Errorf("${%s|%s}: unknown filter (tamper, truncate)", expr, filter)
}

// tamper changes one character in the middle of s, keeping its alphabet.
func tamper(s string) string {
	b := []byte(s)
	i := len(b) / 2
	for j := i; j < len(b); j++ { // prefer an alphanumeric position
		if isAlnum(b[j]) {
			i = j
			break
		}
	}
	switch {
	case b[i] == 'A':
		b[i] = 'B'
	case b[i] == '0':
		b[i] = '1'
	case b[i] >= 'a' && b[i] <= 'z':
		b[i] = 'a' + (b[i]-'a'+1)%26
	default:
		b[i] = 'A'
	}
	return string(b)
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

// call makes one tool call and takes its upstream counters; its token
// counts are computed in the background (see finalize).
func (ru *run) call(ctx context.Context, st *Step, iter int, tool string, args map[string]any) (*outcome, error) {
	ru.emu.rec.drain()
	before := ru.emu.srv.Stats()
	timeout := time.Duration(st.Timeout)
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rec := &CallRecord{Step: st.ID, Iteration: iter, Tool: tool, Args: shortArgs(args)}
	out := &outcome{rec: rec, st: st, measured: make(chan struct{})}
	t0 := time.Now()
	if tool == "tools/list" {
		lr, err := ru.sess.client.ListTools(cctx, mcp.ListToolsRequest{})
		rec.LatencyMS = ms(time.Since(t0))
		if err != nil {
			return nil, err
		}
		raw, err := json.Marshal(lr)
		if err != nil {
			return nil, fmt.Errorf("encode tools/list: %w", err)
		}
		out.doc = decodeJSON(raw)
		out.rawStructured = raw
		names := make([]string, 0, len(lr.Tools))
		for _, t := range lr.Tools {
			names = append(names, t.Name)
		}
		out.text = strings.Join(names, "\n")
		out.listTools = true
	} else {
		req := mcp.CallToolRequest{}
		req.Params.Name = tool
		req.Params.Arguments = args
		res, err := ru.sess.client.CallTool(cctx, req)
		rec.LatencyMS = ms(time.Since(t0))
		if err != nil {
			return nil, err
		}
		rec.Budget = ru.budgetFor(args)
		out.isError = res.IsError
		rec.IsError = res.IsError
		var texts []string
		for _, c := range res.Content {
			if tc, ok := mcp.AsTextContent(c); ok {
				texts = append(texts, tc.Text)
			}
		}
		out.text = strings.Join(texts, "\n")
		if len(res.Content) != 1 || len(texts) != 1 {
			ru.fail(st, iter, "result content must be exactly one text block", "1 text block", fmt.Sprintf("%d blocks, %d text", len(res.Content), len(texts)))
		}
		raw := res.RawStructuredContent
		if len(raw) == 0 && res.StructuredContent != nil {
			raw, _ = json.Marshal(res.StructuredContent)
		}
		if len(raw) > 0 {
			out.doc = decodeJSON(raw)
			out.rawStructured = raw
		}
		if n, ok := lookup(out.doc, "returned_rows"); ok {
			rec.ReturnedRows = toInt(n)
		}
		if out.isError {
			rec.Message = firstChars(out.text, 200)
		}
	}
	after := ru.emu.srv.Stats()
	rec.UpstreamRequests = after.Requests - before.Requests
	rec.UpstreamRows = after.RowsServed - before.RowsServed
	rec.Datapoints = after.DatapointsServed - before.DatapointsServed
	out.upstream = ru.emu.rec.drain()
	go func() {
		defer close(out.measured)
		if len(out.rawStructured) > 0 {
			rec.StructuredTokens = summary.CountTokens(string(out.rawStructured))
		}
		rec.TextTokens = summary.CountTokens(out.text)
		if out.listTools {
			rec.TextTokens = rec.StructuredTokens
		}
		rec.BaselineTokens, rec.BaselineEstimated = baselineTokens(out.upstream)
	}()
	return out, nil
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
		ru.r.Logf("%s/%s %s#%d %s: %s rows=%d tokens=%d/%d upstream=%d %.0fms", ru.sc.Name, ru.tr, rec.Step, rec.Iteration, rec.Tool, status,
			rec.ReturnedRows, rec.TextTokens, rec.StructuredTokens, rec.UpstreamRequests, rec.LatencyMS)
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

// checkCall applies the invariants every result must meet, then the step's expectations.
func (ru *run) checkCall(st *Step, iter int, out *outcome, v view) {
	rec := out.rec
	if rec.Tool != "tools/list" {
		ru.checkInvariants(st, iter, out)
	}
	want := false
	if st.Expect.IsError != nil {
		want = *st.Expect.IsError
	}
	if out.isError != want {
		ru.fail(st, iter, "is_error", strconv.FormatBool(want), fmt.Sprintf("%v: %s", out.isError, firstChars(out.text, 400)))
	}
	fields, err := ru.substituteChecks(st.Expect.Fields)
	if err != nil {
		ru.fail(st, iter, "expected values: "+err.Error(), "", "")
	}
	ru.addFailures(st, iter, checkFields(out.doc, fields))
	for _, s := range st.Expect.TextContains {
		if !strings.Contains(strings.ToLower(out.text), strings.ToLower(s)) {
			ru.fail(st, iter, "text contains", fmt.Sprintf("%q (case-insensitive)", s), firstChars(out.text, 600))
		}
	}
	for _, s := range st.Expect.TextNotContains {
		if strings.Contains(strings.ToLower(out.text), strings.ToLower(s)) {
			ru.fail(st, iter, "text does not contain", fmt.Sprintf("no %q", s), excerptAround(out.text, s))
		}
	}
	if n := st.Expect.MaxTokens; n > 0 {
		if rec.TextTokens > n {
			ru.fail(st, iter, "text tokens", fmt.Sprintf("<= %d", n), strconv.Itoa(rec.TextTokens))
		}
		if rec.StructuredTokens > n {
			ru.fail(st, iter, "structured tokens", fmt.Sprintf("<= %d", n), strconv.Itoa(rec.StructuredTokens))
		}
	}
	if p := st.Expect.MaxUpstreamRequests; p != nil && rec.UpstreamRequests > *p {
		ru.fail(st, iter, "upstream requests", fmt.Sprintf("<= %d", *p), strconv.Itoa(rec.UpstreamRequests))
	}
	if p := st.Expect.MaxDatapoints; p != nil && rec.Datapoints > *p {
		ru.fail(st, iter, "upstream datapoints", fmt.Sprintf("<= %d", *p), strconv.Itoa(rec.Datapoints))
	}
	ru.addFailures(st, iter, checkMetrics(callMetrics(rec), st.Expect.Metrics, "metric "))
	if st.Expect.Rows != "" && !out.isError {
		ru.addFailures(st, iter, ru.checkRows(st.Expect.Rows, v, out.doc))
	}
}

func callMetrics(rec *CallRecord) map[string]float64 {
	return map[string]float64{
		"text_tokens": float64(rec.TextTokens), "structured_tokens": float64(rec.StructuredTokens),
		"upstream_requests": float64(rec.UpstreamRequests), "upstream_rows": float64(rec.UpstreamRows),
		"datapoints": float64(rec.Datapoints), "returned_rows": float64(rec.ReturnedRows),
		"baseline_tokens": float64(rec.BaselineTokens), "budget": float64(rec.Budget), "latency_ms": rec.LatencyMS,
	}
}

// checkInvariants are the promises that hold for every tool result (listed
// under "Invariants checked on every tool result" in evals/README.md).
func (ru *run) checkInvariants(st *Step, iter int, out *outcome) {
	rec := out.rec
	if rec.TextTokens > rec.Budget {
		ru.fail(st, iter, "invariant: text tokens within the budget", fmt.Sprintf("<= %d", rec.Budget), strconv.Itoa(rec.TextTokens))
	}
	if rec.StructuredTokens > rec.Budget {
		ru.fail(st, iter, "invariant: structuredContent tokens within the budget", fmt.Sprintf("<= %d", rec.Budget), strconv.Itoa(rec.StructuredTokens))
	}
	structured, _ := json.Marshal(out.doc)
	for _, s := range ru.secrets {
		if strings.Contains(out.text, s) || bytes.Contains(structured, []byte(s)) {
			ru.fail(st, iter, "invariant: no secret (API key, auth token) in results", "absent", "present")
		}
	}
	if out.isError {
		if strings.TrimSpace(out.text) == "" {
			ru.fail(st, iter, "invariant: an isError result says what happened", "a message", "empty text")
		}
		if len(out.text) > maxErrorMessage {
			ru.fail(st, iter, "invariant: an isError message is short", fmt.Sprintf("<= %d bytes", maxErrorMessage), fmt.Sprintf("%d bytes", len(out.text)))
		}
		return
	}
	doc, ok := out.doc.(map[string]any)
	if !ok {
		ru.fail(st, iter, "invariant: a successful result has structuredContent", "an object", render(out.doc, out.doc != nil))
		return
	}
	for _, f := range []string{"query_id", "execution_id", "state", "columns", "total_row_count", "offset", "returned_rows", "rows", "has_more", "stats", "datapoints"} {
		if _, ok := doc[f]; !ok {
			ru.fail(st, iter, "invariant: structuredContent has "+f, "present", "missing")
		}
	}
	rows, _ := doc["rows"].([]any)
	cols, _ := doc["columns"].([]any)
	if n, ok := asInt(doc["returned_rows"]); ok && n != len(rows) {
		ru.fail(st, iter, "invariant: returned_rows = len(rows)", strconv.Itoa(len(rows)), strconv.Itoa(n))
	}
	for i, r := range rows {
		cells, _ := r.([]any)
		if len(cells) != len(cols) {
			ru.fail(st, iter, fmt.Sprintf("invariant: row %d has one value per column", i), strconv.Itoa(len(cols)), strconv.Itoa(len(cells)))
			break
		}
	}
	hasMore, _ := doc["has_more"].(bool)
	if hasMore != hasValue(doc, "next_cursor") {
		ru.fail(st, iter, "invariant: has_more iff next_cursor", fmt.Sprintf("has_more=%v with next_cursor present=%v", hasMore, !hasMore), fmt.Sprintf("has_more=%v, next_cursor present=%v", hasMore, hasValue(doc, "next_cursor")))
	}
}

func decodeJSON(raw []byte) any {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil
	}
	return v
}

func asInt(v any) (int, bool) {
	switch x := v.(type) {
	case int:
		return x, true
	case int64:
		return int(x), true
	case float64:
		return int(x), x == float64(int(x))
	case json.Number:
		n, err := x.Int64()
		return int(n), err == nil
	case string:
		n, err := strconv.Atoi(x)
		return n, err == nil
	}
	return 0, false
}

func toInt(v any) int {
	n, _ := asInt(v)
	return n
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// firstChars returns s without surrounding space, clipped to n bytes.
func firstChars(s string, n int) string {
	return clip.Bytes(strings.TrimSpace(s), n)
}

func excerptAround(text, needle string) string {
	i := strings.Index(strings.ToLower(text), strings.ToLower(needle))
	if i < 0 {
		return firstChars(text, 300)
	}
	lo, hi := max(0, i-120), min(len(text), i+len(needle)+120)
	return "…" + text[lo:hi] + "…"
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// shortArgs copies args for the report, shortening long strings (cursors).
func shortArgs(args map[string]any) map[string]any {
	out := make(map[string]any, len(args))
	for k, v := range args {
		if s, ok := v.(string); ok && len(s) > 48 {
			v = clip.Bytes(s, 24) + strconv.Itoa(len(s)) + "B"
		}
		out[k] = v
	}
	return out
}
