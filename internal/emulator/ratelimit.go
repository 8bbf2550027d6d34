package emulator

import (
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
)

// RateLimits are per-key limits like Dune's (spec section 7): at most Read
// requests to the read endpoints (results, status, cancel) and Write to the
// write endpoint (execute) in any span of Window, counted per API key. A
// request beyond them gets 429 with Retry-After; every authenticated answer
// carries RateLimit-Policy (`"read";q=40;w=60`) and RateLimit
// (`"read";r=3;t=12`). Requests refused are not counted. 0 is no limit.
type RateLimits struct {
	Read, Write int
	// Window defaults to dune.RateWindow (a minute).
	Window time.Duration
}

// PlanRateLimits returns the limits of a Dune plan (dune.PlanQuota); ok is
// false for an unknown plan.
func PlanRateLimits(p dune.Plan) (RateLimits, bool) {
	q, ok := dune.PlanQuota(p)
	return RateLimits{Read: q.Read, Write: q.Write, Window: dune.RateWindow}, ok
}

// WithRateLimits makes the emulator enforce l (see RateLimits) on its
// clock (WithClock). Stats.RateLimited counts the 429s it answers.
func WithRateLimits(l RateLimits) Option {
	return func(c *config) {
		if l.Window <= 0 {
			l.Window = dune.RateWindow
		}
		c.rateLimits = l
	}
}

// maxRateLogs is the number of per-key logs above which idle ones are dropped.
const maxRateLogs = 10000

// admit applies the rate limits to an authenticated request: it sets the
// RateLimit headers and, beyond the limit, answers 429 and returns false.
func (s *Server) admit(w http.ResponseWriter, r *http.Request, key, endpoint string) bool {
	lim := s.cfg.rateLimits
	class := dune.ClassOf(r.Method, r.URL.Path)
	if endpoint == EndpointExecute {
		class = dune.ClassWrite
	}
	quota := lim.Read
	if class == dune.ClassWrite {
		quota = lim.Write
	}
	if quota <= 0 {
		return true
	}
	now := s.now()
	name := dune.KeyFingerprint(key) + ":" + string(class)
	s.mu.Lock()
	if s.rateLogs == nil || len(s.rateLogs) > maxRateLogs {
		s.rateLogs = map[string][]time.Time{}
	}
	log := s.rateLogs[name]
	i := 0
	for i < len(log) && !log[i].After(now.Add(-lim.Window)) { // counted until log[i]+Window
		i++
	}
	log = log[i:]
	ok := len(log) < quota
	if ok {
		log = append(log, now)
	} else {
		s.stats.RateLimited++
	}
	s.rateLogs[name] = log
	reset := 0
	if len(log) > 0 {
		reset = int(math.Ceil(log[0].Add(lim.Window).Sub(now).Seconds()))
	}
	s.mu.Unlock()

	h := w.Header()
	h.Set("RateLimit-Policy", fmt.Sprintf(`"%s";q=%d;w=%d`, class, quota, int(math.Ceil(lim.Window.Seconds()))))
	h.Set("RateLimit", fmt.Sprintf(`"%s";r=%d;t=%d`, class, quota-len(log), reset))
	if !ok {
		h.Set("Retry-After", strconv.Itoa(max(reset, 1)))
		writeError(w, http.StatusTooManyRequests, "Too Many Requests")
	}
	return ok
}
