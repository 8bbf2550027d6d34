package execution

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
)

// Claims is a store of short records with an expiry that processes share
// (internal/redisconn's Conn on Redis, with --redis-url). A Runner keeps
// one record per Key in it, so that replicas asked to run the same query,
// parameters and key at once start one execution:
//
//   - "pending <token>" while one process sends the execute request (it
//     expires after executeTimeout, should that process die);
//   - "run <execution id> <submitted, Unix ms> <0|1 finished>" once Dune
//     answered, for stuckAfter, then keepFinished once seen finished.
//
// The process whose Claim wins runs the query; the others wait for the
// record to name the execution, then wait for that execution as if they
// had started it. A Claims that does not answer (an error) leaves each
// process to decide alone, as without Claims.
type Claims interface {
	// Claim stores value under key for ttl unless key holds a value; it
	// returns the value key holds afterwards and whether that is value.
	Claim(ctx context.Context, key, value string, ttl time.Duration) (held string, won bool, err error)
	// Swap replaces key's value old by value for ttl (value "": deletes
	// key), if key still holds old, and reports whether it did.
	Swap(ctx context.Context, key, old, value string, ttl time.Duration) (bool, error)
}

// claimPoll is how often a process waiting for another's execute request
// reads the record again.
const claimPoll = 100 * time.Millisecond

// claimPrefix names the records in the store.
const claimPrefix = "dune-mcp:run:1:"

// claimKey is the record name of key: a hash, so that parameters (which may
// be sensitive) never appear in the store's key space.
func claimKey(key Key) string {
	h := sha256.New()
	h.Write([]byte(strconv.FormatInt(key.QueryID, 10) + "\x1f" + key.Params + "\x1f" + key.Caller))
	return claimPrefix + base64.RawURLEncoding.EncodeToString(h.Sum(nil)[:18])
}

// shared is the outcome of claim: the execution to join (id, submitted,
// record), or the pending record this process holds while it runs the
// query itself ("" when Claims is off or did not answer).
type shared struct {
	id        string
	submitted time.Time
	record    string
	pending   string
}

// run is a parsed "run" record.
type run struct {
	id        string
	submitted time.Time
	finished  bool
}

func (x run) String() string {
	f := "0"
	if x.finished {
		f = "1"
	}
	return "run " + x.id + " " + strconv.FormatInt(x.submitted.UnixMilli(), 10) + " " + f
}

// parseRun parses a "run" record; ok is false for anything else.
func parseRun(s string) (x run, ok bool) {
	f := strings.Fields(s)
	if len(f) != 4 || f[0] != "run" || f[1] == "" || (f[3] != "0" && f[3] != "1") {
		return run{}, false
	}
	ms, err := strconv.ParseInt(f[2], 10, 64)
	if err != nil {
		return run{}, false
	}
	return run{id: f[1], submitted: time.UnixMilli(ms), finished: f[3] == "1"}, true
}

// claim decides, with the other processes, who runs key's query: it
// returns the execution to join (another process runs or ran it, not
// finished or submitted since since: as fresh as the caller asked), or the
// pending record this process now holds (then it runs the query), or
// neither (no Claims, or it did not answer: this process runs the query
// without a record). Like the execute request, it does not end with the
// caller's context: calls of this process with the same key wait on it.
func (r *Runner) claim(ctx context.Context, key Key, since time.Time) shared {
	if r.claims == nil {
		return shared{}
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), executeTimeout)
	defer cancel()
	name := claimKey(key)
	var tok [12]byte
	_, _ = rand.Read(tok[:])
	pending := "pending " + hex.EncodeToString(tok[:])
	for {
		held, won, err := r.claims.Claim(ctx, name, pending, executeTimeout)
		switch {
		case err != nil:
			return shared{} // the store does not answer: decide alone
		case won:
			return shared{pending: pending}
		}
		x, ok := parseRun(held)
		switch {
		case ok && (!x.finished || !x.submitted.Before(since)):
			return shared{id: x.id, submitted: x.submitted, record: held}
		case ok || !strings.HasPrefix(held, "pending "):
			// Finished before the caller decided (too old), or not a record
			// of ours: take its place.
			swapped, err := r.claims.Swap(ctx, name, held, pending, executeTimeout)
			if err != nil {
				return shared{}
			}
			if swapped {
				return shared{pending: pending}
			}
		default:
			// Another process is sending the execute request: wait for its
			// answer (its record expires should it die meanwhile, and then
			// Claim wins).
			if err := r.clock.Sleep(ctx, claimPoll); err != nil {
				return shared{}
			}
		}
	}
}

// settle replaces this process's pending record by the execution it
// started (id "": the execute request failed, so the record goes and the
// next process tries). It returns the record now stored ("" for none).
func (r *Runner) settle(key Key, pending, id string, submitted time.Time) string {
	if pending == "" {
		return ""
	}
	ctx := context.Background()
	if id == "" {
		_, _ = r.claims.Swap(ctx, claimKey(key), pending, "", 0)
		return ""
	}
	rec := run{id: id, submitted: submitted}.String()
	if ok, err := r.claims.Swap(ctx, claimKey(key), pending, rec, stuckAfter); err != nil || !ok {
		return ""
	}
	return rec
}

// finished is a shared record to mark finished.
type finished struct {
	key    Key
	record string
}

// finishShared marks a shared record finished, so that no process joins
// its execution as a fresh one after keepFinished.
func (r *Runner) finishShared(f finished) {
	x, ok := parseRun(f.record)
	if !ok || x.finished {
		return
	}
	x.finished = true
	_, _ = r.claims.Swap(context.Background(), claimKey(f.key), f.record, x.String(), keepFinished)
}
