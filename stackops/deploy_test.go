package stackops

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

const deployStack = `services:
  db:
    image: postgres:16
  api:
    build: .
    depends_on: [db]
  web:
    build: .
    image: shop/web:2
    depends_on: [api]
  tool:
    image: busybox
x-stackpilot:
  deploy:
    timeout: 90s
    settle: 2s
    keep-images: 0
    pre-deploy: ["./check.sh", "--strict"]
    post-deploy: [["./notify.sh"], ["./smoke", "a b"]]
`

func loadDeployStack(t *testing.T, compose string) *Stack {
	t.Helper()
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": compose})
	st, err := Load(context.Background(), LoadOptions{ProjectDir: dir, ProjectName: "shop", Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var (
	v2 = &ComposeCLI{Variant: ComposeV2, Version: "5.0.2", Command: []string{"docker", "compose"}}
	v1 = &ComposeCLI{Variant: ComposeV1, Version: "1.29.2", Command: []string{"docker-compose"}}
)

func TestDeployCommands(t *testing.T) {
	st := loadDeployStack(t, deployStack)
	join := func(cmds [][]string) string {
		var out []string
		for _, c := range cmds {
			out = append(out, strings.Join(c, " "))
		}
		return strings.Join(out, " | ")
	}
	cases := []struct {
		name                    string
		services                []string
		all, build, pull, force bool
		want                    string
	}{
		{"everything, one compose call", st.ServiceNames(), true, true, false, false, "up -d --build"},
		{"selected services", []string{"web"}, false, true, false, false, "up -d --build web"},
		{"no build", []string{"api", "db"}, false, false, false, false, "up -d --no-build api db"},
		{"force", nil, true, true, false, true, "up -d --build --force-recreate"},
		// --pull pulls only what is not built here (shop/web:2 is built, so
		// not pulled) and pulls the base images of what is built.
		{"pull and build", []string{"web"}, false, true, true, false, "pull db | build --pull api web | up -d --no-build web"},
		{"pull without build", []string{"web"}, false, false, true, false, "pull db web | up -d --no-build web"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			for _, cli := range []*ComposeCLI{v1, v2} {
				got := join(st.deployCommands(cli, c.services, c.all, c.build, c.pull, c.force))
				if got != c.want {
					t.Errorf("%s: got %q, want %q", cli.Variant, got, c.want)
				}
			}
		})
	}
}

func TestRollbackUpArgsPerVariant(t *testing.T) {
	if got := strings.Join(rollbackUpArgs(v2, []string{"api"}), " "); got != "up -d --no-build --no-deps --force-recreate --pull never api" {
		t.Errorf("v2: %s", got)
	}
	// v1 has no `up --pull` (and exits 0 on flags it does not know, so it must never get one).
	if got := strings.Join(rollbackUpArgs(v1, []string{"api"}), " "); got != "up -d --no-build --no-deps --force-recreate api" {
		t.Errorf("v1: %s", got)
	}
}

func TestWithDependencies(t *testing.T) {
	st := loadDeployStack(t, deployStack)
	if got := strings.Join(st.withDependencies([]string{"web"}), ","); got != "api,db,web" {
		t.Fatalf("got %s", got)
	}
	if got := strings.Join(st.withDependencies([]string{"tool"}), ","); got != "tool" {
		t.Fatalf("got %s", got)
	}
}

func TestComposeImageRefPerVariant(t *testing.T) {
	st := loadDeployStack(t, deployStack)
	if got := st.composeImageRef(v2, "api", nil); got != "shop-api" {
		t.Errorf("v2 default name %q", got)
	}
	if got := st.composeImageRef(v1, "api", nil); got != "shop_api" {
		t.Errorf("v1 default name %q", got)
	}
	if got := st.composeImageRef(v1, "web", nil); got != "shop/web:2" {
		t.Errorf("explicit image %q", got)
	}
	// A container created by the other variant tells the name Compose used.
	snap := &snapshot{byService: map[string][]snapContainer{"api": {{ImageRef: "shop_api"}}}}
	if got := st.composeImageRef(v2, "api", snap); got != "shop_api" {
		t.Errorf("from container %q", got)
	}
}

func TestRefHelpers(t *testing.T) {
	for ref, want := range map[string]string{
		"web": "web:latest", "shop/web:2": "shop/web:2", "localhost:5000/web": "localhost:5000/web:latest",
		"localhost:5000/web:3": "localhost:5000/web:3", "web@sha256:abc": "web@sha256:abc",
	} {
		if got := normalizeRef(ref); got != want {
			t.Errorf("normalizeRef(%q) = %q, want %q", ref, got, want)
		}
	}
	repo, tag := splitRef("localhost:5000/web")
	if repo != "localhost:5000/web" || tag != "latest" {
		t.Errorf("splitRef: %q %q", repo, tag)
	}
	repo, tag = splitRef("shop/web:2")
	if repo != "shop/web" || tag != "2" {
		t.Errorf("splitRef: %q %q", repo, tag)
	}
	for in, want := range map[string]string{"api": "api", "My.Svc_1": "my-svc-1", "__x": "x", "---": "x"} {
		if got := repoComponent(in); got != want {
			t.Errorf("repoComponent(%q) = %q, want %q", in, got, want)
		}
	}
}

// The deploy section's keys read in snake_case too, like backup's and env's.
func TestDeployConfigSnakeCaseKeys(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  a:\n    image: x\nx-stackpilot:\n  deploy:\n    keep_images: 2\n    pre_deploy: [./a, x]\n    post_deploy: [[./b], [./c]]\n    settle: 1s\n"})
	st, err := Load(context.Background(), LoadOptions{ProjectDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := st.DeployConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.KeepImages == nil || *cfg.KeepImages != 2 || fmt.Sprint(cfg.PreDeploy.Commands()) != "[[./a x]]" || fmt.Sprint(cfg.PostDeploy.Commands()) != "[[./b] [./c]]" || time.Duration(cfg.Settle) != time.Second {
		t.Fatalf("config %+v", cfg)
	}
}

func TestDeployConfigAndHooks(t *testing.T) {
	st := loadDeployStack(t, deployStack)
	cfg, err := st.DeployConfig()
	if err != nil {
		t.Fatal(err)
	}
	if time.Duration(cfg.Timeout) != 90*time.Second || time.Duration(cfg.Settle) != 2*time.Second || cfg.KeepImages == nil || *cfg.KeepImages != 0 {
		t.Fatalf("config %+v", cfg)
	}
	if fmt.Sprint(cfg.PreDeploy.Commands()) != "[[./check.sh --strict]]" || fmt.Sprint(cfg.PostDeploy.Commands()) != "[[./notify.sh] [./smoke a b]]" {
		t.Fatalf("hooks %q %q", cfg.PreDeploy, cfg.PostDeploy)
	}
	for _, bad := range []string{
		"pre-deploy: [\"./a\", [\"./b\"]]",
		"pre-deploy: [[]]",
		"pre-deploy: {cmd: x}",
		"keep-images: -1",
		"timeout: soon",
		"retries: 3",
		"keep_images: -1",
		"pre-deploy: [./a]\n    pre_deploy: [./b]",
		"keep-images: 1\n    keep_images: 2",
	} {
		dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  a:\n    image: x\nx-stackpilot:\n  deploy:\n    " + bad + "\n"})
		st, err := Load(context.Background(), LoadOptions{ProjectDir: dir, Environ: []string{}})
		if err == nil {
			_, err = st.DeployConfig()
		}
		if !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: want an invalid-config error, got %v", bad, err)
		}
	}
}

// recordingRunner records commands and fails the ones whose program is in fail.
type recordingRunner struct {
	mu    sync.Mutex
	cmds  []Cmd
	fail  map[string]int
	print string
}

func (r *recordingRunner) Run(_ context.Context, c Cmd) error {
	r.mu.Lock()
	r.cmds = append(r.cmds, c)
	r.mu.Unlock()
	if r.print != "" && c.Stdout != nil {
		fmt.Fprint(c.Stdout, r.print)
	}
	if code, ok := r.fail[c.Args[0]]; ok {
		return &ExitError{Cmd: c.Args[0], Code: code}
	}
	return nil
}

// recordingSink keeps events.
type recordingSink struct {
	mu     sync.Mutex
	events []Event
}

func (s *recordingSink) Start(string) {}
func (s *recordingSink) Event(e Event) {
	s.mu.Lock()
	s.events = append(s.events, e)
	s.mu.Unlock()
}
func (s *recordingSink) Done(string, error) {}

func TestRunHooksStopsAtFirstFailureWithOutput(t *testing.T) {
	st := loadDeployStack(t, deployStack)
	r := &recordingRunner{fail: map[string]int{st.Dir + "/notify.sh": 3}, print: "line one\nwhy it failed\n"}
	st.Runner = r
	sink := &recordingSink{}
	cfg, _ := st.DeployConfig()
	runs, err := st.runHooks(context.Background(), "post-deploy", cfg.PostDeploy, []string{"STACKPILOT_OPERATION=deploy"}, nil, sink, "deploy")
	var he *HookError
	if !errors.As(err, &he) || !errors.Is(err, ErrHookFailed) {
		t.Fatalf("want a HookError, got %v", err)
	}
	if len(r.cmds) != 1 || len(runs) != 1 {
		t.Fatalf("the second command ran after the first failed: %d commands", len(r.cmds))
	}
	c := r.cmds[0]
	if c.Args[0] != st.Dir+"/notify.sh" || c.Dir != st.Dir || strings.Join(c.Env, " ") != "STACKPILOT_OPERATION=deploy" {
		t.Fatalf("command %+v", c)
	}
	if runs[0].ExitCode != 3 || !strings.Contains(err.Error(), "why it failed") || !strings.Contains(err.Error(), "post-deploy hook ./notify.sh failed: exit status 3") {
		t.Fatalf("run %+v, error %q", runs[0], err)
	}
	last := sink.events[len(sink.events)-1]
	if !last.Final || !last.Failed || last.Service != "post-deploy" {
		t.Fatalf("last event %+v", last)
	}
}

func TestHookEnvDescribesTheDeploy(t *testing.T) {
	st := loadDeployStack(t, deployStack)
	snap := &snapshot{byService: map[string][]snapContainer{"web": {{ImageID: "sha256:aaa"}}, "api": {{ImageID: "sha256:bbb"}}}}
	env := st.hookEnv(rolloutSpec{op: "deploy", services: []string{"web"}, gate: []string{"api", "db", "web"}, build: true},
		&DeployResult{ID: "20260101T000000Z-abcd"}, v1, snap)
	got := strings.Join(env, "\n")
	for _, want := range []string{"STACKPILOT_OPERATION=deploy", "STACKPILOT_PROJECT=shop", "STACKPILOT_PROJECT_DIR=" + st.Dir,
		"STACKPILOT_SERVICES=web", "STACKPILOT_DEPLOY_ID=20260101T000000Z-abcd", "STACKPILOT_COMPOSE=v1", "STACKPILOT_BUILD=true",
		"STACKPILOT_PULL=false", "STACKPILOT_IMAGES_BEFORE=api=sha256:bbb web=sha256:aaa"} {
		if !strings.Contains(got, want+"\n") && !strings.HasSuffix(got, want) {
			t.Errorf("hook env lacks %q:\n%s", want, got)
		}
	}
}

func TestComposeErrorSummary(t *testing.T) {
	v1out := []string{"Creating shop_db_1 ... done", "ERROR: for api  Container \"abc\" is unhealthy.", "ERROR: Encountered errors while bringing up the project."}
	if got := composeErrorSummary(v1out); !strings.Contains(got, "is unhealthy") {
		t.Errorf("v1: %q", got)
	}
	v2out := []string{`time="x" level=warning msg="Docker Compose requires buildx plugin to be installed"`, " Container shop-db-1 Error", "dependency failed to start: container shop-db-1 exited (1)"}
	if got := composeErrorSummary(v2out); !strings.Contains(got, "dependency failed to start") || strings.Contains(got, "buildx") {
		t.Errorf("v2: %q", got)
	}
	if got := composeErrorSummary([]string{"something odd", ""}); got != "something odd" {
		t.Errorf("fallback: %q", got)
	}
	e := &ComposeFailedError{Command: []string{"docker", "compose", "--project-name", "x", "up", "-d"}, Sub: "up", Code: 1, Output: v2out}
	if !strings.HasPrefix(e.Error(), "docker compose up exited with status 1: ") || !errors.Is(e, ErrComposeFailed) {
		t.Errorf("error %q", e)
	}
}

func TestLineTailKeepsLastLinesAndSeesEachLine(t *testing.T) {
	var seen []string
	lt := newLineTail(2, func(l string) { seen = append(seen, l) })
	fmt.Fprint(lt, "one\ntw")
	fmt.Fprint(lt, "o\r\nthree\nfou")
	fmt.Fprint(lt, "r")
	lt.Flush()
	if got := strings.Join(lt.Lines(), ","); got != "three,four" {
		t.Errorf("tail %s", got)
	}
	if got := strings.Join(seen, ","); got != "one,two,three,four" {
		t.Errorf("seen %s", got)
	}
	// Progress counters rewrite their line with \r: only the last state counts.
	lt = newLineTail(5, nil)
	fmt.Fprint(lt, "Sending build context 1MB\rSending build context 7MB\r\nStep 1/3\n")
	if got := strings.Join(lt.Lines(), ","); got != "Sending build context 7MB,Step 1/3" {
		t.Errorf("carriage returns: %q", got)
	}
}

func TestActionFromSnapshots(t *testing.T) {
	mk := func(cs ...snapContainer) *snapshot {
		return &snapshot{byService: map[string][]snapContainer{"a": cs}}
	}
	running := snapContainer{ID: "1", State: "running"}
	cases := []struct {
		before, after *snapshot
		want          string
	}{
		{mk(), mk(running), "created"},
		{mk(running), mk(snapContainer{ID: "2", State: "running"}), "recreated"},
		{mk(running), mk(running), "unchanged"},
		{mk(snapContainer{ID: "1", State: "exited"}), mk(running), "started"},
		{mk(running), mk(), "removed"},
		{mk(), mk(), "not created"},
	}
	for i, c := range cases {
		if got := action(c.before, c.after, "a"); got != c.want {
			t.Errorf("case %d: %s, want %s", i, got, c.want)
		}
	}
}

// A one-shot job (restart "no") is ready when it exited 0, not while it runs.
func TestGateWaitsForOneShotJobsToExit(t *testing.T) {
	now := time.Now()
	c := &Container{ID: "x", State: "running", Detail: &ContainerDetail{StartedAt: now.Add(-time.Minute)}}
	if sh := judgeGateContainer("job", c, "no", map[string]int{}, time.Time{}, time.Second, now); sh.Ready || sh.Failed {
		t.Fatalf("a running job passed the gate: %+v", sh)
	} else if !strings.Contains(sh.Reason, "(restart: no)") {
		t.Fatalf("reason %q", sh.Reason)
	}
	if sh := judgeGateContainer("srv", c, "", map[string]int{}, time.Time{}, time.Second, now); !sh.Ready {
		t.Fatalf("a settled server did not pass: %+v", sh)
	}
	c.State, c.ExitCode = "exited", 0
	if sh := judgeGateContainer("job", c, "on-failure:3", map[string]int{}, time.Time{}, time.Second, now); !sh.Ready {
		t.Fatalf("a job that exited 0 did not pass: %+v", sh)
	}
	c.ExitCode = 2
	if sh := judgeGateContainer("job", c, "no", map[string]int{}, time.Time{}, time.Second, now); !sh.Failed || sh.ExitCode != 2 {
		t.Fatalf("a job that exited 2 did not fail: %+v", sh)
	}
}
