package childenv

import (
	"os/exec"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"
)

func TestFrom(t *testing.T) {
	parent := []string{
		"PATH=/usr/bin", "DUNE_API_KEY=real-key", "HOME=/home/dev",
		"DUNE_MCP_TRANSPORT=http", "DUNE_=", "DUNEISH=kept", "MY_DUNE_API_KEY=kept", "DUN=kept",
	}
	orig := slices.Clone(parent)
	for _, tc := range []struct {
		name  string
		extra []string
		want  []string
	}{
		{"no additions", nil, []string{"PATH=/usr/bin", "HOME=/home/dev", "DUNEISH=kept", "MY_DUNE_API_KEY=kept", "DUN=kept"}},
		{"additions follow, DUNE_* included", []string{"DUNE_API_KEY=test-key", "X=1"},
			[]string{"PATH=/usr/bin", "HOME=/home/dev", "DUNEISH=kept", "MY_DUNE_API_KEY=kept", "DUN=kept", "DUNE_API_KEY=test-key", "X=1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := From(parent, tc.extra...)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("From =\n %q\nwant\n %q", got, tc.want)
			}
			if !reflect.DeepEqual(parent, orig) {
				t.Errorf("parent modified: %q", parent)
			}
		})
	}
	if got := From(nil); len(got) != 0 {
		t.Errorf("From(nil) = %q", got)
	}
}

func TestFromLowerCase(t *testing.T) {
	got := From([]string{"dune_api_key=x"})
	if runtime.GOOS == "windows" {
		if len(got) != 0 {
			t.Errorf("windows: %q kept (names are case-insensitive there)", got)
		}
	} else if len(got) != 1 {
		t.Errorf("%q dropped: only upper-case DUNE_ names are dune-mcp's", got)
	}
}

func TestEnviron(t *testing.T) {
	t.Setenv("DUNE_API_KEY", "developer-key")
	t.Setenv("DUNE_MCP_MAX_TOKENS", "300")
	t.Setenv("CHILDENV_TEST_KEPT", "yes")
	env := Environ(Pairs("DUNE_MCP_DEMO", "1")...)
	if slices.Contains(env, "DUNE_API_KEY=developer-key") || slices.Contains(env, "DUNE_MCP_MAX_TOKENS=300") {
		t.Errorf("a DUNE_* variable leaked: %q", env)
	}
	if !slices.Contains(env, "CHILDENV_TEST_KEPT=yes") {
		t.Error("a non-DUNE variable was dropped")
	}
	if env[len(env)-1] != "DUNE_MCP_DEMO=1" {
		t.Errorf("addition not last: %q", env[len(env)-1])
	}
}

// TestAdditionWins checks, through os/exec, that an addition overrides an
// inherited variable of the same name.
func TestAdditionWins(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("uses sh")
	}
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	t.Setenv("CHILDENV_TEST_VAR", "parent")
	t.Setenv("DUNE_API_KEY", "developer-key")
	cmd := exec.Command(sh, "-c", `echo "$CHILDENV_TEST_VAR,${DUNE_API_KEY-unset},${DUNE_MCP_DEMO-unset}"`)
	cmd.Env = Environ(Pairs("CHILDENV_TEST_VAR", "child", "DUNE_MCP_DEMO", "1")...)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(out)); got != "child,unset,1" {
		t.Errorf("child saw %q, want child,unset,1", got)
	}
}

func TestPairs(t *testing.T) {
	if got := Pairs("A", "1", "B", ""); !reflect.DeepEqual(got, []string{"A=1", "B="}) {
		t.Errorf("Pairs = %q", got)
	}
	if got := Pairs(); len(got) != 0 {
		t.Errorf("Pairs() = %q", got)
	}
	defer func() {
		if recover() == nil {
			t.Error("Pairs with an odd count did not panic")
		}
	}()
	odd := strings.Fields("A") // built at run time: staticcheck flags a literal odd count
	Pairs(odd...)
}
