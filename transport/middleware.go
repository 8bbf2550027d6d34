package transport

import (
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"dune-mcp/dune"
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
	host := u.Hostname()
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// bearerAuth requires "Authorization: Bearer <token>", compared in constant
// time, and strips the header before the MCP handler sees it.
func bearerAuth(token string, next http.Handler) http.Handler {
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dune-mcp"`)
			http.Error(w, "unauthorized: send Authorization: Bearer <DUNE_MCP_AUTH_TOKEN>", http.StatusUnauthorized)
			return
		}
		sum := sha256.Sum256([]byte(got))
		if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="dune-mcp", error="invalid_token"`)
			http.Error(w, "unauthorized: invalid bearer token", http.StatusUnauthorized)
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

// accessLog writes one line per request: method, path (never the query
// string, which may carry session ids), status, size and duration. Headers
// are never logged. /healthz is logged at debug.
func accessLog(l zerolog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		ev := l.Info()
		if r.URL.Path == "/healthz" {
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
