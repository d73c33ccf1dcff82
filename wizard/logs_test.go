package wizard

import (
	"bufio"
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/stackops/logs"
	"github.com/stackpilot/stackpilot/steps"
)

func TestResolveLogsOptions(t *testing.T) {
	now := time.Date(2025, 11, 25, 22, 0, 0, 0, time.UTC)
	lo, err := resolveLogsOptions(&logsOptions{Tail: "20", Since: "10m", Until: "2025-11-25T21:59:00Z", Grep: "a|b", Level: "warn"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if lo.Tail != 20 || !lo.Since.Equal(now.Add(-10*time.Minute)) || !lo.Until.Equal(now.Add(-time.Minute)) || lo.Grep.String() != "a|b" || lo.Level != logs.LevelWarn {
		t.Errorf("resolved %+v", lo)
	}
	lo, err = resolveLogsOptions(&logsOptions{Grep: "timeout|REFUSED", IgnoreCase: true}, now)
	if err != nil || !lo.Grep.MatchString("connection refused") || !lo.Grep.MatchString("TIMEOUT") || lo.Grep.MatchString("ok") {
		t.Errorf("-i: %v %v", lo.Grep, err)
	}
	if lo, _ := resolveLogsOptions(&logsOptions{Grep: "REFUSED"}, now); lo.Grep.MatchString("connection refused") {
		t.Errorf("without -i the case matters: %v", lo.Grep)
	}
	if lo, _ := resolveLogsOptions(&logsOptions{Tail: "all"}, now); lo.Tail != -1 {
		t.Errorf("--tail all: %d", lo.Tail)
	}
	bad := map[string]*logsOptions{
		"--tail":                             {Tail: "x"},
		"--since":                            {Since: "soon"},
		"--grep":                             {Grep: "("},
		"--level":                            {Level: "loud"},
		"--until (":                          {Since: "1m", Until: "2m"},
		"-f/--follow":                        {Follow: true, Until: "1m"},
		"--summary":                          {Summary: true, Follow: true},
		"--timestamps":                       {JSON: true, Timestamps: true},
		"--no-prefix":                        {Summary: true, NoPrefix: true},
		"--grep:":                            {Grep: "(", IgnoreCase: true},
		"-i/--ignore-case applies to --grep": {IgnoreCase: true},
	}
	for flag, o := range bad {
		_, err := resolveLogsOptions(o, now)
		if ExitCode(err) != ExitUsage || !strings.Contains(err.Error(), flag) {
			t.Errorf("%+v: err %v (exit %d), want a usage error naming %s", o, err, ExitCode(err), flag)
		}
	}
}

func TestParseLogTime(t *testing.T) {
	now := time.Date(2025, 11, 25, 22, 0, 0, 0, time.UTC)
	cases := map[string]time.Time{
		"10m":                         now.Add(-10 * time.Minute),
		"1h30m":                       now.Add(-90 * time.Minute),
		"2d":                          now.Add(-48 * time.Hour),
		"2025-11-25T21:00:00Z":        time.Date(2025, 11, 25, 21, 0, 0, 0, time.UTC),
		"2025-11-25T21:00:00.5+01:00": time.Date(2025, 11, 25, 20, 0, 0, 5e8, time.UTC),
		"2025-11-25 21:30":            time.Date(2025, 11, 25, 21, 30, 0, 0, time.Local),
		"2025-11-25":                  time.Date(2025, 11, 25, 0, 0, 0, 0, time.Local),
		"1764108000":                  time.Unix(1764108000, 0),
		"1764108000.25":               time.Unix(1764108000, 25e7),
	}
	for in, want := range cases {
		got, err := logs.ParseTime(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("logs.ParseTime(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-5m", "yesterday", "25/11/2025"} {
		if _, err := logs.ParseTime(in, now); err == nil {
			t.Errorf("logs.ParseTime(%q) accepted", in)
		}
	}
}

func TestLogPrinter(t *testing.T) {
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	ios, _, _, _ := steps.Test()
	f := NewFactory(ios, "test", nil)
	p := &logPrinter{f: f, w: w, cs: steps.NewColorScheme(false), prefix: true, color: map[string]int{}, width: 6}
	ts := time.Date(2025, 11, 25, 22, 0, 0, 123, time.UTC)
	_ = p.print(logs.Line{Service: "api", Message: "one", Replica: 1, Replicas: 1, Time: ts})
	_ = p.print(logs.Line{Service: "worker", Message: "two", Replica: 2, Replicas: 2, Time: ts})
	_ = p.print(logs.Line{Service: "api", Message: "three", Replica: 1, Replicas: 1, Time: ts})
	p.timestamps, p.prefix = true, false
	_ = p.print(logs.Line{Service: "api", Message: "four", Time: ts})
	_ = w.Flush()
	want := "api    | one\nworker #2 | two\napi       | three\n2025-11-25T22:00:00.000000123Z four\n"
	if buf.String() != want {
		t.Errorf("printed\n%s\nwant\n%s", buf.String(), want)
	}

	// On a terminal each service keeps one color, and --grep matches are marked.
	buf.Reset()
	cs := steps.NewColorScheme(true)
	re := mustRegexp(t, "o+")
	p = &logPrinter{f: f, w: w, cs: cs, prefix: true, color: map[string]int{"api": 0, "web": 1}, width: 3, grep: re}
	_ = p.print(logs.Line{Service: "api", Message: "foo"})
	_ = p.print(logs.Line{Service: "web", Message: "bar"})
	_ = w.Flush()
	out := buf.String()
	if !strings.Contains(out, cs.Color(0, "api |")) || !strings.Contains(out, cs.Color(1, "web |")) || cs.Color(0, "x") == cs.Color(1, "x") {
		t.Errorf("service colors: %q", out)
	}
	if !strings.Contains(out, "f"+cs.Red("oo")) {
		t.Errorf("grep match not marked: %q", out)
	}
}

func TestPrintLogSummary(t *testing.T) {
	at := time.Date(2025, 11, 25, 22, 0, 0, 0, time.Local)
	sum := &logs.Summary{Project: "p", Services: []logs.ServiceSummary{
		{Service: "api", Containers: 1, Lines: 10, Levels: logs.LevelCounts{Error: 3, Info: 7}, Restarts: 2,
			FirstError: &logs.LoggedError{Time: at, Message: "boom 1"}, LastError: &logs.LoggedError{Time: at.Add(time.Minute), Message: "boom 3"},
			TopErrors: []logs.ErrorGroup{{Message: "boom <n>", Count: 3}}},
		{Service: "db", Containers: 1, Lines: 1, Levels: logs.LevelCounts{Other: 1}, TopErrors: []logs.ErrorGroup{}},
	}}
	var buf bytes.Buffer
	printLogSummary(&buf, steps.NewColorScheme(false), sum)
	out := buf.String()
	for _, want := range []string{
		"SERVICE   LINES   ERROR   WARN   INFO   DEBUG   OTHER   RESTARTS   FIRST ERROR           LAST ERROR",
		"api       10      3       0      7      0       0       2          2025-11-25 22:00:00   2025-11-25 22:01:00",
		"db        1       0       0      0      0       1       0          -                     -",
		"api — 3 error line(s)",
		"  first 2025-11-25 22:00:00  boom 1",
		"  last  2025-11-25 22:01:00  boom 3",
		"  3×  boom <n>",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "db —") {
		t.Errorf("a service without errors got an error section:\n%s", out)
	}
}

func mustRegexp(t *testing.T, s string) *regexp.Regexp {
	t.Helper()
	re, err := regexp.Compile(s)
	if err != nil {
		t.Fatal(err)
	}
	return re
}
