package emulator

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Injected faults (see Fault): which request a fault applies to and how it
// misbehaves.

// takeFault pops the next fault matching the request. Callers hold s.mu.
func (s *Server) takeFault(endpoint, path string) *Fault {
	for i, f := range s.faults {
		match := false
		switch {
		case f.Path == "":
			match = endpoint != ""
		case f.Path == endpoint:
			match = true
		default:
			match = strings.HasPrefix(path, f.Path)
		}
		if !match {
			continue
		}
		out := *f
		f.Count--
		if f.Count <= 0 {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
		}
		return &out
	}
	return nil
}

// writeFault answers with the fault's status, its rate-limit headers and
// {"error": Body or Dune's text for the status}.
func writeFault(w http.ResponseWriter, f *Fault) {
	msg := f.Body
	if msg == "" {
		switch {
		case f.Status == http.StatusPaymentRequired:
			msg = MsgBillingCycle
		case f.Status == http.StatusTooManyRequests:
			msg = "Too Many Requests"
		case f.Status == http.StatusInternalServerError:
			msg = MsgInternal
		default:
			msg = http.StatusText(f.Status)
		}
	}
	secs := int(math.Ceil(f.RetryAfter.Seconds()))
	if f.RetryAfter > 0 && (f.Status == http.StatusTooManyRequests || f.Status == http.StatusServiceUnavailable) {
		w.Header().Set("Retry-After", strconv.Itoa(secs))
	}
	if f.Status == http.StatusTooManyRequests {
		w.Header().Set("RateLimit-Policy", `"read";q=40;w=60`)
		w.Header().Set("RateLimit", fmt.Sprintf(`"read";r=0;t=%d`, secs))
	}
	writeError(w, f.Status, msg)
}

// hijack takes over the client connection; when it cannot, the request is
// aborted (http.ErrAbortHandler).
func hijack(w http.ResponseWriter) (net.Conn, *bufio.ReadWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, buf, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	return conn, buf
}

// dropConn closes the client connection without a response.
func dropConn(w http.ResponseWriter) {
	conn, _ := hijack(w)
	_ = conn.Close()
}

// truncateResponse sends rec's status and headers, a Content-Length for the
// whole body, half of the body, then closes the connection.
func truncateResponse(w http.ResponseWriter, rec *recorder) {
	conn, buf := hijack(w)
	defer func() { _ = conn.Close() }()
	body := rec.body.Bytes()
	fmt.Fprintf(buf, "HTTP/1.1 %d %s\r\n", rec.code, http.StatusText(rec.code))
	h := rec.Header().Clone()
	h.Del("Content-Length")
	h.Set("Connection", "close")
	_ = h.Write(buf)
	fmt.Fprintf(buf, "Content-Length: %d\r\n\r\n", len(body))
	_, _ = buf.Write(body[:len(body)/2])
	_ = buf.Flush()
}

// recorder buffers a whole response so that a fault can send part of it.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}, code: http.StatusOK} }

func (r *recorder) Header() http.Header         { return r.header }
func (r *recorder) Write(b []byte) (int, error) { return r.body.Write(b) }
func (r *recorder) WriteHeader(code int)        { r.code = code }
