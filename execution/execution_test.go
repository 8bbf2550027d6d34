package execution

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// setup serves query 7 from an emulator that shares the test's clock with
// the runner: waits jump instead of sleeping.
func setup(t *testing.T) (*emulator.Server, *Runner, *clock.Jump) {
	t.Helper()
	clock := clock.NewJump(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	emu := emulator.NewServer(emulator.WithClock(clock.Now))
	t.Cleanup(emu.Close)
	emu.AddQuery(7, emulator.Tiny())
	client := dune.NewClient(dune.Config{BaseURL: emu.URL, APIKey: emulator.DefaultAPIKey})
	return emu, NewRunner(client, clock), clock
}

func TestStartAndWaitFollowsTheTimeline(t *testing.T) {
	emu, r, clock := setup(t)
	start := clock.Now()
	emu.SetProfile(7, emulator.Profile{Queue: 6 * time.Second, QueuePositions: 3, Run: 20 * time.Second})
	key := NewKey(7, nil, "caller")
	id, started, err := r.Start(context.Background(), key, time.Time{}, nil, dune.PerformanceLarge)
	if err != nil || !started || id == "" {
		t.Fatalf("Start = %q, %v, %v", id, started, err)
	}
	var seen []Progress
	st, err := r.Wait(context.Background(), id, time.Hour, func(p Progress) { seen = append(seen, p) })
	if err != nil {
		t.Fatal(err)
	}
	if st.State != dune.StateCompleted || st.ExecutionCostCredits == nil || *st.ExecutionCostCredits != emulator.CreditsLarge {
		t.Fatalf("final status %+v", st)
	}
	// Queue positions count down while PENDING, then EXECUTING, in order.
	var positions []int
	executing := false
	for _, p := range seen {
		switch p.Status.State {
		case dune.StatePending:
			if executing {
				t.Fatal("PENDING after EXECUTING")
			}
			if p.Status.QueuePosition != nil {
				positions = append(positions, *p.Status.QueuePosition)
			}
		case dune.StateExecuting:
			executing = true
		}
	}
	if len(positions) < 2 || positions[0] != 3 || positions[len(positions)-1] >= positions[0] || !executing {
		t.Errorf("progress: positions %v, executing %v (%d reports)", positions, executing, len(seen))
	}
	// Brisk polls first (every MinPoll), then slower ones: fewer status
	// checks than seconds waited.
	for i := 0; i < 5 && i < len(seen); i++ {
		if seen[i].Elapsed != time.Duration(i)*MinPoll {
			t.Errorf("report %d at %s, want %s", i, seen[i].Elapsed, time.Duration(i)*MinPoll)
		}
	}
	if last := seen[len(seen)-1]; last.Polls >= int(last.Elapsed.Seconds()) {
		t.Errorf("%d polls in %s", last.Polls, last.Elapsed)
	}
	if s := emu.Stats(); s.Executions != 1 || s.Credits != emulator.CreditsLarge {
		t.Errorf("emulator saw %d executions, %d credits", s.Executions, s.Credits)
	}
	// Finished: a caller that decided to run the query before that run was
	// submitted takes it; one that decided after it runs the query again.
	if got, again, err := r.Start(context.Background(), key, start.Add(-time.Second), nil, ""); err != nil || again || got != id {
		t.Errorf("Start decided before the run: %s started=%v err=%v, want %s", got, again, err, id)
	}
	if _, again, err := r.Start(context.Background(), key, clock.Now(), nil, ""); err != nil || !again {
		t.Errorf("Start decided after the run finished: started=%v err=%v", again, err)
	}
}

func TestOneExecutionPerKeyAtATime(t *testing.T) {
	emu, r, _ := setup(t)
	emu.SetProfile(7, emulator.Profile{Run: time.Minute})
	emu.SetParams(7, emulator.Param{Name: "a", Default: "1"})
	key := NewKey(7, map[string]string{"a": "1"}, "caller")
	var wg sync.WaitGroup
	ids := make([]string, 8)
	starts := make([]bool, 8)
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id, started, err := r.Start(context.Background(), key, time.Time{}, map[string]string{"a": "1"}, "")
			if err != nil {
				t.Error(err)
			}
			ids[i], starts[i] = id, started
		}()
	}
	wg.Wait()
	startedN := 0
	for i := range ids {
		if ids[i] != ids[0] {
			t.Errorf("call %d waits for %s, call 0 for %s", i, ids[i], ids[0])
		}
		if starts[i] {
			startedN++
		}
	}
	if startedN != 1 || emu.Stats().Executions != 1 {
		t.Errorf("%d calls started a run; the emulator saw %d executions", startedN, emu.Stats().Executions)
	}
	// Other parameters or another caller are other executions.
	for _, k := range []Key{NewKey(7, map[string]string{"a": "2"}, "caller"), NewKey(7, map[string]string{"a": "1"}, "other")} {
		if _, started, err := r.Start(context.Background(), k, time.Time{}, map[string]string{"a": "1"}, ""); err != nil || !started {
			t.Errorf("%+v: started=%v err=%v", k, started, err)
		}
	}
	if n := emu.Stats().Executions; n != 3 {
		t.Errorf("executions = %d, want 3", n)
	}
}

func TestTrackJoinsARunningExecution(t *testing.T) {
	emu, r, _ := setup(t)
	emu.SetProfile(7, emulator.Profile{Run: time.Minute})
	other := NewRunner(dune.NewClient(dune.Config{BaseURL: emu.URL, APIKey: emulator.DefaultAPIKey}), nil)
	key := NewKey(7, nil, "caller")
	id, _, err := other.Start(context.Background(), key, time.Time{}, nil, "") // another process
	if err != nil {
		t.Fatal(err)
	}
	if got := r.Track(key, id); got != id {
		t.Fatalf("Track = %s, want %s", got, id)
	}
	if got, started, err := r.Start(context.Background(), key, time.Time{}, nil, ""); err != nil || started || got != id {
		t.Errorf("Start after Track = %s, %v, %v; want %s without a new run", got, started, err, id)
	}
	if n := emu.Stats().Executions; n != 1 {
		t.Errorf("executions = %d, want 1", n)
	}
}

func TestWaitStopsAtItsBoundAndResumes(t *testing.T) {
	emu, r, clock := setup(t)
	emu.SetProfile(7, emulator.Profile{Queue: 5 * time.Second, Run: 2 * time.Minute})
	id, _, err := r.Start(context.Background(), NewKey(7, nil, "c"), time.Time{}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	start := clock.Now()
	st, err := r.Wait(context.Background(), id, 30*time.Second, nil)
	if err != nil || Finished(st.State) {
		t.Fatalf("after 30 s: %+v, %v", st, err)
	}
	if waited := clock.Now().Sub(start); waited < 30*time.Second || waited > 31*time.Second {
		t.Errorf("waited %s, bound 30s", waited)
	}
	st, err = r.Wait(context.Background(), id, 5*time.Minute, nil)
	if err != nil || st.State != dune.StateCompleted {
		t.Fatalf("resumed wait: %+v, %v", st, err)
	}
}

func TestWaitReportsFailures(t *testing.T) {
	emu, r, _ := setup(t)
	emu.SetProfile(7, emulator.Profile{Run: 3 * time.Second, Outcome: emulator.OutcomeFailed,
		Error: &dune.ExecutionErrorInfo{Type: "FAILED_TYPE_EXECUTION_FAILED", Message: "line 2:5: mismatched input", Line: 2, Column: 5}})
	emu.SetProfile(8, emulator.Profile{Outcome: emulator.OutcomeTimeout})
	emu.AddQuery(8, emulator.Tiny())
	for _, q := range []int64{7, 8} {
		id, _, err := r.Start(context.Background(), NewKey(q, nil, "c"), time.Time{}, nil, "")
		if err != nil {
			t.Fatal(err)
		}
		st, err := r.Wait(context.Background(), id, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		var re *dune.ResultError
		if st.State != dune.StateFailed || !errors.As(st.Err(), &re) {
			t.Fatalf("query %d: %+v, err %v", q, st, st.Err())
		}
		if q == 7 && (re.Line != 2 || re.Column != 5) {
			t.Errorf("query 7: error at %d:%d, want 2:5", re.Line, re.Column)
		}
		if q == 8 && (st.ExecutionEndedAt == nil || st.ExecutionEndedAt.Sub(st.SubmittedAt) < emulator.ExecutionTimeout) {
			t.Errorf("query 8 ended %v, submitted %v: want Dune's 30-minute timeout", st.ExecutionEndedAt, st.SubmittedAt)
		}
	}
}

func TestWaitEndsWithItsContext(t *testing.T) {
	emu, r, _ := setup(t)
	emu.SetProfile(7, emulator.Profile{Run: time.Hour})
	id, _, err := r.Start(context.Background(), NewKey(7, nil, "c"), time.Time{}, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	polls := 0
	st, err := r.Wait(ctx, id, time.Hour, func(Progress) {
		if polls++; polls == 2 {
			cancel()
		}
	})
	if !errors.Is(err, context.Canceled) || st == nil || st.State != dune.StateExecuting {
		t.Fatalf("cancelled wait: %+v, %v", st, err)
	}
	if got := emu.Stats().ByEndpoint[emulator.EndpointCancel]; got != 0 {
		t.Errorf("the wait cancelled the execution on Dune (%d cancel requests)", got)
	}
}
