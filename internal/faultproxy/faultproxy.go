// Package faultproxy is a fault-injecting HTTP proxy for tests (tests only:
// the binary never links it). It sits between a Dune client and an upstream
// (the emulator) and misbehaves on the requests a Fault matches: it answers
// with another request's answer (wrong query, wrong execution), holds the
// request without answering (hang), sends the answer a byte at a time
// (slow drip), closes the connection in the middle of the body, or sends a
// generated body instead of the upstream's (huge body). Requests no fault
// matches are forwarded unchanged.
//
// Tests synchronise on the proxy's channels (Hung, Released), never on
// sleeps.
package faultproxy

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"
)

// Fault is one misbehaviour. The first fault whose Path matches a request
// applies to it, Count times (0 means once).
type Fault struct {
	// Path is a prefix of the request path; "" matches every request.
	Path  string
	Count int

	// RewritePath forwards the request to this path instead: the client
	// gets another request's answer (its status, headers and body).
	RewritePath string
	// RewriteQuery, when set, forwards the request with the query string
	// it returns for the request's own.
	RewriteQuery func(raw string) string

	// Hang holds the request without answering until the client goes
	// away: the proxy sends on Hung when it starts, and on Released when
	// the client gave up.
	Hang bool

	// DripEvery sends the upstream's answer one byte per DripEvery, after
	// the status and headers, until it ends or the client goes away.
	DripEvery time.Duration

	// CloseAfter, when positive, sends the status, the headers (with the
	// upstream's Content-Length) and this many bytes of the body, then
	// closes the connection.
	CloseAfter int64

	// Body, when set, answers 200 with what it writes instead of the
	// upstream's body (a huge or hostile body, generated as it streams).
	Body func(w io.Writer) error
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	// URL is the proxy's base URL, to use as the client's base URL.
	URL string
	// Hung receives once per request a Hang fault holds; Released once per
	// such request when its client has gone away. Both are buffered (64).
	Hung, Released chan struct{}

	srv      *httptest.Server
	upstream string
	client   *http.Client

	mu       sync.Mutex
	faults   []*Fault
	requests int
	paths    []string
}

// New starts a proxy in front of upstream (a base URL such as the
// emulator's). Close stops it.
func New(upstream string) *Proxy {
	p := &Proxy{
		Hung:     make(chan struct{}, 64),
		Released: make(chan struct{}, 64),
		upstream: strings.TrimRight(upstream, "/"),
		client:   &http.Client{Transport: &http.Transport{}, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	p.URL = p.srv.URL
	return p
}

// Close stops the proxy.
func (p *Proxy) Close() {
	p.srv.CloseClientConnections()
	p.srv.Close()
	p.client.CloseIdleConnections()
}

// Inject adds a fault, applied after the ones already waiting.
func (p *Proxy) Inject(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if f.Count <= 0 {
		f.Count = 1
	}
	p.faults = append(p.faults, &f)
}

// Requests returns how many requests reached the proxy.
func (p *Proxy) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

// Paths returns the paths requested upstream (after rewrites), in order.
func (p *Proxy) Paths() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.paths...)
}

// take pops the fault for a request path, nil when none matches.
func (p *Proxy) take(path string) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.requests++
	for i, f := range p.faults {
		if !strings.HasPrefix(path, f.Path) {
			continue
		}
		out := *f
		if f.Count--; f.Count <= 0 {
			p.faults = append(p.faults[:i:i], p.faults[i+1:]...)
		}
		return &out
	}
	return nil
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	f := p.take(r.URL.Path)
	if f == nil {
		f = &Fault{}
	}
	if f.Hang {
		p.Hung <- struct{}{}
		<-r.Context().Done()
		p.Released <- struct{}{}
		return
	}
	if f.Body != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		if err := f.Body(w); err != nil {
			panic(http.ErrAbortHandler)
		}
		return
	}
	path := r.URL.Path
	if f.RewritePath != "" {
		path = f.RewritePath
	}
	p.mu.Lock()
	p.paths = append(p.paths, path)
	p.mu.Unlock()
	raw := r.URL.RawQuery
	if f.RewriteQuery != nil {
		raw = f.RewriteQuery(raw)
	}
	u := p.upstream + path
	if raw != "" {
		u += "?" + raw
	}
	req, err := http.NewRequestWithContext(r.Context(), r.Method, u, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	req.Header = r.Header.Clone()
	resp, err := p.client.Do(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	switch {
	case f.CloseAfter > 0:
		_, _ = io.CopyN(w, resp.Body, f.CloseAfter)
		_ = rc.Flush()
		panic(http.ErrAbortHandler) // closes the connection mid-body
	case f.DripEvery > 0:
		_ = rc.Flush()
		tick := time.NewTicker(f.DripEvery)
		defer tick.Stop()
		b := make([]byte, 1)
		for {
			if _, err := io.ReadFull(resp.Body, b); err != nil {
				return
			}
			if _, err := w.Write(b); err != nil {
				return
			}
			_ = rc.Flush()
			select {
			case <-tick.C:
			case <-r.Context().Done():
				panic(http.ErrAbortHandler)
			}
		}
	default:
		_, _ = io.Copy(w, resp.Body)
	}
}
