package wizard_test

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stackpilot/stackpilot/internal/itest"
)

// The errors a user meets first: each says what happened and what to do,
// with the right exit code and no stack trace.
func TestIntegrationErrors(t *testing.T) {
	itest.Require(t)

	t.Run("not a compose project", func(t *testing.T) {
		dir := t.TempDir()
		res := itest.Run(t, dir, nil, "status")
		if res.Code != 1 || !strings.Contains(res.Stderr, "not a compose project") || !strings.Contains(res.Stderr, "compose.yaml") || !strings.Contains(res.Stderr, dir) {
			t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
		}
	})

	t.Run("malformed compose file", func(t *testing.T) {
		p := itest.NewProject(t, "services:\n  api:\n    image: x\n   oops: [\n", nil)
		res := p.Run("status")
		if res.Code != 1 || !strings.Contains(res.Stderr, "compose.yaml") || !strings.Contains(res.Stderr, "line 3") {
			t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
		}
	})

	t.Run("daemon down", func(t *testing.T) {
		p := itest.NewProject(t, "services:\n  api:\n    image: stackpilot-fixture:latest\n", nil)
		res := itest.Run(t, p.Dir, []string{"DOCKER_HOST=unix://" + filepath.Join(t.TempDir(), "docker.sock")}, "status")
		if res.Code != 1 || !strings.Contains(res.Stderr, "not running") || !strings.Contains(res.Stderr, "start") {
			t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
		}
		doc := itest.Run(t, p.Dir, []string{"DOCKER_HOST=unix:///nonexistent/docker.sock"}, "doctor", "--json")
		var out struct {
			OK     bool `json:"ok"`
			Checks []struct {
				Name, Detail, Fix string
				OK                bool
			} `json:"checks"`
		}
		if err := json.Unmarshal([]byte(doc.Stdout), &out); err != nil {
			t.Fatalf("doctor --json: %v\n%s", err, doc.Combined())
		}
		if doc.Code != 1 || out.OK {
			t.Fatalf("doctor with the daemon down: exit %d ok=%v", doc.Code, out.OK)
		}
		for _, c := range out.Checks {
			if c.Name == "docker daemon" && (c.OK || !strings.Contains(c.Fix, "start")) {
				t.Fatalf("daemon check: %+v", c)
			}
			if c.Name == "compose file" && !c.OK {
				t.Fatalf("the compose file is fine, doctor says %+v", c)
			}
		}
	})

	t.Run("permission denied on the socket", func(t *testing.T) {
		if os.Geteuid() != 0 {
			t.Skip("needs root to run stackpilot as another user")
		}
		dir, err := os.MkdirTemp("", "sp-perm-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		bin := filepath.Join(dir, "stackpilot")
		data, _ := os.ReadFile(itest.Binary(t))
		if err := os.WriteFile(bin, data, 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte("services:\n  api:\n    image: x\n"), 0o644)
		os.Chmod(dir, 0o755)
		cmd := exec.Command(bin, "status")
		cmd.Dir = dir
		cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + dir}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		if code != 1 || !strings.Contains(string(out), "permission denied") || !strings.Contains(string(out), "docker group") {
			t.Fatalf("exit %d\n%s", code, out)
		}
	})

	t.Run("no arguments without a terminal", func(t *testing.T) {
		res := itest.Run(t, t.TempDir(), nil)
		if res.Code != 2 || !strings.Contains(res.Stderr, "Usage:") || res.Stdout != "" {
			t.Fatalf("exit %d\nstdout %q\nstderr %s", res.Code, res.Stdout, res.Stderr)
		}
	})

	t.Run("bad flag is a usage error", func(t *testing.T) {
		res := itest.Run(t, t.TempDir(), nil, "status", "--no-such-flag")
		if res.Code != 2 || !strings.Contains(res.Stderr, "--no-such-flag") {
			t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
		}
		res = itest.Run(t, t.TempDir(), nil, "nosuchcommand")
		if res.Code != 2 || !strings.Contains(res.Stderr, "unknown command") {
			t.Fatalf("exit %d\n%s", res.Code, res.Stderr)
		}
	})
}

func TestIntegrationDoctor(t *testing.T) {
	itest.Require(t)
	p := itest.NewProject(t, "services:\n  api:\n    image: stackpilot-fixture:latest\n  db:\n    image: stackpilot-fixture:latest\n", map[string]string{".env": "A=1\n"})
	res := p.Run("doctor")
	if res.Code != 0 {
		t.Fatalf("doctor on a healthy setup: exit %d\n%s", res.Code, res.Combined())
	}
	for _, want := range []string{"docker daemon", "Docker Engine", "Compose " + itest.Variant(), "api, db", ".env"} {
		if !strings.Contains(res.Stdout, want) {
			t.Errorf("doctor output lacks %q:\n%s", want, res.Stdout)
		}
	}
	p.WriteFile(".env", "A=1\nB=\"unterminated\nCOMPOSE_PROJECT_NAME="+p.Name+"\n")
	res = p.Run("doctor")
	if res.Code != 1 || !strings.Contains(res.Stdout, ".env") || !strings.Contains(res.Stdout, "fix:") {
		t.Fatalf("doctor with a broken .env: exit %d\n%s", res.Code, res.Combined())
	}
}
