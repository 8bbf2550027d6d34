// Package deploy holds the team deployment (compose.yaml, Caddyfile, running
// the image packaging/Dockerfile builds); this test checks what can be checked without Docker: the
// compose file's services, that each replica's command line and
// environment are accepted by the binary's own configuration parser, and
// that the valkey service's command line runs on a real valkey-server.
package deploy

import (
	"context"
	"io"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"

	"github.com/dune-mcp/dune-mcp/config"
	"github.com/dune-mcp/dune-mcp/internal/redisconn"
	"github.com/dune-mcp/dune-mcp/internal/redistest"
)

type service struct {
	Image       string            `yaml:"image"`
	Command     []string          `yaml:"command"`
	Environment map[string]string `yaml:"environment"`
	Ports       []string          `yaml:"ports"`
}

func load(t *testing.T) map[string]service {
	t.Helper()
	b, err := os.ReadFile("compose.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Services map[string]service `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	return f.Services
}

// variable is a compose variable reference: ${VAR}, ${VAR:-default} or
// ${VAR:?message}.
var variable = regexp.MustCompile(`\$\{([A-Z_]+)(?::([?-])([^}]*))?\}`)

// interpolate substitutes compose's variable references in s from vars.
func interpolate(s string, vars map[string]string) string {
	return variable.ReplaceAllStringFunc(s, func(m string) string {
		sub := variable.FindStringSubmatch(m)
		if v := vars[sub[1]]; v != "" {
			return v
		}
		if sub[2] == "-" {
			return sub[3]
		}
		return ""
	})
}

func TestComposeRunsThreeReplicasOnValkeyBehindTLS(t *testing.T) {
	svcs := load(t)
	vars := map[string]string{
		"DUNE_MCP_AUTH_TOKEN":    "0123456789abcdef0123456789abcdef",
		"DUNE_MCP_CURSOR_SECRET": "fedcba9876543210fedcba9876543210",
		"VALKEY_PASSWORD":        "valkey-password-0123456789",
	}
	caddyfile, err := os.ReadFile("Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"dune-mcp-1", "dune-mcp-2", "dune-mcp-3"} {
		s, ok := svcs[name]
		if !ok {
			t.Fatalf("no service %s", name)
		}
		if len(s.Ports) != 0 {
			t.Errorf("%s publishes ports %v: replicas are reached through the proxy only", name, s.Ports)
		}
		env := map[string]string{}
		for k, v := range s.Environment {
			env[k] = interpolate(v, vars)
		}
		for _, k := range []string{config.EnvRedisURL, config.EnvCursorSecret, config.EnvAuthToken} {
			if env[k] == "" {
				t.Errorf("%s: %s is not set", name, k)
			}
		}
		// The replica's own parser accepts its command line and environment.
		cfg, err := config.Parse(s.Command, func(k string) string { return env[k] }, io.Discard)
		if err == nil {
			err = cfg.Check()
		}
		if err != nil {
			t.Fatalf("%s: dune-mcp %v: %v", name, s.Command, err)
		}
		if cfg.Transport != config.TransportHTTP || cfg.RedisURL.Reveal() != "redis://:"+vars["VALKEY_PASSWORD"]+"@valkey:6379/0" || cfg.AuthToken == "" {
			t.Errorf("%s: transport %s, redis set %v, auth set %v", name, cfg.Transport, cfg.RedisURL != "", cfg.AuthToken != "")
		}
		if !strings.Contains(string(caddyfile), name+":8080") {
			t.Errorf("the Caddyfile does not proxy to %s:8080", name)
		}
	}

	v := svcs["valkey"]
	cmd := strings.Join(v.Command, " ")
	if v.Image != "valkey/valkey:8" || !strings.Contains(cmd, "--maxmemory-policy allkeys-lru") || !strings.Contains(cmd, "--maxmemory ") || !strings.Contains(cmd, "--requirepass") {
		t.Errorf("valkey: image %q, command %q: want valkey/valkey:8 with a password, maxmemory and allkeys-lru", v.Image, cmd)
	}
	c := svcs["caddy"]
	if !strings.HasPrefix(c.Image, "caddy:") || !contains(c.Ports, "443:443") {
		t.Errorf("caddy: image %q, ports %v: want Caddy on 443", c.Image, c.Ports)
	}
	if !strings.Contains(string(caddyfile), "health_uri /healthz") {
		t.Error("the Caddyfile does not health-check the replicas on /healthz")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// The valkey service's command line, as compose passes it, runs on a real
// valkey-server 8 (the image is valkey/valkey:8), and the replicas'
// connection (redisconn, with the URL compose gives them) stores and reads
// through it: password, memory bound and eviction policy as configured.
func TestComposeValkeyCommandRunsOnValkey(t *testing.T) {
	const pw = "valkey-password-0123456789"
	vars := map[string]string{"VALKEY_PASSWORD": pw}
	v := load(t)["valkey"]
	if len(v.Command) < 2 || v.Command[0] != "valkey-server" {
		t.Fatalf("valkey command %q: want valkey-server and its flags", v.Command)
	}
	var args []string
	for _, a := range v.Command[1:] {
		args = append(args, interpolate(a, vars))
	}
	srv := redistest.StartKind(t, redistest.Valkey, args...)
	if !strings.HasPrefix(srv.Version, "8.") {
		t.Errorf("valkey-server %s, want 8.x (the image is valkey/valkey:8)", srv.Version)
	}
	ctx := context.Background()
	c, err := redisconn.Open(ctx, "redis://:"+pw+"@"+srv.Addr+"/0", redisconn.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Set(ctx, "k", []byte("v"), time.Minute)
	if b, ok := c.Get(ctx, "k"); !ok || string(b) != "v" || c.Errors() != 0 {
		t.Fatalf("through the replicas' connection: Get = %q, %v; %d errors", b, ok, c.Errors())
	}
	got, err := c.Client().ConfigGet(ctx, "maxmemory*").Result()
	if err != nil || got["maxmemory-policy"] != "allkeys-lru" || got["maxmemory"] != "536870912" {
		t.Errorf("CONFIG GET maxmemory* = %v, %v; want allkeys-lru and 512mb", got, err)
	}
}
