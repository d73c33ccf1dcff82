package stackops

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	"github.com/compose-spec/compose-go/v2/dotenv"

	"github.com/stackpilot/stackpilot/stackops/endpoint"
	"github.com/stackpilot/stackpilot/stackops/internal/engine"
)

// DoctorCheck is one line of the doctor's report.
type DoctorCheck struct {
	// Name is what was checked: "docker CLI", "docker daemon", …
	Name string `json:"name"`
	// OK is true when the check passed (or does not apply).
	OK bool `json:"ok"`
	// Detail is what was found: a path, a version, the services.
	Detail string `json:"detail"`
	// Fix says what to do when the check failed.
	Fix string `json:"fix,omitempty"`
	// Skipped is true when an earlier failure made the check meaningless.
	Skipped bool `json:"skipped,omitempty"`
	// Warning is true for a passed check whose detail deserves attention.
	Warning bool `json:"warning,omitempty"`
}

// DoctorResult is the doctor's whole report.
type DoctorResult struct {
	Checks []DoctorCheck `json:"checks"`
	OK     bool          `json:"ok"`
	// Endpoint is the engine the checks asked (nil when none could be
	// resolved): its address, docker context and the setting that chose it.
	Endpoint *endpoint.Endpoint `json:"endpoint"`
	// Stack is the loaded stack when the compose file was valid (not in JSON).
	Stack *Stack `json:"-"`
}

// DoctorOptions configures Doctor.
type DoctorOptions struct {
	Load LoadOptions
	// Runner runs docker/compose for the version checks; ExecRunner when nil.
	Runner Runner
	// LookPath finds binaries; exec.LookPath when nil (tests replace it).
	LookPath func(string) (string, error)
}

// Doctor checks everything stackpilot needs, independently, so one failure
// does not hide the others: the docker CLI, the daemon (and why it cannot be
// reached), the engine version, the Compose variant, the compose file and the
// .env file. Every failed check carries the fix.
func Doctor(ctx context.Context, opts DoctorOptions) *DoctorResult {
	runner := opts.Runner
	if runner == nil {
		runner = &ExecRunner{}
	}
	lookPath := opts.LookPath
	if lookPath == nil {
		lookPath = exec.LookPath
	}
	environ := opts.Load.Environ
	if environ == nil {
		environ = os.Environ()
	}
	res := &DoctorResult{}

	var (
		wg          sync.WaitGroup
		daemonCheck DoctorCheck
		engineCheck DoctorCheck
		composeChk  DoctorCheck
		compose     *ComposeCLI
	)
	dockerCheck := DoctorCheck{Name: "docker CLI"}
	if p, err := lookPath("docker"); err == nil {
		dockerCheck.OK, dockerCheck.Detail = true, p
	} else {
		dockerCheck.Detail = "docker not found in PATH"
		dockerCheck.Fix = "install Docker (Debian: apt-get install docker.io) and make sure docker is in PATH"
	}

	wg.Add(2)
	go func() {
		defer wg.Done()
		daemonCheck, engineCheck, res.Endpoint = checkDaemon(ctx, endpoint.Options{Context: opts.Load.Context, Host: opts.Load.Host, Environ: environ})
	}()
	go func() {
		defer wg.Done()
		composeChk = DoctorCheck{Name: "compose"}
		c, err := DetectCompose(ctx, runner, environ)
		if err != nil {
			composeChk.Detail = err.Error()
			composeChk.Fix = "install the Compose v2 plugin (docker compose) or Compose v1 (Debian: apt-get install docker-compose)"
			if strings.Contains(err.Error(), ComposeEnvVar) {
				composeChk.Fix = fmt.Sprintf("install the Compose variant %s forces, or unset %s", ComposeEnvVar, ComposeEnvVar)
			}
			return
		}
		composeChk.OK = true
		composeChk.Detail = fmt.Sprintf("Compose %s %s (%s)", c.Variant, c.Version, strings.Join(c.Command, " "))
		compose = c
	}()

	fileCheck := DoctorCheck{Name: "compose file"}
	envCheck := DoctorCheck{Name: ".env file"}
	loadOpts := opts.Load
	loadOpts.Runner = runner
	st, err := Load(ctx, loadOpts)
	if err != nil {
		fileCheck.Detail = err.Error()
		switch {
		case errors.Is(err, ErrNoComposeFile):
			fileCheck.Fix = "run stackpilot in the project directory, or pass -C DIR or -f FILE"
		case errors.Is(err, ErrInvalidConfig):
			fileCheck.Fix = "fix the x-stackpilot block (its keys are listed in the README)"
		default:
			fileCheck.Fix = "fix the compose file at the place named above"
		}
		envCheck = checkDotEnvFile(ctx, guessDotEnv(opts.Load, environ))
	} else {
		res.Stack = st
		fileCheck.OK = true
		fileCheck.Detail = fmt.Sprintf("%s — project %q, %d services: %s", strings.Join(st.ComposeFiles, ", "), st.Name, len(st.ServiceNames()), strings.Join(st.ServiceNames(), ", "))
		envCheck = checkEnvFiles(ctx, st)
	}
	wg.Wait()
	verdict := DoctorCheck{Name: "Compose's verdict", OK: true, Skipped: true}
	versions := DoctorCheck{Name: "compose-go", OK: true, Skipped: true, Detail: "skipped: no Compose"}
	switch {
	case compose == nil:
		verdict.Detail = "skipped: no Compose"
	case res.Stack == nil:
		verdict.Detail = "skipped: the compose file did not load"
	default:
		verdict = composeVerdict(ctx, runner, res.Stack, compose)
	}
	if compose != nil {
		versions = composeGoCheck(ctx, runner, compose)
	}
	res.Checks = []DoctorCheck{dockerCheck, daemonCheck, engineCheck, composeChk, fileCheck, verdict, versions, envCheck}
	if res.Stack != nil && res.Stack.unsealed != nil {
		res.Checks = append(res.Checks, unsealCheck(res.Stack))
	}
	if res.Stack != nil {
		if ep, err := res.Stack.Endpoint(); err == nil && ep.Remote() {
			res.Checks = append(res.Checks, checkClientBindMounts(res.Stack, ep.Host))
		}
	}
	res.OK = true
	for _, c := range res.Checks {
		if !c.OK {
			res.OK = false
		}
	}
	return res
}

func checkDaemon(ctx context.Context, where endpoint.Options) (DoctorCheck, DoctorCheck, *endpoint.Endpoint) {
	daemon := DoctorCheck{Name: "docker daemon"}
	ver := DoctorCheck{Name: "engine version"}
	ep, err := endpoint.Resolve(where)
	var eng *engine.Client
	if err == nil {
		eng, err = engine.NewEndpoint(ep)
	}
	if err != nil {
		daemon.Detail = err.Error()
		daemon.Fix = "pick a context `docker context ls` lists, or set DOCKER_HOST to unix:///var/run/docker.sock, tcp://HOST:PORT or ssh://USER@HOST"
		ver.Skipped, ver.OK, ver.Detail = true, true, "skipped: daemon not reachable"
		return daemon, ver, ep
	}
	defer eng.Close()
	if _, err := eng.Ping(ctx); err != nil {
		daemon.Detail = describeDockerError(err)
		var de *engine.DaemonError
		switch {
		case errors.As(err, &de) && de.Fix != "":
			daemon.Detail, daemon.Fix = fmt.Sprintf("docker daemon not reachable at %s: %v", de.Host, de.Cause), de.Fix
		case errors.Is(err, engine.ErrPermissionDenied):
			daemon.Fix = "add your user to the docker group (sudo usermod -aG docker $USER, then log in again) or run with sudo"
		case errors.Is(err, engine.ErrDaemonDown):
			daemon.Fix = "start the daemon: sudo systemctl start docker (or sudo dockerd &)"
		default:
			daemon.Fix = "check DOCKER_HOST and that the daemon is running"
		}
		ver.Skipped, ver.OK, ver.Detail = true, true, "skipped: daemon not reachable"
		return daemon, ver, ep
	}
	daemon.OK, daemon.Detail = true, "reachable at "+ep.String()
	v, err := eng.ServerVersion(ctx)
	if err != nil {
		ver.Detail = err.Error()
		ver.Fix = "check the daemon's log"
		return daemon, ver, ep
	}
	ver.OK = true
	ver.Detail = fmt.Sprintf("Docker Engine %s (API %s, %s/%s)", v.Version, v.APIVersion, v.Os, v.Arch)
	return daemon, ver, ep
}

// guessDotEnv finds the .env a project would use when the compose file could not be loaded.
func guessDotEnv(o LoadOptions, environ []string) string {
	if len(o.EnvFiles) > 0 {
		return o.EnvFiles[len(o.EnvFiles)-1]
	}
	dir := o.ProjectDir
	if dir == "" {
		dir = o.WorkDir
	}
	if dir == "" {
		dir, _ = os.Getwd()
	}
	return filepath.Join(dir, ".env")
}

func checkDotEnvFile(_ context.Context, path string) DoctorCheck {
	c := DoctorCheck{Name: ".env file"}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		c.OK, c.Detail = true, "no "+path+" (optional)"
		return c
	}
	if err != nil {
		c.Detail = err.Error()
		c.Fix = "make the file readable by this user"
		return c
	}
	defer f.Close()
	vars, err := dotenv.ParseWithLookup(f, func(string) (string, bool) { return "", false })
	if err != nil {
		c.Detail = MaskedEnvFileError(path, nil).Error() // compose-go's error quotes the value
		c.Fix = "fix the line named above (KEY=VALUE, quote values with spaces or #)"
		return c
	}
	c.OK = true
	c.Detail = fmt.Sprintf("%s parses: %d variables", path, len(vars))
	return c
}

// checkEnvFiles checks every env file Compose reads for the stack.
func checkEnvFiles(ctx context.Context, st *Stack) DoctorCheck {
	switch {
	case len(st.EnvFiles) == 0 && st.EnvFilesDisabled():
		return DoctorCheck{Name: ".env file", OK: true, Detail: disableEnvFileVar + " is set: Compose reads no .env"}
	case len(st.EnvFiles) == 0:
		return checkDotEnvFile(ctx, st.DotEnvPath())
	}
	var details []string
	for _, f := range st.EnvFiles {
		c := checkDotEnvFile(ctx, f)
		if !c.OK {
			return c
		}
		details = append(details, c.Detail)
	}
	c := DoctorCheck{Name: ".env file", OK: true, Detail: strings.Join(details, "; ")}
	if len(st.EnvFiles) > 1 {
		c.Name = "env files"
		c.Detail += fmt.Sprintf(" — Compose reads them in this order; env set edits %s", st.DotEnvPath())
	}
	return c
}

// checkClientBindMounts warns, on a remote engine, about each bind mount
// Compose resolves on this machine while the server mounts its own path.
func checkClientBindMounts(st *Stack, host string) DoctorCheck {
	c := DoctorCheck{Name: "bind mounts", OK: true}
	binds := st.ClientBindMounts()
	if len(binds) == 0 {
		c.Detail = "no bind mount of a path on this machine (the engine at " + host + " mounts the server's paths)"
		return c
	}
	c.Warning = true
	lines := make([]string, 0, len(binds))
	for _, b := range binds {
		lines = append(lines, b.String())
	}
	c.Detail = strings.Join(lines, "; ")
	return c
}
