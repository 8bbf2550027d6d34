package tools

import (
	"context"
	"encoding/base64"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/schemas"
)

func testCodec(secret string) cursorCodec { return cursorCodec{secret: []byte(secret)} }

func TestCursorRoundTrip(t *testing.T) {
	codec := testCodec("s1")
	cases := []cursor{
		{view: view{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1"}, QueryID: 1001, Offset: 25, PageSize: 25, Budget: 8000},
		{view: view{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1"}, QueryID: 1001, Width: 22, Waiting: true, Executed: true},
		{view: view{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1", Columns: []string{"a", "b"}}, QueryID: 1001, Width: 2},
		{view: view{ExecutionID: "not-a-ulid", Partial: true, KeyFP: codec.fingerprint("k")}, QueryID: 1, Offset: 0, PageSize: 1, Budget: 256, Explicit: true},
		{view: view{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1",
			Columns: []string{"block_time", "amount_usd", "weird,\"name\""}, Filters: strings.Repeat("amount_usd > 1000 AND ", 150) + "true",
			SortBy: "amount_usd desc, block_time"}, QueryID: 9007199254740993, Offset: 1 << 40, PageSize: 30000, Budget: 25000},
	}
	for _, c := range cases {
		s := codec.Encode(c)
		if strings.ContainsAny(s, "+/=") {
			t.Errorf("cursor %q is not base64url without padding", s)
		}
		got, err := codec.Decode(s, c.KeyFP)
		if err != nil {
			t.Fatalf("Decode(%q): %v", s, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Errorf("round trip:\n got %+v\nwant %+v", got, c)
		}
	}
	// A long filter is deflated: the cursor stays far shorter than the filter.
	if s := codec.Encode(cases[4]); len(s) > len(cases[4].Filters)/4 {
		t.Errorf("cursor with a %d-char filter is %d chars", len(cases[4].Filters), len(s))
	}
}

func TestCursorIsShort(t *testing.T) {
	s := testCodec("s").Encode(cursor{view: view{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1"}, QueryID: 3493826, Offset: 12345, PageSize: 40, Budget: 8000})
	if len(s) > 60 {
		t.Errorf("plain cursor is %d chars (%s), want ≤ 60", len(s), s)
	}
}

func TestCursorRejectsTampering(t *testing.T) {
	codec := testCodec("secret")
	good := codec.Encode(cursor{view: view{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1", Filters: "a = 1"}, QueryID: 7, Offset: 10, PageSize: 10, Budget: 8000})
	raw, _ := base64.RawURLEncoding.DecodeString(good)

	bad := map[string]string{
		"empty":          "",
		"garbage":        "not a cursor!",
		"truncated":      good[:len(good)-3],
		"prefix only":    good[:10],
		"extended":       good + "AA",
		"foreign secret": testCodec("other").Encode(cursor{view: view{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1"}, QueryID: 7, Offset: 10}),
		"too long":       strings.Repeat("A", maxCursorLen+4),
	}
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			b := append([]byte(nil), raw...)
			b[i] ^= bit
			bad["flip byte "+string(rune('A'+i%26))+string(rune('0'+i/26))+string(rune(bit))] = base64.RawURLEncoding.EncodeToString(b)
		}
	}
	for name, s := range bad {
		if _, err := codec.Decode(s, keyFP{}); !errors.Is(err, errInvalidCursor) {
			t.Errorf("%s: err = %v, want errInvalidCursor", name, err)
		}
	}
	if _, err := codec.Decode(good, keyFP{}); err != nil {
		t.Fatalf("good cursor rejected: %v", err)
	}
}

func TestCursorRejectsSignedGarbage(t *testing.T) {
	// A validly signed message whose body is malformed (e.g. from a future
	// version sharing the secret) must still be rejected cleanly.
	codec := testCodec("k")
	for name, msg := range map[string][]byte{
		"bad version":   {9, 0, 1, 'x', 0, 0, 0, 0, 0, 0, 0},
		"version 1":     {1, 0, 1, 'x', 0, 0, 0, 0, 0, 0, 0},
		"unknown flag":  {cursorVersion, 0x80, 1, 'x', 0, 0, 0, 0, 0, 0, 0},
		"short body":    {cursorVersion, 0, 5, 'x'},
		"trailing junk": {cursorVersion, 0, 1, 'x', 0, 0, 0, 0, 0, 0, 0, 7},
		"bad deflate":   {cursorVersion, flagDeflate, 1, 2, 3},
		"empty exec id": {cursorVersion, 0, 0, 0, 0, 0, 0, 0, 0, 0},
		"many columns":  {cursorVersion, 0, 1, 'x', 0, 0, 0, 0, 0xff, 0xff, 0x03},
	} {
		s := base64.RawURLEncoding.EncodeToString(append(append([]byte(nil), msg...), codec.mac(msg, keyFP{})...))
		if _, err := codec.Decode(s, keyFP{}); !errors.Is(err, errInvalidCursor) {
			t.Errorf("%s: err = %v, want errInvalidCursor", name, err)
		}
	}
}

func TestInvalidCursorMessage(t *testing.T) {
	msg := errInvalidCursor.Error()
	for _, want := range []string{"cursor is invalid", "tampered", "different Dune API key", "get_latest_result again with your key"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if len(msg) > schemas.MaxMessageLen {
		t.Errorf("message is %d bytes", len(msg))
	}
}

// A cursor verifies only for the key it was issued for: the fingerprint of
// that key is part of the MAC input (not of the cursor, which stays as short).
func TestCursorBoundToAPIKey(t *testing.T) {
	codec := testCodec("secret")
	fpA, fpB, own := codec.fingerprint("key-A"), codec.fingerprint("key-B"), codec.fingerprint("")
	if fpA == fpB || fpA == own || fpB == own {
		t.Fatal("distinct keys share a fingerprint")
	}
	if fpA != codec.fingerprint("key-A") {
		t.Fatal("fingerprint is not deterministic")
	}
	if testCodec("other secret").fingerprint("key-A") == fpA {
		t.Error("fingerprint does not depend on the secret")
	}
	cur := cursor{view: view{ExecutionID: "01HKZJ2683PHF9Q9PHHQ8FW4Q1", KeyFP: fpA}, QueryID: 3493826, Offset: 12345, PageSize: 40, Budget: 8000}
	s := codec.Encode(cur)
	if got, err := codec.Decode(s, fpA); err != nil || !reflect.DeepEqual(got, cur) {
		t.Fatalf("Decode with the issuing key: %+v, %v", got, err)
	}
	for name, fp := range map[string]keyFP{"another key": fpB, "the server's key": own} {
		if _, err := codec.Decode(s, fp); !errors.Is(err, errInvalidCursor) {
			t.Errorf("%s: err = %v, want errInvalidCursor", name, err)
		}
	}
	cur.KeyFP = keyFP{}
	if plain := codec.Encode(cur); len(plain) != len(s) {
		t.Errorf("binding to a key changed the cursor's length: %d vs %d", len(s), len(plain))
	}
	// The per-request key of a context decides; none means the server's own.
	if got := codec.callerFP(dune.WithAPIKey(context.Background(), "key-B")); got != fpB {
		t.Error("callerFP ignores the context's key")
	}
	if got := codec.callerFP(context.Background()); got != own {
		t.Error("callerFP without a key is not the server's own")
	}
}
