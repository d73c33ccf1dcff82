package wizard_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// logRow mirrors the documented NDJSON of `logs --json`.
type logRow struct {
	Service   string    `json:"service"`
	Container string    `json:"container"`
	Time      time.Time `json:"time"`
	Stream    string    `json:"stream"`
	Level     string    `json:"level"`
	Message   string    `json:"message"`
}

func logsJSON(t *testing.T, p *itest.Project, args ...string) []logRow {
	t.Helper()
	res := p.Run(append([]string{"logs", "--json"}, args...)...)
	if res.Code != 0 {
		t.Fatalf("logs --json %v: exit %d\n%s", args, res.Code, res.Combined())
	}
	var rows []logRow
	sc := bufio.NewScanner(strings.NewReader(res.Stdout))
	for sc.Scan() {
		var r logRow
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("logs --json printed a line that is not JSON: %q: %v", sc.Text(), err)
		}
		rows = append(rows, r)
	}
	return rows
}

// logLinesStack writes known lines at known levels in JSON (api), logfmt
// (worker) and plain/bracket/colon/python (web), on stdout and stderr; web
// writes "early", waits two seconds, then "late", so a time between them
// splits its log; pair runs as two replicas; mute logs nowhere.
const logLinesStack = `
services:
  api:
    image: stackpilot-fixture:latest
    command: ["log=info:json:api started", "log=error:json:db timeout 1", "log=warn:json:slow query", "log=debug:json:cache miss", "eprint=api stderr line", "sleep=300ms", "log=info:json:api last 1", "log=info:json:api last 2", "wait"]
  worker:
    image: stackpilot-fixture:latest
    command: ["log=info:logfmt:worker started", "log=error:logfmt:job 17 failed", "log=warn:logfmt:retrying", "print=worker plain line", "log=error:logfmt:job 18 failed", "wait"]
  web:
    image: stackpilot-fixture:latest
    command: ["print=early", "log=error:bracket:upstream refused", "log=warn:colon:disk at 91%", "log=info:python:web ready", "sleep=2s", "print=late", "wait"]
  pair:
    image: stackpilot-fixture:latest
    command: ["print=pair line", "wait"]
  mute:
    image: stackpilot-fixture:latest
    command: ["print=never kept", "wait"]
    logging: {driver: none}
`

// messages returns "service|message" of rows, sorted.
func messages(rows []logRow) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.Service+"|"+r.Message)
	}
	sort.Strings(out)
	return out
}

// bare strips the fixture's JSON/logfmt wrapping so tests can name lines by their message.
func bare(m string) string {
	if strings.HasPrefix(m, "{") {
		var v struct {
			Msg string `json:"msg"`
		}
		if json.Unmarshal([]byte(m), &v) == nil {
			return v.Msg
		}
	}
	if i := strings.Index(m, `msg="`); i >= 0 {
		return strings.TrimSuffix(m[i+5:], `"`)
	}
	return m
}

func bareMessages(rows []logRow) []string {
	out := make([]string, 0, len(rows))
	for _, r := range rows {
		out = append(out, r.Service+"|"+bare(r.Message))
	}
	sort.Strings(out)
	return out
}

func sortedCopy(s ...string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

func TestIntegrationLogsSelectExactLines(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	p := itest.NewProject(t, logLinesStack, nil)
	p.Compose("up", "-d", "--scale", "pair=2")
	itest.Eventually(t, 60*time.Second, "every fixture line logged", func() bool {
		return len(logsJSON(t, p)) == 19
	})

	all := logsJSON(t, p)
	want := sortedCopy(
		"api|api started", "api|db timeout 1", "api|slow query", "api|cache miss", "api|api stderr line", "api|api last 1", "api|api last 2",
		"worker|worker started", "worker|job 17 failed", "worker|retrying", "worker|worker plain line", "worker|job 18 failed",
		"web|early", "web|[ERROR] upstream refused", "web|WARN: disk at 91%", "web|INFO:root:web ready", "web|late",
		"pair|pair line", "pair|pair line",
	)
	if got := bareMessages(all); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("all lines:\n got %q\nwant %q", got, want)
	}
	levels := map[string]string{}
	for _, r := range all {
		levels[r.Service+"|"+bare(r.Message)] = r.Level
	}
	wantLevels := map[string]string{
		"api|api started": "info", "api|db timeout 1": "error", "api|slow query": "warn", "api|cache miss": "debug", "api|api stderr line": "",
		"worker|worker started": "info", "worker|job 17 failed": "error", "worker|retrying": "warn", "worker|worker plain line": "", "worker|job 18 failed": "error",
		"web|early": "", "web|[ERROR] upstream refused": "error", "web|WARN: disk at 91%": "warn", "web|INFO:root:web ready": "info", "web|late": "",
		"pair|pair line": "",
	}
	for k, lvl := range wantLevels {
		if got, ok := levels[k]; !ok || got != lvl {
			t.Errorf("%s: level %q (present %v), want %q", k, got, ok, lvl)
		}
	}
	// Merged across services in timestamp order; stdout and stderr both there.
	for i := 1; i < len(all); i++ {
		if all[i].Time.Before(all[i-1].Time) {
			t.Errorf("line %d (%s %s) is older than the line before it (%s)", i, all[i].Service, all[i].Time, all[i-1].Time)
		}
	}
	streams := map[string]string{}
	containers := map[string]bool{}
	for _, r := range all {
		streams[bare(r.Message)] = r.Stream
		containers[r.Container] = true
	}
	if streams["api stderr line"] != "stderr" || streams["api started"] != "stdout" {
		t.Errorf("streams: stderr line on %q, stdout line on %q", streams["api stderr line"], streams["api started"])
	}
	if len(containers) != 5 {
		t.Errorf("lines came from %d containers, want 5: %v", len(containers), containers)
	}
	// A container whose logging driver keeps nothing is named on stderr and skipped.
	if res := p.Run("logs", "--tail", "1"); res.Code != 0 || !strings.Contains(res.Stderr, "mute") || !strings.Contains(res.Stderr, "skipped") || strings.Contains(res.Stdout, "never kept") {
		t.Errorf("unreadable log: exit %d\n%s", res.Code, res.Combined())
	}

	// --level error: exactly the error lines, any format.
	got := bareMessages(logsJSON(t, p, "--level", "error"))
	if w := sortedCopy("api|db timeout 1", "worker|job 17 failed", "worker|job 18 failed", "web|[ERROR] upstream refused"); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("--level error:\n got %q\nwant %q", got, w)
	}
	// --level warn on one service: warnings and errors.
	got = bareMessages(logsJSON(t, p, "--level", "warn", "worker"))
	if w := sortedCopy("worker|job 17 failed", "worker|retrying", "worker|job 18 failed"); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("--level warn worker:\n got %q\nwant %q", got, w)
	}
	// --level info leaves out debug and lines without a level.
	got = bareMessages(logsJSON(t, p, "--level", "info", "api"))
	if w := sortedCopy("api|api started", "api|db timeout 1", "api|slow query", "api|api last 1", "api|api last 2"); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("--level info api:\n got %q\nwant %q", got, w)
	}
	// --grep: a regular expression over the line.
	got = bareMessages(logsJSON(t, p, "--grep", `job \d+ failed|refused`))
	if w := sortedCopy("worker|job 17 failed", "worker|job 18 failed", "web|[ERROR] upstream refused"); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("--grep:\n got %q\nwant %q", got, w)
	}
	// --tail: the last lines of each container.
	got = bareMessages(logsJSON(t, p, "--tail", "2", "api"))
	if w := sortedCopy("api|api last 1", "api|api last 2"); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("--tail 2 api:\n got %q\nwant %q", got, w)
	}
	// --tail with a filter: the last matching line of each container.
	got = bareMessages(logsJSON(t, p, "--tail", "1", "--level", "error"))
	if w := sortedCopy("api|db timeout 1", "worker|job 18 failed", "web|[ERROR] upstream refused"); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("--tail 1 --level error:\n got %q\nwant %q", got, w)
	}

	// --since / --until split web's log between "early" and "late" (two
	// seconds apart), by the engine's timestamps — for Compose v1 too.
	var early, late time.Time
	for _, r := range all {
		switch r.Message {
		case "early":
			early = r.Time
		case "late":
			late = r.Time
		}
	}
	if late.Sub(early) < 1500*time.Millisecond {
		t.Fatalf("early %s and late %s are not apart", early, late)
	}
	mid := early.Add(late.Sub(early) / 2).Format(time.RFC3339Nano)
	got = bareMessages(logsJSON(t, p, "--since", mid, "web"))
	if w := sortedCopy("web|late"); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("--since %s web: got %q want %q", mid, got, w)
	}
	got = bareMessages(logsJSON(t, p, "--until", mid, "web"))
	if w := sortedCopy("web|early", "web|[ERROR] upstream refused", "web|WARN: disk at 91%", "web|INFO:root:web ready"); fmt.Sprint(got) != fmt.Sprint(w) {
		t.Errorf("--until %s web: got %q want %q", mid, got, w)
	}
	if n := len(logsJSON(t, p, "--since", "10m")); n != 19 {
		t.Errorf("--since 10m: %d lines, want all 19", n)
	}

	// Text output: service prefixes padded to the widest, replicas named, no
	// color without a terminal; --no-prefix and --timestamps.
	res := p.Run("logs", "--level", "error", "web", "worker")
	lines := strings.Split(strings.TrimSpace(res.Stdout), "\n")
	sort.Strings(lines)
	if w := sortedCopy(`web    | [ERROR] upstream refused`, `worker | `+findMessage(all, "job 17 failed"), `worker | `+findMessage(all, "job 18 failed")); res.Code != 0 || fmt.Sprint(lines) != fmt.Sprint(w) {
		t.Errorf("text --level error (exit %d):\n got %q\nwant %q", res.Code, lines, w)
	}
	if strings.Contains(res.Combined(), "\x1b[") {
		t.Errorf("escape codes without a terminal: %q", res.Stdout)
	}
	res = p.Run("logs", "pair")
	if !strings.Contains(res.Stdout, "pair #1 | pair line\n") || !strings.Contains(res.Stdout, "pair #2 | pair line\n") {
		t.Errorf("replicas not named:\n%s", res.Stdout)
	}
	res = p.Run("logs", "--no-prefix", "--grep", "^late$")
	if res.Stdout != "late\n" {
		t.Errorf("--no-prefix: %q", res.Stdout)
	}
	res = p.Run("logs", "--timestamps", "--grep", "^late$", "web")
	if want := "web | " + late.UTC().Format("2006-01-02T15:04:05.000000000Z07:00") + " late\n"; res.Stdout != want {
		t.Errorf("--timestamps:\n got %q\nwant %q", res.Stdout, want)
	}

	// Usage errors name the flag, exit 2, print nothing on stdout.
	for _, args := range [][]string{
		{"--level", "loud"}, {"--grep", "("}, {"--since", "yesterday-ish"}, {"--tail", "-3"},
		{"-f", "--until", "1m"}, {"--summary", "-f"}, {"--json", "--timestamps"},
	} {
		res := p.Run(append([]string{"logs"}, args...)...)
		if res.Code != 2 || res.Stdout != "" || !strings.Contains(res.Stderr, args[0]) && !strings.Contains(res.Stderr, args[1]) {
			t.Errorf("logs %v: exit %d, want 2 naming the flag\n%s", args, res.Code, res.Combined())
		}
	}
	if res := p.Run("logs", "nosuch"); res.Code == 0 || !strings.Contains(res.Stderr, "api, mute, pair, web, worker") {
		t.Errorf("unknown service: exit %d\n%s", res.Code, res.Stderr)
	}
}

func findMessage(rows []logRow, bareMsg string) string {
	for _, r := range rows {
		if bare(r.Message) == bareMsg {
			return r.Message
		}
	}
	return "(missing " + bareMsg + ")"
}

// summaryJSON mirrors `logs --summary --json`.
type summaryJSON struct {
	Project  string `json:"project"`
	Services []struct {
		Service    string `json:"service"`
		Containers int    `json:"containers"`
		Lines      int64  `json:"lines"`
		Levels     struct {
			Error, Warn, Info, Debug, Other int64
		} `json:"levels"`
		Restarts   int `json:"restarts"`
		FirstError *struct {
			Time      time.Time `json:"time"`
			Container string    `json:"container"`
			Message   string    `json:"message"`
		} `json:"first_error"`
		LastError *struct {
			Time    time.Time `json:"time"`
			Message string    `json:"message"`
		} `json:"last_error"`
		TopErrors []struct {
			Message string `json:"message"`
			Count   int64  `json:"count"`
			Example string `json:"example"`
		} `json:"top_errors"`
	} `json:"services"`
}

func TestIntegrationLogsSummary(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, `
services:
  spam:
    image: stackpilot-fixture:latest
    command: ["spam=1000", "wait"]
  crashy:
    image: stackpilot-fixture:latest
    command: ["log=error:json:crash 42 at 0xdeadbeef", "log=info:json:booting", "exit=1"]
    restart: on-failure:2
  quiet:
    image: stackpilot-fixture:latest
    command: ["wait"]
`, nil)
	p.Compose("up", "-d", "spam", "crashy")
	itest.Eventually(t, 60*time.Second, "crashy restarted twice and stopped, spam done", func() bool {
		in := itest.Inspect(t, p.ContainerID("crashy"))
		st := in["State"].(map[string]any)
		return in["RestartCount"].(float64) == 2 && st["Status"] == "exited" && len(logsJSON(t, p, "spam")) == 1000
	})
	res := p.Run("logs", "--summary", "--json")
	if res.Code != 0 {
		t.Fatalf("summary: exit %d\n%s", res.Code, res.Combined())
	}
	var sum summaryJSON
	if err := json.Unmarshal([]byte(res.Stdout), &sum); err != nil {
		t.Fatalf("summary --json: %v\n%s", err, res.Stdout)
	}
	if sum.Project != p.Name || len(sum.Services) != 3 {
		t.Fatalf("summary: project %q, %d services", sum.Project, len(sum.Services))
	}
	byName := map[string]int{}
	for i, s := range sum.Services {
		byName[s.Service] = i
	}
	// spam=1000: every 10th line an error, every 10th a warning; formats
	// cycle json/logfmt/bracket/plain, and plain info/debug lines name no level.
	spam := sum.Services[byName["spam"]]
	if spam.Lines != 1000 || spam.Levels.Error != 100 || spam.Levels.Warn != 100 || spam.Levels.Info != 525 || spam.Levels.Debug != 75 || spam.Levels.Other != 200 {
		t.Errorf("spam counts: lines %d levels %+v", spam.Lines, spam.Levels)
	}
	if len(spam.TopErrors) != 1 || spam.TopErrors[0].Count != 100 || spam.TopErrors[0].Message != "request <n> failed: connection reset by peer <id>" {
		t.Errorf("spam top errors: %+v", spam.TopErrors)
	}
	if spam.FirstError == nil || !strings.Contains(spam.FirstError.Message, "request 9 failed") || spam.LastError == nil || !strings.Contains(spam.LastError.Message, "request 999 failed") {
		t.Errorf("spam first/last error: %+v %+v", spam.FirstError, spam.LastError)
	}
	// crashy ran three times: three errors grouped as one message, two restarts.
	crashy := sum.Services[byName["crashy"]]
	if crashy.Restarts != 2 || crashy.Lines != 6 || crashy.Levels.Error != 3 || crashy.Levels.Info != 3 {
		t.Errorf("crashy: restarts %d lines %d levels %+v", crashy.Restarts, crashy.Lines, crashy.Levels)
	}
	if len(crashy.TopErrors) != 1 || crashy.TopErrors[0].Count != 3 || crashy.TopErrors[0].Message != "crash <n> at <id>" {
		t.Errorf("crashy top errors: %+v", crashy.TopErrors)
	}
	if crashy.FirstError == nil || crashy.LastError == nil || !crashy.LastError.Time.After(crashy.FirstError.Time) {
		t.Errorf("crashy first/last error times: %+v %+v", crashy.FirstError, crashy.LastError)
	}
	quiet := sum.Services[byName["quiet"]]
	if quiet.Containers != 0 || quiet.Lines != 0 || quiet.TopErrors == nil {
		t.Errorf("quiet (never started): %+v", quiet)
	}

	// Filters apply to the summary too.
	res = p.Run("logs", "--summary", "--json", "--level", "warn", "spam")
	var warn summaryJSON
	if err := json.Unmarshal([]byte(res.Stdout), &warn); err != nil || len(warn.Services) != 1 || warn.Services[0].Lines != 200 {
		t.Errorf("summary --level warn spam: %v %+v", err, warn.Services)
	}

	// The table for people.
	res = p.Run("logs", "--summary")
	if res.Code != 0 {
		t.Fatalf("summary table: exit %d\n%s", res.Code, res.Combined())
	}
	for _, want := range []string{"SERVICE", "RESTARTS", "FIRST ERROR", "100×  request <n> failed: connection reset by peer <id>", "3×  crash <n> at <id>"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("summary table lacks %q:\n%s", want, res.Stdout)
		}
	}
	fields := map[string][]string{}
	for _, l := range strings.Split(res.Stdout, "\n") {
		if f := strings.Fields(l); len(f) >= 8 {
			fields[f[0]] = f
		}
	}
	if f := fields["spam"]; f == nil || strings.Join(f[1:8], " ") != "1000 100 100 525 75 200 0" {
		t.Errorf("spam row: %q", f)
	}
	if f := fields["crashy"]; f == nil || strings.Join(f[1:8], " ") != "6 3 0 3 0 0 2" {
		t.Errorf("crashy row: %q", f)
	}
	if !strings.Contains(res.Stderr, "no containers for quiet") {
		t.Errorf("no note about quiet on stderr: %q", res.Stderr)
	}
}

// syncBuffer is a bytes.Buffer safe to read while a process writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestIntegrationLogsFollowAcrossRedeploy(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	p := itest.NewProject(t, `
services:
  api:
    image: stackpilot-fixture:latest
    command: ["env=HOSTNAME", "print=api up", "eprint=api on stderr", "wait"]
  other:
    image: stackpilot-fixture:latest
    command: ["print=other up", "wait"]
`, nil)
	p.Compose("up", "-d")
	first := p.ContainerID("api")[:12]

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, itest.Binary(t), "logs", "-f", "api")
	cmd.Dir = p.Dir
	cmd.Env = itest.BaseEnv()
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	itest.Eventually(t, 30*time.Second, "the first container's lines", func() bool {
		return strings.Contains(out.String(), "api | "+first) && strings.Contains(out.String(), "api | api on stderr")
	})

	// A redeploy of that service: a new container replaces the old one.
	p.Compose("up", "-d", "--force-recreate", "api")
	second := p.ContainerID("api")[:12]
	if second == first {
		t.Fatal("force-recreate kept the container")
	}
	itest.Eventually(t, 30*time.Second, "the new container's lines while following", func() bool {
		return strings.Contains(out.String(), "api | "+second)
	})
	// A restart of the same container: its new lines too, once each.
	p.Compose("restart", "-t", "1", "api")
	itest.Eventually(t, 30*time.Second, "the restarted container's lines", func() bool {
		return strings.Count(out.String(), "api | "+second) == 2
	})
	time.Sleep(500 * time.Millisecond)
	text := out.String()
	if n := strings.Count(text, "api | api up"); n != 3 {
		t.Errorf("%q printed %d times, want 3 (once per run, no repeats):\n%s", "api up", n, text)
	}
	if n := strings.Count(text, "api | api on stderr"); n != 3 {
		t.Errorf("stderr line printed %d times, want 3:\n%s", n, text)
	}
	if strings.Contains(text, "other") {
		t.Errorf("a service not asked for was printed:\n%s", text)
	}
	if !strings.Contains(errOut.String(), "following new container") {
		t.Errorf("the pick-up of the new container was not announced on stderr: %q", errOut.String())
	}

	// Ctrl-C stops following: exit 130, no error message.
	_ = cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	}
	if code != 130 || strings.Contains(errOut.String(), "error") {
		t.Errorf("Ctrl-C: exit %d (want 130), stderr %q", code, errOut.String())
	}
}

// Following a stack with nothing started yet waits, and picks up the
// containers when they start.
func TestIntegrationLogsFollowWaitsForContainers(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, "services:\n  api:\n    image: stackpilot-fixture:latest\n    command: [\"print=hello from api\", \"wait\"]\n", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, itest.Binary(t), "logs", "-f")
	cmd.Dir = p.Dir
	cmd.Env = itest.BaseEnv()
	var out, errOut syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill() }()
	itest.Eventually(t, 20*time.Second, "the waiting note", func() bool {
		return strings.Contains(errOut.String(), "waiting for them to start")
	})
	p.Compose("up", "-d")
	itest.Eventually(t, 30*time.Second, "the line of a container started while following", func() bool {
		return strings.Contains(out.String(), "api | hello from api\n")
	})
	_ = cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
}
