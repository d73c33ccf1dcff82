package stackops

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
	"go.yaml.in/yaml/v4"

	"github.com/stackpilot/stackpilot/stackops/envfile"
	"github.com/stackpilot/stackpilot/stackops/internal/lazyre"
)

// withComposeSettingsFromDotEnv is cli.WithDotEnv for a lenient load: it
// takes from the env files only the COMPOSE_* settings that steer project
// discovery (COMPOSE_FILE, COMPOSE_PROJECT_NAME …), read with stackpilot's
// parser and evaluating only what they depend on. A file it cannot read is
// skipped: the env command that follows reports it, with the line.
//
// Discovery applies it twice (the .env where we stand, then the project's),
// so each call of withComposeSettingsFromDotEnv returns a function that
// remembers the files it applied and does not read one again: every
// COMPOSE_* key it set is in the environment already, and a second pass
// would leave those as they are.
func withComposeSettingsFromDotEnv() cli.ProjectOptionsFn {
	applied := map[string]bool{}
	return func(o *cli.ProjectOptions) error { return composeSettingsFromDotEnv(o, applied) }
}

func composeSettingsFromDotEnv(o *cli.ProjectOptions, applied map[string]bool) error {
	for _, f := range o.EnvFiles {
		if applied[f] {
			continue
		}
		applied[f] = true
		real := f
		if r, err := filepath.EvalSymlinks(f); err == nil {
			real = r
		}
		// Most .env files set no COMPOSE_* key: look for one through a
		// small window before reading and parsing the whole file.
		if has, err := envfile.FileContains(real, []byte("COMPOSE_")); err != nil || !has {
			continue
		}
		b, err := os.ReadFile(real)
		if err != nil {
			continue
		}
		d, err := envfile.ParseCached(real, b, nil)
		if err != nil {
			continue
		}
		env := o.Environment
		want := func(k string) bool {
			_, set := env[k]
			return strings.HasPrefix(k, "COMPOSE_") && !set
		}
		d.LastValues(want, func(k string) (string, bool) { v, ok := env[k]; return v, ok }, func(v envfile.Value) {
			if v.Set && v.Err == nil {
				env[v.Key] = v.Value
			}
		})
	}
	return nil
}

// loadLenient builds a Stack from the discovered options without loading
// the model: the directory, files and x-stackpilot block (uninterpolated).
func loadLenient(po *cli.ProjectOptions, in *projectInputs, opts LoadOptions, environ []string) (*Stack, error) {
	dir, err := po.GetWorkingDir()
	if err != nil {
		return nil, err
	}
	name := po.Name
	if name == "" {
		name = po.Environment["COMPOSE_PROJECT_NAME"]
	}
	ext := map[string]any{}
	for _, f := range po.ConfigPaths {
		if f == "-" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f, err)
		}
		var top struct {
			Name string         `yaml:"name"`
			X    map[string]any `yaml:"x-stackpilot"`
		}
		if err := yaml.Unmarshal(b, &top); err != nil {
			return nil, &composeLoadError{err: fmt.Errorf("%s: %w", f, err)}
		}
		if name == "" && top.Name != "" && !strings.Contains(top.Name, "$") {
			name = top.Name
		}
		for k, v := range top.X {
			ext[k] = v
		}
	}
	if name == "" {
		name = filepath.Base(dir)
	}
	name = normalizeProjectName(name)
	var x any
	if len(ext) > 0 {
		x = ext
	}
	cfg, err := parseConfig(x)
	if err != nil {
		return nil, err
	}
	s := &Stack{
		Name:         name,
		Dir:          dir,
		WorkDir:      in.workDir,
		ComposeFiles: po.ConfigPaths,
		EnvFiles:     in.envFilesRead(),
		Profiles:     lenientProfiles(po, opts),
		Project:      &types.Project{Name: name, WorkingDir: dir, ComposeFiles: po.ConfigPaths},
		Runner:       opts.Runner,
		opts:         opts,
		inputs:       in,
		environ:      environ,
		config:       cfg,
	}
	if s.Runner == nil {
		s.Runner = &ExecRunner{}
	}
	return s, nil
}

// lenientProfiles are the active profiles as compose-go's
// WithDefaultProfiles picks them: --profile, else COMPOSE_PROFILES.
func lenientProfiles(po *cli.ProjectOptions, opts LoadOptions) []string {
	if len(opts.Profiles) > 0 {
		return opts.Profiles
	}
	var out []string
	for _, p := range strings.Split(po.Environment["COMPOSE_PROFILES"], ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// normalizeProjectName is compose-go's loader.NormalizeProjectName (lower
// case, keep [a-z0-9_-], no leading _ or -) without the regexp it compiles
// on every call. A test checks the two agree.
func normalizeProjectName(s string) string {
	s = strings.ToLower(s)
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-' {
			b = append(b, c)
		}
	}
	return strings.TrimLeft(string(b), "_-")
}

// ---- loading a stack whose .env is broken ----

var composeReadErrRe = lazyre.New(`failed to read (.+?): `)

// sanitizeLoadError replaces compose-go's error about an env file it cannot
// read — which quotes the offending value, secrets included — with
// stackpilot's own: the file, the line, the key, the value masked.
func sanitizeLoadError(err error, environ []string) error {
	if err == nil {
		return nil
	}
	m := composeReadErrRe().FindStringSubmatch(err.Error())
	if m == nil {
		return err
	}
	if _, rerr := os.Stat(m[1]); rerr != nil {
		return err
	}
	return MaskedEnvFileError(m[1], environ)
}

// MaskedEnvFileError explains why Compose cannot read the env file at path,
// naming the line and key but never a secret-looking value. Use it instead
// of printing compose-go's dotenv errors, which quote the value.
func MaskedEnvFileError(path string, environ []string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	isSecret := func(k string) bool { return envfile.IsSecret(k, nil, nil) }
	doc, perr := envfile.Parse(data, isSecret)
	if perr != nil {
		var se *envfile.SyntaxError
		if errors.As(perr, &se) {
			se.Path = path
		}
		return perr
	}
	env := environMap(environ)
	for _, v := range doc.Evaluate(func(k string) (string, bool) { v, ok := env[k]; return v, ok }) {
		if v.Err != nil {
			var se *envfile.SyntaxError
			if errors.As(v.Err, &se) {
				se.Path = path
			}
			return v.Err
		}
	}
	return fmt.Errorf("%w: Compose cannot read %s — run stackpilot env list to find the line", envfile.ErrSyntax, path)
}
