package transport

import (
	"fmt"
	"net/http"
	"strconv"
)

// DefaultMaxStreams caps the long-lived streams open at once (GET /sse and
// GET /mcp) unless HTTPConfig.MaxStreams says otherwise. Each stream holds a
// file descriptor and a few goroutines for as long as its client stays
// connected: 256 is far more than the clients one server is shared by keep
// open (one stream each), and leaves most of a common 1,024-descriptor limit
// to the tool calls' own connections and the upstream ones to Dune.
const DefaultMaxStreams = 256

// StreamsRetryAfter is the Retry-After, in seconds, of a stream refused
// because the cap is reached.
const StreamsRetryAfter = 5

// streamLimit serves at most its capacity of GET requests (streams) at once
// through the handlers it wraps, all together; beyond that it answers 503
// with Retry-After. Other methods pass.
type streamLimit struct{ slots chan struct{} }

func newStreamLimit(max int) *streamLimit {
	if max <= 0 {
		max = DefaultMaxStreams
	}
	return &streamLimit{slots: make(chan struct{}, max)}
}

func (l *streamLimit) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			next.ServeHTTP(w, r)
			return
		}
		select {
		case l.slots <- struct{}{}:
			defer func() { <-l.slots }()
			next.ServeHTTP(w, r)
		default:
			w.Header().Set("Retry-After", strconv.Itoa(StreamsRetryAfter))
			http.Error(w, fmt.Sprintf("too many open streams: this server holds at most %d (--max-streams); retry in %d s", cap(l.slots), StreamsRetryAfter),
				http.StatusServiceUnavailable)
		}
	})
}
