package env

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/envfile"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under envfile/testdata/env")

// goldenDir holds the .env editor's test files and goldens: the document
// is package envfile's, this test runs it through the whole edit.
var goldenDir = filepath.Join("..", "envfile", "testdata", "env")

const envTestCompose = `services:
  api:
    image: stackpilot-busybox:latest
    environment:
      DB_HOST: ${DB_HOST}
      DB_PASSWORD: ${DB_PASSWORD:?set DB_PASSWORD}
      LOG_LEVEL: ${LOG_LEVEL:-info}
      PASSTHROUGH:
  db:
    image: stackpilot-busybox:latest
    environment:
      POSTGRES_PASSWORD: ${DB_PASSWORD}
    secrets: [db_root]
  web:
    image: stackpilot-busybox:latest
    command: ["sh", "-c", "echo $${NOT_A_REF}"]
secrets:
  db_root:
    environment: ROOT_PW
`

// newEnvProject makes a project directory with the given files and loads it
// with a fixed, minimal environment.
func newEnvProject(t *testing.T, files map[string]string, environ ...string) (*stackops.Stack, string) {
	t.Helper()
	dir := t.TempDir()
	if _, ok := files["compose.yaml"]; !ok {
		files["compose.yaml"] = envTestCompose
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	st := loadEnvProject(t, dir, environ...)
	return st, dir
}

func loadEnvProject(t *testing.T, dir string, environ ...string) *stackops.Stack {
	t.Helper()
	env := append([]string{"PATH=/usr/bin:/bin"}, environ...)
	st, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, WorkDir: dir, Environ: env, Lenient: true})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestEnvGolden runs set/unset on hand-edited files and compares the result
// byte for byte with golden files; independently of the goldens, it checks
// that the lines that differ are exactly the touched keys' lines.
func TestEnvGolden(t *testing.T) {
	type op struct {
		set   []Assignment
		unset []string
	}
	cases := []struct {
		name, input string
		op          op
	}{
		{"set-inline-comment", "messy.env", op{set: []Assignment{{"APP_NAME", "market"}}}},
		{"set-indented", "messy.env", op{set: []Assignment{{"INDENTED_PORT", "9090"}}}},
		{"set-export", "messy.env", op{set: []Assignment{{"DB_HOST", "db.internal"}}}},
		{"set-yaml-style", "messy.env", op{set: []Assignment{{"DB_USER", "admin user"}}}},
		{"set-secret", "messy.env", op{set: []Assignment{{"DB_PASSWORD", `new "pw" with $dollar`}}}},
		{"set-single-quoted", "messy.env", op{set: []Assignment{{"API_TOKEN", "it's #2"}}}},
		{"set-multiline", "messy.env", op{set: []Assignment{{"MULTILINE", "one\nline\\n"}}}},
		{"set-duplicate", "messy.env", op{set: []Assignment{{"LOG_LEVEL", "warn"}}}},
		{"set-new", "messy.env", op{set: []Assignment{{"NEW_SETTING", "hello world"}}}},
		{"set-many", "messy.env", op{set: []Assignment{{"LEADING_ZERO", "0090"}, {"GREETING", "hi"}, {"ADDED", "x"}}}},
		{"unset-middle", "messy.env", op{unset: []string{"OLD_FLAG"}}},
		{"unset-multiline", "messy.env", op{unset: []string{"MULTILINE"}}},
		{"unset-duplicate", "messy.env", op{unset: []string{"LOG_LEVEL"}}},
		{"unset-last", "messy.env", op{unset: []string{"LAST"}}},
		{"crlf-set", "crlf.env", op{set: []Assignment{{"DB_HOST", "db.internal"}}}},
		{"crlf-set-new", "crlf.env", op{set: []Assignment{{"NEW_SETTING", "v"}}}},
		{"crlf-set-secret", "crlf.env", op{set: []Assignment{{"SECRET_KEY", "x y"}}}},
		{"crlf-unset", "crlf.env", op{unset: []string{"OLD_FLAG"}}},
	}
	ctx := context.Background()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			input := readFile(t, filepath.Join(goldenDir, c.input))
			st, dir := newEnvProject(t, map[string]string{".env": input})
			var res *ChangeResult
			var err error
			if c.op.set != nil {
				res, err = Set(ctx, st, SetOptions{Values: c.op.set})
			} else {
				res, err = Unset(ctx, st, UnsetOptions{Keys: c.op.unset})
			}
			if err != nil {
				t.Fatal(err)
			}
			got := readFile(t, filepath.Join(dir, ".env"))
			var diff strings.Builder
			for _, d := range res.Diff {
				fmt.Fprintf(&diff, "%s %d %s\n", d.Op, d.Line, d.Text)
			}
			compareGolden(t, filepath.Join(goldenDir, c.name+".golden"), got)
			compareGolden(t, filepath.Join(goldenDir, c.name+".diff.golden"), diff.String())

			var keys []string
			for _, a := range c.op.set {
				keys = append(keys, a.Key)
			}
			keys = append(keys, c.op.unset...)
			assertOnlyKeyLinesChanged(t, input, got, keys)
			if strings.Contains(diff.String(), "s3cr3t") || strings.Contains(diff.String(), "abc\r") {
				t.Errorf("the diff shows a secret:\n%s", diff.String())
			}
		})
	}
}

func compareGolden(t *testing.T, path, got string) {
	t.Helper()
	if *updateGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./stackops/env -run TestEnvGolden -update to create it)", err)
	}
	if string(want) != got {
		t.Errorf("%s differs:\n got %q\nwant %q", path, got, want)
	}
}

// assertOnlyKeyLinesChanged diffs two files line by line (common prefix and
// suffix per key) and fails if a changed line does not belong to one of keys.
func assertOnlyKeyLinesChanged(t *testing.T, before, after string, keys []string) {
	t.Helper()
	a := strings.SplitAfter(before, "\n")
	b := strings.SplitAfter(after, "\n")
	inA := map[string]int{}
	for _, l := range a {
		inA[strings.TrimRight(l, "\r\n")]++
	}
	inB := map[string]int{}
	for _, l := range b {
		inB[strings.TrimRight(l, "\r\n")]++
	}
	owned := func(line string) bool {
		for _, k := range keys {
			if strings.Contains(line, k) {
				return true
			}
		}
		// the continuation line of MULTILINE belongs to it
		return line == `second"`
	}
	for l, n := range inA {
		if inB[l] < n && !owned(l) {
			t.Errorf("line %q was changed or removed but belongs to no edited key", l)
		}
	}
	for l, n := range inB {
		if inA[l] < n && !owned(l) {
			t.Errorf("line %q was added but belongs to no edited key", l)
		}
	}
	// line endings and the missing final newline are kept
	if strings.HasSuffix(before, "\n") != strings.HasSuffix(after, "\n") {
		t.Errorf("the final newline changed: before %q…, after %q…", tail(before), tail(after))
	}
	if strings.Contains(before, "\r\n") && strings.Count(after, "\n") != strings.Count(after, "\r\n") {
		t.Errorf("a CRLF file gained a bare LF: %q", after)
	}
}

func tail(s string) string {
	if len(s) > 12 {
		return s[len(s)-12:]
	}
	return s
}

func TestEnvSetCreatesPrivateFile(t *testing.T) {
	st, dir := newEnvProject(t, map[string]string{})
	res, err := Set(context.Background(), st, SetOptions{Values: []Assignment{{"A", "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Created || res.Revision != "absent" {
		t.Errorf("result: %+v", res)
	}
	fi, err := os.Stat(filepath.Join(dir, ".env"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("new .env mode %v, want 0600", fi.Mode().Perm())
	}
	if got := readFile(t, filepath.Join(dir, ".env")); got != "A=1\n" {
		t.Errorf("content %q", got)
	}
	state, _ := os.Stat(filepath.Join(dir, ".stackpilot"))
	if state.Mode().Perm() != 0o700 {
		t.Errorf(".stackpilot mode %v", state.Mode().Perm())
	}
	vs, _ := Versions(context.Background(), st)
	if len(vs) != 1 || !vs[0].Absent {
		t.Fatalf("versions %+v", vs)
	}
	vfi, _ := os.Stat(vs[0].File)
	if vfi.Mode().Perm() != 0o600 {
		t.Errorf("version file mode %v", vfi.Mode().Perm())
	}
}

func TestEnvSetKeepsModeOwnerAndSymlink(t *testing.T) {
	st, dir := newEnvProject(t, map[string]string{})
	real := filepath.Join(dir, "config", "real.env")
	os.MkdirAll(filepath.Dir(real), 0o755)
	os.WriteFile(real, []byte("A=1\n"), 0o640)
	if err := os.Symlink(filepath.Join("config", "real.env"), filepath.Join(dir, ".env")); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		if err := os.Chown(real, 1234, 5678); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Set(context.Background(), st, SetOptions{Values: []Assignment{{"B", "2"}}}); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(filepath.Join(dir, ".env")); err != nil || fi.Mode()&os.ModeSymlink == 0 {
		t.Fatalf(".env is no longer a symlink: %v", err)
	}
	if got := readFile(t, real); got != "A=1\nB=2\n" {
		t.Errorf("target content %q", got)
	}
	fi, _ := os.Stat(real)
	if fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if os.Geteuid() == 0 {
		sys := fi.Sys().(*syscall.Stat_t)
		if sys.Uid != 1234 || sys.Gid != 5678 {
			t.Errorf("owner %d:%d, want 1234:5678", sys.Uid, sys.Gid)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "config", ".*.tmp")); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
}

func TestEnvUndoWalksBackAndKeepsTen(t *testing.T) {
	ctx := context.Background()
	st, dir := newEnvProject(t, map[string]string{})
	path := filepath.Join(dir, ".env")
	var contents []string // content before each write
	for i := 0; i < 13; i++ {
		b, _ := os.ReadFile(path)
		contents = append(contents, string(b))
		if _, err := Set(ctx, st, SetOptions{Values: []Assignment{{"N", fmt.Sprint(i)}}}); err != nil {
			t.Fatal(err)
		}
	}
	vs, _ := Versions(ctx, st)
	if len(vs) != 10 {
		t.Fatalf("%d versions kept, want 10", len(vs))
	}
	for i := 12; i >= 3; i-- {
		res, err := Undo(ctx, st, UndoOptions{})
		if err != nil {
			t.Fatalf("undo %d: %v", i, err)
		}
		if got := readFile(t, path); got != contents[i] {
			t.Fatalf("undo to %d: got %q want %q", i, got, contents[i])
		}
		if res.Remaining != i-3 {
			t.Errorf("remaining %d, want %d", res.Remaining, i-3)
		}
		if res.Kept == "" || readFile(t, res.Kept) == "" {
			t.Errorf("the replaced content was not kept")
		}
	}
	if _, err := Undo(ctx, st, UndoOptions{}); !errors.Is(err, ErrNothingToUndo) {
		t.Fatalf("undo with no versions: %v", err)
	}
	// undoing a creation removes the file
	st2, dir2 := newEnvProject(t, map[string]string{})
	Set(ctx, st2, SetOptions{Values: []Assignment{{"A", "1"}}})
	if _, err := Undo(ctx, st2, UndoOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir2, ".env")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("undo of the creation left .env: %v", err)
	}
}

func TestEnvAbortsWhenFileChangesUnderUs(t *testing.T) {
	ctx := context.Background()
	st, dir := newEnvProject(t, map[string]string{".env": "A=1\n"})
	path := filepath.Join(dir, ".env")
	other := "A=1\n# an editor saved this meanwhile\nB=2\n"
	testSeams.writeStep = func(step string) {
		if step == "temp-synced" {
			os.WriteFile(path, []byte(other), 0o644)
		}
	}
	defer func() { testSeams.writeStep = nil }()
	_, err := Set(ctx, st, SetOptions{Values: []Assignment{{"A", "2"}}})
	if !errors.Is(err, ErrChanged) {
		t.Fatalf("got %v, want ErrChanged", err)
	}
	if got := readFile(t, path); got != other {
		t.Errorf("the other writer's content was not kept: %q", got)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(left) > 0 {
		t.Errorf("temp files left: %v", left)
	}
	if vs, _ := Versions(ctx, st); len(vs) != 0 {
		t.Errorf("a version was kept for a write that did not happen: %v", vs)
	}
	testSeams.writeStep = nil

	// IfMatch: a plan based on an old read is refused
	plan, err := Set(ctx, st, SetOptions{Values: []Assignment{{"A", "3"}}, DryRun: true})
	if err != nil || !plan.Changed {
		t.Fatalf("plan: %v %+v", err, plan)
	}
	os.WriteFile(path, []byte("A=9\n"), 0o644)
	if _, err := Set(ctx, st, SetOptions{Values: []Assignment{{"A", "3"}}, IfMatch: plan.Revision}); !errors.Is(err, ErrChanged) {
		t.Fatalf("stale IfMatch: %v", err)
	}
	if got := readFile(t, path); got != "A=9\n" {
		t.Errorf("content %q", got)
	}
}

func TestEnvNoOpWritesNothing(t *testing.T) {
	ctx := context.Background()
	st, dir := newEnvProject(t, map[string]string{".env": "A='1'\n"})
	res, err := Set(ctx, st, SetOptions{Values: []Assignment{{"A", "1"}}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Changed || len(res.Changes) != 1 || res.Changes[0].Action != "unchanged" {
		t.Errorf("result %+v", res)
	}
	res, err = Unset(ctx, st, UnsetOptions{Keys: []string{"NOPE"}})
	if err != nil || res.Changed || res.Changes[0].Action != "absent" {
		t.Errorf("unset absent: %v %+v", err, res)
	}
	if vs, _ := Versions(ctx, st); len(vs) != 0 {
		t.Errorf("versions kept for no-ops: %v", vs)
	}
	if got := readFile(t, filepath.Join(dir, ".env")); got != "A='1'\n" {
		t.Errorf("content %q", got)
	}
}

func TestEnvRefusesBadInputAndChangesNothing(t *testing.T) {
	ctx := context.Background()
	const canary = "canary-7f3a9"
	broken := "A=1\n# fine so far\nDB_PASSWORD=\"" + canary + "\nB=2\n"
	st, dir := newEnvProject(t, map[string]string{".env": broken})
	path := filepath.Join(dir, ".env")
	_, err := Set(ctx, st, SetOptions{Values: []Assignment{{"A", "2"}}})
	var se *envfile.SyntaxError
	if !errors.As(err, &se) || se.Line != 3 || se.Path != path {
		t.Fatalf("malformed file: %v", err)
	}
	if strings.Contains(err.Error(), canary) {
		t.Errorf("the error shows the secret: %v", err)
	}
	for _, op := range []func() error{
		func() error { _, err := List(ctx, st, ListOptions{}); return err },
		func() error { _, err := Get(ctx, st, GetOptions{Key: "A"}); return err },
		func() error { _, err := Unset(ctx, st, UnsetOptions{Keys: []string{"A"}}); return err },
		func() error { _, err := Check(ctx, st, CheckOptions{}); return err },
	} {
		if err := op(); !errors.Is(err, envfile.ErrSyntax) || strings.Contains(err.Error(), canary) {
			t.Errorf("op on a malformed file: %v", err)
		}
	}
	if got := readFile(t, path); got != broken {
		t.Errorf("a malformed file was touched")
	}

	os.WriteFile(path, []byte("A=1\n"), 0o644)
	for _, bad := range []Assignment{{"1A", "x"}, {"A-B", "x"}, {"", "x"}, {"A", "nul\x00" + canary}} {
		_, err := Set(ctx, st, SetOptions{Values: []Assignment{{"B", "ok"}, bad}})
		if !errors.Is(err, envfile.ErrInvalidKey) && !errors.Is(err, envfile.ErrInvalidValue) {
			t.Errorf("set %q: %v", bad.Key, err)
		}
		if err != nil && strings.Contains(err.Error(), canary) {
			t.Errorf("the error shows the value: %v", err)
		}
	}
	if got := readFile(t, path); got != "A=1\n" {
		t.Errorf("refused input changed the file: %q", got)
	}
	if vs, _ := Versions(ctx, st); len(vs) != 0 {
		t.Errorf("versions kept for refused edits")
	}
}

func TestEnvListGetMaskAndReveal(t *testing.T) {
	ctx := context.Background()
	st, _ := newEnvProject(t, map[string]string{
		".env":         "DB_HOST=db\nDB_PASSWORD='p@ss'\nAPI_TOKEN=\nURL=\"http://${DB_HOST}/\"\nFROM_ENV\nPUBLIC_KEY_ID=k1\nDB_HOST=db2\n",
		"compose.yaml": "services:\n  a:\n    image: x\nx-stackpilot:\n  env:\n    not_secret: [PUBLIC_KEY_ID]\n",
	}, "FROM_ENV=shell", "DB_HOST=override")
	res, err := List(ctx, st, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ListEntry{}
	var order []string
	for _, e := range res.Entries {
		got[e.Key] = e
		order = append(order, e.Key)
	}
	if strings.Join(order, ",") != "DB_HOST,DB_PASSWORD,API_TOKEN,URL,FROM_ENV,PUBLIC_KEY_ID" {
		t.Errorf("order %v", order)
	}
	if e := got["DB_PASSWORD"]; !e.Masked || e.Value != "" || !e.Secret {
		t.Errorf("secret not masked: %+v", e)
	}
	if e := got["API_TOKEN"]; e.Masked || e.Value != "" {
		t.Errorf("an empty secret shows as empty: %+v", e)
	}
	if e := got["PUBLIC_KEY_ID"]; e.Masked || e.Value != "k1" {
		t.Errorf("not_secret: %+v", e)
	}
	if e := got["URL"]; e.Value != "http://override/" {
		t.Errorf("interpolation as Compose does it (environment first): %+v", e)
	}
	if e := got["DB_HOST"]; e.Value != "db2" || e.Line != 7 || !e.OverriddenByEnvironment {
		t.Errorf("duplicate: the last counts: %+v", e)
	}
	if e := got["FROM_ENV"]; !e.Inherited || e.Value != "shell" {
		t.Errorf("bare key: %+v", e)
	}
	if len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], "DB_HOST is defined 2 times") {
		t.Errorf("warnings %v", res.Warnings)
	}
	rev, _ := List(ctx, st, ListOptions{Reveal: true})
	for _, e := range rev.Entries {
		if e.Key == "DB_PASSWORD" && (e.Masked || e.Value != "p@ss") {
			t.Errorf("reveal: %+v", e)
		}
	}
	g, err := Get(ctx, st, GetOptions{Key: "DB_PASSWORD"})
	if err != nil || g.Value != "p@ss" {
		t.Errorf("get: %v %+v", err, g)
	}
	g, _ = Get(ctx, st, GetOptions{Key: "DB_PASSWORD", Raw: true})
	if g.Value != "'p@ss'" {
		t.Errorf("get --raw: %q", g.Value)
	}
	if _, err := Get(ctx, st, GetOptions{Key: "NOPE"}); !errors.Is(err, ErrKeyNotFound) {
		t.Errorf("missing key: %v", err)
	}
}

func TestEnvCheck(t *testing.T) {
	ctx := context.Background()
	st, _ := newEnvProject(t, map[string]string{
		".env":         "DB_HOST=db\nDB_PASSWORD=\nUNUSED=1\nCOMPOSE_PROJECT_NAME=x\nEXTRA_EMPTY=\nBASE=x\nDERIVED=${BASE}/y\n",
		".env.example": "DB_HOST=\nDB_PASSWORD=\nAPI_URL=\nLOG_LEVEL=\n",
	}, "ROOT_PW=from-shell")
	res, err := Check(ctx, st, CheckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	keys := func(items []CheckItem) string {
		var k []string
		for _, i := range items {
			k = append(k, i.Key)
		}
		sort.Strings(k)
		return strings.Join(k, ",")
	}
	// DB_PASSWORD is ${DB_PASSWORD:?} and empty: missing; API_URL only in the example: missing
	if got := keys(res.Missing); got != "API_URL,DB_PASSWORD" {
		t.Errorf("missing %s", got)
	}
	if got := keys(res.Empty); got != "EXTRA_EMPTY" {
		t.Errorf("empty %s", got)
	}
	// BASE is used by DERIVED's value; DERIVED by nothing
	if got := keys(res.Unused); got != "DERIVED,EXTRA_EMPTY,UNUSED" {
		t.Errorf("unused %s", got)
	}
	// LOG_LEVEL has a default in compose; PASSTHROUGH is passed only when set
	if got := keys(res.Optional); got != "LOG_LEVEL,PASSTHROUGH" {
		t.Errorf("optional %s", got)
	}
	if got := keys(res.FromEnvironment); got != "ROOT_PW" {
		t.Errorf("from environment %s", got)
	}
	if res.OK {
		t.Error("OK with required keys missing")
	}
	for _, m := range res.Missing {
		if m.Key == "DB_PASSWORD" && strings.Join(m.Services, ",") != "api,db" {
			t.Errorf("DB_PASSWORD services %v", m.Services)
		}
	}
	// an explicit example that does not exist is an error
	if _, err := Check(ctx, st, CheckOptions{Example: "/nonexistent/.env.example"}); err == nil {
		t.Error("missing explicit example accepted")
	}

	// all set, env_file loads the .env: nothing is unused
	st2, _ := newEnvProject(t, map[string]string{
		".env":         "A=1\nB=2\n",
		"compose.yaml": "services:\n  app:\n    image: x\n    env_file: .env\n    environment:\n      X: ${A}\n",
	})
	res, err = Check(ctx, st2, CheckOptions{})
	if err != nil || !res.OK || len(res.Unused) != 0 || strings.Join(res.EnvFileServices, ",") != "app" {
		t.Errorf("env_file project: %v %+v", err, res)
	}
}

func TestEnvKeyServices(t *testing.T) {
	st, _ := newEnvProject(t, map[string]string{".env": "DB_PASSWORD=x\n"})
	got, err := KeyServices(context.Background(), st, []string{"DB_PASSWORD", "DB_HOST", "PASSTHROUGH", "ROOT_PW", "NOT_A_REF", "NOBODY"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"DB_PASSWORD": "api,db", "DB_HOST": "api", "PASSTHROUGH": "api", "ROOT_PW": "db", "NOT_A_REF": "", "NOBODY": ""}
	for k, w := range want {
		if g := strings.Join(got[k], ","); g != w {
			t.Errorf("%s used by %q, want %q", k, g, w)
		}
	}
}

// TestLoadMasksDotEnvErrors: compose-go's own error for a broken .env quotes
// the value; Load must report the line without it, and the lenient load
// must still open the project so the file can be repaired.
func TestLoadMasksDotEnvErrors(t *testing.T) {
	const canary = "canary-55aa"
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(envTestCompose), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("A=1\nAPI_TOKEN=\""+canary+"\n"), 0o644)
	_, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, Environ: []string{}})
	if err == nil || strings.Contains(err.Error(), canary) {
		t.Fatalf("load error shows the secret or is missing: %v", err)
	}
	if !errors.Is(err, envfile.ErrSyntax) || !errors.Is(err, stackops.ErrInvalidCompose) || !strings.Contains(err.Error(), ":2:") {
		t.Errorf("load error: %v", err)
	}
	os.WriteFile(filepath.Join(dir, ".env"), []byte("TOKEN=x${"+canary+"\n"), 0o644)
	_, err = stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, Environ: []string{}})
	if err == nil || strings.Contains(err.Error(), canary) {
		t.Fatalf("invalid template: %v", err)
	}
	st, err := stackops.Load(context.Background(), stackops.LoadOptions{ProjectDir: dir, Environ: []string{}, Lenient: true})
	if err != nil {
		t.Fatalf("lenient load: %v", err)
	}
	if _, err := Set(context.Background(), st, SetOptions{Values: []Assignment{{"TOKEN", "fixed"}}}); err == nil {
		t.Error("an edit of a file Compose cannot read went through")
	}
}

// TestEnvLockRecordHasNoArgv: the lock holder record is read by other
// processes (and shown in their errors); argv may hold KEY=secret.
func TestEnvLockRecordHasNoArgv(t *testing.T) {
	const canary = "canary-lock-91"
	st, dir := newEnvProject(t, map[string]string{})
	saved := os.Args
	os.Args = append([]string{saved[0], "env", "set", "DB_PASSWORD=" + canary}, saved[1:]...)
	defer func() { os.Args = saved }()
	var record []byte
	testSeams.writeStep = func(step string) {
		if step == "temp-created" {
			record, _ = os.ReadFile(stackops.HolderFile(filepath.Join(dir, ".stackpilot", "env.lock")))
		}
	}
	defer func() { testSeams.writeStep = nil }()
	if _, err := Set(context.Background(), st, SetOptions{Values: []Assignment{{"DB_PASSWORD", canary}}}); err != nil {
		t.Fatal(err)
	}
	if len(record) == 0 || bytes.Contains(record, []byte(canary)) || !bytes.Contains(record, []byte("env set")) {
		t.Errorf("lock record %q", record)
	}
}

func TestEnvLockWaitsThenTimesOut(t *testing.T) {
	st, dir := newEnvProject(t, map[string]string{".env": "A=1\n"})
	l, err := lock(context.Background(), st, "env set", 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Set(context.Background(), st, SetOptions{Values: []Assignment{{"A", "2"}}, LockWait: 300 * time.Millisecond})
	if !errors.Is(err, stackops.ErrLocked) || strings.Contains(err.Error(), "--lock-wait") || !strings.Contains(err.Error(), "env set by") {
		t.Errorf("held lock: %v", err)
	}
	l.Release()
	if _, err := Set(context.Background(), st, SetOptions{Values: []Assignment{{"A", "2"}}}); err != nil {
		t.Errorf("after release: %v", err)
	}
	if got := readFile(t, filepath.Join(dir, ".env")); got != "A=2\n" {
		t.Errorf("content %q", got)
	}
}

// A value built from a secret is masked whatever its key is called, and the
// credentials of any URL are masked — in list, get's secret flag, diffs and
// the JSON alike — while --reveal shows everything.
func TestEnvMasksDerivedSecretsAndURLCredentials(t *testing.T) {
	ctx := context.Background()
	const canary = "hunter2-canary"
	st, _ := newEnvProject(t, map[string]string{
		".env": "DB_PASSWORD=" + canary + "\nDATABASE_URL=postgres://app:${DB_PASSWORD}@db/app\nCOPY=$DATABASE_URL\n" +
			"REDIS_URL=redis://:" + canary + "@redis:6379/0\nPUBLIC_URL=https://example.com/@team\nAUTHOR=Ada\nMYSQL_PWD=" + canary + "\n",
	})
	res, err := List(ctx, st, ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ListEntry{}
	for _, e := range res.Entries {
		got[e.Key] = e
		if strings.Contains(e.Value, canary) {
			t.Errorf("%s shows the secret: %+v", e.Key, e)
		}
	}
	for _, k := range []string{"DATABASE_URL", "COPY", "MYSQL_PWD"} {
		if e := got[k]; !e.Masked || !e.Secret || e.Value != "" {
			t.Errorf("%s: %+v, want masked as a secret", k, e)
		}
	}
	if e := got["REDIS_URL"]; !e.Masked || e.Secret || e.Value != "redis://********@redis:6379/0" {
		t.Errorf("REDIS_URL: %+v, want its credentials masked", e)
	}
	if e := got["PUBLIC_URL"]; e.Masked || e.Value != "https://example.com/@team" {
		t.Errorf("PUBLIC_URL: %+v", e)
	}
	if e := got["AUTHOR"]; e.Masked || e.Value != "Ada" {
		t.Errorf("AUTHOR: %+v", e)
	}
	rev, _ := List(ctx, st, ListOptions{Reveal: true})
	for _, e := range rev.Entries {
		if e.Masked {
			t.Errorf("--reveal still masks %s", e.Key)
		}
	}
	if g, err := Get(ctx, st, GetOptions{Key: "DATABASE_URL"}); err != nil || !g.Secret || g.Value != "postgres://app:"+canary+"@db/app" {
		t.Errorf("get DATABASE_URL: %v %+v", err, g)
	}
	// A diff of a URL line masks its credentials.
	ch, err := Set(ctx, st, SetOptions{Values: []Assignment{{Key: "REDIS_URL", Value: "redis://:new-" + canary + "@redis:6379/1"}}, DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ch.Diff {
		if strings.Contains(d.Text, canary) || !strings.Contains(d.Text, "redis://********@redis") {
			t.Errorf("diff line shows the credentials: %+v", d)
		}
	}
}
