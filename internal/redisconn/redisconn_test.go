package redisconn_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
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
	return openWith(t, url, logs, redisconn.Options{})
}

// openWith opens url with o, logging to logs and retrying Redis at once
// after an error (RetryAfter 1 ns) unless o says otherwise.
func openWith(t *testing.T, url string, logs *testio.SyncBuffer, o redisconn.Options) *redisconn.Conn {
	t.Helper()
	o.Logger = zerolog.New(logs)
	if o.RetryAfter == 0 {
		o.RetryAfter = time.Nanosecond
	}
	c, err := redisconn.Open(context.Background(), url, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// probes returns a channel that receives the outcome of each background
// probe of c (true: Redis answered the PING).
func probes(c *redisconn.Conn) <-chan bool {
	ch := make(chan bool, 8)
	c.OnProbe(func(up bool) { ch <- up })
	return ch
}

func TestCommands(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		srv := redistest.StartKind(t, k)
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
		// The server refused nothing either (go-redis ignores a refused
		// handshake command, such as CLIENT SETINFO before Redis 7.2; the
		// server counts it), but the one NOSCRIPT of Swap's first EVALSHA,
		// which go-redis answers with EVAL.
		stats, err := c.Client().Info(ctx, "errorstats").Result()
		if err != nil || strings.Count(stats, "errorstat_") != 1 || !strings.Contains(stats, "errorstat_NOSCRIPT:count=1") {
			t.Errorf("%s %s answered errors to the connection's commands: %q, %v", k.Binary, srv.Version, stats, err)
		}
	})
}

// A killed Redis refuses connections: the probe after the first failed
// command fails too, so that is an outage, with exactly one warning; then
// every command fails fast until Redis is back, which one line says.
func TestDegradesWithOneWarningAndRecovers(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		srv := redistest.StartKind(t, k)
		ctx := context.Background()
		logs := &testio.SyncBuffer{}
		c := open(t, srv.URL(), logs)
		probed := probes(c)
		c.Set(ctx, "k", []byte("v"), time.Minute)

		srv.Stop()
		if _, ok := c.Get(ctx, "k"); ok {
			t.Fatal("Get succeeded with Redis down")
		}
		if up := <-probed; up {
			t.Fatal("the probe of a killed Redis says it answered")
		}
		for range 5 {
			if _, ok := c.Get(ctx, "k"); ok {
				t.Fatal("Get succeeded with Redis down")
			}
			c.Set(ctx, "k2", []byte("v"), time.Minute)
		}
		if _, _, err := c.Claim(ctx, "claim", "a", time.Minute); err == nil {
			t.Error("Claim with Redis down returned no error (the caller must decide alone)")
		}
		// The Get, the probe's PING, then 11 commands, each tried (RetryAfter
		// 1 ns) and failed.
		if c.Up() || c.Errors() != 13 {
			t.Errorf("up %v, errors %d after 13 failed commands", c.Up(), c.Errors())
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
			<-time.After(50 * time.Millisecond) // polling a restarted child process
		}
		if !c.Up() || strings.Count(logs.String(), "redis is back") != 1 {
			t.Errorf("up %v; logs:\n%s", c.Up(), logs.String())
		}
		if n := strings.Count(logs.String(), "redis unavailable"); n != 1 {
			t.Errorf("%d 'redis unavailable' lines over one outage, want 1:\n%s", n, logs.String())
		}
	})
}

// A slow reply is not an outage. Redis is paused (SIGSTOP: it accepts
// connections and answers nothing), so a command runs out of its time
// (OpTimeout) and misses; the probe it starts waits for a PING, and
// commands skip Redis meanwhile. Redis resumes before the probe's time is
// up: the PING answers, nothing is logged, and Redis is used again.
func TestSlowReplyIsNotAnOutage(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		srv := redistest.StartKind(t, k)
		ctx := context.Background()
		logs := &testio.SyncBuffer{}
		c := openWith(t, srv.URL(), logs, redisconn.Options{ProbeTimeout: time.Minute})
		probed := probes(c)
		c.Set(ctx, "k", []byte("v"), time.Minute)

		srv.Pause()
		if _, ok := c.Get(ctx, "k"); ok {
			t.Fatal("Get answered by a paused Redis")
		}
		if c.Errors() != 1 {
			t.Fatalf("errors %d after one timed-out command, want 1", c.Errors())
		}
		// The probe waits on the paused Redis: this command is not sent.
		if _, ok := c.Get(ctx, "k"); ok || c.Errors() != 1 {
			t.Fatalf("during the probe: Get found %v, errors %d; want a miss not sent (1 error)", ok, c.Errors())
		}
		srv.Resume()
		select {
		case up := <-probed:
			if !up {
				t.Fatalf("the probe failed although Redis resumed; logs:\n%s", logs.String())
			}
		case <-time.After(2 * time.Minute): // a failure bound: the probe gives up after 1 min
			t.Fatal("no probe outcome")
		}
		if b, ok := c.Get(ctx, "k"); !ok || string(b) != "v" {
			t.Fatalf("after the probe: Get = %q, %v; want v", b, ok)
		}
		if strings.Contains(logs.String(), "redis unavailable") || strings.Contains(logs.String(), "redis is back") || !c.Up() {
			t.Errorf("a slow reply was logged as an outage (up %v):\n%s", c.Up(), logs.String())
		}
		if c.Errors() != 1 {
			t.Errorf("errors %d, want 1 (the timed-out command)", c.Errors())
		}
	})
}

// A Redis that stays paused past the probe's time is down: one warning,
// then one line when it answers again.
func TestHungRedisIsAnOutage(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		srv := redistest.StartKind(t, k)
		ctx := context.Background()
		logs := &testio.SyncBuffer{}
		c := openWith(t, srv.URL(), logs, redisconn.Options{ProbeTimeout: 100 * time.Millisecond})
		probed := probes(c)
		c.Set(ctx, "k", []byte("v"), time.Minute)

		srv.Pause()
		if _, ok := c.Get(ctx, "k"); ok {
			t.Fatal("Get answered by a paused Redis")
		}
		if up := <-probed; up {
			t.Fatal("the probe of a paused Redis says it answered")
		}
		if c.Up() || strings.Count(logs.String(), "redis unavailable") != 1 {
			t.Fatalf("up %v after a failed probe; logs:\n%s", c.Up(), logs.String())
		}
		srv.Resume()
		if b, ok := c.Get(ctx, "k"); !ok || string(b) != "v" {
			t.Fatalf("after Resume: Get = %q, %v; want v", b, ok)
		}
		if !c.Up() || strings.Count(logs.String(), "redis is back") != 1 || strings.Count(logs.String(), "redis unavailable") != 1 {
			t.Errorf("up %v; logs:\n%s", c.Up(), logs.String())
		}
	})
}

func TestPasswordNeverLogged(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		srv := redistest.StartKind(t, k, "--requirepass", password)
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
	})
}

// Each failed command reaches Options.OnError (the Redis errors metric),
// as many times as Errors counts them.
func TestOnErrorCountsFailedCommands(t *testing.T) {
	srv := redistest.Start(t)
	var calls atomic.Int64
	c := openWith(t, srv.URL(), &testio.SyncBuffer{}, redisconn.Options{OnError: func() { calls.Add(1) }})
	probed := probes(c)
	ctx := context.Background()
	c.Set(ctx, "k", []byte("v"), time.Minute)
	if calls.Load() != 0 {
		t.Fatalf("OnError called %d times with Redis up", calls.Load())
	}
	srv.Stop()
	c.Set(ctx, "k", []byte("v"), time.Minute)
	<-probed
	for range 3 {
		c.Set(ctx, "k", []byte("v"), time.Minute)
	}
	if got := calls.Load(); got != 5 || got != c.Errors() {
		t.Errorf("OnError called %d times, Errors() = %d, after 5 failed commands (4 SET, 1 PING)", got, c.Errors())
	}
}

// Run sends a caller's script under the same rule as the Conn's own
// commands: a NOSCRIPT reply (a fresh server has no script cached) is no
// error; a failure counts for Run's user, and so does the probe it starts;
// while Redis is down Run returns ErrUnavailable without sending anything.
func TestRunFollowsTheRule(t *testing.T) {
	redistest.Each(t, func(t *testing.T, k redistest.Kind) {
		srv := redistest.StartKind(t, k)
		var mu sync.Mutex
		byUser := map[string]int{}
		logs := &testio.SyncBuffer{}
		c := openWith(t, srv.URL(), logs, redisconn.Options{RetryAfter: time.Hour,
			OnErrorOf: func(user string) { mu.Lock(); byUser[user]++; mu.Unlock() }})
		probed := probes(c)
		ctx := context.Background()
		script := redis.NewScript(`return redis.call('INCR', KEYS[1])`)
		run := func() (n int64, sent bool, err error) {
			err = c.Run(ctx, "limiter", func(ctx context.Context, rdb redis.Cmdable) (err error) {
				sent = true
				n, err = script.Run(ctx, rdb, []string{"n"}).Int64()
				return err
			})
			return n, sent, err
		}
		for want := int64(1); want <= 2; want++ {
			if n, _, err := run(); err != nil || n != want {
				t.Fatalf("Run = %d, %v; want %d", n, err, want)
			}
		}
		if c.Errors() != 0 {
			t.Fatalf("%d errors after the script's first EVALSHA (NOSCRIPT, then EVAL); want 0", c.Errors())
		}

		srv.Stop()
		if _, sent, err := run(); err == nil || !sent {
			t.Fatalf("Run on a killed Redis: sent %v, error %v; want sent and failed", sent, err)
		}
		if up := <-probed; up {
			t.Fatal("the probe of a killed Redis says it answered")
		}
		if _, sent, err := run(); !errors.Is(err, redisconn.ErrUnavailable) || sent {
			t.Fatalf("Run while down: sent %v, error %v; want ErrUnavailable, not sent", sent, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(byUser) != 1 || byUser["limiter"] != 2 || c.Errors() != 2 {
			t.Errorf("errors by user %v, Errors() %d; want limiter 2 (its script and the probe it started)", byUser, c.Errors())
		}
		if n := strings.Count(logs.String(), "redis unavailable"); n != 1 {
			t.Errorf("%d 'redis unavailable' lines, want 1:\n%s", n, logs.String())
		}
	})
}
