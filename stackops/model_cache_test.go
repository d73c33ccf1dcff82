package stackops

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// The compose-model cache is used for the same input, and every kind of
// input it keys on, changed in turn, gives the changed model (never the
// cached one), then is cached again.
func TestModelCacheSeesEveryInput(t *testing.T) {
	t.Setenv("STACKPILOT_CACHE_DIR", t.TempDir())
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml": `include:
  - path: inc/included.yaml
    env_file: inc/inc.env
services:
  api:
    image: "api:${TAG}"
    environment: [BARE]
    env_file: svc.env
    label_file: labels.env
    build:
      context: .
      args: [ARG]
  child:
    extends: {file: base.yaml, service: base}
  extra:
    image: extra
    profiles: [extra]
`,
		"inc/included.yaml": "services:\n  inc:\n    image: \"inc:${INC_TAG}\"\n",
		"inc/inc.env":       "INC_TAG=one\n",
		"base.yaml":         "services:\n  base:\n    image: base\n    command: [one]\n",
		"labels.env":        "tier=one\n",
		"svc.env":           "FROM_FILE=one\n",
		".env":              "TAG=one\n",
		"other.env":         "TAG=other\n",
	})
	environ := []string{"BARE=one", "ARG=one", "PATH=/bin"}
	var opts LoadOptions
	load := func() *Stack {
		t.Helper()
		o := opts
		o.WorkDir, o.Environ = dir, environ
		st, err := Load(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	uncached := func() *Stack {
		t.Helper()
		o := opts
		o.WorkDir, o.Environ = dir, append(append([]string{}, environ...), ModelCacheEnvVar+"=off")
		st, err := Load(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	// same compares a cached load with an uncached one of the same input.
	same := func(what string, cached *Stack) {
		t.Helper()
		fresh := uncached()
		a, b := *cached.Project, *fresh.Project
		delete(a.Environment, ModelCacheEnvVar)
		delete(b.Environment, ModelCacheEnvVar)
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("%s: the cached model differs from a fresh load", what)
		}
	}
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	svc := func(st *Stack, name string) types.ServiceConfig { return st.Project.Services[name] }

	if st := load(); st.modelCached {
		t.Fatal("first load came from the cache")
	}
	st := load()
	if !st.modelCached {
		t.Fatal("second load of the same input did not use the cache")
	}
	same("unchanged input", st)
	if got := *svc(st, "api").Environment["FROM_FILE"]; got != "one" {
		t.Fatalf("env_file read: %q", got)
	}

	for _, c := range []struct {
		kind   string
		change func()
		check  func(*Stack) bool
	}{
		{"compose file", func() {
			b, _ := os.ReadFile(filepath.Join(dir, "compose.yaml"))
			write("compose.yaml", strings.Replace(string(b), "image: extra", "image: extra2", 1))
		}, func(st *Stack) bool { return st.Project.DisabledServices["extra"].Image == "extra2" }},
		{"included file", func() { write("inc/included.yaml", "services:\n  inc:\n    image: \"inc2:${INC_TAG}\"\n") },
			func(st *Stack) bool { return svc(st, "inc").Image == "inc2:one" }},
		{"include's env file", func() { write("inc/inc.env", "INC_TAG=two\n") },
			func(st *Stack) bool { return svc(st, "inc").Image == "inc2:two" }},
		{"extended file", func() { write("base.yaml", "services:\n  base:\n    image: base\n    command: [two]\n") },
			func(st *Stack) bool { return strings.Join(svc(st, "child").Command, " ") == "two" }},
		{"label_file", func() { write("labels.env", "tier=two\n") },
			func(st *Stack) bool { return svc(st, "api").Labels["tier"] == "two" }},
		{".env", func() { write(".env", "TAG=two\n") },
			func(st *Stack) bool { return svc(st, "api").Image == "api:two" }},
		{"--env-file", func() { opts.EnvFiles = []string{"other.env"} },
			func(st *Stack) bool { return svc(st, "api").Image == "api:other" }},
		{"--env-file's content", func() { write("other.env", "TAG=other2\n") },
			func(st *Stack) bool { return svc(st, "api").Image == "api:other2" }},
		{"an interpolated variable from the environment", func() { environ = append(environ, "TAG=env") },
			func(st *Stack) bool { return svc(st, "api").Image == "api:env" }},
		{"a bare environment entry's variable", func() { environ = append(environ, "BARE=two") },
			func(st *Stack) bool { return *svc(st, "api").Environment["BARE"] == "two" }},
		{"a bare build arg's variable", func() { environ = append(environ, "ARG=two") },
			func(st *Stack) bool { return *svc(st, "api").Build.Args["ARG"] == "two" }},
		{"COMPOSE_PROFILES", func() { environ = append(environ, "COMPOSE_PROFILES=extra") },
			func(st *Stack) bool { _, ok := st.Project.Services["extra"]; return ok }},
		{"--profile", func() { opts.Profiles = []string{"other"} },
			func(st *Stack) bool { _, ok := st.Project.Services["extra"]; return !ok }},
		{"COMPOSE_PROJECT_NAME", func() { environ = append(environ, "COMPOSE_PROJECT_NAME=renamed") },
			func(st *Stack) bool { return st.Name == "renamed" }},
	} {
		c.change()
		st := load()
		if st.modelCached {
			t.Fatalf("%s changed: the model came from the cache", c.kind)
		}
		if !c.check(st) {
			t.Fatalf("%s changed: the model does not show it", c.kind)
		}
		st = load()
		if !st.modelCached || !c.check(st) {
			t.Fatalf("%s: the changed input is not cached (cached %v)", c.kind, st.modelCached)
		}
		same(c.kind, st)
	}

	// A service's env_file is read on every load, cached model or not.
	write("svc.env", "FROM_FILE=two\n")
	if st := load(); !st.modelCached || *svc(st, "api").Environment["FROM_FILE"] != "two" {
		t.Fatalf("service env_file: cached %v, value %q", st.modelCached, *svc(st, "api").Environment["FROM_FILE"])
	}
}

// A corrupt entry is ignored and rebuilt; an entry is never trusted for
// another key; another compose-go (or stackpilot build) means another key.
func TestModelCacheCorruptAndForeignEntries(t *testing.T) {
	cache := t.TempDir()
	t.Setenv("STACKPILOT_CACHE_DIR", cache)
	a := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  a:\n    image: a\n"})
	b := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  b:\n    image: b\n"})
	load := func(dir string) *Stack {
		t.Helper()
		st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{}})
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	load(a)
	load(b)
	entries, _ := filepath.Glob(filepath.Join(cache, "models", "*"))
	if len(entries) != 2 {
		t.Fatalf("entries %v", entries)
	}
	entryOf := func(dir string) string {
		for _, e := range entries {
			data, _ := os.ReadFile(e)
			if strings.Contains(string(data), filepath.Join(dir, "compose.yaml")) {
				return e
			}
		}
		t.Fatalf("no entry for %s", dir)
		return ""
	}
	ea, eb := entryOf(a), entryOf(b)
	// b's entry under a's key: refused (the key inside differs), a is loaded.
	data, _ := os.ReadFile(eb)
	if err := os.WriteFile(ea, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if st := load(a); st.modelCached || strings.Join(st.ServiceNames(), ",") != "a" {
		t.Fatalf("a foreign entry was trusted: cached %v services %v", st.modelCached, st.ServiceNames())
	}
	if st := load(a); !st.modelCached {
		t.Fatal("the foreign entry was not replaced")
	}
	// Corrupt entries (truncated, garbage) are ignored and rebuilt.
	for _, bad := range [][]byte{data[:len(data)/2], []byte(modelCacheFormat + "\n\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), []byte("garbage")} {
		if err := os.WriteFile(ea, bad, 0o600); err != nil {
			t.Fatal(err)
		}
		if st := load(a); st.modelCached || strings.Join(st.ServiceNames(), ",") != "a" {
			t.Fatalf("a corrupt entry was used: cached %v", st.modelCached)
		}
		if st := load(a); !st.modelCached {
			t.Fatal("the corrupt entry was not rebuilt")
		}
	}
	// Another compose-go: another key, the entry is not used.
	old := composeGoVersion
	t.Cleanup(func() { composeGoVersion = old })
	composeGoVersion = func() string { return "v9.9.9 h1:other" }
	if st := load(a); st.modelCached {
		t.Fatal("an entry made with another compose-go was used")
	}
	if fi, err := os.Stat(filepath.Join(cache, "models")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("cache directory mode: %v %v", fi.Mode(), err)
	}
	if fi, err := os.Stat(ea); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("entry mode: %v %v", fi.Mode(), err)
	}
}
