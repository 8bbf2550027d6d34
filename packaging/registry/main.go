// Command registry writes and checks dune-mcp's entry for the MCP registry
// (server.json, schema 2025-12-11): one mcpb package per bundle that
// `make mcpb` built, each with the SHA-256 of its file.
//
//	go run ./packaging/registry -version 1.2.3 -out dist/server.json dist/*.mcpb
//	go run ./packaging/registry -check dist/server.json
//
// server.json here is the template: its first package is the prototype of
// every bundle's entry; "{version}" and "{file}" in its identifier become the
// release version and the bundle's file name. Whatever is written or checked
// must pass server.schema.json, a byte-for-byte copy of the published schema
// (docs/install.md says where it came from), plus the rules the registry adds
// for mcpb packages: an https identifier and a fileSha256.
package main

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SchemaURL is the $id of the schema server.json is written for.
const SchemaURL = "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json"

//go:embed server.schema.json
var schemaJSON []byte

//go:embed server.json
var templateJSON []byte

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	fs.SetOutput(stderr)
	version := fs.String("version", "", "release `version` (semver, without v)")
	out := fs.String("out", "", "write server.json to this `path`")
	check := fs.String("check", "", "check this server.json `path` instead of writing one")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *check != "" {
		data, err := os.ReadFile(*check)
		if err == nil {
			err = Validate(data)
		}
		if err != nil {
			fmt.Fprintf(stderr, "registry: %s: %v\n", *check, err)
			return 1
		}
		fmt.Fprintf(stdout, "%s: valid against %s\n", *check, SchemaURL)
		return 0
	}
	if *version == "" || *out == "" || fs.NArg() == 0 {
		fmt.Fprintln(stderr, "registry: need -version, -out and the .mcpb files (or -check path)")
		return 2
	}
	var bundles []Bundle
	for _, path := range fs.Args() {
		data, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintf(stderr, "registry: %v\n", err)
			return 1
		}
		sum := sha256.Sum256(data)
		bundles = append(bundles, Bundle{File: filepath.Base(path), SHA256: hex.EncodeToString(sum[:])})
	}
	doc, err := Render(*version, bundles)
	if err == nil {
		err = Validate(doc)
	}
	if err == nil {
		err = os.WriteFile(*out, doc, 0o644)
	}
	if err != nil {
		fmt.Fprintf(stderr, "registry: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: version %s, %d mcpb packages, valid against %s\n", *out, *version, len(bundles), SchemaURL)
	return 0
}

// Bundle is one .mcpb file of a release.
type Bundle struct {
	File   string // file name, e.g. dune-mcp_1.2.3_darwin_arm64.mcpb
	SHA256 string // hex SHA-256 of the file
}

// Render fills the template with version and one mcpb package per bundle.
func Render(version string, bundles []Bundle) ([]byte, error) {
	var doc map[string]any
	if err := json.Unmarshal(templateJSON, &doc); err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	pkgs, _ := doc["packages"].([]any)
	if len(pkgs) == 0 {
		return nil, errors.New("template: no package to copy")
	}
	proto, err := json.Marshal(pkgs[0])
	if err != nil {
		return nil, err
	}
	var out []any
	for _, b := range bundles {
		var p map[string]any
		if err := json.Unmarshal(proto, &p); err != nil {
			return nil, err
		}
		id, _ := p["identifier"].(string)
		p["identifier"] = strings.NewReplacer("{version}", version, "{file}", b.File).Replace(id)
		p["version"] = version
		p["fileSha256"] = b.SHA256
		out = append(out, p)
	}
	doc["version"] = version
	doc["packages"] = out
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

var sha256Hex = regexp.MustCompile(`^[a-f0-9]{64}$`)

// Validate checks a server.json against the published schema (formats
// asserted) and the registry's rules for mcpb packages.
func Validate(data []byte) error {
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	schemaDoc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	if err := c.AddResource(SchemaURL, schemaDoc); err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	sch, err := c.Compile(SchemaURL)
	if err != nil {
		return fmt.Errorf("schema: %w", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	if err := sch.Validate(inst); err != nil {
		return err
	}
	var doc struct {
		Schema   string `json:"$schema"`
		Packages []struct {
			RegistryType string `json:"registryType"`
			Identifier   string `json:"identifier"`
			FileSHA256   string `json:"fileSha256"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return err
	}
	if doc.Schema != SchemaURL {
		return fmt.Errorf("$schema is %q, want %s", doc.Schema, SchemaURL)
	}
	for i, p := range doc.Packages {
		if p.RegistryType != "mcpb" {
			continue
		}
		if !strings.HasPrefix(p.Identifier, "https://") {
			return fmt.Errorf("packages[%d]: an mcpb identifier is the bundle's https URL, got %q", i, p.Identifier)
		}
		if !sha256Hex.MatchString(p.FileSHA256) {
			return fmt.Errorf("packages[%d]: an mcpb package needs fileSha256 (64 lower-case hex digits)", i)
		}
	}
	return nil
}
