package dune

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"
)

// unreachable asks for a result from base with a client that fails the
// test if it waits to retry; it returns the error and the attempts made.
func unreachable(t *testing.T, base string) (ne *NetError, attempts int64, err error) {
	t.Helper()
	c := NewClient(Config{BaseURL: base, APIKey: testKey, RequestTimeout: 10 * time.Second,
		Retry: RetryPolicy{MaxAttempts: 4, InitialBackoff: time.Millisecond, MaxBackoff: time.Second, MaxElapsed: 20 * time.Second}})
	c.sleep = func(context.Context, time.Duration) error {
		t.Error("waited to retry a permanent network failure")
		return nil
	}
	ctx, usage := WithUsage(context.Background())
	_, err = c.GetLatestResult(ctx, 1, Options{Limit: 5})
	if !errors.As(err, &ne) {
		t.Fatalf("err = %v (%T), want a *NetError", err, err)
	}
	if strings.Contains(err.Error(), testKey) || strings.Contains(err.Error(), "limit=5") {
		t.Errorf("error text leaks the key or the query string: %v", err)
	}
	return ne, usage.Requests.Load(), err
}

func TestUnresolvableHostIsNotRetried(t *testing.T) {
	// .invalid never resolves (RFC 6761): no network needed.
	ne, attempts, err := unreachable(t, "http://dune-mcp-test.invalid")
	var dns *net.DNSError
	if !errors.As(err, &dns) {
		t.Fatalf("err = %v, want a *net.DNSError", err)
	}
	if ne.Host != "dune-mcp-test.invalid" || ne.Where != "GET /api/v1/query/1/results" {
		t.Errorf("NetError host %q, where %q", ne.Host, ne.Where)
	}
	if dns.IsTimeout {
		t.Skipf("the resolver timed out (retried as transient): %v", dns)
	}
	if attempts != 1 {
		t.Errorf("attempts = %d, want 1", attempts)
	}
}

func TestRefusedConnectionIsNotRetried(t *testing.T) {
	addr := closedAddr(t)
	ne, attempts, err := unreachable(t, "http://"+addr)
	if !errors.Is(err, syscall.ECONNREFUSED) || ne.Host != addr || attempts != 1 {
		t.Errorf("err = %v, host %q, attempts %d; want ECONNREFUSED from %s after 1 attempt", err, ne.Host, attempts, addr)
	}
}

func TestUntrustedCertificateIsNotRetried(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("request reached the server") }))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	ne, attempts, err := unreachable(t, srv.URL)
	var cv *tls.CertificateVerificationError
	if !errors.As(err, &cv) || !TLSError(err) || ne.Host != strings.TrimPrefix(srv.URL, "https://") || attempts != 1 {
		t.Errorf("err = %v, host %q, attempts %d; want an untrusted certificate after 1 attempt", err, ne.Host, attempts)
	}
}

// An https base URL on a port that does not speak TLS.
func TestNoTLSOnHTTPSIsNotRetried(t *testing.T) {
	for name, greeting := range map[string]string{
		"http server":  "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n",
		"other server": "SSH-2.0-OpenSSH_9.6\r\n",
	} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				_, _ = io.WriteString(conn, greeting)
				conn.Close()
			}
		}()
		_, attempts, err := unreachable(t, "https://"+ln.Addr().String())
		ln.Close()
		if !TLSError(err) || attempts != 1 {
			t.Errorf("%s: err = %v, attempts %d; want a TLS error after 1 attempt", name, err, attempts)
		}
	}
}

func TestTransientNetErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		want bool
	}{
		{"reset", &net.OpError{Op: "read", Err: syscall.ECONNRESET}, true},
		{"dns timeout", &net.DNSError{Name: "api.dune.com", IsTimeout: true}, true},
		{"dns not found", &net.DNSError{Name: "api.dune.com", IsNotFound: true}, false},
		{"dns temporary", &net.DNSError{Name: "api.dune.com", IsTemporary: true}, false},
		{"refused", &net.OpError{Op: "dial", Err: syscall.ECONNREFUSED}, false},
		{"tls record header", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}, false},
	} {
		if got := transientNetError(tc.err); got != tc.want {
			t.Errorf("%s: transient = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// closedAddr returns a loopback address nothing listens on (connections
// to it are refused).
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}
