package emulator

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
)

// ExecutionTimeout is Dune's execution time limit (30 minutes, Dune's FAQ):
// an execution still running this long after it started fails with
// MsgExecutionTimeout.
const ExecutionTimeout = 30 * time.Minute

// Credits an execution costs (execution_cost_credits), by performance tier:
// Dune's published figures for medium (also when performance is omitted)
// and large. Failed and cancelled executions are charged too.
const (
	CreditsMedium = 10
	CreditsLarge  = 20
)

// MsgUnknownParams is Dune's answer (400) to an execution with a parameter
// the query does not declare.
const MsgUnknownParams = "unknown parameters (Invalid Parameter)"

// MsgExecutionTimeout is the error message (type
// FAILED_TYPE_EXECUTION_FAILED, no line or column) of an execution that ran
// into ExecutionTimeout; Dune's text is unknown, this is the emulator's.
const MsgExecutionTimeout = "Query execution exceeded the maximum execution time of 30 minutes and was stopped."

// resultRetention is how long a result is kept (expires_at - execution_ended_at).
const resultRetention = 90 * 24 * time.Hour

// Outcome is how an execution started with POST /execute ends.
type Outcome int

const (
	// OutcomeCompleted ends QUERY_STATE_COMPLETED with the profile's rows.
	OutcomeCompleted Outcome = iota
	// OutcomePartial ends QUERY_STATE_COMPLETED_PARTIAL (a truncated result).
	OutcomePartial
	// OutcomeFailed ends QUERY_STATE_FAILED with Profile.Error.
	OutcomeFailed
	// OutcomeTimeout never finishes on its own: the execution runs until
	// ExecutionTimeout, then fails with MsgExecutionTimeout (Run is ignored).
	OutcomeTimeout
)

// Profile is how the executions of a query started with POST
// /api/v1/query/{id}/execute unfold on the emulator's clock (see
// WithClock): QUERY_STATE_PENDING for Queue, QUERY_STATE_EXECUTING for Run,
// then Outcome. A Run of ExecutionTimeout or more times out like
// OutcomeTimeout. The zero Profile completes at once.
type Profile struct {
	// Queue is how long an execution waits in the queue (PENDING).
	Queue time.Duration
	// QueuePositions is the queue_position reported on submission; it
	// decreases evenly to 1 over Queue. Values below 1 mean 1.
	QueuePositions int
	// Run is how long the execution runs (EXECUTING) before its Outcome.
	Run time.Duration
	// Outcome is the final state.
	Outcome Outcome
	// Error is the error of OutcomeFailed (default: type
	// FAILED_TYPE_EXECUTION_FAILED, message "query execution failed").
	// Like Dune, the emulator appends " [Execution ID: <id>]" to the message.
	Error *dune.ExecutionErrorInfo
	// Dataset returns the rows for the parameter values of an execution
	// (those given, plus the defaults of declared parameters). nil: the
	// dataset of the query's latest execution registered with AddExecution
	// (COMPLETED or COMPLETED_PARTIAL) with exactly these values; failing
	// that, a variant of its latest such dataset, rows rotated and trimmed
	// by a hash of the query id and the values; failing that, Empty().
	// Called without the server's lock held; must be deterministic.
	Dataset func(params map[string]string) *Dataset
}

// DefaultProfile is the profile of queries without SetProfile: one second
// queued (queue position 1), two seconds executing, then COMPLETED.
func DefaultProfile() Profile {
	return Profile{Queue: time.Second, QueuePositions: 1, Run: 2 * time.Second}
}

// SetProfile sets the profile of queryID's future executions (executions
// already started keep theirs). A query with a profile can be executed even
// before any execution of it is registered.
func (s *Server) SetProfile(queryID int64, p Profile) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.profiles == nil {
		s.profiles = map[int64]Profile{}
	}
	s.profiles[queryID] = p
}

// Profile returns queryID's profile (DefaultProfile when none was set), for
// a caller that wants to change part of it.
func (s *Server) Profile(queryID int64) Profile {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.profileLocked(queryID)
}

func (s *Server) profileLocked(queryID int64) Profile {
	if p, ok := s.profiles[queryID]; ok {
		return p
	}
	return DefaultProfile()
}

// Param declares a parameter of a query for POST /execute.
type Param struct {
	Name string
	// Default is the value of an execution that omits the parameter.
	Default string
	// Required parameters have no default: an execution without them is
	// refused with 400 (Dune's queries always have defaults; this is the
	// emulator's addition).
	Required bool
}

// SetParams declares queryID's parameters, replacing any earlier
// declaration. Without a declaration a query's parameters are the names
// its registered executions carry in Execution.Params, none required and
// without defaults.
func (s *Server) SetParams(queryID int64, params ...Param) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.declared == nil {
		s.declared = map[int64][]Param{}
	}
	s.declared[queryID] = slices.Clone(params)
}

// inferredParamsLocked lists the parameter names queryID's executions
// carry, for a query without SetParams. Callers hold s.mu.
func (s *Server) inferredParamsLocked(queryID int64) []Param {
	var ps []Param
	for _, x := range s.queries[queryID] {
		for name := range x.params {
			if !containsParam(ps, name) {
				ps = append(ps, Param{Name: name})
			}
		}
	}
	return ps
}

func containsParam(ps []Param, name string) bool {
	return slices.ContainsFunc(ps, func(p Param) bool { return p.Name == name })
}

// queryExistsLocked reports whether queryID can be executed: it has an
// execution, a profile or declared parameters. Callers hold s.mu.
func (s *Server) queryExistsLocked(queryID int64) bool {
	_, p := s.profiles[queryID]
	_, d := s.declared[queryID]
	return len(s.queries[queryID]) > 0 || p || d
}

// registeredResult is the Profile.Dataset == nil rule. Callers hold s.mu.
func (s *Server) registeredResult(queryID int64, params map[string]string) *Dataset {
	var base *Dataset
	execs := s.queries[queryID]
	for i := len(execs) - 1; i >= 0; i-- {
		x := execs[i]
		if x.run != nil || (x.state != dune.StateCompleted && x.state != dune.StateCompletedPartial) {
			continue
		}
		if maps.Equal(x.params, params) {
			return x.ds
		}
		if base == nil {
			base = x.ds
		}
	}
	if base == nil {
		return Empty()
	}
	return variant(base, paramSeed(queryID, params))
}

// paramSeed hashes a query id and parameter values (sorted by name).
func paramSeed(queryID int64, params map[string]string) uint64 {
	b := strconv.AppendInt(nil, queryID, 10)
	for _, k := range slices.Sorted(maps.Keys(params)) {
		b = append(append(append(append(b, 0), k...), '='), params[k]...)
	}
	return mix64(hashString(string(b)))
}

// variant is base with its rows rotated and trimmed (by up to a quarter)
// according to seed.
func variant(base *Dataset, seed uint64) *Dataset {
	n := base.Len()
	if n == 0 {
		return base
	}
	off := int(seed % uint64(n))
	keep := n - int((seed>>32)%uint64(n/4+1))
	return GeneratedDataset(base.Name, base.Columns, keep, func(i int) dune.Row { return base.Row((i + off) % n) })
}

// timeline is the planned course of an execution started with POST /execute.
type timeline struct {
	started   time.Time // end of the queue
	ended     time.Time // end of the run
	positions int
	outcome   dune.State // COMPLETED, COMPLETED_PARTIAL or FAILED
	errInfo   *dune.ExecutionErrorInfo
	cancelled time.Time // zero: not cancelled
}

// at returns a copy of x as it stands at now: an execution started with
// POST /execute moves along its timeline (and a result expires 90 days
// after it ended); others are as registered. Callers hold s.mu.
func (x *execution) at(now time.Time) *execution {
	c := *x
	t := x.run
	if t == nil {
		if c.state == dune.StatePending {
			c.queuePos = 1
		}
		return &c
	}
	c.startedAt, c.endedAt, c.cancelledAt = time.Time{}, time.Time{}, time.Time{}
	c.errInfo, c.queuePos = nil, 0
	c.expiresAt = time.Unix(0, 0).UTC()
	switch {
	case !t.cancelled.IsZero() && !now.Before(t.cancelled):
		c.state, c.cancelledAt = dune.StateCancelled, t.cancelled
		if !t.cancelled.Before(t.started) {
			c.startedAt, c.endedAt = t.started, t.cancelled
		}
		c.expiresAt = t.cancelled.Add(resultRetention)
	case now.Before(t.started):
		c.state = dune.StatePending
		c.queuePos = t.position(c.submittedAt, now)
	case now.Before(t.ended):
		c.state, c.startedAt = dune.StateExecuting, t.started
	default:
		c.state, c.startedAt, c.endedAt, c.errInfo = t.outcome, t.started, t.ended, t.errInfo
		c.expiresAt = t.ended.Add(resultRetention)
		if t.errInfo == nil && !now.Before(c.expiresAt) {
			c.state = dune.StateExpired
		}
	}
	return &c
}

// position is the queue position at now of an execution submitted at
// submitted: t.positions at first, decreasing evenly to 1.
func (t *timeline) position(submitted, now time.Time) int {
	n := max(t.positions, 1)
	queue := t.started.Sub(submitted)
	if queue <= 0 {
		return 1
	}
	p := n - int(int64(n)*int64(now.Sub(submitted))/int64(queue))
	return min(max(p, 1), n)
}

// view is the execution x as of the emulator's clock. Callers hold s.mu.
func (s *Server) view(x *execution) *execution { return x.at(s.now()) }
