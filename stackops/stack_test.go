package stackops

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sirupsen/logrus"

	"github.com/stackpilot/stackpilot/internal/itest"
)

const twoServices = "services:\n  web:\n    image: nginx\n  api:\n    image: api\n"

func TestLoadSearchesUpward(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{"docker-compose.yml": twoServices, "a/b/c/.keep": ""})
	st, err := Load(context.Background(), LoadOptions{WorkDir: filepath.Join(dir, "a", "b", "c"), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Dir != dir {
		t.Fatalf("project dir %s, want %s", st.Dir, dir)
	}
	if got := strings.Join(st.ServiceNames(), ","); got != "api,web" {
		t.Fatalf("services %s", got)
	}
	if st.Name != normalizeForTest(filepath.Base(dir)) {
		t.Fatalf("name %q from dir %q", st.Name, filepath.Base(dir))
	}
}

func normalizeForTest(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			b.WriteRune(r)
		}
	}
	return strings.TrimLeft(b.String(), "-_")
}

func TestLoadPrefersComposeYamlOverOlderNames(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml":       "services:\n  new:\n    image: x\n",
		"docker-compose.yml": "services:\n  old:\n    image: x\n",
	})
	st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if st.ServiceNames()[0] != "new" {
		t.Fatalf("loaded %v", st.ServiceNames())
	}
}

func TestLoadNotAProjectNamesWhatWasSearched(t *testing.T) {
	dir := t.TempDir()
	_, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{}})
	if !errors.Is(err, ErrNoComposeFile) {
		t.Fatalf("got %v", err)
	}
	for _, want := range []string{"compose.yaml", "docker-compose.yml", dir, "-C DIR", "-f FILE"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestLoadProjectNameSources(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": twoServices, ".env": "COMPOSE_PROJECT_NAME=fromdotenv\n"})
	st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "fromdotenv" {
		t.Fatalf(".env name: %q", st.Name)
	}
	st, _ = Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{"COMPOSE_PROJECT_NAME=fromenv"}})
	if st.Name != "fromenv" {
		t.Fatalf("env name: %q", st.Name)
	}
	st, _ = Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{"COMPOSE_PROJECT_NAME=fromenv"}, ProjectName: "flag"})
	if st.Name != "flag" {
		t.Fatalf("flag name: %q", st.Name)
	}
	dir2 := itest.WriteFiles(t, map[string]string{"My.Shop App/compose.yaml": twoServices})
	st, err = Load(context.Background(), LoadOptions{WorkDir: filepath.Join(dir2, "My.Shop App"), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Name != "myshopapp" {
		t.Fatalf("normalised name %q", st.Name)
	}
	if _, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{}, ProjectName: "Bad Name"}); err == nil {
		t.Fatal("invalid -p accepted")
	}
}

func TestLoadFilesFlagAndProjectDir(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{
		"stack/base.yml":  twoServices,
		"stack/extra.yml": "services:\n  worker:\n    image: w\n",
		"elsewhere/.keep": "",
	})
	st, err := Load(context.Background(), LoadOptions{WorkDir: filepath.Join(dir, "elsewhere"), Files: []string{"../stack/base.yml", "../stack/extra.yml"}, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Dir != filepath.Join(dir, "stack") || len(st.ComposeFiles) != 2 {
		t.Fatalf("dir %s files %v", st.Dir, st.ComposeFiles)
	}
	if strings.Join(st.ServiceNames(), ",") != "api,web,worker" {
		t.Fatalf("services %v", st.ServiceNames())
	}
	// -C: the project directory; the default files are found there.
	dir3 := itest.WriteFiles(t, map[string]string{"p/compose.yml": twoServices, "p/.env": "X=1\n"})
	st, err = Load(context.Background(), LoadOptions{WorkDir: t.TempDir(), ProjectDir: filepath.Join(dir3, "p"), Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if st.Dir != filepath.Join(dir3, "p") || st.DotEnvPath() != filepath.Join(dir3, "p", ".env") {
		t.Fatalf("-C: dir %s env %s", st.Dir, st.DotEnvPath())
	}
}

func TestLoadComposeFileEnv(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{"a.yml": twoServices, "b.yml": "services:\n  extra:\n    image: e\n", ".env": "COMPOSE_FILE=a.yml:b.yml\n"})
	st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(st.ServiceNames(), ",") != "api,extra,web" {
		t.Fatalf("COMPOSE_FILE from .env: %v", st.ServiceNames())
	}
}

func TestLoadInterpolatesFromDotEnvAndOSEnvWins(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{
		"compose.yaml": "services:\n  api:\n    image: \"app:${TAG}\"\n",
		".env":         "TAG=fromfile\n",
	})
	st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if img := st.Project.Services["api"].Image; img != "app:fromfile" {
		t.Fatalf("image %q", img)
	}
	st, _ = Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{"TAG=fromenv"}})
	if img := st.Project.Services["api"].Image; img != "app:fromenv" {
		t.Fatalf("OS env should win: %q", img)
	}
}

func TestLoadMalformedComposeNamesFileAndLine(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  api:\n    image: x\n   bad: [\n"})
	_, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{}})
	if !errors.Is(err, ErrInvalidCompose) {
		t.Fatalf("got %v", err)
	}
	if !strings.Contains(err.Error(), "compose.yaml") || !strings.Contains(err.Error(), "line") {
		t.Fatalf("error lacks file or line: %v", err)
	}
}

func TestLoadSchemaErrorAndValidationCache(t *testing.T) {
	t.Setenv("STACKPILOT_CACHE_DIR", t.TempDir())
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  api:\n    image: x\n    restart: sometimes-maybe\n    ports: [{target: notaport}]\n"})
	for i := 0; i < 2; i++ { // the second load must not be let through by the cache
		_, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{}})
		if !errors.Is(err, ErrInvalidCompose) {
			t.Fatalf("load %d: invalid file accepted: %v", i, err)
		}
	}
	good := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  api:\n    image: \"x:${TAG}\"\n"})
	if _, err := Load(context.Background(), LoadOptions{WorkDir: good, Environ: []string{"TAG=1"}}); err != nil {
		t.Fatal(err)
	}
	if !knownValid(validationCacheKey([]string{filepath.Join(good, "compose.yaml")}, map[string]string{"TAG": "1"})) {
		t.Fatal("valid file not remembered")
	}
	if knownValid(validationCacheKey([]string{filepath.Join(good, "compose.yaml")}, map[string]string{"TAG": "2"})) {
		t.Fatal("a different value of a referenced variable must not hit the cache")
	}
	// Another compose-go (an upgrade with a stricter schema) validates again.
	files, env := []string{filepath.Join(good, "compose.yaml")}, map[string]string{"TAG": "1"}
	// (A test binary carries no dependency list, so composeGoVersion is the
	// fallback here; the stackpilot binary has compose-go's version and sum.)
	if validationCacheKeyFor("v2.16.2 h1:a", files, env) == validationCacheKeyFor("v2.17.0 h1:b", files, env) {
		t.Fatal("the key ignores the compose-go version")
	}
	if knownValid(validationCacheKeyFor("v9.9.9 h1:other", files, env)) {
		t.Fatal("a file validated by this compose-go counts as valid for another")
	}
}

func TestResolveServices(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "services:\n  web: {image: a}\n  api: {image: b}\n  debug: {image: c, profiles: [dev]}\n"})
	st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := st.ResolveServices([]string{"web", "api", "web"})
	if err != nil || strings.Join(got, ",") != "web,api" {
		t.Fatalf("%v %v", got, err)
	}
	_, err = st.ResolveServices([]string{"wbe"})
	if !errors.Is(err, ErrUnknownService) || !strings.Contains(err.Error(), "api, web") {
		t.Fatalf("unknown service error: %v", err)
	}
	// Named, a service of an inactive profile is enabled with its profile,
	// as `docker compose up debug` does.
	got, err = st.ResolveServices([]string{"debug"})
	if err != nil || strings.Join(got, ",") != "debug" || strings.Join(st.ServiceNames(), ",") != "api,debug,web" || strings.Join(st.Profiles, ",") != "dev" {
		t.Fatalf("disabled profile service: %v %v, services %v, profiles %v", got, err, st.ServiceNames(), st.Profiles)
	}
	st, err = Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{"COMPOSE_PROFILES=dev"}})
	if err != nil || len(st.ServiceNames()) != 3 {
		t.Fatalf("COMPOSE_PROFILES=dev: %v %v", st.ServiceNames(), err)
	}
}

func TestConfigUnknownKeyIsAnError(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": twoServices + "x-stackpilot:\n  probez: {}\n"})
	_, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{}})
	if !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "probez") {
		t.Fatalf("got %v", err)
	}
}

func TestProbesConfig(t *testing.T) {
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": twoServices + "x-stackpilot:\n  probes:\n    web: http://127.0.0.1:${PORT:-80}/\n    api: {url: \"https://h/health\", timeout: 500ms}\n"})
	st, err := Load(context.Background(), LoadOptions{WorkDir: dir, Environ: []string{"PORT=81"}})
	if err != nil {
		t.Fatal(err)
	}
	p, err := st.Probes()
	if err != nil {
		t.Fatal(err)
	}
	if p["web"].URL != "http://127.0.0.1:81/" || p["api"].Timeout.Or(0).String() != "500ms" {
		t.Fatalf("probes %+v", p)
	}
	bad := itest.WriteFiles(t, map[string]string{"compose.yaml": twoServices + "x-stackpilot:\n  probes:\n    nosuch: http://x/\n"})
	st, err = Load(context.Background(), LoadOptions{WorkDir: bad, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.Probes(); !errors.Is(err, ErrInvalidConfig) || !strings.Contains(err.Error(), "nosuch") {
		t.Fatalf("probe for unknown service: %v", err)
	}
}

// compose-go's warnings become the stack's Warnings once the process has
// asked for it, and Load itself leaves logrus' global settings alone.
func TestLoadCollectsComposeWarningsWithoutChangingLogrus(t *testing.T) {
	CollectComposeWarnings()
	out, level := logrus.StandardLogger().Out, logrus.GetLevel()
	dir := itest.WriteFiles(t, map[string]string{"compose.yaml": "version: \"3.8\"\nservices:\n  web:\n    image: nginx\n    environment: [\"X=${NOT_SET_ANYWHERE}\"]\n"})
	st, err := Load(context.Background(), LoadOptions{ProjectDir: dir, Environ: []string{}})
	if err != nil {
		t.Fatal(err)
	}
	all := strings.Join(st.Warnings, "\n")
	if !strings.Contains(all, "`version` is obsolete") || !strings.Contains(all, `"NOT_SET_ANYWHERE" variable is not set`) {
		t.Errorf("warnings: %q", st.Warnings)
	}
	if logrus.StandardLogger().Out != out || logrus.GetLevel() != level {
		t.Error("Load changed logrus' global settings")
	}
	// A second load has its own warnings, not the first's again (the variable
	// is set now, and compose-go warns about `version` once per process).
	st2, err := Load(context.Background(), LoadOptions{ProjectDir: dir, Environ: []string{"NOT_SET_ANYWHERE=x"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(st2.Warnings) != 0 {
		t.Errorf("second load's warnings: %q", st2.Warnings)
	}
}
