package wizard_test

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops/backup"
)

// Canary secrets — in a password, in a URL's credentials, in a hook's
// argument (interpolated from .env, and written literally after --token),
// and in a dump's and a restore's command — never show in what stackpilot
// prints (text, --json, -v traces, errors) nor in an archive's manifest,
// while the commands get them: through their argv as written, or through
// their environment with `env: [KEY]`.
func TestIntegrationSecretsStayMasked(t *testing.T) {
	t.Parallel()
	itest.Require(t)
	const (
		pw      = "canary-pw-4e1f"
		urlPass = "canary-url-77ab"
		token   = "canary-token-9c2d"
		literal = "canary-literal-31fe"
	)
	canaries := []string{pw, urlPass, token, literal}
	p := itest.NewProject(t, `
services:
  files:
    image: stackpilot-busybox:latest
    {{idle}}
    volumes: ["data:/srv"]
volumes:
  data:
x-stackpilot:
  deploy:
    settle: 1s
    post_deploy:
      - ["./hook.sh", "--token", "${SLACK_TOKEN}", "--password", "`+literal+`", "${DATABASE_URL}"]
      - command: ["./hook-env.sh"]
        env: [SLACK_TOKEN, DB_PASSWORD]
  backup:
    dumps:
      - service: files
        name: notes
        dump: ["sh", "-c", "test \"$$DB_PASSWORD\" = '`+pw+`' && echo ${DB_PASSWORD} >/dev/null && cat /srv/notes"]
        restore: ["sh", "-c", "test \"$$DB_PASSWORD\" = '${DB_PASSWORD}' && cat > /srv/loaded"]
        env: [DB_PASSWORD]
`, map[string]string{
		".env":        "DB_PASSWORD=" + pw + "\nDATABASE_URL=postgres://app:${DB_PASSWORD}@db/app\nREDIS_URL=redis://:" + urlPass + "@redis:6379/0\nSLACK_TOKEN=" + token + "\n",
		"hook.sh":     "#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/hook-args\"\necho \"hook saw $3\"\n",
		"hook-env.sh": "#!/bin/sh\necho \"$SLACK_TOKEN $DB_PASSWORD\" > \"$(dirname \"$0\")/hook-env\"\n",
	})
	for _, f := range []string{"hook.sh", "hook-env.sh"} {
		if err := os.Chmod(filepath.Join(p.Dir, f), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	clean := func(what string, r itest.Result) {
		t.Helper()
		for _, c := range canaries {
			if strings.Contains(r.Stdout+r.Stderr, c) {
				t.Errorf("%s shows the secret %s:\n%s", what, c, r.Combined())
			}
		}
	}

	for _, args := range [][]string{{"env", "list"}, {"env", "list", "--json"}} {
		r := p.Run(args...)
		if r.Code != 0 || !strings.Contains(r.Stdout, "redis://********@redis:6379/0") {
			t.Errorf("%v: exit %d\n%s", args, r.Code, r.Combined())
		}
		clean(strings.Join(args, " "), r)
	}

	r := p.Run("deploy", "--dry-run", "--json")
	clean("deploy --dry-run --json", r)
	r = p.Run("-v", "deploy", "--yes", "--json")
	if r.Code != 0 {
		t.Fatalf("deploy: exit %d\n%s", r.Code, r.Combined())
	}
	clean("deploy -v --json", r)
	if !strings.Contains(r.Stdout, `"--token"`) || !strings.Contains(r.Stdout, "********") || !strings.Contains(r.Stderr, "$ ") {
		t.Errorf("deploy output does not show the hook with its secrets hidden, or no -v trace:\n%s", r.Combined())
	}
	// The commands got the real values: through argv as written, and through the environment.
	args, _ := os.ReadFile(filepath.Join(p.Dir, "hook-args"))
	if got := strings.TrimSpace(string(args)); got != "--token "+token+" --password "+literal+" postgres://app:"+pw+"@db/app" {
		t.Errorf("the hook got %q", got)
	}
	env, _ := os.ReadFile(filepath.Join(p.Dir, "hook-env"))
	if strings.TrimSpace(string(env)) != token+" "+pw {
		t.Errorf("the env hook got %q in its environment", env)
	}

	// A failing hook: the error names the command, secrets hidden.
	p.WriteFile("hook.sh", "#!/bin/sh\necho \"failing with $2\" >&2\nexit 4\n")
	_ = os.Chmod(filepath.Join(p.Dir, "hook.sh"), 0o755)
	r = p.Run("-v", "deploy", "--yes")
	if r.Code == 0 || !strings.Contains(r.Stderr, "exit status 4") {
		t.Fatalf("failing hook: exit %d\n%s", r.Code, r.Combined())
	}
	clean("a failing hook", r)

	// Dumps: the command gets the password from its environment; the manifest
	// records the commands with the interpolated password hidden.
	sh(t, p.ContainerID("files"), "echo note > /srv/notes")
	r = p.Run("-v", "backup", "create", "--json")
	if r.Code != 0 {
		t.Fatalf("backup create: exit %d\n%s", r.Code, r.Combined())
	}
	clean("backup create -v --json", r)
	var created struct {
		Backup struct{ ID, Path string }
	}
	_ = json.Unmarshal([]byte(r.Stdout), &created)
	m, err := backup.VerifyArchiveFile(context.Background(), created.Backup.Path, "")
	if err != nil {
		t.Fatal(err)
	}
	raw := rawManifest(t, created.Backup.Path)
	for _, c := range canaries {
		if strings.Contains(raw, c) {
			t.Errorf("the archive's manifest holds the secret %s:\n%s", c, raw)
		}
	}
	if !strings.Contains(raw, "********") || len(m.Entries) < 2 {
		t.Errorf("manifest: %s", raw)
	}
	r = p.Run("-v", "backup", "restore", created.Backup.ID, "--yes", "--json")
	if r.Code != 0 {
		t.Fatalf("backup restore: exit %d\n%s", r.Code, r.Combined())
	}
	clean("backup restore -v --json", r)
	if out := dexecOut(t, p.ContainerID("files"), "cat /srv/loaded"); out != "note\n" {
		t.Errorf("the restore command did not get its environment: /srv/loaded = %q", out)
	}
	// A failing restore command: its error hides the secret in the command and its output.
	p.WriteFile("compose.yaml", strings.Replace(readProjectFile(t, p, "compose.yaml"), `cat > /srv/loaded"]`, `echo $$DB_PASSWORD >&2; exit 3"]`, 1))
	r = p.Run("backup", "restore", created.Backup.ID, "--yes", "--no-safety-backup")
	if r.Code == 0 || !strings.Contains(r.Stderr, "exited with status 3") {
		t.Fatalf("failing restore command: exit %d\n%s", r.Code, r.Combined())
	}
	clean("a failing restore command", r)
}

// rawManifest is the manifest.json of an unencrypted archive, as stored.
func rawManifest(t *testing.T, path string) string {
	t.Helper()
	return archiveMember(t, path, "manifest.json")
}

func dexecOut(t *testing.T, container, script string) string {
	t.Helper()
	out, err := exec.Command("docker", "exec", container, "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("docker exec %s: %v\n%s", script, err, out)
	}
	return string(out)
}

func readProjectFile(t *testing.T, p *itest.Project, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.Dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
