package swarm

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v4"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

func loadStack(t *testing.T, compose, dotenv string) *stackops.Stack {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte(dotenv), 0o644); err != nil {
		t.Fatal(err)
	}
	st, err := stackops.Load(context.Background(), stackops.LoadOptions{WorkDir: dir, Environ: []string{"STACKPILOT_CACHE_DIR=" + t.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// The stack file has .env interpolated (and `$` doubled so docker stack
// deploy leaves it alone), the pushed image instead of build:, and the
// rolling-update defaults only where the file's update_config is silent.
func TestRender(t *testing.T) {
	st := loadStack(t, `services:
  web:
    build: ./web
    command: ["serve", "${GREETING}"]
    environment:
      PASSWORD: ${PASSWORD}
    ports: ["8080:80"]
    deploy:
      replicas: 2
      update_config: {order: stop-first}
  db:
    image: busybox
    restart: unless-stopped
    ports: [{target: 5432, published: 5432, mode: host}]
    volumes: [data:/data]
    healthcheck: {test: ["CMD", "true"], interval: 2s, retries: 3}
volumes:
  data: {}
x-stackpilot:
  orchestrator: swarm
  registry: 10.0.0.5:5000
`, "GREETING=hello world\nPASSWORD=pa$$word\n")
	if on, err := st.SwarmMode(); err != nil || !on {
		t.Fatalf("SwarmMode = %v, %v; want true", on, err)
	}
	if reg, err := st.Registry(); err != nil || reg != "10.0.0.5:5000" {
		t.Fatalf("Registry = %q, %v", reg, err)
	}
	r, err := Render(st.Project, map[string]string{"web": "10.0.0.5:5000/p-web:abc"})
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Services map[string]map[string]any `yaml:"services"`
		Volumes  map[string]any            `yaml:"volumes"`
		Networks map[string]map[string]any `yaml:"networks"`
	}
	if err := yaml.Unmarshal(r.YAML, &doc); err != nil {
		t.Fatal(err)
	}
	web, db := doc.Services["web"], doc.Services["db"]
	if web["image"] != "10.0.0.5:5000/p-web:abc" || web["build"] != nil {
		t.Errorf("web image = %v, build = %v", web["image"], web["build"])
	}
	if got := web["command"].([]any)[1]; got != "hello world" {
		t.Errorf("command not interpolated: %v", got)
	}
	if got := web["environment"].(map[string]any)["PASSWORD"]; got != "pa$$word" {
		t.Errorf("PASSWORD = %q, want the value with $ doubled (pa$$word)", got)
	}
	wu := web["deploy"].(map[string]any)["update_config"].(map[string]any)
	if wu["order"] != "stop-first" || wu["failure_action"] != "rollback" || wu["monitor"] != "5s" {
		t.Errorf("web update_config = %v: the file's order wins, the rest defaulted", wu)
	}
	du := db["deploy"].(map[string]any)
	if du["update_config"].(map[string]any)["order"] != "stop-first" {
		t.Errorf("db publishes a host-mode port: want stop-first, got %v", du["update_config"])
	}
	if m := du["update_config"].(map[string]any)["monitor"]; m != "9s" {
		t.Errorf("db monitor = %v, want 9s (interval 2s × (3+1) + 1s)", m)
	}
	if du["restart_policy"].(map[string]any)["condition"] != "any" {
		t.Errorf("restart: unless-stopped → %v", du["restart_policy"])
	}
	if doc.Networks["default"]["driver"] != "overlay" || doc.Networks["default"]["attachable"] != true {
		t.Errorf("default network = %v", doc.Networks["default"])
	}
	if _, ok := doc.Volumes["data"]; !ok {
		t.Errorf("volume data missing: %s", r.YAML)
	}
	if strings.Join(r.Defaults["web"], ",") != "failure_action: rollback,monitor: 5s" {
		t.Errorf("web defaults = %v", r.Defaults["web"])
	}
}

func TestOrchestratorInvalid(t *testing.T) {
	st := loadStack(t, "services:\n  a: {image: busybox}\nx-stackpilot:\n  orchestrator: kubernetes\n", "")
	if _, err := st.SwarmMode(); !errors.Is(err, stackops.ErrInvalidConfig) || !strings.Contains(err.Error(), `"swarm"`) {
		t.Fatalf("err = %v", err)
	}
}

// A worker or an engine outside a Swarm is refused with what to do.
func TestManagerError(t *testing.T) {
	if err := managerError("h", &engine.SwarmState{LocalNodeState: "active", ControlAvailable: true}); err != nil {
		t.Fatal(err)
	}
	err := managerError("ssh://w", &engine.SwarmState{LocalNodeState: "inactive"})
	if !errors.Is(err, ErrNotManager) || !strings.Contains(err.Error(), "docker swarm init") {
		t.Errorf("inactive: %v", err)
	}
	worker := &engine.SwarmState{LocalNodeState: "active"}
	worker.RemoteManagers = append(worker.RemoteManagers, struct {
		NodeID string `json:"NodeID"`
		Addr   string `json:"Addr"`
	}{"n1", "10.0.0.2:2377"})
	err = managerError("ssh://w", worker)
	if !errors.Is(err, ErrNotManager) || !strings.Contains(err.Error(), "ssh://root@10.0.0.2") {
		t.Errorf("worker: %v", err)
	}
}
