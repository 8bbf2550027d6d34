package transport

import (
	"context"
	"encoding/json"
	"errors"
	"log"
	"net"
	"net/http"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"github.com/dune-mcp/dune-mcp/logging"
)

// HTTP defaults.
const (
	DefaultMaxBodyBytes      = 1 << 20
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	sseKeepAlive             = 25 * time.Second
)

// HTTPConfig configures the HTTP transport.
type HTTPConfig struct {
	// AuthToken, when set, is required as "Authorization: Bearer <token>"
	// on every MCP endpoint.
	AuthToken string
	// AllowedOrigins are browser origins (lower-case scheme://host[:port])
	// accepted besides localhost, 127.0.0.1 and [::1] on any port.
	AllowedOrigins []string
	// AcceptRequestKeys lets clients send their own Dune key in the
	// X-Dune-Api-Key header; it is used for that request only. When false
	// (demo mode) the header is ignored.
	AcceptRequestKeys bool
	// MaxBodyBytes limits a request body, default DefaultMaxBodyBytes.
	MaxBodyBytes int64
	// ReadHeaderTimeout and IdleTimeout tune the http.Server.
	ReadHeaderTimeout, IdleTimeout time.Duration
	// MaxStreams caps the SSE and GET /mcp streams open at once, default
	// DefaultMaxStreams; beyond it a stream is refused with 503 and
	// Retry-After.
	MaxStreams int
	// DrainTimeout bounds the wait for in-flight tool calls at shutdown,
	// default DefaultDrainTimeout.
	DrainTimeout time.Duration
	// Health is extra fields for the /healthz body (e.g. version, demo).
	Health map[string]any
}

// HTTPHandler is the HTTP face of a Server: an http.Handler serving /mcp,
// /sse, /message and /healthz, and answering the OAuth discovery paths
// with "no OAuth here" (oauth.go).
type HTTPHandler struct {
	http.Handler
	s          *Server
	sse        *server.SSEServer
	streamable *server.StreamableHTTPServer
}

// HTTP endpoint paths.
const (
	PathMCP     = "/mcp"     // streamable HTTP
	PathSSE     = "/sse"     // legacy SSE: the event stream
	PathMessage = "/message" // legacy SSE: the client's posts
	PathHealth  = "/healthz" // liveness, without authentication
)

// endpoints lists the paths served, for the startup log.
var endpoints = []string{PathMCP, PathSSE, PathMessage, PathHealth}

// NewHTTPHandler builds the HTTP handler of s.
func (s *Server) NewHTTPHandler(cfg HTTPConfig) *HTTPHandler {
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = DefaultMaxBodyBytes
	}
	streamable := server.NewStreamableHTTPServer(s.mcp,
		server.WithStateLess(true),
		server.WithStreamableHTTPLogger(logging.Slog(s.log, false)),
	)
	// The SSE server routes by path itself, so it is told the mux's paths.
	sse := server.NewSSEServer(s.mcp,
		server.WithKeepAliveInterval(sseKeepAlive),
		server.WithUseFullURLForMessageEndpoint(false),
		server.WithSSEEndpoint(PathSSE),
		server.WithMessageEndpoint(PathMessage),
	)

	guard := func(h http.Handler) http.Handler {
		h = limitBody(cfg.MaxBodyBytes, h)
		h = requestKey(cfg.AcceptRequestKeys, h)
		if cfg.AuthToken != "" {
			h = bearerAuth(cfg.AuthToken, h)
		}
		return checkOrigin(cfg.AllowedOrigins, h)
	}
	streams := newStreamLimit(cfg.MaxStreams)
	mux := http.NewServeMux()
	mux.Handle(PathMCP, guard(streams.wrap(dropCancellations(s.log, streamable))))
	mux.Handle(PathSSE, guard(streams.wrap(s.sse.stream(sse))))
	mux.Handle(PathMessage, guard(sse))
	mux.Handle(PathHealth, health(cfg.Health))
	oauth := noOAuth(cfg.AuthToken != "")
	for _, p := range oauthPaths {
		mux.Handle(p, oauth)
		mux.Handle(p+"/", oauth)
	}
	mux.Handle("/", http.NotFoundHandler())

	return &HTTPHandler{
		Handler:    accessLog(s.log, mux),
		s:          s,
		sse:        sse,
		streamable: streamable,
	}
}

// CloseSessions ends every open SSE stream and streamable HTTP session.
func (h *HTTPHandler) CloseSessions(ctx context.Context) {
	h.sse.CloseSessions()
	_ = h.streamable.Shutdown(ctx)
}

// ServeHTTP serves MCP over HTTP on ln until ctx is cancelled, then shuts
// down (shutdown.go): it stops accepting connections, lets tool calls in
// flight finish within cfg.DrainTimeout and answers the rest with
// ShuttingDownMessage, waits for the answers queued on SSE streams to be
// written, closes the streams and connections, and returns nil. It returns
// an error only if serving failed.
func (s *Server) ServeHTTP(ctx context.Context, ln net.Listener, cfg HTTPConfig) error {
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = DefaultIdleTimeout
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = DefaultDrainTimeout
	}
	h := s.NewHTTPHandler(cfg)
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          log.New(logging.StdLogWriter(s.log.With().Str("component", "http").Logger()), "", 0),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	s.log.Info().Str("transport", "http").Str("addr", ln.Addr().String()).
		Bool("auth", cfg.AuthToken != "").
		Strs("endpoints", endpoints).
		Msg("listening")

	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	case <-ctx.Done():
	}

	// Stop accepting connections and close the idle ones; the connections
	// of calls in flight stay open until the calls are answered.
	_ = ln.Close()
	<-errc // the listener's close error: expected
	srv.SetKeepAlivesEnabled(false)
	post := s.drain(cfg.DrainTimeout)
	defer post.cancel()
	// Calls made over SSE are answered on their session's stream, after the
	// call: wait for those answers to be written, then end the streams.
	if s.sse.settle(post.answers, answerIdle) != nil {
		s.log.Warn().Msg("answers still queued on SSE streams at shutdown")
	}
	h.CloseSessions(post.ctx)
	if err := srv.Shutdown(post.ctx); err != nil {
		s.log.Warn().Err(err).Msg("forcing connections closed")
		_ = srv.Close()
	}
	s.log.Info().Dur("after_drain", post.took()).Msg("stopped")
	return nil
}

func health(extra map[string]any) http.Handler {
	body := map[string]any{"status": "ok"}
	for k, v := range extra {
		body[k] = v
	}
	b, _ := json.Marshal(body)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(append(b, '\n'))
	})
}
