package tools

import (
	"bytes"
	"compress/flate"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/oklog/ulid/v2"

	"github.com/dune-mcp/dune-mcp/dune"
)

// A cursor is opaque to the model and self-contained: any replica holding the
// same secret can continue from it, no server-side state needed. Wire form:
//
//	base64url( version | flags | body | mac )
//
// body is the fields below (varints and length-prefixed strings), deflated
// when that makes it shorter; mac is HMAC-SHA256(secret, version|flags|body|
// key fingerprint) truncated to macLen bytes (96 bits: forging one takes
// ~2^95 tries, each a call to this server). The fingerprint of the Dune API
// key the cursor was issued for is part of the MAC input but not of the
// cursor: a cursor presented with another key fails verification, and the
// binding costs no byte. The cursor appears twice in every result (text and
// structuredContent), so every byte saved is worth ~2.6 tokens a page.
const (
	cursorVersion = 4
	macLen        = 12
	// maxCursorLen bounds what we try to decode (a filter of 4000 characters
	// deflates well below this).
	maxCursorLen = 16 << 10
	// maxCursorBody bounds the inflated body.
	maxCursorBody = 64 << 10
)

const (
	flagPartial      = 1 << iota // allow_partial_results
	flagExplicit                 // PageSize was set by the caller's limit
	flagBinaryULID               // execution id stored as 16 ULID bytes
	flagDeflate                  // body is deflated
	flagWaiting                  // the execution was still running: next_page waits for it
	flagExecuted                 // the call that issued the cursor ran the query
	flagWidth                    // Width is encoded (it differs from len(Columns))
	flagKnownFlags   = flagPartial | flagExplicit | flagBinaryULID | flagDeflate | flagWaiting | flagExecuted | flagWidth
	compressMinBytes = 96
)

// errInvalidCursor is what every malformed, tampered, truncated or foreign
// cursor decodes to, and a cursor issued for another Dune API key (the MAC
// cannot tell these apart without storing the key's fingerprint). Its text
// is shown to the model.
var errInvalidCursor = errors.New("cursor is invalid: tampered, truncated, signed by another server (different DUNE_MCP_CURSOR_SECRET), or issued for a different Dune API key than this request's; call get_latest_result again with your key for a fresh one")

// fpLen is the length of a key fingerprint.
const fpLen = 8

// keyFP is the fingerprint of the Dune API key a call runs with:
// HMAC-SHA256(cursor secret, "key\x00"+key) truncated, so it reveals
// nothing about the key and differs between servers. The empty key (no
// per-request key in the context) stands for the server's own key.
type keyFP [fpLen]byte

// fingerprint returns the fingerprint of apiKey.
func (c cursorCodec) fingerprint(apiKey string) keyFP {
	h := hmac.New(sha256.New, c.secret)
	h.Write([]byte("key\x00"))
	h.Write([]byte(apiKey))
	var fp keyFP
	copy(fp[:], h.Sum(nil))
	return fp
}

// callerFP returns the fingerprint of the key the requests of ctx use: the
// per-request key (dune.WithAPIKey) or, without one, the server's own.
func (c cursorCodec) callerFP(ctx context.Context) keyFP {
	key, _ := dune.APIKeyFrom(ctx)
	return c.fingerprint(key)
}

// cursor is where next_page continues: a row of a view (its execution,
// columns, filters, sort, partial flag and key fingerprint) and how big the
// previous page was.
type cursor struct {
	view
	QueryID int64
	// Offset is the first row not yet shown.
	Offset int
	// PageSize is the caller's limit (Explicit) or the rows that fit the
	// previous page.
	PageSize int
	Explicit bool
	// Budget is the token budget of the previous page.
	Budget int
	// Width is the number of columns of the rows (0: unknown), for
	// estimating what the next read costs.
	Width int
	// Waiting: the execution was still running when the cursor was issued;
	// next_page waits for it and then shows the first page (at Offset).
	Waiting bool
	// Executed: the call that issued the cursor ran the query.
	Executed bool
}

// explicitLimit is the caller's limit the cursor carries, 0 when the page
// size came from the budget.
func (c cursor) explicitLimit() int {
	if c.Explicit {
		return c.PageSize
	}
	return 0
}

// String is a fingerprint's hex form (for keys of in-process maps; it is no
// more secret than the fingerprint).
func (fp keyFP) String() string { return hex.EncodeToString(fp[:]) }

// cursorCodec signs and verifies cursors.
type cursorCodec struct {
	secret []byte
}

// mac authenticates msg (version, flags, body) together with the key
// fingerprint fp. Domain separated from fingerprint by its prefix.
func (c cursorCodec) mac(msg []byte, fp keyFP) []byte {
	h := hmac.New(sha256.New, c.secret)
	h.Write([]byte("dune-mcp cursor\x00"))
	h.Write(msg)
	h.Write(fp[:])
	return h.Sum(nil)[:macLen]
}

// Encode returns the opaque form of cur, bound to cur.KeyFP (part of the MAC
// input, not of the encoded cursor).
func (c cursorCodec) Encode(cur cursor) string {
	var flags byte
	if cur.Partial {
		flags |= flagPartial
	}
	if cur.Explicit {
		flags |= flagExplicit
	}
	if cur.Waiting {
		flags |= flagWaiting
	}
	if cur.Executed {
		flags |= flagExecuted
	}
	// A projected view's width is its column count: no byte needed (every
	// byte of a cursor costs tokens twice per page).
	if cur.Width != len(cur.Columns) {
		flags |= flagWidth
	}
	var body []byte
	if id, err := ulid.ParseStrict(cur.ExecutionID); err == nil && id.String() == cur.ExecutionID {
		flags |= flagBinaryULID
		body = append(body, id[:]...)
	} else {
		body = appendString(body, cur.ExecutionID)
	}
	for _, n := range []int64{cur.QueryID, int64(cur.Offset), int64(cur.PageSize), int64(cur.Budget)} {
		body = binary.AppendUvarint(body, uint64(max(n, 0)))
	}
	if flags&flagWidth != 0 {
		body = binary.AppendUvarint(body, uint64(max(cur.Width, 0)))
	}
	body = binary.AppendUvarint(body, uint64(len(cur.Columns)))
	for _, col := range cur.Columns {
		body = appendString(body, col)
	}
	body = appendString(body, cur.Filters)
	body = appendString(body, cur.SortBy)
	if len(body) >= compressMinBytes {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, flate.BestCompression)
		_, _ = w.Write(body)
		_ = w.Close()
		if buf.Len() < len(body) {
			flags |= flagDeflate
			body = buf.Bytes()
		}
	}
	msg := make([]byte, 0, 2+len(body)+macLen)
	msg = append(msg, cursorVersion, flags)
	msg = append(msg, body...)
	msg = append(msg, c.mac(msg, cur.KeyFP)...)
	return base64.RawURLEncoding.EncodeToString(msg)
}

// Decode verifies s for a caller whose key has fingerprint fp and parses
// it; every failure, a cursor issued for another key included, is
// errInvalidCursor.
func (c cursorCodec) Decode(s string, fp keyFP) (cursor, error) {
	if len(s) == 0 || len(s) > maxCursorLen {
		return cursor{}, errInvalidCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(raw) < 2+macLen {
		return cursor{}, errInvalidCursor
	}
	msg, sum := raw[:len(raw)-macLen], raw[len(raw)-macLen:]
	if !hmac.Equal(sum, c.mac(msg, fp)) {
		return cursor{}, errInvalidCursor
	}
	if msg[0] != cursorVersion || msg[1]&^flagKnownFlags != 0 {
		return cursor{}, errInvalidCursor
	}
	cur, err := parseCursorBody(msg[1], msg[2:])
	if err != nil {
		return cursor{}, errInvalidCursor
	}
	cur.KeyFP = fp
	return cur, nil
}

func parseCursorBody(flags byte, body []byte) (cursor, error) {
	if flags&flagDeflate != 0 {
		r := flate.NewReader(bytes.NewReader(body))
		inflated, err := io.ReadAll(io.LimitReader(r, maxCursorBody+1))
		if err != nil || len(inflated) > maxCursorBody {
			return cursor{}, fmt.Errorf("inflate: %w", errInvalidCursor)
		}
		body = inflated
	}
	rd := &reader{b: body}
	cur := cursor{
		view:     view{Partial: flags&flagPartial != 0},
		Explicit: flags&flagExplicit != 0,
		Waiting:  flags&flagWaiting != 0,
		Executed: flags&flagExecuted != 0,
	}
	if flags&flagBinaryULID != 0 {
		var id ulid.ULID
		copy(id[:], rd.bytes(16))
		cur.ExecutionID = id.String()
	} else {
		cur.ExecutionID = rd.string()
	}
	nums := make([]int64, 4)
	for i := range nums {
		nums[i] = rd.int()
	}
	cur.QueryID = nums[0]
	cur.Offset, cur.PageSize, cur.Budget = int(nums[1]), int(nums[2]), int(nums[3])
	widthEncoded := flags&flagWidth != 0
	if widthEncoded {
		cur.Width = int(rd.int())
	}
	n := rd.int()
	if n > 500 {
		rd.err = errInvalidCursor
	}
	for i := int64(0); i < n && rd.err == nil; i++ {
		cur.Columns = append(cur.Columns, rd.string())
	}
	cur.Filters = rd.string()
	cur.SortBy = rd.string()
	if !widthEncoded {
		cur.Width = len(cur.Columns)
	}
	if rd.err != nil || len(rd.b) != 0 || cur.ExecutionID == "" {
		return cursor{}, errInvalidCursor
	}
	return cur, nil
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader consumes a cursor body; the first error sticks.
type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil || n < 0 || n > len(r.b) {
		r.err = errInvalidCursor
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) int() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > math.MaxInt64 {
		r.err = errInvalidCursor
		return 0
	}
	r.b = r.b[n:]
	return int64(v)
}

func (r *reader) string() string {
	n := r.int()
	return string(r.bytes(int(n)))
}
