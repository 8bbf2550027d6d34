// Package testio holds small I/O helpers shared by tests.
package testio

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync"
)

// SyncBuffer is a bytes.Buffer safe for one writer (a child process's
// stderr, a server's output) and concurrent readers.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write implements io.Writer.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns everything written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// PostJSONRPC posts one JSON-RPC body to a streamable HTTP endpoint the way a
// 2025-06-18 client does after initialize, and returns the status and body.
// Safe to call off the test goroutine.
func PostJSONRPC(url, body string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", "2025-06-18")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}
