package env

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops"
)

// loadFrom loads the project found from workDir (lenient, as the env
// commands do) with env as the whole environment.
func loadFrom(t *testing.T, workDir string, opts stackops.LoadOptions, env ...string) *stackops.Stack {
	t.Helper()
	opts.WorkDir, opts.Environ, opts.Lenient = workDir, append([]string{"PATH=/usr/bin:/bin"}, env...), true
	st, err := stackops.Load(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// From a subdirectory with its own .env, Compose reads it first and the
// project's .env second, and the first wins: env list shows both files'
// keys with the one Compose uses marked, get answers Compose's value,
// set writes the winning file, unset says when another file still sets it.
func TestEnvSeveralFilesNested(t *testing.T) {
	ctx := context.Background()
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml": "services:\n  echo:\n    image: x\n    command: echo $ROOT $SUB win=$WIN\n",
		".env":         "ROOT=root\nWIN=root\nREF=${SUB}\n",
		"sub/.env":     "SUB=sub\nWIN=sub\n",
	})
	sub := filepath.Join(dir, "sub")
	st := loadFrom(t, sub, stackops.LoadOptions{})
	list, err := List(ctx, st, ListOptions{Reveal: true})
	if err != nil {
		t.Fatal(err)
	}
	if list.Path != filepath.Join(sub, ".env") || strings.Join(list.Files, ",") != filepath.Join(sub, ".env")+","+filepath.Join(dir, ".env") {
		t.Fatalf("path %s files %v", list.Path, list.Files)
	}
	got := map[string]ListEntry{}
	for _, e := range list.Entries {
		got[e.File+":"+e.Key] = e
	}
	if e := got[filepath.Join(dir, ".env")+":WIN"]; e.Value != "root" || e.OverriddenBy != filepath.Join(sub, ".env") {
		t.Errorf("the project's WIN: %+v", e)
	}
	if e := got[filepath.Join(sub, ".env")+":WIN"]; e.Value != "sub" || e.OverriddenBy != "" {
		t.Errorf("sub's WIN: %+v", e)
	}
	// the second file's values see the first's (compose-go reads it with them)
	if e := got[filepath.Join(dir, ".env")+":REF"]; e.Value != "sub" {
		t.Errorf("REF: %+v", e)
	}
	for key, want := range map[string]string{"WIN": "sub", "ROOT": "root", "SUB": "sub"} {
		g, err := Get(ctx, st, GetOptions{Key: key})
		if err != nil || g.Value != want {
			t.Errorf("get %s: %+v %v", key, g, err)
		}
	}
	if _, err := Set(ctx, st, SetOptions{Values: []Assignment{{"ROOT", "mine"}}}); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(sub, ".env")); !strings.Contains(string(b), "ROOT=mine") {
		t.Fatalf("set did not write the winning file: %q", b)
	}
	if g, _ := Get(ctx, st, GetOptions{Key: "ROOT"}); g == nil || g.Value != "mine" {
		t.Fatalf("after set: %+v", g)
	}
	res, err := Unset(ctx, st, UnsetOptions{Keys: []string{"ROOT"}})
	if err != nil || !res.Changed || len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], filepath.Join(dir, ".env")) {
		t.Fatalf("unset of a key the other file sets: %+v %v", res, err)
	}
	// check counts keys from either file
	chk, err := Check(ctx, st, CheckOptions{})
	if err != nil || !chk.OK || len(chk.Missing) != 0 {
		t.Fatalf("check: %+v %v", chk, err)
	}
}

// --env-file files, and COMPOSE_ENV_FILES: the last wins and is edited.
func TestEnvSeveralExplicitFiles(t *testing.T) {
	ctx := context.Background()
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml": "services:\n  a:\n    image: \"x:${TAG}\"\n",
		".env":         "TAG=dotenv\n",
		"one.env":      "TAG=one\nONLY=1\n",
		"two.env":      "TAG=two\n",
	})
	for _, st := range []*stackops.Stack{
		loadFrom(t, dir, stackops.LoadOptions{EnvFiles: []string{"one.env", "two.env"}}),
		loadFrom(t, dir, stackops.LoadOptions{}, "COMPOSE_ENV_FILES=one.env,two.env"),
	} {
		g, err := Get(ctx, st, GetOptions{Key: "TAG"})
		if err != nil || g.Value != "two" || g.File != filepath.Join(dir, "two.env") {
			t.Fatalf("get TAG: %+v %v", g, err)
		}
		list, err := List(ctx, st, ListOptions{})
		if err != nil || list.Path != filepath.Join(dir, "two.env") || len(list.Files) != 2 {
			t.Fatalf("list: %+v %v", list, err)
		}
		for _, e := range list.Entries {
			if e.Key == "TAG" && e.File == filepath.Join(dir, "one.env") && e.OverriddenBy != filepath.Join(dir, "two.env") {
				t.Fatalf("one.env's TAG: %+v", e)
			}
		}
	}
}

// COMPOSE_DISABLE_ENV_FILE: Compose reads no .env, so check finds the
// required keys missing, list shows none, and edits are refused.
func TestEnvDisabledDotEnv(t *testing.T) {
	ctx := context.Background()
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml": "services:\n  a:\n    image: \"x:${TAG}\"\n",
		".env":         "TAG=dotenv\n",
	})
	st := loadFrom(t, dir, stackops.LoadOptions{}, "COMPOSE_DISABLE_ENV_FILE=true")
	chk, err := Check(ctx, st, CheckOptions{})
	if err != nil || chk.OK || len(chk.Missing) != 1 || chk.Missing[0].Key != "TAG" || chk.Note == "" {
		t.Fatalf("check: %+v %v", chk, err)
	}
	list, err := List(ctx, st, ListOptions{})
	if err != nil || len(list.Entries) != 0 || list.Path != "" {
		t.Fatalf("list: %+v %v", list, err)
	}
	if _, err := Set(ctx, st, SetOptions{Values: []Assignment{{"TAG", "x"}}}); !errors.Is(err, ErrNoEnvFile) {
		t.Fatalf("set: %v", err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ".env")); string(b) != "TAG=dotenv\n" {
		t.Fatalf(".env changed: %q", b)
	}
}
