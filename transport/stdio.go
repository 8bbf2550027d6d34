package transport

import (
	"context"
	"errors"
	"io"
	"log"
	"time"

	"github.com/mark3labs/mcp-go/server"

	"dune-mcp/logging"
)

// DefaultDrainTimeout bounds how long shutdown waits for in-flight tool calls.
const DefaultDrainTimeout = 10 * time.Second

// ServeStdio serves MCP over in/out (os.Stdin/os.Stdout) until in ends (nil),
// or ctx is cancelled: then tool calls in flight get up to drain to finish
// (DefaultDrainTimeout if zero) before the server stops (nil). Nothing but
// JSON-RPC frames is written to out.
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
	stopped := make(chan struct{})
	defer close(stopped)
	go func() {
		select {
		case <-ctx.Done():
		case <-stopped:
			return
		}
		s.log.Info().Int("in_flight", s.inflight.count()).Msg("shutting down")
		dctx, dcancel := context.WithTimeout(context.Background(), drain)
		defer dcancel()
		if err := s.inflight.wait(dctx); err != nil {
			s.log.Warn().Int("in_flight", s.inflight.count()).Msg("tool calls still running at shutdown deadline; cancelling them")
		}
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
