package env

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/joho/godotenv"
	"go.yaml.in/yaml/v4"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/envfile"
)

// envRef is how the compose file uses one variable.
type envRef struct {
	Name string
	// Required: some use has no default (${VAR}, $VAR, ${VAR?}, ${VAR:?}).
	Required bool
	// NonEmpty: some use is ${VAR:?}, which fails on an empty value too.
	NonEmpty bool
	// Defaulted: some use has a default or alternative (${VAR:-x}, ${VAR+x} …).
	Defaulted bool
	// Default is the first default seen, for messages.
	Default string
	// Bare: some service passes it through with `environment: [VAR]`
	// (only when it is set; no default needed).
	Bare bool
	// Services that use it, by interpolation or by a bare `environment: [VAR]`.
	Services map[string]bool
}

// envUsage is what the compose model says about the variables of .env.
type envUsage struct {
	refs map[string]*envRef
	// envFileServices are the services that load the .env itself with env_file.
	envFileServices []string
}

func (u *envUsage) ref(name string) *envRef {
	r, ok := u.refs[name]
	if !ok {
		r = &envRef{Name: name, Services: map[string]bool{}}
		u.refs[name] = r
	}
	return r
}

// rawComposeModel is each compose file's YAML before interpolation, so
// ${VAR} references are visible. Files are read as written (YAML anchors
// resolved; include/extends of other files not followed): enough to see
// which variables each service refers to, in a millisecond rather than a
// full validated load.
func rawComposeModel(st *stackops.Stack) ([]map[string]any, error) {
	var out []map[string]any
	for _, f := range st.ComposeFiles {
		if f == "-" {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, m)
	}
	return out, nil
}

// envUsage finds every variable the compose file refers to, and which
// services use it.
func usage(ctx context.Context, st *stackops.Stack) (*envUsage, error) {
	models, err := rawComposeModel(st)
	if err != nil {
		return nil, err
	}
	u := &envUsage{refs: map[string]*envRef{}}
	dotenv := ""
	if p := st.DotEnvPath(); p != "" {
		dotenv = canonicalPath(p)
	}
	efs := map[string]bool{}
	for _, m := range models {
		services, _ := m["services"].(map[string]any)
		for name, def := range services {
			walkStrings(def, nil, func(_ []string, str string) { scanTemplate(u, str, name) })
			svc, _ := def.(map[string]any)
			for _, v := range bareEnvironment(svc["environment"]) {
				r := u.ref(v)
				r.Services[name] = true
				r.Bare = true
			}
			for _, p := range envFilePaths(svc["env_file"]) {
				if !filepath.IsAbs(p) {
					p = filepath.Join(st.Dir, p)
				}
				if dotenv != "" && canonicalPath(p) == dotenv {
					efs[name] = true
				}
			}
			// secrets and configs sourced from the environment
			for _, kind := range []string{"secrets", "configs"} {
				for _, src := range sourceNames(svc[kind]) {
					top, _ := m[kind].(map[string]any)
					def, _ := top[src].(map[string]any)
					if v, ok := def["environment"].(string); ok && v != "" {
						r := u.ref(v)
						r.Services[name] = true
						r.Required = true
					}
				}
			}
		}
		for k, v := range m {
			if k != "services" {
				walkStrings(v, nil, func(_ []string, str string) { scanTemplate(u, str, "") })
			}
		}
	}
	for n := range efs {
		u.envFileServices = append(u.envFileServices, n)
	}
	sort.Strings(u.envFileServices)
	return u, nil
}

func canonicalPath(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
	if r, err := filepath.EvalSymlinks(p); err == nil {
		p = r
	}
	return p
}

// walkStrings calls fn with every string in v and where it is: the keys
// and list indexes from v down (appended to path).
func walkStrings(v any, path []string, fn func(path []string, s string)) {
	switch v := v.(type) {
	case string:
		fn(path, v)
	case map[string]any:
		for k, e := range v {
			walkStrings(e, append(path[:len(path):len(path)], k), fn)
		}
	case []any:
		for i, e := range v {
			walkStrings(e, append(path[:len(path):len(path)], strconv.Itoa(i)), fn)
		}
	}
}

// bareEnvironment lists `environment` entries without a value, which
// Compose fills from the environment and .env.
func bareEnvironment(v any) []string {
	var out []string
	switch env := v.(type) {
	case map[string]any:
		for k, val := range env {
			if val == nil {
				out = append(out, k)
			}
		}
	case []any:
		for _, e := range env {
			if s, ok := e.(string); ok && !strings.Contains(s, "=") {
				out = append(out, s)
			}
		}
	}
	return out
}

func envFilePaths(v any) []string {
	switch ef := v.(type) {
	case string:
		return []string{ef}
	case []any:
		var out []string
		for _, e := range ef {
			switch e := e.(type) {
			case string:
				out = append(out, e)
			case map[string]any:
				if p, ok := e["path"].(string); ok {
					out = append(out, p)
				}
			}
		}
		return out
	}
	return nil
}

func sourceNames(v any) []string {
	list, _ := v.([]any)
	var out []string
	for _, e := range list {
		switch e := e.(type) {
		case string:
			out = append(out, e)
		case map[string]any:
			if s, ok := e["source"].(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

// scanTemplate records the variables of one string, the way compose-go's
// template.ExtractVariables reads them, telling apart uses with and without
// a default (ExtractVariables cannot see an empty default like ${VAR:-}).
func scanTemplate(u *envUsage, s, service string) {
	if !strings.Contains(s, "$") {
		return
	}
	pattern := template.DefaultPattern
	names := pattern.SubexpNames()
	for _, match := range pattern.FindAllStringSubmatch(s, -1) {
		groups := map[string]string{}
		for i, n := range names {
			if n != "" && i < len(match) {
				groups[n] = match[i]
			}
		}
		if groups["escaped"] != "" {
			continue
		}
		val := groups["named"]
		if val == "" {
			val = groups["braced"]
			m := match[0]
			if i := closingBrace(m); i > 0 {
				val = m[2:i]
				if len(m) > i+1 {
					scanTemplate(u, m[i+1:], service)
				}
			}
		}
		if val == "" {
			continue
		}
		name, rest := val, ""
		if i := strings.IndexFunc(val, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_')
		}); i > 0 {
			name, rest = val[:i], val[i:]
		}
		r := u.ref(name)
		if service != "" {
			r.Services[service] = true
		}
		switch {
		case strings.HasPrefix(rest, ":?"):
			r.Required, r.NonEmpty = true, true
		case strings.HasPrefix(rest, "?"), rest == "":
			r.Required = true
		case strings.HasPrefix(rest, ":-"), strings.HasPrefix(rest, "-"):
			d := strings.TrimPrefix(strings.TrimPrefix(rest, ":"), "-")
			if !r.Defaulted {
				r.Default = d
			}
			r.Defaulted = true
			scanTemplate(u, d, service)
		case strings.HasPrefix(rest, ":+"), strings.HasPrefix(rest, "+"):
			r.Defaulted = true
			scanTemplate(u, strings.TrimPrefix(strings.TrimPrefix(rest, ":"), "+"), service)
		default:
			r.Required = true
		}
	}
}

func closingBrace(s string) int {
	open := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '}' {
			open--
			if open == 0 {
				return i
			}
		}
		if s[i] == '{' {
			open++
			i++
		}
	}
	return -1
}

// KeyServices returns, for each key, the services that use it: through
// ${KEY} in their definition, a bare `environment: [KEY]`, a secret or
// config sourced from KEY, or by loading this .env with env_file. These are
// the services to redeploy after the key changes.
func KeyServices(ctx context.Context, st *stackops.Stack, keys []string) (map[string][]string, error) {
	u, err := usage(ctx, st)
	if err != nil {
		return nil, err
	}
	out := map[string][]string{}
	for _, k := range keys {
		set := map[string]bool{}
		if r, ok := u.refs[k]; ok {
			for svc := range r.Services {
				set[svc] = true
			}
		}
		for _, svc := range u.envFileServices {
			set[svc] = true
		}
		var list []string
		for svc := range set {
			list = append(list, svc)
		}
		sort.Strings(list)
		out[k] = list
	}
	return out, nil
}

// CheckOptions control Check.
type CheckOptions struct {
	// Example is the file to compare with; x-stackpilot.env.example or
	// .env.example in the project directory when empty. An explicit file
	// must exist; the default one may not.
	Example string
}

// CheckItem is one finding about a key.
type CheckItem struct {
	Key string `json:"key"`
	// Line is the key's line in .env, when it is there.
	Line int `json:"line,omitempty"`
	// File is the env file of Line, when Compose reads several.
	File string `json:"file,omitempty"`
	// Sources say who expects the key: "compose" and/or "example".
	Sources []string `json:"sources,omitempty"`
	// Services that use the key.
	Services []string `json:"services,omitempty"`
	// Default is the compose file's default, for keys left to it.
	Default string `json:"default,omitempty"`
	// Note explains the finding.
	Note string `json:"note,omitempty"`
}

// CheckResult compares .env with what the project expects of it.
type CheckResult struct {
	// Path is the env file the env commands edit; Files all those Compose reads.
	Path  string   `json:"path"`
	Files []string `json:"files"`
	// Note says why no env file counts, when none does.
	Note    string `json:"note,omitempty"`
	Example string `json:"example,omitempty"`
	// Missing are required keys set nowhere: the compose file uses them
	// without a default, or .env.example lists them.
	Missing []CheckItem `json:"missing"`
	// Empty are keys present with an empty value.
	Empty []CheckItem `json:"empty"`
	// Unused are keys nothing refers to.
	Unused []CheckItem `json:"unused"`
	// Optional are keys .env leaves unset that the compose file can do
	// without: used with a default, or passed through only when set.
	Optional []CheckItem `json:"optional"`
	// FromEnvironment are required keys missing from .env but set in the environment.
	FromEnvironment []CheckItem `json:"from_environment"`
	// EnvFileServices load the whole .env into their containers (env_file).
	EnvFileServices []string `json:"env_file_services,omitempty"`
	// OK is false when a required key is missing.
	OK bool `json:"ok"`
}

// Check compares .env with .env.example and with the variables the
// compose file references: missing, empty and unused keys. Missing
// required keys make OK false.
func Check(ctx context.Context, st *stackops.Stack, opts CheckOptions) (*CheckResult, error) {
	view, cfg, err := readView(st)
	if err != nil {
		return nil, err
	}
	// Each key's definition that counts in Compose, from whichever env file.
	values := map[string]envfile.Value{}
	files := map[string]string{}
	var order []string
	for _, f := range view.files {
		fileOrder, last, _ := f.lastValues()
		for _, k := range fileOrder {
			if _, seen := values[k]; !seen {
				order = append(order, k)
			}
			if w := view.winner[k]; w == f || (w == nil && values[k].Key == "") {
				values[k], files[k] = last[k], f.path
			}
		}
	}
	several := len(view.files) > 1
	fileOf := func(k string) string {
		if several {
			return files[k]
		}
		return ""
	}

	res := &CheckResult{Path: st.DotEnvPath(), Files: append([]string{}, st.EnvFiles...), Missing: []CheckItem{}, Empty: []CheckItem{}, Unused: []CheckItem{}, Optional: []CheckItem{}, FromEnvironment: []CheckItem{}}
	if st.EnvFilesDisabled() {
		res.Note = disableEnvFileVar + " is set: Compose reads no .env, so only the environment counts"
	}
	example := opts.Example
	explicit := example != ""
	if !explicit {
		example = cfg.Example
	}
	if !filepath.IsAbs(example) {
		example = filepath.Join(st.Dir, example)
	}
	exampleKeys := map[string]bool{}
	if m, err := godotenv.Read(example); err == nil {
		// godotenv reads the keys of an example file well; its values are never used
		res.Example = example
		for k := range m {
			exampleKeys[k] = true
		}
	} else if explicit || !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read the example file %s: %w", example, err)
	}

	u, err := usage(ctx, st)
	if err != nil {
		return nil, fmt.Errorf("read the compose file's variables: %w", err)
	}
	res.EnvFileServices = u.envFileServices

	names := map[string]bool{}
	for k := range exampleKeys {
		names[k] = true
	}
	for k := range u.refs {
		names[k] = true
	}
	var sorted []string
	for k := range names {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	for _, k := range sorted {
		r := u.refs[k]
		item := CheckItem{Key: k}
		if r != nil {
			item.Sources = append(item.Sources, "compose")
			item.Services = slices.Sorted(maps.Keys(r.Services))
		}
		if exampleKeys[k] {
			item.Sources = append(item.Sources, "example")
		}
		v, inFile := values[k]
		if inFile && v.Set {
			item.Line, item.File = v.Line, fileOf(k)
			if v.Value == "" {
				if r != nil && r.NonEmpty {
					item.Note = "the compose file requires a non-empty value (${" + k + ":?})"
					res.Missing = append(res.Missing, item)
				} else {
					res.Empty = append(res.Empty, item)
				}
			}
			continue
		}
		// required: used without a default, or listed in the example and not
		// merely defaulted by the compose file
		required := (r != nil && r.Required) || (exampleKeys[k] && (r == nil || !r.Defaulted))
		if _, ok := st.LookupEnv(k); ok && r != nil {
			item.Note = "set in the environment, not in .env"
			res.FromEnvironment = append(res.FromEnvironment, item)
			continue
		}
		if !required {
			switch {
			case r != nil && r.Defaulted:
				item.Default = r.Default
				item.Note = "the compose file's default applies"
			case r != nil && r.Bare:
				item.Note = "passed to the container only when set"
			}
			res.Optional = append(res.Optional, item)
			continue
		}
		res.Missing = append(res.Missing, item)
	}
	// keys other .env values refer to (URL=http://${DB_HOST}/) are used too
	inFile := &envUsage{refs: map[string]*envRef{}}
	for _, f := range view.files {
		for _, text := range f.doc.Interpolated() {
			scanTemplate(inFile, text, "")
		}
	}
	for _, k := range order {
		v := values[k]
		if exampleKeys[k] || u.refs[k] != nil || inFile.refs[k] != nil || strings.HasPrefix(k, "COMPOSE_") || strings.HasPrefix(k, "DOCKER_") {
			continue
		}
		if v.Set && v.Value == "" {
			res.Empty = append(res.Empty, CheckItem{Key: k, Line: v.Line, File: fileOf(k)})
		}
		if len(u.envFileServices) > 0 {
			continue
		}
		res.Unused = append(res.Unused, CheckItem{Key: k, Line: v.Line, File: fileOf(k), Note: "not referenced by the compose file nor listed in the example"})
	}
	sort.SliceStable(res.Empty, func(i, j int) bool { return res.Empty[i].Line < res.Empty[j].Line })
	res.OK = len(res.Missing) == 0
	return res, nil
}
