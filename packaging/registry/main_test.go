package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The schema copy is byte for byte the published one: its SHA-256 was
// computed from github.com/modelcontextprotocol/static (the source of
// static.modelcontextprotocol.io) at a9ba437 and matches the pin another
// project took from the live URL (docs/install.md).
func TestSchemaIsThePublishedCopy(t *testing.T) {
	sum := sha256.Sum256(schemaJSON)
	if got := hex.EncodeToString(sum[:]); got != "3fba09590c99f61735d234822279f4223fab9e300c0a81e81c91ab62a4114de0" {
		t.Errorf("server.schema.json sha256 %s: not the published 2025-12-11 schema", got)
	}
	var s struct {
		ID string `json:"$id"`
	}
	if err := json.Unmarshal(schemaJSON, &s); err != nil || s.ID != SchemaURL {
		t.Errorf("$id %q (%v), want %s", s.ID, err, SchemaURL)
	}
}

func TestRunWritesAValidEntryForTheBundles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"dune-mcp_1.2.3_darwin_arm64.mcpb":  "darwin bundle bytes",
		"dune-mcp_1.2.3_windows_amd64.mcpb": "windows bundle bytes",
	}
	args := []string{"-version", "1.2.3", "-out", filepath.Join(dir, "server.json")}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, filepath.Join(dir, name))
	}
	var stdout, stderr strings.Builder
	if code := run(args, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	data, err := os.ReadFile(filepath.Join(dir, "server.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Name     string
		Version  string
		Packages []struct {
			RegistryType string
			Identifier   string
			Version      string
			FileSha256   string
			Transport    struct{ Type string }
		}
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Name != "io.github.dune-mcp/dune-mcp" || doc.Version != "1.2.3" || len(doc.Packages) != len(files) {
		t.Fatalf("name %q version %q, %d packages", doc.Name, doc.Version, len(doc.Packages))
	}
	for _, p := range doc.Packages {
		file := strings.TrimPrefix(p.Identifier, "https://github.com/dune-mcp/dune-mcp/releases/download/v1.2.3/")
		body, ok := files[file]
		if !ok {
			t.Errorf("identifier %q: not a release asset URL of a bundle", p.Identifier)
			continue
		}
		want := sha256.Sum256([]byte(body))
		if p.FileSha256 != hex.EncodeToString(want[:]) || p.RegistryType != "mcpb" || p.Version != "1.2.3" || p.Transport.Type != "stdio" {
			t.Errorf("%s: %+v", file, p)
		}
	}
	if code := run([]string{"-check", filepath.Join(dir, "server.json")}, &stdout, &stderr); code != 0 {
		t.Errorf("-check of the written file: exit %d: %s", code, stderr.String())
	}
}

// Validate rejects what the registry would: each mutation of a valid entry
// breaks one rule of the schema or of mcpb packages.
func TestValidateRejects(t *testing.T) {
	valid, err := Render("1.2.3", []Bundle{{File: "b.mcpb", SHA256: strings.Repeat("ab", 32)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := Validate(valid); err != nil {
		t.Fatalf("the rendered template: %v", err)
	}
	cases := map[string]func(doc map[string]any, pkg map[string]any){
		"no description":       func(d, _ map[string]any) { delete(d, "description") },
		"description too long": func(d, _ map[string]any) { d["description"] = strings.Repeat("x", 101) },
		"name without a slash": func(d, _ map[string]any) { d["name"] = "dune-mcp" },
		"other $schema": func(d, _ map[string]any) {
			d["$schema"] = "https://static.modelcontextprotocol.io/schemas/2025-09-29/server.schema.json"
		},
		"package version latest": func(_, p map[string]any) { p["version"] = "latest" },
		"no fileSha256":          func(_, p map[string]any) { delete(p, "fileSha256") },
		"upper-case sha":         func(_, p map[string]any) { p["fileSha256"] = strings.Repeat("AB", 32) },
		"http identifier":        func(_, p map[string]any) { p["identifier"] = "http://example.com/b.mcpb" },
		"no transport":           func(_, p map[string]any) { delete(p, "transport") },
		"unknown transport":      func(_, p map[string]any) { p["transport"] = map[string]any{"type": "pipe"} },
		"bad websiteUrl":         func(d, _ map[string]any) { d["websiteUrl"] = "not a uri" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			var doc map[string]any
			if err := json.Unmarshal(valid, &doc); err != nil {
				t.Fatal(err)
			}
			mutate(doc, doc["packages"].([]any)[0].(map[string]any))
			data, _ := json.Marshal(doc)
			if err := Validate(data); err == nil {
				t.Errorf("accepted:\n%s", data)
			}
		})
	}
}
