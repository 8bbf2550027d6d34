package schemas

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// walk calls fn on every schema object nested in v (properties, items,
// anyOf branches, additionalProperties), with a JSON-pointer-like path.
func walk(t *testing.T, path string, v any, fn func(path string, s map[string]any)) {
	t.Helper()
	s, ok := v.(map[string]any)
	if !ok {
		if _, isBool := v.(bool); isBool && !strings.HasSuffix(path, "/additionalProperties") {
			t.Errorf("%s: bare boolean sub-schema", path)
		}
		return
	}
	fn(path, s)
	if props, ok := s["properties"].(map[string]any); ok {
		for k, p := range props {
			walk(t, path+"/properties/"+k, p, fn)
		}
	}
	if it, ok := s["items"]; ok {
		walk(t, path+"/items", it, fn)
	}
	if ap, ok := s["additionalProperties"]; ok {
		walk(t, path+"/additionalProperties", ap, fn)
	}
	for _, key := range []string{"anyOf", "oneOf", "allOf"} {
		if arr, ok := s[key].([]any); ok {
			for i, b := range arr {
				walk(t, path+"/"+key+"/"+string(rune('0'+i)), b, fn)
			}
		}
	}
}

func decodeSchema(t *testing.T, raw json.RawMessage) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("schema is not JSON: %v\n%s", err, raw)
	}
	return m
}

func TestSchemasAreClientSafe(t *testing.T) {
	all := map[string]json.RawMessage{"output": Output()}
	for _, n := range Names() {
		all[n] = Input(n)
	}
	for name, raw := range all {
		t.Run(name, func(t *testing.T) {
			for _, bad := range []string{`"$ref"`, `"$defs"`, `"$schema"`, `"$id"`, `"definitions"`} {
				if strings.Contains(string(raw), bad) {
					t.Errorf("schema contains %s", bad)
				}
			}
			m := decodeSchema(t, raw)
			if m["type"] != "object" {
				t.Errorf("root type = %v, want object", m["type"])
			}
			for _, c := range []string{"oneOf", "anyOf", "allOf", "not", "if"} {
				if _, ok := m[c]; ok {
					t.Errorf("top-level %s", c)
				}
			}
			walk(t, "", m, func(path string, s map[string]any) {
				if name != "output" && s["type"] == "object" {
					if _, hasProps := s["properties"]; hasProps && s["additionalProperties"] != false {
						t.Errorf("%s: additionalProperties = %v, want false", path, s["additionalProperties"])
					}
				}
				if _, ok := s["nullable"]; ok {
					t.Errorf("%s: nullable", path)
				}
			})
		})
	}
}

func TestInputPropertiesAllDescribed(t *testing.T) {
	for _, n := range Names() {
		m := decodeSchema(t, Input(n))
		props := m["properties"].(map[string]any)
		if len(props) == 0 {
			t.Fatalf("%s: no properties", n)
		}
		for k, p := range props {
			d, _ := p.(map[string]any)["description"].(string)
			if len(d) < 10 {
				t.Errorf("%s.%s: description %q too short or missing", n, k, d)
			}
			if strings.Contains(d, "\\,") {
				t.Errorf("%s.%s: escaped comma leaked into description", n, k)
			}
		}
	}
}

func TestInputContract(t *testing.T) {
	want := map[string]struct {
		props    []string
		required []string
	}{
		GetLatestResult: {
			props:    []string{"query_id", "limit", "offset", "columns", "filters", "sort_by", "allow_partial_results", "query_parameters", "max_age_hours", "performance", "max_tokens"},
			required: []string{"query_id"},
		},
		NextPage: {
			props:    []string{"cursor", "limit", "max_tokens"},
			required: []string{"cursor"},
		},
		SampleResult: {
			props:    []string{"query_id", "sample_count", "columns", "sort_by", "query_parameters", "max_tokens"},
			required: []string{"query_id", "sample_count"},
		},
	}
	for tool, w := range want {
		if got := ValidArgs(tool); strings.Join(got, ",") != strings.Join(w.props, ",") {
			t.Errorf("%s properties = %v, want %v", tool, got, w.props)
		}
		m := decodeSchema(t, Input(tool))
		var req []string
		for _, r := range m["required"].([]any) {
			req = append(req, r.(string))
		}
		if strings.Join(req, ",") != strings.Join(w.required, ",") {
			t.Errorf("%s required = %v, want %v", tool, req, w.required)
		}
	}
	// Bounds from the dune option groups reach the schemas.
	gl := decodeSchema(t, Input(GetLatestResult))["properties"].(map[string]any)
	if l := gl["limit"].(map[string]any); l["minimum"] != 1.0 || l["maximum"] != 100000.0 {
		t.Errorf("limit bounds = %v..%v", l["minimum"], l["maximum"])
	}
	// next_page's limit is dune.Paging's, described once.
	np := decodeSchema(t, Input(NextPage))["properties"].(map[string]any)
	if np["limit"].(map[string]any)["description"] != gl["limit"].(map[string]any)["description"] {
		t.Error("next_page limit is not described like dune.Paging.Limit")
	}
	// max_tokens is clamped, so the schema must not reject out-of-range values.
	mt := gl["max_tokens"].(map[string]any)
	if _, ok := mt["minimum"]; ok {
		t.Error("max_tokens has a minimum although out-of-range values are clamped")
	}
	if mt["default"] != 8000.0 {
		t.Errorf("max_tokens default = %v", mt["default"])
	}
	// query_id admits both 123 and "123" (server-side validation must not reject the string form).
	if anyOf, _ := gl["query_id"].(map[string]any)["anyOf"].([]any); len(anyOf) != 2 {
		t.Errorf("query_id anyOf = %v", anyOf)
	}
}

func TestNextPageBudgetCarriesOver(t *testing.T) {
	mt := decodeSchema(t, InputWithDefaultBudget(NextPage, 4000))["properties"].(map[string]any)["max_tokens"].(map[string]any)
	if _, ok := mt["default"]; ok || mt["description"] != NextPageBudgetDescription {
		t.Errorf("next_page max_tokens = %v", mt)
	}
}

func TestInputWithDefaultBudget(t *testing.T) {
	raw := InputWithDefaultBudget(SampleResult, 4000)
	mt := decodeSchema(t, raw)["properties"].(map[string]any)["max_tokens"].(map[string]any)
	if mt["default"] != 4000.0 {
		t.Errorf("default = %v, want 4000", mt["default"])
	}
	if string(InputWithDefaultBudget(SampleResult, DefaultMaxTokens)) != string(Input(SampleResult)) {
		t.Error("default budget must give the shared schema")
	}
	if InputWithDefaultBudget("nope", 10) != nil {
		t.Error("unknown tool must give nil")
	}
	// The shared schema is untouched.
	if d := decodeSchema(t, Input(SampleResult))["properties"].(map[string]any)["max_tokens"].(map[string]any)["default"]; d != 8000.0 {
		t.Errorf("shared schema default changed to %v", d)
	}
}

func TestOutputRequiresContractFields(t *testing.T) {
	m := decodeSchema(t, Output())
	props := m["properties"].(map[string]any)
	if len(props) != len(OutputFields) {
		t.Errorf("output schema has %d properties, want the %d contract fields", len(props), len(OutputFields))
	}
	for name, p := range props {
		if _, ok := p.(map[string]any)["description"]; ok {
			t.Errorf("output.%s has a description (tools/list token budget)", name)
		}
	}
	if rows := props["rows"].(map[string]any); rows["type"] != "array" || rows["items"].(map[string]any)["type"] != "array" {
		t.Errorf("rows = %v, want an array of arrays", rows)
	}
	for _, f := range []string{"query_id", "execution_id", "state", "execution_ended_at", "columns", "total_row_count", "offset", "returned_rows", "rows", "has_more", "next_cursor", "stats", "datapoints"} {
		if _, ok := props[f]; !ok {
			t.Errorf("output schema lacks contract field %s", f)
		}
	}
}

func TestQueryIDUnmarshal(t *testing.T) {
	for in, want := range map[string]int64{`123`: 123, `"123"`: 123, `"9007199254740993"`: 9007199254740993} {
		var q QueryID
		if err := json.Unmarshal([]byte(in), &q); err != nil || int64(q) != want {
			t.Errorf("%s: got %d, %v", in, q, err)
		}
	}
	for _, in := range []string{`0`, `-1`, `"abc"`, `""`, `1.5`, `true`} {
		var q QueryID
		if err := json.Unmarshal([]byte(in), &q); err == nil {
			t.Errorf("%s: accepted as %d", in, q)
		}
	}
}

// max_age_hours and performance (the fresh-results contract) decode with
// their bounds: a negative age and an unknown engine are refused.
func TestFreshnessArguments(t *testing.T) {
	var p GetLatestResultParams
	if err := Decode(GetLatestResult, []byte(`{"query_id":1,"max_age_hours":"2.5","performance":"large"}`), &p); err != nil {
		t.Fatal(err)
	}
	if p.MaxAgeHours == nil || *p.MaxAgeHours != 2.5 || p.Performance != "large" {
		t.Errorf("decoded %+v", p.Freshness)
	}
	for _, bad := range []string{`{"query_id":1,"max_age_hours":-1}`, `{"query_id":1,"performance":"xl"}`} {
		var q GetLatestResultParams
		err := Decode(GetLatestResult, []byte(bad), &q)
		var ae *ArgError
		if !errors.As(err, &ae) {
			t.Errorf("%s: err = %v, want an ArgError", bad, err)
		}
	}
}

// Every argument reaches the dune.Options it stands for.
func TestParamsOptions(t *testing.T) {
	var p GetLatestResultParams
	raw := `{"query_id":9,"limit":10,"offset":20,"columns":["a","b"],"filters":"a = 1","sort_by":"b desc","allow_partial_results":true,"query_parameters":{"chain":"base"}}`
	if err := Decode(GetLatestResult, []byte(raw), &p); err != nil {
		t.Fatal(err)
	}
	o := p.Options()
	if o.Limit != 10 || o.Offset != 20 || strings.Join(o.Columns, ",") != "a,b" || o.Filters != "a = 1" || o.SortBy != "b desc" ||
		!o.AllowPartialResults || o.QueryParameters["chain"] != "base" || o.SampleCount != 0 {
		t.Errorf("get_latest_result options: %+v", o)
	}
	var s SampleResultParams
	if err := Decode(SampleResult, []byte(`{"query_id":9,"sample_count":300,"columns":"a, b","sort_by":"a","query_parameters":{"n":1}}`), &s); err != nil {
		t.Fatal(err)
	}
	o = s.Options()
	if o.SampleCount != 300 || strings.Join(o.Columns, ",") != "a,b" || o.SortBy != "a" || o.QueryParameters["n"] != "1" || o.Limit != 0 || o.Filters != "" {
		t.Errorf("sample_result options: %+v", o)
	}
}
