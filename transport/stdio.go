package transport

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log"
	"strconv"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/dune-mcp/dune-mcp/logging"
)

// DefaultDrainTimeout bounds how long shutdown waits for in-flight tool calls.
const DefaultDrainTimeout = 10 * time.Second

// ServeStdio serves MCP over in/out (os.Stdin/os.Stdout) until in ends or
// ctx is cancelled, and returns nil in both cases. Either way, requests in
// flight get up to drain (DefaultDrainTimeout if zero) to finish and have
// their answers written before the server stops: a client may write its
// requests and close stdin at once. Nothing but JSON-RPC frames is written
// to out.
func (s *Server) ServeStdio(ctx context.Context, in io.Reader, out io.Writer, drain time.Duration) error {
	if drain <= 0 {
		drain = DefaultDrainTimeout
	}
	ss := server.NewStdioServer(s.mcp)
	ss.SetErrorLogger(log.New(logging.StdLogWriter(s.log.With().Str("component", "stdio").Logger()), "", 0))

	// Listen cancels every handler when its context ends, so give it a
	// context that ends only after in-flight calls had their chance.
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()

	// Listen also cancels every handler as soon as it reads EOF. Hold the
	// EOF back until every request read so far has been answered.
	pending := newPendingRequests()
	in = &drainingReader{r: in, pending: pending, atEOF: func() {
		n := pending.count()
		if n == 0 {
			return
		}
		s.log.Info().Int("pending", n).Msg("stdin closed; letting requests in flight finish")
		dctx, dcancel := context.WithTimeout(lctx, drain)
		defer dcancel()
		if err := pending.wait(dctx); err != nil {
			s.log.Warn().Int("pending", pending.count()).Msg("requests still running at the stdin-EOF deadline; cancelling them")
		}
	}}
	out = &answerWriter{w: out, pending: pending}

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
	err := ss.Listen(lctx, in, out)
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, io.EOF) {
		s.log.Info().Msg("stdio session ended")
		return nil
	}
	return err
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

// drainingReader passes the client's input through, noting the requests it
// carries (and the ones the client cancels) in pending; at EOF it calls
// atEOF before reporting EOF.
type drainingReader struct {
	r       io.Reader
	pending *pendingRequests
	lines   lineSplitter
	atEOF   func()
	eofOnce sync.Once
}

func (d *drainingReader) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if n > 0 {
		d.lines.feed(p[:n], d.note)
		if err == io.EOF {
			// Deliver the last requests first; the next Read meets EOF again.
			return n, nil
		}
	}
	if err == io.EOF {
		d.eofOnce.Do(d.atEOF)
	}
	return n, err
}

func (d *drainingReader) note(line []byte) {
	var msg struct {
		ID     json.RawMessage `json:"id"`
		Method string          `json:"method"`
		Params json.RawMessage `json:"params"`
	}
	if json.Unmarshal(line, &msg) != nil || msg.Method == "" {
		return // not a request (a client's answer to a server request, or garbage)
	}
	if msg.Method == string(mcp.MethodNotificationCancelled) {
		var p struct {
			RequestID json.RawMessage `json:"requestId"`
		}
		if json.Unmarshal(msg.Params, &p) == nil {
			if id, ok := idKey(p.RequestID); ok {
				d.pending.remove(id)
			}
		}
		return
	}
	if id, ok := idKey(msg.ID); ok {
		d.pending.add(id)
	}
}

// answerWriter passes the server's output through and strikes answered
// requests from pending.
type answerWriter struct {
	w       io.Writer
	pending *pendingRequests
	mu      sync.Mutex
	lines   lineSplitter
}

func (a *answerWriter) Write(p []byte) (int, error) {
	n, err := a.w.Write(p)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		// The client is gone: nothing pending can be answered any more.
		a.pending.clear()
		return n, err
	}
	a.lines.feed(p[:n], a.note)
	return n, nil
}

func (a *answerWriter) note(line []byte) { a.pending.answered(line) }

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
