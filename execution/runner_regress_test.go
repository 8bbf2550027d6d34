package execution

import (
	"context"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
)

type slowExec struct{ release chan struct{} }

func (s slowExec) ExecuteQuery(ctx context.Context, _ int64, _ map[string]string, _ string) (*dune.Execution, error) {
	select {
	case <-s.release:
		return &dune.Execution{ExecutionID: "01JH3Z8Q6Y5W7X9V2K4M6N8P0R"}, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
func (slowExec) GetExecutionStatus(context.Context, string) (*dune.Status, error) { return nil, nil }

// The first caller's cancellation fails every caller that joined its run.
func TestRegressionJoinerGetsLeadersCancel(t *testing.T) {
	r := NewRunner(slowExec{release: make(chan struct{})}, clock.NewJump(time.Now()))
	key := NewKey(7, nil, "c")
	lead, cancel := context.WithCancel(context.Background())
	go func() { _, _, _ = r.Start(lead, key, time.Time{}, nil, "") }()
	time.Sleep(20 * time.Millisecond)
	done := make(chan error)
	go func() { _, _, err := r.Start(context.Background(), key, time.Time{}, nil, ""); done <- err }()
	time.Sleep(20 * time.Millisecond)
	cancel()
	time.Sleep(20 * time.Millisecond)
	close(r.client.(slowExec).release) // Dune answers after the leader gave up
	err := <-done
	t.Logf("joiner (context never cancelled) got: %v", err)
	if err != nil {
		t.Error("joiner failed because the leader's context ended")
	}
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
