package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/dune-mcp/dune-mcp/config"
	"github.com/dune-mcp/dune-mcp/internal/emulator"
	"github.com/dune-mcp/dune-mcp/logging"
)

// runEmulator is `dune-mcp emulator`: the Dune API emulator with the demo
// datasets, alone, so any client can be pointed at it with DUNE_API_BASE_URL.
func runEmulator(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ecfg, err := config.ParseEmulator(args, emulator.DefaultAPIKey, stderr)
	if errors.Is(err, config.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "dune-mcp:", err)
		return 2
	}
	log := logging.New(stderr, ecfg.LogFormat, ecfg.LogLevel)
	logging.InstallDefaults(log)

	ln, err := net.Listen("tcp", ecfg.Addr)
	if err != nil {
		fmt.Fprintf(stderr, "dune-mcp: emulator: listen on %s: %v\n", ecfg.Addr, err)
		return 1
	}
	opts := []emulator.Option{emulator.WithDemoData(), emulator.WithAPIKey(ecfg.APIKey)}
	if lim, ok := emulator.PlanRateLimits(ecfg.Plan); ok {
		opts = append(opts, emulator.WithRateLimits(lim))
		log.Info().Str("plan", string(ecfg.Plan)).Int("rpm_read", lim.Read).Int("rpm_write", lim.Write).Msg("emulator enforces the plan's rate limits per key (429 beyond them)")
	}
	emu := emulator.NewUnstartedServer(opts...)
	url := "http://" + ln.Addr().String()
	key := ecfg.APIKey
	if key == "" {
		key = "(any key accepted)"
	}
	fmt.Fprintf(stdout, `Dune API emulator (synthetic demo data) listening on %s
  API key (X-Dune-Api-Key header or api_key= parameter): %s
  try:  curl -H 'X-Dune-Api-Key: %s' '%s/api/v1/query/%d/results?limit=3'
  use:  %s=%s %s=%s dune-mcp

Queries:
%s`, url, key, ecfg.APIKey, url, emulator.DemoTiny,
		config.EnvBaseURL, url, config.EnvAPIKey, ecfg.APIKey, emulator.Describe())
	log.Info().Str("addr", ln.Addr().String()).Msg("emulator listening")

	if err := emu.Serve(ctx, ln); err != nil {
		log.Error().Err(err).Msg("emulator stopped with an error")
		return 1
	}
	log.Info().Msg("emulator stopped")
	return 0
}
