package redisconn_test

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/internal/redisconn"
	"github.com/dune-mcp/dune-mcp/internal/redistest"
	"github.com/dune-mcp/dune-mcp/internal/testio"
)

const password = "s3cret-redis-pass-9d2c"

func TestParseURL(t *testing.T) {
	for _, tc := range []struct {
		url    string
		addr   string
		db     int
		tls    bool
		errHas string
	}{
		{url: "redis://localhost:6379/0", addr: "localhost:6379"},
		{url: "redis://:" + password + "@cache:6380/3", addr: "cache:6380", db: 3},
		{url: "rediss://user:" + password + "@cache.example.com", addr: "cache.example.com:6379", tls: true},
		{url: "http://" + password + "@localhost:6379", errHas: "redis:// or rediss://"},
		{url: "redis://:" + password + "@/0", errHas: "missing host"},
		{url: "redis://:" + password + "@host/abc", errHas: "invalid database number"},
		{url: "redis://:" + password + "@host/1/2", errHas: "path"},
		{url: "redis://:" + password + "@host:6379/0#x", errHas: "fragment"},
		{url: "::" + password, errHas: "not a URL"},
	} {
		o, err := redisconn.ParseURL(tc.url)
		if tc.errHas != "" {
			if err == nil || !strings.Contains(err.Error(), tc.errHas) {
				t.Errorf("ParseURL(%q) = %v, want an error with %q", tc.url, err, tc.errHas)
			} else if strings.Contains(err.Error(), password) {
				t.Errorf("ParseURL error %q quotes the password", err)
			}
			continue
		}
		if err != nil || o.Addr != tc.addr || o.DB != tc.db || (o.TLSConfig != nil) != tc.tls {
			t.Errorf("ParseURL(%q) = %+v, %v; want addr %s db %d tls %v", tc.url, o, err, tc.addr, tc.db, tc.tls)
		}
	}
	if got := redisconn.Redacted("redis://:" + password + "@cache:6380/3"); strings.Contains(got, password) || !strings.Contains(got, "cache:6380") {
		t.Errorf("Redacted = %q", got)
	}
	if got := redisconn.Password("redis://u:" + password + "@cache"); got != password {
		t.Errorf("Password = %q", got)
	}
}

func open(t *testing.T, url string, logs *testio.SyncBuffer) *redisconn.Conn {
	t.Helper()
	c, err := redisconn.Open(context.Background(), url, redisconn.Options{Logger: zerolog.New(logs), RetryAfter: time.Nanosecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestCommands(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	c := open(t, srv.URL(), &testio.SyncBuffer{})

	if _, ok := c.Get(ctx, "k"); ok {
		t.Fatal("Get of a missing key found a value")
	}
	c.Set(ctx, "k", []byte("v1"), time.Minute)
	if b, ok := c.Get(ctx, "k"); !ok || string(b) != "v1" {
		t.Fatalf("Get = %q, %v; want v1", b, ok)
	}

	held, won, err := c.Claim(ctx, "claim", "a", time.Minute)
	if err != nil || !won || held != "a" {
		t.Fatalf("first Claim = %q, %v, %v; want a, won", held, won, err)
	}
	held, won, err = c.Claim(ctx, "claim", "b", time.Minute)
	if err != nil || won || held != "a" {
		t.Fatalf("second Claim = %q, %v, %v; want a held, lost", held, won, err)
	}
	if ok, err := c.Swap(ctx, "claim", "b", "c", time.Minute); err != nil || ok {
		t.Fatalf("Swap from a value not held = %v, %v; want false", ok, err)
	}
	if ok, err := c.Swap(ctx, "claim", "a", "c", time.Minute); err != nil || !ok {
		t.Fatalf("Swap a→c = %v, %v; want true", ok, err)
	}
	if b, _ := c.Get(ctx, "claim"); string(b) != "c" {
		t.Fatalf("after Swap: %q, want c", b)
	}
	if ok, err := c.Swap(ctx, "claim", "c", "", 0); err != nil || !ok {
		t.Fatalf("Swap c→delete = %v, %v", ok, err)
	}
	if _, ok := c.Get(ctx, "claim"); ok {
		t.Fatal("Swap to \"\" did not delete the key")
	}
	if _, won, _ := c.Claim(ctx, "ttl", "x", 50*time.Millisecond); !won {
		t.Fatal("Claim of a fresh key lost")
	}
	if c.Errors() != 0 || !c.Up() {
		t.Errorf("errors %d, up %v after a healthy session", c.Errors(), c.Up())
	}
}

func TestDegradesWithOneWarningAndRecovers(t *testing.T) {
	srv := redistest.Start(t)
	ctx := context.Background()
	logs := &testio.SyncBuffer{}
	c := open(t, srv.URL(), logs)
	c.Set(ctx, "k", []byte("v"), time.Minute)

	srv.Stop()
	for range 5 {
		if _, ok := c.Get(ctx, "k"); ok {
			t.Fatal("Get succeeded with Redis down")
		}
		c.Set(ctx, "k2", []byte("v"), time.Minute)
	}
	if _, _, err := c.Claim(ctx, "claim", "a", time.Minute); err == nil {
		t.Error("Claim with Redis down returned no error (the caller must decide alone)")
	}
	if c.Up() || c.Errors() < 10 {
		t.Errorf("up %v, errors %d after 11 failed commands", c.Up(), c.Errors())
	}
	if n := strings.Count(logs.String(), "redis unavailable"); n != 1 {
		t.Errorf("%d 'redis unavailable' lines, want exactly 1:\n%s", n, logs.String())
	}

	srv.Start() // empty: no persistence
	// go-redis's pool probes a dead address once a second in the
	// background: the first commands after the restart may still fail.
	deadline := time.Now().Add(10 * time.Second)
	for {
		c.Set(ctx, "k", []byte("again"), time.Minute)
		if b, ok := c.Get(ctx, "k"); ok && string(b) == "again" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis back for 10 s, yet Get still misses; logs:\n%s", logs.String())
		}
		<-time.After(50 * time.Millisecond)
	}
	if !c.Up() || !strings.Contains(logs.String(), "redis is back") {
		t.Errorf("up %v; logs:\n%s", c.Up(), logs.String())
	}
}

func TestPasswordNeverLogged(t *testing.T) {
	srv := redistest.Start(t, "--requirepass", password)
	logs := &testio.SyncBuffer{}
	c := open(t, "redis://:"+password+"@"+srv.Addr+"/0", logs)
	c.Set(context.Background(), "k", []byte("v"), time.Minute)
	if b, ok := c.Get(context.Background(), "k"); !ok || string(b) != "v" {
		t.Fatalf("with the right password: Get = %q, %v; logs:\n%s", b, ok, logs.String())
	}
	if !strings.Contains(logs.String(), "redis connected") {
		t.Errorf("no connect line:\n%s", logs.String())
	}

	// A wrong password: one warning that names the host, not the password.
	wrong := "wrong-" + password
	logs = &testio.SyncBuffer{}
	c = open(t, "redis://:"+wrong+"@"+srv.Addr+"/0", logs)
	if c.Up() || !strings.Contains(logs.String(), "redis unavailable") || !strings.Contains(logs.String(), srv.Addr) {
		t.Errorf("wrong password: up %v; logs:\n%s", c.Up(), logs.String())
	}
	if strings.Contains(logs.String(), wrong) {
		t.Errorf("logs quote the password:\n%s", logs.String())
	}
}

// Each failed command reaches Options.OnError (the Redis errors metric),
// as many times as Errors counts them.
func TestOnErrorCountsFailedCommands(t *testing.T) {
	srv := redistest.Start(t)
	var calls atomic.Int64
	c, err := redisconn.Open(context.Background(), srv.URL(), redisconn.Options{Logger: zerolog.Nop(), RetryAfter: time.Nanosecond,
		OnError: func() { calls.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	c.Set(ctx, "k", []byte("v"), time.Minute)
	if calls.Load() != 0 {
		t.Fatalf("OnError called %d times with Redis up", calls.Load())
	}
	srv.Stop()
	for range 3 {
		c.Set(ctx, "k", []byte("v"), time.Minute)
	}
	if got := calls.Load(); got == 0 || got != c.Errors() {
		t.Errorf("OnError called %d times, Errors() = %d, after 3 failed commands", got, c.Errors())
	}
}
