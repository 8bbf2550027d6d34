// Package schemas holds the parameter structs of dune-mcp's tools and the JSON
// Schemas generated from them with invopop/jsonschema.
//
// The parameter structs embed the option groups of options.go, so every Dune
// API parameter is described exactly once, and each becomes a dune.Options in
// one method (Options). The result fields are Structured (output.go). The
// generated schemas are shaped for picky MCP clients: top-level
// "type":"object", everything inlined (no $ref, no $defs, no $schema),
// "additionalProperties":false, no top-level oneOf/anyOf/allOf, a description
// on every property.
package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strconv"
	"sync"

	"github.com/invopop/jsonschema"

	"github.com/dune-mcp/dune-mcp/dune"
	"github.com/dune-mcp/dune-mcp/internal/clip"
)

// Tool names, fixed by the design contract.
const (
	GetLatestResult = "get_latest_result"
	NextPage        = "next_page"
	SampleResult    = "sample_result"
)

// Token budget bounds: a max_tokens value outside them is clamped, not rejected.
const (
	MinMaxTokens     = 256
	MaxMaxTokens     = 25000
	DefaultMaxTokens = 8000
)

// QueryID is a saved query's numeric id. It decodes from a JSON integer or a
// string of digits ("123"), since models send both.
type QueryID int64

// JSONSchema describes both accepted forms (a property-level anyOf, which
// every client accepts).
func (QueryID) JSONSchema() *jsonschema.Schema {
	return &jsonschema.Schema{AnyOf: []*jsonschema.Schema{
		{Type: "integer", Minimum: json.Number("1")},
		{Type: "string", Pattern: "^[0-9]+$"},
	}}
}

// UnmarshalJSON accepts 123 and "123"; the id must be ≥ 1.
func (q *QueryID) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 1 {
		return fmt.Errorf("query_id must be a positive integer like 1234, got %s", clip.Bytes(string(b), 40+len(clip.Mark)))
	}
	*q = QueryID(n)
	return nil
}

// Budget is the per-call token budget, shared by the three tools.
type Budget struct {
	// MaxTokens is clamped to [MinMaxTokens, MaxMaxTokens]; nil means the server default.
	// Its description and default are set from the constants above when the
	// schema is generated (inputSchema).
	MaxTokens *int `json:"max_tokens,omitempty"`
}

// GetLatestResultParams are the arguments of get_latest_result.
type GetLatestResultParams struct {
	QueryID QueryID `json:"query_id" jsonschema:"required" jsonschema_description:"Saved query id (the number in its dune.com URL)."`
	Paging
	Projection
	Filtering
	Sorting
	Partial
	Parameters
	Freshness
	Budget
}

// Options are the Dune options the arguments ask for.
func (p GetLatestResultParams) Options() dune.Options {
	return options(p.Paging, p.Projection, p.Filtering, p.Sorting, p.Partial, p.Parameters)
}

// NextPageParams are the arguments of next_page.
type NextPageParams struct {
	Cursor string `json:"cursor" jsonschema:"required,minLength=1" jsonschema_description:"next_cursor from an earlier result, verbatim."`
	// Limit's schema is Paging's limit (see JSONSchemaExtend).
	Limit int `json:"limit,omitempty"`
	Budget
}

// JSONSchemaExtend gives limit the schema of Paging's limit, so it is
// described once, and says that the budget carries over from the previous
// page (the cursor remembers it).
func (NextPageParams) JSONSchemaExtend(s *jsonschema.Schema) {
	paging := reflector().Reflect(&Paging{})
	if p, ok := paging.Properties.Get("limit"); ok {
		s.Properties.Set("limit", p)
	}
	if p, ok := s.Properties.Get("max_tokens"); ok {
		p.Description = NextPageBudgetDescription
	}
}

// BudgetRange is the max_tokens range as the model reads it, e.g. "256-25000".
var BudgetRange = fmt.Sprintf("%d-%d", MinMaxTokens, MaxMaxTokens)

// budgetDescription describes max_tokens of get_latest_result and sample_result.
var budgetDescription = "Token budget of this result, " + BudgetRange + " (clamped)."

// NextPageBudgetDescription describes next_page's max_tokens, whose default
// is the previous page's budget.
var NextPageBudgetDescription = "Token budget of this page, " + BudgetRange + " (clamped); default: the previous page's."

// ClampMaxTokens brings a max_tokens value into [MinMaxTokens, MaxMaxTokens]:
// out-of-range budgets are clamped, not rejected.
func ClampMaxTokens(n int) int {
	return min(max(n, MinMaxTokens), MaxMaxTokens)
}

// SampleResultParams are the arguments of sample_result.
type SampleResultParams struct {
	QueryID QueryID `json:"query_id" jsonschema:"required" jsonschema_description:"Saved query id (the number in its dune.com URL)."`
	Sampling
	Projection
	Sorting
	Parameters
	Budget
}

// Options are the Dune options the arguments ask for.
func (p SampleResultParams) Options() dune.Options {
	return options(p.Sampling, p.Projection, p.Sorting, p.Parameters)
}

// JSONSchemaExtend marks the embedded sample_count as required.
func (SampleResultParams) JSONSchemaExtend(s *jsonschema.Schema) {
	for _, r := range s.Required {
		if r == "sample_count" {
			return
		}
	}
	s.Required = append(s.Required, "sample_count")
}

// reflector returns the reflector configured for MCP clients: everything
// inlined (some clients do not resolve $ref), required fields from the
// jsonschema tags, and interfaces as {} (any value).
func reflector() *jsonschema.Reflector {
	return &jsonschema.Reflector{
		Anonymous:                  true,
		DoNotReference:             true,
		ExpandedStruct:             true,
		RequiredFromJSONSchemaTags: true,
		Mapper: func(t reflect.Type) *jsonschema.Schema {
			if t.Kind() == reflect.Interface {
				return &jsonschema.Schema{Extras: map[string]any{}}
			}
			return nil
		},
	}
}

type generated struct {
	input  map[string]json.RawMessage
	output json.RawMessage
}

var (
	genOnce sync.Once
	gen     generated
	// byBudget caches InputWithDefaultBudget per (tool, budget).
	byBudget sync.Map
)

// inputSchema reflects the input schema of tool with max_tokens' default set
// to budget.
func inputSchema(tool string, budget int) json.RawMessage {
	var s *jsonschema.Schema
	switch tool {
	case GetLatestResult:
		s = reflector().Reflect(&GetLatestResultParams{})
	case NextPage:
		s = reflector().Reflect(&NextPageParams{})
	case SampleResult:
		s = reflector().Reflect(&SampleResultParams{})
	default:
		return nil
	}
	if p, ok := s.Properties.Get("max_tokens"); ok && tool != NextPage {
		p.Description = budgetDescription
		p.Default = json.Number(strconv.Itoa(budget))
	}
	return marshal(s)
}

// marshal renders s without "$schema" and without HTML escaping of <, >, &
// (each escape costs tokens).
func marshal(s *jsonschema.Schema) json.RawMessage {
	s.Version = ""
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(s); err != nil {
		panic(fmt.Sprintf("schemas: marshal schema: %v", err))
	}
	return bytes.TrimRight(buf.Bytes(), "\n")
}

func build() {
	genOnce.Do(func() {
		gen.input = map[string]json.RawMessage{}
		for _, n := range Names() {
			gen.input[n] = inputSchema(n, DefaultMaxTokens)
		}
		gen.output = outputSchema()
	})
}

// OutputFields are the structuredContent fields the design contract promises,
// in order; the output schema lists exactly these.
var OutputFields = []string{
	"query_id", "execution_id", "state", "execution_ended_at", "columns",
	"total_row_count", "offset", "returned_rows", "rows", "has_more",
	"next_cursor", "stats", "datapoints",
}

// outputSchema reflects Structured and compacts it for tools/list,
// whose whole answer must stay under 1,500 tokens while carrying the same
// schema three times: only the contract fields (others are allowed, so the
// root is open), types without descriptions (the fields are explained in the
// tool text and the README), array items of objects as plain objects, and no
// "required" list (every field but execution_ended_at and next_cursor is
// always present; tests check it).
func outputSchema() json.RawMessage {
	full := reflector().Reflect(&Structured{})
	s := &jsonschema.Schema{Type: "object", Properties: jsonschema.NewProperties()}
	for _, name := range OutputFields {
		p, ok := full.Properties.Get(name)
		if !ok {
			panic("schemas: Structured lacks contract field " + name)
		}
		s.Properties.Set(name, compactProperty(p))
	}
	return marshal(s)
}

// compactProperty keeps a property's type structure and drops descriptions
// and the inner shape of objects.
func compactProperty(p *jsonschema.Schema) *jsonschema.Schema {
	out := &jsonschema.Schema{Type: p.Type}
	if p.Items != nil {
		out.Items = compactProperty(p.Items)
	}
	if p.Type == "" && p.Items == nil { // {} (any value)
		return &jsonschema.Schema{Extras: map[string]any{}}
	}
	return out
}

// Names lists the tool names in a stable order.
func Names() []string { return []string{GetLatestResult, NextPage, SampleResult} }

// Input returns the input schema of tool (one of the tool name constants),
// or nil for an unknown name. The bytes are shared: do not modify them.
func Input(tool string) json.RawMessage {
	build()
	return gen.input[tool]
}

// InputWithDefaultBudget returns Input(tool) with max_tokens' default set to
// budget (the server's configured default), or nil for an unknown tool.
func InputWithDefaultBudget(tool string, budget int) json.RawMessage {
	if budget == DefaultMaxTokens {
		return Input(tool)
	}
	key := tool + "/" + strconv.Itoa(budget)
	if v, ok := byBudget.Load(key); ok {
		return v.(json.RawMessage)
	}
	raw := inputSchema(tool, budget)
	if raw == nil {
		return nil
	}
	v, _ := byBudget.LoadOrStore(key, raw)
	return v.(json.RawMessage)
}

// Output returns the output schema shared by the three tools (generated from
// Structured). The bytes are shared: do not modify them.
func Output() json.RawMessage {
	build()
	return gen.output
}
