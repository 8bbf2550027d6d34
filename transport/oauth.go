package transport

import (
	"encoding/json"
	"net/http"

	"github.com/mark3labs/mcp-go/server"
)

// sendToken says how a client sends the bearer token: the text of every 401
// and of the OAuth discovery answers.
const sendToken = `send the header "Authorization: Bearer <DUNE_MCP_AUTH_TOKEN>" ` +
	`(Claude Code: claude mcp add --transport http dune-mcp <url>/mcp --header "Authorization: Bearer <token>")`

// oauthPaths are the OAuth discovery and registration paths MCP clients
// (Claude Code among them) probe after a 401, each also with a path
// suffix (e.g. /.well-known/oauth-protected-resource/mcp). mcp-go serves
// none of them unless asked (server.NewProtectedResourceMetadataHandler),
// and this server does not.
var oauthPaths = []string{
	server.WellKnownProtectedResourcePath,
	"/.well-known/oauth-authorization-server",
	"/.well-known/openid-configuration",
	"/register",
}

// noOAuth answers the OAuth discovery paths with 404, a WWW-Authenticate
// header and a short JSON body that say this server uses a static bearer
// token (or none), so a client stops looking for an authorization server
// and its user learns what to configure.
func noOAuth(tokenRequired bool) http.Handler {
	desc := "this server uses no OAuth and needs no token"
	if tokenRequired {
		desc = "this server uses a static bearer token (DUNE_MCP_AUTH_TOKEN); no OAuth"
	}
	body := map[string]string{"error": "invalid_request", "error_description": desc}
	if tokenRequired {
		body["hint"] = sendToken
	}
	b, _ := json.Marshal(body)
	challenge := `Bearer error="invalid_request", error_description="` + desc + `"`
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("WWW-Authenticate", challenge)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write(append(b, '\n'))
	})
}
