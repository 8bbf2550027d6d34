package evals

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/dune-mcp/dune-mcp/internal/clip"
)

// Check is an assertion on one value. In YAML a scalar or a sequence means
// eq; a mapping holds operators: eq, ne, gt, gte, lt, lte, exists, absent,
// contains, not_contains, len.
type Check struct {
	Eq          any   `yaml:"eq"`
	Ne          any   `yaml:"ne"`
	Gt          any   `yaml:"gt"`
	Gte         any   `yaml:"gte"`
	Lt          any   `yaml:"lt"`
	Lte         any   `yaml:"lte"`
	Exists      *bool `yaml:"exists"`
	Absent      *bool `yaml:"absent"`
	Contains    any   `yaml:"contains"`
	NotContains any   `yaml:"not_contains"`
	Len         *int  `yaml:"len"`
	order       []string
}

var checkOps = []string{"eq", "ne", "gt", "gte", "lt", "lte", "exists", "absent", "contains", "not_contains", "len"}

// UnmarshalYAML decodes a scalar/sequence as eq, a mapping as operators.
func (c *Check) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode || !allOps(n) {
		var v any
		if err := n.Decode(&v); err != nil {
			return err
		}
		c.Eq = v
		c.order = []string{"eq"}
		return nil
	}
	type plain Check
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*c = Check(p)
	c.order = nil
	for i := 0; i < len(n.Content); i += 2 {
		c.order = append(c.order, n.Content[i].Value)
	}
	return nil
}

func allOps(n *yaml.Node) bool {
	if len(n.Content) == 0 {
		return false
	}
	for i := 0; i < len(n.Content); i += 2 {
		ok := false
		for _, op := range checkOps {
			if n.Content[i].Value == op {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

// Mismatch is one failed operator of a check: what was expected, what was seen.
type Mismatch struct {
	Op       string
	Expected string
	Actual   string
}

// Eval applies the check to a value found (present) or not at a path.
func (c Check) Eval(v any, present bool) []Mismatch {
	var out []Mismatch
	isNull := !present || v == nil
	for _, op := range c.order {
		exp := c.operand(op)
		fail := func(expected string) {
			out = append(out, Mismatch{Op: op, Expected: expected, Actual: render(v, present)})
		}
		switch op {
		case "exists":
			want := *c.Exists
			if want == isNull {
				if want {
					fail("present")
				} else {
					fail("absent")
				}
			}
		case "absent":
			want := *c.Absent
			absent := isNull || v == ""
			if want != absent {
				if want {
					fail("absent (missing, null or \"\")")
				} else {
					fail("present")
				}
			}
		case "eq":
			if !present || !equalValues(exp, v) {
				fail("== " + renderExpected(exp))
			}
		case "ne":
			if present && equalValues(exp, v) {
				fail("!= " + renderExpected(exp))
			}
		case "gt", "gte", "lt", "lte":
			cmp, ok := compareValues(v, exp)
			good := ok && present && map[string]bool{
				"gt": cmp > 0, "gte": cmp >= 0, "lt": cmp < 0, "lte": cmp <= 0,
			}[op]
			if !good {
				sym := map[string]string{"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
				fail(sym + " " + renderExpected(exp))
			}
		case "contains", "not_contains":
			has := present && containsValue(v, exp)
			if has != (op == "contains") {
				if op == "contains" {
					fail("contains " + renderExpected(exp))
				} else {
					fail("does not contain " + renderExpected(exp))
				}
			}
		case "len":
			n, ok := lengthOf(v)
			if !present || !ok || n != *c.Len {
				out = append(out, Mismatch{Op: op, Expected: fmt.Sprintf("length %d", *c.Len), Actual: renderLen(v, present, n, ok)})
			}
		}
	}
	return out
}

func (c Check) operand(op string) any {
	switch op {
	case "eq":
		return c.Eq
	case "ne":
		return c.Ne
	case "gt":
		return c.Gt
	case "gte":
		return c.Gte
	case "lt":
		return c.Lt
	case "lte":
		return c.Lte
	case "contains":
		return c.Contains
	case "not_contains":
		return c.NotContains
	}
	return nil
}

func renderLen(v any, present bool, n int, ok bool) string {
	if !present {
		return "(missing)"
	}
	if !ok {
		return "not a list or string: " + render(v, true)
	}
	return fmt.Sprintf("length %d", n)
}

// render shows an actual value compactly (long values shortened).
func render(v any, present bool) string {
	if !present {
		return "(missing)"
	}
	b, err := json.Marshal(v)
	s := string(b)
	if err != nil {
		s = fmt.Sprint(v)
	}
	if len(s) > 300 {
		s = clip.Bytes(s, 300) + fmt.Sprintf(" (%d bytes)", len(s))
	}
	return s
}

func renderExpected(v any) string { return render(v, true) }

// numeric returns v as an exact rational when it is a number (or a json.Number).
func numeric(v any) (*big.Rat, bool) {
	var s string
	switch x := v.(type) {
	case json.Number:
		s = string(x)
	case int:
		return new(big.Rat).SetInt64(int64(x)), true
	case int64:
		return new(big.Rat).SetInt64(x), true
	case uint64:
		return new(big.Rat).SetUint64(x), true
	case float64:
		r := new(big.Rat)
		if r.SetFloat64(x) == nil {
			return nil, false
		}
		return r, true
	default:
		return nil, false
	}
	r, ok := new(big.Rat).SetString(s)
	return r, ok
}

// equalValues compares an expected (YAML-decoded) value with an actual
// (JSON-decoded, numbers as json.Number) value: numbers numerically, strings
// exactly, lists and objects element by element.
func equalValues(exp, act any) bool {
	if a, ok := numeric(exp); ok {
		b, ok := numeric(act)
		return ok && a.Cmp(b) == 0
	}
	switch e := exp.(type) {
	case nil:
		return act == nil
	case string:
		s, ok := act.(string)
		return ok && s == e
	case bool:
		b, ok := act.(bool)
		return ok && b == e
	case []any:
		a, ok := act.([]any)
		if !ok || len(a) != len(e) {
			return false
		}
		for i := range e {
			if !equalValues(e[i], a[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		a, ok := act.(map[string]any)
		if !ok || len(a) != len(e) {
			return false
		}
		for k, ev := range e {
			av, ok := a[k]
			if !ok || !equalValues(ev, av) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(exp, act)
}

// compareValues orders two numbers, or two strings; ok=false otherwise.
func compareValues(a, b any) (int, bool) {
	if x, ok := numeric(a); ok {
		if y, ok := numeric(b); ok {
			return x.Cmp(y), true
		}
		return 0, false
	}
	sa, ok1 := a.(string)
	sb, ok2 := b.(string)
	if ok1 && ok2 {
		return strings.Compare(sa, sb), true
	}
	return 0, false
}

// containsValue: a string holds a substring (case-insensitively), or a list
// holds an equal element.
func containsValue(v, want any) bool {
	switch x := v.(type) {
	case string:
		w, ok := want.(string)
		return ok && strings.Contains(strings.ToLower(x), strings.ToLower(w))
	case []any:
		for _, el := range x {
			if equalValues(want, el) {
				return true
			}
		}
	case map[string]any:
		w, ok := want.(string)
		if ok {
			_, has := x[w]
			return has
		}
	}
	return false
}

func lengthOf(v any) (int, bool) {
	switch x := v.(type) {
	case string:
		return len(x), true
	case []any:
		return len(x), true
	case map[string]any:
		return len(x), true
	}
	return 0, false
}

// resolved is one value a path selects (a path with * selects several).
type resolved struct {
	path    string
	value   any
	present bool
}

// Resolve selects values in a decoded JSON document by a dot path:
// "total_row_count", "columns.0.name", "rows.3.2". A segment "@name" indexes
// a row by column name (via the document's columns); "*" selects every
// element of a list (the check applies to each).
func Resolve(doc any, path string) []resolved {
	if path == "" || path == "." {
		return []resolved{{path: ".", value: doc, present: doc != nil}}
	}
	cur := []resolved{{path: "", value: doc, present: true}}
	for _, seg := range strings.Split(path, ".") {
		var next []resolved
		for _, r := range cur {
			p := r.path
			if p != "" {
				p += "."
			}
			if !r.present {
				next = append(next, resolved{path: p + seg})
				continue
			}
			switch x := r.value.(type) {
			case map[string]any:
				v, ok := x[seg]
				next = append(next, resolved{path: p + seg, value: v, present: ok})
			case []any:
				if seg == "*" {
					for i, el := range x {
						next = append(next, resolved{path: p + strconv.Itoa(i), value: el, present: true})
					}
					continue
				}
				idx := -1
				if strings.HasPrefix(seg, "@") {
					idx = columnIndex(doc, seg[1:])
				} else if n, err := strconv.Atoi(seg); err == nil {
					idx = n
					if idx < 0 {
						idx += len(x)
					}
				}
				if idx >= 0 && idx < len(x) {
					next = append(next, resolved{path: p + seg, value: x[idx], present: true})
				} else {
					next = append(next, resolved{path: p + seg})
				}
			default:
				next = append(next, resolved{path: p + seg})
			}
		}
		cur = next
	}
	return cur
}

func columnIndex(doc any, name string) int {
	m, _ := doc.(map[string]any)
	cols, _ := m["columns"].([]any)
	for i, c := range cols {
		cm, _ := c.(map[string]any)
		if cm["name"] == name {
			return i
		}
	}
	return -1
}

// lookup returns the single value at path (first match).
func lookup(doc any, path string) (any, bool) {
	rs := Resolve(doc, path)
	if len(rs) == 0 {
		return nil, false
	}
	return rs[0].value, rs[0].present
}

// Failure is one broken expectation, shown as a small diff.
type Failure struct {
	Step      string `json:"step"`
	Iteration int    `json:"iteration,omitempty"`
	Check     string `json:"check"`
	Expected  string `json:"expected,omitempty"`
	Actual    string `json:"actual,omitempty"`
}

// String renders the failure as "step X check" followed by -expected/+actual lines.
func (f Failure) String() string {
	var b strings.Builder
	b.WriteString("step ")
	b.WriteString(f.Step)
	if f.Iteration > 0 {
		fmt.Fprintf(&b, " (call %d)", f.Iteration)
	}
	b.WriteString(": ")
	b.WriteString(f.Check)
	if f.Expected != "" || f.Actual != "" {
		b.WriteString("\n    - expected: ")
		b.WriteString(indentLines(f.Expected))
		b.WriteString("\n    + actual:   ")
		b.WriteString(indentLines(f.Actual))
	}
	return b.String()
}

func indentLines(s string) string {
	return strings.ReplaceAll(s, "\n", "\n                ")
}

// checkFields evaluates named checks against a document in a stable order.
func checkFields(doc any, fields map[string]Check) []Failure {
	return checkFieldsIn(doc, nil, fields)
}

// checkFieldsIn is checkFields for a result whose rows were read back from
// text: a path into rows or columns (rows.0.@name, columns.1.name, but not
// rows or columns themselves) resolves in read, the document with the rows
// read back (readBack.fieldDoc), unless read is nil.
func checkFieldsIn(doc, read any, fields map[string]Check) []Failure {
	var out []Failure
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		in := doc
		if first, _, deep := strings.Cut(k, "."); deep && read != nil && (first == "rows" || first == "columns") {
			in = read
		}
		for _, r := range Resolve(in, k) {
			for _, m := range fields[k].Eval(r.value, r.present) {
				out = append(out, Failure{Check: "field " + r.path + " " + m.Op, Expected: m.Expected, Actual: m.Actual})
			}
		}
	}
	return out
}

// checkMetrics evaluates checks on named numbers.
func checkMetrics(values map[string]float64, checks map[string]Check, prefix string) []Failure {
	var out []Failure
	for _, k := range slices.Sorted(maps.Keys(checks)) {
		v, ok := values[k]
		if !ok {
			out = append(out, Failure{Check: prefix + k + ": unknown metric (known: " + strings.Join(sortedKeys(values), ", ") + ")"})
			continue
		}
		for _, m := range checks[k].Eval(json.Number(strconv.FormatFloat(v, 'f', -1, 64)), true) {
			out = append(out, Failure{Check: prefix + k + " " + m.Op, Expected: m.Expected, Actual: m.Actual})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
