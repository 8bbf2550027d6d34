package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/dune-mcp/dune-mcp/internal/clip"
)

// MaxMessageLen bounds, in bytes, every message meant for the model: an
// ArgError's, and the tools' isError results.
const MaxMessageLen = 300

// ArgError is a rejected tool argument. Its message is short, names the
// argument and says what is expected; it is meant to be shown to the model.
type ArgError struct {
	// Arg is the offending argument name ("" when the arguments as a whole are bad).
	Arg string
	Msg string
}

// Error returns the message meant for the model.
func (e *ArgError) Error() string { return e.Msg }

func argErr(arg, format string, a ...any) *ArgError {
	return &ArgError{Arg: arg, Msg: clip.Bytes(fmt.Sprintf(format, a...), MaxMessageLen)}
}

// prop is the subset of JSON Schema the decoder enforces.
type prop struct {
	Type                 string           `json:"type"`
	AnyOf                []prop           `json:"anyOf"`
	Minimum              *float64         `json:"minimum"`
	Maximum              *float64         `json:"maximum"`
	MinLength            *int             `json:"minLength"`
	MaxLength            *int             `json:"maxLength"`
	Pattern              string           `json:"pattern"`
	Enum                 []string         `json:"enum"`
	MaxItems             *int             `json:"maxItems"`
	Items                *prop            `json:"items"`
	AdditionalProperties *json.RawMessage `json:"additionalProperties"`
}

type objectSchema struct {
	Properties map[string]prop `json:"properties"`
	Required   []string        `json:"required"`
	order      []string
}

var (
	parsedMu sync.Mutex
	parsed   = map[string]*objectSchema{}
)

func objectFor(tool string) (*objectSchema, error) {
	parsedMu.Lock()
	defer parsedMu.Unlock()
	if o, ok := parsed[tool]; ok {
		return o, nil
	}
	raw := Input(tool)
	if raw == nil {
		return nil, fmt.Errorf("schemas: unknown tool %q", tool)
	}
	o := &objectSchema{}
	if err := json.Unmarshal(raw, o); err != nil {
		return nil, fmt.Errorf("schemas: parse %s schema: %w", tool, err)
	}
	o.order = propertyOrder(raw)
	parsed[tool] = o
	return o, nil
}

// propertyOrder returns the property names of an object schema in document order.
func propertyOrder(raw []byte) []string {
	var top map[string]json.RawMessage
	if json.Unmarshal(raw, &top) != nil {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(top["properties"]))
	var names []string
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return names
		}
		names = append(names, t.(string))
		var skip json.RawMessage
		if dec.Decode(&skip) != nil {
			return names
		}
	}
	return names
}

// ValidArgs lists tool's argument names in schema order.
func ValidArgs(tool string) []string {
	o, err := objectFor(tool)
	if err != nil {
		return nil
	}
	return slices.Clone(o.order)
}

// Decode validates raw tool arguments against tool's input schema and decodes
// them into dst (a pointer to the tool's params struct). It is lenient where
// models commonly slip and strict elsewhere:
//
//   - unknown keys are rejected, naming the key and listing the valid ones;
//   - null values count as absent;
//   - integers may be sent as numeric strings ("123"), booleans as "true"/"false",
//     a string array as one comma-separated string, query parameter values as
//     numbers or booleans;
//   - bounds (minimum, maximum, minLength, maxLength, maxItems, pattern) are
//     enforced here, before any upstream call.
//
// Every failure is an *ArgError with a short message.
func Decode(tool string, raw []byte, dst any) error {
	o, err := objectFor(tool)
	if err != nil {
		return err
	}
	raw = bytes.TrimSpace(raw)
	args := map[string]json.RawMessage{}
	if len(raw) > 0 && !bytes.Equal(raw, []byte("null")) {
		if raw[0] != '{' {
			return argErr("", "arguments must be a JSON object")
		}
		if err := json.Unmarshal(raw, &args); err != nil {
			return argErr("", "arguments are not valid JSON: %s", err)
		}
	}
	var unknown []string
	for k := range args {
		if _, ok := o.Properties[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return unknownArgs(tool, o, unknown)
	}
	for k, v := range args {
		if bytes.Equal(bytes.TrimSpace(v), []byte("null")) {
			delete(args, k)
		}
	}
	for _, r := range o.Required {
		if _, ok := args[r]; !ok {
			return argErr(r, "missing required argument %q", r)
		}
	}
	for k, v := range args {
		nv, err := coerce(k, o.Properties[k], v)
		if err != nil {
			return err
		}
		args[k] = nv
	}
	norm, err := json.Marshal(args)
	if err != nil {
		return fmt.Errorf("schemas: re-encode arguments: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(norm))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var ae *ArgError
		if errors.As(err, &ae) {
			return ae
		}
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return argErr(te.Field, "%s has the wrong type (want %s)", te.Field, te.Type)
		}
		return argErr("", "invalid arguments: %s", err)
	}
	return nil
}

func unknownArgs(tool string, o *objectSchema, unknown []string) *ArgError {
	var b strings.Builder
	if len(unknown) == 1 {
		fmt.Fprintf(&b, "unknown argument %q", unknown[0])
	} else {
		fmt.Fprintf(&b, "unknown arguments %q", unknown)
	}
	for _, u := range unknown {
		for _, v := range o.order {
			if strings.EqualFold(strings.ReplaceAll(u, "-", "_"), v) && u != v {
				fmt.Fprintf(&b, " (did you mean %q?)", v)
			}
		}
	}
	if tool == SampleResult {
		for _, u := range unknown {
			if u == "limit" || u == "offset" || u == "filters" {
				b.WriteString("; Dune sampling cannot be combined with limit, offset or filters (use get_latest_result for those)")
				break
			}
		}
	}
	fmt.Fprintf(&b, "; valid arguments: %s", strings.Join(o.order, ", "))
	return argErr(unknown[0], "%s", b.String())
}

func typeName(p prop) string {
	if p.Type != "" {
		return p.Type
	}
	for _, a := range p.AnyOf {
		if a.Type == "integer" {
			return "integer"
		}
	}
	return "value"
}

// coerce checks one argument against its schema and returns its normalized JSON.
func coerce(name string, p prop, v json.RawMessage) (json.RawMessage, error) {
	switch typeName(p) {
	case "integer":
		n, ok := toInt(v)
		if !ok {
			return nil, argErr(name, "%s must be an integer%s, got %s", name, boundsText(p), short(v))
		}
		ip := p
		if p.Type == "" { // anyOf: the integer branch carries the bounds
			for _, a := range p.AnyOf {
				if a.Type == "integer" {
					ip = a
				}
			}
		}
		if (ip.Minimum != nil && float64(n) < *ip.Minimum) || (ip.Maximum != nil && float64(n) > *ip.Maximum) {
			return nil, argErr(name, "%s must be an integer%s, got %d", name, boundsText(ip), n)
		}
		return json.RawMessage(strconv.FormatInt(n, 10)), nil
	case "number":
		f, ok := toFloat(v)
		if !ok || (p.Minimum != nil && f < *p.Minimum) || (p.Maximum != nil && f > *p.Maximum) {
			return nil, argErr(name, "%s must be a number%s, got %s", name, boundsText(p), short(v))
		}
		return json.RawMessage(strconv.FormatFloat(f, 'g', -1, 64)), nil
	case "boolean":
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return nil, argErr(name, "%s must be true or false, got %s", name, short(v))
			}
			pb, err := strconv.ParseBool(strings.TrimSpace(s))
			if err != nil {
				return nil, argErr(name, "%s must be true or false, got %s", name, short(v))
			}
			b = pb
		}
		return json.RawMessage(strconv.FormatBool(b)), nil
	case "string":
		var s string
		if err := json.Unmarshal(v, &s); err != nil {
			return nil, argErr(name, "%s must be a string, got %s", name, short(v))
		}
		if err := checkString(name, p, s); err != nil {
			return nil, err
		}
		return json.Marshal(s)
	case "array":
		var items []string
		if err := json.Unmarshal(v, &items); err != nil {
			var s string
			if json.Unmarshal(v, &s) != nil {
				return nil, argErr(name, "%s must be an array of strings, got %s", name, short(v))
			}
			for _, part := range strings.Split(s, ",") {
				if part = strings.TrimSpace(part); part != "" {
					items = append(items, part)
				}
			}
		}
		if p.MaxItems != nil && len(items) > *p.MaxItems {
			return nil, argErr(name, "%s has %d items, at most %d allowed", name, len(items), *p.MaxItems)
		}
		for i, it := range items {
			if strings.TrimSpace(it) == "" {
				return nil, argErr(name, "%s[%d] is empty", name, i)
			}
		}
		return json.Marshal(items)
	case "object":
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.UseNumber()
		if err := dec.Decode(&m); err != nil {
			return nil, argErr(name, "%s must be an object of name to string value, got %s", name, short(v))
		}
		out := make(map[string]string, len(m))
		for k, val := range m {
			switch x := val.(type) {
			case string:
				out[k] = x
			case json.Number:
				out[k] = x.String()
			case bool:
				out[k] = strconv.FormatBool(x)
			default:
				return nil, argErr(name, "%s.%s must be a string, number or boolean", name, k)
			}
		}
		return json.Marshal(out)
	}
	return v, nil
}

func checkString(name string, p prop, s string) error {
	n := utf8.RuneCountInString(s)
	if p.MinLength != nil && n < *p.MinLength {
		if *p.MinLength == 1 {
			return argErr(name, "%s must not be empty", name)
		}
		return argErr(name, "%s must be at least %d characters", name, *p.MinLength)
	}
	if p.MaxLength != nil && n > *p.MaxLength {
		return argErr(name, "%s is %d characters long, at most %d allowed", name, n, *p.MaxLength)
	}
	if p.Pattern != "" {
		re, err := regexp.Compile(p.Pattern)
		if err == nil && !re.MatchString(s) {
			return argErr(name, "%s does not match %s", name, p.Pattern)
		}
	}
	if len(p.Enum) > 0 && !slices.Contains(p.Enum, s) {
		return argErr(name, "%s must be one of %s, got %q", name, strings.Join(p.Enum, ", "), s)
	}
	return nil
}

// toFloat accepts a finite JSON number or a string holding one ("2.5").
func toFloat(v json.RawMessage) (float64, bool) {
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		var s string
		if json.Unmarshal(v, &s) != nil {
			return 0, false
		}
		n = json.Number(strings.TrimSpace(s))
	}
	f, err := n.Float64()
	return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
}

// toInt accepts a JSON integer (or an integral float such as 1e3) or a
// string holding one.
func toInt(v json.RawMessage) (int64, bool) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		s = strings.TrimSpace(s)
	} else {
		s = string(bytes.TrimSpace(v))
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
		return 0, false
	}
	return int64(f), true
}

func boundsText(p prop) string {
	switch {
	case p.Minimum != nil && p.Maximum != nil:
		return fmt.Sprintf(" from %s to %s", num(*p.Minimum), num(*p.Maximum))
	case p.Minimum != nil:
		return " ≥ " + num(*p.Minimum)
	case p.Maximum != nil:
		return " ≤ " + num(*p.Maximum)
	}
	return ""
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func short(v json.RawMessage) string {
	return clip.Bytes(string(bytes.TrimSpace(v)), 40+len(clip.Mark))
}
