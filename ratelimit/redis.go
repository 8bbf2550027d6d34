package ratelimit

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/dune-mcp/dune-mcp/internal/redisconn"
)

// Redis is a Store shared by every replica connected to one Redis (or
// Valkey): each operation is one Lua script, atomic on the server, timed by
// the server's clock (TIME), so replicas' clocks do not matter. A bucket is
// one string key, the arrival time in microseconds, expiring once the
// bucket is full again.
//
// The scripts go through the process's one Redis connection
// (redisconn.Conn.Run), which owns the outage rule: its time bound, its
// error count (user "ratelimit"), its probe, its one warning. An error
// from Reserve or Hold only means "not through Redis this time"; the
// Limiter then limits in this process, and logs nothing.
type Redis struct {
	conn   *redisconn.Conn
	prefix string
}

// DefaultRedisPrefix is the prefix of the bucket keys.
const DefaultRedisPrefix = "dune-mcp:ratelimit:"

// NewRedis returns a Store on conn (the caller owns the connection); keys
// start with prefix (default DefaultRedisPrefix).
func NewRedis(conn *redisconn.Conn, prefix string) *Redis {
	if prefix == "" {
		prefix = DefaultRedisPrefix
	}
	return &Redis{conn: conn, prefix: prefix}
}

// redisUser names the rate limiter's commands in the Redis errors metric.
const redisUser = "ratelimit"

// reserveScript is Memory.Reserve in Lua. KEYS[1] the bucket; ARGV interval,
// tolerance, max wait, all in microseconds. Returns {taken (0/1), wait µs}.
var reserveScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local maxwait = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait < 0 then wait = 0 end
if wait > maxwait then return {0, wait} end
local new = tat + interval
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', math.ceil((new - now) / 1000) + 1000)
return {1, wait}
`)

// holdScript is Memory.Hold in Lua. KEYS[1] the bucket; ARGV[1] how far
// ahead of now, in microseconds.
var holdScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local want = now + tonumber(ARGV[1])
local tat = tonumber(redis.call('GET', KEYS[1])) or 0
if want > tat then
  redis.call('SET', KEYS[1], string.format('%d', want), 'PX', math.ceil((want - now) / 1000) + 1000)
end
return 1
`)

// maxMicros caps waits passed to the scripts (a day; Lua numbers are doubles).
const maxMicros = int64(24 * time.Hour / time.Microsecond)

func micros(d time.Duration) int64 { return min(max(d.Microseconds(), 0), maxMicros) }

// Reserve implements Store.
func (r *Redis) Reserve(ctx context.Context, key string, b Bucket, maxWait time.Duration) (time.Duration, bool, error) {
	var res []int64
	err := r.conn.Run(ctx, redisUser, func(ctx context.Context, rdb redis.Cmdable) (err error) {
		res, err = reserveScript.Run(ctx, rdb, []string{r.prefix + key}, micros(b.Interval), micros(b.Tolerance), micros(maxWait)).Int64Slice()
		return err
	})
	if err != nil {
		return 0, false, fmt.Errorf("ratelimit: redis reserve: %w", err)
	}
	if len(res) != 2 {
		return 0, false, fmt.Errorf("ratelimit: redis reserve: unexpected answer %v", res)
	}
	return time.Duration(res[1]) * time.Microsecond, res[0] == 1, nil
}

// Hold implements Store.
func (r *Redis) Hold(ctx context.Context, key string, ahead time.Duration) error {
	err := r.conn.Run(ctx, redisUser, func(ctx context.Context, rdb redis.Cmdable) error {
		return holdScript.Run(ctx, rdb, []string{r.prefix + key}, micros(ahead)).Err()
	})
	if err != nil {
		return fmt.Errorf("ratelimit: redis hold: %w", err)
	}
	return nil
}
