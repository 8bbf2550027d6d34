package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/logging"
	"github.com/dune-mcp/dune-mcp/schemas"
	"github.com/dune-mcp/dune-mcp/tools"
	"github.com/dune-mcp/dune-mcp/transport"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

func TestDefaults(t *testing.T) {
	cfg, err := Parse(nil, env(), nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Transport: TransportStdio, Addr: "127.0.0.1:8080", MaxTokens: schemas.DefaultMaxTokens, CallTimeout: tools.DefaultCallTimeout,
		BaseURL: dune.DefaultBaseURL, LogLevel: zerolog.InfoLevel, LogFormat: logging.FormatJSON,
		MaxDatapointsPerCall: tools.DefaultMaxDatapointsPerCall, MaxUpstreamMemory: dune.DefaultMaxUpstreamMemory, MaxStreams: transport.DefaultMaxStreams, ResultViews: tools.ViewsAuto,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("defaults:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestEnvAndFlags(t *testing.T) {
	e := env(
		EnvTransport, "http", EnvAddr, "127.0.0.1:9000", EnvDemo, "true", EnvMaxTokens, "4000",
		EnvAPIKey, " key-1 ", EnvBaseURL, "http://127.0.0.1:9090/", EnvAuthToken, "tok",
		EnvCursorSecret, "cs", EnvLogLevel, "debug", EnvLogFormat, "console",
		EnvAllowedOrigins, "https://A.example.com, http://b.example:8080", EnvCallTimeout, "2m",
		EnvNoExecute, "true", EnvMaxDatapoints, "5000", EnvBudget, "1000000", EnvMaxUpstreamMem, "1GiB", EnvMaxStreams, "32", EnvResultViews, " Structured ",
	)
	cfg, err := Parse(nil, e, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Transport: TransportHTTP, Addr: "127.0.0.1:9000", Demo: true, MaxTokens: 4000, CallTimeout: 2 * time.Minute,
		APIKey: "key-1", BaseURL: "http://127.0.0.1:9090", AuthToken: "tok", CursorSecret: "cs",
		LogLevel: zerolog.DebugLevel, LogFormat: logging.FormatConsole,
		AllowedOrigins: []string{"https://a.example.com", "http://b.example:8080"},
		NoExecute:      true, MaxDatapointsPerCall: 5000, DatapointBudget: 1000000, MaxUpstreamMemory: 1 << 30, MaxStreams: 32, ResultViews: tools.ViewsStructured,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("from env:\n got %+v\nwant %+v", cfg, want)
	}

	// Flags beat env, both --flag and -flag spellings.
	cfg, err = Parse([]string{"--transport", "stdio", "-addr=localhost:1", "--demo=false", "--max-tokens", "300",
		"--dune-base-url", "https://api.dune.com", "--log-level", "warn", "--log-format=json",
		"--allowed-origins", "https://c.example", "--call-timeout", "5s",
		"--no-execute=false", "--max-datapoints-per-call", "700", "--datapoint-budget", "0", "--max-upstream-memory", "64mib", "--max-streams", "1", "--result-views", "text"}, e, nil)
	if err != nil {
		t.Fatal(err)
	}
	want = Config{
		Transport: TransportStdio, Addr: "localhost:1", Demo: false, MaxTokens: 300, CallTimeout: 5 * time.Second,
		APIKey: "key-1", BaseURL: "https://api.dune.com", AuthToken: "tok", CursorSecret: "cs",
		LogLevel: zerolog.WarnLevel, LogFormat: logging.FormatJSON, AllowedOrigins: []string{"https://c.example"},
		MaxDatapointsPerCall: 700, MaxUpstreamMemory: 64 << 20, MaxStreams: 1, ResultViews: tools.ViewsText,
	}
	if !reflect.DeepEqual(cfg, want) {
		t.Fatalf("flags over env:\n got %+v\nwant %+v", cfg, want)
	}
}

func TestTransportAliases(t *testing.T) {
	for in, want := range map[string]string{"stdio": TransportStdio, "http": TransportHTTP, "sse": TransportHTTP, "HTTP": TransportHTTP, "streamable-http": TransportHTTP} {
		cfg, err := Parse([]string{"--transport", in}, env(), nil)
		if err != nil || cfg.Transport != want {
			t.Errorf("--transport %s = %q, %v; want %q", in, cfg.Transport, err, want)
		}
	}
}

func TestDemoEnvValues(t *testing.T) {
	for in, want := range map[string]bool{"1": true, "true": true, "YES": true, "on": true, "0": false, "false": false, "off": false} {
		cfg, err := Parse(nil, env(EnvDemo, in), nil)
		if err != nil || cfg.Demo != want {
			t.Errorf("%s=%s: demo %v, %v", EnvDemo, in, cfg.Demo, err)
		}
	}
	// The flag wins over the env in both directions.
	if cfg, _ := Parse([]string{"--demo"}, env(EnvDemo, "0"), nil); !cfg.Demo {
		t.Error("--demo lost to DUNE_MCP_DEMO=0")
	}
}

func TestInvalidValues(t *testing.T) {
	cases := []struct {
		args []string
		env  func(string) string
		want string // substring of the one-line message
	}{
		{[]string{"--nope"}, env(), "flag provided but not defined: -nope"},
		{[]string{"--transport", "carrier-pigeon"}, env(), `invalid --transport "carrier-pigeon": want stdio or http`},
		{nil, env(EnvTransport, "ws"), `invalid DUNE_MCP_TRANSPORT "ws"`},
		{[]string{"--addr", "8080"}, env(), `invalid --addr "8080": want host:port`},
		{[]string{"--addr", "127.0.0.1:99999"}, env(), "port must be a number"},
		{nil, env(EnvAddr, "localhost:http"), `invalid DUNE_MCP_ADDR`},
		{[]string{"--max-tokens", "abc"}, env(), fmt.Sprintf(`invalid --max-tokens "abc": want an integer in [%d, %d]`, schemas.MinMaxTokens, schemas.MaxMaxTokens)},
		{[]string{"--max-tokens", strconv.Itoa(schemas.MinMaxTokens - 1)}, env(), fmt.Sprintf(`invalid --max-tokens "%d"`, schemas.MinMaxTokens-1)},
		{[]string{"--max-tokens", strconv.Itoa(schemas.MaxMaxTokens + 1)}, env(), fmt.Sprintf(`invalid --max-tokens "%d"`, schemas.MaxMaxTokens+1)},
		{nil, env(EnvMaxTokens, "lots"), `invalid DUNE_MCP_MAX_TOKENS "lots"`},
		{[]string{"--call-timeout", "50"}, env(), `invalid --call-timeout "50": want a duration from 1s to 30m0s`},
		{[]string{"--call-timeout", "10ms"}, env(), `invalid --call-timeout "10ms"`},
		{nil, env(EnvCallTimeout, "forever"), `invalid DUNE_MCP_CALL_TIMEOUT "forever"`},
		{[]string{"--max-streams", "0"}, env(), `invalid --max-streams "0": want an integer in [1, 65536]`},
		{nil, env(EnvMaxStreams, "lots"), `invalid DUNE_MCP_MAX_STREAMS "lots"`},
		{nil, env(EnvDemo, "maybe"), `invalid DUNE_MCP_DEMO "maybe"`},
		{nil, env(EnvNoExecute, "perhaps"), `invalid DUNE_MCP_NO_EXECUTE "perhaps"`},
		{[]string{"--max-datapoints-per-call", "0"}, env(), `invalid --max-datapoints-per-call "0": want a whole number of datapoints ≥ 1`},
		{[]string{"--result-views", "json"}, env(), `invalid --result-views "json": want one of auto, both, text, structured`},
		{nil, env(EnvResultViews, "all"), `invalid DUNE_MCP_RESULT_VIEWS "all": want one of auto, both, text, structured`},
		{nil, env(EnvMaxDatapoints, "1e6"), `invalid DUNE_MCP_MAX_DATAPOINTS_PER_CALL "1e6"`},
		{[]string{"--datapoint-budget", "-5"}, env(), `invalid --datapoint-budget "-5": want a whole number of datapoints ≥ 0 (0: unlimited)`},
		{[]string{"--max-upstream-memory", "1MiB"}, env(), `invalid --max-upstream-memory "1MiB": want a size from 8MiB to 64GiB, e.g. 256MiB`},
		{[]string{"--max-upstream-memory", "lots"}, env(), `invalid --max-upstream-memory "lots"`},
		{nil, env(EnvMaxUpstreamMem, "-5MiB"), `invalid DUNE_MCP_MAX_UPSTREAM_MEMORY "-5MiB"`},
		{[]string{"--dune-base-url", "ftp://x"}, env(), "want an http:// or https:// URL"},
		{[]string{"--dune-base-url", "https://user:pw@api.dune.com"}, env(), "without credentials"},
		{nil, env(EnvBaseURL, "api.dune.com"), `invalid DUNE_API_BASE_URL`},
		{[]string{"--dune-base-url", "http://api.dune.com"}, env(), "would send the Dune API key unencrypted"},
		{[]string{"--dune-base-url", "http://10.0.0.5:9090"}, env(), "use https"},
		{[]string{"--log-level", "loud"}, env(), `invalid --log-level "loud"`},
		{nil, env(EnvLogLevel, "verbose"), `invalid DUNE_MCP_LOG_LEVEL "verbose"`},
		{[]string{"--log-format", "xml"}, env(), `invalid --log-format "xml": want json or console`},
		{[]string{"--allowed-origins", "example.com"}, env(), `invalid --allowed-origins: origin "example.com"`},
		{[]string{"--allowed-origins", "https://a.example/path"}, env(), "no path"},
		{[]string{"serve"}, env(), `unexpected argument "serve"`},
		{[]string{"--demo=maybe"}, env(), "invalid boolean value"},
	}
	for _, tc := range cases {
		_, err := Parse(tc.args, tc.env, nil)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("%v: error %v is not a *UsageError", tc.args, err)
			continue
		}
		if !strings.Contains(ue.Msg, tc.want) || strings.Contains(ue.Msg, "\n") {
			t.Errorf("%v: message %q, want one line containing %q", tc.args, ue.Msg, tc.want)
		}
	}
}

func TestHelp(t *testing.T) {
	var buf bytes.Buffer
	_, err := Parse([]string{"--help"}, env(), &buf)
	if !errors.Is(err, ErrHelp) {
		t.Fatalf("--help: %v", err)
	}
	for _, ok := range []string{"http://127.0.0.1:9090", "http://localhost:9090", "http://[::1]:9090", "https://api.dune.com/api"} {
		if _, err := Parse([]string{"--dune-base-url", ok}, env(), nil); err != nil {
			t.Errorf("base URL %s rejected: %v", ok, err)
		}
	}
	for _, want := range []string{"-transport", "-addr", "-demo", "-max-tokens", "-call-timeout", "-dune-base-url", "-log-level", "-log-format", "-allowed-origins", "-allow-unauthenticated", "-version", EnvAPIKey, EnvAuthToken, EnvCursorSecret, "emulator"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("usage lacks %q", want)
		}
	}
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		args []string
		env  func(string) string
		want string // "" = ok
	}{
		{"stdio without key (starts; tool calls explain)", nil, env(), ""},
		{"stdio with key", nil, env(EnvAPIKey, "k"), ""},
		{"stdio demo", []string{"--demo"}, env(), ""},
		{"version needs nothing", []string{"--version"}, env(), ""},
		{"http without key (per-request keys)", []string{"--transport", "http"}, env(), ""},
		{"http on all interfaces without token", []string{"--transport", "http", "--addr", "0.0.0.0:8080"}, env(), "refusing to listen on non-loopback address 0.0.0.0:8080 without DUNE_MCP_AUTH_TOKEN"},
		{"http on empty host without token", []string{"--transport", "http", "--addr", ":8080"}, env(), "refusing"},
		{"http on a hostname without token", []string{"--transport", "http", "--addr", "example.com:8080"}, env(), "refusing"},
		{"http non-loopback with token", []string{"--transport", "http", "--addr", "0.0.0.0:8080"}, env(EnvAuthToken, "t"), ""},
		{"http non-loopback allowed", []string{"--transport", "http", "--addr", "0.0.0.0:8080", "--allow-unauthenticated"}, env(), ""},
		{"http on ::1", []string{"--transport", "http", "--addr", "[::1]:8080"}, env(), ""},
		{"http on localhost", []string{"--transport", "http", "--addr", "localhost:8080"}, env(), ""},
	}
	for _, tc := range cases {
		cfg, err := Parse(tc.args, tc.env, nil)
		if err != nil {
			t.Fatalf("%s: parse: %v", tc.name, err)
		}
		err = cfg.Check()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	cfg, err := Parse(nil, env(EnvAPIKey, "sk-live-1", EnvAuthToken, "tok-2", EnvCursorSecret, "cs-3"), nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(cfg)
	outputs := []string{fmt.Sprintf("%v", cfg), fmt.Sprintf("%+v", cfg), fmt.Sprintf("%#v", cfg), string(b), cfg.APIKey.String()}
	for _, out := range outputs {
		for _, secret := range []string{"sk-live-1", "tok-2", "cs-3"} {
			if strings.Contains(out, secret) {
				t.Errorf("secret %q printed in %s", secret, out)
			}
		}
	}
	if cfg.APIKey.Reveal() != "sk-live-1" {
		t.Error("Reveal lost the value")
	}
	if got := cfg.Secrets(); !reflect.DeepEqual(got, []string{"sk-live-1", "tok-2", "cs-3"}) {
		t.Errorf("Secrets() = %v", got)
	}
}

func TestParseEmulator(t *testing.T) {
	e, err := ParseEmulator(nil, "default-key", nil)
	if err != nil || e.Addr != DefaultEmulatorAddr || e.APIKey != "default-key" || e.LogLevel != zerolog.InfoLevel {
		t.Fatalf("defaults: %+v %v", e, err)
	}
	e, err = ParseEmulator([]string{"--addr", "127.0.0.1:0", "--api-key", ""}, "default-key", nil)
	if err != nil || e.Addr != "127.0.0.1:0" || e.APIKey != "" {
		t.Fatalf("flags: %+v %v", e, err)
	}
	for _, args := range [][]string{{"--addr", "nope"}, {"--bogus"}, {"extra"}, {"--log-format", "xml"}} {
		var ue *UsageError
		if _, err := ParseEmulator(args, "k", nil); !errors.As(err, &ue) {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// --version prints and exits whatever else the environment says: it is the
// first thing people run when something is misconfigured.
func TestVersionIgnoresInvalidValues(t *testing.T) {
	bad := env(EnvMaxTokens, "abc", EnvTransport, "ws", EnvCallTimeout, "soon", EnvLogLevel, "loud", EnvBaseURL, "ftp://x")
	cfg, err := Parse([]string{"--version"}, bad, nil)
	if err != nil || !cfg.ShowVersion {
		t.Fatalf("Parse(--version) with invalid env = %+v, %v", cfg, err)
	}
	if err := cfg.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	// Invalid flags are still usage errors: the command line is wrong.
	var ue *UsageError
	if _, err := Parse([]string{"--version", "--bogus"}, env(), nil); !errors.As(err, &ue) {
		t.Errorf("--version --bogus: %v", err)
	}
}

// The levels --help lists are exactly the ones accepted.
func TestLogLevels(t *testing.T) {
	var help bytes.Buffer
	if _, err := Parse([]string{"--help"}, env(), &help); !errors.Is(err, ErrHelp) {
		t.Fatal(err)
	}
	if !strings.Contains(help.String(), "level: "+levelNames) {
		t.Errorf("--help does not list %q:\n%s", levelNames, help.String())
	}
	want := map[string]zerolog.Level{"trace": zerolog.TraceLevel, "debug": zerolog.DebugLevel, "info": zerolog.InfoLevel,
		"warn": zerolog.WarnLevel, "error": zerolog.ErrorLevel, "disabled": zerolog.Disabled}
	for _, name := range strings.Split(levelNames, ", ") {
		cfg, err := Parse([]string{"--log-level", name}, env(), nil)
		if err != nil || cfg.LogLevel != want[name] {
			t.Errorf("--log-level %s: %v, %v", name, cfg.LogLevel, err)
		}
		if e, err := ParseEmulator([]string{"--log-level", name}, "k", nil); err != nil || e.LogLevel != want[name] {
			t.Errorf("emulator --log-level %s: %v, %v", name, e.LogLevel, err)
		}
	}
	for _, name := range []string{"fatal", "panic", ""} {
		if _, err := Parse([]string{"--log-level", name}, env(), nil); err == nil {
			t.Errorf("--log-level %q accepted", name)
		}
	}
}

func TestRedisURL(t *testing.T) {
	const pw = "redis-pass-5e1f0a9c"
	url := "redis://:" + pw + "@cache.internal:6380/2"
	cfg, err := Parse(nil, env(EnvRedisURL, " "+url+" "), nil)
	if err != nil || cfg.RedisURL.Reveal() != url {
		t.Fatalf("from the environment: %q, %v", cfg.RedisURL.Reveal(), err)
	}
	if s := fmt.Sprintf("%v %+v", cfg.RedisURL, cfg); strings.Contains(s, pw) {
		t.Errorf("printing the config shows the password: %s", s)
	}
	secrets := strings.Join(cfg.Secrets(), "\n")
	if !strings.Contains(secrets, "\n"+pw) && !strings.HasPrefix(secrets, pw) {
		t.Errorf("Secrets() lacks the Redis password (log redaction): %q", cfg.Secrets())
	}
	// The flag beats the variable.
	cfg, err = Parse([]string{"--redis-url", "rediss://cache.example.com"}, env(EnvRedisURL, url), nil)
	if err != nil || cfg.RedisURL.Reveal() != "rediss://cache.example.com" {
		t.Fatalf("flag: %q, %v", cfg.RedisURL.Reveal(), err)
	}
	for _, bad := range []string{"http://:" + pw + "@cache", "redis://:" + pw + "@cache/x", "redis://:" + pw + "@:6379"} {
		_, err := Parse(nil, env(EnvRedisURL, bad), nil)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), EnvRedisURL) {
			t.Errorf("%s=%q: %v, want a usage error naming the variable", EnvRedisURL, bad, err)
		} else if strings.Contains(err.Error(), pw) {
			t.Errorf("the error quotes the password: %v", err)
		}
	}
	if cfg, err := Parse(nil, env(), nil); err != nil || cfg.RedisURL != "" {
		t.Errorf("default: %q, %v; want none (in-process)", cfg.RedisURL.Reveal(), err)
	}
}
