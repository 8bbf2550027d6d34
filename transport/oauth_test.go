package transport_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/transport"
)

// A 401 says how to send the token, without echoing what was sent.
func TestUnauthorizedSaysHowToSendTheToken(t *testing.T) {
	s := newServer(t, newGate(), false, nil)
	ts := httptest.NewServer(s.NewHTTPHandler(transport.HTTPConfig{AuthToken: testToken}))
	defer ts.Close()
	for _, auth := range []string{"", "Bearer wrong-token-value-123"} {
		hdr := map[string]string{}
		if auth != "" {
			hdr["Authorization"] = auth
		}
		resp := post(t, ts.URL+"/mcp", hdr, initializeBody)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		body := string(b)
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("auth %q: %d, WWW-Authenticate %q", auth, resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		for _, want := range []string{"Authorization: Bearer <DUNE_MCP_AUTH_TOKEN>", "--header"} {
			if !strings.Contains(body, want) {
				t.Errorf("auth %q: body %q lacks %q", auth, body, want)
			}
		}
		if strings.Contains(body, testToken) || strings.Contains(body, "wrong-token-value-123") || len(body) > 400 {
			t.Errorf("auth %q: body leaks a token or is long: %q", auth, body)
		}
	}
}

// The OAuth discovery paths answer "static bearer token, no OAuth" instead
// of a bare 404, with or without a token configured.
func TestOAuthDiscoveryAnswersNoOAuth(t *testing.T) {
	paths := []struct{ method, path string }{
		{http.MethodGet, "/.well-known/oauth-protected-resource"},
		{http.MethodGet, "/.well-known/oauth-protected-resource/mcp"},
		{http.MethodGet, "/.well-known/oauth-authorization-server"},
		{http.MethodGet, "/.well-known/oauth-authorization-server/mcp"},
		{http.MethodGet, "/.well-known/openid-configuration"},
		{http.MethodPost, "/register"},
	}
	for _, tc := range []struct {
		token, desc string
	}{
		{testToken, "this server uses a static bearer token (DUNE_MCP_AUTH_TOKEN); no OAuth"},
		{"", "this server uses no OAuth and needs no token"},
	} {
		s := newServer(t, newGate(), false, nil)
		ts := httptest.NewServer(s.NewHTTPHandler(transport.HTTPConfig{AuthToken: tc.token}))
		for _, p := range paths {
			req, _ := http.NewRequest(p.method, ts.URL+p.path, strings.NewReader(`{"client_name":"x"}`))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]string
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			where := p.method + " " + p.path
			if resp.StatusCode != http.StatusNotFound || err != nil {
				t.Errorf("%s: status %d, body error %v", where, resp.StatusCode, err)
			}
			wantHdr := `Bearer error="invalid_request", error_description="` + tc.desc + `"`
			if got := resp.Header.Get("WWW-Authenticate"); got != wantHdr {
				t.Errorf("%s: WWW-Authenticate %q, want %q", where, got, wantHdr)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("%s: Content-Type %q", where, ct)
			}
			if body["error"] != "invalid_request" || body["error_description"] != tc.desc {
				t.Errorf("%s: body %v", where, body)
			}
			if (tc.token != "") != strings.Contains(body["hint"], "Authorization: Bearer <DUNE_MCP_AUTH_TOKEN>") {
				t.Errorf("%s: hint %q with token set %v", where, body["hint"], tc.token != "")
			}
			for _, v := range body {
				if strings.Contains(v, testToken) {
					t.Errorf("%s: body leaks the token", where)
				}
			}
		}
		// Other unknown paths stay a bare 404.
		resp, err := http.Get(ts.URL + "/.well-known/other")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound || resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("other path: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		ts.Close()
	}
}
