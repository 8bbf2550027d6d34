package tools

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math"
	"net"
	"strings"
	"syscall"
	"time"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clip"
	"github.com/dune-mcp/dune-mcp/schemas"
)

// toolError is a failure explained for the model: Msg is the whole text of
// the isError result (at most schemas.MaxMessageLen bytes, the bound of
// every message meant for the model), Kind a stable label for logs.
type toolError struct {
	Kind string
	Msg  string
}

func (e *toolError) Error() string { return e.Msg }

func newToolError(kind, format string, a ...any) *toolError {
	return &toolError{Kind: kind, Msg: bound(fmt.Sprintf(format, a...), schemas.MaxMessageLen)}
}

// bound folds the white space of s and cuts it to at most n bytes on a rune
// boundary, marking the cut.
func bound(s string, n int) string {
	return clip.Bytes(strings.Join(strings.Fields(s), " "), n)
}

// callSite tells explain which call failed, to phrase the advice.
type callSite struct {
	tool        string
	queryID     int64
	executionID string // set for execution endpoint calls
	// deadline is set when the call's own deadline (Config.CallTimeout)
	// expired; clientGone when the client cancelled the call (or its
	// context ended) first.
	deadline   time.Duration
	clientGone bool
	// requestKey is set when the call used a per-request Dune key (the
	// X-Dune-Api-Key header over HTTP) instead of the server's own.
	requestKey bool
	// executing is set when the request that failed was the one that runs
	// the query (POST …/execute).
	executing bool
}

// explain turns any failure of a tool call into a short actionable message.
func explain(err error, at callSite) *toolError {
	var te *toolError
	if errors.As(err, &te) {
		return te
	}
	var ws *waitStopped
	if errors.As(err, &ws) {
		// The cursor is not cut: without it the paid run is lost to the agent.
		return &toolError{Kind: "cancelled", Msg: "Stopped waiting: the call was cancelled. The run goes on (already paid for); next_page with this cursor picks it up: " + ws.cursor}
	}
	var ee *executeError
	if errors.As(err, &ee) {
		at.executing = true
		err = ee.err
	}
	var th *dune.ThrottledError
	if errors.As(err, &th) {
		return explainThrottled(th)
	}
	var ae *schemas.ArgError
	if errors.As(err, &ae) {
		return newToolError("bad_argument", "%s", ae.Msg)
	}
	var api *dune.APIError
	if errors.As(err, &api) {
		if at.executing {
			if te := explainExecute(api); te != nil {
				return te
			}
		}
		return explainAPI(api, at)
	}
	var me *dune.MismatchError
	if errors.As(err, &me) {
		return newToolError("mismatch", "Dune's answer did not match the request: it was for %s %s, not the requested %s (a proxy or cache between this server and Dune may be misrouting answers). Nothing from it was shown or cached; try again, and if it persists, check the network path to Dune.", me.Field, bound(me.Got, 300), bound(me.Want, 300))
	}
	var re *dune.ResultError
	if errors.As(err, &re) {
		return explainResult(re)
	}
	var ve *dune.ValidationError
	if errors.As(err, &ve) {
		return newToolError("bad_argument", "invalid %s: %s", ve.Field, bound(ve.Reason, 200))
	}
	if errors.Is(err, dune.ErrMemoryBudget) && !at.clientGone {
		return newToolError("busy", "This server is reading too many large answers from Dune at once (its memory budget, --max-upstream-memory / DUNE_MCP_MAX_UPSTREAM_MEMORY, stayed in use until this call's deadline). Try again shortly, or ask for less (smaller limit, fewer columns).")
	}
	ctxErr := errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
	switch {
	case at.clientGone && ctxErr:
		return newToolError("cancelled", "The call was cancelled by the client before Dune answered; nothing was fetched for it. Call again when ready.")
	case at.deadline > 0 && (ctxErr || isTimeout(err)):
		return newToolError("timeout", "Timed out after %s waiting for Dune (this server's per-call limit, --call-timeout / DUNE_MCP_CALL_TIMEOUT). Dune may be busy: try again in a minute; if it persists, ask for less (smaller limit, fewer columns, filters).", fmtWait(at.deadline))
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return newToolError("timeout", "Timed out waiting for Dune (one request took too long). Try again; if it persists, ask for less (smaller limit, fewer columns, or filters).")
	case errors.Is(err, context.Canceled):
		return newToolError("cancelled", "The request was cancelled before Dune answered.")
	case errors.Is(err, dune.ErrMissingAPIKey):
		return newToolError("missing_api_key", "%s", MissingKeyMessage)
	case errors.Is(err, dune.ErrBodyTooLarge):
		return newToolError("too_large", "Dune's answer exceeded the size guard. Ask for fewer rows (limit) or fewer columns.")
	case errors.Is(err, dune.ErrMalformedResponse):
		return newToolError("malformed", "Dune sent a malformed response. Try again in a moment.")
	}
	var ne *dune.NetError
	if errors.As(err, &ne) {
		if te := explainNet(ne); te != nil {
			return te
		}
	}
	return newToolError("upstream", "Fetching from Dune failed: %s. Try again in a moment.", bound(err.Error(), 200))
}

// explainNet explains the network failures another attempt would meet
// again (DNS, refused connection, TLS), which dune does not retry; nil for
// the others (resets, timeouts), which may pass.
func explainNet(e *dune.NetError) *toolError {
	const check = "check the network, a proxy, or --dune-base-url (DUNE_API_BASE_URL)."
	host := bound(e.Host, 80)
	var (
		dns  *net.DNSError
		name x509.HostnameError
		cert *tls.CertificateVerificationError
		ca   x509.UnknownAuthorityError
		bad  x509.CertificateInvalidError
	)
	switch {
	case errors.As(e, &dns) && !dns.IsTimeout:
		return newToolError("dns", "Cannot reach Dune at %s: the name does not resolve (DNS); %s", host, check)
	case errors.Is(e, syscall.ECONNREFUSED):
		return newToolError("connection_refused", "Cannot reach Dune at %s: connection refused (nothing listens there); %s", host, check)
	case errors.As(e, &name):
		return newToolError("tls", "Cannot reach Dune at %s: its TLS certificate is not valid for that host; %s", host, check)
	case errors.As(e, &cert) || errors.As(e, &ca) || errors.As(e, &bad):
		return newToolError("tls", "Cannot reach Dune at %s: TLS certificate not trusted (a proxy that intercepts TLS needs its CA installed; an expired one may mean a wrong clock); %s", host, check)
	case dune.TLSError(e):
		return newToolError("tls", "Cannot reach Dune at %s: the TLS handshake failed (is it https on a plain-http port?); %s", host, check)
	}
	return nil
}

// MissingKeyMessage explains a server started without a Dune key: the
// result of every tool call, and its startup warning (main.go).
const MissingKeyMessage = "No Dune API key is configured: set DUNE_API_KEY in this server's env in your MCP client config " +
	"(create a key at https://dune.com/settings/api), or start it with --demo to try sample data."

// fmtWait renders a wait for a message: "50s", "1m30s", "250ms".
func fmtWait(d time.Duration) string {
	if d >= time.Second {
		d = d.Round(100 * time.Millisecond)
	}
	return d.String()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// rejectedRequestKey explains a 401 for a key the client sent: the server's
// configuration is not the client's to change.
const rejectedRequestKey = "Dune rejected the API key sent in the X-Dune-Api-Key header (HTTP 401); send a valid key (create one at https://dune.com/settings/api)"

func explainAPI(e *dune.APIError, at callSite) *toolError {
	msg := bound(e.Message, 180)
	kind := string(e.Kind)
	switch e.Kind {
	case dune.KindInvalidKey:
		if at.requestKey {
			return newToolError(kind, "%s", rejectedRequestKey)
		}
		return newToolError(kind, "Dune rejected the API key (HTTP 401). Set DUNE_API_KEY to a valid key (dune.com → Settings → API) and restart the server, or send a valid per-request key.")
	case dune.KindPayment:
		return newToolError(kind, "Dune refused for credits (HTTP 402): %s. Fetch less (columns, filters, smaller limit) or raise the limits in your dune.com settings.", msg)
	case dune.KindCreditsPerRequest:
		return newToolError(kind, "This request would cost more than Dune's per-request credit cap (HTTP 402): %s. Ask for less: fewer columns, filters or a smaller limit.", msg)
	case dune.KindForbidden:
		return newToolError(kind, "Dune denied access (HTTP 403): %s.", msg)
	case dune.KindNotFound:
		if at.executionID != "" {
			return newToolError(kind, "Execution %s was not found on Dune (expired or unknown): %s. Call get_latest_result again.", at.executionID, msg)
		}
		return newToolError(kind, "Query %d not found, private to another account, or never run with these query_parameters (HTTP 404: %s). Check the id; a private query needs its owner's API key.", at.queryID, msg)
	case dune.KindRateLimited:
		if e.RetryAfter > 0 {
			return newToolError(kind, "Dune rate limit reached (HTTP 429). Retry after %d s.", int(math.Ceil(e.RetryAfter.Seconds())))
		}
		return newToolError(kind, "Dune rate limit reached (HTTP 429). Retry in about a minute.")
	case dune.KindPartialResult:
		if at.tool == schemas.NextPage {
			return newToolError(kind, "Dune only has a partial (truncated) result for this execution. Call get_latest_result with allow_partial_results=true, or narrow with columns/filters.")
		}
		return newToolError(kind, "The result is too large and Dune only has a partial (truncated) result. Call again with allow_partial_results=true, or narrow with columns/filters.")
	case dune.KindBadRequest:
		return newToolError(kind, "Dune rejected the request (HTTP 400): %s. Check filters, sort_by and column names.", msg)
	case dune.KindServer:
		return newToolError(kind, "Dune had a server error (HTTP %d). Try again shortly.", e.StatusCode)
	}
	return newToolError(kind, "Dune answered HTTP %d: %s.", e.StatusCode, msg)
}

// explainThrottled explains a request this server held back to keep the
// key under Dune's rate limit (--dune-plan, --dune-rpm-read/-write): nothing
// was sent, nothing was spent.
func explainThrottled(e *dune.ThrottledError) *toolError {
	what, also := "reads", ""
	if e.Class == dune.ClassWrite {
		what, also = "query runs", " Reading the existing result (without max_age_hours) is not affected."
	}
	per := "a minute"
	if e.Window != time.Minute {
		per = "per " + fmtWait(e.Window)
	}
	return newToolError("throttled", "Held back to stay under Dune's rate limit for this key (%d %s %s); the next slot is after this call's deadline. Nothing was fetched or spent. Retry after %d s.%s",
		e.Limit, what, per, int(math.Ceil(e.RetryAfter.Seconds())), also)
}

// explainExecute explains a refused run (POST …/execute); nil when the
// generic advice of explainAPI fits.
func explainExecute(e *dune.APIError) *toolError {
	msg := bound(e.Message, 110)
	kind := "execute_" + string(e.Kind)
	switch e.Kind {
	case dune.KindPayment, dune.KindCreditsPerRequest:
		return newToolError(kind, "Dune refused to run the query for credits (HTTP 402): %s. A run costs ~10 credits (medium) or 20 (large). Read the existing result without max_age_hours, or raise your limits on dune.com.", msg)
	case dune.KindRateLimited:
		wait := "about a minute"
		if e.RetryAfter > 0 {
			wait = fmt.Sprintf("%d s", int(math.Ceil(e.RetryAfter.Seconds())))
		}
		return newToolError(kind, "Dune's rate limit for running queries was reached (HTTP 429; the write class allows 15 runs a minute on the Free plan). Retry after %s; reading the existing result (without max_age_hours) is not affected.", wait)
	case dune.KindBadRequest:
		return newToolError(kind, "Dune refused to run the query (HTTP 400): %s. Check query_parameters: names must be the query's own, and parameters without a default must be given.", msg)
	case dune.KindForbidden:
		return newToolError(kind, "Dune does not allow running this query (HTTP 403): %s. The query may be archived, unsaved or not yours; read its latest result without max_age_hours.", msg)
	}
	return nil
}

func explainResult(e *dune.ResultError) *toolError {
	switch e.State {
	case dune.StateFailed:
		where := ""
		if e.Line > 0 {
			where = fmt.Sprintf(" at line %d, column %d", e.Line, e.Column)
		}
		if timedOut(e) {
			return newToolError("execution_timeout", "Execution %s FAILED: it hit Dune's 30-minute execution limit (%s). Make the query cheaper on dune.com (a shorter time range, fewer joins, pre-aggregated tables) before running it again.", e.ExecutionID, bound(e.Message, 120))
		}
		return newToolError("execution_failed", "Execution %s of the query FAILED%s: %s. Fix the query's SQL on dune.com and run it again.", e.ExecutionID, where, bound(e.Message, 170))
	case dune.StateCancelled:
		return newToolError("execution_cancelled", "Execution %s was CANCELLED and has no result. Run the query again: get_latest_result with max_age_hours=0 (costs credits), or on dune.com.", e.ExecutionID)
	case dune.StateExpired:
		return newToolError("execution_expired", "The result of execution %s has EXPIRED on Dune. Run the query again: get_latest_result with max_age_hours=0 (costs credits), or on dune.com.", e.ExecutionID)
	case dune.StatePending, dune.StateExecuting:
		return stillRunning(e.ExecutionID, e.State)
	}
	return newToolError("no_result", "Execution %s ended in state %s without a result.", e.ExecutionID, e.State)
}

// timedOut reports whether a FAILED execution hit Dune's execution time
// limit rather than an error in its SQL.
func timedOut(e *dune.ResultError) bool {
	text := strings.ToLower(e.Type + " " + e.Message)
	return strings.Contains(text, "timeout") || strings.Contains(text, "timed out") || strings.Contains(text, "maximum execution time")
}

func stillRunning(executionID string, state dune.State) *toolError {
	return newToolError("still_running", "Execution %s is still running (%s); its result is not ready. Try again in a few seconds.", executionID, state)
}
