package stackops

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"
)

// ErrHookFailed means a deploy hook exited non-zero (or could not start).
var ErrHookFailed = errors.New("deploy hook failed")

// DeployConfig is the x-stackpilot `deploy` section:
//
//	x-stackpilot:
//	  deploy:
//	    timeout: 3m            # how long the health gate waits (--timeout overrides)
//	    settle: 5s             # how long a service without a healthcheck must stay up
//	    keep-images: 3         # previous images kept per service for rollback
//	    pre-deploy: ["./scripts/check.sh", "--strict"]           # one command (argv)
//	    post-deploy: [["./scripts/notify.sh"], ["./smoke.sh"]]   # or several
//
// Hooks are argv lists run on the host in the project directory, never
// through a shell; a relative program path (./x) is taken from the project directory.
type DeployConfig struct {
	Timeout    Duration `json:"timeout,omitempty"`
	Settle     Duration `json:"settle,omitempty"`
	KeepImages *int     `json:"keep-images,omitempty"`
	PreDeploy  HookList `json:"pre-deploy,omitempty"`
	PostDeploy HookList `json:"post-deploy,omitempty"`
}

// UnmarshalJSON reads the section with its keys in snake_case too
// (keep_images, pre_deploy, post_deploy), the spelling of the other
// sections and of Compose itself, so one block can use one style.
func (c *DeployConfig) UnmarshalJSON(b []byte) error {
	type plain DeployConfig
	var v struct {
		plain
		KeepImagesSnake *int     `json:"keep_images,omitempty"`
		PreDeploySnake  HookList `json:"pre_deploy,omitempty"`
		PostDeploySnake HookList `json:"post_deploy,omitempty"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return err
	}
	if v.KeepImagesSnake != nil {
		if v.KeepImages != nil {
			return errors.New("keep-images and keep_images are the same key: give it once")
		}
		v.KeepImages = v.KeepImagesSnake
	}
	for _, pair := range []struct {
		name  string
		kebab *HookList
		snake HookList
	}{{"pre-deploy", &v.PreDeploy, v.PreDeploySnake}, {"post-deploy", &v.PostDeploy, v.PostDeploySnake}} {
		if pair.snake == nil {
			continue
		}
		if *pair.kebab != nil {
			return fmt.Errorf("%s and %s are the same key: give it once", pair.name, strings.ReplaceAll(pair.name, "-", "_"))
		}
		*pair.kebab = pair.snake
	}
	*c = DeployConfig(v.plain)
	return nil
}

// DefaultKeepImages is how many earlier images per service stay tagged for rollback.
const DefaultKeepImages = 3

// HookList is one or more commands. In YAML it is a string (a program
// without arguments), a list of strings (one argv), or a list of lists
// (several argvs, run in order, stopping at the first failure).
type HookList [][]string

// UnmarshalJSON implements json.Unmarshaler.
func (h *HookList) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		if strings.TrimSpace(s) == "" {
			return errors.New("a hook command may not be empty")
		}
		*h = HookList{{s}}
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("a hook is a command (a list of strings) or a list of commands, got %s", string(b))
	}
	if len(raw) == 0 {
		*h = nil
		return nil
	}
	var argv []string
	if err := json.Unmarshal(b, &argv); err == nil {
		if argv[0] == "" {
			return errors.New("a hook's program may not be empty")
		}
		*h = HookList{argv}
		return nil
	}
	var out HookList
	for _, r := range raw {
		var one []string
		if err := json.Unmarshal(r, &one); err != nil {
			var single string
			if json.Unmarshal(r, &single) == nil {
				return fmt.Errorf("mix of strings and lists in a hook: write one command as [prog, arg, …] or several as [[prog, arg], [prog2]]")
			}
			return fmt.Errorf("each hook command is a list of strings, got %s", string(r))
		}
		if len(one) == 0 || one[0] == "" {
			return errors.New("a hook command may not be empty")
		}
		out = append(out, one)
	}
	*h = out
	return nil
}

// DeployConfig returns the stack's x-stackpilot deploy section (zero value when absent).
func (s *Stack) DeployConfig() (DeployConfig, error) {
	var cfg DeployConfig
	if err := s.config.Section("deploy", &cfg); err != nil {
		return cfg, err
	}
	if cfg.KeepImages != nil && *cfg.KeepImages < 0 {
		return cfg, fmt.Errorf("%w: %s.deploy.keep-images must be 0 or more", ErrInvalidConfig, ConfigExtension)
	}
	if cfg.Timeout < 0 || cfg.Settle < 0 {
		return cfg, fmt.Errorf("%w: %s.deploy: durations must be positive", ErrInvalidConfig, ConfigExtension)
	}
	return cfg, nil
}

// HookRun is one hook command that ran.
type HookRun struct {
	Hook     string   `json:"hook"` // pre-deploy or post-deploy
	Command  []string `json:"command"`
	ExitCode int      `json:"exit_code"`
	// Output is the command's last lines (stdout and stderr merged).
	Output     []string `json:"output,omitempty"`
	DurationMS int64    `json:"duration_ms"`
	Error      string   `json:"error,omitempty"`
}

// HookError is ErrHookFailed with the run that failed.
type HookError struct {
	Run HookRun
}

func (e *HookError) Error() string {
	msg := fmt.Sprintf("%s hook %s failed: %s", e.Run.Hook, Cmd{Args: e.Run.Command}.String(), e.Run.Error)
	if n := len(e.Run.Output); n > 0 {
		tail := e.Run.Output
		if n > 5 {
			tail = tail[n-5:]
		}
		msg += "\n    " + strings.Join(tail, "\n    ")
	}
	return msg
}

// Is matches ErrHookFailed.
func (e *HookError) Is(target error) bool { return target == ErrHookFailed }

// hookOutputLines is how much of a hook's output is kept in results.
const hookOutputLines = 40

// runHooks runs the commands of one hook in order, in the project
// directory, with env added to the environment. It stops at the first failure.
func (s *Stack) runHooks(ctx context.Context, hook string, cmds HookList, env []string, out io.Writer, sink EventSink, op string) ([]HookRun, error) {
	var runs []HookRun
	for _, argv := range cmds {
		argv = append([]string{}, argv...)
		if strings.Contains(argv[0], "/") && !filepath.IsAbs(argv[0]) {
			argv[0] = filepath.Join(s.Dir, argv[0])
		}
		display := Cmd{Args: cmds[len(runs)]}.String()
		sink.Event(Event{Op: op, Service: hook, Phase: "running", Message: display, Time: time.Now()})
		tail := newLineTail(hookOutputLines, nil)
		var w io.Writer = tail
		if out != nil {
			w = io.MultiWriter(tail, out)
		}
		start := time.Now()
		err := s.Runner.Run(ctx, Cmd{Args: argv, Dir: s.Dir, Env: append(s.endpointEnv(), env...), Stdout: w, Stderr: w})
		tail.Flush()
		run := HookRun{Hook: hook, Command: cmds[len(runs)], Output: tail.Lines(), DurationMS: time.Since(start).Milliseconds()}
		if err != nil {
			if ctx.Err() != nil {
				run.Error = "interrupted"
				runs = append(runs, run)
				sink.Event(Event{Op: op, Service: hook, Phase: "interrupted", Message: display, Time: time.Now(), Final: true, Failed: true})
				return runs, context.Cause(ctx)
			}
			var ee *ExitError
			if errors.As(err, &ee) {
				run.ExitCode = ee.Code
				run.Error = fmt.Sprintf("exit status %d", ee.Code)
			} else {
				run.ExitCode = -1
				run.Error = err.Error()
			}
			runs = append(runs, run)
			sink.Event(Event{Op: op, Service: hook, Phase: "failed", Message: display + ": " + run.Error, Time: time.Now(), Final: true, Failed: true})
			return runs, &HookError{Run: run}
		}
		runs = append(runs, run)
	}
	if len(cmds) > 0 {
		sink.Event(Event{Op: op, Service: hook, Phase: "done", Message: fmt.Sprintf("%d command(s)", len(cmds)), Time: time.Now(), Final: true})
	}
	return runs, nil
}
