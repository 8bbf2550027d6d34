package main

// The README's client snippets, the Claude Desktop bundle's manifest, the
// MCP registry entry and the container's Dockerfile all say how to start or
// reach dune-mcp. These
// tests hold each of them to the code: every environment variable must be
// one config.Parse reads, every flag one it accepts, every stdio command must
// start the server (through run, the whole program) and list its tools,
// every URL must be an endpoint the HTTP server serves and every header one
// it reads. Formats are checked per client (the keys each client's
// documentation lists; README.md links the pages).

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"

	"net/url"
	"os"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/dune-mcp/dune-mcp/config"
	"github.com/dune-mcp/dune-mcp/schemas"
	"github.com/dune-mcp/dune-mcp/transport"
)

// snippetBinary is the README's stand-in for the binary's absolute path.
const snippetBinary = "/path/to/dune-mcp"

// clientFormats is each client's README section (by heading prefix), the
// key its config nests servers under, and the keys a server entry may have.
var clientFormats = []struct {
	heading   string
	serversAt string
	keys      []string
}{
	{"Claude Desktop", "mcpServers", []string{"command", "args", "env"}},
	{"Claude Code", "", []string{"type", "url", "headers", "command", "args", "env"}}, // claude mcp add-json
	{"VS Code", "servers", []string{"type", "command", "args", "env", "url", "headers"}},
	{"Cursor", "mcpServers", []string{"command", "args", "env", "url", "headers"}},
	{"Windsurf", "mcpServers", []string{"command", "args", "env", "serverUrl", "headers"}},
	{"Zed", "context_servers", []string{"source", "command", "args", "env"}},
}

// envNames returns the environment variables config.Parse reads.
func envNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	if _, err := config.Parse(nil, func(k string) string { names[k] = true; return "" }, nil); err != nil {
		t.Fatal(err)
	}
	if len(names) < 10 || !names[config.EnvAPIKey] {
		t.Fatalf("config.Parse read only %v", names)
	}
	return names
}

// placeholder gives ${input:…}, ${env:…} and ${user_config.…} references a
// value, as the client would.
var placeholder = regexp.MustCompile(`\$\{(input:|env:|user_config\.)[^}]*\}`)

// startsServer runs the whole program with args and env over stdio, as the
// client would start it, and returns the names of the tools it lists.
func startsServer(t *testing.T, args []string, env map[string]string) []string {
	t.Helper()
	names := envNames(t)
	for k := range env {
		if !names[k] {
			t.Errorf("env %s: not a variable dune-mcp reads", k)
		}
	}
	getenv := func(k string) string { return env[k] }
	cfg, err := config.Parse(args, getenv, nil)
	if err == nil {
		err = cfg.Check()
	}
	if err != nil {
		t.Fatalf("args %q env %v: %v", args, env, err)
	}
	in := strings.Join([]string{
		`{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"clients_test","version":"0"}}}`,
		`{"jsonrpc":"2.0","method":"notifications/initialized"}`,
		`{"jsonrpc":"2.0","id":2,"method":"tools/list"}`,
	}, "\n") + "\n"
	var stdout, stderr strings.Builder
	if code := run(context.Background(), append(args, "--log-level", "error"), getenv, strings.NewReader(in), &stdout, &stderr); code != 0 {
		t.Fatalf("args %q: exit %d: %s", args, code, stderr.String())
	}
	sc := bufio.NewScanner(strings.NewReader(stdout.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var msg struct {
			ID     int `json:"id"`
			Result struct {
				Tools []struct{ Name string } `json:"tools"`
			} `json:"result"`
		}
		if json.Unmarshal(sc.Bytes(), &msg) == nil && msg.ID == 2 {
			var tools []string
			for _, tl := range msg.Result.Tools {
				tools = append(tools, tl.Name)
			}
			sort.Strings(tools)
			return tools
		}
	}
	t.Fatalf("args %q: no tools/list answer in %q", args, stdout.String())
	return nil
}

var wantTools = []string{schemas.GetLatestResult, schemas.NextPage, schemas.SampleResult}

func checkStdio(t *testing.T, args []string, env map[string]string) {
	t.Helper()
	resolved := map[string]string{}
	for k, v := range env {
		resolved[k] = placeholder.ReplaceAllString(v, "resolved-by-the-client")
	}
	got := startsServer(t, args, resolved)
	want := slices.Clone(wantTools)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("args %q: tools %v, want %v", args, got, want)
	}
}

// checkURL: a URL of the server on its default address; kind is "sse" for
// the legacy transport, anything else for streamable HTTP.
func checkURL(t *testing.T, raw, kind string) {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Errorf("url %q: %v", raw, err)
		return
	}
	want := transport.PathMCP
	if kind == "sse" {
		want = transport.PathSSE
	}
	if u.Scheme != "http" || u.Host != config.DefaultAddr || u.Path != want {
		t.Errorf("url %q: want http://%s%s", raw, config.DefaultAddr, want)
	}
}

func checkHeader(t *testing.T, name, value string) {
	t.Helper()
	switch name {
	case "Authorization":
		if !strings.HasPrefix(value, "Bearer ") {
			t.Errorf("Authorization %q: the server takes a bearer token", value)
		}
	case transport.APIKeyHeader:
	default:
		t.Errorf("header %q: dune-mcp reads Authorization and %s only", name, transport.APIKeyHeader)
	}
}

// checkEntry checks one server entry of a client's JSON config.
func checkEntry(t *testing.T, name string, entry map[string]any, keys []string) {
	t.Helper()
	for k := range entry {
		if !slices.Contains(keys, k) {
			t.Errorf("%s: key %q is not in this client's format (%v)", name, k, keys)
		}
	}
	strs := func(v any) []string {
		var out []string
		for _, x := range asSlice(v) {
			out = append(out, fmt.Sprint(x))
		}
		return out
	}
	env := map[string]string{}
	for k, v := range asMap(entry["env"]) {
		env[k] = fmt.Sprint(v)
	}
	for k, v := range asMap(entry["headers"]) {
		checkHeader(t, k, fmt.Sprint(v))
	}
	kind, _ := entry["type"].(string)
	switch cmd, _ := entry["command"].(string); {
	case cmd == snippetBinary:
		checkStdio(t, strs(entry["args"]), env)
	case cmd == "npx": // the mcp-remote bridge
		args := strs(entry["args"])
		if !slices.Contains(args, "mcp-remote") {
			t.Errorf("%s: npx %v is not the mcp-remote bridge", name, args)
		}
		for i, a := range args {
			if strings.HasPrefix(a, "http") {
				checkURL(t, a, "")
			}
			if a == "--header" && i+1 < len(args) {
				// mcp-remote expands ${NAME} from its environment.
				h, v, _ := strings.Cut(args[i+1], ":")
				v = regexp.MustCompile(`\$\{([A-Z_]+)\}`).ReplaceAllStringFunc(v, func(ref string) string { return env[ref[2:len(ref)-1]] })
				checkHeader(t, h, strings.TrimSpace(v))
			}
		}
	case cmd != "":
		t.Errorf("%s: command %q: want %s (or npx mcp-remote)", name, cmd, snippetBinary)
	default:
		u, _ := entry["url"].(string)
		if s, ok := entry["serverUrl"].(string); ok {
			u = s
		}
		if u == "" {
			t.Errorf("%s: neither a command nor a URL", name)
			return
		}
		checkURL(t, u, kind)
	}
}

func asMap(v any) map[string]any { m, _ := v.(map[string]any); return m }
func asSlice(v any) []any        { s, _ := v.([]any); return s }

// codeBlock is a fenced block of a README section.
type codeBlock struct{ lang, body string }

// readmeClientSections splits README.md's "Client configuration" section into
// its subsections, by heading, with their text and fenced blocks.
func readmeClientSections(t *testing.T) (headings []string, text map[string]string, blocks map[string][]codeBlock) {
	t.Helper()
	data, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(data)
	start := strings.Index(s, "\n## Client configuration\n")
	if start < 0 {
		t.Fatal(`README.md has no "## Client configuration" section`)
	}
	s = s[start+1:]
	if end := strings.Index(s[3:], "\n## "); end >= 0 {
		s = s[:end+3]
	}
	text, blocks = map[string]string{}, map[string][]codeBlock{}
	cur := ""
	var fence *codeBlock
	for _, line := range strings.Split(s, "\n") {
		switch {
		case fence != nil && strings.TrimSpace(line) == "```":
			blocks[cur] = append(blocks[cur], *fence)
			fence = nil
		case fence != nil:
			fence.body += strings.TrimPrefix(line, "  ") + "\n"
		case strings.HasPrefix(strings.TrimSpace(line), "```"):
			fence = &codeBlock{lang: strings.TrimPrefix(strings.TrimSpace(line), "```")}
		case strings.HasPrefix(line, "### "):
			cur = strings.TrimPrefix(line, "### ")
			headings = append(headings, cur)
		default:
			text[cur] += line + "\n"
		}
	}
	return headings, text, blocks
}

func TestREADMEClientSnippets(t *testing.T) {
	headings, text, blocks := readmeClientSections(t)
	for _, f := range clientFormats {
		i := slices.IndexFunc(headings, func(h string) bool { return strings.HasPrefix(h, f.heading) })
		if i < 0 {
			t.Errorf("README: no client section for %s", f.heading)
			continue
		}
		h := headings[i]
		t.Run(f.heading, func(t *testing.T) {
			if !regexp.MustCompile(`Format: <https://[^>]+>`).MatchString(text[h]) && !strings.Contains(text[h], "format:\n<https://") {
				t.Errorf("%s: no link to the client's documentation of its format", h)
			}
			if len(blocks[h]) == 0 {
				t.Fatalf("%s: no snippet", h)
			}
			entries := 0
			for _, b := range blocks[h] {
				switch b.lang {
				case "json":
					var doc map[string]any
					if err := json.Unmarshal([]byte(b.body), &doc); err != nil {
						t.Fatalf("%s: invalid JSON: %v\n%s", h, err, b.body)
					}
					servers := asMap(doc[f.serversAt])
					if servers == nil {
						t.Fatalf("%s: no %q object", h, f.serversAt)
					}
					for name, e := range servers {
						checkEntry(t, name, asMap(e), f.keys)
						entries++
					}
				case "sh":
					entries += checkClaudeCommands(t, b.body, f.keys)
				default:
					t.Errorf("%s: a %q block; want json or sh", h, b.lang)
				}
			}
			if entries == 0 {
				t.Errorf("%s: no server entry found", h)
			}
		})
	}
}

// checkClaudeCommands checks each `claude mcp add` and `claude mcp add-json`
// command of a shell block and returns how many there were.
func checkClaudeCommands(t *testing.T, body string, jsonKeys []string) int {
	t.Helper()
	n := 0
	for _, line := range strings.Split(strings.ReplaceAll(body, "\\\n", " "), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		words, err := shellWords(line)
		if err != nil {
			t.Errorf("%q: %v", line, err)
			continue
		}
		if len(words) < 4 || words[0] != "claude" || words[1] != "mcp" {
			t.Errorf("%q: not a claude mcp command", line)
			continue
		}
		n++
		switch words[2] {
		case "add-json":
			if len(words) != 5 {
				t.Errorf("%q: want claude mcp add-json <name> '<json>'", line)
				continue
			}
			var entry map[string]any
			if err := json.Unmarshal([]byte(words[4]), &entry); err != nil {
				t.Errorf("%q: %v", line, err)
				continue
			}
			checkEntry(t, words[3], entry, jsonKeys)
		case "add":
			// claude mcp add [options] <name> [options] -- <command> [args...]
			env := map[string]string{}
			var name string
			rest := words[3:]
			for len(rest) > 0 && rest[0] != "--" {
				switch {
				case rest[0] == "--env" || rest[0] == "-e":
					if len(rest) < 2 {
						t.Fatalf("%q: --env without a value", line)
					}
					k, v, _ := strings.Cut(rest[1], "=")
					env[k] = v
					rest = rest[2:]
				case strings.HasPrefix(rest[0], "-"):
					t.Errorf("%q: option %s: stdio servers here take --env only", line, rest[0])
					rest = rest[1:]
				case name == "":
					name, rest = rest[0], rest[1:]
				default:
					t.Errorf("%q: unexpected %q before --", line, rest[0])
					rest = rest[1:]
				}
			}
			if name == "" || len(rest) < 2 || rest[1] != snippetBinary {
				t.Errorf("%q: want claude mcp add <name> --env K=V -- %s [flags]", line, snippetBinary)
				continue
			}
			checkStdio(t, rest[2:], env)
		default:
			t.Errorf("%q: want add or add-json", line)
		}
	}
	return n
}

// shellWords splits a command line as sh would for the quoting the README
// uses: single and double quotes, no expansions.
func shellWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\'' || c == '"':
			j := strings.IndexByte(s[i+1:], c)
			if j < 0 {
				return nil, fmt.Errorf("unterminated %c", c)
			}
			cur.WriteString(s[i+1 : i+1+j])
			i += j + 1
			inWord = true
		case c == ' ' || c == '\t':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// The Claude Desktop bundle's manifest starts the server the way the
// host does: ${user_config.*} replaced by the user's values (the defaults,
// and a key), ${__dirname} by the bundle's directory.
func TestMCPBManifestStartsTheServer(t *testing.T) {
	data, err := os.ReadFile("packaging/mcpb/manifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Server struct {
			Type       string `json:"type"`
			EntryPoint string `json:"entry_point"`
			MCPConfig  struct {
				Command string            `json:"command"`
				Args    []string          `json:"args"`
				Env     map[string]string `json:"env"`
			} `json:"mcp_config"`
		} `json:"server"`
		Tools      []struct{ Name string } `json:"tools"`
		UserConfig map[string]struct {
			Type      string   `json:"type"`
			Sensitive bool     `json:"sensitive"`
			Required  bool     `json:"required"`
			Default   any      `json:"default"`
			Min       *float64 `json:"min"`
			Max       *float64 `json:"max"`
		} `json:"user_config"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	if m.Server.Type != "binary" || m.Server.MCPConfig.Command != "${__dirname}/"+m.Server.EntryPoint {
		t.Errorf("server: type %q, command %q, entry point %q: want a binary started from the entry point",
			m.Server.Type, m.Server.MCPConfig.Command, m.Server.EntryPoint)
	}
	// The API key is a secret the user must give, and it reaches DUNE_API_KEY.
	key := m.UserConfig["dune_api_key"]
	if !key.Sensitive || !key.Required || m.Server.MCPConfig.Env[config.EnvAPIKey] != "${user_config.dune_api_key}" {
		t.Errorf("dune_api_key: sensitive %v, required %v, %s=%q", key.Sensitive, key.Required,
			config.EnvAPIKey, m.Server.MCPConfig.Env[config.EnvAPIKey])
	}
	// The default budget and its bounds are the server's.
	mt := m.UserConfig["max_tokens"]
	if mt.Default != float64(schemas.DefaultMaxTokens) || mt.Min == nil || *mt.Min != schemas.MinMaxTokens ||
		mt.Max == nil || *mt.Max != schemas.MaxMaxTokens || m.Server.MCPConfig.Env[config.EnvMaxTokens] != "${user_config.max_tokens}" {
		t.Errorf("max_tokens: default %v, min %v, max %v; want %d in [%d, %d] through %s",
			mt.Default, mt.Min, mt.Max, schemas.DefaultMaxTokens, schemas.MinMaxTokens, schemas.MaxMaxTokens, config.EnvMaxTokens)
	}
	env := map[string]string{}
	for k, v := range m.Server.MCPConfig.Env {
		env[k] = regexp.MustCompile(`\$\{user_config\.([a-z_]+)\}`).ReplaceAllStringFunc(v, func(ref string) string {
			name := ref[len("${user_config.") : len(ref)-1]
			uc, ok := m.UserConfig[name]
			if !ok {
				t.Errorf("env %s: ${user_config.%s} is not declared", k, name)
			}
			switch d := uc.Default.(type) {
			case float64: // a host is JavaScript: String(8000) is "8000"
				return strconv.FormatFloat(d, 'f', -1, 64)
			case string:
				return d
			}
			return "a-user-value"
		})
	}
	got := startsServer(t, m.Server.MCPConfig.Args, env)
	var listed []string
	for _, tl := range m.Tools {
		listed = append(listed, tl.Name)
	}
	sort.Strings(listed)
	if !slices.Equal(got, listed) {
		t.Errorf("manifest lists tools %v; the server lists %v", listed, got)
	}
}

// The registry entry's environment variables are the server's, with its
// defaults.
func TestRegistryEntryEnvironment(t *testing.T) {
	data, err := os.ReadFile("packaging/registry/server.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Packages []struct {
			Env []struct {
				Name, Default string
				IsSecret      bool
			} `json:"environmentVariables"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Packages) == 0 {
		t.Fatal("no package")
	}
	names := envNames(t)
	env := map[string]string{}
	for _, e := range doc.Packages[0].Env {
		if !names[e.Name] {
			t.Errorf("%s: not a variable dune-mcp reads", e.Name)
		}
		if e.Name == config.EnvAPIKey && !e.IsSecret {
			t.Errorf("%s is not marked isSecret", e.Name)
		}
		env[e.Name] = e.Default
	}
	if env[config.EnvMaxTokens] != strconv.Itoa(schemas.DefaultMaxTokens) {
		t.Errorf("%s default %q, want %d", config.EnvMaxTokens, env[config.EnvMaxTokens], schemas.DefaultMaxTokens)
	}
	env[config.EnvAPIKey] = "a-user-key"
	startsServer(t, nil, env)
}

// The container's environment (packaging/Dockerfile ENV) serves HTTP beyond
// loopback, so the server must refuse it without DUNE_MCP_AUTH_TOKEN and
// accept it with one; the HEALTHCHECK runs the healthcheck subcommand.
func TestDockerfileConfig(t *testing.T) {
	data, err := os.ReadFile("packaging/Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(data), "\\\n", " ")
	env := map[string]string{}
	var healthcheck, user string
	for _, line := range strings.Split(text, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "ENV":
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(kv, "=")
				env[k] = v
			}
		case "HEALTHCHECK":
			healthcheck = line
		case "USER":
			user = f[1]
		}
	}
	names := envNames(t)
	for k := range env {
		if !names[k] {
			t.Errorf("ENV %s: not a variable dune-mcp reads", k)
		}
	}
	if user != "65532:65532" {
		t.Errorf("USER %q, want 65532:65532 (non-root)", user)
	}
	if !strings.Contains(healthcheck, `CMD ["/dune-mcp", "healthcheck"]`) {
		t.Errorf("HEALTHCHECK %q does not run /dune-mcp healthcheck", healthcheck)
	}
	parse := func(env map[string]string) (config.Config, error) {
		cfg, err := config.Parse(nil, func(k string) string { return env[k] }, nil)
		if err == nil {
			err = cfg.Check()
		}
		return cfg, err
	}
	if _, err := parse(env); err == nil || !strings.Contains(err.Error(), config.EnvAuthToken) {
		t.Errorf("the image's environment without a token: %v; want a refusal naming %s", err, config.EnvAuthToken)
	}
	env[config.EnvAuthToken] = "0123456789abcdef0123456789abcdef"
	cfg, err := parse(env)
	if err != nil || cfg.Transport != config.TransportHTTP || cfg.Addr != "0.0.0.0:8080" {
		t.Errorf("with a token: transport %q addr %q err %v; want http on 0.0.0.0:8080", cfg.Transport, cfg.Addr, err)
	}
}
