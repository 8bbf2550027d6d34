package tools

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"github.com/dune-mcp/dune-mcp/metrics"
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/later"
)

// SharedCache is a page cache every replica reads and writes: bytes under
// string keys, each with a time to live. internal/redisconn's Conn is one
// (--redis-url). Its methods never fail a call: a miss or a dropped write
// costs at most a fetch from Dune.
type SharedCache interface {
	Get(ctx context.Context, key string) ([]byte, bool)
	Set(ctx context.Context, key string, value []byte, ttl time.Duration)
}

// The shared page cache's memory policy: an entry lives SharedTTL (less if
// Dune deletes the result sooner) and is at most MaxSharedEntry bytes once
// compressed (larger chunks stay in-process). The store bounds the total:
// deploy/ runs Valkey with maxmemory and allkeys-lru, so the least recently
// used chunks go first, as in the in-process cache.
const (
	SharedTTL      = time.Hour
	MaxSharedEntry = 1 << 20
)

// sharedKeyPrefix names dune-mcp's page entries in the store, versioned
// with their encoding.
const sharedKeyPrefix = "dune-mcp:page:1:"

// CacheStats counts page cache lookups of segments (a stitched page may
// look up several): found in this process, found in the shared cache, not
// found. For metrics.
type CacheStats struct {
	LocalHits, SharedHits, Misses int64
}

// Cache tiers, as a call's log line names them.
const (
	tierLocal  = metrics.LayerLocal
	tierShared = metrics.LayerShared
)

// pages is the page cache of a Toolset: the in-process LRU first, then the
// shared cache when there is one. Every chunk stored goes to both, so any
// replica serves rows any replica fetched; a chunk found only in the shared
// cache is kept in-process too.
type pages struct {
	local  *pageCache
	shared SharedCache // nil: in-process only

	localHits, sharedHits, misses atomic.Int64

	// pending is read-locked by each store set aside (storeAside) until
	// its page is in the local tier; lookups take it to wait for them all
	// (settle).
	pending sync.RWMutex
}

// settle waits until every page set aside (storeAside) is in the local
// tier.
func (p *pages) settle() {
	p.pending.Lock()
	//lint:ignore SA2001 an empty critical section: waiting for the stores is the point
	p.pending.Unlock()
}

func newPages(maxBytes int64, shared SharedCache) *pages {
	return &pages{local: newPageCache(maxBytes), shared: shared}
}

// stats returns the lookup counts so far.
func (p *pages) stats() CacheStats {
	return CacheStats{LocalHits: p.localHits.Load(), SharedHits: p.sharedHits.Load(), Misses: p.misses.Load()}
}

// get returns the chunk starting at row start of v and the tier it came from.
func (p *pages) get(v view, start int) (*chunk, string, bool) {
	if ch, ok := p.local.get(v, start); ok {
		p.localHits.Add(1)
		return ch, tierLocal, true
	}
	if p.shared != nil {
		if b, ok := p.shared.Get(context.Background(), sharedKey(v, start)); ok {
			if ch, err := decodeChunk(b, start); err == nil {
				p.sharedHits.Add(1)
				p.local.put(v, ch)
				return ch, tierShared, true
			}
		}
	}
	p.misses.Add(1)
	return nil, "", false
}

// putWeighed stores ch (non-empty), whose rows weigh rowsWeight
// (weighRows), under its view and start row in both tiers.
func (p *pages) putWeighed(v view, ch *chunk, rowsWeight int64) {
	p.local.putWeighed(v, ch, rowsWeight)
	p.putShared(v, ch)
}

// segment is a chunk to store and the weight of its rows.
type segment struct {
	ch     *chunk
	weight int64
}

// segments are what a page of ch, of which shown rows were shown, is
// cached as: the rows shown (for a re-read of the same page) and the rows
// after them (where the page's cursor continues), each weighed once
// (weighPrefix); one segment when all or none were shown.
func segments(ch *chunk, shown int) []segment {
	start, end := ch.Start, ch.Start+len(ch.Rows)
	n := len(ch.Rows)
	w := weighPrefix(ch.Rows)
	if shown <= 0 || shown >= n {
		return []segment{{ch, w[n]}}
	}
	return []segment{
		{ch.slice(start, start+shown), w[shown]},
		{ch.slice(start+shown, end), w[n] - w[shown]},
	}
}

// store caches a page of ch of which shown rows were shown (segments) in
// both tiers.
func (p *pages) store(v view, ch *chunk, shown int) {
	for _, s := range segments(ch, shown) {
		p.putWeighed(v, s.ch, s.weight)
	}
}

// storeAside is store once the call's answer is written (internal/later),
// or on a goroutine of its own where the transport does not say when that
// is. Lookups made from now on wait until the page is in this process's
// tier (settle), not for the shared tier's write, which follows; failed
// gets a panic of the store, which is no handler's to recover.
func (p *pages) storeAside(ctx context.Context, v view, ch *chunk, shown int, failed func(any)) {
	p.pending.RLock()
	local := func() []segment {
		defer p.pending.RUnlock()
		segs := segments(ch, shown)
		for _, s := range segs {
			p.local.putWeighed(v, s.ch, s.weight)
		}
		return segs
	}
	job := func() {
		defer func() {
			if r := recover(); r != nil {
				failed(r)
			}
		}()
		for _, s := range local() {
			p.putShared(v, s.ch)
		}
	}
	if !later.Do(ctx, job) {
		go job()
	}
}

// putShared stores ch in the shared tier, if there is one.
func (p *pages) putShared(v view, ch *chunk) {
	if p.shared == nil || len(ch.Rows) == 0 {
		return
	}
	ttl := SharedTTL
	if exp := ch.head.ExpiresAt; !exp.IsZero() {
		ttl = min(ttl, time.Until(exp))
	}
	if ttl < time.Second {
		return
	}
	b, err := encodeChunk(ch)
	if err != nil || len(b) > MaxSharedEntry {
		return
	}
	p.shared.Set(context.Background(), sharedKey(v, ch.Start), b, ttl)
}

// collect is pageCache.collect over both tiers; tier is "shared" when a
// segment came from the shared cache, else "local" (or "" for nil).
func (p *pages) collect(v view, offset, need int) (ch *chunk, tier string) {
	p.settle()
	ch = collectFrom(func(start int) (*chunk, bool) {
		seg, t, ok := p.get(v, start)
		if ok && tier != tierShared {
			tier = t
		}
		return seg, ok
	}, offset, need)
	if ch == nil {
		tier = ""
	}
	return ch, tier
}

// sharedKey is the shared cache's key of the chunk of v starting at row
// start: today's view key (key fingerprint, execution, columns, filters,
// sort, partial) with everything past the fingerprint hashed, so keys stay
// short and name no filter text.
func sharedKey(v view, start int) string {
	k := v.key(start)
	h := sha256.New()
	h.Write([]byte(k.exec))
	h.Write([]byte{0x1d})
	h.Write([]byte(k.params))
	sum := base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
	return sharedKeyPrefix + k.fp.String() + ":" + sum + ":" + strconv.Itoa(start)
}

// sharedChunk is a chunk as stored in the shared cache (JSON, deflated).
type sharedChunk struct {
	Head  *dune.Result
	Total int
	Start int
	Rows  []dune.Row
}

// deflaters and inflaters are reused: each holds about a megabyte of
// state that a chunk would otherwise allocate anew.
var (
	deflaters = sync.Pool{New: func() any {
		zw, _ := flate.NewWriter(nil, flate.BestSpeed) // a valid level never fails
		return zw
	}}
	inflaters = sync.Pool{New: func() any { return flate.NewReader(nil) }}
)

// encodeChunk returns ch deflated for the shared cache.
func encodeChunk(ch *chunk) ([]byte, error) {
	var buf bytes.Buffer
	zw := deflaters.Get().(*flate.Writer)
	defer deflaters.Put(zw)
	zw.Reset(&buf)
	if err := json.NewEncoder(zw).Encode(sharedChunk{Head: ch.head, Total: ch.Total, Start: ch.Start, Rows: ch.Rows}); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// errBadEntry is a shared entry that does not decode to the chunk asked for.
var errBadEntry = errors.New("malformed shared cache entry")

// decodeChunk reads an entry written by encodeChunk: numbers stay
// json.Number, as the Dune client decodes them. An entry that is not the
// chunk starting at start is refused.
func decodeChunk(b []byte, start int) (*chunk, error) {
	zr := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(zr)
	if err := zr.(flate.Resetter).Reset(bytes.NewReader(b), nil); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(io.LimitReader(zr, 64*MaxSharedEntry))
	dec.UseNumber()
	var sc sharedChunk
	if err := dec.Decode(&sc); err != nil {
		return nil, err
	}
	if sc.Head == nil || sc.Start != start || len(sc.Rows) == 0 || sc.Total < sc.Start+len(sc.Rows) {
		return nil, errBadEntry
	}
	return &chunk{head: sc.Head, Total: sc.Total, Start: sc.Start, Rows: sc.Rows}, nil
}
