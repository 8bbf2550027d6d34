package evals

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
)

var refPattern = regexp.MustCompile(`\$\{([^}]+)\}`)

// substitute replaces ${steps.ID.PATH}, ${prev.PATH} and ${NAME} (captures),
// each optionally piped through |tamper or |truncate, in every string of
// args. A string that is exactly one reference takes the value's type. It
// also returns the first step referenced (for the ground-truth view).
func (ru *run) substitute(args map[string]any, prev *outcome) (map[string]any, string, error) {
	var firstRef string
	var walk func(v any) (any, error)
	walk = func(v any) (any, error) {
		switch x := v.(type) {
		case string:
			ms := refPattern.FindAllStringSubmatchIndex(x, -1)
			if len(ms) == 0 {
				return x, nil
			}
			if len(ms) == 1 && ms[0][0] == 0 && ms[0][1] == len(x) {
				return ru.resolveRef(x[ms[0][2]:ms[0][3]], prev, &firstRef)
			}
			var b strings.Builder
			last := 0
			for _, m := range ms {
				b.WriteString(x[last:m[0]])
				val, err := ru.resolveRef(x[m[2]:m[3]], prev, &firstRef)
				if err != nil {
					return nil, err
				}
				if s, ok := val.(string); ok {
					b.WriteString(s)
				} else {
					j, _ := json.Marshal(val)
					b.Write(j)
				}
				last = m[1]
			}
			b.WriteString(x[last:])
			return b.String(), nil
		case map[string]any:
			out := make(map[string]any, len(x))
			for k, el := range x {
				nv, err := walk(el)
				if err != nil {
					return nil, err
				}
				out[k] = nv
			}
			return out, nil
		case []any:
			out := make([]any, len(x))
			for i, el := range x {
				nv, err := walk(el)
				if err != nil {
					return nil, err
				}
				out[i] = nv
			}
			return out, nil
		}
		return v, nil
	}
	out, err := walk(args)
	if err != nil {
		return nil, "", err
	}
	m, _ := out.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	return m, firstRef, nil
}

// substituteChecks resolves ${...} references in the operands of checks.
func (ru *run) substituteChecks(checks map[string]Check) (map[string]Check, error) {
	out := make(map[string]Check, len(checks))
	for k, c := range checks {
		ops := map[string]*any{"eq": &c.Eq, "ne": &c.Ne, "gt": &c.Gt, "gte": &c.Gte, "lt": &c.Lt, "lte": &c.Lte, "contains": &c.Contains, "not_contains": &c.NotContains}
		for _, op := range c.order {
			p, ok := ops[op]
			if !ok {
				continue
			}
			if s, isStr := (*p).(string); isStr && strings.Contains(s, "${") {
				m, _, err := ru.substitute(map[string]any{"v": s}, nil)
				if err != nil {
					return nil, err
				}
				*p = m["v"]
			}
		}
		out[k] = c
	}
	return out, nil
}

func (ru *run) resolveRef(expr string, prev *outcome, firstRef *string) (any, error) {
	expr, filter, _ := strings.Cut(expr, "|")
	expr, filter = strings.TrimSpace(expr), strings.TrimSpace(filter)
	var v any
	var ok bool
	switch {
	case strings.HasPrefix(expr, "steps."):
		id, path, _ := strings.Cut(strings.TrimPrefix(expr, "steps."), ".")
		ss := ru.steps[id]
		if ss == nil || len(ss.calls) == 0 {
			return nil, fmt.Errorf("${%s}: step %q has not run", expr, id)
		}
		if *firstRef == "" {
			*firstRef = id
		}
		last := ss.calls[len(ss.calls)-1]
		if path == "text" {
			v, ok = last.text, true
		} else {
			v, ok = lookup(last.doc, path)
		}
	case strings.HasPrefix(expr, "prev."):
		if prev == nil {
			return nil, fmt.Errorf("${%s}: no previous call in this walk", expr)
		}
		v, ok = lookup(prev.doc, strings.TrimPrefix(expr, "prev."))
	default:
		v, ok = ru.captures[expr]
	}
	if !ok || v == nil {
		return nil, fmt.Errorf("${%s} has no value", expr)
	}
	switch filter {
	case "":
		return v, nil
	case "tamper":
		s, isStr := v.(string)
		if !isStr || s == "" {
			return nil, fmt.Errorf("${%s|tamper}: not a string", expr)
		}
		return tamper(s), nil
	case "truncate":
		s, isStr := v.(string)
		if !isStr {
			return nil, fmt.Errorf("${%s|truncate}: not a string", expr)
		}
		return s[:len(s)/2], nil
	}
	return nil, fmt.Errorf("${%s|%s}: unknown filter (tamper, truncate)", expr, filter)
}

// tamper changes one character in the middle of s, keeping its alphabet.
func tamper(s string) string {
	b := []byte(s)
	i := len(b) / 2
	for j := i; j < len(b); j++ { // prefer an alphanumeric position
		if isAlnum(b[j]) {
			i = j
			break
		}
	}
	switch {
	case b[i] == 'A':
		b[i] = 'B'
	case b[i] == '0':
		b[i] = '1'
	case b[i] >= 'a' && b[i] <= 'z':
		b[i] = 'a' + (b[i]-'a'+1)%26
	default:
		b[i] = 'A'
	}
	return string(b)
}

func isAlnum(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}
