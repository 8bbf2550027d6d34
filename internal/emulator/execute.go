package emulator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
)

// Endpoint names of the execution endpoints, used as Stats.ByEndpoint keys
// and accepted in Fault.Path.
const (
	EndpointExecute = "execute" // POST /api/v1/query/{id}/execute
	EndpointStatus  = "status"  // GET /api/v1/execution/{id}/status
	EndpointCancel  = "cancel"  // POST /api/v1/execution/{id}/cancel
)

// maxExecuteBody bounds the body of an execute request.
const maxExecuteBody = 1 << 20

// routeOf parses a request path: an execution endpoint (execRoute) or
// anything else (parseRoute).
func routeOf(path string) route {
	if rest, ok := strings.CutPrefix(path, "/api/v1/"); ok {
		if rt, ok := execRoute(strings.Split(rest, "/")); ok {
			return rt
		}
	}
	return parseRoute(path)
}

// serve answers a request after faults: authentication, then the execution
// endpoints (serveExec) or the others (serveResults).
func (s *Server) serve(w http.ResponseWriter, r *http.Request, rt route) {
	// A query string Go cannot parse whole (a bad escape, or more than
	// url.ParseQuery's 10,000 pairs) is refused, never read in part.
	if _, err := url.ParseQuery(r.URL.RawQuery); err != nil {
		writeError(w, http.StatusBadRequest, "invalid query string: "+clipText(err.Error()))
		return
	}
	key := r.Header.Get("X-Dune-Api-Key")
	if key == "" {
		key = r.URL.Query().Get("api_key")
	}
	if !s.checkKey(key) {
		writeError(w, http.StatusUnauthorized, MsgInvalidKey)
		return
	}
	if !s.admit(w, r, key, rt.endpoint) {
		return
	}
	if isExecEndpoint(rt.endpoint) {
		s.serveExec(w, r, rt)
		return
	}
	s.serveResults(w, r, rt)
}

// execRoute recognises the execution endpoints from the path segments after
// /api/v1/.
func execRoute(parts []string) (route, bool) {
	if len(parts) != 3 || parts[1] == "" {
		return route{}, false
	}
	rt := route{id: parts[1]}
	switch parts[0] + "/" + parts[2] {
	case "query/execute":
		rt.endpoint, rt.byQuery = EndpointExecute, true
	case "execution/status":
		rt.endpoint = EndpointStatus
	case "execution/cancel":
		rt.endpoint = EndpointCancel
	default:
		return route{}, false
	}
	return rt, true
}

func isExecEndpoint(endpoint string) bool {
	return endpoint == EndpointExecute || endpoint == EndpointStatus || endpoint == EndpointCancel
}

// serveExec answers an execution endpoint, after faults and authentication.
func (s *Server) serveExec(w http.ResponseWriter, r *http.Request, rt route) {
	method := http.MethodPost
	if rt.endpoint == EndpointStatus {
		method = http.MethodGet
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	switch rt.endpoint {
	case EndpointExecute:
		s.serveExecute(w, r, rt.id)
	case EndpointStatus:
		s.serveStatus(w, rt)
	default:
		s.serveCancel(w, rt)
	}
}

// serveExecute starts an execution: 404 for an unknown query, 400 for a bad
// body, performance or parameters, else 200 with the new execution id.
func (s *Server) serveExecute(w http.ResponseWriter, r *http.Request, id string) {
	qid, err := strconv.ParseInt(id, 10, 64)
	s.mu.Lock()
	exists := err == nil && s.queryExistsLocked(qid)
	s.mu.Unlock()
	if !exists {
		writeError(w, http.StatusNotFound, MsgQueryNotFound)
		return
	}
	given, credits, err := parseExecute(r)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	s.mu.Lock()
	params, err := s.resolveParamsLocked(qid, given)
	prof := s.profileLocked(qid)
	var ds *Dataset
	if err == nil && prof.Dataset == nil {
		ds = s.registeredResult(qid, params)
	}
	s.mu.Unlock()
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if prof.Dataset != nil {
		if ds = prof.Dataset(maps.Clone(params)); ds == nil {
			ds = Empty()
		}
	}
	s.mu.Lock()
	x := s.startLocked(qid, params, credits, prof, ds)
	s.mu.Unlock()
	b := append([]byte(`{"execution_id":`), appendJSONString(nil, x.id)...)
	b = append(b, `,"state":"QUERY_STATE_PENDING"}`...)
	writeJSON(w, b)
}

// parseExecute reads query_parameters and performance from the JSON body,
// or else from the query string (as Dune's OpenAPI spec lists them; there
// query_parameters is a JSON object), and returns the parameter values and
// the credits the execution costs.
func parseExecute(r *http.Request) (map[string]string, int, error) {
	data, err := io.ReadAll(io.LimitReader(r.Body, maxExecuteBody+1))
	if err != nil {
		return nil, 0, badf("reading the request body: %v", err)
	}
	if len(data) > maxExecuteBody {
		return nil, 0, badf("request body larger than %d bytes", maxExecuteBody)
	}
	var body struct {
		QueryParameters json.RawMessage `json:"query_parameters"`
		Performance     *string         `json:"performance"`
	}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, &body); err != nil {
			return nil, 0, badf("invalid request body: want a JSON object with query_parameters and performance")
		}
	}
	q := r.URL.Query()
	perf := q.Get("performance")
	if body.Performance != nil {
		perf = *body.Performance
	}
	credits := CreditsMedium
	switch perf {
	case "", "medium":
	case "large":
		credits = CreditsLarge
	default:
		return nil, 0, badf("invalid performance %q: want medium or large", clipText(perf))
	}
	raw := body.QueryParameters
	if raw == nil && q.Has("query_parameters") {
		raw = json.RawMessage(q.Get("query_parameters"))
	}
	params, err := paramValues(raw)
	return params, credits, err
}

// paramValues decodes query_parameters: an object of strings, numbers,
// booleans or lists of them (joined with commas); absent, null or [] is no
// parameter.
func paramValues(raw json.RawMessage) (map[string]string, error) {
	out := map[string]string{}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	if raw[0] == '[' {
		var list []any
		if json.Unmarshal(raw, &list) == nil && len(list) == 0 {
			return out, nil
		}
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, badf("invalid query_parameters: want an object of parameter values")
	}
	for k, v := range m {
		text, ok := paramText(v)
		if !ok {
			return nil, badf("invalid value for parameter %q: want a string, number, boolean or list", clipText(k))
		}
		out[k] = text
	}
	return out, nil
}

// paramText renders one parameter value; objects, null and nested lists
// are refused.
func paramText(v any) (string, bool) {
	switch x := v.(type) {
	case nil, map[string]any:
		return "", false
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			if _, nested := e.([]any); nested {
				return "", false
			}
			var ok bool
			if parts[i], ok = paramText(e); !ok {
				return "", false
			}
		}
		return strings.Join(parts, ","), true
	}
	return cellText(v), true // strings, numbers and booleans as JSON writes them
}

// resolveParamsLocked checks given against queryID's parameters and adds
// the defaults of declared ones. Callers hold s.mu.
func (s *Server) resolveParamsLocked(queryID int64, given map[string]string) (map[string]string, error) {
	declared, explicit := s.declared[queryID]
	if !explicit {
		declared = s.inferredParamsLocked(queryID)
	}
	for name := range given {
		if !containsParam(declared, name) {
			return nil, &badRequest{msg: MsgUnknownParams}
		}
	}
	out := maps.Clone(given)
	var missing []string
	for _, p := range declared {
		switch _, ok := given[p.Name]; {
		case ok || !explicit:
		case p.Required:
			missing = append(missing, p.Name)
		default:
			out[p.Name] = p.Default
		}
	}
	if len(missing) > 0 {
		return nil, badf("missing required parameters (no default value): %s", strings.Join(missing, ", "))
	}
	return out, nil
}

// startLocked registers a new execution of queryID following p and makes
// it the query's latest. Callers hold s.mu.
func (s *Server) startLocked(queryID int64, params map[string]string, credits int, p Profile, ds *Dataset) *execution {
	now := s.now().UTC()
	run := max(p.Run, 0)
	t := &timeline{started: now.Add(max(p.Queue, 0)), positions: p.QueuePositions, outcome: dune.StateCompleted}
	x := &execution{
		id:          s.newID(now),
		queryID:     queryID,
		state:       dune.StatePending,
		params:      params,
		ds:          ds,
		submittedAt: now,
		expiresAt:   time.Unix(0, 0).UTC(),
		credits:     credits,
		run:         t,
	}
	switch {
	case p.Outcome == OutcomeTimeout || run >= ExecutionTimeout:
		run = ExecutionTimeout
		t.outcome = dune.StateFailed
		t.errInfo = &dune.ExecutionErrorInfo{Type: "FAILED_TYPE_EXECUTION_FAILED", Message: MsgExecutionTimeout}
	case p.Outcome == OutcomeFailed:
		info := dune.ExecutionErrorInfo{Type: "FAILED_TYPE_EXECUTION_FAILED", Message: "query execution failed"}
		if p.Error != nil {
			info = *p.Error
		}
		t.outcome, t.errInfo = dune.StateFailed, &info
	case p.Outcome == OutcomePartial:
		t.outcome = dune.StateCompletedPartial
	}
	if t.errInfo != nil {
		t.errInfo.Message += " [Execution ID: " + x.id + "]"
	}
	t.ended = t.started.Add(run)
	x.pendingMS, x.execMS = t.started.Sub(now).Milliseconds(), run.Milliseconds()
	s.queries[queryID] = append(s.queries[queryID], x)
	s.execs[x.id] = x
	s.stats.Executions++
	s.stats.Credits += credits
	return x
}

// serveStatus answers GET /execution/{id}/status: the execution's head plus
// queue_position (PENDING), result_metadata (COMPLETED, COMPLETED_PARTIAL)
// and execution_cost_credits (once finished).
func (s *Server) serveStatus(w http.ResponseWriter, rt route) {
	x, status, msg := s.lookup(rt, nil)
	if x == nil {
		writeError(w, status, msg)
		return
	}
	b := writeHead(nil, x)
	if x.state == dune.StatePending {
		b = append(b, `,"queue_position":`...)
		b = strconv.AppendInt(b, int64(x.queuePos), 10)
	}
	if x.state == dune.StateCompleted || x.state == dune.StateCompletedPartial {
		b = appendResultMetadata(b, x)
	}
	if isFinished(x.state) {
		credits := x.credits
		if x.run == nil {
			credits = CreditsMedium // registered with AddExecution: as if run on medium
		}
		b = append(b, `,"execution_cost_credits":`...)
		b = strconv.AppendInt(b, int64(credits), 10)
	}
	writeJSON(w, append(b, '}'))
}

// appendResultMetadata appends the status endpoint's result_metadata: the
// metadata of the whole result.
func appendResultMetadata(b []byte, x *execution) []byte {
	names := make([]string, len(x.ds.Columns))
	types := make([]string, len(x.ds.Columns))
	for j, c := range x.ds.Columns {
		names[j], types[j] = c.Name, c.Type
	}
	rows, size := int64(x.ds.Len()), x.ds.totalBytes()
	b = append(b, `,"result_metadata":{"column_names":`...)
	b = appendStringArray(b, names)
	b = append(b, `,"column_types":`...)
	b = appendStringArray(b, types)
	for _, f := range []struct {
		name  string
		value int64
	}{
		{"row_count", rows}, {"result_set_bytes", size}, {"total_row_count", rows},
		{"total_result_set_bytes", size}, {"datapoint_count", rows * int64(len(names))},
		{"pending_time_millis", x.pendingMS}, {"execution_time_millis", x.execMS},
	} {
		b = append(b, `,"`...)
		b = append(b, f.name...)
		b = append(b, `":`...)
		b = strconv.AppendInt(b, f.value, 10)
	}
	return append(b, '}')
}

func appendStringArray(b []byte, list []string) []byte {
	b = append(b, '[')
	for i, v := range list {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, v)
	}
	return append(b, ']')
}

// serveCancel answers POST /execution/{id}/cancel: {"success":true} when an
// unfinished execution is now CANCELLED, {"success":false} when it had
// already finished.
func (s *Server) serveCancel(w http.ResponseWriter, rt route) {
	if x, status, msg := s.lookup(rt, nil); x == nil {
		writeError(w, status, msg)
		return
	}
	s.mu.Lock()
	ok := s.cancelLocked(s.execs[rt.id])
	s.mu.Unlock()
	writeJSON(w, fmt.Appendf(nil, `{"success":%t}`, ok))
}

// cancelLocked cancels x unless it has finished. Callers hold s.mu.
func (s *Server) cancelLocked(x *execution) bool {
	now := s.now().UTC()
	if isFinished(x.at(now).state) {
		return false
	}
	if x.run != nil {
		x.run.cancelled = now
		return true
	}
	x.state, x.cancelledAt = dune.StateCancelled, now
	if !x.startedAt.IsZero() {
		x.endedAt = now
	}
	x.expiresAt = now.Add(resultRetention)
	return true
}

// writeJSON answers 200 with the JSON body b.
func writeJSON(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
