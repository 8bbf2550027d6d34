package emulator_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/internal/emulator"
)

// A query string url.ParseQuery cannot read whole is a 400, never answered
// with the parameters it did read (issue 11: 10,000 query parameters were
// silently dropped).
func TestUnparsableQueryStringIs400(t *testing.T) {
	s := emulator.NewServer()
	defer s.Close()
	s.AddQuery(1001, emulator.Tiny())
	var many strings.Builder
	many.WriteString("limit=1")
	for i := range 10000 {
		many.WriteString("&params.p" + strconv.Itoa(i) + "=v")
	}
	for name, q := range map[string]string{
		"10,001 pairs": many.String(),
		"bad escape":   "limit=1&params.x=%zz",
	} {
		t.Run(name, func(t *testing.T) {
			r := get(t, s, "/api/v1/query/1001/results?"+q)
			if r.Status != http.StatusBadRequest || !strings.Contains(string(r.Body), "invalid query string") {
				t.Errorf("status %d: %.200s", r.Status, r.Body)
			}
		})
	}
	// A parsable one is still answered.
	if r := get(t, s, "/api/v1/query/1001/results?limit=1"); r.Status != http.StatusOK {
		t.Errorf("status %d: %.200s", r.Status, r.Body)
	}
}
