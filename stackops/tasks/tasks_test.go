package tasks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/envcrypt"
)

func load(t *testing.T, compose string, environ ...string) *stackops.Stack {
	t.Helper()
	st, err := tryLoad(t, compose, nil, environ...)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func tryLoad(t *testing.T, compose string, runner stackops.Runner, environ ...string) (*stackops.Stack, error) {
	t.Helper()
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": compose, ".env": "API_PORT=9091\n"})
	return stackops.Load(context.Background(), stackops.LoadOptions{WorkDir: dir, Environ: append([]string{"STACKPILOT_CACHE_DIR=" + t.TempDir()}, environ...), Runner: runner})
}

const services = "services:\n  db:\n    image: db\n  api:\n    image: api\n"

func TestListParsesInterpolatesAndSorts(t *testing.T) {
	st := load(t, services+`x-stackpilot:
  tasks:
    stats:
      description: "  row counts  "
      service: db
      command: ["/app", "stats", "--port=${API_PORT}", "$$literal"]
      user: "999"
      workdir: /data
      environment: {B: 2, A: "x y", FROM_ENV: null, MISSING: null, YES: true}
    seed:
      host: true
      command: ./seed.sh --fast "two words"
      confirm: true
      environment: [K=v=w, FROM_ENV, ALSO_MISSING]
`, "FROM_ENV=shell")
	list, err := List(st)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Name != "seed" || list[1].Name != "stats" {
		t.Fatalf("tasks %+v", list)
	}
	seed, stats := list[0], list[1]
	if got := strings.Join(stats.Command, "|"); got != "/app|stats|--port=9091|$literal" {
		t.Errorf("stats command %q: want .env interpolated and $$ unescaped, as Compose does", got)
	}
	if stats.Description != "row counts" || stats.Where() != "service db" || stats.User != "999" || stats.Workdir != "/data" || stats.Confirm {
		t.Errorf("stats %+v", stats)
	}
	if got := strings.Join(stats.env, "|"); got != "A=x y|B=2|FROM_ENV=shell|YES=true" {
		t.Errorf("stats env %q (a null value comes from the environment, or is left out)", got)
	}
	if got := strings.Join(stats.EnvironmentKeys, ","); got != "A,B,FROM_ENV,YES" {
		t.Errorf("environment keys %q", got)
	}
	if got := strings.Join(seed.Command, "|"); got != "./seed.sh|--fast|two words" {
		t.Errorf("a string command is split into words as Compose splits command: %q", got)
	}
	if !seed.Host || !seed.Confirm || seed.Where() != "host" || strings.Join(seed.env, "|") != "FROM_ENV=shell|K=v=w" {
		t.Errorf("seed %+v env %q", seed, seed.env)
	}
}

func TestListRejectsMistakesNamingTaskAndKey(t *testing.T) {
	for _, c := range []struct{ body, want string }{
		{"t: {service: db, command: [x], cmd: [y]}", `t: unknown field "cmd"`},
		{"t: {service: db, host: true, command: [x]}", "t: give either service"},
		{"t: {command: [x]}", "t: say where it runs"},
		{"t: {service: db}", "t: command is required"},
		{"t: {service: db, command: []}", "t: command is required"},
		{"t: {host: true, command: [x], user: root}", "t: user and workdir are for container tasks"},
		{"t: {service: nope, command: [x]}", `t: service "nope" is not in the compose file (services: api, db)`},
		{"-bad: {service: db, command: [x]}", "-bad: a task name is letters"},
		{"t: {service: db, command: [x, {a: 1}]}", "t: command: each argument must be a string"},
		{"t: {service: db, command: [x], environment: 3}", "environment must be a mapping"},
		{"t: [x]", "x-stackpilot.tasks"},
	} {
		st := load(t, services+"x-stackpilot:\n  tasks:\n    "+c.body+"\n")
		_, err := List(st)
		if err == nil || !errors.Is(err, stackops.ErrInvalidConfig) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want ErrInvalidConfig containing %q", c.body, err, c.want)
		}
	}
}

func TestTasksIsAKnownSectionAndTyposAreNot(t *testing.T) {
	if _, err := tryLoad(t, services+"x-stackpilot:\n  taks: {}\n", nil); err == nil || !strings.Contains(err.Error(), "unknown key taks") || !strings.Contains(err.Error(), "tasks") {
		t.Fatalf("a misspelt section: %v", err)
	}
	st := load(t, services)
	if list, err := List(st); err != nil || len(list) != 0 {
		t.Fatalf("no tasks: %v %v", list, err)
	}
}

func TestFindUnknownTaskListsTheKnownOnes(t *testing.T) {
	st := load(t, services+"x-stackpilot:\n  tasks:\n    b: {host: true, command: [x]}\n    a: {host: true, command: [x]}\n")
	_, err := Find(st, "c")
	if !errors.Is(err, ErrUnknownTask) || err.Error() != `no such task: "c" (tasks: a, b)` {
		t.Fatalf("%v", err)
	}
	_, err = Find(load(t, services), "c")
	if !errors.Is(err, ErrUnknownTask) || !strings.Contains(err.Error(), "no tasks are declared") {
		t.Fatalf("%v", err)
	}
}

// hostRunner records the host task's command and answers the Compose
// version probe ContextEnv makes.
type hostRunner struct {
	mu      sync.Mutex
	task    stackops.Cmd
	code    int
	signals []os.Signal
	wait    time.Duration
}

func (r *hostRunner) Run(ctx context.Context, c stackops.Cmd) error {
	if len(c.Args) > 2 && c.Args[0] == "docker" && c.Args[1] == "compose" {
		fmt.Fprintln(c.Stdout, "2.40.0")
		return nil
	}
	r.mu.Lock()
	r.task = c
	r.mu.Unlock()
	deadline := time.After(r.wait)
	for {
		select {
		case s := <-c.Signals:
			r.mu.Lock()
			r.signals = append(r.signals, s)
			r.mu.Unlock()
		case <-deadline:
			if r.code != 0 {
				return &stackops.ExitError{Cmd: c.Args[0], Code: r.code}
			}
			return nil
		}
	}
}

func TestHostTaskArgvDirEnvAndExitCode(t *testing.T) {
	r := &hostRunner{code: 3}
	st, err := tryLoad(t, services+"x-stackpilot:\n  tasks:\n    seed: {host: true, command: [./seed.sh, a], environment: {K: v}}\n", r)
	if err != nil {
		t.Fatal(err)
	}
	p, err := Prepare(context.Background(), st, PrepareOptions{Name: "seed", Args: []string{"--", "b c"}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Run(context.Background(), RunOptions{})
	if err != nil || res.ExitCode != 3 {
		t.Fatalf("result %+v %v: want the task's exit code 3", res, err)
	}
	c := r.task
	if got := strings.Join(c.Args, "|"); got != filepath.Join(st.Dir, "seed.sh")+"|a|--|b c" {
		t.Errorf("argv %q: ./ is the project's, extra arguments appended as given", got)
	}
	env := strings.Join(c.Env, "\n")
	for _, want := range []string{"K=v", "STACKPILOT_PROJECT_DIR=" + st.Dir, "STACKPILOT_PROJECT_NAME=" + st.Name,
		"STACKPILOT_COMPOSE_FILES=" + st.ComposeFiles[0], "STACKPILOT_COMPOSE=v2", "STACKPILOT_COMPOSE_COMMAND=docker compose"} {
		if !strings.Contains(env, want+"\n") && !strings.HasSuffix(env, want) {
			t.Errorf("environment lacks %s:\n%s", want, env)
		}
	}
	if c.Dir != st.Dir || !c.OwnGroup {
		t.Errorf("dir %q new group %v: want the project directory, and its own group without a terminal", c.Dir, c.OwnGroup)
	}
}

// A host task gets the signals stackpilot received through the runner:
// in a process group of its own without a terminal (each one passed), in
// stackpilot's on a terminal (which the runner knows delivered Ctrl-C).
func TestHostTaskSignals(t *testing.T) {
	for _, tty := range []bool{false, true} {
		r := &hostRunner{wait: 300 * time.Millisecond}
		st, err := tryLoad(t, services+"x-stackpilot:\n  tasks:\n    t: {host: true, command: [x]}\n", r)
		if err != nil {
			t.Fatal(err)
		}
		p, err := Prepare(context.Background(), st, PrepareOptions{Name: "t"})
		if err != nil {
			t.Fatal(err)
		}
		sigs := make(chan os.Signal, 2)
		sigs <- syscall.SIGINT
		sigs <- syscall.SIGTERM
		if _, err := p.Run(context.Background(), RunOptions{TTY: tty, Signals: sigs}); err != nil {
			t.Fatal(err)
		}
		if len(r.signals) != 2 || r.task.OwnGroup == tty {
			t.Errorf("tty=%v: signals %v, new group %v", tty, r.signals, r.task.OwnGroup)
		}
	}
}

func TestConfirmTask(t *testing.T) {
	r := &hostRunner{}
	st, err := tryLoad(t, services+"x-stackpilot:\n  tasks:\n    wipe: {host: true, command: [x], confirm: true, description: Wipes}\n", r)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Prepare(context.Background(), st, PrepareOptions{Name: "wipe"}); !errors.Is(err, stackops.ErrConfirmationRequired) {
		t.Fatalf("no one to ask: %v, want ErrConfirmationRequired", err)
	}
	var asked stackops.Confirmation
	no := func(_ context.Context, c stackops.Confirmation) (bool, error) { asked = c; return false, nil }
	if _, err := Prepare(context.Background(), st, PrepareOptions{Name: "wipe", Confirm: no}); !errors.Is(err, stackops.ErrNotConfirmed) {
		t.Fatalf("declined: %v", err)
	}
	if asked.Prompt != "Run task wipe?" || len(asked.Details) < 2 || asked.Details[0] != "Wipes" || !strings.Contains(asked.Details[1], "runs: x") {
		t.Errorf("the question %+v does not say what runs", asked)
	}
	if _, err := Prepare(context.Background(), st, PrepareOptions{Name: "wipe", Confirm: stackops.AlwaysConfirm}); err != nil {
		t.Fatal(err)
	}
}

// On a stack loaded with its encrypted values sealed (DeferUnseal), a
// container task that uses none runs without decrypting them — no
// identity needed; a task that uses one (interpolated, or a bare
// environment key taken from them) and any host task have them decrypted
// first, and the task is read again with the plain values.
func TestPrepareDecryptsOnlyForTasksThatUseValues(t *testing.T) {
	cfg := t.TempDir()
	id, err := envcrypt.Generate(filepath.Join(cfg, "stackpilot", "identities", "me.key"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	enc, err := envcrypt.Encrypt("s3cret-value", []age.Recipient{id.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml": services + `x-stackpilot:
  tasks:
    plain: {service: api, command: ["true"]}
    uses: {service: api, command: ["echo", "${SECRET}"]}
    bare: {service: api, command: ["true"], environment: [SECRET]}
    onhost: {host: true, command: ["true"]}
`,
		".env": "COMPOSE_PROJECT_NAME=" + itest.UniqueName("sealedtasks") + "\nSECRET=" + enc + "\n",
	})
	loadWith := func(xdg string) *stackops.Stack {
		st, err := stackops.Load(context.Background(), stackops.LoadOptions{WorkDir: dir, DeferUnseal: true, Runner: &stackops.ExecRunner{},
			Environ: []string{"PATH=" + os.Getenv("PATH"), "XDG_CONFIG_HOME=" + xdg, "STACKPILOT_CACHE_DIR=" + t.TempDir()}})
		if err != nil {
			t.Fatal(err)
		}
		if !st.UnsealPending() {
			t.Fatal("the load decrypted at once")
		}
		return st
	}
	noIdentity := t.TempDir()
	for _, name := range []string{"uses", "bare", "onhost"} {
		st := loadWith(noIdentity)
		if _, err := Prepare(context.Background(), st, PrepareOptions{Name: name}); !errors.Is(err, stackops.ErrSealed) || !strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("task %s without the identity: %v", name, err)
		}
	}
	// The task that uses no value goes on to look for its container (the
	// project is not running): nothing was decrypted.
	st := loadWith(noIdentity)
	if _, err := Prepare(context.Background(), st, PrepareOptions{Name: "plain"}); errors.Is(err, stackops.ErrSealed) || !st.UnsealPending() {
		t.Fatalf("task plain without the identity: %v (pending %v)", err, st.UnsealPending())
	}
	// With the identity, a host task runs with the values in place.
	st = loadWith(cfg)
	p, err := Prepare(context.Background(), st, PrepareOptions{Name: "onhost"})
	if err != nil || st.UnsealPending() {
		t.Fatalf("host task: %v (pending %v)", err, st.UnsealPending())
	}
	uses, err := Find(p.st, "uses")
	if err != nil || strings.Join(uses.Command, " ") != "echo s3cret-value" {
		t.Fatalf("after decrypting: %q %v", uses.Command, err)
	}
	// and a container task that uses one is read again with it.
	st = loadWith(cfg)
	if _, err := Prepare(context.Background(), st, PrepareOptions{Name: "bare"}); errors.Is(err, stackops.ErrSealed) || st.UnsealPending() {
		t.Fatalf("task bare with the identity: %v (pending %v)", err, st.UnsealPending())
	}
	bare, _ := Find(st, "bare")
	if len(bare.env) != 1 || bare.env[0] != "SECRET=s3cret-value" {
		t.Fatalf("bare task's environment: %q", bare.env)
	}
}
