package transport

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/internal/later"
)

// DefaultDrainTimeout bounds how long shutdown waits for in-flight tool calls.
const DefaultDrainTimeout = 10 * time.Second

// ServeStdio serves MCP over in/out (os.Stdin/os.Stdout) until in ends or
// ctx is cancelled, and returns nil in both cases (reading in's error if it
// fails otherwise). Either way, requests in
// flight get up to drain (DefaultDrainTimeout if zero) to finish and have
// their answers written before the server stops: a client may write its
// requests and close stdin at once. Nothing but JSON-RPC lines is written
// to out.
//
// The loop is ours, around mcp-go's MCPServer.HandleMessage (see
// stdioLoop): notifications (notifications/cancelled among them) are
// handled in order as they are read; each request is served on the
// goroutine that read it, while a new one reads on; tool calls run at most
// stdioWorkers at a time, as in mcp-go's StdioServer; answers are encoded
// by appendMessage and written whole, one line each.
func (s *Server) ServeStdio(ctx context.Context, in io.Reader, out io.Writer, drain time.Duration) error {
	if drain <= 0 {
		drain = DefaultDrainTimeout
	}
	// Handlers get a context that ends only after in-flight calls had
	// their chance (shutdown below, or the wait at EOF).
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	sess := newStdioSession()
	if err := s.mcp.RegisterSession(lctx, sess); err != nil {
		return fmt.Errorf("stdio: registering the session: %w", err)
	}
	defer s.mcp.UnregisterSession(lctx, sess.SessionID())
	lctx = s.mcp.WithContext(lctx, sess)

	pending := newPendingRequests()
	l := &stdioLoop{
		s: s, ctx: lctx, in: bufio.NewReaderSize(in, 64<<10),
		w:       &stdioWriter{w: out, pending: pending, log: s.log},
		pending: pending, readErr: make(chan error, 1),
		workers: make(chan struct{}, stdioWorkers),
		queued:  make(chan struct{}, stdioWorkers+stdioQueue),
	}
	l.serving.start()
	go func() {
		defer l.serving.done()
		l.w.notifications(lctx, sess.notifications)
	}()
	// Every goroutine serving a request (or writing notifications) has
	// written its answer by the time ServeStdio returns; the one reading
	// stdin may still wait for a line, which will not be served.
	defer func() { _ = l.serving.wait(context.Background()) }()

	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
		case <-stopped:
			return
		}
		// Calls waiting for a worker are refused, running ones answered
		// ShuttingDownMessage at the end of the drain; then every answer
		// is written before the session ends.
		post := s.drain(drain)
		defer post.cancel()
		if err := pending.t.settle(post.answers, answerIdle); err != nil {
			s.log.Warn().Int("pending", pending.count()).Msg("requests still unanswered at shutdown")
		}
		s.log.Info().Dur("after_drain", post.took()).Msg("stopped")
		cancel()
	}()

	s.log.Info().Str("transport", "stdio").Msg("serving MCP on stdin/stdout")
	go l.read()
	var readErr error
	select {
	case <-lctx.Done():
	case readErr = <-l.readErr:
		s.atEOF(lctx, pending, drain)
	}
	s.log.Info().Msg("stdio session ended")
	cancel() // handlers still running are cancelled; their answers are still written
	if readErr != nil && readErr != io.EOF {
		return fmt.Errorf("stdio: reading stdin: %w", readErr)
	}
	return nil
}

const (
	// stdioWorkers is how many tool calls run at once over stdio, as in
	// mcp-go's StdioServer (its worker pool).
	stdioWorkers = 5
	// stdioQueue is how many more tool calls may wait for a worker before
	// reading stops until one finishes (mcp-go's queue size).
	stdioQueue = 100
)

// stdioLoop reads the client's lines and serves them. One goroutine at a
// time reads (read); when it reads a request, it starts the next reader
// and serves the request itself, so a request starts being served as soon
// as its line is read, without waiting for another goroutine to be
// scheduled.
type stdioLoop struct {
	s       *Server
	ctx     context.Context // the handlers' context; ends when the session does
	in      *bufio.Reader   // owned by the reading goroutine
	w       *stdioWriter
	pending *pendingRequests
	readErr chan error // gets io.EOF or the read error, once
	workers chan struct{}
	queued  chan struct{}
	serving tracker // goroutines serving a request or writing notifications
}

// read reads lines until one is a request, which it serves after handing
// reading to a new goroutine, or until stdin ends (readErr) or the session
// does.
func (l *stdioLoop) read() {
	for {
		line, err := l.in.ReadBytes('\n')
		if l.ctx.Err() != nil {
			return // the session ended: nothing more is served
		}
		if len(bytes.TrimSpace(line)) > 0 {
			if l.serve(line) {
				return
			}
		}
		if err != nil {
			l.readErr <- err
			return
		}
	}
}

// serve handles one line: a notification, or initialize, at once, in
// order; another request (true) on this goroutine, after starting the next
// reader.
func (l *stdioLoop) serve(line []byte) (request bool) {
	m, ok := parseLine(line)
	switch {
	case !ok:
		l.w.write(mcp.JSONRPCError{JSONRPC: mcp.JSONRPC_VERSION, ID: mcp.NewRequestId(nil),
			Error: mcp.NewJSONRPCErrorDetails(mcp.PARSE_ERROR, "Parse error", nil)})
		return false
	case !m.hasID:
		if m.method == string(mcp.MethodNotificationCancelled) && m.cancelled != "" {
			l.pending.remove(m.cancelled)
		}
		l.w.write(l.s.handle(l.ctx, line))
		return false
	}
	if m.method != "" {
		l.pending.add(m.id)
	}
	if m.method == string(mcp.MethodInitialize) {
		// Served before the next line is read: what the client says of
		// itself (its name, which picks the result views; its
		// capabilities) holds for the requests that follow, even when it
		// sends them without waiting for this answer.
		l.serving.start()
		defer l.serving.done()
		l.w.write(l.s.handle(l.ctx, line))
		l.pending.remove(m.id)
		return false
	}
	call := m.method == string(mcp.MethodToolsCall)
	if call {
		// Past the queue, reading waits for a call to finish, as with
		// mcp-go's StdioServer.
		select {
		case l.queued <- struct{}{}:
		case <-l.ctx.Done():
			return true
		}
		defer func() { <-l.queued }()
	}
	l.serving.start()
	defer l.serving.done()
	if l.ctx.Err() != nil {
		return true // the session ended while this line was read
	}
	go l.read()
	if call {
		select {
		case l.workers <- struct{}{}:
			defer func() { <-l.workers }()
		case <-l.ctx.Done(): // answered at once: the session is ending
		}
	}
	// What the call leaves for after its answer (its log line, storing
	// rows for next_page) runs once the answer is written.
	ctx, after := later.With(l.ctx, func(r any) {
		l.s.log.Error().Str("panic", fmt.Sprint(r)).Msg("stdio: work left for after an answer panicked")
	})
	l.w.write(l.s.handle(ctx, line))
	after()
	if m.method != "" {
		// Answered (or, when mcp-go had no answer, never to be): the
		// request is no longer pending.
		l.pending.remove(m.id)
	}
	return true
}

// atEOF lets the requests read so far finish, for up to drain, once stdin
// ended.
func (s *Server) atEOF(ctx context.Context, pending *pendingRequests, drain time.Duration) {
	n := pending.count()
	if n == 0 {
		return
	}
	s.log.Info().Int("pending", n).Msg("stdin closed; letting requests in flight finish")
	dctx, dcancel := context.WithTimeout(ctx, drain)
	defer dcancel()
	if err := pending.wait(dctx); err != nil {
		s.log.Warn().Int("pending", pending.count()).Msg("requests still running at the stdin-EOF deadline; cancelling them")
	}
}

// handle runs one message through mcp-go. A panic is logged, and answered
// as an internal error (requests) or dropped (notifications), as mcp-go's
// StdioServer does, without its details.
func (s *Server) handle(ctx context.Context, line []byte) (resp mcp.JSONRPCMessage) {
	defer func() {
		if r := recover(); r != nil {
			s.log.Error().Str("panic", fmt.Sprint(r)).Msg("stdio: a message handler panicked")
			var msg struct {
				ID any `json:"id"`
			}
			if json.Unmarshal(line, &msg) == nil && msg.ID != nil {
				resp = mcp.JSONRPCError{JSONRPC: mcp.JSONRPC_VERSION, ID: mcp.NewRequestId(msg.ID),
					Error: mcp.NewJSONRPCErrorDetails(mcp.INTERNAL_ERROR, "internal error (logged on the server)", nil)}
			}
		}
	}()
	return s.mcp.HandleMessage(ctx, line)
}

// lineHead is what the loop reads of a message: its id, its method, and
// for notifications/cancelled the request it cancels.
type lineHead struct {
	hasID     bool
	id        string // idKey of the id
	method    string
	cancelled string // idKey of params.requestId
}

// parseLine reads the head of line; false when line is not a JSON object.
func parseLine(line []byte) (lineHead, bool) {
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params struct {
			RequestID json.RawMessage `json:"requestId"`
		} `json:"params"`
	}
	if json.Unmarshal(line, &msg) != nil {
		// Params of another shape (an array): read the rest.
		var bare struct {
			ID     json.RawMessage `json:"id"`
			Method string          `json:"method"`
		}
		if json.Unmarshal(line, &bare) != nil {
			return lineHead{}, false
		}
		msg.ID, msg.Method = bare.ID, bare.Method
	}
	h := lineHead{method: msg.Method}
	if id, ok := idKey(msg.ID); ok {
		h.hasID, h.id = true, id
	}
	if c, ok := idKey(msg.Params.RequestID); ok {
		h.cancelled = c
	}
	return h, true
}

// stdioWriter writes the server's messages to stdout, one line each. When
// stdout fails, the client is gone and pending is cleared.
type stdioWriter struct {
	w       io.Writer
	pending *pendingRequests
	log     zerolog.Logger
	mu      sync.Mutex
	buf     []byte
}

// write writes msg (nothing when nil) as one line.
func (w *stdioWriter) write(msg mcp.JSONRPCMessage) {
	if msg == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	line, err := appendMessage(w.buf[:0], msg)
	if err != nil {
		w.log.Error().Err(err).Msg("stdio: encoding a message failed")
		r, ok := msg.(mcp.JSONRPCResponse)
		if !ok {
			return
		}
		// The request still gets an answer.
		line, err = appendMessage(w.buf[:0], mcp.JSONRPCError{JSONRPC: mcp.JSONRPC_VERSION, ID: r.ID,
			Error: mcp.NewJSONRPCErrorDetails(mcp.INTERNAL_ERROR, "the server could not encode its answer", nil)})
		if err != nil {
			return
		}
	}
	if cap(line) <= 1<<20 {
		w.buf = line // reused for the next message; a larger one is let go
	}
	if _, err := w.w.Write(line); err != nil {
		// The client is gone: nothing pending can be answered any more.
		w.pending.clear()
	}
}

// notifications writes the notifications the server sends the session
// until ctx ends.
func (w *stdioWriter) notifications(ctx context.Context, ch <-chan mcp.JSONRPCNotification) {
	for {
		select {
		case n := <-ch:
			w.write(n)
		case <-ctx.Done():
			return
		}
	}
}

// pendingRequests is the set of JSON-RPC request ids read from the client
// and not yet answered.
type pendingRequests struct {
	mu  sync.Mutex
	ids map[string]bool
	t   tracker
}

func newPendingRequests() *pendingRequests {
	return &pendingRequests{ids: map[string]bool{}}
}

func (p *pendingRequests) add(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.ids[id] {
		p.ids[id] = true
		p.t.start()
	}
}

// answered crosses off the request that message (one JSON-RPC message the
// server wrote) answers; notifications and requests to the client answer none.
func (p *pendingRequests) answered(message []byte) {
	if raw, ok := answerID(message); ok {
		if id, ok := idKey(raw); ok {
			p.remove(id)
		}
	}
}

// answerID returns the id of message when it is an answer (an id and no
// method). It reads message only as far as it must: an answer as mcp-go
// writes it ({"jsonrpc", "id", "result" or "error"}) is known by its first
// few bytes, so a large result is not parsed a second time on its way out.
func answerID(message []byte) (json.RawMessage, bool) {
	dec := json.NewDecoder(bytes.NewReader(message))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, false
	}
	var id json.RawMessage
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, false
		}
		switch t {
		case "method":
			return nil, false // a request or a notification
		case "id":
			if dec.Decode(&id) != nil {
				return nil, false
			}
			continue
		case "result", "error":
			if id != nil {
				return id, true // the id came first: nothing after it matters
			}
		}
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return nil, false
		}
	}
	return id, id != nil
}

func (p *pendingRequests) remove(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ids[id] {
		delete(p.ids, id)
		p.t.done()
	}
}

// clear forgets every request: their answers can no longer be delivered.
func (p *pendingRequests) clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for id := range p.ids {
		delete(p.ids, id)
		p.t.done()
	}
}

func (p *pendingRequests) count() int { return p.t.count() }

func (p *pendingRequests) wait(ctx context.Context) error { return p.t.wait(ctx) }

// lineSplitter cuts a byte stream into newline-terminated lines.
type lineSplitter struct{ partial []byte }

// feed calls fn with every line completed by p (without the newline).
func (l *lineSplitter) feed(p []byte, fn func(line []byte)) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			l.partial = append(l.partial, p...)
			return
		}
		line := p[:i]
		if len(l.partial) > 0 {
			line = append(l.partial, line...)
			l.partial = l.partial[:0]
		}
		fn(line)
		p = p[i+1:]
	}
}

// idKey normalises a JSON-RPC id (a string or a number) so that a request's
// id and its answer's id compare equal however the number was spelled.
func idKey(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return "", false
	}
	if raw[0] == '"' {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return "s:" + s, true
	}
	f, err := strconv.ParseFloat(string(raw), 64)
	if err != nil {
		return "", false
	}
	return "n:" + strconv.FormatFloat(f, 'g', -1, 64), true
}
