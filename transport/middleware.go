package transport

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/loopback"
)

// checkOrigin rejects browser requests from foreign origins (DNS-rebinding
// and cross-site protection) with 403. Requests without an Origin header
// (every non-browser client) pass, as do http(s) origins on localhost,
// 127.0.0.1 or [::1] at any port, and the allow-list.
func checkOrigin(allowed []string, next http.Handler) http.Handler {
	allow := make(map[string]bool, len(allowed))
	for _, o := range allowed {
		allow[strings.ToLower(o)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if origin != "" && !originAllowed(origin, allow) {
			http.Error(w, "forbidden: origin not allowed", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func originAllowed(origin string, allow map[string]bool) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	if allow[strings.ToLower(u.Scheme+"://"+u.Host)] {
		return true
	}
	return loopback.Host(u.Hostname())
}

// bearerAuth requires "Authorization: Bearer <token>", compared in constant
// time, and strips the header before the MCP handler sees it.
func bearerAuth(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dune-mcp"`)
			http.Error(w, "unauthorized: this server needs its bearer token: "+sendToken, http.StatusUnauthorized)
			return
		}
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dune-mcp", error="invalid_token"`)
			http.Error(w, "unauthorized: invalid bearer token: "+sendToken, http.StatusUnauthorized)
			return
		}
		r.Header.Del("Authorization")
		next.ServeHTTP(w, r)
	})
}

func bearerToken(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// requestKey moves a client's X-Dune-Api-Key header into the request
// context (dune.WithAPIKey) when accepted, and always removes the header so
// nothing downstream can log it.
func requestKey(accept bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := strings.TrimSpace(r.Header.Get(APIKeyHeader))
		r.Header.Del(APIKeyHeader)
		if accept && key != "" {
			r = r.WithContext(dune.WithAPIKey(r.Context(), key))
		}
		next.ServeHTTP(w, r)
	})
}

// limitBody caps request bodies: 413 when Content-Length says too much,
// and a MaxBytesReader for bodies of unknown length.
func limitBody(limit int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > limit {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, limit)
		}
		next.ServeHTTP(w, r)
	})
}

// dropCancellations answers every notifications/cancelled posted to the
// streamable HTTP endpoint with 202 Accepted and passes it no further (a
// JSON-RPC batch loses its cancellations; the rest goes on).
//
// The endpoint is stateless: every client's requests run in the same empty
// session, where mcp-go files in-flight calls by request id alone, so one
// client's cancellation would cancel another client's call with that id.
// Over streamable HTTP a client cancels by aborting its HTTP request, which
// ends the request context the tool call runs on. SSE sessions have their own
// ids, so cancellation there stays per session and is left alone.
func dropCancellations(l zerolog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Body == nil {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
				return
			}
			http.Error(w, "reading the request body failed", http.StatusBadRequest)
			return
		}
		kept, dropped := withoutCancellations(body)
		if dropped > 0 {
			l.Debug().Int("dropped", dropped).Msg("ignored notifications/cancelled on streamable HTTP: clients cancel by aborting the HTTP request")
		}
		if kept == nil {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(kept))
		r.ContentLength = int64(len(kept))
		next.ServeHTTP(w, r)
	})
}

// withoutCancellations returns body without its notifications/cancelled
// messages (nil if nothing else is left) and how many it removed. Bodies it
// cannot parse are returned unchanged for the MCP handler to reject.
func withoutCancellations(body []byte) (kept []byte, dropped int) {
	if !bytes.Contains(body, []byte(mcp.MethodNotificationCancelled)) {
		return body, 0
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case len(trimmed) == 0:
		return body, 0
	case trimmed[0] == '{':
		if isCancellation(trimmed) {
			return nil, 1
		}
		return body, 0
	case trimmed[0] == '[':
		var batch []json.RawMessage
		if json.Unmarshal(trimmed, &batch) != nil {
			return body, 0
		}
		rest := batch[:0]
		for _, msg := range batch {
			if isCancellation(msg) {
				dropped++
			} else {
				rest = append(rest, msg)
			}
		}
		switch {
		case dropped == 0:
			return body, 0
		case len(rest) == 0:
			return nil, dropped
		}
		kept, err := json.Marshal(rest)
		if err != nil {
			return body, 0
		}
		return kept, dropped
	}
	return body, 0
}

func isCancellation(msg []byte) bool {
	var m struct {
		Method string `json:"method"`
	}
	return json.Unmarshal(msg, &m) == nil && m.Method == string(mcp.MethodNotificationCancelled)
}

// accessLog writes one line per request: method, path (never the query
// string, which may carry session ids), status, size and duration. Headers
// are never logged. /healthz is logged at debug.
func accessLog(l zerolog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		ev := l.Info()
		if r.URL.Path == PathHealth {
			ev = l.Debug()
		}
		if sw.status == 0 {
			sw.status = http.StatusOK
		}
		ev.Str("method", r.Method).Str("path", r.URL.Path).Int("status", sw.status).
			Int64("bytes", sw.bytes).Dur("duration", time.Since(start)).
			Str("remote", r.RemoteAddr).Msg("http")
	})
}

// statusWriter records the status and size of a response. It keeps
// streaming working: Flush is forwarded and Unwrap serves
// http.ResponseController.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(p)
	w.bytes += int64(n)
	return n, err
}

// Flush implements http.Flusher.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the wrapped writer (for http.ResponseController).
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
