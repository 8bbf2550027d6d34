// Package redisconn is dune-mcp's optional connection to Redis or Valkey
// (--redis-url), which replicas use to share their page cache, their
// executions and their rate limits: the URL's rules, the client's options,
// and the few commands dune-mcp sends, each of which degrades instead of
// failing. It is the one owner of the rule below: the rate limiter's
// scripts go through it too (Run), so that one outage is one warning.
//
// Redis is never needed to answer a tool call, and never holds one long:
// each command has a bounded time (OpTimeout), and a command that fails or
// times out is a miss for its caller, which goes on in-process, and counts
// as an error (Errors, Options.OnError).
//
// One failed command is not an outage: a reply can be late because this
// process or Redis is short of CPU for a moment. A failure starts a probe, a
// PING given ProbeTimeout to answer, in the background; while it runs,
// commands skip Redis. If the PING answers, nothing is logged and Redis is
// used again. If it does not, Redis is down: the Conn logs one warning, and
// for RetryAfter answers every read as a miss and drops every write; then it
// tries again, and logs one line when Redis is back.
package redisconn

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/rs/zerolog"
)

// Bounds of one Redis round trip. A shared cache that answers slower than
// this is worth less than fetching again, and a dead one must not hold a
// tool call.
const (
	DialTimeout = time.Second
	OpTimeout   = 500 * time.Millisecond
)

// DefaultRetryAfter is how long a Conn leaves Redis alone after an error.
const DefaultRetryAfter = 2 * time.Second

// DefaultProbeTimeout is how long the PING that decides whether a failed
// command means an outage may take: a Redis that does not answer a PING
// within it is down, one that does was only slow.
const DefaultProbeTimeout = 5 * time.Second

// ParseURL checks a --redis-url value: redis:// or rediss://
// [user[:password]@]host[:port][/db]. Its errors never quote the URL (it
// may hold a password).
func ParseURL(raw string) (*redis.Options, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil, errors.New("not a URL; want redis://[:password@]host[:port][/db] or rediss://")
	}
	if u.Scheme != "redis" && u.Scheme != "rediss" {
		return nil, errors.New("want a redis:// or rediss:// (TLS) URL")
	}
	if u.Hostname() == "" {
		return nil, errors.New("missing host; want redis://[:password@]host[:port][/db]")
	}
	if u.Fragment != "" {
		return nil, errors.New("a fragment (#...) is not allowed")
	}
	o, err := redis.ParseURL(u.String())
	if err != nil {
		// go-redis names the bad part (db number, query option), never the
		// password.
		return nil, errors.New(strings.TrimPrefix(err.Error(), "redis: "))
	}
	if o.DB < 0 {
		return nil, errors.New("the database number must be ≥ 0")
	}
	return o, nil
}

// Redacted returns raw with its password replaced by "xxxxx", for logs.
func Redacted(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "(unparsable)"
	}
	return u.Redacted()
}

// Password returns the password in raw ("" if none), so that a logger can
// scrub it.
func Password(raw string) string {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.User == nil {
		return ""
	}
	p, _ := u.User.Password()
	return p
}

// Options configure Open.
type Options struct {
	// Logger receives the down/up lines (and go-redis's own messages, at debug).
	Logger zerolog.Logger
	// RetryAfter is how long Redis is left alone after an error (default
	// DefaultRetryAfter).
	RetryAfter time.Duration
	// OnError, when set, is called for each failed command (the Redis
	// errors metric); it must not block.
	OnError func()
	// OnErrorOf, when set, is called too for each failed command, with its
	// user: "cache" (Get, Set), "executions" (Claim, Swap), Run's user
	// (the rate limiter's "ratelimit"), "ping" (Ping, Open's first PING);
	// a probe's PING counts for the user whose failed command started it.
	// It must not block.
	OnErrorOf func(user string)
	// OnProbe, when set, receives the outcome of each background probe
	// (true: Redis answered the PING), so that tests can wait for it; it
	// must not block.
	OnProbe func(up bool)
	// ProbeTimeout bounds the PING that tells an outage from a slow reply
	// (default DefaultProbeTimeout).
	ProbeTimeout time.Duration
}

// Conn is a Redis connection that degrades: see the package documentation.
// It is safe for concurrent use.
type Conn struct {
	rdb    *redis.Client
	prober *redis.Client // PING only: see probe
	log    zerolog.Logger
	retry  time.Duration
	where  string // the URL without its password, for logs

	errs      atomic.Int64
	onError   func()
	onErrorOf func(user string)
	probeTO   time.Duration

	mu      sync.Mutex
	down    bool
	retryAt time.Time
	probing bool // a probe runs: commands skip Redis until it ends
	// probed, when set (tests), receives each background probe's outcome.
	probed func(up bool)
}

// loggerOnce routes go-redis's global logger into the first Conn's logger.
var loggerOnce sync.Once

// Open connects to the Redis named by raw (see ParseURL) and pings it once.
// Only a bad URL is an error: a Redis that does not answer leaves the Conn
// down, with its one warning logged, to be tried again later.
func Open(ctx context.Context, raw string, o Options) (*Conn, error) {
	opts, err := ParseURL(raw)
	if err != nil {
		return nil, err
	}
	// RESP3 (the default) works with Redis ≥ 6 and Valkey; CLIENT SETINFO
	// (Redis ≥ 7.2) and maintenance notifications (Redis Enterprise) are
	// not sent, so Redis 7.0 and Valkey see no failed command.
	opts.DisableIdentity = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	if opts.DialTimeout == 0 {
		opts.DialTimeout = DialTimeout
	}
	if opts.ReadTimeout == 0 {
		opts.ReadTimeout = OpTimeout
	}
	if opts.WriteTimeout == 0 {
		opts.WriteTimeout = OpTimeout
	}
	if opts.DialerRetries == 0 {
		opts.DialerRetries = 1 // a Redis that refuses is down: no dial loop inside a command
	}
	if opts.MaxRetries == 0 {
		opts.MaxRetries = 1 // once, for a pooled connection Redis closed
	}
	if opts.TLSConfig != nil {
		opts.TLSConfig.MinVersion = tls.VersionTLS12
	}
	retry := o.RetryAfter
	if retry <= 0 {
		retry = DefaultRetryAfter
	}
	loggerOnce.Do(func() { redis.SetLogger(debugLogger{o.Logger.With().Str("source", "go-redis").Logger()}) })
	probeTO := o.ProbeTimeout
	if probeTO <= 0 {
		probeTO = DefaultProbeTimeout
	}
	// The probe has a connection of its own, with its own time bounds: the
	// commands' pool may hold connections stuck on a slow reply.
	popts := *opts
	popts.DialTimeout, popts.ReadTimeout, popts.WriteTimeout = probeTO, probeTO, probeTO
	popts.PoolSize, popts.MinIdleConns, popts.MaxRetries = 1, 0, -1
	c := &Conn{rdb: redis.NewClient(opts), prober: redis.NewClient(&popts), log: o.Logger, retry: retry, where: Redacted(raw),
		onError: o.OnError, onErrorOf: o.OnErrorOf, probeTO: probeTO, probed: o.OnProbe}
	if err := c.Ping(ctx); err == nil {
		c.log.Info().Str("redis", c.where).Msg("redis connected: page cache, executions and rate limits are shared")
	}
	return c, nil
}

// Ping asks Redis whether it answers within ProbeTimeout: the probe. A
// failed Ping is an outage (one warning), a successful one ends it.
func (c *Conn) Ping(ctx context.Context) error { return c.ping(ctx, "ping") }

// ping is Ping, counting a failure for user.
func (c *Conn) ping(ctx context.Context, user string) error {
	ctx, cancel := context.WithTimeout(ctx, c.probeTO)
	defer cancel()
	err := c.prober.Ping(ctx).Err()
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, redis.ErrClosed)) {
		return err
	}
	c.count(user, err)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.settle(err)
	return err
}

// Client is the underlying go-redis client, for tests that look at what
// the server holds; nil for a nil Conn (no --redis-url). Commands sent on
// it bypass the Conn's rule: dune-mcp's own go through Run.
func (c *Conn) Client() *redis.Client {
	if c == nil {
		return nil
	}
	return c.rdb
}

// Close closes the connections.
func (c *Conn) Close() error { return errors.Join(c.rdb.Close(), c.prober.Close()) }

// Errors is the number of failed Redis commands since Open (for metrics).
func (c *Conn) Errors() int64 { return c.errs.Load() }

// Up reports whether the last command reached Redis.
func (c *Conn) Up() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.down
}

// ErrUnavailable is the error of a command not sent because Redis is left
// alone: down, or being probed after a failed command.
var ErrUnavailable = errors.New("redis unavailable")

// begin returns the context of one command, or ErrUnavailable while Redis
// is left alone (down, or being probed).
func (c *Conn) begin(ctx context.Context) (context.Context, context.CancelFunc, error) {
	c.mu.Lock()
	skip := c.probing || c.down && time.Now().Before(c.retryAt)
	c.mu.Unlock()
	if skip {
		return nil, nil, ErrUnavailable
	}
	ctx, cancel := context.WithTimeout(ctx, OpTimeout+DialTimeout)
	return ctx, cancel, nil
}

// observe records a command's outcome. A failure counts as an error; while
// Redis is up it starts a probe (the outage rule: see the package
// documentation), while it is down it leaves Redis alone for RetryAfter
// more. The first success while down ends the outage. A command cut short
// by its caller (a cancelled tool call) says nothing about Redis. user
// names the command's user for OnErrorOf.
func (c *Conn) observe(user string, err error) {
	if errors.Is(err, redis.Nil) {
		err = nil
	}
	if err != nil && errors.Is(err, context.Canceled) {
		return
	}
	c.count(user, err)
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case err == nil || c.down:
		c.settle(err)
	case !c.probing:
		c.probing = true
		go c.probe(user)
	}
}

// count counts a failed command of user.
func (c *Conn) count(user string, err error) {
	if err == nil {
		return
	}
	c.errs.Add(1)
	if c.onError != nil {
		c.onError()
	}
	if c.onErrorOf != nil {
		c.onErrorOf(user)
	}
}

// settle records that Redis answered (err == nil) or is down, logging the
// first line of an outage and the line that ends it. c.mu is held.
func (c *Conn) settle(err error) {
	if err == nil {
		if c.down {
			c.down = false
			c.log.Info().Str("redis", c.where).Msg("redis is back: page cache, executions and rate limits are shared again")
		}
		return
	}
	c.retryAt = time.Now().Add(c.retry)
	if !c.down {
		c.down = true
		c.log.Warn().Str("redis", c.where).Str("error", err.Error()).
			Msg("redis unavailable: page cache, executions and rate limits are in-process only until it answers again")
	}
}

// probe decides, after a failed command, whether Redis is down: a PING
// that does not answer within ProbeTimeout is an outage; one that answers
// means the failure was a slow reply, and logs nothing above debug. A
// failed PING counts for user, whose failed command started the probe.
func (c *Conn) probe(user string) {
	err := c.ping(context.Background(), user)
	c.mu.Lock()
	c.probing = false
	probed := c.probed
	c.mu.Unlock()
	if err == nil {
		c.log.Debug().Str("redis", c.where).Msg("redis answered the probe after a failed command: not an outage")
	}
	if probed != nil {
		probed(err == nil)
	}
}

// Get returns the value of key; false when it has none, or when Redis does
// not answer.
func (c *Conn) Get(ctx context.Context, key string) ([]byte, bool) {
	ctx, cancel, err := c.begin(ctx)
	if err != nil {
		return nil, false
	}
	defer cancel()
	b, err := c.rdb.Get(ctx, key).Bytes()
	c.observe("cache", err)
	return b, err == nil
}

// Set stores value under key for ttl, best effort.
func (c *Conn) Set(ctx context.Context, key string, value []byte, ttl time.Duration) {
	ctx, cancel, err := c.begin(ctx)
	if err != nil {
		return
	}
	defer cancel()
	c.observe("cache", c.rdb.Set(ctx, key, value, ttl).Err())
}

// Claim stores value under key for ttl unless key holds a value (SET NX
// GET, Redis ≥ 7.0 and Valkey). It returns the value key holds afterwards
// and whether that is value. The error is non-nil when Redis did not
// answer: the caller decides alone.
func (c *Conn) Claim(ctx context.Context, key, value string, ttl time.Duration) (held string, won bool, err error) {
	ctx, cancel, err := c.begin(ctx)
	if err != nil {
		return "", false, err
	}
	defer cancel()
	old, err := c.rdb.SetArgs(ctx, key, value, redis.SetArgs{Mode: "NX", TTL: ttl, Get: true}).Result()
	c.observe("executions", err)
	switch {
	case errors.Is(err, redis.Nil):
		return value, true, nil
	case err != nil:
		return "", false, err
	}
	return old, false, nil
}

// swap replaces KEYS[1]'s value ARGV[1] by ARGV[2] with a TTL of ARGV[3]
// milliseconds, or deletes it when ARGV[2] is empty; it returns 1 if the
// key held ARGV[1].
var swap = redis.NewScript(`
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1`)

// Swap replaces key's value old by value (for ttl), or deletes key when
// value is "", provided key still holds old. It reports whether it did.
func (c *Conn) Swap(ctx context.Context, key, old, value string, ttl time.Duration) (bool, error) {
	ctx, cancel, err := c.begin(ctx)
	if err != nil {
		return false, err
	}
	defer cancel()
	n, err := swap.Run(ctx, c.rdb, []string{key}, old, value, max(ttl.Milliseconds(), 1)).Int()
	c.observe("executions", err)
	return n == 1, err
}

// Run sends a caller's own command or script (the rate limiter's Lua
// scripts), f, under the Conn's rule, as Get and the others are: while
// Redis is left alone it returns ErrUnavailable without calling f;
// otherwise f runs on the client with the command's bounded context, and
// its error, returned as is, counts as an error of user (OnErrorOf), starts
// the probe, or ends an outage exactly as a built-in command's would. So a
// caller never times, logs or skips Redis on its own: a non-nil error is
// only "do without Redis this time". f should send one command (a
// redis.Script's Run is one: its NOSCRIPT reply to EVALSHA, which it
// answers with EVAL, is no error) and return redis.Nil as Get does for
// "no value".
func (c *Conn) Run(ctx context.Context, user string, f func(ctx context.Context, rdb redis.Cmdable) error) error {
	ctx, cancel, err := c.begin(ctx)
	if err != nil {
		return err
	}
	defer cancel()
	err = f(ctx, c.rdb)
	c.observe(user, err)
	return err
}

// debugLogger feeds go-redis's own messages (pool and reconnect notices) to
// the logger at debug level: nothing but dune-mcp's lines reaches stderr.
type debugLogger struct{ l zerolog.Logger }

func (d debugLogger) Printf(_ context.Context, format string, v ...any) {
	d.l.Debug().Msg(fmt.Sprintf(format, v...))
}
