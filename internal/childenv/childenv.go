// Package childenv builds the environment of a dune-mcp child process
// started by the repository's own tooling (the demo session, the evals, the
// end-to-end tests). It is the one rule for what such a child inherits: the
// parent's environment minus every DUNE_* variable, plus explicit additions.
// So a developer's real DUNE_API_KEY, or a DUNE_MCP_* setting meant for
// another run, never reaches a child: it gets only the settings its caller
// names, while PATH, HOME, TMPDIR, GOCOVERDIR and the like pass through.
package childenv

import (
	"os"
	"runtime"
	"strings"
)

// Prefix starts the name of every variable dune-mcp reads; a child never
// inherits one.
const Prefix = "DUNE_"

// Environ returns os.Environ() without the DUNE_* variables, followed by
// extra ("NAME=value" entries, which may set DUNE_* variables). On a
// duplicate name os/exec keeps the last entry, so extra wins.
func Environ(extra ...string) []string {
	return From(os.Environ(), extra...)
}

// From is Environ with the parent's environment given: parent without the
// DUNE_* variables, then extra. It does not modify parent.
func From(parent []string, extra ...string) []string {
	out := make([]string, 0, len(parent)+len(extra))
	for _, kv := range parent {
		if !isDune(kv) {
			out = append(out, kv)
		}
	}
	return append(out, extra...)
}

// Pairs turns name, value, name, value, ... into "name=value" entries for
// Environ. It panics on an odd count, a caller's bug.
func Pairs(kv ...string) []string {
	if len(kv)%2 != 0 {
		panic("childenv.Pairs: odd number of arguments")
	}
	out := make([]string, 0, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		out = append(out, kv[i]+"="+kv[i+1])
	}
	return out
}

// isDune reports whether the entry kv ("NAME=value") names a DUNE_*
// variable. Windows compares variable names case-insensitively, and so does
// this there.
func isDune(kv string) bool {
	if len(kv) < len(Prefix) {
		return false
	}
	if runtime.GOOS == "windows" {
		return strings.EqualFold(kv[:len(Prefix)], Prefix)
	}
	return kv[:len(Prefix)] == Prefix
}
