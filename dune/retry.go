package dune

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Retry design. A small loop (do, shared by every endpoint, each with its
// own decoder) rather than cenkalti/backoff: the decision to wait depends on
// the answer itself (a Retry-After longer than MaxBackoff or than the time
// left must end the loop at once and hand the caller the 429 with
// RetryAfter set, not sleep it off), every attempt has its own timeout and
// usage accounting, and tests need an injectable sleep.
// Those fit in forty lines; backoff's RetryAfterError (whole seconds) and
// notify hooks would not make them shorter.
//
// What is retried: 429, 502, 503, 504, an attempt that timed out, and
// transient network failures (connection reset or aborted, EOF or a body
// cut short). Not retried: other 4xx (the request is wrong and stays wrong),
// 500 (Dune's 500s are deterministic answers to the request, e.g. a query id
// it cannot handle; repeating them only burns the rate limit), malformed
// bodies, the body-size guard, and DNS/TLS/refused-connection errors.
// A request marked once (ExecuteQuery) retries only 429: see execute.go.

// call is one logical request to Dune.
type call struct {
	method string
	// path has no query string; it names the endpoint in errors and logs.
	path  string
	query url.Values
	// body is the JSON request body, nil for none.
	body []byte
	// maxBody is the size guard of the answer; tooLarge is advice appended
	// to the error when it trips.
	maxBody  int64
	tooLarge string
	// reserve is what is reserved in the client's memory budget before
	// the request is sent (0: the answer is small and not counted).
	reserve int64
	// once marks a request that must not run twice (it starts an
	// execution): only a 429, which Dune answers before doing anything, is
	// retried, and an error after which Dune may have acted on the request
	// wraps ErrMayHaveStarted.
	once bool
}

// where names the request in errors: "GET /api/v1/query/1/results".
func (cl *call) where() string { return cl.method + " " + cl.path }

// decoder reads a 2xx answer. decode parses the body; attempt classifies
// its errors (a body cut short is retried, a malformed one is not). check
// then accounts, scrubs and validates the value; its error is returned
// with the value and never retried.
type decoder[T any] struct {
	decode func(r io.Reader) (T, error)
	check  func(ctx context.Context, v T, key string, bodyBytes int64) error
	// keep hands the attempt's memory reservation over with the answer
	// (nil: the answer is not counted once decoded).
	keep func(v T, r *reservation)
}

// do runs the retry loop for one logical request.
func do[T any](ctx context.Context, c *Client, cl call, dec decoder[T]) (T, error) {
	var zero T
	key, ok := APIKeyFrom(ctx)
	if !ok {
		key = c.cfg.APIKey
	}
	if key == "" {
		return zero, ErrMissingAPIKey
	}
	u := c.base + cl.path
	if enc := cl.query.Encode(); enc != "" {
		u += "?" + enc
	}
	pol := c.cfg.Retry
	start := c.now()
	var lastErr error
	for n := 1; ; n++ {
		if err := ctx.Err(); err != nil {
			return zero, fmt.Errorf("dune: %s: %w", cl.where(), err)
		}
		remaining := func() time.Duration {
			left := pol.MaxElapsed - c.now().Sub(start)
			if dl, ok := ctx.Deadline(); ok { // the caller's deadline is wall-clock time
				left = min(left, time.Until(dl))
			}
			return left
		}
		left := remaining()
		if left <= 0 && lastErr != nil { // the wait used up the budget
			return zero, giveUp(lastErr, &cl, n-1, "retry budget spent")
		}
		var res *reservation
		if cl.reserve > 0 {
			var err error
			if res, err = c.reserve(ctx, &cl, left); err != nil {
				return zero, err
			}
			if left = remaining(); left <= 0 {
				res.release()
				return zero, fmt.Errorf("dune: %s: %w", cl.where(), context.DeadlineExceeded)
			}
		}
		timeout := c.attemptTimeout(n, left)
		v, retry, err := attempt(ctx, c, &cl, dec, u, key, timeout, res)
		// The answer's memory is handed over with it (budget.go): held until
		// it is collected; an answer that failed is garbage already.
		if err == nil && dec.keep != nil {
			dec.keep(v, res)
		} else {
			keep[struct{}](res, nil)
		}
		if cl.once {
			retry.ok = retry.ok && retry.status == http.StatusTooManyRequests
			if err != nil && !retry.ok && !retry.nothingRan() {
				err = fmt.Errorf("%w (%w)", err, ErrMayHaveStarted)
			}
		}
		if err == nil || !retry.ok {
			return v, err
		}
		lastErr = err
		if ctx.Err() != nil {
			return zero, fmt.Errorf("dune: %s: %w", cl.where(), ctx.Err())
		}
		if n >= pol.MaxAttempts {
			return zero, giveUp(err, &cl, n, "no attempts left")
		}
		wait := c.backoffFor(n)
		if retry.hasAfter {
			if retry.after > pol.MaxBackoff {
				return zero, giveUp(err, &cl, n, "Retry-After exceeds the longest wait")
			}
			wait = max(wait, retry.after)
		}
		if elapsed := c.now().Sub(start); elapsed+wait > pol.MaxElapsed {
			return zero, giveUp(err, &cl, n, "retry budget spent")
		}
		c.log.Debug().Str("method", cl.method).Str("endpoint", cl.path).Int("attempt", n).Dur("wait", wait).AnErr("reason", err).Msg("dune retry")
		if err := c.sleep(ctx, wait); err != nil {
			return zero, fmt.Errorf("dune: %s: %w", cl.where(), err)
		}
	}
}

// reserve waits for cl.reserve bytes of the memory budget, at most for
// left (the call's remaining budget) and until ctx ends.
func (c *Client) reserve(ctx context.Context, cl *call, left time.Duration) (*reservation, error) {
	wctx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	got, err := c.mem.acquire(wctx, cl.reserve)
	if err != nil {
		if errors.Is(ctx.Err(), context.Canceled) {
			return nil, fmt.Errorf("dune: %s: %w", cl.where(), ctx.Err())
		}
		return nil, fmt.Errorf("dune: %s: %w", cl.where(), err)
	}
	return &reservation{b: c.mem, held: got}, nil
}

// MinAttemptTimeout is the shortest timeout the schedule gives an attempt
// that is not the last one (see attemptTimeout).
const MinAttemptTimeout = time.Second

// attemptTimeout is the per-attempt timeout schedule. left is what remains
// of the call's budget: the smaller of what Retry.MaxElapsed leaves and the
// time to the context's deadline. An attempt that may be followed by
// another gets at most half of left, so one stalled connection (a hang, a
// body that drips) cannot eat the whole budget: the other half is kept for
// the backoff and at least one more attempt. The last attempt
// (Retry.MaxAttempts), and any attempt when half of left would be under
// MinAttemptTimeout, gets all of left. RequestTimeout caps every attempt.
//
// With the defaults (RequestTimeout 60 s, MaxElapsed 45 s, 4 attempts) and
// no earlier deadline, the attempts get at most 22.5 s, then half of what
// is left after each failure and its backoff (about 11 s, 5 s), and the
// fourth whatever remains.
func (c *Client) attemptTimeout(n int, left time.Duration) time.Duration {
	t := min(c.cfg.RequestTimeout, left)
	if n < c.cfg.Retry.MaxAttempts && left/2 >= MinAttemptTimeout {
		t = min(t, left/2)
	}
	return t
}

// giveUp returns the last error of a retry loop. An *APIError is returned as
// is (its RetryAfter tells the caller when to come back); other errors say
// how many attempts were made.
func giveUp(err error, cl *call, attempts int, why string) error {
	var ae *APIError
	if errors.As(err, &ae) {
		return err
	}
	if attempts == 1 {
		return err
	}
	return fmt.Errorf("dune: %s failed after %d attempts (%s): %w", cl.where(), attempts, why, err)
}

// retryInfo is what one attempt tells the loop.
type retryInfo struct {
	ok       bool          // worth another attempt
	hasAfter bool          // the answer said how long to wait
	after    time.Duration // that wait
	status   int           // the HTTP status, 0 without an answer
	unsent   bool          // the request never left: a bad URL or a failed dial
}

// nothingRan reports whether the request certainly had no effect: it never
// left, or Dune refused it (4xx).
func (r retryInfo) nothingRan() bool {
	return r.unsent || (r.status >= 400 && r.status < 500)
}

// attempt sends one request, with its own timeout, and decodes its answer.
func attempt[T any](ctx context.Context, c *Client, cl *call, dec decoder[T], u, key string, timeout time.Duration, res *reservation) (T, retryInfo, error) {
	var zero T
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if res != nil {
		res.ctx = actx // a body that outgrows its reservation waits at most for the attempt
	}
	var reqBody io.Reader
	if cl.body != nil {
		reqBody = bytes.NewReader(cl.body)
	}
	req, err := http.NewRequestWithContext(actx, cl.method, u, reqBody)
	if err != nil {
		// Only a bad BaseURL gets here; the message names the base, not the query.
		return zero, retryInfo{unsent: true}, fmt.Errorf("dune: bad base URL %q: %w", c.base, errors.Unwrap(err))
	}
	req.Header.Set("X-Dune-Api-Key", key)
	req.Header.Set("Accept", "application/json")
	if cl.body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", c.cfg.UserAgent)

	where := cl.where()
	usage := UsageFrom(ctx)
	if usage != nil {
		usage.Requests.Add(1)
	}
	began := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		unsent := dialFailed(err)
		if ctx.Err() != nil {
			return zero, retryInfo{unsent: unsent}, fmt.Errorf("dune: %s: %w", where, ctx.Err())
		}
		if actx.Err() != nil {
			return zero, retryInfo{ok: true, unsent: unsent}, fmt.Errorf("dune: %s: attempt timed out after %s: %w", where, timeout, actx.Err())
		}
		inner := err
		var ue *url.Error
		if errors.As(err, &ue) { // its text repeats the whole URL
			inner = ue.Err
		}
		c.log.Debug().Str("method", cl.method).Str("endpoint", cl.path).Err(inner).Dur("duration", time.Since(began)).Msg("dune request failed")
		return zero, retryInfo{ok: transientNetError(inner), unsent: unsent}, &NetError{Host: req.URL.Host, Where: where, Err: inner}
	}
	body := &bodyReader{r: resp.Body, max: cl.maxBody, res: res}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(body, 4<<10)) // let the connection be reused
		resp.Body.Close()
		if usage != nil {
			usage.Bytes.Add(body.n)
		}
		c.log.Debug().Str("method", cl.method).Str("endpoint", cl.path).Int("status", resp.StatusCode).Int64("bytes", body.n).Dur("duration", time.Since(began)).Msg("dune request")
	}()
	status := resp.StatusCode

	if status < 200 || status > 299 {
		after, hasAfter := parseRetryAfter(resp.Header, c.now())
		ae := c.apiError(resp, body, cl.path, key)
		ae.RetryAfter = after
		return zero, retryInfo{ok: retryableStatus(status), hasAfter: hasAfter, after: after, status: status}, ae
	}

	v, err := dec.decode(body)
	if err != nil {
		switch {
		case ctx.Err() != nil:
			return zero, retryInfo{status: status}, fmt.Errorf("dune: %s: %w", where, ctx.Err())
		case errors.Is(body.err, ErrBodyTooLarge):
			return zero, retryInfo{status: status}, fmt.Errorf("dune: %s: %w (limit %d bytes%s)", where, ErrBodyTooLarge, cl.maxBody, cl.tooLarge)
		case errors.Is(body.err, ErrMemoryBudget):
			return zero, retryInfo{status: status}, fmt.Errorf("dune: %s: reading body after %d bytes: %w", where, body.n, body.err)
		case actx.Err() != nil:
			return zero, retryInfo{ok: true, status: status}, fmt.Errorf("dune: %s: attempt timed out after %s while reading the body: %w", where, timeout, actx.Err())
		case body.err != nil:
			return zero, retryInfo{ok: transientNetError(body.err), status: status}, fmt.Errorf("dune: %s: reading body after %d bytes: %w", where, body.n, body.err)
		default:
			return zero, retryInfo{ok: errors.Is(err, errTruncated), status: status}, fmt.Errorf("dune: %s: %w", where, err)
		}
	}
	return v, retryInfo{status: status}, dec.check(ctx, v, key, body.n)
}

// dialFailed reports whether err says the connection was never made, so
// nothing was sent.
func dialFailed(err error) bool {
	var oe *net.OpError
	return errors.As(err, &oe) && oe.Op == "dial"
}

// retryableStatus reports whether an HTTP status is worth another attempt.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// transientNetError reports whether err (from sending a request or reading
// its body) is a transient network failure. A name that does not resolve, a
// refused connection and TLS failures are not: they last until the network
// or the configuration changes, and retrying them only delays the advice.
func transientNetError(err error) bool {
	if err == nil || permanentNetError(err) {
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

// permanentNetError reports a network failure that another attempt would
// meet again: DNS (unless it timed out), a refused connection, TLS.
func permanentNetError(err error) bool {
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return !dns.IsTimeout
	}
	return errors.Is(err, syscall.ECONNREFUSED) || TLSError(err)
}

// TLSError reports whether err is a TLS failure: a certificate not trusted
// or not valid for the host, or a server that does not speak TLS.
func TLSError(err error) bool {
	var (
		cv  *tls.CertificateVerificationError
		rh  tls.RecordHeaderError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		alt tls.AlertError
	)
	return errors.As(err, &cv) || errors.As(err, &rh) || errors.As(err, &ua) ||
		errors.As(err, &he) || errors.As(err, &ci) || errors.As(err, &alt) ||
		// net/http's text for a RecordHeaderError that looks like HTTP.
		strings.Contains(err.Error(), "server gave HTTP response to HTTPS client")
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
