// Package redistest runs a real redis-server for tests (tests only): on a
// free 127.0.0.1 port, without persistence, stopped when the test ends. A
// test skips with a clear message only when the binary is absent (CI
// installs it: .ci/run).
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Server is a redis-server process.
type Server struct {
	// Addr is host:port; it stays the same across Stop and Start.
	Addr string

	t     testing.TB
	bin   string
	extra []string
	cmd   *exec.Cmd
}

// binary finds redis-server, or skips t.
func binary(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("redis-server not installed (apt-get install -y redis-server): skipping the Redis test")
	}
	return bin
}

// Start runs a redis-server on a free loopback port until the test ends,
// with extra configuration arguments (e.g. "--requirepass", "pw").
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	s := &Server{t: t, bin: binary(t), extra: extra}
	t.Cleanup(s.Stop)
	// The port is free when picked, but another process may take it before
	// redis-server binds it: then try another.
	var err error
	for range 3 {
		s.Addr = freeAddr(t)
		if err = s.start(); err == nil {
			return s
		}
	}
	t.Fatal(err)
	return nil
}

// URL is the redis:// URL of the server (database 0).
func (s *Server) URL() string { return "redis://" + s.Addr + "/0" }

// Start (re)starts the server on its address and returns when it accepts
// connections.
func (s *Server) Start() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatal(err)
	}
}

func (s *Server) start() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	s.cmd = exec.Command(s.bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--protected-mode", "no", "--loglevel", "notice", "--logfile", "")
	s.cmd.Args = append(s.cmd.Args, s.extra...)
	out, err := s.cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := s.cmd.Start(); err != nil {
		return fmt.Errorf("starting redis-server: %w", err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var log strings.Builder
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		ready <- fmt.Errorf("redis-server exited before it was ready:\n%s", log.String())
	}()
	select {
	case err := <-ready:
		if err != nil {
			s.Stop()
		}
		return err
	case <-time.After(20 * time.Second):
		s.Stop()
		return fmt.Errorf("redis-server on %s not ready within 20s", s.Addr)
	}
}

// Stop kills the server (as a crash would) and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	_ = s.cmd.Wait()
	s.cmd = nil
}

// freeAddr returns a loopback address no one listens on right now
// (redis-server has no --port 0).
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}
