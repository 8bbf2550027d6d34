package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"
)

// Shutdown, the same on every transport: when the server is told to stop,
// tool calls already running get the drain (DefaultDrainTimeout) to finish;
// calls that arrive meanwhile are answered ShuttingDownMessage at once. At the
// end of the drain every call still running is cancelled and answered
// ShuttingDownMessage (an isError result) at once, all of them together,
// without waiting for its handler (one that ignores the cancellation is left
// behind), and that answer is written to its connection, SSE stream or stdout
// before the transport closes. Everything after the drain is bounded by
// afterDrain: the answers are written by answerDeadline (while they keep
// coming: a client that stopped reading is not waited for past answerIdle),
// and closing the streams and connections gets the rest, closeGrace. The
// transport returns within the drain + afterDrain, which leaves the rest of
// a second for the process to exit (in --demo, the embedded emulator stops
// too): exit within the drain + 1 s.

// ShuttingDownMessage is the isError result of a tool call the server stopped
// (or refused) because it is shutting down.
const ShuttingDownMessage = "The server is shutting down and could not finish this call. " +
	"Retry it in a moment: the server (or another replica) will answer it."

// errShuttingDown is the cause a stopped call's context is cancelled with.
var errShuttingDown = errors.New("transport: the server is shutting down")

const (
	// answerIdle: after the drain, shutdown waits for the answers to be
	// written while they keep coming, and moves on once none has been
	// written for answerIdle: a busy machine is waited for (within
	// afterDrain), a client that stopped reading is not.
	answerIdle = 300 * time.Millisecond
	// afterDrain bounds everything after the drain: answering the calls,
	// writing the answers, closing the streams and connections. Normally
	// this takes milliseconds.
	afterDrain = 800 * time.Millisecond
	// closeGrace is the last part of afterDrain, kept for closing the
	// streams and connections once the answers are written.
	closeGrace = 250 * time.Millisecond
)

// postDrain is the shutdown after the drain: ctx ends afterDrain after it
// (everything is done by then), answers closeGrace earlier.
type postDrain struct {
	ended   time.Time // when the drain ended
	ctx     context.Context
	answers context.Context
	cancel  func()
}

func newPostDrain() *postDrain {
	ended := time.Now()
	ctx, cancel := context.WithDeadline(context.Background(), ended.Add(afterDrain))
	answers, acancel := context.WithDeadline(ctx, ended.Add(afterDrain-closeGrace))
	return &postDrain{ended: ended, ctx: ctx, answers: answers, cancel: func() { acancel(); cancel() }}
}

// took is the time since the drain ended.
func (p *postDrain) took() time.Duration { return time.Since(p.ended) }

// gate is the shutdown state the tool calls see: open, closing (the drain:
// new calls are refused), then stopped (running calls are cancelled).
type gate struct {
	mu      sync.Mutex
	closing bool
	stop    chan struct{} // closed when running calls must stop
}

func newGate() *gate { return &gate{stop: make(chan struct{})} }

// close refuses new calls from now on.
func (g *gate) close() {
	g.mu.Lock()
	g.closing = true
	g.mu.Unlock()
}

// closed reports whether new calls are refused.
func (g *gate) closed() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.closing
}

// stopAll cancels every running call (and refuses new ones).
func (g *gate) stopAll() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.closing = true
	select {
	case <-g.stop:
	default:
		close(g.stop)
	}
}

func shuttingDown() *mcp.CallToolResult { return mcp.NewToolResultError(ShuttingDownMessage) }

// track is the outermost tool middleware: it counts the calls in flight,
// refuses calls once shutdown has begun, and answers a call stopped at the
// end of the drain with ShuttingDownMessage.
func (s *Server) track(next server.ToolHandlerFunc) server.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		if s.gate.closed() {
			return shuttingDown(), nil
		}
		s.inflight.start()
		defer s.inflight.done()
		ctx, cancel := context.WithCancelCause(ctx)
		defer cancel(nil)
		type outcome struct {
			res *mcp.CallToolResult
			err error
		}
		done := make(chan outcome, 1)
		go func() {
			res, err := next(ctx, req)
			done <- outcome{res, err}
		}()
		select {
		case o := <-done:
			return o.res, o.err
		case <-s.gate.stop:
		}
		cancel(errShuttingDown)
		select {
		case o := <-done:
			if o.err == nil && o.res != nil && !o.res.IsError {
				return o.res, nil // it finished just now: a real answer beats a retry
			}
		default: // the handler is not waited for: it may ignore the cancellation
		}
		return shuttingDown(), nil
	}
}

// drain runs the shutdown of the tool calls: it refuses new calls, lets the
// running ones finish within d, then stops the rest, and returns once every
// call has been answered (by its handler or with ShuttingDownMessage). It
// returns the shutdown after the drain (postDrain), which the caller
// cancels.
func (s *Server) drain(d time.Duration) *postDrain {
	s.gate.close()
	s.log.Info().Int("in_flight", s.inflight.count()).Dur("drain", d).Msg("shutting down")
	dctx, cancel := context.WithTimeout(context.Background(), d)
	err := s.inflight.wait(dctx)
	cancel()
	post := newPostDrain()
	if err == nil {
		return post
	}
	s.log.Warn().Int("in_flight", s.inflight.count()).Msg("tool calls still running at the end of the drain: answering them that the server is shutting down")
	s.gate.stopAll()
	if s.inflight.settle(post.answers, answerIdle) != nil {
		s.log.Warn().Int("in_flight", s.inflight.count()).Msg("tool calls still unanswered after the drain")
	}
	return post
}

// sseAnswers tracks, per open legacy SSE stream, the requests of its session
// not yet answered on the stream (answers are queued for the stream after the
// handler returns), so shutdown closes the streams only once they are out.
type sseAnswers struct {
	mu       sync.Mutex
	sessions map[string]*pendingRequests // by session id, while its stream is open
}

func newSSEAnswers() *sseAnswers {
	return &sseAnswers{sessions: map[string]*pendingRequests{}}
}

// requested is a BeforeAny hook: it notes a request of an SSE session.
func (a *sseAnswers) requested(ctx context.Context, id any, _ mcp.MCPMethod, _ any) {
	sess := server.ClientSessionFromContext(ctx)
	if id == nil || sess == nil {
		return
	}
	a.mu.Lock()
	p := a.sessions[sess.SessionID()]
	a.mu.Unlock()
	if p == nil {
		return // not an SSE session
	}
	if raw, err := json.Marshal(id); err == nil {
		if key, ok := idKey(raw); ok {
			p.add(key)
		}
	}
}

// settle returns nil once every request noted has been answered on its
// stream (or its stream has ended), or tracker.settle's error.
func (a *sseAnswers) settle(ctx context.Context, idle time.Duration) error {
	a.mu.Lock()
	all := make([]*pendingRequests, 0, len(a.sessions))
	for _, p := range a.sessions {
		all = append(all, p)
	}
	a.mu.Unlock()
	for _, p := range all {
		if err := p.t.settle(ctx, idle); err != nil {
			return err
		}
	}
	return nil
}

// stream wraps the SSE handler: the events written to a GET /sse stream tell
// which session it is (the endpoint event) and which requests it answered.
func (a *sseAnswers) stream(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		sw := &sseStreamWriter{ResponseWriter: w, a: a}
		defer sw.end()
		next.ServeHTTP(sw, r)
	})
}

// sseStreamWriter reads the events of one SSE stream as they are written.
type sseStreamWriter struct {
	http.ResponseWriter
	a       *sseAnswers
	lines   lineSplitter
	session string
	pending *pendingRequests
}

func (w *sseStreamWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	if err != nil {
		return n, err
	}
	w.lines.feed(p[:n], w.note)
	return n, nil
}

func (w *sseStreamWriter) note(line []byte) {
	data, ok := bytes.CutPrefix(bytes.TrimSpace(line), []byte("data:"))
	if !ok {
		return
	}
	data = bytes.TrimSpace(data)
	if w.pending == nil {
		// The first event names the session: data: /message?sessionId=...
		u, err := url.Parse(string(data))
		if err != nil || u.Query().Get("sessionId") == "" {
			return
		}
		w.session, w.pending = u.Query().Get("sessionId"), newPendingRequests()
		w.a.mu.Lock()
		w.a.sessions[w.session] = w.pending
		w.a.mu.Unlock()
		return
	}
	w.pending.answered(data)
}

// end forgets the stream: nothing more can be answered on it.
func (w *sseStreamWriter) end() {
	if w.pending == nil {
		return
	}
	w.a.mu.Lock()
	delete(w.a.sessions, w.session)
	w.a.mu.Unlock()
	w.pending.clear()
}

// Flush implements http.Flusher, which the SSE handler needs.
func (w *sseStreamWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap returns the wrapped writer (for http.ResponseController).
func (w *sseStreamWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
