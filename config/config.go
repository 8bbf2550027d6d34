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
	ResultViews          string        // which part of a result carries the rows: tools.ViewsAuto, ...
	APIKey               Secret
	BaseURL              string
	AuthToken            Secret
	CursorSecret         Secret
	LogLevel             zerolog.Level
	LogFormat            string // logging.FormatJSON or logging.FormatConsole
	AllowedOrigins       []string
	AllowUnauthenticated bool
	ShowVersion          bool
}

// Secrets returns the non-empty secret values, for log redaction.
func (c Config) Secrets() []string {
	var out []string
	for _, s := range []Secret{c.APIKey, c.AuthToken, c.CursorSecret} {
		if s != "" {
			out = append(out, s.Reveal())
		}
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
	fs.StringVar(&resultViews, "result-views", tools.ViewsAuto, "which part of a result carries the rows: `"+strings.Join(tools.ResultViewNames, "|")+"`; auto follows the client (docs/result-views.md) ["+EnvResultViews+"]")
	fs.StringVar(&baseURL, "dune-base-url", dune.DefaultBaseURL, "Dune API `URL`; the client appends /api/v1/... ["+EnvBaseURL+"]")
	fs.StringVar(&logLevel, "log-level", "info", "`level`: "+levelNames+" ["+EnvLogLevel+"]")
	fs.StringVar(&logFormat, "log-format", logging.FormatJSON, "`json|console`, always to stderr ["+EnvLogFormat+"]")
	fs.StringVar(&origins, "allowed-origins", "", "comma-separated browser `origins` allowed besides localhost, e.g. https://app.example.com ["+EnvAllowedOrigins+"]")
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

	v, src = pick("dune-base-url", baseURL, EnvBaseURL)
	u, err := checkBaseURL(v)
	if err != nil {
		return Config{}, usageErrorf("invalid %s %q: %v", src, v, err)
	}
	cfg.BaseURL = u

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

	v, src = pick("allowed-origins", origins, EnvAllowedOrigins)
	cfg.AllowedOrigins, err = parseOrigins(v)
	if err != nil {
		return Config{}, usageErrorf("invalid %s: %v", src, err)
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
	if c.Transport == TransportHTTP && c.AuthToken == "" && !c.AllowUnauthenticated && !loopback.Addr(c.Addr) {
		return usageErrorf("refusing to listen on non-loopback address %s without %s: set a token, bind 127.0.0.1, or pass --allow-unauthenticated", c.Addr, EnvAuthToken)
	}
	return nil
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
	return e, nil
}
