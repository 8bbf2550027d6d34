package evals

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/dune-mcp/dune-mcp/internal/childenv"
)

// session is a running dune-mcp process with an initialized MCP client.
type session struct {
	client   *client.Client
	stderr   *tailBuffer
	close    func() error
	progress *progressLog
}

// newSession wraps an initialized client and starts collecting the
// progress notifications it receives.
func newSession(c *client.Client, stderr *tailBuffer, closeFn func() error) *session {
	s := &session{client: c, stderr: stderr, close: closeFn, progress: &progressLog{byToken: map[string][]progressNote{}}}
	c.OnNotification(s.progress.receive)
	return s
}

// progressNote is one notifications/progress.
type progressNote struct {
	Progress float64
	Message  string
}

// progressLog keeps the progress notifications received, by progress token.
// mcp-go's clients hand notifications over before the response that follows
// them (stdio reads one line at a time; streamable HTTP reads the request's
// event stream in order), so a call's notes are all here when it returns.
type progressLog struct {
	mu      sync.Mutex
	byToken map[string][]progressNote
}

func (p *progressLog) receive(n mcp.JSONRPCNotification) {
	if n.Method != "notifications/progress" {
		return
	}
	f := n.Params.AdditionalFields
	token := fmt.Sprint(f["progressToken"])
	note := progressNote{}
	note.Progress, _ = f["progress"].(float64)
	note.Message, _ = f["message"].(string)
	p.mu.Lock()
	p.byToken[token] = append(p.byToken[token], note)
	p.mu.Unlock()
}

// take returns and forgets the notes of token.
func (p *progressLog) take(token string) []progressNote {
	p.mu.Lock()
	defer p.mu.Unlock()
	notes := p.byToken[token]
	delete(p.byToken, token)
	return notes
}

// sessionConfig says how to start dune-mcp.
type sessionConfig struct {
	binary    string
	transport string
	env       []string // "NAME=value" entries added to childenv.Environ
	args      []string
	headers   map[string]string // HTTP only
	// clientName is the clientInfo.name sent in initialize ("": defaultClientName).
	clientName string
}

// defaultClientName is the clientInfo.name the evals' client sends unless
// a scenario names a client (server.client_name).
const defaultClientName = "dune-mcp-evals"

// startSession starts the binary on the transport and initializes an MCP client.
func startSession(ctx context.Context, cfg sessionConfig) (*session, error) {
	switch cfg.transport {
	case TransportStdio:
		return startStdio(ctx, cfg)
	case TransportHTTP:
		return startHTTP(ctx, cfg)
	}
	return nil, fmt.Errorf("unknown transport %q", cfg.transport)
}

func startStdio(ctx context.Context, cfg sessionConfig) (*session, error) {
	stderr := newTailBuffer(256 << 10)
	// The child's stderr goes straight to our buffer (exec copies it until
	// the process exits): mcp-go's own stderr pipe is closed on Close, and a
	// late log line would then kill the child with SIGPIPE.
	tr := transport.NewStdioWithOptions(cfg.binary, cfg.env, cfg.args, transport.WithCommandFunc(
		func(_ context.Context, command string, env []string, args []string) (*exec.Cmd, error) {
			cmd := exec.Command(command, args...)
			cmd.Env = childenv.Environ(env...)
			cmd.Stderr = stderr
			return cmd, nil
		}))
	if err := tr.Start(context.Background()); err != nil {
		return nil, fmt.Errorf("start %s over stdio: %w", cfg.binary, err)
	}
	c := client.NewClient(tr)
	if err := initialize(ctx, c, cfg.clientName); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("initialize over stdio: %w; server stderr: %s", err, stderr.Tail(2000))
	}
	return newSession(c, stderr, c.Close), nil
}

func startHTTP(ctx context.Context, cfg sessionConfig) (*session, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // a freed port can be taken by someone else: retry
		s, err := tryStartHTTP(ctx, cfg)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

func tryStartHTTP(ctx context.Context, cfg sessionConfig) (*session, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{"--transport", "http", "--addr", addr}, cfg.args...)
	cmd := exec.Command(cfg.binary, args...)
	cmd.Env = childenv.Environ(cfg.env...)
	stderr := newTailBuffer(256 << 10)
	cmd.Stderr = stderr
	cmd.Stdout = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cfg.binary, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	stop := func() error { return stopChild(cmd, exited, &waitErr, 5*time.Second) }
	base := "http://" + addr
	if err := waitHealthy(ctx, base, exited); err != nil {
		_ = stop()
		if waitErr != nil {
			err = fmt.Errorf("%w (process: %v)", err, waitErr)
		}
		return nil, fmt.Errorf("%w; server stderr: %s", err, stderr.Tail(2000))
	}
	c, err := client.NewStreamableHttpClient(base+"/mcp", transport.WithHTTPHeaders(cfg.headers))
	if err != nil {
		_ = stop()
		return nil, fmt.Errorf("streamable HTTP client: %w", err)
	}
	if err := c.Start(ctx); err != nil {
		_ = stop()
		return nil, fmt.Errorf("start streamable HTTP client: %w", err)
	}
	if err := initialize(ctx, c, cfg.clientName); err != nil {
		_ = c.Close()
		_ = stop()
		return nil, fmt.Errorf("initialize over HTTP: %w; server stderr: %s", err, stderr.Tail(2000))
	}
	return newSession(c, stderr, func() error {
		cerr := c.Close()
		serr := stop()
		return errors.Join(cerr, serr)
	}), nil
}

// stopChild ends a dune-mcp child the way an operator does, with SIGTERM,
// and reports anything but a clean exit 0: a non-zero status (also when the
// child had already exited), or no exit within grace (then it is killed).
// exited is closed once *waitErr holds cmd.Wait's result.
func stopChild(cmd *exec.Cmd, exited <-chan struct{}, waitErr *error, grace time.Duration) error {
	select {
	case <-exited:
		if *waitErr != nil {
			return fmt.Errorf("dune-mcp exited early: %w", *waitErr)
		}
		return nil
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		if *waitErr != nil {
			return fmt.Errorf("dune-mcp did not exit cleanly on SIGTERM: %w", *waitErr)
		}
		return nil
	case <-time.After(grace):
		_ = cmd.Process.Kill()
		<-exited
		return fmt.Errorf("dune-mcp did not exit within %v of SIGTERM", grace)
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	return addr, nil
}

func waitHealthy(ctx context.Context, base string, exited <-chan struct{}) error {
	hc := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(15 * time.Second)
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-exited:
			return errors.New("dune-mcp exited before /healthz answered")
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return errors.New("/healthz did not answer 200 within 15s")
		}
	}
}

// initialize starts c and sends initialize with clientInfo.name name
// (defaultClientName when "").
func initialize(ctx context.Context, c *client.Client, name string) error {
	if name == "" {
		name = defaultClientName
	}
	if err := c.Start(ctx); err != nil {
		return err
	}
	req := mcp.InitializeRequest{}
	req.Params.ProtocolVersion = mcp.LATEST_PROTOCOL_VERSION
	req.Params.ClientInfo = mcp.Implementation{Name: name, Version: "1"}
	_, err := c.Initialize(ctx, req)
	return err
}

// tailBuffer keeps the last max bytes written to it; safe for concurrent use.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
	all []byte // everything, bounded by allMax, for secret scans
}

const allMax = 16 << 20

func newTailBuffer(max int) *tailBuffer { return &tailBuffer{max: max} }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = append(t.buf[:0], t.buf[len(t.buf)-t.max:]...)
	}
	if len(t.all) < allMax {
		t.all = append(t.all, p[:min(len(p), allMax-len(t.all))]...)
	}
	return len(p), nil
}

// Tail returns up to n of the last bytes written.
func (t *tailBuffer) Tail(n int) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.buf
	if len(b) > n {
		b = b[len(b)-n:]
	}
	if len(b) == 0 {
		return "(empty)"
	}
	return string(b)
}

// All returns everything written (up to 16 MiB).
func (t *tailBuffer) All() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.all)
}
