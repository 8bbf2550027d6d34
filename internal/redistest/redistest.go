// Package redistest runs a real Redis or Valkey server for tests (tests
// only): on a free 127.0.0.1 port, without persistence, stopped when the
// test ends. Each runs a test against every supported server. Locally, a
// test skips with a clear message when the binary is absent; in CI (CI=true)
// it fails instead, since CI installs both (.ci/run).
package redistest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Kind is a server implementation dune-mcp supports.
type Kind struct {
	// Name names the subtests (Each): "redis" or "valkey".
	Name string
	// Binary is the server's executable, looked up on PATH.
	Binary string
	// Install is the Debian command that installs Binary.
	Install string
}

// The supported servers: Redis 7 (Debian bookworm's redis-server) and
// Valkey 8 (bookworm-backports' valkey-server). Both take the same flags.
var (
	Redis  = Kind{Name: "redis", Binary: "redis-server", Install: "apt-get install redis-server"}
	Valkey = Kind{Name: "valkey", Binary: "valkey-server", Install: "apt-get install -t bookworm-backports valkey-server"}
	Kinds  = []Kind{Redis, Valkey}
)

// Each runs f as one subtest per supported server (Kinds).
func Each(t *testing.T, f func(t *testing.T, k Kind)) {
	t.Helper()
	for _, k := range Kinds {
		t.Run(k.Name, func(t *testing.T) { f(t, k) })
	}
}

// Server is a redis-server or valkey-server process.
type Server struct {
	// Addr is host:port; it stays the same across Stop and Start.
	Addr string
	// Kind is the server's implementation.
	Kind Kind
	// Version is the version the server printed at start (e.g. "7.0.15").
	Version string

	t     testing.TB
	bin   string
	extra []string
	cmd   *exec.Cmd
}

// binary finds k's executable; when it is absent it fails t in CI and skips
// t elsewhere.
func binary(t testing.TB, k Kind) string {
	t.Helper()
	bin, err := exec.LookPath(k.Binary)
	if err == nil {
		return bin
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not installed: CI must install it (.ci/run: %s)", k.Binary, k.Install)
	}
	t.Skipf("%s not installed (%s): skipping the %s test", k.Binary, k.Install, k.Name)
	return ""
}

// Start runs a redis-server on a free loopback port until the test ends,
// with extra configuration arguments (e.g. "--requirepass", "pw").
func Start(t testing.TB, extra ...string) *Server {
	t.Helper()
	return StartKind(t, Redis, extra...)
}

// StartKind runs a server of kind k on a free loopback port until the test
// ends, with extra configuration arguments, and logs its version.
func StartKind(t testing.TB, k Kind, extra ...string) *Server {
	t.Helper()
	s := &Server{t: t, Kind: k, bin: binary(t, k), extra: extra}
	t.Cleanup(s.Stop)
	// The port is free when picked, but another process may take it before
	// redis-server binds it: then try another.
	var err error
	for range 3 {
		s.Addr = freeAddr(t)
		if err = s.start(); err == nil {
			t.Logf("redistest: %s %s on %s", k.Binary, s.Version, s.Addr)
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
		return fmt.Errorf("starting %s: %w", s.Kind.Binary, err)
	}
	ready := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(out)
		var log strings.Builder
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := versionLine.FindStringSubmatch(sc.Text()); m != nil {
				s.Version = m[1]
			}
			if strings.Contains(sc.Text(), "Ready to accept connections") {
				ready <- nil
				_, _ = io.Copy(io.Discard, out)
				return
			}
		}
		ready <- fmt.Errorf("%s exited before it was ready:\n%s", s.Kind.Binary, log.String())
	}()
	select {
	case err := <-ready:
		if err != nil {
			s.Stop()
		}
		return err
	case <-time.After(20 * time.Second):
		s.Stop()
		return fmt.Errorf("%s on %s not ready within 20s", s.Kind.Binary, s.Addr)
	}
}

// versionLine is the start-up line that names the version: "Redis
// version=7.0.15, bits=64, …" or "Valkey version=8.0.1, …".
var versionLine = regexp.MustCompile(`(?:Redis|Valkey) version=([0-9][0-9.]*)`)

// Pause stops the server process (SIGSTOP) without closing its sockets: it
// accepts connections and reads nothing, as an overloaded or swapped-out
// server would, until Resume.
func (s *Server) Pause() { s.signal(syscall.SIGSTOP) }

// Resume continues a paused server (SIGCONT).
func (s *Server) Resume() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig syscall.Signal) {
	s.t.Helper()
	if s.cmd == nil || s.cmd.Process == nil {
		s.t.Fatalf("%s on %s is not running", s.Kind.Binary, s.Addr)
	}
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatal(err)
	}
}

// Stop kills the server (as a crash would) and waits for it to exit.
func (s *Server) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Kill() // SIGKILL ends a paused process too
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
