// Package config turns dune-mcp's command line and environment into a
// validated Config. Flags beat environment variables; every invalid value is
// reported as one line naming the flag or variable and what is accepted.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/loopback"
	"github.com/dune-mcp/dune-mcp/internal/redisconn"
	"github.com/dune-mcp/dune-mcp/logging"
	"github.com/dune-mcp/dune-mcp/schemas"
	"github.com/dune-mcp/dune-mcp/tools"
	"github.com/dune-mcp/dune-mcp/transport"
)

// Environment variable names. They are part of the public interface (README.md
// lists them); flags beat them.
const (
	EnvTransport      = "DUNE_MCP_TRANSPORT"
	EnvAddr           = "DUNE_MCP_ADDR"
	EnvDemo           = "DUNE_MCP_DEMO"
	EnvMaxTokens      = "DUNE_MCP_MAX_TOKENS"
	EnvAPIKey         = "DUNE_API_KEY"
	EnvBaseURL        = "DUNE_API_BASE_URL"
	EnvAuthToken      = "DUNE_MCP_AUTH_TOKEN"
	EnvCursorSecret   = "DUNE_MCP_CURSOR_SECRET"
	EnvLogLevel       = "DUNE_MCP_LOG_LEVEL"
	EnvLogFormat      = "DUNE_MCP_LOG_FORMAT"
	EnvAllowedOrigins = "DUNE_MCP_ALLOWED_ORIGINS"
	EnvCallTimeout    = "DUNE_MCP_CALL_TIMEOUT"
	EnvNoExecute      = "DUNE_MCP_NO_EXECUTE"
	EnvMaxDatapoints  = "DUNE_MCP_MAX_DATAPOINTS_PER_CALL"
	EnvBudget         = "DUNE_MCP_DATAPOINT_BUDGET"
	EnvRedisURL       = "DUNE_MCP_REDIS_URL"
	EnvMaxUpstreamMem = "DUNE_MCP_MAX_UPSTREAM_MEMORY"
	EnvMaxStreams     = "DUNE_MCP_MAX_STREAMS"
	EnvDunePlan       = "DUNE_MCP_DUNE_PLAN"
	EnvRPMRead        = "DUNE_MCP_DUNE_RPM_READ"
	EnvRPMWrite       = "DUNE_MCP_DUNE_RPM_WRITE"
	EnvMetricsAddr    = "DUNE_MCP_METRICS_ADDR"
	EnvResultViews    = "DUNE_MCP_RESULT_VIEWS"
)

// Defaults and bounds owned here. The others have one owner each and are
// used from there: the Dune API host is dune.DefaultBaseURL, the call
// timeout tools.DefaultCallTimeout, and --max-tokens defaults to
// schemas.DefaultMaxTokens within [schemas.MinMaxTokens,
// schemas.MaxMaxTokens], the range a single call's max_tokens is clamped to.
const (
	// DefaultAddr is the default HTTP listen address.
	DefaultAddr = "127.0.0.1:8080"
	// MaxCallTimeout is the largest --call-timeout accepted.
	MaxCallTimeout = 30 * time.Minute
	// MinUpstreamMemory and MaxUpstreamMemory bound --max-upstream-memory
	// (its default is dune.DefaultMaxUpstreamMemory).
	MinUpstreamMemory = 8 << 20
	MaxUpstreamMemory = 64 << 30
	// MaxMaxStreams is the largest --max-streams accepted.
	MaxMaxStreams = 65536
	// defaultMaxStreams is transport's (Parse's transport variable hides the package).
	defaultMaxStreams = transport.DefaultMaxStreams
)

// Transports.
const (
	TransportStdio = "stdio"
	TransportHTTP  = "http"
)

// KeyURL is where Dune users create an API key.
const KeyURL = "https://dune.com/settings/api"

// Secret is a string that never prints itself: fmt, zerolog's Stringer and
// Interface, and encoding/json all see logging.Redacted ("[REDACTED]", the
// mark the log redactor writes too). Reveal returns the value.
type Secret string

// String implements fmt.Stringer.
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return logging.Redacted
}

// MarshalText implements encoding.TextMarshaler (used by encoding/json).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// GoString implements fmt.GoStringer so %#v redacts too.
func (s Secret) GoString() string { return strconv.Quote(s.String()) }

// Reveal returns the secret value. Call it only where the value is sent.
func (s Secret) Reveal() string { return string(s) }

// Config is the validated configuration of one dune-mcp process.
type Config struct {
	Transport            string // TransportStdio or TransportHTTP
	Addr                 string // HTTP listen address, host:port
	Demo                 bool
	MaxTokens            int
	CallTimeout          time.Duration // bound of one tool call's wait on Dune
	NoExecute            bool          // never run a query (max_age_hours is refused)
	MaxDatapointsPerCall int64         // cap of one call's reads, in datapoints
	DatapointBudget      int64         // reads allowed per Dune key over the process's life (0: unlimited)
	MaxUpstreamMemory    int64         // process-wide budget of the memory Dune answers occupy (dune/budget.go)
	ResultViews          string        // which part of a result carries the rows: tools.ViewsAuto, ...
	APIKey               Secret
	BaseURL              string
	AuthToken            Secret
	CursorSecret         Secret
	// RedisURL is the Redis or Valkey that replicas share (page cache,
	// executions, rate-limit buckets); "" keeps everything in-process. It
	// may hold a password.
	RedisURL             Secret
	LogLevel             zerolog.Level
	LogFormat            string // logging.FormatJSON or logging.FormatConsole
	AllowedOrigins       []string
	MaxStreams           int // SSE and GET /mcp streams open at once, over HTTP
	AllowUnauthenticated bool
	ShowVersion          bool
	// DunePlan is the plan whose published rate limits the limiter starts
	// from; "" starts without a limit. Either way the limits Dune declares
	// in its RateLimit-Policy header take over from its first answer.
	DunePlan dune.Plan
	// RPMRead and RPMWrite are explicit limits, requests per minute per
	// key, that Dune's headers may lower but never raise; 0 when not given
	// (the plan's, or Dune's headers', apply).
	RPMRead, RPMWrite int
	// MetricsAddr is where Prometheus metrics are served, host:port on a
	// listener of their own; "" serves none.
	MetricsAddr string
}

// Secrets returns the non-empty secret values, for log redaction.
func (c Config) Secrets() []string {
	var out []string
	for _, s := range []Secret{c.APIKey, c.AuthToken, c.CursorSecret, c.RedisURL} {
		if s != "" {
			out = append(out, s.Reveal())
		}
	}
	if p := redisconn.Password(c.RedisURL.Reveal()); p != "" {
		out = append(out, p)
	}
	return out
}

// UsageError is a bad command line or environment: the process should print
// it as one line and exit with status 2.
type UsageError struct{ Msg string }

// Error returns the one-line message, without the program name.
func (e *UsageError) Error() string { return e.Msg }

// ErrHelp is returned by Parse when -h or --help was given; the usage text has
// been written to the output passed to Parse.
var ErrHelp = flag.ErrHelp

func usageErrorf(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// Parse reads args (without the program name) and the environment through
// getenv. Usage text for --help goes to help. Errors are *UsageError or
// ErrHelp.
func Parse(args []string, getenv func(string) string, help io.Writer) (Config, error) {
	fs := flag.NewFlagSet("dune-mcp", flag.ContinueOnError)
	fs.SetOutput(io.Discard)

	var (
		transport, addr, baseURL, logLevel, logFormat, origins string
		demo, allowUnauth, version, noExecute                  bool
		maxTokens, callTimeout, maxDatapoints, dpBudget        string
		redisURL                                               string
		maxUpstreamMem                                         string
		maxStreams                                             string
		plan, rpmRead, rpmWrite, metricsAddr                   string
		resultViews                                            string
	)
	fs.StringVar(&transport, "transport", TransportStdio, "`stdio|http` (sse is an alias of http) ["+EnvTransport+"]")
	fs.StringVar(&addr, "addr", DefaultAddr, "HTTP listen `host:port` ["+EnvAddr+"]")
	fs.BoolVar(&demo, "demo", false, "serve the embedded Dune emulator's sample datasets: no key, no network ["+EnvDemo+"]")
	fs.StringVar(&maxTokens, "max-tokens", strconv.Itoa(schemas.DefaultMaxTokens), fmt.Sprintf("default token budget of one tool result, `N` in [%d, %d] [%s]", schemas.MinMaxTokens, schemas.MaxMaxTokens, EnvMaxTokens))
	fs.StringVar(&callTimeout, "call-timeout", tools.DefaultCallTimeout.String(), "how long one tool call may wait on Dune, retries included, as a Go `duration` (e.g. 50s, 2m) ["+EnvCallTimeout+"]")
	fs.BoolVar(&noExecute, "no-execute", false, "never run a query: get_latest_result refuses max_age_hours ["+EnvNoExecute+"]")
	fs.StringVar(&maxDatapoints, "max-datapoints-per-call", strconv.Itoa(tools.DefaultMaxDatapointsPerCall), "most Dune datapoints (rows × columns) one tool call may read, `N` ≥ 1 ["+EnvMaxDatapoints+"]")
	fs.StringVar(&dpBudget, "datapoint-budget", "0", "Dune datapoints this process may read per API key over its life, `N`; 0 = unlimited ["+EnvBudget+"]")
	fs.StringVar(&redisURL, "redis-url", "", "Redis or Valkey `URL` (redis:// or rediss://, [:password@]host[:port][/db]) that replicas share for the page cache and executions; prefer the environment, which ps does not show ["+EnvRedisURL+"]")
	fs.StringVar(&maxUpstreamMem, "max-upstream-memory", formatSize(dune.DefaultMaxUpstreamMemory), "process-wide budget of the memory Dune answers occupy, a `size` such as 256MiB or 1GiB; calls beyond it wait ["+EnvMaxUpstreamMem+"]")
	fs.StringVar(&resultViews, "result-views", tools.ViewsAuto, "which part of a result carries the rows: `"+strings.Join(tools.ResultViewNames, "|")+"`; auto follows the client (docs/result-views.md) ["+EnvResultViews+"]")
	fs.StringVar(&baseURL, "dune-base-url", dune.DefaultBaseURL, "Dune API `URL`; the client appends /api/v1/... ["+EnvBaseURL+"]")
	fs.StringVar(&logLevel, "log-level", "info", "`level`: "+levelNames+" ["+EnvLogLevel+"]")
	fs.StringVar(&logFormat, "log-format", logging.FormatJSON, "`json|console`, always to stderr ["+EnvLogFormat+"]")
	fs.StringVar(&origins, "allowed-origins", "", "comma-separated browser `origins` allowed besides localhost, e.g. https://app.example.com ["+EnvAllowedOrigins+"]")
	fs.StringVar(&maxStreams, "max-streams", strconv.Itoa(defaultMaxStreams), fmt.Sprintf("most SSE and GET /mcp streams open at once over HTTP, `N` in [1, %d]; beyond it 503 with Retry-After [%s]", MaxMaxStreams, EnvMaxStreams))
	fs.StringVar(&plan, "dune-plan", "", "Dune `plan` whose rate limits to start from: free|plus|premium|enterprise; unset: none until Dune's RateLimit-Policy header gives them (it takes over from the first answer either way) ["+EnvDunePlan+"]")
	fs.StringVar(&rpmRead, "dune-rpm-read", "0", "cap on read requests (results, status) per minute per Dune key, `N`; 0: --dune-plan's ["+EnvRPMRead+"]")
	fs.StringVar(&rpmWrite, "dune-rpm-write", "0", "cap on query runs (execute) per minute per Dune key, `N`; 0: --dune-plan's ["+EnvRPMWrite+"]")
	fs.StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics on `host:port`, a listener of its own (never the MCP port); off when empty ["+EnvMetricsAddr+"]")
	fs.BoolVar(&allowUnauth, "allow-unauthenticated", false, "allow a non-loopback --addr without "+EnvAuthToken)
	fs.BoolVar(&version, "version", false, "print the version and exit")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(fs, help)
			return Config{}, ErrHelp
		}
		return Config{}, usageErrorf("%v (see dune-mcp --help)", err)
	}
	if fs.NArg() > 0 {
		return Config{}, usageErrorf("unexpected argument %q (see dune-mcp --help)", fs.Arg(0))
	}
	if version {
		// --version answers even when the environment holds invalid values.
		return Config{ShowVersion: true}, nil
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	// pick returns the flag value if the flag was given, else the env value
	// if set, else the flag's default; and the name to blame for errors.
	pick := func(name, flagVal, env string) (string, string) {
		if set[name] {
			return flagVal, "--" + name
		}
		if v, ok := lookup(getenv, env); ok {
			return v, env
		}
		return flagVal, "--" + name
	}

	cfg := Config{
		APIKey:               Secret(strings.TrimSpace(getenv(EnvAPIKey))),
		AuthToken:            Secret(strings.TrimSpace(getenv(EnvAuthToken))),
		CursorSecret:         Secret(getenv(EnvCursorSecret)),
		AllowUnauthenticated: allowUnauth,
	}

	v, src := pick("transport", transport, EnvTransport)
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "stdio":
		cfg.Transport = TransportStdio
	case "http", "sse", "streamable-http":
		cfg.Transport = TransportHTTP
	default:
		return Config{}, usageErrorf("invalid %s %q: want stdio or http (sse is an alias of http)", src, v)
	}

	v, src = pick("addr", addr, EnvAddr)
	if err := checkAddr(v); err != nil {
		return Config{}, usageErrorf("invalid %s %q: %v", src, v, err)
	}
	cfg.Addr = v

	// pickBool is pick for a boolean flag, whose environment value is parsed.
	pickBool := func(name string, flagVal bool, env string) (bool, error) {
		if set[name] {
			return flagVal, nil
		}
		s, ok := lookup(getenv, env)
		if !ok {
			return flagVal, nil
		}
		b, err := parseBool(s)
		if err != nil {
			return false, usageErrorf("invalid %s %q: want true or false", env, s)
		}
		return b, nil
	}
	var err error
	if cfg.Demo, err = pickBool("demo", demo, EnvDemo); err != nil {
		return Config{}, err
	}
	if cfg.NoExecute, err = pickBool("no-execute", noExecute, EnvNoExecute); err != nil {
		return Config{}, err
	}

	v, src = pick("max-tokens", maxTokens, EnvMaxTokens)
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < schemas.MinMaxTokens || n > schemas.MaxMaxTokens {
		return Config{}, usageErrorf("invalid %s %q: want an integer in [%d, %d]", src, v, schemas.MinMaxTokens, schemas.MaxMaxTokens)
	}
	cfg.MaxTokens = n

	v, src = pick("call-timeout", callTimeout, EnvCallTimeout)
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil || d < time.Second || d > MaxCallTimeout {
		return Config{}, usageErrorf("invalid %s %q: want a duration from 1s to %s, e.g. 50s", src, v, MaxCallTimeout)
	}
	cfg.CallTimeout = d

	v, src = pick("max-datapoints-per-call", maxDatapoints, EnvMaxDatapoints)
	if cfg.MaxDatapointsPerCall, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil || cfg.MaxDatapointsPerCall < 1 {
		return Config{}, usageErrorf("invalid %s %q: want a whole number of datapoints ≥ 1", src, v)
	}
	v, src = pick("result-views", resultViews, EnvResultViews)
	cfg.ResultViews = strings.ToLower(strings.TrimSpace(v))
	if !slices.Contains(tools.ResultViewNames, cfg.ResultViews) {
		return Config{}, usageErrorf("invalid %s %q: want one of %s", src, v, strings.Join(tools.ResultViewNames, ", "))
	}
	v, src = pick("datapoint-budget", dpBudget, EnvBudget)
	if cfg.DatapointBudget, err = strconv.ParseInt(strings.TrimSpace(v), 10, 64); err != nil || cfg.DatapointBudget < 0 {
		return Config{}, usageErrorf("invalid %s %q: want a whole number of datapoints ≥ 0 (0: unlimited)", src, v)
	}

	v, src = pick("max-upstream-memory", maxUpstreamMem, EnvMaxUpstreamMem)
	if cfg.MaxUpstreamMemory, err = parseSize(v); err != nil || cfg.MaxUpstreamMemory < MinUpstreamMemory || cfg.MaxUpstreamMemory > MaxUpstreamMemory {
		return Config{}, usageErrorf("invalid %s %q: want a size from %s to %s, e.g. 256MiB", src, v, formatSize(MinUpstreamMemory), formatSize(MaxUpstreamMemory))
	}

	v, src = pick("dune-base-url", baseURL, EnvBaseURL)
	u, err := checkBaseURL(v)
	if err != nil {
		return Config{}, usageErrorf("invalid %s %q: %v", src, v, err)
	}
	cfg.BaseURL = u

	v, src = pick("redis-url", redisURL, EnvRedisURL)
	if v = strings.TrimSpace(v); v != "" {
		if _, err := redisconn.ParseURL(v); err != nil {
			return Config{}, usageErrorf("invalid %s: %v", src, err) // never the value: it may hold a password
		}
		cfg.RedisURL = Secret(v)
	}

	v, src = pick("log-level", logLevel, EnvLogLevel)
	lvl, err := parseLevel(v)
	if err != nil {
		return Config{}, usageErrorf("invalid %s %q: want one of %s", src, v, levelNames)
	}
	cfg.LogLevel = lvl

	v, src = pick("log-format", logFormat, EnvLogFormat)
	switch f := strings.ToLower(strings.TrimSpace(v)); f {
	case logging.FormatJSON, logging.FormatConsole:
		cfg.LogFormat = f
	default:
		return Config{}, usageErrorf("invalid %s %q: want json or console", src, v)
	}

	v, src = pick("max-streams", maxStreams, EnvMaxStreams)
	if cfg.MaxStreams, err = strconv.Atoi(strings.TrimSpace(v)); err != nil || cfg.MaxStreams < 1 || cfg.MaxStreams > MaxMaxStreams {
		return Config{}, usageErrorf("invalid %s %q: want an integer in [1, %d]", src, v, MaxMaxStreams)
	}

	v, src = pick("allowed-origins", origins, EnvAllowedOrigins)
	cfg.AllowedOrigins, err = parseOrigins(v)
	if err != nil {
		return Config{}, usageErrorf("invalid %s: %v", src, err)
	}

	v, src = pick("dune-plan", plan, EnvDunePlan)
	if v = strings.ToLower(strings.TrimSpace(v)); v != "" {
		if _, ok := dune.PlanQuota(dune.Plan(v)); !ok {
			return Config{}, usageErrorf("invalid %s %q: want one of %s", src, v, planNames())
		}
		cfg.DunePlan = dune.Plan(v)
	}
	for _, r := range []struct {
		name, flagVal, env string
		dst                *int
	}{{"dune-rpm-read", rpmRead, EnvRPMRead, &cfg.RPMRead}, {"dune-rpm-write", rpmWrite, EnvRPMWrite, &cfg.RPMWrite}} {
		v, src = pick(r.name, r.flagVal, r.env)
		if *r.dst, err = strconv.Atoi(strings.TrimSpace(v)); err != nil || *r.dst < 0 {
			return Config{}, usageErrorf("invalid %s %q: want a whole number of requests per minute ≥ 1 (0: the plan's)", src, v)
		}
	}

	v, src = pick("metrics-addr", metricsAddr, EnvMetricsAddr)
	if v = strings.TrimSpace(v); v != "" {
		if err := checkAddr(v); err != nil {
			return Config{}, usageErrorf("invalid %s %q: %v", src, v, err)
		}
		cfg.MetricsAddr = v
	}

	return cfg, nil
}

// Check reports a configuration that parses but cannot run: an
// unauthenticated non-loopback bind. Its errors are *UsageError with a
// one-line, actionable message. A stdio server without a Dune key is not
// one: it starts and answers every tool call with tools.MissingKeyMessage,
// which an MCP client shows, where an exit shows only "Failed to connect".
func (c Config) Check() error {
	if c.ShowVersion {
		return nil
	}
	if c.MetricsAddr != "" && c.Transport == TransportHTTP && sameListener(c.MetricsAddr, c.Addr) {
		return usageErrorf("--metrics-addr %s is the MCP address: metrics need a listener of their own, e.g. 127.0.0.1:9464", c.MetricsAddr)
	}
	if c.Transport == TransportHTTP && c.AuthToken == "" && !c.AllowUnauthenticated && !loopback.Addr(c.Addr) {
		return usageErrorf("refusing to listen on non-loopback address %s without %s: set a token, bind 127.0.0.1, or pass --allow-unauthenticated", c.Addr, EnvAuthToken)
	}
	return nil
}

// sameListener reports whether two host:port addresses would listen on the
// same port of overlapping interfaces (equal, or either host unspecified).
func sameListener(a, b string) bool {
	ha, pa, _ := net.SplitHostPort(a)
	hb, pb, _ := net.SplitHostPort(b)
	if pa != pb || pa == "0" {
		return false
	}
	unspecified := func(h string) bool { return h == "" || h == "0.0.0.0" || h == "::" }
	return ha == hb || unspecified(ha) || unspecified(hb)
}

// planNames lists the plans for error texts: "free, plus, premium, enterprise".
func planNames() string {
	names := make([]string, len(dune.Plans))
	for i, p := range dune.Plans {
		names[i] = string(p)
	}
	return strings.Join(names, ", ")
}

func lookup(getenv func(string) string, name string) (string, bool) {
	v := getenv(name)
	return v, v != ""
}

func parseBool(s string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "1", "t", "true", "yes", "y", "on":
		return true, nil
	case "0", "f", "false", "no", "n", "off":
		return false, nil
	}
	return false, errors.New("not a boolean")
}

// levelNames lists the accepted log levels, for help and error texts.
const levelNames = "trace, debug, info, warn, error, disabled"

// levels maps the accepted --log-level names (and two aliases) to zerolog's.
var levels = map[string]zerolog.Level{
	"trace": zerolog.TraceLevel, "debug": zerolog.DebugLevel, "info": zerolog.InfoLevel,
	"warn": zerolog.WarnLevel, "warning": zerolog.WarnLevel, "error": zerolog.ErrorLevel,
	"disabled": zerolog.Disabled, "off": zerolog.Disabled,
}

func parseLevel(s string) (zerolog.Level, error) {
	if l, ok := levels[strings.ToLower(strings.TrimSpace(s))]; ok {
		return l, nil
	}
	return zerolog.NoLevel, errors.New("unknown level")
}

func checkAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return errors.New("want host:port, e.g. 127.0.0.1:8080")
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 0 || p > 65535 {
		return errors.New("port must be a number in [0, 65535]")
	}
	if strings.ContainsAny(host, " /") {
		return errors.New("malformed host")
	}
	return nil
}

func checkBaseURL(raw string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return "", errors.New("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", errors.New("want an http:// or https:// URL")
	}
	if u.Host == "" {
		return "", errors.New("missing host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("want scheme://host[:port][/path] without credentials, query or fragment")
	}
	if u.Scheme == "http" && !loopback.Host(u.Hostname()) {
		return "", errors.New("plain http would send the Dune API key unencrypted: use https (http is accepted only for loopback hosts such as the emulator)")
	}
	return strings.TrimRight(u.String(), "/"), nil
}

// parseOrigins parses a comma-separated list of origins (scheme://host[:port])
// into their canonical lower-case form.
func parseOrigins(raw string) ([]string, error) {
	var out []string
	for _, part := range strings.Split(raw, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		o, err := CanonicalOrigin(part)
		if err != nil {
			return nil, fmt.Errorf("origin %q: %w", part, err)
		}
		out = append(out, o)
	}
	return out, nil
}

// CanonicalOrigin returns origin as lower-case scheme://host[:port], the form
// browsers send in the Origin header, or an error if it is not one.
func CanonicalOrigin(origin string) (string, error) {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme == "" || u.Host == "" || u.Opaque != "" {
		return "", errors.New("want scheme://host[:port]")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return "", errors.New("want scheme://host[:port] with no path, query or credentials")
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

func printUsage(fs *flag.FlagSet, w io.Writer) {
	if w == nil {
		return
	}
	fmt.Fprintf(w, `dune-mcp: an MCP server that reads Dune Analytics query results within a token budget.

Usage:
  dune-mcp [flags]                      serve MCP over stdio (default) or HTTP
  dune-mcp emulator [--addr host:port]  run the Dune API emulator alone (sample data)
  dune-mcp demo-session                 run a scripted MCP session against --demo and print it
  dune-mcp healthcheck                  probe a running HTTP server's /healthz (the container's HEALTHCHECK)

Each subcommand has its own --help.

Flags (flags beat environment variables):
`)
	var flags strings.Builder
	fs.SetOutput(&flags)
	fs.PrintDefaults()
	fs.SetOutput(io.Discard)
	// GNU-style double dashes, as everywhere else in the docs.
	io.WriteString(w, strings.ReplaceAll("\n"+flags.String(), "\n  -", "\n  --")[1:])
	fmt.Fprintf(w, `
Environment only:
  %-23s Dune API key (create one at %s); not needed with --demo
  %-23s bearer token required on every HTTP MCP endpoint
  %-23s HMAC key for cursors; set it to share cursors across replicas/restarts

Over HTTP, a client may send its own Dune key in the %s header.
`, EnvAPIKey, KeyURL, EnvAuthToken, EnvCursorSecret, transport.APIKeyHeader)
}

// Emulator is the configuration of the `dune-mcp emulator` subcommand.
type Emulator struct {
	Addr   string
	APIKey string // accepted key; empty accepts any
	// LogFormat and LogLevel configure the emulator's stderr logging.
	LogFormat string
	LogLevel  zerolog.Level
	// Plan makes the emulator enforce a plan's rate limits per key (429
	// beyond them); "" enforces none.
	Plan dune.Plan
}

// DefaultEmulatorAddr is where `dune-mcp emulator` listens by default.
const DefaultEmulatorAddr = "127.0.0.1:9090"

// ParseEmulator parses the flags of `dune-mcp emulator`. defaultKey is the
// key accepted when --api-key is not given.
func ParseEmulator(args []string, defaultKey string, help io.Writer) (Emulator, error) {
	fs := flag.NewFlagSet("dune-mcp emulator", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	e := Emulator{}
	var level string
	fs.StringVar(&e.Addr, "addr", DefaultEmulatorAddr, "listen `host:port` (port 0 picks a free one)")
	fs.StringVar(&e.APIKey, "api-key", defaultKey, "the API `key` clients must send in X-Dune-Api-Key; empty accepts any")
	fs.StringVar(&e.LogFormat, "log-format", logging.FormatJSON, "`json|console`, to stderr")
	fs.StringVar(&level, "log-level", "info", "`level`: "+levelNames)
	var plan string
	fs.StringVar(&plan, "plan", "", "enforce a Dune `plan`'s rate limits per key, answering 429 beyond them as Dune does: "+planNames()+"; none when empty")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if help != nil {
				fmt.Fprintf(help, "Usage: dune-mcp emulator [flags]\n\nRuns the Dune API emulator with the demo datasets; point any client at it with %s.\n\n", EnvBaseURL)
				fs.SetOutput(help)
				fs.PrintDefaults()
			}
			return Emulator{}, ErrHelp
		}
		return Emulator{}, usageErrorf("emulator: %v (see dune-mcp emulator --help)", err)
	}
	if fs.NArg() > 0 {
		return Emulator{}, usageErrorf("emulator: unexpected argument %q", fs.Arg(0))
	}
	if err := checkAddr(e.Addr); err != nil {
		return Emulator{}, usageErrorf("emulator: invalid --addr %q: %v", e.Addr, err)
	}
	if e.LogFormat != logging.FormatJSON && e.LogFormat != logging.FormatConsole {
		return Emulator{}, usageErrorf("emulator: invalid --log-format %q: want json or console", e.LogFormat)
	}
	lvl, err := parseLevel(level)
	if err != nil {
		return Emulator{}, usageErrorf("emulator: invalid --log-level %q: want one of %s", level, levelNames)
	}
	e.LogLevel = lvl
	if plan != "" {
		if _, ok := dune.PlanQuota(dune.Plan(plan)); !ok {
			return Emulator{}, usageErrorf("emulator: invalid --plan %q: want one of %s", plan, planNames())
		}
		e.Plan = dune.Plan(plan)
	}
	return e, nil
}

// sizeUnits are the suffixes parseSize accepts, longest first.
var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"GB", 1e9}, {"MB", 1e6}, {"KB", 1e3}, {"B", 1}}

// parseSize reads a byte size: a whole number with an optional unit (B,
// KB, MB, GB, KiB, MiB, GiB; case-insensitive), e.g. 256MiB.
func parseSize(v string) (int64, error) {
	v = strings.TrimSpace(v)
	mult := int64(1)
	for _, u := range sizeUnits {
		if len(v) > len(u.suffix) && strings.EqualFold(v[len(v)-len(u.suffix):], u.suffix) {
			v, mult = strings.TrimSpace(v[:len(v)-len(u.suffix)]), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/mult {
		return 0, fmt.Errorf("not a size")
	}
	return n * mult, nil
}

// formatSize writes n bytes in the largest binary unit that divides it.
func formatSize(n int64) string {
	for _, u := range sizeUnits[:3] {
		if n >= u.mult && n%u.mult == 0 {
			return strconv.FormatInt(n/u.mult, 10) + u.suffix
		}
	}
	return strconv.FormatInt(n, 10) + "B"
}
