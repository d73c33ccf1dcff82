package wizard

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/env"
	"github.com/stackpilot/stackpilot/steps"
)

// envCauseError is a load error Compose gave because of a variable's
// value: it names the env-file line first (".env line 6: API_PORT=abc is
// not a port"), then Compose's own words, where the compose file uses the
// variable, and the commands that repair it.
type envCauseError struct {
	causes []env.LoadErrorCause
	// compose is Compose's message on one line, secret values masked.
	compose string
	// fix are the repairs, as commands that work from anywhere.
	fix []string
	// undo is the .env version an undo would restore (nil when none is kept
	// or no cause is in the .env stackpilot edits).
	undo *env.Version
	err  error
}

func (e *envCauseError) Error() string {
	var b strings.Builder
	b.WriteString(e.Short())
	for _, c := range e.causes {
		if c.Kind != "" {
			fmt.Fprintf(&b, "\n  %s", c.Where())
		}
	}
	for _, l := range e.fix {
		fmt.Fprintf(&b, "\n  %s", l)
	}
	return b.String()
}

func (e *envCauseError) Unwrap() error { return e.err }

// Short is the cause and Compose's words on one line (the menu header).
func (e *envCauseError) Short() string {
	parts := make([]string, len(e.causes))
	for i, c := range e.causes {
		parts[i] = c.String()
	}
	return fmt.Sprintf("%s (Compose: %s)", strings.Join(parts, "; "), e.compose)
}

// keys are the variables to blame, in the .env stackpilot edits.
func (e *envCauseError) dotEnvKeys() []string {
	var keys []string
	for _, c := range e.causes {
		if c.DotEnv {
			keys = append(keys, c.Key)
		}
	}
	return keys
}

// explainLoadError turns a compose load error caused by a variable into an
// envCauseError; any other error comes back as it was.
func (f *Factory) explainLoadError(ctx context.Context, err error) error {
	if err == nil || !errors.Is(err, stackops.ErrInvalidCompose) {
		return err
	}
	if ce := f.envCause(ctx, err.Error()); ce != nil {
		ce.err = err
		return ce
	}
	return err
}

// envCause maps a compose load error's message back to the env-file lines
// that feed the field it is about (nil when no variable is to blame).
func (f *Factory) envCause(ctx context.Context, loadErr string) *envCauseError {
	st, err := envStack(ctx, f)
	if err != nil {
		return nil
	}
	ex, err := env.ExplainLoadError(ctx, st, errors.New(loadErr))
	if err != nil || len(ex.Causes) == 0 {
		return nil
	}
	ce := &envCauseError{causes: ex.Causes, compose: strings.Join(strings.Fields(ex.Message), " ")}
	var inDotEnv []string
	for _, c := range ex.Causes {
		switch {
		case c.File == "":
			ce.fix = append(ce.fix, fmt.Sprintf("%s comes from the environment stackpilot runs in: change or unset it there", c.Key))
		case !c.DotEnv:
			ce.fix = append(ce.fix, fmt.Sprintf("change %s in %s, line %d", c.Key, c.File, c.Line))
		default:
			inDotEnv = append(inDotEnv, c.Key)
		}
	}
	if len(inDotEnv) > 0 {
		args := []string{"env", "set"}
		for _, k := range inDotEnv {
			args = append(args, k+"=…")
		}
		ce.fix = append(ce.fix, "set a valid value: "+f.hint(args...))
		if versions, err := env.Versions(ctx, st); err == nil && len(versions) > 0 {
			v := versions[len(versions)-1]
			ce.undo = &v
			ce.fix = append(ce.fix, fmt.Sprintf("or undo the last .env change (%s): %s", versionLabel(v), f.hint("env", "undo")))
		}
	}
	return ce
}

// versionLabel describes an .env version for a choice: "set API_PORT, 2 minutes ago".
func versionLabel(v env.Version) string {
	return fmt.Sprintf("%s, %s", v.Op, steps.Ago(time.Since(v.Time)))
}

// envCauseOf finds an envCauseError in err's chain.
func envCauseOf(err error) *envCauseError {
	var ce *envCauseError
	if errors.As(err, &ce) {
		return ce
	}
	return nil
}

// explainDoctor marks the .env check failed with the line that breaks the
// compose file, when the compose-file check failed because of a variable:
// doctor then names the place instead of pointing at the compose file.
func explainDoctor(ctx context.Context, f *Factory, res *stackops.DoctorResult) {
	var file, dotenv *stackops.DoctorCheck
	for i := range res.Checks {
		switch res.Checks[i].Name {
		case "compose file":
			file = &res.Checks[i]
		case ".env file":
			dotenv = &res.Checks[i]
		}
	}
	if file == nil || dotenv == nil || file.OK {
		return
	}
	ce := f.envCause(ctx, file.Detail)
	if ce == nil {
		return
	}
	file.Detail = ce.compose
	file.Fix = "the compose file is fine: the value it is given is not — see the .env check"
	parts := make([]string, len(ce.causes))
	for i, c := range ce.causes {
		parts[i] = c.String()
		if c.Kind != "" {
			parts[i] += " — " + c.Where()
		}
	}
	dotenv.OK, dotenv.Skipped = false, false
	dotenv.Detail = strings.Join(parts, "; ")
	dotenv.Fix = strings.Join(ce.fix, "; ")
	res.OK = false
}

// envUndo is the way out of a failed deploy that undoes the .env change
// behind it and deploys again.
type envUndo struct {
	label string
	// ifMatch is the .env content the undo applies to: the one the edit
	// wrote, or the one seen when the choice was offered. Anything else
	// there means someone changed the file since, and nothing is undone.
	ifMatch string
}

// offerEnvUndo finds whether undoing an .env change may repair a deploy
// of services that failed: edit is the change the deploy followed (the
// Environment menu's redeploy), offered as it is; without one, the last
// kept version when it changed a key those services use, or when the
// failure is the .env breaking the compose file (cause). nil: nothing to offer.
func offerEnvUndo(ctx context.Context, f *Factory, services []string, edit *env.ChangeResult, cause *envCauseError) *envUndo {
	// Only an edit that kept the version before it (set, unset) can be
	// undone as such: an undo's result cannot (env undo walks further back).
	if edit != nil && edit.Changed && edit.Saved != nil && edit.NewRevision != "" {
		var keys []string
		for _, c := range edit.Changes {
			if c.Action != "unchanged" && c.Action != "absent" {
				keys = append(keys, c.Key)
			}
		}
		return &envUndo{label: fmt.Sprintf("Undo the .env change just made (%s) and deploy again", strings.Join(keys, ", ")), ifMatch: edit.NewRevision}
	}
	st, err := envStack(ctx, f)
	if err != nil {
		return nil
	}
	versions, err := env.Versions(ctx, st)
	if err != nil || len(versions) == 0 {
		return nil
	}
	v := versions[len(versions)-1]
	related := cause != nil && cause.undo != nil
	if !related && len(v.Keys) > 0 {
		users, err := env.KeyServices(ctx, st, v.Keys)
		if err != nil {
			return nil
		}
		for _, k := range v.Keys {
			for _, s := range users[k] {
				if len(services) == 0 || slices.Contains(services, s) {
					related = true
				}
			}
		}
	}
	if !related {
		return nil
	}
	plan, err := env.Undo(ctx, st, env.UndoOptions{DryRun: true})
	if err != nil {
		return nil
	}
	return &envUndo{label: fmt.Sprintf("Undo the last .env change (%s) and deploy again", versionLabel(v)), ifMatch: plan.Revision}
}

// undoEnvAndRedeploy undoes the .env change (only if the file still holds
// what the choice was offered on), shows what came back, and runs the
// deploy flow again on the re-read project: its plan, then the question.
func undoEnvAndRedeploy(ctx context.Context, f *Factory, u *envUndo, services []string) error {
	st, err := envStack(ctx, f)
	if err != nil {
		return err
	}
	res, err := env.Undo(ctx, st, env.UndoOptions{IfMatch: u.ifMatch})
	if err != nil {
		return err
	}
	f.forgetStack()
	describeUndo(f, res)
	cs := f.IO.ErrColorScheme()
	fmt.Fprintf(f.IO.ErrOut, "%s restored %s as it was before %q (%s)\n", cs.SuccessIcon(), res.Path, res.Restored.Op, res.Restored.Time.Format(time.DateTime))
	f.Equivalent("env", "undo")
	return runDeploy(ctx, f, &deployOptions{Services: services, NoBuild: true, wizard: true, planOnly: len(services) > 0})
}
