// Command dune-mcp is an MCP server that lets AI agents read Dune Analytics
// query results within a token budget.
//
// main.go wires flags and environment (package config) to the Dune client,
// the tools and a transport; the subcommands live in emulator.go,
// demo_session.go and healthcheck.go.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"runtime/debug"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/config"
	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/internal/loopback"
	"github.com/dune-mcp/dune-mcp/internal/redisconn"
	"github.com/dune-mcp/dune-mcp/logging"
	"github.com/dune-mcp/dune-mcp/metrics"
	"github.com/dune-mcp/dune-mcp/tools"
	"github.com/dune-mcp/dune-mcp/transport"
)

func main() {
	// A client that closes our stderr (mcp-go's stdio client does on Close)
	// must not kill us with SIGPIPE on the next log line: ignored, such
	// writes fail with EPIPE instead, and EOF on stdin still exits 0.
	signal.Ignore(syscall.SIGPIPE)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		stop() // a second signal kills the process the default way
	}()
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole program; it returns the exit status: 0 on success and
// clean shutdown, 2 for usage errors, 1 for runtime failures.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "emulator":
			return runEmulator(ctx, args[1:], stdout, stderr)
		case "demo-session":
			return runDemoSession(ctx, args[1:], stdout, stderr)
		case "healthcheck":
			return runHealthcheck(ctx, args[1:], getenv, stderr)
		}
	}
	cfg, err := config.Parse(args, getenv, stderr)
	if errors.Is(err, config.ErrHelp) {
		return 0
	}
	if err == nil {
		err = cfg.Check()
	}
	if err != nil {
		fmt.Fprintln(stderr, "dune-mcp:", err)
		return 2
	}
	if cfg.ShowVersion {
		fmt.Fprintln(stdout, "dune-mcp", version)
		return 0
	}

	log := logging.New(stderr, cfg.LogFormat, cfg.LogLevel, cfg.Secrets()...)
	logging.InstallDefaults(log)
	// The shutdown's length, signal to exit, is logged: the drain + at
	// most 1 s (transport/shutdown.go).
	var signalled atomic.Pointer[time.Time]
	defer context.AfterFunc(ctx, func() { now := time.Now(); signalled.Store(&now) })()
	err = serve(ctx, cfg, log, stdin, stdout)
	if at := signalled.Load(); at != nil {
		log.Info().Dur("shutdown", time.Since(*at)).Msg("exiting")
	}
	if err != nil {
		log.Error().Err(err).Msg("dune-mcp stopped with an error")
		return 1
	}
	return 0
}

// serve wires the Dune client (or the in-process emulator with --demo), the
// tools and the transport, and serves until ctx ends or stdin closes.
func serve(ctx context.Context, cfg config.Config, log zerolog.Logger, stdin io.Reader, stdout io.Writer) error {
	baseURL, apiKey := cfg.BaseURL, cfg.APIKey.Reveal()
	var demo []tools.DemoQuery
	if cfg.Demo {
		url, stopEmulator, err := startDemoEmulator(log)
		if err != nil {
			return err
		}
		defer stopEmulator()
		baseURL, apiKey = url, emulator.DefaultAPIKey
		for _, q := range emulator.DemoQueries {
			demo = append(demo, tools.DemoQuery{ID: q.ID, Name: q.Name, Description: q.Description})
		}
	}

	var m *metrics.Metrics
	if cfg.MetricsAddr != "" {
		m = metrics.New()
		stopMetrics, err := serveMetrics(ctx, cfg.MetricsAddr, m, log)
		if err != nil {
			return err
		}
		defer stopMetrics()
	}
	// One Redis connection for the page cache, executions and rate limits.
	// Only a bad URL fails here (config already refused those): a Redis that
	// does not answer is one warning, and in-process until it does.
	var conn *redisconn.Conn
	if cfg.RedisURL != "" {
		c, err := redisconn.Open(ctx, cfg.RedisURL.Reveal(), redisconn.Options{Logger: log, OnErrorOf: m.RedisError})
		if err != nil {
			return fmt.Errorf("redis: %w", err)
		}
		defer c.Close()
		conn = c
	}
	setMemoryLimit(cfg.MaxUpstreamMemory, log)
	client := dune.NewClient(dune.Config{BaseURL: baseURL, APIKey: apiKey, UserAgent: "dune-mcp/" + version,
		MaxUpstreamMemory: cfg.MaxUpstreamMemory, Limiter: newLimiter(cfg, conn, m, log), Observe: observeUpstream(m)})
	tcfg := tools.Config{
		Fetcher:              client,
		DefaultMaxTokens:     cfg.MaxTokens,
		CursorSecret:         []byte(cfg.CursorSecret.Reveal()),
		Demo:                 cfg.Demo,
		Logger:               log,
		CallTimeout:          cfg.CallTimeout,
		NoExecute:            cfg.NoExecute,
		ResultViews:          cfg.ResultViews,
		MaxDatapointsPerCall: cfg.MaxDatapointsPerCall,
		DatapointBudget:      cfg.DatapointBudget,
		Metrics:              m,
	}
	if conn != nil {
		tcfg.SharedCache, tcfg.SharedRuns = conn, conn
	}
	toolset, err := tools.New(tcfg)
	if err != nil {
		return fmt.Errorf("building tools: %w", err)
	}
	httpMode := cfg.Transport == config.TransportHTTP
	missingKey := "" // over HTTP: transport.NoKeyMessage, which asks for a per-request key
	if !httpMode {
		missingKey = tools.MissingKeyMessage
	}
	srv := transport.New(transport.Options{
		Name:              "dune-mcp",
		Version:           version,
		Title:             "Dune Analytics query results",
		Instructions:      tools.Instructions(demo),
		Tools:             toolset.ServerTools(),
		Logger:            log,
		RequireRequestKey: apiKey == "",
		MissingKeyMessage: missingKey,
	})

	log.Info().Str("version", version).Str("transport", cfg.Transport).Bool("demo", cfg.Demo).
		Str("dune_base_url", baseURL).Bool("api_key_set", apiKey != "").Int("max_tokens", cfg.MaxTokens).
		Bool("cursor_secret_set", cfg.CursorSecret != "").Bool("redis", cfg.RedisURL != "").Msg("starting dune-mcp")
	warnings(cfg, log)

	if !httpMode {
		return srv.ServeStdio(ctx, stdin, stdout, 0)
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	return srv.ServeHTTP(ctx, ln, transport.HTTPConfig{
		AuthToken:         cfg.AuthToken.Reveal(),
		AllowedOrigins:    cfg.AllowedOrigins,
		AcceptRequestKeys: !cfg.Demo,
		MaxStreams:        cfg.MaxStreams,
		Health:            map[string]any{"name": "dune-mcp", "version": version, "demo": cfg.Demo},
	})
}

// memoryAllowance is what the soft memory limit allows beyond the upstream
// memory budget: the page cache (64 MiB by default) and the process itself
// (about 40 MB with its buffers and goroutines).
const memoryAllowance = 128 << 20

// setMemoryLimit sets the Go runtime's soft memory limit to the upstream
// memory budget (dune/budget.go) plus memoryAllowance, so the garbage
// collector runs before the heap outgrows what the budget lets live, unless
// the user set a limit (GOMEMLIMIT), which is kept.
func setMemoryLimit(budget int64, log zerolog.Logger) {
	if budget <= 0 {
		budget = dune.DefaultMaxUpstreamMemory
	}
	if cur := debug.SetMemoryLimit(-1); cur != math.MaxInt64 {
		log.Debug().Int64("limit", cur).Msg("GOMEMLIMIT is set: keeping it")
		return
	}
	debug.SetMemoryLimit(budget + memoryAllowance)
}

// startDemoEmulator serves the Dune API emulator with its demo datasets on
// a loopback port, in this process.
func startDemoEmulator(log zerolog.Logger) (url string, stop func(), err error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, fmt.Errorf("demo emulator: %w", err)
	}
	emu := emulator.NewUnstartedServer(emulator.WithDemoData())
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := emu.Serve(ctx, ln); err != nil {
			log.Error().Err(err).Msg("demo emulator stopped")
		}
	}()
	url = "http://" + ln.Addr().String()
	log.Info().Str("emulator_url", url).Int("queries", len(emulator.DemoQueries)).
		Msg("demo mode: serving synthetic datasets from the embedded Dune emulator; no Dune key or network used")
	// The stop is bounded so that the exit stays within the drain + 1 s
	// (transport/shutdown.go): by then every call has been answered, and a
	// request still open on the emulator is one the transport gave up on.
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(demoStopGrace):
			log.Warn().Msg("demo emulator still closing connections; exiting without waiting")
		}
	}
	return url, stop, nil
}

// demoStopGrace bounds the demo emulator's stop at shutdown.
const demoStopGrace = 150 * time.Millisecond

// minAuthTokenLen is the DUNE_MCP_AUTH_TOKEN length under which startup warns.
const minAuthTokenLen = 16

func warnings(cfg config.Config, log zerolog.Logger) {
	if cfg.RedisURL != "" && cfg.CursorSecret == "" {
		log.Warn().Msg("--redis-url without " + config.EnvCursorSecret + ": this process's cursors and cached pages are its own; give every replica the same secret to share them")
	}
	if cfg.Demo && cfg.APIKey != "" {
		log.Info().Msg("demo mode: " + config.EnvAPIKey + " is ignored")
	}
	if cfg.Transport != config.TransportHTTP {
		if cfg.APIKey == "" && !cfg.Demo {
			log.Warn().Msg(tools.MissingKeyMessage)
		}
		return
	}
	if cfg.APIKey == "" && !cfg.Demo {
		log.Warn().Msg("no " + config.EnvAPIKey + ": every client must send its own key in the " + transport.APIKeyHeader + " header")
	}
	if cfg.AuthToken == "" {
		if !loopback.Addr(cfg.Addr) {
			log.Warn().Str("addr", cfg.Addr).Msg("listening beyond loopback WITHOUT authentication (--allow-unauthenticated)")
		}
	} else if len(cfg.AuthToken) < minAuthTokenLen {
		log.Warn().Msgf("%s is shorter than %d characters: easy to guess, and values under %d bytes are not redacted from logs; use at least 32 random characters",
			config.EnvAuthToken, minAuthTokenLen, logging.MinSecretLen)
	}
}
