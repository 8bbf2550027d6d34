package evals

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dune-mcp/dune-mcp/internal/clip"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/schemas"
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
	// CallError is why a call failed without a result (a timeout, a
	// cancelled call): such a call has no tokens.
	CallError string `json:"call_error,omitempty"`
	// Message is the start of an error result's text.
	Message    string `json:"message,omitempty"`
	Budget     int    `json:"budget,omitempty"`
	TextTokens int    `json:"text_tokens"`
	// ModelTokens are the tokens of the part of the result that carries
	// the rows, which the model reads: structuredContent when it carries
	// them in its table (result views structured: the client forwards only
	// structuredContent), else the text content.
	ModelTokens      int `json:"model_tokens"`
	StructuredTokens int `json:"structured_tokens"`
	ReturnedRows     int `json:"returned_rows"`
	// UpstreamRequests, UpstreamRows and Datapoints are the emulator's
	// counters (Stats) during the call; Upstream counts its requests by
	// endpoint, Executions and Credits the runs it started. For parallel
	// calls the first call's record holds the whole group's counters.
	UpstreamRequests int            `json:"upstream_requests"`
	UpstreamRows     int            `json:"upstream_rows"`
	Datapoints       int            `json:"datapoints"`
	Upstream         map[string]int `json:"upstream,omitempty"`
	Executions       int            `json:"executions,omitempty"`
	Credits          int            `json:"credits,omitempty"`
	// Progress counts the progress notifications received (with a token).
	Progress int `json:"progress_notifications,omitempty"`
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
	// err: the call failed without a result.
	err error
	// blocks and textBlocks count the result's content blocks.
	blocks, textBlocks int
	// during are the emulator's counters during the call's group, total
	// since the scenario started; lead marks the group's first call.
	during, total counters
	lead          bool
	// progress are the notifications received for the call's token.
	progress     []progressNote
	progressSent bool
	// back is the rows read back from text when structuredContent does not
	// carry them as JSON (see readBack); nil otherwise.
	back *readBack
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
	return sessionConfig{binary: r.Binary, transport: tr, env: env, args: sc.Server.Args, headers: headers, clientName: sc.Server.ClientName}, secrets
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
