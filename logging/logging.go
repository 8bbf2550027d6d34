// Package logging builds dune-mcp's zerolog logger: JSON or console lines on
// stderr only (stdout belongs to the MCP protocol in stdio mode), with known
// secret values scrubbed from every line as a last line of defence, and the
// standard library's log and slog defaults routed into the same logger.
package logging

import (
	"bytes"
	"context"
	"io"
	"log"
	"log/slog"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Redacted replaces secret values in log output.
const Redacted = "[REDACTED]"

// MinSecretLen is the shortest value a Redactor scrubs. Shorter values
// ("true", "info", a digit) would match the log's own keys and values:
// replacing them corrupts every line and, by the pattern of what got
// replaced, reveals the secret. Real keys and tokens are far longer.
const MinSecretLen = 8

// Format names, as accepted by New (and by the --log-format flag).
const (
	FormatJSON    = "json"
	FormatConsole = "console"
)

// New returns a logger writing to w (normally os.Stderr) in format (json or
// console) at level, with every occurrence of a secret of at least
// MinSecretLen bytes replaced by [REDACTED].
func New(w io.Writer, format string, level zerolog.Level, secrets ...string) zerolog.Logger {
	out := NewRedactor(w, secrets...)
	var sink io.Writer = out
	if format == FormatConsole {
		sink = zerolog.ConsoleWriter{Out: out, NoColor: true, TimeFormat: time.RFC3339}
	}
	return zerolog.New(sink).Level(level).With().Timestamp().Logger()
}

// Redactor is an io.Writer that replaces secret values before writing to the
// underlying writer. zerolog writes one event per Write call, so a secret is
// never split across calls. It is safe for concurrent use.
type Redactor struct {
	mu      sync.Mutex
	w       io.Writer
	secrets [][]byte
}

// NewRedactor returns a Redactor writing to w. Secrets shorter than
// MinSecretLen bytes are ignored.
func NewRedactor(w io.Writer, secrets ...string) *Redactor {
	r := &Redactor{w: w}
	for _, s := range secrets {
		if len(s) >= MinSecretLen {
			r.secrets = append(r.secrets, []byte(s))
		}
	}
	return r
}

// Write implements io.Writer. It reports len(p) on success so callers that
// check the count are not confused by a replacement of a different length.
func (r *Redactor) Write(p []byte) (int, error) {
	out := p
	for _, s := range r.secrets {
		if bytes.Contains(out, s) {
			out = bytes.ReplaceAll(out, s, []byte(Redacted))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// InstallDefaults routes the standard library's log package (used by mcp-go
// for a few rare messages) and slog.Default (used by mcp-go's transports
// when given no logger) into l.
func InstallDefaults(l zerolog.Logger) {
	// slog.SetDefault also redirects the log package to slog: set it
	// first, then give the log package its own writer.
	slog.SetDefault(Slog(l, false))
	log.SetFlags(0)
	log.SetPrefix("")
	log.SetOutput(StdLogWriter(l.With().Str("source", "stdlog").Logger()))
}

// StdLogWriter adapts l to an io.Writer for log.New / log.SetOutput: each
// line becomes one warn-level event (the standard logger is used for
// problems).
func StdLogWriter(l zerolog.Logger) io.Writer { return stdLogWriter{l} }

type stdLogWriter struct{ l zerolog.Logger }

func (w stdLogWriter) Write(p []byte) (int, error) {
	msg := string(bytes.TrimRight(p, "\n"))
	w.l.Warn().Msg(msg)
	return len(p), nil
}

// Slog returns a *slog.Logger feeding l. With demoteInfo, slog's info
// records are logged at debug: mcp-go's request logger writes one info line
// per JSON-RPC message, which duplicates our own per-call lines.
func Slog(l zerolog.Logger, demoteInfo bool) *slog.Logger {
	var h slog.Handler = zerolog.NewSlogHandler(l)
	if demoteInfo {
		h = demote{h}
	}
	return slog.New(h)
}

// demote maps slog.LevelInfo records to slog.LevelDebug.
type demote struct{ slog.Handler }

func (d demote) Enabled(ctx context.Context, lvl slog.Level) bool {
	if lvl == slog.LevelInfo {
		lvl = slog.LevelDebug
	}
	return d.Handler.Enabled(ctx, lvl)
}

func (d demote) Handle(ctx context.Context, r slog.Record) error {
	if r.Level == slog.LevelInfo {
		r.Level = slog.LevelDebug
	}
	return d.Handler.Handle(ctx, r)
}

func (d demote) WithAttrs(attrs []slog.Attr) slog.Handler {
	return demote{d.Handler.WithAttrs(attrs)}
}

func (d demote) WithGroup(name string) slog.Handler { return demote{d.Handler.WithGroup(name)} }
