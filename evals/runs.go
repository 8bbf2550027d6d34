package evals

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// Runs of a query that dune-mcp starts (POST /api/v1/query/{id}/execute)
// follow the query's profile. So that the ground truth (rows: truth) knows
// the rows of a run, every query gets a profile whose Dataset function is
// ours: it picks the rows, and pairRuns records them under the execution id
// the emulator answers with.

// registeredExecution is an execution the scenario set up (or a rerun).
type registeredExecution struct {
	params    map[string]string
	ds        *emulator.Dataset
	completed bool // COMPLETED or COMPLETED_PARTIAL
}

// runPairing matches the rows a run was given to its execution id: execute
// requests are served one at a time, and the Dataset function called while
// serving one leaves its rows in last.
type runPairing struct {
	mu   sync.Mutex // held through each execute request
	last *emulator.Dataset
}

// setupRuns declares queryID's parameters and sets its profile (the
// scenario's, else emulator.DefaultProfile) with our Dataset function.
func (e *upstream) setupRuns(queryID int64, q QuerySpec) error {
	if len(q.Params) > 0 {
		ps := make([]emulator.Param, len(q.Params))
		for i, p := range q.Params {
			ps[i] = emulator.Param{Name: p.Name, Default: p.Default, Required: p.Required}
		}
		e.srv.SetParams(queryID, ps...)
	}
	prof := emulator.DefaultProfile()
	var fixed *emulator.Dataset
	if spec := q.Profile; spec != nil {
		outcome, err := parseOutcome(spec.Outcome)
		if err != nil {
			return err
		}
		prof = emulator.Profile{Queue: time.Duration(spec.Queue), QueuePositions: spec.QueuePositions,
			Run: time.Duration(spec.Run), Outcome: outcome, Error: spec.Error.info()}
		if spec.Dataset != "" {
			if fixed, err = buildDataset(spec.DatasetSpec); err != nil {
				return err
			}
		}
	}
	prof.Dataset = func(params map[string]string) *emulator.Dataset {
		ds := fixed
		if ds == nil {
			ds = e.registeredResult(queryID, params)
		}
		e.runs.last = ds // the execute request holding e.runs.mu is ours
		return ds
	}
	e.srv.SetProfile(queryID, prof)
	return nil
}

// registeredResult is the rows of a run without a profile dataset: the
// query's latest completed execution with the same parameters, else its
// latest completed one, else no rows.
func (e *upstream) registeredResult(queryID int64, params map[string]string) *emulator.Dataset {
	e.mu.Lock()
	defer e.mu.Unlock()
	var base *emulator.Dataset
	regs := e.registered[queryID]
	for i := len(regs) - 1; i >= 0; i-- {
		r := regs[i]
		if !r.completed || r.ds == nil {
			continue
		}
		if maps.Equal(r.params, params) {
			return r.ds
		}
		if base == nil {
			base = r.ds
		}
	}
	if base == nil {
		return emulator.Empty()
	}
	return base
}

// pairRuns serves execute requests one at a time and records the rows of
// each run started under its execution id.
func (e *upstream) pairRuns(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/execute") {
			h.ServeHTTP(w, r)
			return
		}
		e.runs.mu.Lock()
		defer e.runs.mu.Unlock()
		e.runs.last = nil
		rw := &recordingWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rw, r)
		var answer struct {
			ExecutionID string `json:"execution_id"`
		}
		if rw.status != http.StatusOK || e.runs.last == nil || json.Unmarshal(rw.body.Bytes(), &answer) != nil || answer.ExecutionID == "" {
			return
		}
		e.mu.Lock()
		e.datasets[answer.ExecutionID] = e.runs.last
		e.mu.Unlock()
	})
}

// outcomes are the profile outcomes a scenario can name ("" is completed).
var outcomes = map[string]emulator.Outcome{
	"": emulator.OutcomeCompleted, "completed": emulator.OutcomeCompleted, "partial": emulator.OutcomePartial,
	"failed": emulator.OutcomeFailed, "timeout": emulator.OutcomeTimeout,
}

// parseOutcome reads a profile's outcome.
func parseOutcome(s string) (emulator.Outcome, error) {
	if o, ok := outcomes[strings.ToLower(s)]; ok {
		return o, nil
	}
	return 0, fmt.Errorf("unknown outcome %q (completed, partial, failed, timeout)", s)
}

// info is the emulator's form of an error; nil for none.
func (es *ErrorSpec) info() *dune.ExecutionErrorInfo {
	if es == nil {
		return nil
	}
	return &dune.ExecutionErrorInfo{Type: es.Type, Message: es.Message, Line: es.Line, Column: es.Column}
}

// runQuery starts a run of a query as another client would.
func (e *upstream) runQuery(ctx context.Context, r RunQuerySpec) error {
	body, err := json.Marshal(map[string]any{"query_parameters": r.Params, "performance": r.Performance})
	if err != nil {
		return err
	}
	url := fmt.Sprintf("%s/api/v1/query/%d/execute", e.url(), r.Query)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Dune-Api-Key", emulator.DefaultAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d: %s", resp.StatusCode, msg)
	}
	return nil
}
