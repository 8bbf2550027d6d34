package execution

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clock"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/redisconn"
	"github.com/dune-mcp/dune-mcp/internal/redistest"
)

// sharedRunners are n Runners ("processes") on one emulator and one Redis
// (or Valkey: k).
func sharedRunners(t *testing.T, k redistest.Kind, n int, clk clock.Clock) (*emulator.Server, []*Runner, *redisconn.Conn) {
	t.Helper()
	emu, r, conn, _ := sharedRunnersOn(t, k, n, clk)
	return emu, r, conn
}

func sharedRunnersOn(t *testing.T, k redistest.Kind, n int, clk clock.Clock) (*emulator.Server, []*Runner, *redisconn.Conn, *redistest.Server) {
	t.Helper()
	srv := redistest.StartKind(t, k)
	var now func() time.Time
	if clk != nil {
		now = clk.Now
	}
	emu := emulator.NewServer(emulator.WithClock(now))
	t.Cleanup(emu.Close)
	emu.AddQuery(7, emulator.Tiny())
	emu.SetProfile(7, emulator.Profile{Run: 2 * time.Second})
	var conn *redisconn.Conn
	out := make([]*Runner, n)
	for i := range out {
		c, err := redisconn.Open(context.Background(), srv.URL(), redisconn.Options{Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conn = c
		client := dune.NewClient(dune.Config{BaseURL: emu.URL, APIKey: emulator.DefaultAPIKey})
		out[i] = NewRunner(client, clk, WithClaims(c))
	}
	return emu, out, conn, srv
}

func TestSharedRecordIsJoinedThenMarkedFinished(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		clk := clock.NewJump(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
		emu, r, conn := sharedRunners(t, k, 2, clk)
		ctx := context.Background()
		key := NewKey(7, map[string]string{"chain": "base"}, "caller")
		decided := clk.Now()

		id, started, err := r[0].Start(ctx, key, decided, nil, "")
		if err != nil || !started {
			t.Fatalf("process 0: Start = %q, %v, %v", id, started, err)
		}
		rec, _ := conn.Get(ctx, claimKey(key))
		if want := "run " + id + " "; !strings.HasPrefix(string(rec), want) || !strings.HasSuffix(string(rec), " 0") {
			t.Fatalf("record %q, want %q… 0", rec, want)
		}
		if strings.Contains(claimKey(key), "base") || strings.Contains(claimKey(key), "caller") {
			t.Errorf("record name %q shows the parameters or the caller", claimKey(key))
		}

		// Process 1, asked for the same run: joins it.
		joined, started, err := r[1].Start(ctx, key, decided, nil, "")
		if err != nil || started || joined != id || emu.Stats().Executions != 1 {
			t.Fatalf("process 1: Start = %q, %v, %v (%d executions); want %q joined", joined, started, err, emu.Stats().Executions, id)
		}
		// Process 1 sees it finish: the record says so.
		if st, err := r[1].Wait(ctx, joined, time.Hour, nil); err != nil || st.State != dune.StateCompleted {
			t.Fatalf("Wait: %+v, %v", st, err)
		}
		if rec, _ := conn.Get(ctx, claimKey(key)); !strings.HasSuffix(string(rec), " 1") {
			t.Fatalf("record after the run finished: %q, want … 1", rec)
		}

		// Callers that decide after that run was submitted (they want fresher)
		// share one new run, though process 0 never saw the first one finish.
		clk.Advance(time.Minute)
		decided = clk.Now()
		later, started, err := r[1].Start(ctx, key, decided, nil, "")
		if err != nil || !started || later == id || emu.Stats().Executions != 2 {
			t.Fatalf("fresher run: %q, %v, %v (%d executions)", later, started, err, emu.Stats().Executions)
		}
		again, started, err := r[0].Start(ctx, key, decided, nil, "")
		if err != nil || started || again != later || emu.Stats().Executions != 2 {
			t.Errorf("process 0, same decision: %q, %v, %v (%d executions); want %q joined", again, started, err, emu.Stats().Executions, later)
		}
	})
}

func TestAbandonedPendingRecordExpires(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		emu, r, conn := sharedRunners(t, k, 1, clock.Wall{})
		ctx := context.Background()
		key := NewKey(7, nil, "caller")
		// A process claimed the run, then died before Dune answered it.
		if _, won, err := conn.Claim(ctx, claimKey(key), "pending dead", 300*time.Millisecond); !won || err != nil {
			t.Fatalf("claim: %v, %v", won, err)
		}
		id, started, err := r[0].Start(ctx, key, time.Now(), nil, "")
		if err != nil || !started || id == "" || emu.Stats().Executions != 1 {
			t.Fatalf("Start after an abandoned claim = %q, %v, %v (%d executions)", id, started, err, emu.Stats().Executions)
		}
	})
}

func TestForeignRecordIsReplaced(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		clk := clock.NewJump(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
		_, r, conn := sharedRunners(t, k, 1, clk)
		ctx := context.Background()
		key := NewKey(7, nil, "caller")
		conn.Set(ctx, claimKey(key), []byte("garbage"), time.Hour)
		id, started, err := r[0].Start(ctx, key, clk.Now(), nil, "")
		if err != nil || !started {
			t.Fatalf("Start over a foreign record = %q, %v, %v", id, started, err)
		}
		if rec, _ := conn.Get(ctx, claimKey(key)); !strings.HasPrefix(string(rec), "run "+id+" ") {
			t.Errorf("record %q, want run %s …", rec, id)
		}
	})
}

func TestStoreDownDecidesAsOneProcess(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		clk := clock.NewJump(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
		emu, r, _, srv := sharedRunnersOn(t, k, 1, clk)
		ctx := context.Background()
		key := NewKey(7, nil, "caller")
		id, started, err := r[0].Start(ctx, key, clk.Now(), nil, "")
		if err != nil || !started {
			t.Fatalf("Start = %q, %v, %v", id, started, err)
		}
		srv.Stop()
		// Redis is gone: a later caller joins the run this process has not
		// seen finish, as a Runner without claims does.
		clk.Advance(time.Second)
		again, started, err := r[0].Start(ctx, key, clk.Now(), nil, "")
		if err != nil || started || again != id || emu.Stats().Executions != 1 {
			t.Fatalf("with Redis down: %q, %v, %v (%d executions); want %q joined", again, started, err, emu.Stats().Executions, id)
		}
		// And once it is seen finished, a fresher caller runs the query.
		if _, err := r[0].Wait(ctx, id, time.Hour, nil); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		fresh, started, err := r[0].Start(ctx, key, clk.Now(), nil, "")
		if err != nil || !started || fresh == id || emu.Stats().Executions != 2 {
			t.Fatalf("with Redis down, after the run: %q, %v, %v (%d executions)", fresh, started, err, emu.Stats().Executions)
		}
	})
}
