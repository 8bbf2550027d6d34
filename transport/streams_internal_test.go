package transport

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// A slot is taken for as long as a stream is served and given back when it
// ends; POSTs never take one.
func TestStreamLimitReleasesSlots(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	h := newStreamLimit(1).wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusOK)
	}))
	get := func() *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, PathSSE, nil))
		return rec
	}
	first := make(chan int)
	go func() { first <- get().Code }()
	<-entered
	if rec := get(); rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "5" {
		t.Fatalf("second stream: %d, Retry-After %q; want 503 and 5", rec.Code, rec.Header().Get("Retry-After"))
	}
	post := httptest.NewRecorder()
	h.ServeHTTP(post, httptest.NewRequest(http.MethodPost, PathMCP, nil))
	if post.Code != http.StatusOK {
		t.Errorf("POST while the stream cap is reached: %d, want 200", post.Code)
	}
	release <- struct{}{}
	if code := <-first; code != http.StatusOK {
		t.Fatalf("first stream: %d", code)
	}
	go func() { <-entered; release <- struct{}{} }()
	if rec := get(); rec.Code != http.StatusOK {
		t.Errorf("stream after the first ended: %d, want 200", rec.Code)
	}
}
