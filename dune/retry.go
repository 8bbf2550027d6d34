package dune

import (
	"context"
	"errors"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Retry design. A small loop (Client.get) rather than cenkalti/backoff: the
// decision to wait depends on the answer itself (a Retry-After longer than
// MaxBackoff or than the time left must end the loop at once and hand the
// caller the 429 with RetryAfter set, not sleep it off), every attempt has
// its own timeout and usage accounting, and tests need an injectable sleep.
// Those fit in forty lines; backoff's RetryAfterError (whole seconds) and
// notify hooks would not make them shorter.
//
// What is retried: 429, 502, 503, 504, an attempt that timed out, and
// transient network failures (connection reset or aborted, EOF or a body
// cut short). Not retried: other 4xx (the request is wrong and stays wrong),
// 500 (Dune's 500s are deterministic answers to the request, e.g. a query id
// it cannot handle; repeating them only burns the rate limit), malformed
// bodies, the body-size guard, and DNS/TLS/refused-connection errors.

// retryableStatus reports whether an HTTP status is worth another attempt.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// transientNetError reports whether err (from sending a request or reading
// its body) is a transient network failure.
func transientNetError(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.ECONNABORTED) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, errTruncated) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	// net/http reports a server that closed a kept-alive connection this way.
	return strings.Contains(err.Error(), "server closed idle connection")
}

// maxRetryAfter bounds parsed Retry-After values (a day is already "give up").
const maxRetryAfter = 24 * time.Hour

// parseRetryAfter returns how long the response asks us to wait: the
// Retry-After header (delay-seconds or HTTP-date), else the reset time of an
// exhausted IETF RateLimit entry (`"policy";r=0;t=N`). ok is false when
// neither says anything usable.
func parseRetryAfter(h http.Header, now time.Time) (d time.Duration, ok bool) {
	if v := strings.TrimSpace(h.Get("Retry-After")); v != "" {
		if secs, err := strconv.ParseInt(v, 10, 64); err == nil && secs >= 0 {
			return clampWait(secs), true
		}
		if t, err := http.ParseTime(v); err == nil {
			d := t.Sub(now)
			if d < 0 {
				d = 0
			}
			return min(d, maxRetryAfter), true
		}
	}
	return parseRateLimitReset(h.Values("RateLimit"))
}

// parseRateLimitReset reads IETF RateLimit header fields such as
// `"read";r=0;t=30, "ip";r=990;t=1` and returns the longest reset time among
// the policies with no requests remaining: the most restrictive one applies.
func parseRateLimitReset(values []string) (time.Duration, bool) {
	var (
		best  int64
		found bool
	)
	for _, v := range values {
		for entry := range strings.SplitSeq(v, ",") {
			remaining, reset := int64(-1), int64(-1)
			for p := range strings.SplitSeq(entry, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(p), "=")
				if !ok {
					continue
				}
				n, err := strconv.ParseInt(strings.TrimSpace(val), 10, 64)
				if err != nil {
					continue
				}
				switch strings.TrimSpace(k) {
				case "r":
					remaining = n
				case "t":
					reset = n
				}
			}
			if remaining == 0 && reset >= 0 && (!found || reset > best) {
				best, found = reset, true
			}
		}
	}
	if !found {
		return 0, false
	}
	return clampWait(best), true
}

func clampWait(secs int64) time.Duration {
	if secs > int64(maxRetryAfter/time.Second) {
		return maxRetryAfter
	}
	return time.Duration(secs) * time.Second
}

// backoffFor returns the exponential backoff before attempt+1 (attempt >= 1):
// InitialBackoff·2^(attempt-1) capped at MaxBackoff, with "equal jitter"
// (half fixed, half random) so that waits never collapse to zero.
func (c *Client) backoffFor(attempt int) time.Duration {
	p := c.cfg.Retry
	d := p.MaxBackoff
	if shift := attempt - 1; shift < 62 {
		if f := float64(p.InitialBackoff) * math.Pow(2, float64(shift)); f < float64(p.MaxBackoff) {
			d = time.Duration(f)
		}
	}
	half := d / 2
	return half + c.jitter(d-half)
}

// sleepCtx waits for d or until ctx is done.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
