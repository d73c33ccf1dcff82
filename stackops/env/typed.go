package env

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/compose-spec/compose-go/v2/template"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/envfile"
)

// FieldKind is the kind of value a compose field takes, where a variable
// that holds anything else makes Compose refuse the whole project.
type FieldKind string

// The kinds of value env set checks and load errors are explained by.
const (
	KindPort     FieldKind = "port"
	KindNumber   FieldKind = "number"
	KindDuration FieldKind = "duration"
	KindBoolean  FieldKind = "boolean"
	KindSize     FieldKind = "size"
)

// Expected says what a value of the kind looks like, for messages.
func (k FieldKind) Expected() string {
	switch k {
	case KindPort:
		return "a port (1-65535)"
	case KindNumber:
		return "a number"
	case KindDuration:
		return "a duration such as 30s or 1m30s"
	case KindBoolean:
		return "true or false"
	case KindSize:
		return "a size such as 512m or 1g"
	}
	return "a valid value"
}

// article is "a port" without the example.
func (k FieldKind) article() string {
	switch k {
	case KindBoolean:
		return "a boolean"
	case "":
		return "valid there"
	}
	return "a " + string(k)
}

// fieldRule is a compose field of a known kind: its path below a service
// (or from the top when top is set), "*" for any map key, "#" for any list
// index; check says whether the field's interpolated text is acceptable.
type fieldRule struct {
	path  []string
	top   bool
	kind  FieldKind
	check func(string) error
}

func rule(kind FieldKind, check func(string) error, path ...string) fieldRule {
	return fieldRule{path: path, kind: kind, check: check}
}

func topRule(kind FieldKind, check func(string) error, path ...string) fieldRule {
	return fieldRule{path: path, top: true, kind: kind, check: check}
}

// fieldRules are the typed fields of the Compose specification that
// variables commonly feed (the ones compose-go casts or decodes), and the
// x-stackpilot durations. The checks are compose-go's own parsers where
// it exports them.
var fieldRules = func() []fieldRule {
	r := []fieldRule{
		rule(KindPort, checkPortSpec, "ports", "#"),
		rule(KindPort, checkPort, "ports", "#", "target"),
		rule(KindPort, checkPortRange, "ports", "#", "published"),
		rule(KindPort, checkPortRange, "expose", "#"),
		rule(KindDuration, checkComposeDuration, "stop_grace_period"),
		rule(KindSize, checkSize, "mem_limit"),
		rule(KindSize, checkSize, "mem_reservation"),
		rule(KindSize, checkSize, "memswap_limit"),
		rule(KindSize, checkSize, "shm_size"),
		rule(KindSize, checkSize, "build", "shm_size"),
		rule(KindSize, checkSize, "deploy", "resources", "limits", "memory"),
		rule(KindSize, checkSize, "deploy", "resources", "reservations", "memory"),
		rule(KindNumber, checkFloat, "cpus"),
		rule(KindNumber, checkFloat, "cpu_percent"),
		rule(KindNumber, checkFloat, "deploy", "resources", "limits", "cpus"),
		rule(KindNumber, checkFloat, "deploy", "resources", "reservations", "cpus"),
		rule(KindNumber, checkInt, "ulimits", "*"),
		rule(KindNumber, checkInt, "ulimits", "*", "soft"),
		rule(KindNumber, checkInt, "ulimits", "*", "hard"),
		rule(KindNumber, checkInt, "healthcheck", "retries"),
		rule(KindNumber, checkInt, "blkio_config", "weight"),
		rule(KindNumber, checkInt, "scale"),
		rule(KindNumber, checkInt, "deploy", "replicas"),
		rule(KindNumber, checkInt, "deploy", "restart_policy", "max_attempts"),
		rule(KindBoolean, checkBool, "healthcheck", "disable"),
		rule(KindBoolean, checkBool, "depends_on", "*", "required"),
		rule(KindBoolean, checkBool, "depends_on", "*", "restart"),
		rule(KindBoolean, checkBool, "volumes", "#", "read_only"),
		topRule(KindDuration, checkStackpilotDuration, stackops.ConfigExtension, "deploy", "timeout"),
		topRule(KindDuration, checkStackpilotDuration, stackops.ConfigExtension, "deploy", "settle"),
		topRule(KindDuration, checkStackpilotDuration, stackops.ConfigExtension, "probes", "*", "timeout"),
	}
	for _, f := range []string{"interval", "timeout", "start_period", "start_interval"} {
		r = append(r, rule(KindDuration, checkComposeDuration, "healthcheck", f))
	}
	for _, f := range []string{"delay", "window"} {
		r = append(r, rule(KindDuration, checkComposeDuration, "deploy", "restart_policy", f))
	}
	for _, c := range []string{"update_config", "rollback_config"} {
		r = append(r, rule(KindDuration, checkComposeDuration, "deploy", c, "delay"),
			rule(KindDuration, checkComposeDuration, "deploy", c, "monitor"),
			rule(KindNumber, checkInt, "deploy", c, "parallelism"),
			rule(KindNumber, checkFloat, "deploy", c, "max_failure_ratio"))
	}
	for _, f := range []string{"cpu_count", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "oom_score_adj", "pids_limit"} {
		r = append(r, rule(KindNumber, checkInt, f))
	}
	for _, f := range []string{"init", "oom_kill_disable", "privileged", "read_only", "stdin_open", "tty"} {
		r = append(r, rule(KindBoolean, checkBool, f))
	}
	for _, kind := range []string{"networks", "volumes", "secrets", "configs"} {
		r = append(r, topRule(KindBoolean, checkBool, kind, "*", "external"))
	}
	for _, f := range []string{"internal", "attachable", "enable_ipv6"} {
		r = append(r, topRule(KindBoolean, checkBool, "networks", "*", f))
	}
	return r
}()

func (r fieldRule) matches(path []string) bool {
	rel := path
	if !r.top {
		if len(path) < 2 || path[0] != "services" {
			return false
		}
		rel = path[2:]
	}
	if len(rel) != len(r.path) {
		return false
	}
	for i, p := range r.path {
		switch p {
		case "*":
		case "#":
			if _, err := strconv.Atoi(rel[i]); err != nil {
				return false
			}
		default:
			if rel[i] != p {
				return false
			}
		}
	}
	return true
}

func checkPortSpec(s string) error {
	_, err := types.ParsePortConfig(s)
	return err
}

func checkPort(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > 65535 {
		return fmt.Errorf("%q is not a port number", s)
	}
	return nil
}

// checkPortRange accepts a port, a range (8000-8010), or nothing (Compose
// picks one); expose's /tcp or /udp suffix is allowed.
func checkPortRange(s string) error {
	s, _, _ = strings.Cut(s, "/")
	if s == "" {
		return nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	if err := checkPort(lo); err != nil {
		return err
	}
	if isRange {
		return checkPort(hi)
	}
	return nil
}

func checkComposeDuration(s string) error {
	var d types.Duration
	return d.DecodeMapstructure(s)
}

// checkStackpilotDuration is x-stackpilot's Duration: a Go duration or a
// number of seconds.
func checkStackpilotDuration(s string) error {
	if _, err := strconv.ParseFloat(s, 64); err == nil {
		return nil
	}
	_, err := time.ParseDuration(s)
	return err
}

func checkSize(s string) error {
	var u types.UnitBytes
	return u.DecodeMapstructure(s)
}

func checkInt(s string) error {
	_, err := strconv.ParseInt(s, 10, 64)
	return err
}

func checkFloat(s string) error {
	_, err := strconv.ParseFloat(s, 64)
	return err
}

// checkBool is compose-go's cast: true/false, and YAML 1.1's yes/no/on/off/y/n.
func checkBool(s string) error {
	switch strings.ToLower(s) {
	case "true", "false", "y", "yes", "on", "n", "no", "off":
		return nil
	}
	return fmt.Errorf("invalid boolean: %s", s)
}

// fieldUse is one string of the compose file that refers to variables.
type fieldUse struct {
	path []string
	// text is the string as written, ${…} and all.
	text string
	vars []string
	// rule is the field's kind, when it has one.
	rule *fieldRule
}

// field renders the path as people read it: services.api.ports[0].
func (u fieldUse) field() string { return renderPath(u.path) }

func renderPath(path []string) string {
	var b strings.Builder
	for i, p := range path {
		if _, err := strconv.Atoi(p); err == nil && i > 0 {
			fmt.Fprintf(&b, "[%s]", p)
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// fieldUses lists every string of the raw compose files that refers to a
// variable, with where it is and, for a typed field, its rule; sorted by
// path so messages come in a stable order.
func fieldUses(st *stackops.Stack) ([]fieldUse, error) {
	models, err := rawComposeModel(st)
	if err != nil {
		return nil, err
	}
	var out []fieldUse
	for _, m := range models {
		walkStrings(m, nil, func(path []string, s string) {
			if !strings.Contains(s, "$") {
				return
			}
			u := &envUsage{refs: map[string]*envRef{}}
			scanTemplate(u, s, "")
			if len(u.refs) == 0 {
				return
			}
			use := fieldUse{path: path, text: s}
			for name := range u.refs {
				use.vars = append(use.vars, name)
			}
			sort.Strings(use.vars)
			for i := range fieldRules {
				if fieldRules[i].matches(path) {
					use.rule = &fieldRules[i]
					break
				}
			}
			out = append(out, use)
		})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].field() < out[j].field() })
	return out, nil
}

// definition is where a variable's value comes from, as Compose reads it.
type definition struct {
	value string
	// file and line of the definition that counts; file is "" when the
	// value comes from the environment.
	file string
	line int
}

// definitions reads the wanted keys from the stack's env files the way
// Compose combines them: later files win over earlier ones, the
// environment wins over all. Only what the wanted values depend on is
// evaluated (a .env can have thousands of lines; env set stays quick).
func definitions(st *stackops.Stack, want map[string]bool) (map[string]definition, Config, error) {
	cfg, err := ConfigOf(st)
	if err != nil {
		return nil, cfg, err
	}
	files := st.EnvFiles
	if len(files) == 0 {
		files = []string{st.DotEnvPath()}
	}
	defs := map[string]definition{}
	lookup := func(k string) (string, bool) {
		if v, ok := st.LookupEnv(k); ok {
			return v, true
		}
		d, ok := defs[k]
		return d.value, ok
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, cfg, err
		}
		doc, err := envfile.Parse(data, cfg.IsSecret)
		if err != nil {
			return nil, cfg, err
		}
		doc.LastValues(func(k string) bool { return want[k] }, lookup, func(v envfile.Value) {
			if v.Set {
				defs[v.Key] = definition{value: v.Value, file: f, line: v.Line}
			}
		})
	}
	for k := range want {
		if v, ok := st.LookupEnv(k); ok {
			defs[k] = definition{value: v}
		}
	}
	return defs, cfg, nil
}

// ValueProblem is a value a field of the compose file cannot take: the
// variable that feeds it, and where.
type ValueProblem struct {
	Key string `json:"key"`
	// Value is the variable's value; "" when Masked.
	Value  string `json:"value"`
	Masked bool   `json:"masked,omitempty"`
	// Kind is what the field takes ("" when the field has no known kind).
	Kind FieldKind `json:"kind,omitempty"`
	// Field is the place in the compose file: services.api.ports[0].
	Field string `json:"field"`
	// Text is the field as written: "127.0.0.1:${API_PORT:-8081}:8080".
	Text string `json:"text"`
	// Reason is the parser's complaint about the interpolated field.
	Reason string `json:"reason,omitempty"`
}

func (p ValueProblem) assignment() string {
	v := p.Value
	if p.Masked {
		v = envfile.Mask
	}
	return p.Key + "=" + v
}

// String says it the short way: "API_PORT=abc is not a port".
func (p ValueProblem) String() string {
	if p.Kind == "" {
		return fmt.Sprintf("%s feeds %s, which Compose refuses", p.assignment(), p.Field)
	}
	return fmt.Sprintf("%s is not %s", p.assignment(), p.Kind.article())
}

// Where names the field and how it is written, for a second line.
func (p ValueProblem) Where() string {
	return fmt.Sprintf("the compose file uses it as %s in %s: %q", p.Kind.Expected(), p.Field, p.Text)
}

// substitute interpolates text the way Compose does, with lookup for the
// variables.
func substitute(text string, lookup func(string) (string, bool)) (string, error) {
	return template.Substitute(text, template.Mapping(lookup))
}

// CheckValues reports the typed places of the compose file (ports,
// numbers, durations, booleans, sizes) where a value about to be set would
// not fit — Compose would then refuse to load the project. Keys the
// environment sets are skipped: Compose uses the environment's value, not
// the file's. env set warns with these before it writes.
func CheckValues(ctx context.Context, st *stackops.Stack, values []Assignment) ([]ValueProblem, error) {
	uses, err := fieldUses(st)
	if err != nil {
		return nil, err
	}
	// Most keys feed no typed field: then the env files are not read.
	want := map[string]bool{}
	for _, u := range uses {
		for _, a := range values {
			if u.rule != nil && slices.Contains(u.vars, a.Key) {
				for _, v := range u.vars {
					want[v] = true
				}
			}
		}
	}
	if len(want) == 0 {
		return nil, nil
	}
	defs, cfg, err := definitions(st, want)
	if err != nil {
		return nil, err
	}
	var out []ValueProblem
	for _, a := range values {
		if _, ok := st.LookupEnv(a.Key); ok {
			continue
		}
		lookup := func(k string) (string, bool) {
			if k == a.Key {
				return a.Value, true
			}
			d, ok := defs[k]
			return d.value, ok
		}
		for _, u := range uses {
			if u.rule == nil || !slices.Contains(u.vars, a.Key) {
				continue
			}
			if p, bad := problemAt(u, a.Key, a.Value, lookup, cfg); bad {
				out = append(out, p)
			}
		}
	}
	return out, nil
}

// problemAt interpolates a typed use and checks it.
func problemAt(u fieldUse, key, value string, lookup func(string) (string, bool), cfg Config) (ValueProblem, bool) {
	text, err := substitute(u.text, lookup)
	if err != nil {
		return ValueProblem{}, false // a ${VAR:?} error is not about the kind
	}
	cerr := u.rule.check(text)
	if cerr == nil {
		return ValueProblem{}, false
	}
	p := ValueProblem{Key: key, Value: value, Kind: u.rule.kind, Field: u.field(), Text: u.text, Reason: cerr.Error()}
	if cfg.IsSecret(key) && value != "" {
		p.Value, p.Masked = "", true
	}
	return p, true
}

// LoadErrorCause is a variable that makes Compose refuse the project, and
// the env-file line that sets it.
type LoadErrorCause struct {
	ValueProblem
	// File is the env file that sets it; "" when the environment does.
	File string `json:"file,omitempty"`
	Line int    `json:"line,omitempty"`
	// DotEnv is true when File is the stack's .env (the one stackpilot edits,
	// where env undo applies).
	DotEnv bool `json:"dot_env,omitempty"`
}

// String is the one line every screen shows: ".env line 6: API_PORT=abc
// is not a port".
func (c LoadErrorCause) String() string {
	switch {
	case c.File == "":
		return fmt.Sprintf("%s (set in the environment, not in a file)", c.ValueProblem)
	case c.DotEnv:
		return fmt.Sprintf("%s line %d: %s", filepath.Base(c.File), c.Line, c.ValueProblem)
	}
	return fmt.Sprintf("%s line %d: %s", c.File, c.Line, c.ValueProblem)
}

// errorField finds the field path a load error names, if any: compose-go
// writes "interpolating services.api.cpus:", "'services[api].healthcheck.interval'"
// or "validating FILE: services.api.ports.0 …". It is returned split at
// dots, with "[]" for compose-go's "any list index".
func errorField(msg string) []string {
	for _, marker := range []string{"interpolating ", "'", ": "} {
		for rest := msg; ; {
			i := strings.Index(rest, marker)
			if i < 0 {
				break
			}
			rest = rest[i+len(marker):]
			for _, top := range []string{"services", "networks", "volumes", "secrets", "configs", stackops.ConfigExtension} {
				if !strings.HasPrefix(rest, top+".") && !strings.HasPrefix(rest, top+"[") {
					continue
				}
				end := strings.IndexAny(rest, " :'\n")
				if end < 0 {
					end = len(rest)
				}
				var path []string
				for _, seg := range strings.Split(rest[:end], ".") {
					name, key, indexed := strings.Cut(seg, "[")
					switch {
					case seg == "[]":
						path = append(path, "[]")
					case indexed && name != "":
						path = append(path, name, strings.TrimSuffix(key, "]"))
					case seg != "":
						path = append(path, seg)
					}
				}
				return path
			}
		}
	}
	return nil
}

// samePlace reports whether a use's path is at (or below) the field an
// error names; "[]" in the error's path matches any list index.
func samePlace(use, field []string) bool {
	if len(use) < len(field) {
		return false
	}
	for i, p := range field {
		if p == "[]" {
			if _, err := strconv.Atoi(use[i]); err != nil {
				return false
			}
			continue
		}
		if use[i] != p {
			return false
		}
	}
	return true
}

// LoadErrorExplanation is what ExplainLoadError found.
type LoadErrorExplanation struct {
	// Causes are the variables that make Compose refuse the project.
	Causes []LoadErrorCause `json:"causes"`
	// Message is Compose's error with the values of secret-looking causes
	// masked (Compose quotes the value it refused).
	Message string `json:"message"`
}

// ExplainLoadError finds the variables that make Compose refuse the
// project with loadErr, and the env-file lines that set them. It maps the
// error back through the raw (uninterpolated) compose files: when the error
// names a field, the variables written there; when it names only a value
// (compose-go's "Invalid hostPort: abc"), the typed fields whose
// interpolated text is refused and whose variable holds that value. It
// finds nothing — an empty list — when the cause is not a variable.
func ExplainLoadError(ctx context.Context, st *stackops.Stack, loadErr error) (*LoadErrorExplanation, error) {
	if loadErr == nil {
		return nil, nil
	}
	uses, err := fieldUses(st)
	if err != nil {
		return nil, err
	}
	want := map[string]bool{}
	for _, u := range uses {
		for _, v := range u.vars {
			want[v] = true
		}
	}
	defs, cfg, err := definitions(st, want)
	if err != nil {
		return nil, err
	}
	lookup := func(k string) (string, bool) { d, ok := defs[k]; return d.value, ok }
	msg := loadErr.Error()
	field := errorField(msg)
	dotEnv := canonicalPath(st.DotEnvPath())
	var out []LoadErrorCause
	seen := map[string]bool{}
	add := func(key string, p ValueProblem) {
		d, ok := defs[key]
		if !ok || seen[key] {
			return
		}
		seen[key] = true
		c := LoadErrorCause{ValueProblem: p, File: d.file, Line: d.line}
		c.DotEnv = d.file != "" && canonicalPath(d.file) == dotEnv
		out = append(out, c)
	}
	for _, u := range uses {
		atField := field != nil && samePlace(u.path, field)
		if field != nil && !atField {
			continue
		}
		for _, key := range u.vars {
			d, ok := defs[key]
			if !ok {
				continue
			}
			if u.rule != nil {
				if p, bad := problemAt(u, key, d.value, lookup, cfg); bad && (atField || mentions(msg, d.value)) {
					add(key, p)
				}
				continue
			}
			if atField && d.value != "" {
				p := ValueProblem{Key: key, Value: d.value, Field: u.field(), Text: u.text, Reason: msg}
				if cfg.IsSecret(key) {
					p.Value, p.Masked = "", true
				}
				add(key, p)
			}
		}
	}
	res := &LoadErrorExplanation{Causes: out, Message: msg}
	for _, c := range out {
		if v := defs[c.Key].value; c.Masked && len(v) >= 3 {
			res.Message = strings.ReplaceAll(res.Message, v, envfile.Mask)
		}
	}
	return res, nil
}

// mentions reports whether an error message quotes value as a word of its
// own (so "1" is not found in "127.0.0.1:abc").
func mentions(msg, value string) bool {
	if value == "" {
		return strings.Contains(msg, "<empty>") || strings.Contains(msg, `""`)
	}
	for i := 0; ; {
		j := strings.Index(msg[i:], value)
		if j < 0 {
			return false
		}
		start, end := i+j, i+j+len(value)
		if (start == 0 || !wordByte(msg[start-1])) && (end == len(msg) || !wordByte(msg[end])) {
			return true
		}
		i = start + 1
	}
}

func wordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}
