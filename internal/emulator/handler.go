package emulator

import (
	"bufio"
	"fmt"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/oklog/ulid/v2"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clip"
)

// route is a parsed results URL.
type route struct {
	endpoint string // Endpoint* name, "" when the path is not a results endpoint
	byQuery  bool
	id       string
	csv      bool
}

func parseRoute(path string) route {
	rest, ok := strings.CutPrefix(path, "/api/v1/")
	if !ok {
		return route{}
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 3 || len(parts) > 4 || parts[2] != "results" || parts[1] == "" {
		return route{}
	}
	rt := route{id: parts[1]}
	if len(parts) == 4 {
		if parts[3] != "csv" {
			return route{}
		}
		rt.csv = true
	}
	switch parts[0] {
	case "query":
		rt.byQuery = true
		rt.endpoint = EndpointQueryResults
	case "execution":
		rt.endpoint = EndpointExecutionResults
	default:
		return route{}
	}
	if rt.csv {
		rt.endpoint += "_csv"
	}
	return rt
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	rt := routeOf(r.URL.Path)
	s.mu.Lock()
	s.stats.Requests++
	if rt.endpoint != "" {
		s.stats.ByEndpoint[rt.endpoint]++
	}
	if len(s.stats.RawQueries) >= MaxRawQueries {
		s.stats.RawQueries = slices.Delete(s.stats.RawQueries, 0, len(s.stats.RawQueries)-MaxRawQueries+1)
	}
	s.stats.RawQueries = append(s.stats.RawQueries, clipRawQuery(scrubQuery(r.URL.RawQuery)))
	latency := s.latency
	f := s.takeFault(rt.endpoint, r.URL.Path)
	s.mu.Unlock()

	if f != nil {
		latency += f.Latency
	}
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		}
	}
	if f != nil {
		switch {
		case f.Drop:
			dropConn(w)
			return
		case f.Truncate:
			rec := newRecorder()
			s.serve(rec, r, rt)
			truncateResponse(w, rec)
			return
		case f.Status != 0:
			writeFault(w, f)
			return
		}
	}
	s.serve(w, r, rt)
}

// clipRawQuery bounds q to MaxRawQueryBytes (on a UTF-8 boundary).
func clipRawQuery(q string) string { return clip.Bytes(q, MaxRawQueryBytes+len(clip.Mark)) }

// scrubQuery replaces the value of api_key in a raw query string.
func scrubQuery(raw string) string {
	if !strings.Contains(raw, "api_key") && !strings.Contains(raw, "api%5F") && !strings.Contains(raw, "api%5f") {
		return raw
	}
	parts := strings.Split(raw, "&")
	for i, p := range parts {
		k, _, _ := strings.Cut(p, "=")
		if uk, err := url.QueryUnescape(k); err == nil && uk == "api_key" {
			parts[i] = k + "=REDACTED"
		}
	}
	return strings.Join(parts, "&")
}

func writeError(w http.ResponseWriter, status int, msg string) {
	b := append([]byte(`{"error":`), appendJSONString(nil, msg)...)
	b = append(b, '}')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// serveResults answers a results request after faults and auth (serve):
// routing, lookup, parameters, then the page.
func (s *Server) serveResults(w http.ResponseWriter, r *http.Request, rt route) {
	if rt.endpoint == "" {
		writeError(w, http.StatusNotFound, "Object not found")
		return
	}
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", "GET")
		writeError(w, http.StatusMethodNotAllowed, "Method not allowed")
		return
	}
	q := r.URL.Query()
	x, status, msg := s.lookup(rt, q)
	if x == nil {
		writeError(w, status, msg)
		return
	}
	rq, err := parseRequest(q)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch x.state {
	case dune.StateCompleted:
	case dune.StateCompletedPartial:
		if !rq.allowPartial {
			writeError(w, http.StatusBadRequest, MsgPartialResult)
			return
		}
	default:
		if rt.csv {
			writeError(w, http.StatusBadRequest, noResultMessage(x))
			return
		}
		s.writeStatusOnly(w, x)
		return
	}

	var rng *mrand.Rand
	if rq.hasSample {
		s.mu.Lock()
		rng = mrand.New(mrand.NewPCG(s.rng.Uint64(), 0x5a3b1e))
		s.mu.Unlock()
	}
	p, err := evaluate(x.ds, rq, s.cfg.maxPage, rng, &s.cache)
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	lo, hi := p.positions()
	rows := hi - lo
	datapoints := rows * len(p.cols)
	if s.cfg.maxDatapoints > 0 && datapoints > s.cfg.maxDatapoints && !rq.ignoreCredits {
		writeError(w, http.StatusPaymentRequired, MsgPerRequestCredits)
		return
	}
	var next string
	if p.hasNext() {
		next = nextURI(r, x.id, rt.csv, rq, p)
	}
	if rt.csv {
		s.writeCSV(w, x, p, next)
	} else {
		s.writeResultJSON(w, x, p, next)
	}
	s.mu.Lock()
	s.stats.RowsServed += rows
	s.stats.DatapointsServed += datapoints
	s.mu.Unlock()
}

// lookup finds the execution a request addresses, or the error to answer.
func (s *Server) lookup(rt route, q url.Values) (*execution, int, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !rt.byQuery {
		if _, err := ulid.ParseStrict(rt.id); err != nil {
			return nil, http.StatusBadRequest, fmt.Sprintf("The requested execution ID (ID: %s) is invalid.", clipText(rt.id))
		}
		x := s.execs[rt.id]
		if x == nil {
			return nil, http.StatusNotFound, "Object not found"
		}
		return s.view(x), 0, ""
	}
	qid, err := strconv.ParseInt(rt.id, 10, 64)
	execs := s.queries[qid]
	if err != nil || len(execs) == 0 {
		return nil, http.StatusNotFound, MsgQueryNotFound
	}
	want := map[string]string{}
	for k, v := range q {
		if name, ok := strings.CutPrefix(k, "params."); ok && len(v) > 0 {
			want[name] = v[0]
		}
	}
	for name := range want {
		known := false
		for _, x := range execs {
			if _, ok := x.params[name]; ok {
				known = true
				break
			}
		}
		if !known {
			return nil, http.StatusNotFound, fmt.Sprintf("Query not found: query has no parameter %q", clipText(name))
		}
	}
	for i := len(execs) - 1; i >= 0; i-- {
		x := execs[i]
		match := true
		for name, v := range want {
			if x.params[name] != v {
				match = false
				break
			}
		}
		if match {
			return s.view(x), 0, ""
		}
	}
	return nil, http.StatusNotFound, "Query not found: no result for these parameter values"
}

func noResultMessage(x *execution) string {
	if x.state == dune.StateFailed && x.errInfo != nil {
		return fmt.Sprintf("execution %s is in state %s: %s", x.id, x.state, x.errInfo.Message)
	}
	return fmt.Sprintf("execution %s is in state %s and has no result", x.id, x.state)
}

// nextURI builds Dune's next_uri: absolute, rooted at the request's base
// URL, on the execution endpoint, carrying the post-processing parameters
// with sorted keys (url.Values.Encode).
func nextURI(r *http.Request, id string, csv bool, rq request, p *plan) string {
	v := url.Values{}
	if rq.columnsRaw != "" {
		v.Set("columns", rq.columnsRaw)
	}
	if rq.filters != "" {
		v.Set("filters", rq.filters)
	}
	if rq.sortBy != "" {
		v.Set("sort_by", rq.sortBy)
	}
	if rq.allowPartial {
		v.Set("allow_partial_results", "true")
	}
	if rq.ignoreCredits {
		v.Set(rq.ignoreCreditsParamName, "true")
	}
	v.Set("limit", strconv.Itoa(p.effLimit))
	v.Set("offset", strconv.Itoa(p.end))
	path := "/api/v1/execution/" + id + "/results"
	if csv {
		path += "/csv"
	}
	return baseURL(r) + path + "?" + v.Encode()
}

// baseURL is scheme://host of the request as the client addressed it.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

const timeLayout = time.RFC3339Nano

// writeHead writes the execution fields shared by every JSON answer, up to
// and including the error object, without the closing brace.
func writeHead(b []byte, x *execution) []byte {
	b = append(b, `{"execution_id":`...)
	b = appendJSONString(b, x.id)
	b = append(b, `,"query_id":`...)
	b = strconv.AppendInt(b, x.queryID, 10)
	b = append(b, `,"is_execution_finished":`...)
	b = strconv.AppendBool(b, isFinished(x.state))
	b = append(b, `,"state":`...)
	b = appendJSONString(b, string(x.state))
	appendTime := func(b []byte, name string, t time.Time) []byte {
		b = append(b, `,"`...)
		b = append(b, name...)
		b = append(b, `":"`...)
		b = t.AppendFormat(b, timeLayout)
		return append(b, '"')
	}
	b = appendTime(b, "submitted_at", x.submittedAt)
	b = appendTime(b, "expires_at", x.expiresAt)
	if !x.startedAt.IsZero() {
		b = appendTime(b, "execution_started_at", x.startedAt)
	}
	if !x.endedAt.IsZero() {
		b = appendTime(b, "execution_ended_at", x.endedAt)
	}
	if !x.cancelledAt.IsZero() {
		b = appendTime(b, "cancelled_at", x.cancelledAt)
	}
	if x.errInfo != nil {
		b = append(b, `,"error":{"type":`...)
		b = appendJSONString(b, x.errInfo.Type)
		b = append(b, `,"message":`...)
		b = appendJSONString(b, x.errInfo.Message)
		if x.errInfo.Line > 0 || x.errInfo.Column > 0 {
			b = append(b, `,"metadata":{"line":`...)
			b = strconv.AppendInt(b, int64(x.errInfo.Line), 10)
			b = append(b, `,"column":`...)
			b = strconv.AppendInt(b, int64(x.errInfo.Column), 10)
			b = append(b, '}')
		}
		b = append(b, '}')
	}
	return b
}

func isFinished(st dune.State) bool {
	return st != dune.StatePending && st != dune.StateExecuting
}

// writeStatusOnly answers for an execution without a result (pending,
// executing, failed, cancelled, expired).
func (s *Server) writeStatusOnly(w http.ResponseWriter, x *execution) {
	b := writeHead(nil, x)
	b = append(b, '}')
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}

const flushAt = 32 << 10

// writeResultJSON streams a page: head, rows (keys sorted like Dune),
// metadata, then next_uri/next_offset when another page exists.
func (s *Server) writeResultJSON(w http.ResponseWriter, x *execution, p *plan, next string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	b := make([]byte, 0, flushAt+4096)
	b = writeHead(b, x)

	cols := x.ds.Columns
	// keys in alphabetical order, as Dune (a Go map marshal) writes them
	keyOrder := append([]int(nil), p.cols...)
	sort.SliceStable(keyOrder, func(i, j int) bool { return cols[keyOrder[i]].Name < cols[keyOrder[j]].Name })
	keys := make([][]byte, len(keyOrder))
	for k, j := range keyOrder {
		keys[k] = append(appendJSONString(nil, cols[j].Name), ':')
	}
	var pageBytes int64
	for _, j := range p.cols {
		pageBytes += int64(len(cols[j].Name))
	}

	b = append(b, `,"result":{"rows":[`...)
	want := x.ds.wantCols(p.cols)
	lo, hi := p.positions()
	for k := lo; k < hi; k++ {
		if k > lo {
			b = append(b, ',')
		}
		row := x.ds.rowCols(p.rowIndex(k), want)
		b = append(b, '{')
		for c, j := range keyOrder {
			if c > 0 {
				b = append(b, ',')
			}
			b = append(b, keys[c]...)
			b = appendValue(b, row[j])
			pageBytes += int64(cellBytes(row[j]))
		}
		b = append(b, '}')
		if len(b) >= flushAt {
			_, _ = bw.Write(b)
			b = b[:0]
		}
	}
	rowCount := hi - lo
	b = append(b, `],"metadata":{"column_names":[`...)
	for k, j := range p.cols {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, cols[j].Name)
	}
	b = append(b, `],"column_types":[`...)
	for k, j := range p.cols {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, cols[j].Type)
	}
	b = append(b, `],"row_count":`...)
	b = strconv.AppendInt(b, int64(rowCount), 10)
	b = append(b, `,"result_set_bytes":`...)
	b = strconv.AppendInt(b, pageBytes, 10)
	b = append(b, `,"total_row_count":`...)
	b = strconv.AppendInt(b, int64(p.total), 10)
	b = append(b, `,"total_result_set_bytes":`...)
	b = strconv.AppendInt(b, x.ds.totalBytes(), 10)
	b = append(b, `,"datapoint_count":`...)
	b = strconv.AppendInt(b, int64(rowCount*len(p.cols)), 10)
	b = append(b, `,"pending_time_millis":`...)
	b = strconv.AppendInt(b, x.pendingMS, 10)
	b = append(b, `,"execution_time_millis":`...)
	b = strconv.AppendInt(b, x.execMS, 10)
	b = append(b, `}}`...)
	if next != "" {
		b = append(b, `,"next_uri":`...)
		b = appendJSONString(b, next)
		b = append(b, `,"next_offset":`...)
		b = strconv.AppendInt(b, int64(p.end), 10)
	}
	b = append(b, "}\n"...)
	_, _ = bw.Write(b)
	_ = bw.Flush()
}

// writeCSV streams a page as CSV: header row, RFC 4180 quoting, empty field
// for NULL, LF line endings, pagination in X-Dune-Next-* headers.
func (s *Server) writeCSV(w http.ResponseWriter, x *execution, p *plan, next string) {
	h := w.Header()
	h.Set("Content-Type", "text/csv; charset=utf-8")
	if next != "" {
		h.Set("X-Dune-Next-Offset", strconv.Itoa(p.end))
		h.Set("X-Dune-Next-Uri", next)
	}
	w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(w, 64<<10)
	b := make([]byte, 0, flushAt+4096)
	cols := x.ds.Columns
	for k, j := range p.cols {
		if k > 0 {
			b = append(b, ',')
		}
		b = appendCSVField(b, cols[j].Name)
	}
	b = append(b, '\n')
	want := x.ds.wantCols(p.cols)
	lo, hi := p.positions()
	for k := lo; k < hi; k++ {
		row := x.ds.rowCols(p.rowIndex(k), want)
		start := len(b)
		for c, j := range p.cols {
			if c > 0 {
				b = append(b, ',')
			}
			b = appendCSVField(b, cellText(row[j]))
		}
		if len(p.cols) == 1 && len(b) == start {
			b = append(b, `""`...) // keep a one-column empty row from reading as a blank line
		}
		b = append(b, '\n')
		if len(b) >= flushAt {
			_, _ = bw.Write(b)
			b = b[:0]
		}
	}
	_, _ = bw.Write(b)
	_ = bw.Flush()
}
