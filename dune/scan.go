package dune

import (
	"errors"
	"fmt"
	"io"
)

// scanner reads one JSON document from a stream through a buffer it
// refills: the results decoder (decode.go) walks the envelope with it, hands
// each row to the row parser (rows.go) straight from the buffer, and skips
// members it does not know byte by byte, so that neither the body nor any
// one member of it is ever held whole. Only a row, or a known member
// decoded with encoding/json (metadata, an execution error, a scalar), must
// fit in the buffer, which grows up to maxTokenBytes for it.
type scanner struct {
	r    io.Reader
	buf  []byte
	i, n int  // buf[i:n] is read but not yet consumed
	eof  bool // r has no more data (io.EOF or a read error: bodyReader keeps the error)
}

const (
	// scanBufSize is the buffer's starting size.
	scanBufSize = 64 << 10
	// maxTokenBytes bounds what must fit in the buffer at once: one row
	// object, or one known member's value.
	maxTokenBytes = 32 << 20
	// maxSkipDepth bounds the nesting of a skipped value (encoding/json's
	// own limit).
	maxSkipDepth = 10000
)

// errNeedMore is returned by the in-buffer parsers when the value runs past
// the data read so far.
var errNeedMore = errors.New("need more input")

// errTokenTooLarge marks a row or a member larger than maxTokenBytes.
var errTokenTooLarge = fmt.Errorf("a single row or member exceeds %d bytes", maxTokenBytes)

func newScanner(r io.Reader) *scanner {
	return &scanner{r: r, buf: make([]byte, scanBufSize)}
}

// more reads more input, keeping buf[s.i:s.n] (moved to the front); it
// returns errTruncated at the end of input and errTokenTooLarge when the
// buffer may not grow.
func (s *scanner) more() error {
	if s.eof {
		return errTruncated
	}
	if s.i > 0 {
		copy(s.buf, s.buf[s.i:s.n])
		s.n -= s.i
		s.i = 0
	}
	if s.n == len(s.buf) {
		if len(s.buf) >= maxTokenBytes {
			return errTokenTooLarge
		}
		nb := make([]byte, min(2*len(s.buf), maxTokenBytes))
		copy(nb, s.buf[:s.n])
		s.buf = nb
	}
	for {
		m, err := s.r.Read(s.buf[s.n:])
		s.n += m
		if err != nil {
			s.eof = true
			if m > 0 {
				return nil
			}
			return errTruncated
		}
		if m > 0 {
			return nil
		}
	}
}

// peek skips white space and returns the next byte without consuming it.
func (s *scanner) peek() (byte, error) {
	for {
		for s.i < s.n {
			switch c := s.buf[s.i]; c {
			case ' ', '\t', '\n', '\r':
				s.i++
			default:
				return c, nil
			}
		}
		if err := s.more(); err != nil {
			return 0, err
		}
	}
}

// atEOF reports whether only white space is left.
func (s *scanner) atEOF() (bool, error) {
	_, err := s.peek()
	if errors.Is(err, errTruncated) {
		return true, nil
	}
	return false, err
}

// malformed builds a decode error at where: errTruncated and
// errTokenTooLarge keep their identity (a truncated body is retried).
func malformed(where string, err error) error {
	if err == errNeedMore { // the input ended inside a token
		err = errTruncated
	}
	return fmt.Errorf("%w: %s: %w", ErrMalformedResponse, where, err)
}

// byteKind names what a value starting with c is, without quoting it.
func byteKind(c byte) string {
	switch {
	case c == '{' || c == '[' || c == '}' || c == ']' || c == ',' || c == ':':
		return fmt.Sprintf("%q", string(c))
	case c == '"':
		return "a string"
	case c == '-' || '0' <= c && c <= '9':
		return "a number"
	case c == 't' || c == 'f':
		return "a boolean"
	case c == 'n':
		return "null"
	}
	return "an invalid character"
}

// expect consumes the byte want (after white space).
func (s *scanner) expect(want byte, where string) error {
	c, err := s.peek()
	if err != nil {
		return malformed(where, err)
	}
	if c != want {
		return fmt.Errorf("%w: %s: expected %q, got %s", ErrMalformedResponse, where, string(want), byteKind(c))
	}
	s.i++
	return nil
}

// maxKeyBytes bounds an object key the decoder reads; a longer key cannot
// be one it knows, and is skipped.
const maxKeyBytes = 256

// key reads an object key and its colon; ok is false for a key longer than
// maxKeyBytes (skipped, so unknown).
func (s *scanner) key(where string) (key string, ok bool, err error) {
	c, err := s.peek()
	if err != nil {
		return "", false, malformed(where, err)
	}
	if c != '"' {
		return "", false, fmt.Errorf("%w: %s: expected an object key, got %s", ErrMalformedResponse, where, byteKind(c))
	}
	for {
		end, info, err := scanString(s.buf[:s.n], s.i)
		if err == nil {
			if end-s.i-2 > maxKeyBytes {
				s.i = end
				break
			}
			k, err := stringValue(s.buf[s.i:end], info)
			if err != nil {
				return "", false, malformed(where, err)
			}
			s.i = end
			return k, true, s.expect(':', where)
		}
		if err != errNeedMore {
			return "", false, malformed(where, err)
		}
		if s.n-s.i > maxKeyBytes+2 { // too long to keep: skip it as it streams
			if err := s.skipString(where); err != nil {
				return "", false, err
			}
			break
		}
		if err := s.more(); err != nil {
			return "", false, malformed(where, err)
		}
	}
	return "", false, s.expect(':', where)
}

// next consumes ',' (true: another member or element follows) or the
// closing byte (false).
func (s *scanner) next(closing byte, where string) (bool, error) {
	c, err := s.peek()
	if err != nil {
		return false, malformed(where, err)
	}
	switch c {
	case ',':
		s.i++
		return true, nil
	case closing:
		s.i++
		return false, nil
	}
	return false, fmt.Errorf("%w: %s: expected ',' or %q, got %s", ErrMalformedResponse, where, string(closing), byteKind(c))
}

// value returns the bytes of the next value (valid until the scanner reads
// again), which must fit in maxBytes; its syntax is checked by whoever
// decodes it.
func (s *scanner) value(where string, maxBytes int) ([]byte, error) {
	if _, err := s.peek(); err != nil {
		return nil, malformed(where, err)
	}
	for {
		end, err := valueEnd(s.buf[:s.n], s.i, s.eof)
		if err == nil {
			if end-s.i > maxBytes {
				return nil, fmt.Errorf("%w: %s: value longer than %d bytes", ErrMalformedResponse, where, maxBytes)
			}
			v := s.buf[s.i:end]
			s.i = end
			return v, nil
		}
		if err != errNeedMore {
			return nil, malformed(where, err)
		}
		if s.n-s.i > maxBytes {
			return nil, fmt.Errorf("%w: %s: value longer than %d bytes", ErrMalformedResponse, where, maxBytes)
		}
		if err := s.more(); err != nil {
			return nil, malformed(where, err)
		}
	}
}

// valueEnd returns the index just past the value at b[i] (not white
// space), or errNeedMore. Numbers and literals end at the first byte that
// cannot continue them (at the end of input when eof).
func valueEnd(b []byte, i int, eof bool) (int, error) {
	switch b[i] {
	case '"':
		end, _, err := scanString(b, i)
		return end, err
	case '{', '[':
		switch end := skipComposite(b, i); end {
		case -1:
			return 0, errNeedMore
		case -2:
			return 0, errBadNested
		default:
			return end, nil
		}
	}
	j := i
	for j < len(b) && (isNumberByte(b[j]) || 'a' <= b[j] && b[j] <= 'z') {
		j++
	}
	if j == len(b) && !eof {
		return 0, errNeedMore
	}
	if j == i {
		return 0, fmt.Errorf("expected a value, got %s", byteKind(b[i]))
	}
	return j, nil
}

// skip consumes the next value byte by byte, checking its syntax, without
// holding it: an unknown member of any size costs no memory.
func (s *scanner) skip(where string) error {
	return s.skipDepth(where, 0)
}

func (s *scanner) skipDepth(where string, depth int) error {
	c, err := s.peek()
	if err != nil {
		return malformed(where, err)
	}
	switch {
	case c == '"':
		return s.skipString(where)
	case c == '{' || c == '[':
		if depth >= maxSkipDepth {
			return fmt.Errorf("%w: %s: nested deeper than %d", ErrMalformedResponse, where, maxSkipDepth)
		}
		s.i++
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		if c2, err := s.peek(); err != nil {
			return malformed(where, err)
		} else if c2 == closing {
			s.i++
			return nil
		}
		for {
			if c == '{' {
				if err := s.expectByte('"', where); err != nil {
					return err
				}
				if err := s.skipString(where); err != nil {
					return err
				}
				if err := s.expect(':', where); err != nil {
					return err
				}
			}
			if err := s.skipDepth(where, depth+1); err != nil {
				return err
			}
			more, err := s.next(closing, where)
			if err != nil || !more {
				return err
			}
		}
	default:
		for {
			end, err := valueEnd(s.buf[:s.n], s.i, s.eof)
			if err == errNeedMore {
				if s.n-s.i > 1<<10 {
					return fmt.Errorf("%w: %s: a number or literal longer than 1024 bytes", ErrMalformedResponse, where)
				}
				if err := s.more(); err != nil {
					return malformed(where, err)
				}
				continue
			}
			if err != nil {
				return malformed(where, err)
			}
			if !validScalar(s.buf[s.i:end]) {
				return fmt.Errorf("%w: %s: invalid %s", ErrMalformedResponse, where, byteKind(c))
			}
			s.i = end
			return nil
		}
	}
}

// expectByte checks, without consuming it, that the next byte is want.
func (s *scanner) expectByte(want byte, where string) error {
	c, err := s.peek()
	if err != nil {
		return malformed(where, err)
	}
	if c != want {
		return fmt.Errorf("%w: %s: expected %q, got %s", ErrMalformedResponse, where, string(want), byteKind(c))
	}
	return nil
}

// skipString consumes the string at s.buf[s.i] as it streams in.
func (s *scanner) skipString(where string) error {
	j := s.i + 1
	for {
		for j < s.n {
			c := s.buf[j]
			switch {
			case c == '"':
				s.i = j + 1
				return nil
			case c == '\\':
				if j+6 > s.n && !s.eof { // room for the longest escape
					goto refill
				}
				k, err := escapeLen(s.buf[:s.n], j)
				if err != nil {
					return malformed(where, err)
				}
				j += k
			case c < 0x20:
				return malformed(where, errControlChar)
			default:
				j++
			}
		}
	refill:
		// Keep only the unread tail: the string's start is not needed.
		s.i = j
		if err := s.more(); err != nil {
			return malformed(where, err)
		}
		j = s.i
	}
}

// validScalar checks a number or literal token.
func validScalar(b []byte) bool {
	switch string(b) {
	case "true", "false", "null":
		return true
	}
	end, err := scanNumber(b, 0, true)
	return err == nil && end == len(b)
}
