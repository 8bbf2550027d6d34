package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/dune-mcp/dune-mcp/config"
	"github.com/dune-mcp/dune-mcp/transport"
)

// healthcheckTimeout bounds one `dune-mcp healthcheck` probe.
const healthcheckTimeout = 3 * time.Second

// healthcheckUsage is the text of `dune-mcp healthcheck --help`.
const healthcheckUsage = `Usage: dune-mcp healthcheck [--addr host:port]

Asks the dune-mcp HTTP server at --addr for /healthz and exits 0 when it
answers 200, 1 otherwise (the reason goes to stderr). It is the container
image's HEALTHCHECK: the image has no shell or curl. An unspecified host
(0.0.0.0, [::]) is probed on loopback.

`

// runHealthcheck is `dune-mcp healthcheck`: a liveness probe of a running
// HTTP server for images without curl (packaging/Dockerfile). --addr
// defaults to DUNE_MCP_ADDR, then to the server's default address, so in the
// container it probes what the server listens on.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) int {
	fs := flag.NewFlagSet("dune-mcp healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	def := config.DefaultAddr
	if v := getenv(config.EnvAddr); v != "" {
		def = v
	}
	addr := fs.String("addr", def, "the server's `host:port` ["+config.EnvAddr+"]")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			io.WriteString(stderr, healthcheckUsage)
			fs.SetOutput(stderr)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprintf(stderr, "dune-mcp: healthcheck: %v (see dune-mcp healthcheck --help)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "dune-mcp: healthcheck: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	url, err := healthURL(*addr)
	if err != nil {
		fmt.Fprintf(stderr, "dune-mcp: healthcheck: invalid --addr %q: %v\n", *addr, err)
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, healthcheckTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "dune-mcp: healthcheck: %v\n", err)
		return 2
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "dune-mcp: healthcheck: %v\n", err)
		return 1
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "dune-mcp: healthcheck: GET %s: %s\n", url, resp.Status)
		return 1
	}
	return 0
}

// healthURL is the /healthz URL of a server listening on addr; an
// unspecified host is reached on the loopback address of its family.
func healthURL(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", errors.New("want host:port")
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + transport.PathHealth, nil
}
