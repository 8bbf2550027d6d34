package config

import (
	"errors"
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
)

// TestLimitsFlags: --dune-plan, --dune-rpm-read/-write, --metrics-addr and
// --redis-url from flags and environment, flags first.
func TestLimitsFlags(t *testing.T) {
	cfg, err := Parse(nil, env(EnvDunePlan, "Plus", EnvRPMRead, "100", EnvRPMWrite, "10", EnvMetricsAddr, "127.0.0.1:9464", EnvRedisURL, "redis://:pw@127.0.0.1:6379/2"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DunePlan != dune.PlanPlus || cfg.RPMRead != 100 || cfg.RPMWrite != 10 || cfg.MetricsAddr != "127.0.0.1:9464" || cfg.RedisURL.Reveal() != "redis://:pw@127.0.0.1:6379/2" {
		t.Fatalf("from env: %+v", cfg)
	}
	if s := strings.Join(cfg.Secrets(), " "); !strings.Contains(s, "redis://:pw@") {
		t.Fatal("the Redis URL (it may hold a password) is not among the secrets redacted from logs")
	}
	cfg, err = Parse([]string{"--dune-plan", "free", "--dune-rpm-read", "0", "--metrics-addr", "127.0.0.1:0"}, env(EnvDunePlan, "plus", EnvRPMRead, "100"), nil)
	if err != nil || cfg.DunePlan != dune.PlanFree || cfg.RPMRead != 0 || cfg.MetricsAddr != "127.0.0.1:0" {
		t.Fatalf("flags over env: %+v %v", cfg, err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--dune-plan", "gold"}, `invalid --dune-plan "gold": want one of free, plus, premium, enterprise`},
		{[]string{"--dune-rpm-read", "-1"}, `invalid --dune-rpm-read "-1": want a whole number of requests per minute`},
		{[]string{"--dune-rpm-write", "ten"}, `invalid --dune-rpm-write "ten"`},
		{[]string{"--metrics-addr", "9464"}, `invalid --metrics-addr "9464": want host:port`},
		{[]string{"--redis-url", "http://secret@h:1"}, "invalid --redis-url: want a redis://"},
	} {
		_, err := Parse(tc.args, env(), nil)
		var ue *UsageError
		if !errors.As(err, &ue) || !strings.Contains(ue.Msg, tc.want) || strings.Contains(ue.Msg, "secret") {
			t.Errorf("%v: %v; want %q (and no URL echoed)", tc.args, err, tc.want)
		}
	}
}

// TestMetricsNeedTheirOwnListener: --metrics-addr may not share the MCP port.
func TestMetricsNeedTheirOwnListener(t *testing.T) {
	for _, tc := range []struct {
		addr, metrics string
		refused       bool
	}{
		{"127.0.0.1:8080", "127.0.0.1:8080", true},
		{"127.0.0.1:8080", "0.0.0.0:8080", true},
		{"127.0.0.1:8080", "127.0.0.1:9464", false},
		{"127.0.0.1:0", "127.0.0.1:0", false}, // two free ports
	} {
		cfg, err := Parse([]string{"--transport", "http", "--addr", tc.addr, "--metrics-addr", tc.metrics}, env(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Check(); (err != nil) != tc.refused {
			t.Errorf("--addr %s --metrics-addr %s: %v; refused want %v", tc.addr, tc.metrics, err, tc.refused)
		}
	}
}

func TestEmulatorPlan(t *testing.T) {
	e, err := ParseEmulator([]string{"--plan", "free"}, "k", nil)
	if err != nil || e.Plan != dune.PlanFree {
		t.Fatalf("--plan free: %+v %v", e, err)
	}
	var ue *UsageError
	if _, err := ParseEmulator([]string{"--plan", "gold"}, "k", nil); !errors.As(err, &ue) || !strings.Contains(ue.Msg, "want one of free, plus") {
		t.Fatalf("--plan gold: %v", err)
	}
}
