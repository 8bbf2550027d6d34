package clock

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestSleep(t *testing.T) {
	start := time.Now()
	if err := Sleep(context.Background(), 20*time.Millisecond); err != nil || time.Since(start) < 20*time.Millisecond {
		t.Errorf("slept %s, err %v", time.Since(start), err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(10 * time.Millisecond); cancel() }()
	start = time.Now()
	if err := Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) || time.Since(start) > time.Minute {
		t.Errorf("cancelled sleep: %v after %s", err, time.Since(start))
	}
	if err := Sleep(ctx, 0); !errors.Is(err, context.Canceled) {
		t.Errorf("zero sleep on an ended context: %v", err)
	}
	if err := Sleep(context.Background(), -time.Second); err != nil {
		t.Errorf("negative sleep: %v", err)
	}
	var c Clock = Wall{}
	before := time.Now()
	now := c.Now()
	if after := time.Now(); now.Before(before) || now.After(after) {
		t.Errorf("Wall.Now %v, not within [%v, %v]", now, before, after)
	}
}

func TestJump(t *testing.T) {
	start := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	c := NewJump(start)
	// Were Jump.Sleep to wait, the test would hang for an hour (and fail
	// at go test's timeout): no wall-clock margin is needed.
	if err := c.Sleep(context.Background(), time.Hour); err != nil || !c.Now().Equal(start.Add(time.Hour)) {
		t.Errorf("after Sleep(1h): %s, %v", c.Now(), err)
	}
	c.Advance(-time.Minute) // never backwards
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) || !c.Now().Equal(start.Add(time.Hour)) {
		t.Errorf("Sleep on an ended context: %s, %v", c.Now(), err)
	}
}
