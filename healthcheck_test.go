package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// startHTTPServer runs the whole program (run) as `dune-mcp --demo
// --transport http` on a free loopback port and returns the address from its
// "listening" log line.
func startHTTPServer(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"--demo", "--transport", "http", "--addr", "127.0.0.1:0"},
			func(string) string { return "" }, strings.NewReader(""), io.Discard, pw)
		pw.Close()
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("server exit status %d", code)
		}
	})
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		var line struct{ Message, Addr string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Message == "listening" {
			go io.Copy(io.Discard, pr) // keep the server's later log lines flowing
			return line.Addr
		}
	}
	t.Fatal("the server exited without a listening line")
	return ""
}

func TestHealthcheckAgainstTheServer(t *testing.T) {
	addr := startHTTPServer(t)
	_, port, _ := net.SplitHostPort(addr)
	noEnv := func(string) string { return "" }
	cases := []struct {
		name   string
		args   []string
		getenv func(string) string
	}{
		{"--addr", []string{"--addr", addr}, noEnv},
		// The container sets DUNE_MCP_ADDR=0.0.0.0:8080: the probe reads it
		// and dials loopback.
		{"unspecified host from DUNE_MCP_ADDR", nil, func(k string) string {
			if k == "DUNE_MCP_ADDR" {
				return "0.0.0.0:" + port
			}
			return ""
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr strings.Builder
			if code := runHealthcheck(context.Background(), c.args, c.getenv, &stderr); code != 0 {
				t.Fatalf("exit %d, want 0; stderr: %s", code, stderr.String())
			}
			if stderr.Len() != 0 {
				t.Errorf("a healthy probe wrote %q", stderr.String())
			}
		})
	}
}

func TestHealthcheckFailures(t *testing.T) {
	unhealthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			t.Errorf("probe asked for %s", r.URL.Path)
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer unhealthy.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	cases := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"503", []string{"--addr", strings.TrimPrefix(unhealthy.URL, "http://")}, 1, "503 Service Unavailable"},
		{"nothing listening", []string{"--addr", closedAddr}, 1, "connection refused"},
		{"bad addr", []string{"--addr", "localhost"}, 2, "want host:port"},
		{"--help", []string{"--help"}, 0, "Usage: dune-mcp healthcheck [--addr host:port]"},
		{"unknown flag", []string{"--port", "1"}, 2, "flag provided but not defined"},
		{"stray argument", []string{"now"}, 2, `unexpected argument "now"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var stderr strings.Builder
			code := runHealthcheck(context.Background(), c.args, func(string) string { return "" }, &stderr)
			if code != c.wantCode || !strings.Contains(stderr.String(), c.wantErr) {
				t.Errorf("exit %d, stderr %q; want exit %d and %q", code, stderr.String(), c.wantCode, c.wantErr)
			}
		})
	}
}
