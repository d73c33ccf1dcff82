package wizard_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// cryptCompose reaches an encrypted value both ways: interpolated
// (${DB_PASSWORD}, and DATABASE_URL built from it in .env) and through
// env_file: .env, which Compose reads itself; a task interpolates it too.
const cryptCompose = `services:
  interp:
    image: stackpilot-busybox:latest
    {{idle}}
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
      DATABASE_URL: ${DATABASE_URL}
  file:
    image: stackpilot-busybox:latest
    {{idle}}
    env_file: .env
    volumes: ["data:/srv"]
volumes:
  data:
x-stackpilot:
  deploy:
    settle: 1s
  tasks:
    check:
      service: interp
      command: ["sh", "-c", "test \"$$DB_PASSWORD\" = \"$$EXPECT\""]
      environment: {EXPECT: "${DB_PASSWORD}"}
`

// containerEnv is a container's environment as the engine reports it.
func containerEnv(t *testing.T, id string) []string {
	t.Helper()
	out, err := exec.Command("docker", "inspect", "--format", "{{range .Config.Env}}{{println .}}{{end}}", id).Output()
	if err != nil {
		t.Fatalf("inspect %s: %v", id, err)
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}

func hasEnv(env []string, kv string) bool {
	for _, e := range env {
		if e == kv {
			return true
		}
	}
	return false
}

// cmdlineSampler reads every process's /proc/PID/cmdline until stopped,
// reporting any that holds needle.
type cmdlineSampler struct {
	stop    chan struct{}
	done    sync.WaitGroup
	hits    atomic.Value // string
	samples atomic.Int64
}

func sampleCmdlines(needle string) *cmdlineSampler {
	s := &cmdlineSampler{stop: make(chan struct{})}
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			ents, _ := os.ReadDir("/proc")
			for _, e := range ents {
				if e.Name()[0] < '0' || e.Name()[0] > '9' {
					continue
				}
				b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
				if err == nil && bytes.Contains(b, []byte(needle)) {
					s.hits.Store(strings.ReplaceAll(string(b), "\x00", " "))
				}
			}
			s.samples.Add(1)
		}
	}()
	return s
}

func (s *cmdlineSampler) finish(t *testing.T) {
	t.Helper()
	close(s.stop)
	s.done.Wait()
	if h, _ := s.hits.Load().(string); h != "" {
		t.Fatalf("a process's argv held the secret: %s", h)
	}
	if s.samples.Load() < 5 {
		t.Fatalf("only %d /proc samples were taken during the deploy", s.samples.Load())
	}
}

// filesHolding lists the files under root whose content holds needle.
func filesHolding(root, needle string) []string {
	var out []string
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if fi, err := d.Info(); err != nil || fi.Size() > 8<<20 {
			return nil
		}
		if b, err := os.ReadFile(p); err == nil && bytes.Contains(b, []byte(needle)) {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// An encrypted .env value reaches the containers in plain text — through
// ${VAR} interpolation and through env_file — on deploy, restart and a
// task, while .env holds only ciphertext; the secret never shows in
// stdout, stderr, -v output, any file under the project or /tmp, nor any
// process's argv sampled during the deploy. Without the identity, deploy
// stops before touching a container and names the key and where
// identities are looked for.
func TestIntegrationEncryptedEnvReachesContainers(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project, identities and canary
	// made at run time: a constant would be in the test's own build files under /tmp
	canary := itest.UniqueName("canary-sealed")
	p := itest.NewProject(t, cryptCompose, map[string]string{".env": "DATABASE_URL=postgres://app:${DB_PASSWORD}@db/app\nLOG_LEVEL=info"})
	cfg := t.TempDir()
	p.Env = append(p.Env, "XDG_CONFIG_HOME="+cfg)
	noCanary := func(what string, r itest.Result) {
		t.Helper()
		if strings.Contains(r.Stdout, canary) || strings.Contains(r.Stderr, canary) {
			t.Fatalf("%s printed the secret:\n%s", what, r.Combined())
		}
	}
	r := p.Run("env", "keygen")
	if r.Code != 0 {
		t.Fatalf("keygen: %s", r.Combined())
	}
	r = itest.RunInput(t, p.Dir, p.Env, []byte(canary+"\n"), "env", "set", "--encrypt", "DB_PASSWORD", "--value-stdin")
	if r.Code != 0 {
		t.Fatalf("set --encrypt: %s", r.Combined())
	}
	noCanary("env set", r)
	dotenv, _ := os.ReadFile(filepath.Join(p.Dir, ".env"))
	if strings.Contains(string(dotenv), canary) || !strings.Contains(string(dotenv), "DB_PASSWORD='ENC[age:") {
		t.Fatalf(".env:\n%s", dotenv)
	}

	sampler := sampleCmdlines(canary)
	r = p.Run("-v", "deploy")
	sampler.finish(t)
	if r.Code != 0 {
		t.Fatalf("deploy: %s", r.Combined())
	}
	noCanary("deploy -v", r)
	interp, file := p.ContainerID("interp"), p.ContainerID("file")
	ie := containerEnv(t, interp)
	if !hasEnv(ie, "DB_PASSWORD="+canary) || !hasEnv(ie, "DATABASE_URL=postgres://app:"+canary+"@db/app") {
		t.Fatalf("interpolated environment: %q", ie)
	}
	fe := containerEnv(t, file)
	if !hasEnv(fe, "DB_PASSWORD="+canary) || !hasEnv(fe, "LOG_LEVEL=info") {
		t.Fatalf("env_file environment: %q", fe)
	}
	if files := append(filesHolding(p.Dir, canary), filesHolding(os.TempDir(), canary)...); len(files) > 0 {
		t.Fatalf("files holding the secret: %v", files)
	}

	// An unchanged stack is left alone: the hash Compose computes with the
	// plain values (and the override) is the one it labelled the containers with.
	r = p.Run("deploy")
	if r.Code != 0 || p.ContainerID("interp") != interp || p.ContainerID("file") != file {
		t.Fatalf("second deploy recreated containers (or failed): %s", r.Combined())
	}
	noCanary("second deploy", r)
	r = p.Run("run", "check")
	if r.Code != 0 {
		t.Fatalf("task saw another value: %s", r.Combined())
	}
	noCanary("run", r)
	r = p.Run("restart", "file")
	if r.Code != 0 {
		t.Fatalf("restart: %s", r.Combined())
	}
	noCanary("restart", r)
	if fe := containerEnv(t, p.ContainerID("file")); !hasEnv(fe, "DB_PASSWORD="+canary) {
		t.Fatalf("after restart: %q", fe)
	}

	if r = p.Run("doctor"); r.Code != 0 || !strings.Contains(r.Stdout+r.Stderr, "1 decrypted with your identities: DB_PASSWORD") {
		t.Fatalf("doctor: %s", r.Combined())
	}
	noCanary("doctor", r)

	// A backup encrypted to the recipients of .env, verified with the
	// same identities (no --identity).
	r = p.Run("backup", "create", "--encrypt-to", ".env")
	if r.Code != 0 || !strings.HasSuffix(strings.TrimSpace(r.Stdout), ".age") {
		t.Fatalf("backup create --encrypt-to .env: %s", r.Combined())
	}
	if r = p.Run("backup", "verify", "--latest"); r.Code != 0 {
		t.Fatalf("backup verify with the .env identities: %s", r.Combined())
	}

	// Without the identity: a clear error, nothing touched.
	ids := filepath.Join(cfg, "stackpilot", "identities")
	if err := os.Rename(ids, ids+".away"); err != nil {
		t.Fatal(err)
	}
	if r = p.Run("backup", "verify", "--latest"); r.Code == 0 || !strings.Contains(r.Stderr, "--identity") {
		t.Fatalf("backup verify without an identity: %s", r.Combined())
	}
	before, _ := os.ReadFile(filepath.Join(p.Dir, ".env"))
	for _, args := range [][]string{{"deploy", "--force-recreate"}, {"restart"}, {"run", "check"}} {
		r = p.Run(args...)
		if r.Code == 0 || !strings.Contains(r.Stderr, "DB_PASSWORD") || !strings.Contains(r.Stderr, ids) {
			t.Fatalf("%v without the identity: %d %s", args, r.Code, r.Combined())
		}
		noCanary(args[0]+" without the identity", r)
	}
	if p.ContainerID("interp") != interp {
		t.Fatal("a deploy without the identity replaced a container")
	}
	if after, _ := os.ReadFile(filepath.Join(p.Dir, ".env")); !bytes.Equal(before, after) {
		t.Fatal(".env changed")
	}
	if r = p.Run("doctor"); r.Code != 1 || !strings.Contains(r.Combined(), "cannot decrypt DB_PASSWORD") {
		t.Fatalf("doctor without the identity: %d %s", r.Code, r.Combined())
	}
	// status needs no secret
	if r = p.Run("status"); r.Code != 0 {
		t.Fatalf("status without the identity: %s", r.Combined())
	}
	os.Rename(ids+".away", ids)
}

// The menu's redeploy after an encrypted value changed: the value is typed
// hidden in the Environment job, stays encrypted in .env, and the services
// that use it — interpolated and through env_file — are redeployed with the
// new plain value; it never reaches the screen.
func TestIntegrationEncryptedEnvMenuRedeploy(t *testing.T) {
	itest.Require(t)
	t.Parallel() // its own project
	oldValue, newValue := itest.UniqueName("canary-old"), itest.UniqueName("canary-new")
	p := itest.NewProject(t, `
services:
  app:
    image: stackpilot-busybox:latest
    {{idle}}
    environment:
      DB_PASSWORD: ${DB_PASSWORD}
  file:
    image: stackpilot-busybox:latest
    {{idle}}
    env_file: .env
x-stackpilot:
  deploy:
    settle: 1s
`, nil)
	cfg := t.TempDir()
	p.Env = append(p.Env, "XDG_CONFIG_HOME="+cfg)
	if r := p.Run("env", "keygen"); r.Code != 0 {
		t.Fatalf("keygen: %s", r.Combined())
	}
	if r := itest.RunInput(t, p.Dir, p.Env, []byte(oldValue), "env", "set", "--encrypt", "DB_PASSWORD", "--value-stdin"); r.Code != 0 {
		t.Fatalf("set --encrypt: %s", r.Combined())
	}
	if r := p.Run("deploy"); r.Code != 0 {
		t.Fatalf("first deploy: %s", r.Combined())
	}
	if !hasEnv(containerEnv(t, p.ContainerID("file")), "DB_PASSWORD="+oldValue) {
		t.Fatal("the first deploy did not deliver the value through env_file")
	}

	term := itest.StartTerminal(t, p.Dir, p.Env)
	term.Expect("What do you want to do?")
	term.Send("Environment", itest.KeyEnter)
	term.Expect("Pick a key to change")
	term.Send("DB_PASSWORD", itest.KeyEnter)
	term.Expect("Change the value (stays encrypted)")
	term.Send(itest.KeyEnter)
	term.Expect("New value for DB_PASSWORD (hidden)")
	answerCursorQuery(term)
	term.SendLine(newValue)
	term.Expect("Type it again to confirm")
	answerCursorQuery(term)
	term.SendLine(newValue)
	term.Expect("Write this change?")
	answerConfirm(term, itest.KeyEnter)
	term.Expect("Redeploy app, file now")
	answerConfirm(term, itest.KeyEnter)
	term.Expect("Deploy now?")
	answerConfirm(term, itest.KeyEnter)
	expectWithin(t, term, "Deployed", 2*time.Minute)
	term.Expect("What do you want to do?")
	term.Send("Quit", itest.KeyEnter)
	if code := term.Wait(20 * time.Second); code != 0 {
		t.Fatalf("Quit: exit %d\n%s", code, term.Screen())
	}
	for _, svc := range []string{"app", "file"} {
		if env := containerEnv(t, p.ContainerID(svc)); !hasEnv(env, "DB_PASSWORD="+newValue) {
			t.Errorf("%s after the menu's redeploy: %q", svc, env)
		}
	}
	dotenv, _ := os.ReadFile(filepath.Join(p.Dir, ".env"))
	if strings.Contains(string(dotenv), newValue) || strings.Contains(term.Raw(), newValue) || strings.Contains(term.Raw(), oldValue) {
		t.Fatalf("a plain value reached .env or the screen:\n%s", term.Screen())
	}
}
