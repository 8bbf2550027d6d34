// Package evals plays an agent's part against the real dune-mcp binary and
// scores what the agent experiences. Scenarios are data (YAML files under
// scenarios/); the runner starts a Dune API emulator (internal/emulator) with the
// scenario's datasets, starts the dune-mcp binary pointed at it, drives it with
// a real MCP client over stdio or streamable HTTP, checks every expectation and
// records a scorecard row.
package evals

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Transport names accepted in a scenario's transports list.
const (
	TransportStdio = "stdio"
	TransportHTTP  = "http"
)

// AllTransports are the transports a scenario runs on by default.
var AllTransports = []string{TransportStdio, TransportHTTP}

//go:embed scenarios/*.yaml
var embedded embed.FS

// Scenario is one scripted agent session.
type Scenario struct {
	// Name identifies the scenario in the scorecard; defaults to the file name.
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Transports limits the scenario to some transports (default: all).
	Transports []string `yaml:"transports"`
	// KnownIssue marks a scenario that fails because of a known defect of
	// dune-mcp (what and where): a failing run is reported as XFAIL, not as a
	// failure; a passing one as XPASS (time to remove the marker).
	KnownIssue string `yaml:"known_issue"`
	// Emulator configures the emulator server.
	Emulator EmulatorSpec `yaml:"emulator"`
	// Queries are the saved queries the emulator knows, by query id.
	Queries map[int64]QuerySpec `yaml:"queries"`
	// Server configures the dune-mcp process.
	Server ServerSpec `yaml:"server"`
	// Steps run in order.
	Steps []Step `yaml:"steps"`

	// File is where the scenario was loaded from ("" when built in memory).
	File string `yaml:"-"`
}

// EmulatorSpec configures the emulator of one scenario run.
type EmulatorSpec struct {
	// MaxPageSize is Dune's silent limit cap (emulator default 30000).
	MaxPageSize int `yaml:"max_page_size"`
	// Seed seeds the sampling RNG.
	Seed int64 `yaml:"seed"`
	// Latency is added to every upstream response.
	Latency Duration `yaml:"latency"`
}

// ServerSpec configures the dune-mcp process of a scenario.
type ServerSpec struct {
	// MaxTokens sets DUNE_MCP_MAX_TOKENS (0: the server default,
	// schemas.DefaultMaxTokens).
	MaxTokens int `yaml:"max_tokens"`
	// APIKey replaces the emulator's key in DUNE_API_KEY; "" unsets it.
	APIKey *string `yaml:"api_key"`
	// AuthToken sets DUNE_MCP_AUTH_TOKEN; the HTTP client then sends it as a bearer token.
	AuthToken string `yaml:"auth_token"`
	// Env adds environment variables.
	Env map[string]string `yaml:"env"`
	// Args adds command-line flags.
	Args []string `yaml:"args"`
	// Headers are extra HTTP headers the MCP client sends (http transport only).
	Headers map[string]string `yaml:"headers"`
	// ClientName is the clientInfo.name the MCP client sends in initialize
	// (default "dune-mcp-evals"), e.g. claude-code to be served as that
	// client is under --result-views auto.
	ClientName string `yaml:"client_name"`
}

// DatasetSpec names one of the emulator's deterministic datasets.
type DatasetSpec struct {
	// Dataset is dex, wide, long_text, daily, tiny or empty.
	Dataset string `yaml:"dataset"`
	Rows    int    `yaml:"rows"` // dex, wide, long_text; days for daily
	Cols    int    `yaml:"cols"` // wide
	Seed    int64  `yaml:"seed"`
}

// ExecutionSpec is one execution of a saved query.
type ExecutionSpec struct {
	DatasetSpec `yaml:",inline"`
	// State is COMPLETED (default), PARTIAL, FAILED, EXECUTING, PENDING, CANCELLED or EXPIRED.
	State string `yaml:"state"`
	// Params are the query parameters the execution ran with.
	Params map[string]string `yaml:"params"`
	// Error is Dune's in-band error of a FAILED execution.
	Error *ErrorSpec `yaml:"error"`
	// EndedAgo dates the execution: it ended this long ago on the
	// emulator's clock (default: when the scenario starts).
	EndedAgo Duration `yaml:"ended_ago"`
}

// ErrorSpec is a FAILED execution's error.
type ErrorSpec struct {
	Type    string `yaml:"type"`
	Message string `yaml:"message"`
	Line    int    `yaml:"line"`
	Column  int    `yaml:"column"`
}

// Executions are a query's executions, oldest first: the last one is the
// query's latest. In YAML a single mapping is one execution.
type Executions []ExecutionSpec

// UnmarshalYAML accepts a mapping (one execution) or a sequence.
func (e *Executions) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.SequenceNode {
		var list []ExecutionSpec
		if err := decodeStrict(n, &list); err != nil {
			return err
		}
		*e = list
		return nil
	}
	var one ExecutionSpec
	if err := decodeStrict(n, &one); err != nil {
		return err
	}
	*e = Executions{one}
	return nil
}

// QuerySpec is one saved query: its executions and how the runs dune-mcp
// starts (POST /execute) unfold. In YAML it is written like Executions (one
// execution, or a list), or, to give a profile or declared parameters, as a
// mapping with executions, profile and params.
type QuerySpec struct {
	Executions Executions `yaml:"executions"`
	// Profile is how runs of the query unfold (emulator.Profile); without
	// one they follow emulator.DefaultProfile (1 s queued, 2 s running,
	// COMPLETED).
	Profile *ProfileSpec `yaml:"profile"`
	// Params declares the query's parameters (emulator.SetParams).
	Params []ParamSpec `yaml:"params"`
}

// UnmarshalYAML accepts the forms of Executions, or a mapping with any of
// executions, profile and params.
func (q *QuerySpec) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.MappingNode && hasKey(n, "executions", "profile") {
		type plain QuerySpec
		var p plain
		if err := decodeStrict(n, &p); err != nil {
			return err
		}
		*q = QuerySpec(p)
		return nil
	}
	return n.Decode(&q.Executions)
}

// hasKey reports whether mapping n has one of keys.
func hasKey(n *yaml.Node, keys ...string) bool {
	for i := 0; i < len(n.Content); i += 2 {
		for _, k := range keys {
			if n.Content[i].Value == k {
				return true
			}
		}
	}
	return false
}

// decodeStrict decodes n into v refusing unknown keys (yaml.Node.Decode
// does not keep the decoder's KnownFields).
func decodeStrict(n *yaml.Node, v any) error {
	data, err := yaml.Marshal(n)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("at line %d: %w", n.Line, err)
	}
	return nil
}

// ProfileSpec is an emulator.Profile in YAML: runs wait Queue (PENDING,
// queue_position counting down from QueuePositions), run for Run
// (EXECUTING), then end with Outcome. Unset durations are 0.
type ProfileSpec struct {
	Queue          Duration `yaml:"queue"`
	QueuePositions int      `yaml:"queue_positions"`
	Run            Duration `yaml:"run"`
	// Outcome is completed (default), partial, failed (with Error) or
	// timeout (fails at Dune's 30-minute limit; see advance_clock).
	Outcome string     `yaml:"outcome"`
	Error   *ErrorSpec `yaml:"error"`
	// DatasetSpec gives the rows of the runs; without a dataset a run serves
	// the query's latest COMPLETED execution with the same parameters, else
	// its latest COMPLETED one, else no rows.
	DatasetSpec `yaml:",inline"`
}

// ParamSpec declares one parameter of a query (emulator.Param).
type ParamSpec struct {
	Name     string `yaml:"name"`
	Default  string `yaml:"default"`
	Required bool   `yaml:"required"`
}

// Step is one tool call (or a page walk of calls), or an action on the
// emulator between calls.
type Step struct {
	// ID names the step for captures (${steps.ID.path}) and reports.
	ID string `yaml:"id"`
	// Note says what the agent is doing, for humans.
	Note string `yaml:"note"`

	// Tool is get_latest_result, next_page, sample_result, or tools/list.
	Tool string         `yaml:"tool"`
	Args map[string]any `yaml:"args"`

	// Faults are injected into the emulator right before the call.
	Faults []FaultSpec `yaml:"faults"`
	// Rerun (action step) gives a query a new latest execution.
	Rerun *RerunSpec `yaml:"rerun"`
	// SetLatency (action step) changes the emulator's latency.
	SetLatency *Duration `yaml:"set_latency"`
	// RunQuery (action step) runs a query on the emulator as another client
	// would (POST /execute), e.g. to have a run in flight that dune-mcp did
	// not start.
	RunQuery *RunQuerySpec `yaml:"run_query"`
	// Sleep (action step) waits, e.g. for a run to progress.
	Sleep *Duration `yaml:"sleep"`
	// AdvanceClock (action step) moves the emulator's clock forward, e.g.
	// past Dune's 30-minute execution limit.
	AdvanceClock *Duration `yaml:"advance_clock"`

	// ViewFrom names the step whose columns/filters/sort_by this call's rows
	// follow (for ground truth). next_page steps default to the step their
	// cursor was captured from.
	ViewFrom string `yaml:"view_from"`
	// Timeout bounds one call (default 60s).
	Timeout Duration `yaml:"timeout"`
	// CancelAfter cancels the call's context after this delay: mcp-go's
	// client then returns the context's error (a call error) and tells the
	// server (notifications/cancelled over stdio; over streamable HTTP the
	// request's stream ends).
	CancelAfter Duration `yaml:"cancel_after"`
	// Parallel makes the call this many times at once (default 1); every
	// result is checked. Not with loop_until_no.
	Parallel int `yaml:"parallel"`
	// ProgressToken sends _meta.progressToken with the call (default: when
	// expect.progress is set).
	ProgressToken *bool `yaml:"progress_token"`

	// LoopUntilNo repeats the call while the result carries this structured
	// field (e.g. next_cursor); iterations after the first call Then.
	LoopUntilNo string `yaml:"loop_until_no"`
	// Then is the call of iterations 2..n; ${prev.PATH} refers to the previous
	// iteration's structured content. Default: same tool, with cursor=${prev.next_cursor}.
	Then *Call `yaml:"then"`
	// MaxIterations bounds the loop (default 200); reaching it fails the step.
	MaxIterations int `yaml:"max_iterations"`

	// Capture stores structured values under names usable as ${NAME}.
	Capture map[string]string `yaml:"capture"`
	// Expect is checked on every call of the step (every iteration of a loop).
	Expect Expect `yaml:"expect"`
	// Walk is checked once on a loop step, over all its iterations.
	Walk *WalkExpect `yaml:"walk"`
}

// Call is a tool call.
type Call struct {
	Tool string         `yaml:"tool"`
	Args map[string]any `yaml:"args"`
}

// FaultSpec is a emulator.Fault in YAML.
type FaultSpec struct {
	Status     int      `yaml:"status"`
	RetryAfter Duration `yaml:"retry_after"`
	Count      int      `yaml:"count"`
	Latency    Duration `yaml:"latency"`
	Truncate   bool     `yaml:"truncate"`
	Drop       bool     `yaml:"drop"`
	Body       string   `yaml:"body"`
	Path       string   `yaml:"path"`
}

// RerunSpec adds a new latest execution to a query.
type RerunSpec struct {
	Query       int64 `yaml:"query"`
	DatasetSpec `yaml:",inline"`
}

// RunQuerySpec is a run another client starts.
type RunQuerySpec struct {
	Query       int64             `yaml:"query"`
	Params      map[string]string `yaml:"params"`
	Performance string            `yaml:"performance"`
}

// Expect holds the assertions on one call.
type Expect struct {
	IsError *bool `yaml:"is_error"`
	// CallError expects the call itself to fail (no tool result), e.g. when
	// the step's timeout is shorter than the upstream latency: the client
	// gives up, or cancel_after cancels it. Such a call counts in the
	// scorecard (calls, latency, upstream) without tokens.
	CallError bool `yaml:"call_error"`
	// Fields are checks on paths into structuredContent (e.g. rows.0.2,
	// columns.1.name); string operands may hold ${...} references.
	Fields map[string]Check `yaml:"fields"`
	// TextContains / TextNotContains match the text content, case-insensitively.
	TextContains    []string `yaml:"text_contains"`
	TextNotContains []string `yaml:"text_not_contains"`
	// Rows compares structured rows with the emulator's ground truth:
	// "truth" (exactly the rows Dune holds at that offset, in order, same
	// columns and total) or "subset" (every row exists in the result; for samples).
	Rows string `yaml:"rows"`
	// MaxTokens bounds both the text and the structured JSON tokens.
	MaxTokens int `yaml:"max_tokens"`
	// MaxUpstreamRequests bounds emulator requests made during the call.
	MaxUpstreamRequests *int `yaml:"max_upstream_requests"`
	// MaxDatapoints bounds emulator datapoints served during the call.
	MaxDatapoints *int `yaml:"max_datapoints"`
	// Metrics are checks on the call's measured numbers: text_tokens,
	// structured_tokens, upstream_requests, upstream_rows, datapoints,
	// returned_rows, baseline_tokens.
	Metrics map[string]Check `yaml:"metrics"`
	// Upstream are checks on the emulator's counters during the call (for a
	// parallel step: during all its calls), by name: requests, rows,
	// datapoints, executions, credits, or an endpoint (execute, status,
	// cancel, query_results, execution_results, ...). Also checked on a
	// call_error step.
	Upstream map[string]Check `yaml:"upstream"`
	// UpstreamTotal are checks on the same counters since the scenario
	// started, as of the end of the call.
	UpstreamTotal map[string]Check `yaml:"upstream_total"`
	// Progress checks the notifications/progress the call received (it
	// then sends a progress token).
	Progress *ProgressExpect `yaml:"progress"`
}

// ProgressExpect holds the assertions on a call's progress notifications.
type ProgressExpect struct {
	// Min and Max bound how many arrived.
	Min *int `yaml:"min"`
	Max *int `yaml:"max"`
	// Contains are substrings each found in some message, case-insensitively.
	Contains []string `yaml:"contains"`
}

// WalkExpect holds the assertions on a whole page walk.
type WalkExpect struct {
	// IncludeSteps prepends earlier steps' rows and counts to the walk.
	IncludeSteps []string `yaml:"include_steps"`
	// Rows "truth": all rows delivered, concatenated, equal the ground truth
	// from the first row's offset to the end of the result.
	Rows string `yaml:"rows"`
	// Metrics are checks on walk totals: calls, rows_delivered, upstream_requests,
	// upstream_rows, datapoints, text_tokens (total), max_text_tokens.
	Metrics map[string]Check `yaml:"metrics"`
	// MaxFetchFactor bounds rows fetched upstream / rows delivered.
	MaxFetchFactor float64 `yaml:"max_fetch_factor"`
}

// Duration is a time.Duration written like "1.5s" in YAML.
type Duration time.Duration

// UnmarshalYAML parses "250ms", "2s" or an integer of milliseconds.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	var s string
	if err := n.Decode(&s); err != nil {
		return err
	}
	if v, err := time.ParseDuration(s); err == nil {
		*d = Duration(v)
		return nil
	}
	var ms int64
	if err := n.Decode(&ms); err != nil {
		return fmt.Errorf("duration %q: want e.g. 250ms or 2s", s)
	}
	*d = Duration(time.Duration(ms) * time.Millisecond)
	return nil
}

// ParseScenario decodes one scenario; unknown keys are errors.
func ParseScenario(data []byte, file string) (*Scenario, error) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	var sc Scenario
	if err := dec.Decode(&sc); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", file, err)
	}
	sc.File = file
	if sc.Name == "" {
		sc.Name = strings.TrimSuffix(filepath.Base(file), filepath.Ext(file))
	}
	if err := sc.validate(); err != nil {
		return nil, fmt.Errorf("scenario %s: %w", sc.Name, err)
	}
	return &sc, nil
}

var knownTools = map[string]bool{"get_latest_result": true, "next_page": true, "sample_result": true, "tools/list": true}

func (sc *Scenario) validate() error {
	if len(sc.Steps) == 0 {
		return errors.New("no steps")
	}
	for _, t := range sc.Transports {
		if t != TransportStdio && t != TransportHTTP {
			return fmt.Errorf("unknown transport %q", t)
		}
	}
	seen := map[string]bool{}
	for i := range sc.Steps {
		st := &sc.Steps[i]
		if st.ID == "" {
			st.ID = fmt.Sprintf("s%d", i+1)
		}
		if seen[st.ID] {
			return fmt.Errorf("duplicate step id %q", st.ID)
		}
		seen[st.ID] = true
		actions := 0
		if st.Tool != "" {
			actions++
			if !knownTools[st.Tool] {
				return fmt.Errorf("step %s: unknown tool %q", st.ID, st.Tool)
			}
		}
		if st.Rerun != nil {
			actions++
		}
		for _, set := range []bool{st.SetLatency != nil, st.Sleep != nil, st.AdvanceClock != nil, st.RunQuery != nil} {
			if set {
				actions++
			}
		}
		if actions != 1 {
			return fmt.Errorf("step %s: needs exactly one of tool, rerun, set_latency, sleep, advance_clock, run_query", st.ID)
		}
		if err := st.validateCall(); err != nil {
			return fmt.Errorf("step %s: %w", st.ID, err)
		}
		if st.Walk != nil && st.LoopUntilNo == "" {
			return fmt.Errorf("step %s: walk expectations need loop_until_no", st.ID)
		}
		if st.Then != nil && st.Then.Tool != "" && !knownTools[st.Then.Tool] {
			return fmt.Errorf("step %s: unknown tool %q in then", st.ID, st.Then.Tool)
		}
		for _, m := range []string{st.Expect.Rows, walkRows(st.Walk)} {
			if m != "" && m != "truth" && m != "subset" {
				return fmt.Errorf("step %s: rows must be truth or subset, not %q", st.ID, m)
			}
		}
		if st.Walk != nil {
			for _, inc := range st.Walk.IncludeSteps {
				if !seen[inc] || inc == st.ID {
					return fmt.Errorf("step %s: include_steps names %q, not an earlier step", st.ID, inc)
				}
			}
		}
		if st.ViewFrom != "" && (!seen[st.ViewFrom] || st.ViewFrom == st.ID) {
			return fmt.Errorf("step %s: view_from names %q, not an earlier step", st.ID, st.ViewFrom)
		}
	}
	for id, q := range sc.Queries {
		if len(q.Executions) == 0 && q.Profile == nil {
			return fmt.Errorf("query %d: no executions and no profile", id)
		}
		if q.Profile != nil {
			if _, err := parseOutcome(q.Profile.Outcome); err != nil {
				return fmt.Errorf("query %d: %w", id, err)
			}
		}
	}
	return nil
}

// validateCall checks the keys about how a call is made and measured.
func (st *Step) validateCall() error {
	if st.Parallel < 0 || st.Parallel > 16 {
		return fmt.Errorf("parallel must be 1..16, not %d", st.Parallel)
	}
	if st.Parallel > 1 && st.LoopUntilNo != "" {
		return errors.New("parallel and loop_until_no do not combine")
	}
	if (st.Parallel > 1 || st.CancelAfter > 0 || st.ProgressToken != nil) && st.Tool == "" {
		return errors.New("parallel, cancel_after and progress_token need a tool call")
	}
	for _, m := range []map[string]Check{st.Expect.Upstream, st.Expect.UpstreamTotal} {
		for name := range m {
			if !knownCounter(name) {
				return fmt.Errorf("unknown upstream counter %q (%s)", name, strings.Join(counterNames(), ", "))
			}
		}
	}
	return nil
}

func walkRows(w *WalkExpect) string {
	if w == nil {
		return ""
	}
	return w.Rows
}

// RunsOn reports whether the scenario runs on transport tr.
func (sc *Scenario) RunsOn(tr string) bool {
	if len(sc.Transports) == 0 {
		return true
	}
	for _, t := range sc.Transports {
		if t == tr {
			return true
		}
	}
	return false
}

// LoadScenarios loads every *.yaml file of dir, or the embedded scenarios
// when dir is "". Scenarios are sorted by name; names must be unique.
func LoadScenarios(dir string) ([]*Scenario, error) {
	var fsys fs.FS = embedded
	root := "scenarios"
	if dir != "" {
		fsys, root = os.DirFS(dir), "."
	}
	files, err := fs.Glob(fsys, root+"/*.yaml")
	if err != nil {
		return nil, fmt.Errorf("evals: list scenarios: %w", err)
	}
	var out []*Scenario
	names := map[string]string{}
	for _, f := range files {
		data, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("evals: read %s: %w", f, err)
		}
		sc, err := ParseScenario(data, f)
		if err != nil {
			return nil, err
		}
		if prev, dup := names[sc.Name]; dup {
			return nil, fmt.Errorf("evals: scenario name %q used by %s and %s", sc.Name, prev, f)
		}
		names[sc.Name] = f
		out = append(out, sc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
