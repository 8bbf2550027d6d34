package execution

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
)

// slowExec answers the execute request once release is closed, unless the
// context it was given has ended by then (as an HTTP request would fail).
// Each call is announced on entered.
type slowExec struct {
	release chan struct{}
	entered chan struct{}
}

func (s slowExec) ExecuteQuery(ctx context.Context, _ int64, _ map[string]string, _ string) (*dune.Execution, error) {
	s.entered <- struct{}{}
	select {
	case <-s.release:
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return &dune.Execution{ExecutionID: "01JH3Z8Q6Y5W7X9V2K4M6N8P0R"}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
func (slowExec) GetExecutionStatus(context.Context, string) (*dune.Status, error) { return nil, nil }

// waitingCtx announces, on asked, the first time a caller selects on its
// Done: a joiner of a run does that only once it waits on the run.
type waitingCtx struct {
	context.Context
	once  sync.Once
	asked chan struct{}
}

func (c *waitingCtx) Done() <-chan struct{} {
	c.once.Do(func() { close(c.asked) })
	return c.Context.Done()
}

// The first caller's cancellation fails every caller that joined its run.
// Each step waits for the one before (no sleeps): the leader is inside the
// execute request, the joiner waits on the leader's run, the leader's
// context ends, and only then does Dune answer.
func TestRegressionJoinerGetsLeadersCancel(t *testing.T) {
	ex := slowExec{release: make(chan struct{}), entered: make(chan struct{}, 2)}
	r := NewRunner(ex, clock.NewJump(time.Now()))
	key := NewKey(7, nil, "c")
	lead, cancel := context.WithCancel(context.Background())
	leader := make(chan struct{})
	go func() { _, _, _ = r.Start(lead, key, time.Time{}, nil, ""); close(leader) }()
	<-ex.entered // the leader's execute request is out
	jctx := &waitingCtx{Context: context.Background(), asked: make(chan struct{})}
	done := make(chan error, 1)
	go func() { _, started, err := r.Start(jctx, key, time.Time{}, nil, ""); done <- cmpErr(started, err) }()
	<-jctx.asked // the joiner waits on the leader's run
	cancel()
	close(ex.release) // Dune answers after the leader gave up
	if err := <-done; err != nil {
		t.Errorf("joiner (context never cancelled): %v; want the leader's run", err)
	}
	<-leader
	if n := len(ex.entered); n != 0 {
		t.Errorf("%d more execute request(s): the joiner did not join", n)
	}
}

// cmpErr is err, or an error when the joiner started a run of its own.
func cmpErr(started bool, err error) error {
	if err == nil && started {
		return errors.New("the joiner started its own run")
	}
	return err
}

type unknownState struct{ polls int }

func (u *unknownState) ExecuteQuery(context.Context, int64, map[string]string, string) (*dune.Execution, error) {
	return &dune.Execution{ExecutionID: "01JH3Z8Q6Y5W7X9V2K4M6N8P0R"}, nil
}
func (u *unknownState) GetExecutionStatus(context.Context, string) (*dune.Status, error) {
	u.polls++
	return &dune.Status{ExecutionID: "01JH3Z8Q6Y5W7X9V2K4M6N8P0R", State: "QUERY_STATE_QUEUED", IsExecutionFinished: false}, nil
}

func TestRegressionUnknownStateIgnoresIsFinished(t *testing.T) {
	u := &unknownState{}
	r := NewRunner(u, clock.NewJump(time.Now()))
	st, err := r.Wait(context.Background(), "01JH3Z8Q6Y5W7X9V2K4M6N8P0R", time.Minute, nil)
	// An unknown state that Dune says is not finished is waited on, to the bound.
	if err != nil || st.State != "QUERY_STATE_QUEUED" || u.polls < 10 {
		t.Errorf("after %d poll(s): state %s, err %v", u.polls, st.State, err)
	}
}
