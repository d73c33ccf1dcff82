package stackops_test

// The compatibility suite: Compose's own end-to-end fixtures, read in place
// from the docker/compose module (never copied into this repository), each
// loaded the way Compose's own e2e tests load it — same working directory,
// flags and environment, encoded in fixtureCases with the upstream test
// that does it. For each, stackpilot's model (service set, project name,
// images, environment, the whole service definitions) must equal what
// `docker compose config --format json` prints; the argv stackpilot gives
// Compose (ComposeArgs) must make Compose build that same model; and the
// interpolation environment and the env commands' values must equal
// `docker compose config --environment`. Differences that are legitimate
// are named in the case, with the reason.
//
// It needs Compose v2 only (`config` does not talk to the engine).

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/stackpilot/stackpilot/internal/itest"
	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/env"
)

// composeModule is the Compose release the test command installs
// (scripts/ensure-docker.sh) and whose fixtures this suite reads.
const composeModule = "github.com/docker/compose/v5@v5.0.2"

// fixtureCase is one way an upstream e2e test runs Compose on a fixture.
type fixtureCase struct {
	name string
	// upstream is the test that runs Compose this way (pkg/e2e/FILE:LINE in
	// the module) — the source of dir, args and env.
	upstream string
	// dir is the working directory, relative to pkg/e2e (the upstream
	// tests' working directory); "" is pkg/e2e itself.
	dir string
	// args are the project flags the upstream test passes (only those:
	// -f, -p, --project-directory, --env-file, --profile).
	args []string
	// env is what the upstream test adds to its minimal environment.
	env []string
	// tmpFiles are written to a temporary directory, $TMP in args and env.
	tmpFiles map[string]string
	// services are the services the upstream command names (up/run SERVICE).
	services []string
	// configFlags are added to `config` where the upstream command is
	// not `config` and `config` alone would not show what it does.
	configFlags []string
	// differ names legitimate differences: a JSON path prefix of the model
	// (or "load", "environment", "env.KEY") and why.
	differ map[string]string
	// serviceEnv are values the upstream test sees in a container
	// ("SERVICE.KEY": value), asserted on stackpilot's model where `config`
	// cannot show them.
	serviceEnv map[string]string
}

// fileDiffers are the legitimate differences of compose files, for every
// case that loads them.
var fileDiffers = map[string]map[string]string{
	"fixtures/watch/x-initialSync.yaml": {
		"services.test.develop.watch": "the legacy key x-initialSync is read as initial_sync by stackpilot's newer compose-go (v2.16: loader/aliases.go); Compose v5.0.2's compose-go v2.10 ignores it",
	},
}

// yamlFiles are the compose files Compose v5.0.2 cannot print as JSON:
// their model is compared through `config --format yaml`.
var yamlFiles = map[string]string{
	"fixtures/build-test/ssh/compose.yaml": "build.ssh: Compose v5.0.2's types.SSHKey MarshalJSON writes invalid JSON (\"invalid character ':' after top-level value\")",
}

// fixtureCases: how Compose's own e2e tests run it. Compose files that no
// case names are added by allFixtureCases, loaded with `-f FILE` from
// pkg/e2e (the way most upstream tests load theirs).
var fixtureCases = []fixtureCase{
	// .env, COMPOSE_FILE and COMPOSE_PROFILES set by the .env where Compose stands.
	{name: "dotenv/cwd", upstream: "compose_test.go:325 TestComposeFileSetByDotEnv", dir: "fixtures/dotenv"},
	{name: "dotenv/project-directory", upstream: "compose_test.go:341 TestComposeFileSetByProjectDirectory",
		args: []string{"--project-directory", "fixtures/dotenv/development"}},
	{name: "dotenv/env-file", upstream: "compose_test.go:363 TestComposeFileSetByEnvFile",
		tmpFiles: map[string]string{".env": "\nCOMPOSE_FILE=fixtures/dotenv/development/compose.yaml\nIMAGE_NAME=test\nIMAGE_TAG=latest\nCOMPOSE_PROFILES=test\n"},
		args:     []string{"--env-file", "$TMP/.env"}},
	{name: "dotenv/raw", upstream: "env_file_test.go:31 TestRawEnvFile", args: []string{"-f", "./fixtures/dotenv/raw.yaml"}, services: []string{"test"}},
	{name: "nested/root", upstream: "compose_test.go:378 TestNestedDotEnv", dir: "fixtures/nested", services: []string{"echo"}},
	{name: "nested/sub", upstream: "compose_test.go:386 TestNestedDotEnv", dir: "fixtures/nested/sub", services: []string{"echo"}},

	// The priority of the environment, --env-file, COMPOSE_ENV_FILES and .env.
	{name: "env-priority/with-env", upstream: "compose_environment_test.go:32 TestEnvPriority",
		args: []string{"-f", "./fixtures/environment/env-priority/compose-with-env.yaml"}},
	{name: "env-priority/with-env+override+shell", upstream: "compose_environment_test.go:43 TestEnvPriority",
		args: []string{"-f", "./fixtures/environment/env-priority/compose-with-env.yaml", "--env-file", "./fixtures/environment/env-priority/.env.override"},
		env:  []string{"WHEREAMI=shell"}, services: []string{"env-compose-priority"}},
	{name: "env-priority/override", upstream: "compose_environment_test.go:58 TestEnvPriority",
		args:     []string{"-f", "./fixtures/environment/env-priority/compose-with-env.yaml", "--env-file", "./fixtures/environment/env-priority/.env.override"},
		services: []string{"env-compose-priority"}},
	{name: "env-priority/shell", upstream: "compose_environment_test.go:72 TestEnvPriority",
		args: []string{"-f", "./fixtures/environment/env-priority/compose.yaml", "--env-file", "./fixtures/environment/env-priority/.env.override"},
		env:  []string{"WHEREAMI=shell"}, services: []string{"env-compose-priority"}},
	{name: "env-priority/shell+default", upstream: "compose_environment_test.go:87 TestEnvPriority",
		args: []string{"-f", "./fixtures/environment/env-priority/compose.yaml", "--env-file", "./fixtures/environment/env-priority/.env.override.with.default"},
		env:  []string{"WHEREAMI=shell"}, services: []string{"env-compose-priority"}},
	{name: "env-priority/default", upstream: "compose_environment_test.go:102 TestEnvPriority",
		args:     []string{"-f", "./fixtures/environment/env-priority/compose.yaml", "--env-file", "./fixtures/environment/env-priority/.env.override.with.default"},
		services: []string{"env-compose-priority"}},
	{name: "env-priority/COMPOSE_ENV_FILES", upstream: "compose_environment_test.go:116 TestEnvPriority",
		args: []string{"-f", "./fixtures/environment/env-priority/compose.yaml"},
		env:  []string{"COMPOSE_ENV_FILES=./fixtures/environment/env-priority/.env.override.with.default"}, services: []string{"env-compose-priority"}},
	{name: "env-priority/env_file", upstream: "compose_environment_test.go:144 TestEnvPriority",
		args: []string{"-f", "./fixtures/environment/env-priority/compose-with-env-file.yaml"}, services: []string{"env-compose-priority"}},
	{name: "env-priority/dotenv", upstream: "compose_environment_test.go:169 TestEnvPriority",
		args: []string{"-f", "./fixtures/environment/env-priority/compose.yaml"}, services: []string{"env-compose-priority"}},
	{name: "env-priority/empty", upstream: "compose_environment_test.go:181 TestEnvPriority",
		args:     []string{"-f", "./fixtures/environment/env-priority/compose.yaml", "--env-file", "./fixtures/environment/env-priority/.env.empty"},
		services: []string{"env-compose-priority"}},
	{name: "env-interpolation/shell", upstream: "compose_environment_test.go:196 TestEnvInterpolation",
		args: []string{"-f", "./fixtures/environment/env-interpolation/compose.yaml"}, env: []string{"WHEREAMI=shell"}},
	{name: "env-interpolation/default", upstream: "compose_environment_test.go:203 TestEnvInterpolation",
		args: []string{"-f", "./fixtures/environment/env-interpolation-default-value/compose.yaml"}},
	{name: "env-file-comments", upstream: "compose_environment_test.go:214 TestCommentsInEnvFile",
		args: []string{"-f", "./fixtures/environment/env-file-comments/compose.yaml"}},
	{name: "empty-variable", upstream: "compose_environment_test.go:233 TestUnsetEnv",
		args: []string{"-f", "./fixtures/environment/empty-variable/compose.yaml"}},

	// env_file entries, selecting a service whose env_file exists.
	// `up serviceA` starts although serviceB's env_file is missing: Compose
	// reads the env_file of the services it starts. `config` reads them all
	// (and fails), so the model is compared with --no-env-resolution;
	// serviceA has neither env_file nor bare environment entries, so its
	// model is the same resolved or not.
	{name: "env_file/serviceA", upstream: "env_file_test.go:39 TestUnusedMissingEnvFile",
		args: []string{"-f", "./fixtures/env_file/compose.yaml"}, services: []string{"serviceA"}, configFlags: []string{"--no-env-resolution"}},
	{name: "env_file/all", upstream: "env_file_test.go:39 TestUnusedMissingEnvFile (all services: Compose fails on serviceB's env_file)",
		args: []string{"-f", "./fixtures/env_file/compose.yaml"}},
	{name: "env_file/serviceC", upstream: "env_file_test.go:51 TestRunEnvFile",
		args: []string{"--project-directory", "./fixtures/env_file"}, services: []string{"serviceC"}, configFlags: []string{"--no-env-resolution"},
		differ: map[string]string{
			"services.serviceC.env_file":    "config --no-env-resolution keeps env_file; stackpilot's model has it read (serviceEnv checks the value `run serviceC env` prints)",
			"services.serviceC.environment": "config --no-env-resolution leaves environment without env_file's values",
		},
		serviceEnv: map[string]string{"serviceC.FOO": "BAR"}},

	// Profiles: --profile, none, a profiled service named, an --env-file setting COMPOSE_PROFILES.
	{name: "profiles/flag", upstream: "profiles_test.go:38 TestExplicitProfileUsage",
		args: []string{"-f", "./fixtures/profiles/compose.yaml", "-p", "compose-e2e-explicit-profiles", "--profile", "test-profile"}},
	{name: "profiles/none", upstream: "profiles_test.go:88 TestNoProfileUsage",
		args: []string{"-f", "./fixtures/profiles/compose.yaml", "-p", "compose-e2e-no-profiles"}},
	{name: "profiles/named-service", upstream: "profiles_test.go:139 TestActiveProfileViaTargetedService",
		args: []string{"-f", "./fixtures/profiles/compose.yaml", "-p", "compose-e2e-via-target-service-profiles"}, services: []string{"profiled-service"}},
	{name: "profiles/env-file", upstream: "profiles_test.go:199 TestDotEnvProfileUsage",
		args: []string{"-f", "./fixtures/profiles/compose.yaml", "--env-file", "./fixtures/profiles/test-profile.env", "-p", "compose-e2e-dotenv-profiles", "--profile", "test-profile"}},
	{name: "profiles/docker-compose-foo", upstream: "up_test.go:189 TestUpProfile",
		args: []string{"-f", "./fixtures/profiles/docker-compose.yaml", "--project-name", "compose-e2e-up-profile"}, services: []string{"foo"}},
	{name: "restart-test/profile", upstream: "restart_test.go:110 TestRestartWithProfiles",
		args: []string{"-f", "./fixtures/restart-test/compose.yaml", "--profile", "test"}, env: []string{"COMPOSE_PROJECT_NAME=e2e-restart-profiles"}},
	{name: "restart-test/depends-on", upstream: "restart_test.go:79 TestRestartWithDependencies",
		args: []string{"-f", "./fixtures/restart-test/compose-depends-on.yaml"}, env: []string{"COMPOSE_PROJECT_NAME=e2e-restart-deps"}},

	// COMPOSE_FILE and COMPOSE_PROJECT_NAME from the environment.
	{name: "network-test/COMPOSE_FILE", upstream: "networks_test.go:33 TestNetworks",
		env: []string{"COMPOSE_PROJECT_NAME=network-e2e", "COMPOSE_FILE=./fixtures/network-test/compose.yaml"}},
	{name: "network-test/subnet", upstream: "networks_test.go:163 TestNetworkConfigChanged",
		args: []string{"-f", "./fixtures/network-test/compose.subnet.yaml", "--project-name", "network_config_change"}, env: []string{"SUBNET=192.168.0.0/16"}},
	{name: "network-recreate", upstream: "networks_test.go:211 TestNetworkRecreate",
		args: []string{"-f", "./fixtures/network-recreate/compose.yaml", "--project-name", "network_recreate"}, env: []string{"FOO=bar"}},
	{name: "pause", upstream: "pause_test.go:37 TestPause",
		env: []string{"COMPOSE_PROJECT_NAME=e2e-pause", "COMPOSE_FILE=./fixtures/pause/compose.yaml"}},
	{name: "start-stop/COMPOSE_FILE", upstream: "start_stop_test.go:186 TestStartStopMultipleServices",
		env: []string{"COMPOSE_PROJECT_NAME=e2e-start-stop-svc-multiple", "COMPOSE_FILE=./fixtures/start-stop/compose.yaml"}},
	{name: "start-stop/deps", upstream: "start_stop_test.go:249 TestStartStopWithOneOffs",
		env: []string{"COMPOSE_PROJECT_NAME=e2e-start-stop-with-oneoffs", "COMPOSE_FILE=./fixtures/start-stop/start-stop-deps.yaml"}},
	{name: "build-dependencies/classic", upstream: "build_test.go:279 TestBuildDependsOn",
		env: []string{"DOCKER_BUILDKIT=0", "COMPOSE_FILE=./fixtures/build-dependencies/classic.yaml"}},
	{name: "build-dependencies/bake", upstream: "build_test.go:288 TestBuildDependsOn",
		env: []string{"DOCKER_BUILDKIT=1", "COMPOSE_BAKE=1", "COMPOSE_FILE=./fixtures/build-dependencies/compose.yaml"}, services: []string{"service"}},
	{name: "watch/external-network", upstream: "watch_test.go:54 TestRebuildOnDotEnvWithExternalNetwork",
		env: []string{"COMPOSE_PROJECT_NAME=test_rebuild_on_dotenv_with_external_network", "COMPOSE_FILE=./fixtures/watch/with-external-network.yaml"}},
	{name: "recreate-no-deps", upstream: "recreate_no_deps_test.go:26 TestRecreateWithNoDeps",
		args: []string{"-f", "fixtures/dependencies/recreate-no-deps.yaml"}, env: []string{"COMPOSE_PROJECT_NAME=recreate-no-deps"}},

	// Variables the compose files interpolate, set by the upstream tests.
	{name: "logging-driver", upstream: "compose_up_test.go:107 TestLoggingDriver",
		args: []string{"-f", "fixtures/logging-driver/compose.yaml", "--project-name", "e2e-logging-driver"}, env: []string{"HOST=127.0.0.1", "BAR=foo"}},
	{name: "env-secret/foo", upstream: "secrets_test.go:30 TestSecretFromEnv",
		args: []string{"-f", "./fixtures/env-secret/compose.yaml"}, env: []string{"SECRET=BAR"}, services: []string{"foo"}},
	{name: "env-secret/included", upstream: "secrets_test.go:50 TestSecretFromInclude",
		args: []string{"-f", "./fixtures/env-secret/compose.yaml"}, services: []string{"included"}},
	{name: "configs/from_env", upstream: "configs_test.go:35 TestConfigFromEnv",
		args: []string{"-f", "./fixtures/configs/compose.yaml"}, env: []string{"CONFIG=config"}, services: []string{"from_env"}},
	{name: "configs/from_file", upstream: "configs_test.go:30 TestConfigFromEnv",
		args: []string{"-f", "./fixtures/configs/compose.yaml"}, services: []string{"from_file"}},
	{name: "logs-test/large", upstream: "logs_test.go:105 TestLocalComposeLargeLogs",
		args: []string{"-f", "./fixtures/logs-test/cat.yaml", "--project-name", "compose-e2e-large_logs"}, env: []string{"FILE=$TMP/large.txt"}, tmpFiles: map[string]string{"large.txt": "x\n"}},
	{name: "simple-composefile/id", upstream: "up_test.go:206 TestUpImageID",
		args: []string{"-f", "./fixtures/simple-composefile/id.yaml", "--project-name", "compose-e2e-up-image-id"}, env: []string{"ID=sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}},
	{name: "project-volume-bind", upstream: "volumes_test.go:111 TestProjectVolumeBind",
		args: []string{"--project-directory", "fixtures/project-volume-bind-test", "--project-name", "compose-e2e-project-volume-bind"}, env: []string{"TEST_DIR=$TMP"}, tmpFiles: map[string]string{"keep": ""}},

	// --project-directory, alone and with -f.
	{name: "build-test", upstream: "build_test.go:45 TestLocalComposeBuild", args: []string{"--project-directory", "fixtures/build-test"}},
	{name: "build-test/ssh", upstream: "build_test.go:163 TestBuildSSH", args: []string{"--project-directory", "fixtures/build-test/ssh"}},
	{name: "build-test/ssh-without", upstream: "build_test.go:170 TestBuildSSH",
		args: []string{"-f", "fixtures/build-test/ssh/compose-without-ssh.yaml", "--project-directory", "fixtures/build-test/ssh"}},
	{name: "build-test/secrets", upstream: "build_test.go:211 TestBuildSecrets", args: []string{"--project-directory", "fixtures/build-test/secrets"}, env: []string{"SOME_SECRET=bar"}},
	{name: "build-test/tags", upstream: "build_test.go:228 TestBuildTags", args: []string{"--project-directory", "./fixtures/build-test/tags"}},
	{name: "build-test/platforms", upstream: "build_test.go:323 TestBuildPlatformsStandardErrors", args: []string{"--project-directory", "fixtures/build-test/platforms"}},
	{name: "build-test/privileged", upstream: "build_test.go:379 TestBuildPrivileged", args: []string{"--project-directory", "fixtures/build-test/privileged"}},
	{name: "build-test/entitlements", upstream: "build_test.go:493 TestBuildEntitlements", args: []string{"--project-directory", "fixtures/build-test/entitlements"}},
	{name: "build-test/escaped", upstream: "build_test.go:633 TestBuildEscaped", args: []string{"--project-directory", "./fixtures/build-test/escaped"}, services: []string{"foo"}},
	{name: "build-test/multi-args", upstream: "build_test.go:85 TestLocalComposeBuild", args: []string{"--project-directory", "fixtures/build-test/multi-args"}, env: []string{"DOCKER_BUILDKIT=0"}},
	{name: "attach-restart", upstream: "compose_test.go:150 TestAttachRestart", args: []string{"--project-directory", "./fixtures/attach-restart"}},
	{name: "init-container", upstream: "compose_test.go:167 TestInitContainer", args: []string{"--project-directory", "./fixtures/init-container"}},
	{name: "simple-composefile/exec", upstream: "compose_exec_test.go:33 TestLocalComposeExec",
		args: []string{"--project-directory", "fixtures/simple-composefile", "--project-name", "compose-e2e-exec"}},
	{name: "scale", upstream: "scale_test.go:38 TestScaleBasicCases", args: []string{"--project-directory", "fixtures/scale"}, env: []string{"COMPOSE_PROJECT_NAME=scale-basic-tests"}},
	{name: "compose-pull/simple", upstream: "pull_test.go:34 TestComposePull", args: []string{"--project-directory", "fixtures/compose-pull/simple"}},
	{name: "compose-pull/image-present-locally", upstream: "pull_test.go:52 TestComposePull", args: []string{"--project-directory", "fixtures/compose-pull/image-present-locally"}},
	{name: "compose-pull/no-image-name-given", upstream: "pull_test.go:61 TestComposePull", args: []string{"--project-directory", "fixtures/compose-pull/no-image-name-given"}},
	{name: "compose-pull/unknown-image", upstream: "pull_test.go:68 TestComposePull", args: []string{"--project-directory", "fixtures/compose-pull/unknown-image"}},
	{name: "volume-test", upstream: "volumes_test.go:42 TestLocalComposeVolume",
		args: []string{"--project-directory", "fixtures/volume-test", "--project-name", "compose-e2e-volume"}},
	{name: "dependencies/image-depends-on", upstream: "up_test.go:117 TestUpWithDependencyNotRequired",
		args: []string{"--project-directory", "fixtures/dependencies", "-f", "fixtures/dependencies/service-image-depends-on.yaml"}},
	{name: "dependencies/exit", upstream: "up_test.go:133 TestUpWithDependencyExit",
		args: []string{"--project-directory", "fixtures/dependencies", "-f", "fixtures/dependencies/dependency-exit.yaml"}},
	{name: "ups-deps-stop/orphan", upstream: "up_test.go:61 TestUpDependenciesNotStopped", args: []string{"-f=./fixtures/ups-deps-stop/orphan.yaml"}, services: []string{"orphan"}},
	{name: "ups-deps-stop/app", upstream: "up_test.go:72 TestUpDependenciesNotStopped", args: []string{"-f=./fixtures/ups-deps-stop/compose.yaml"}, services: []string{"app"}},
	{name: "container_name/test", upstream: "container_name_test.go:39 TestUpContainerNameConflict",
		args: []string{"-f", "fixtures/container_name/compose.yaml", "--project-name", "e2e_container_name_conflict"}, services: []string{"test"}},
	{name: "commit/service", upstream: "commit_test.go:33 TestCommit",
		args: []string{"-f", "./fixtures/commit/compose.yaml", "--project-name", "e2e-commit-service"}, services: []string{"service"}},
	{name: "logs-test/ping", upstream: "logs_test.go:83 TestLocalComposeLogsFollow",
		args: []string{"-f", "./fixtures/logs-test/compose.yaml", "--project-name", "compose-e2e-logs-restart"}, env: []string{"REPEAT=20"}, services: []string{"ping"}},
	{name: "start_interval/test", upstream: "healthcheck_test.go:43 TestStartInterval",
		args: []string{"-f", "fixtures/start_interval/compose.yaml", "--project-name", "e2e-start-interval"}, services: []string{"test"}},
}

var (
	e2eOnce sync.Once
	e2eDir  string
	e2eErr  error
)

// upstreamE2E is pkg/e2e in the Compose module, downloaded through the Go
// module proxy when the module cache does not hold it yet.
func upstreamE2E(t *testing.T) string {
	t.Helper()
	e2eOnce.Do(func() {
		out, err := exec.Command("go", "mod", "download", "-json", composeModule).Output()
		if err != nil {
			e2eErr = fmt.Errorf("go mod download %s: %v", composeModule, err)
			return
		}
		var m struct{ Dir, Error string }
		if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
			e2eErr = fmt.Errorf("go mod download %s: no directory (%s %v)", composeModule, m.Error, err)
			return
		}
		e2eDir = filepath.Join(m.Dir, "pkg", "e2e")
	})
	if e2eErr != nil {
		t.Fatal(e2eErr)
	}
	return e2eDir
}

// requireComposeV2 skips without Compose v2, or fails when the test
// command requires docker.
func requireComposeV2(t *testing.T) {
	t.Helper()
	if err := exec.Command("docker", "compose", "version", "--short").Run(); err != nil {
		if os.Getenv("STACKPILOT_REQUIRE_DOCKER") != "" {
			t.Fatalf("the compatibility suite needs Compose v2 (docker compose): %v", err)
		}
		t.Skipf("SKIP (no Compose v2): %v", err)
	}
}

// allFixtureCases is fixtureCases plus `-f FILE` for every compose file of
// the fixtures that no case loads.
func allFixtureCases(t *testing.T, e2e string) []fixtureCase {
	covered := map[string]bool{}
	for _, c := range fixtureCases {
		for _, f := range caseFiles(c) {
			covered[f] = true
		}
	}
	cases := append([]fixtureCase{}, fixtureCases...)
	err := filepath.WalkDir(filepath.Join(e2e, "fixtures"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(e2e, p)
		if d.IsDir() {
			if strings.Contains(rel, "expected-") { // bridge's conversion outputs, not compose files
				return filepath.SkipDir
			}
			return nil
		}
		if ext := filepath.Ext(p); (ext == ".yaml" || ext == ".yml") && !covered[rel] && isComposeFile(p) {
			cases = append(cases, fixtureCase{name: "file/" + strings.TrimPrefix(rel, "fixtures/"), upstream: "(no flags beyond -f in the upstream tests)", args: []string{"-f", rel}})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return cases
}

// isComposeFile: a YAML file with a top-level services, include or name key.
func isComposeFile(p string) bool {
	b, err := os.ReadFile(p)
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "services:") || strings.HasPrefix(l, "include:") {
			return true
		}
	}
	return false
}

// caseFiles are the compose files a case names explicitly (relative to pkg/e2e).
func caseFiles(c fixtureCase) []string {
	var out []string
	for i, a := range c.args {
		switch {
		case (a == "-f" || a == "--file") && i+1 < len(c.args):
			out = append(out, filepath.Clean(filepath.Join(c.dir, c.args[i+1])))
		case strings.HasPrefix(a, "-f="):
			out = append(out, filepath.Clean(filepath.Join(c.dir, strings.TrimPrefix(a, "-f="))))
		}
	}
	for _, e := range c.env {
		if v, ok := strings.CutPrefix(e, "COMPOSE_FILE="); ok {
			out = append(out, filepath.Clean(filepath.Join(c.dir, v)))
		}
	}
	return out
}

// composeRun runs docker compose argv[2:] in dir with exactly environ.
func composeRun(dir string, environ []string, argv []string) ([]byte, error) {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = environ
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s: %v: %s", strings.Join(argv, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

func TestIntegrationComposeFixtures(t *testing.T) {
	if itest.Variant() == "v1" {
		t.Skip("the suite compares with Compose v2 and ran in the v2 pass; TestIntegrationComposeFixturesV1 is the v1 one")
	}
	requireComposeV2(t)
	e2e := upstreamE2E(t)
	t.Setenv("STACKPILOT_CACHE_DIR", t.TempDir())
	cases := allFixtureCases(t, e2e)
	if len(cases) < 100 {
		t.Fatalf("only %d cases: the fixtures were not found", len(cases))
	}
	sem := make(chan struct{}, 4)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			checkFixture(t, e2e, c)
		})
	}
}

// differs reports whether the case names a legitimate difference at path
// (a prefix match), and uses it.
func (c fixtureCase) differs(path string) bool {
	for p := range c.differ {
		if path == p || strings.HasPrefix(path, p+".") {
			return true
		}
	}
	return false
}

// setUp writes the case's temporary files and returns its working
// directory, flags and environment ($TMP replaced): the upstream harness's
// minimal environment (framework.go BaseEnvironment: HOME, USER, PATH —
// HOME as ours so docker finds the Compose plugin) plus what the test adds.
func (c fixtureCase) setUp(t *testing.T, e2e string) (dir string, args, environ []string) {
	tmp := t.TempDir()
	for name, content := range c.tmpFiles {
		if err := os.WriteFile(filepath.Join(tmp, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	expand := func(list []string) []string {
		out := make([]string, len(list))
		for i, s := range list {
			out[i] = strings.ReplaceAll(s, "$TMP", tmp)
		}
		return out
	}
	environ = append([]string{"HOME=" + os.Getenv("HOME"), "USER=" + os.Getenv("USER"), "PATH=" + os.Getenv("PATH")}, expand(c.env)...)
	return filepath.Join(e2e, c.dir), expand(c.args), environ
}

func checkFixture(t *testing.T, e2e string, c fixtureCase) {
	ctx := context.Background()
	dir, args, environ := c.setUp(t, e2e)
	for _, f := range caseFiles(c) {
		for path, reason := range fileDiffers[f] {
			if c.differ == nil {
				c.differ = map[string]string{}
			}
			c.differ[path] = reason
		}
	}
	format := "json"
	for _, f := range caseFiles(c) {
		if yamlFiles[f] != "" {
			format = "yaml"
		}
	}
	if c.dir == "" && len(c.args) >= 2 && c.args[0] == "--project-directory" && yamlFiles[filepath.Join(c.args[1], "compose.yaml")] != "" {
		format = "yaml"
	}
	configArgs := append(append([]string{"config", "--format", format}, c.configFlags...), c.services...)

	opts := stackops.HintOptions(t, dir, environ, args)
	// Cases that differ only in the process environment share a cache key
	// (the variables' values are checked in the entry, not keyed): loaded
	// at the same moment, one case's entry replaces the other's between its
	// two loads. The two loads of a case run alone; the rest stays parallel.
	cacheTurn.Lock()
	st, ownErr := stackops.Load(ctx, opts)
	var loaded *types.Project
	if ownErr == nil {
		loaded = st.Project // ResolveServices replaces it when it enables a profile
		_, ownErr = st.ResolveServices(c.services)
	}
	if ownErr == nil {
		ownErr = st.EnvironmentErr(c.services)
	}
	if ownErr != nil {
		cacheTurn.Unlock()
		// stackpilot refuses: so must Compose, on the upstream command.
		_, composeErr := composeRun(dir, environ, append(append([]string{"docker", "compose"}, args...), configArgs...))
		if composeErr == nil && !c.differs("load") {
			t.Fatalf("stackpilot refuses a project Compose loads: %v", ownErr)
		}
		return
	}

	// The same load again comes from the compose-model cache, and is the
	// same model (environment included).
	again, err := stackops.Load(ctx, opts)
	cacheTurn.Unlock()
	if err != nil {
		t.Fatalf("second load: %v", err)
	}
	if !stackops.ModelCached(again) {
		t.Errorf("the second load of the same input did not use the compose-model cache")
	}
	if !reflect.DeepEqual(again.Project, loaded) {
		t.Errorf("the model from the compose-model cache differs from the one loaded")
	}

	// The argv stackpilot gives Compose is the upstream command's own
	// project flags (made absolute), run where it runs: so its model is
	// the model of the upstream command.
	v2 := &stackops.ComposeCLI{Variant: stackops.ComposeV2, Command: []string{"docker", "compose"}}
	deployArgv, err := st.ComposeArgs(v2, configArgs...)
	if err != nil {
		t.Fatal(err)
	}
	flags := deployArgv[2 : len(deployArgv)-len(configArgs)]
	if again := stackops.HintOptions(t, dir, environ, flags); !sameLoadOptions(again, opts) || st.WorkDir != dir {
		t.Fatalf("stackpilot runs Compose with %q in %s; the upstream test with %q in %s", flags, st.WorkDir, args, dir)
	}
	want, err := composeRun(st.WorkDir, environ, deployArgv)
	if err != nil {
		if !c.differs("load") {
			t.Fatalf("stackpilot loads a project Compose refuses: %v", err)
		}
		return
	}
	if format == "yaml" {
		want = yamlToJSON(t, want)
	}

	// stackpilot's own model is Compose's.
	own, err := ownModelJSON(st, c.services, format)
	if err != nil {
		t.Fatal(err)
	}
	if format == "yaml" {
		own = yamlToJSON(t, own)
	}
	for key, want := range c.serviceEnv {
		svc, k, _ := strings.Cut(key, ".")
		if v := st.Project.Services[svc].Environment[k]; v == nil || *v != want {
			t.Errorf("service %s: %s is %v, the upstream test sees %q", svc, k, v, want)
		}
	}
	for _, d := range jsonDiff(t, want, own) {
		path, _, _ := strings.Cut(d, ":")
		if !c.differs(path) {
			t.Errorf("model differs from docker compose %s %s: %s", strings.Join(flags, " "), strings.Join(configArgs, " "), d)
		}
	}

	// A command stackpilot prints for pasting anywhere (a follow-up hint,
	// the crontab entry of backup schedule) finds the same project from
	// another directory: its global flags make up for the directory the
	// upstream test ran in (the .env read there included).
	hintArgs := st.GlobalArgs("")
	hst, err := stackops.Load(ctx, stackops.HintOptions(t, t.TempDir(), environ, hintArgs))
	if err == nil {
		_, err = hst.ResolveServices(c.services)
	}
	if err != nil {
		t.Fatalf("the hint's flags %q, from another directory: %v", hintArgs, err)
	}
	hown, err := ownModelJSON(hst, c.services, format)
	if err != nil {
		t.Fatal(err)
	}
	if format == "yaml" {
		hown = yamlToJSON(t, hown)
	}
	for _, d := range jsonDiff(t, own, hown) {
		t.Errorf("the hint's flags %q, from another directory, find another model: %s", hintArgs, d)
	}

	// The interpolation environment, and the values the env commands show,
	// where something sets variables.
	if len(st.EnvFiles) == 0 && len(c.env) == 0 {
		return
	}
	envArgv, _ := st.ComposeArgs(v2, append([]string{"config", "--environment"}, c.services...)...)
	out, err := composeRun(st.WorkDir, environ, envArgv)
	if err != nil {
		t.Fatal(err)
	}
	composeEnv := map[string]string{}
	for _, l := range strings.Split(strings.TrimSuffix(string(out), "\n"), "\n") {
		if k, v, ok := strings.Cut(l, "="); ok && !strings.HasPrefix(k, "DOCKER_CLI_PLUGIN_") {
			composeEnv[k] = v
		}
	}
	if !c.differs("environment") {
		ownEnv := map[string]string(st.Project.Environment)
		for _, k := range unionKeys(composeEnv, ownEnv) {
			cv, cok := composeEnv[k]
			ov, ook := ownEnv[k]
			if cv != ov || cok != ook {
				t.Errorf("environment %s: compose %q (%v), stackpilot %q (%v)", k, cv, cok, ov, ook)
			}
		}
	}
	opts.Lenient = true
	lst, err := stackops.Load(ctx, opts)
	if err != nil {
		t.Fatalf("lenient load (env commands): %v", err)
	}
	list, err := env.List(ctx, lst, env.ListOptions{Reveal: true})
	if err != nil {
		t.Fatalf("env list: %v", err)
	}
	for _, e := range list.Entries {
		if e.OverriddenByEnvironment || e.OverriddenBy != "" || e.Unset || c.differs("env."+e.Key) {
			continue
		}
		if cv, ok := composeEnv[e.Key]; !ok || cv != e.Value {
			t.Errorf("env list shows %s=%q (%s line %d); Compose uses %q", e.Key, e.Value, e.File, e.Line, cv)
		}
	}
}

func sameLoadOptions(a, b stackops.LoadOptions) bool {
	abs := func(dir string, list []string) []string {
		out := []string{}
		for _, p := range list {
			if p != "" && !filepath.IsAbs(p) {
				p = filepath.Join(dir, p)
			}
			out = append(out, filepath.Clean(p))
		}
		return out
	}
	return reflect.DeepEqual(abs(a.WorkDir, a.Files), abs(b.WorkDir, b.Files)) &&
		reflect.DeepEqual(abs(a.WorkDir, a.EnvFiles), abs(b.WorkDir, b.EnvFiles)) &&
		reflect.DeepEqual(abs(a.WorkDir, []string{a.ProjectDir}), abs(b.WorkDir, []string{b.ProjectDir})) &&
		a.ProjectName == b.ProjectName && reflect.DeepEqual(a.Profiles, b.Profiles)
}

func yamlToJSON(t *testing.T, b []byte) []byte {
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		t.Fatalf("compose's YAML: %v", err)
	}
	out, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("compose's YAML as JSON: %v", err)
	}
	return out
}

// ownModelJSON is stackpilot's model as `docker compose config` prints
// it: the selected services (and what they depend on), the resources they
// use, env_file folded into environment.
func ownModelJSON(st *stackops.Stack, services []string, format string) ([]byte, error) {
	p := st.Project
	var err error
	if len(services) > 0 {
		if p, err = p.WithServicesEnabled(services...); err != nil {
			return nil, err
		}
		if p, err = p.WithSelectedServices(services); err != nil {
			return nil, err
		}
	}
	p = p.WithoutUnnecessaryResources()
	for name, svc := range p.Services {
		svc.EnvFiles = nil // folded into environment, as config --format prints it
		p.Services[name] = svc
	}
	var b []byte
	if format == "yaml" {
		b, err = p.MarshalYAML()
	} else {
		b, err = p.MarshalJSON()
	}
	// config's output escapes every $ (cmd/compose/config.go escapeDollarSign),
	// so that it loads back as the same model.
	return bytes.ReplaceAll(b, []byte("$"), []byte("$$")), err
}

// jsonDiff lists the paths where two JSON documents differ.
func jsonDiff(t *testing.T, a, b []byte) []string {
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("compose's JSON: %v", err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("other JSON: %v", err)
	}
	var out []string
	var walk func(path string, x, y any)
	walk = func(path string, x, y any) {
		xm, xok := x.(map[string]any)
		ym, yok := y.(map[string]any)
		if xok && yok {
			for _, k := range unionKeys(xm, ym) {
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(p, xm[k], ym[k])
			}
			return
		}
		if !reflect.DeepEqual(x, y) {
			xs, _ := json.Marshal(x)
			ys, _ := json.Marshal(y)
			out = append(out, fmt.Sprintf("%s: compose %s, other %s", path, xs, ys))
		}
	}
	walk("", x, y)
	return out
}

func unionKeys[V any](a, b map[string]V) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]V{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// v1Cases are the cases the v1 pass runs: those about env files, where
// Compose v1 resolves differently. For each, stackpilot either gives v1 an
// argv that makes it see stackpilot's model (service set, images,
// environment) or refuses with ErrComposeV1Limit, saying what v1 cannot do;
// v1Differ names what v1 itself reads differently, with the reason.
var v1Cases = map[string]struct {
	limit  bool              // stackpilot refuses v1 (ErrComposeV1Limit)
	differ map[string]string // path in the compared model → reason
}{
	"dotenv/cwd":                           {limit: true},
	"dotenv/project-directory":             {},
	"dotenv/env-file":                      {},
	"nested/root":                          {},
	"nested/sub":                           {limit: true},
	"env-priority/with-env":                {},
	"env-priority/with-env+override+shell": {},
	"env-priority/shell":                   {},
	"env-priority/shell+default":           {},
	"env-priority/default":                 {},
	"env-priority/COMPOSE_ENV_FILES":       {},
	"env-priority/env_file":                {},
	"env-priority/dotenv":                  {},
	"env-priority/empty":                   {},
	"env-interpolation/shell": {differ: map[string]string{
		"services.env-interpolation.environment.IMAGE": "v1 reads .env with python-dotenv, where ${WHEREAMI} in IMAGE=default_env:${WHEREAMI} takes the file's own WHEREAMI=EnvFile; Compose v2 (compose-go) takes the environment's WHEREAMI=shell first",
	}},
	"env-interpolation/default": {},
	"env-file-comments":         {},
	"empty-variable":            {},
	"profiles/flag":             {},
	"profiles/env-file":         {},
}

func TestIntegrationComposeFixturesV1(t *testing.T) {
	if itest.Variant() != "v1" {
		t.Skip("the v1 pass runs it (STACKPILOT_COMPOSE=v1)")
	}
	if _, err := exec.LookPath("docker-compose"); err != nil {
		t.Fatalf("STACKPILOT_COMPOSE=v1 but docker-compose is not installed: %v", err)
	}
	e2e := upstreamE2E(t)
	t.Setenv("STACKPILOT_CACHE_DIR", t.TempDir())
	byName := map[string]fixtureCase{}
	for _, c := range fixtureCases {
		byName[c.name] = c
	}
	sem := make(chan struct{}, 4)
	for name, v1 := range v1Cases {
		c, ok := byName[name]
		if !ok {
			t.Fatalf("v1Cases names %s, which fixtureCases does not have", name)
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sem <- struct{}{}
			defer func() { <-sem }()
			checkFixtureV1(t, e2e, c, v1.limit, v1.differ)
		})
	}
}

func checkFixtureV1(t *testing.T, e2e string, c fixtureCase, limit bool, differ map[string]string) {
	ctx := context.Background()
	dir, args, environ := c.setUp(t, e2e)
	st, err := stackops.Load(ctx, stackops.HintOptions(t, dir, environ, args))
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if _, err := st.ResolveServices(c.services); err != nil {
		t.Fatal(err)
	}
	v1 := &stackops.ComposeCLI{Variant: stackops.ComposeV1, Command: []string{"docker-compose"}}
	argv, err := st.ComposeArgs(v1, "config") // v1's config takes no service names
	if limit {
		if !errors.Is(err, stackops.ErrComposeV1Limit) {
			t.Fatalf("Compose v1 cannot read this project as v2 does (env files %v), but stackpilot gives it %q (%v)", st.EnvFiles, argv, err)
		}
		return
	}
	if err != nil {
		t.Fatalf("stackpilot refuses Compose v1: %v", err)
	}
	out, err := composeRun(st.WorkDir, environ, argv)
	if err != nil {
		t.Fatalf("Compose v1 refuses stackpilot's argv: %v", err)
	}
	var got struct {
		Services map[string]struct {
			Image       string         `yaml:"image"`
			Environment map[string]any `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(out, &got); err != nil {
		t.Fatalf("v1's config: %v", err)
	}
	// v1's config prints the services of inactive profiles too (its up
	// does not start them): they count as listed.
	p := st.Project
	own := map[string]bool{}
	for name := range p.Services {
		own[name] = true
	}
	for name := range p.DisabledServices {
		own[name] = true
	}
	theirNames := map[string]bool{}
	for n := range got.Services {
		theirNames[n] = true
	}
	for _, name := range unionKeys(own, theirNames) {
		theirs, inV1 := got.Services[name]
		svc, inOwn := p.Services[name]
		if !inOwn {
			svc, inOwn = p.DisabledServices[name]
		}
		path := "services." + name
		if inV1 != inOwn {
			if differ[path] == "" {
				t.Errorf("service %s: in v1's model %v, in stackpilot's %v", name, inV1, inOwn)
			}
			continue
		}
		if theirs.Image != svc.Image && differ[path+".image"] == "" {
			t.Errorf("%s.image: v1 %q, stackpilot %q", path, theirs.Image, svc.Image)
		}
		ownEnv := map[string]any{}
		for k, v := range svc.Environment {
			ownEnv[k] = v
		}
		for _, k := range unionKeys(theirs.Environment, ownEnv) {
			tv, tok := theirs.Environment[k]
			ov, ook := svc.Environment[k]
			ts := fmt.Sprint(tv)
			if tv == nil {
				ts = ""
			}
			mine := ""
			if ov != nil {
				mine = *ov
			}
			if (tok != ook || ts != mine) && differ[path+".environment."+k] == "" {
				t.Errorf("%s.environment.%s: v1 %q (%v), stackpilot %q (%v)", path, k, ts, tok, mine, ook)
			}
		}
	}
}

// cacheTurn gives one fixture case at a time its two loads of the same input.
var cacheTurn sync.Mutex
