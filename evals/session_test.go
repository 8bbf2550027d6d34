package evals

import (
	"bufio"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// startShell runs script under sh and returns once it printed "ready" (its
// traps are then set), with stopChild's arguments.
func startShell(t *testing.T, script string) (*exec.Cmd, <-chan struct{}, *error) {
	t.Helper()
	cmd := exec.Command("sh", "-c", script)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if line, err := bufio.NewReader(out).ReadString('\n'); err != nil || line != "ready\n" {
		t.Fatalf("child: %q %v", line, err)
	}
	exited := make(chan struct{})
	waitErr := new(error)
	go func() { *waitErr = cmd.Wait(); close(exited) }()
	return cmd, exited, waitErr
}

func TestStopChildReportsExitStatus(t *testing.T) {
	// The grace is a minute for the children that exit on SIGTERM (a
	// loaded machine may take a while to run the trap: no race with the
	// grace) and short only for the one that never does.
	cases := []struct {
		name, script, want string // want "" = no error
		grace              time.Duration
	}{
		{"clean exit on SIGTERM", `trap 'exit 0' TERM; echo ready; while :; do sleep 0.05; done`, "", time.Minute},
		{"non-zero exit on SIGTERM", `trap 'exit 3' TERM; echo ready; while :; do sleep 0.05; done`, "exit status 3", time.Minute},
		{"already exited non-zero", `echo ready; exit 4`, "exited early: exit status 4", time.Minute},
		{"ignores SIGTERM", `trap '' TERM; echo ready; exec sleep 30`, "did not exit within", 300 * time.Millisecond},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cmd, exited, waitErr := startShell(t, tc.script)
			if strings.Contains(tc.name, "already") {
				<-exited
			}
			err := stopChild(cmd, exited, waitErr, tc.grace)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("stopChild: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("stopChild: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
