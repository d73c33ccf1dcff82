package stackops_test

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops/logs"
)

// TailLogs (the deploy failure report's lines) and logs.Read read a TTY
// container (raw stream) and a plain one (multiplexed) alike.
func TestIntegrationTailLogsAndTTY(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, `
services:
  plain:
    image: stackpilot-fixture:latest
    command: ["print=one", "eprint=two on stderr", "sleep=200ms", "print=three", "print=four", "log=error:json:five", "wait"]
  term:
    image: stackpilot-fixture:latest
    tty: true
    command: ["print=alpha", "log=warn:bracket:beta", "print=gamma", "wait"]
`, nil)
	p.Compose("up", "-d")
	st := loadProject(t, p)
	ctx := context.Background()
	var lines []string
	itest.Eventually(t, 30*time.Second, "the plain service's five lines", func() bool {
		var err error
		lines, err = st.TailLogs(ctx, p.ContainerID("plain"), 100)
		return err == nil && len(lines) == 5
	})
	// stdout in the order written; the stderr line somewhere before "three"
	// (the engine reads the two pipes separately, so their interleaving at
	// the same instant is its own).
	var stdout []string
	for _, l := range lines {
		if l != "two on stderr" {
			stdout = append(stdout, l)
		}
	}
	if len(stdout) != 4 || strings.Join(stdout[:3], " ") != "one three four" || !strings.Contains(stdout[3], `"msg":"five"`) || strings.Index(strings.Join(lines, "|"), "two on stderr") > strings.Index(strings.Join(lines, "|"), "three") {
		t.Errorf("all lines: %q", lines)
	}
	last, err := st.TailLogs(ctx, p.ContainerID("plain"), 3)
	if err != nil || len(last) != 3 || last[0] != "three" || last[1] != "four" || !strings.Contains(last[2], `"msg":"five"`) {
		t.Errorf("TailLogs 3: %q, %v", last, err)
	}

	itest.Eventually(t, 30*time.Second, "the tty service's lines", func() bool {
		l, err := st.TailLogs(ctx, p.ContainerID("term"), 10)
		return err == nil && len(l) == 3
	})
	tty, err := st.TailLogs(ctx, p.ContainerID("term"), 10)
	if err != nil || fmt.Sprint(tty) != "[alpha [WARN] beta gamma]" {
		t.Errorf("TTY lines (no \\r, no timestamps): %q, %v", tty, err)
	}
	var got []logs.Line
	err = logs.Read(ctx, st, logs.Options{Services: []string{"term"}, Tail: -1, Level: logs.LevelWarn}, func(l logs.Line) error {
		got = append(got, l)
		return nil
	})
	if err != nil || len(got) != 1 || got[0].Message != "[WARN] beta" || got[0].Level != logs.LevelWarn || got[0].Time.Before(time.Now().Add(-5*time.Minute)) {
		t.Errorf("Logs of a TTY container with --level warn: %+v, %v", got, err)
	}

	// A filtered summary of the plain service through the library.
	sum, err := logs.Summarize(ctx, st, logs.Options{Services: []string{"plain"}, Tail: -1, Grep: regexp.MustCompile("^(one|four)$|stderr$")})
	if err != nil || len(sum.Services) != 1 || sum.Services[0].Lines != 3 { // one, two on stderr, four
		t.Errorf("summary with grep: %+v, %v", sum, err)
	}
	if _, err := logs.Summarize(ctx, st, logs.Options{Follow: true}); err == nil {
		t.Error("a following summary was accepted")
	}
}
