package stackops

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops/envcrypt"
)

// envRecorder records each command's argv and added environment.
type envRecorder struct{ cmds []Cmd }

func (r *envRecorder) Run(_ context.Context, c Cmd) error {
	r.cmds = append(r.cmds, c)
	return nil
}

// Load decrypts encrypted .env values in memory: the model is the plain
// one (a value built from a secret included), Compose commands get the
// values in their environment only, env_file services get an override of
// references, the redactor hides them, and the model cache never holds them.
func TestLoadUnsealsEncryptedValues(t *testing.T) {
	const plain = "plain-pw-$x-5e1d"
	cfg, cache := t.TempDir(), t.TempDir()
	id, err := envcrypt.Generate(filepath.Join(cfg, "stackpilot", "identities", "me.key"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	enc, err := envcrypt.Encrypt(plain, []age.Recipient{id.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml": "version: \"3.8\"\nservices:\n  api:\n    image: x\n    environment:\n      DB_PASSWORD: ${DB_PASSWORD}\n      DATABASE_URL: ${DATABASE_URL}\n  worker:\n    image: x\n    env_file: .env\n",
		".env":         envcrypt.RecipientTag + " " + id.Recipient().String() + "\nDB_PASSWORD=" + enc + "\nDATABASE_URL=postgres://u:${DB_PASSWORD}@db\n",
	})
	rec := &envRecorder{}
	environ := []string{"XDG_CONFIG_HOME=" + cfg, "STACKPILOT_CACHE_DIR=" + cache}
	// Every load after the first is the cache's; a deferred load
	// (DeferUnseal) finds the model a decrypting one cached, and is the
	// same once Unsealed has decrypted.
	for i, deferred := range []bool{false, false, true, true} {
		st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: environ, Runner: rec, DeferUnseal: deferred})
		if err != nil {
			t.Fatal(err)
		}
		if st.UnsealPending() != deferred {
			t.Fatalf("load %d: pending %v", i, st.UnsealPending())
		}
		if deferred {
			api := st.Project.Services["api"]
			v, _ := st.LookupEnv("DB_PASSWORD")
			if got := *api.Environment["DATABASE_URL"]; got != "postgres://u:"+tokenOf("DB_PASSWORD")+"@db" || v != tokenOf("DB_PASSWORD") {
				t.Fatalf("sealed model: DATABASE_URL %q, environment %q", got, v)
			}
			if !st.UsesSealed("x", "postgres://u:"+tokenOf("DB_PASSWORD")+"@db") || st.UsesSealed("x", "y") || st.DecryptedKeys() != nil {
				t.Fatal("UsesSealed or DecryptedKeys of a sealed stack")
			}
		}
		if err := st.Unsealed(); err != nil {
			t.Fatal(err)
		}
		if st.UnsealPending() || st.UsesSealed(tokenOf("DB_PASSWORD")) {
			t.Fatal("still pending after Unsealed")
		}
		api, worker := st.Project.Services["api"], st.Project.Services["worker"]
		if *api.Environment["DB_PASSWORD"] != plain || *api.Environment["DATABASE_URL"] != "postgres://u:"+plain+"@db" || *worker.Environment["DB_PASSWORD"] != plain {
			t.Fatalf("model: api %v worker %v", api.Environment, worker.Environment)
		}
		if i > 0 && !st.modelCached {
			t.Fatalf("load %d did not use the compose-model cache", i)
		}
		if v, _ := st.LookupEnv("DB_PASSWORD"); v != plain || st.Project.Environment["DB_PASSWORD"] != plain {
			t.Fatalf("environment: %q, project's %q", v, st.Project.Environment["DB_PASSWORD"])
		}
		if got := st.DecryptedKeys(); len(got) != 1 || got[0] != "DB_PASSWORD" {
			t.Fatalf("decrypted keys %v", got)
		}
		for _, v := range []*ComposeCLI{{Variant: ComposeV2, Command: []string{"docker", "compose"}}, {Variant: ComposeV1, Command: []string{"docker-compose"}}} {
			argv, err := st.ComposeArgs(v, "up", "-d")
			if err != nil {
				t.Fatal(err)
			}
			joined := strings.Join(argv, " ")
			if !strings.Contains(joined, "--file "+filepath.Join(dir, "compose.yaml")+" --file "+st.unsealOverride) || strings.Contains(joined, plain) {
				t.Fatalf("%s argv: %q", v.Variant, argv)
			}
		}
		override, err := os.ReadFile(st.unsealOverride)
		if err != nil || bytes.Contains(override, []byte(plain)) || !bytes.Contains(override, []byte(`"DB_PASSWORD": "${DB_PASSWORD}"`)) || !bytes.Contains(override, []byte("version: \"3.8\"")) {
			t.Fatalf("override %v:\n%s", err, override)
		}
		rec.cmds = nil
		st.Runner.Run(context.Background(), Cmd{Args: []string{"docker", "compose", "up"}})
		st.Runner.Run(context.Background(), Cmd{Args: []string{"./hook.sh"}, Env: []string{"A=1"}})
		if env := strings.Join(rec.cmds[0].Env, "\n"); !strings.Contains(env, "DB_PASSWORD="+plain) {
			t.Fatalf("Compose's environment lacks the value: %q", rec.cmds[0].Env)
		}
		if env := strings.Join(rec.cmds[1].Env, "\n"); strings.Contains(env, plain) {
			t.Fatalf("a hook got every secret: %q", rec.cmds[1].Env)
		}
		if got := st.Redactor().Text("pw " + plain); strings.Contains(got, plain) {
			t.Fatalf("redactor: %q", got)
		}
	}
	filepath.WalkDir(cache, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(plain)) {
				t.Errorf("the cache holds the value: %s", p)
			}
		}
		return nil
	})

	// From a subdirectory with its own .env, naming the files would make
	// Compose v2 read another .env: refused, saying why.
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", ".env"), []byte("OTHER=1\n"), 0o644)
	sub, err := Load(context.Background(), LoadOptions{WorkDir: filepath.Join(dir, "sub"), Environ: environ, Runner: rec})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sub.ComposeArgs(&ComposeCLI{Variant: ComposeV2, Command: []string{"docker", "compose"}}, "up"); !errors.Is(err, ErrUnsealLimit) || !strings.Contains(err.Error(), "sub/.env") {
		t.Fatalf("from a subdirectory with its own .env: %v", err)
	}
	os.RemoveAll(filepath.Join(dir, "sub"))

	// A secret the model parses (a port number) cannot be a token: the
	// model is built with the plain value, and not cached.
	port, _ := envcrypt.Encrypt("8089", []age.Recipient{id.Recipient()})
	pdir := itest.WriteFiles(t, map[string]string{
		"compose.yaml": "services:\n  api:\n    image: x\n    ports: [\"${PORT}:80\"]\n",
		".env":         "PORT=" + port + "\n",
	})
	// A deferred load of it decrypts at once.
	for _, deferred := range []bool{false, false, true} {
		st, err := Load(context.Background(), LoadOptions{WorkDir: pdir, Environ: environ, Runner: rec, DeferUnseal: deferred})
		if err != nil {
			t.Fatal(err)
		}
		if got := st.Project.Services["api"].Ports[0].Published; got != "8089" || st.modelCached || st.UnsealPending() {
			t.Fatalf("published port %q (cached %v, pending %v)", got, st.modelCached, st.UnsealPending())
		}
	}
	// So does one whose x-stackpilot block uses a value, but in its tasks
	// (whose use is checked task by task).
	xdir := itest.WriteFiles(t, map[string]string{
		"compose.yaml": "services:\n  api:\n    image: x\nx-stackpilot:\n  registry: ${PORT}\n",
		".env":         "PORT=" + port + "\n",
	})
	if st, err := Load(context.Background(), LoadOptions{WorkDir: xdir, Environ: environ, Runner: rec, DeferUnseal: true}); err != nil || st.UnsealPending() || !strings.Contains(string(st.Config().raw["registry"]), "8089") {
		t.Fatalf("x-stackpilot using a value, deferred: %v", err)
	}
	os.WriteFile(filepath.Join(xdir, "compose.yaml"), []byte("services:\n  api:\n    image: x\nx-stackpilot:\n  tasks:\n    t: {service: api, command: [\"echo\", \"${PORT}\"]}\n"), 0o644)
	if st, err := Load(context.Background(), LoadOptions{WorkDir: xdir, Environ: environ, Runner: rec, DeferUnseal: true}); err != nil || !st.UnsealPending() {
		t.Fatalf("a task using a value, deferred: %v", err)
	}

	// Without the identity: Load works (status needs no secret), Unsealed
	// names the key, the file and where identities are looked for.
	st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{"XDG_CONFIG_HOME=" + t.TempDir()}, Runner: rec})
	if err != nil {
		t.Fatal(err)
	}
	err = st.Unsealed()
	if !errors.Is(err, ErrSealed) || !errors.Is(err, envcrypt.ErrNoIdentity) || !strings.Contains(err.Error(), "DB_PASSWORD in "+filepath.Join(dir, ".env")) || !strings.Contains(err.Error(), "identities") {
		t.Fatalf("without the identity: %v", err)
	}
	if _, err := st.Deploy(context.Background(), DeployOptions{}); !errors.Is(err, ErrSealed) {
		t.Fatalf("deploy without the identity: %v", err)
	}
	// Deferred, the same error comes from Unsealed, and stops a deploy.
	for _, call := range []func(*Stack) error{
		func(st *Stack) error { return st.Unsealed() },
		func(st *Stack) error { _, err := st.Deploy(context.Background(), DeployOptions{}); return err },
	} {
		st, err = Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{"XDG_CONFIG_HOME=" + t.TempDir()}, Runner: rec, DeferUnseal: true})
		if err != nil || !st.UnsealPending() {
			t.Fatalf("deferred load without the identity: %v", err)
		}
		if err := call(st); !errors.Is(err, ErrSealed) || !errors.Is(err, envcrypt.ErrNoIdentity) || !strings.Contains(err.Error(), "DB_PASSWORD in "+filepath.Join(dir, ".env")) {
			t.Fatalf("deferred, without the identity: %v", err)
		}
	}
}
