// Package tasks is the custom tasks' job on a stack: the one-off commands a
// team declares with the stack in x-stackpilot.tasks (a stats dump in the
// database container, a seed script on the host), listed and run with
// their output streamed, their exit code passed on, a terminal when the
// caller has one, and its Ctrl-C forwarded.
//
//	x-stackpilot:
//	  tasks:
//	    db-stats:
//	      description: Row counts and sizes
//	      service: db                 # inside db's running container …
//	      command: ["/demoapp", "db-stats"]
//	      user: "0"                   # optional, container tasks only
//	      workdir: /data              # optional, container tasks only
//	    add-note:
//	      description: Add a note through the api
//	      host: true                  # … or on the host, in the project directory
//	      command: ["./bin/demoapp", "add-note"]
//	      confirm: true               # it changes things: ask first (--yes without a terminal)
//	      environment: {API_URL: "http://127.0.0.1:${API_PORT:-8081}"}
//
// A command is an argv list (or a string split into words the way Compose
// splits `command:`), never run through a shell; its values are
// interpolated like the rest of the compose file.
package tasks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/mattn/go-shellwords"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/lazyre"
)

// Section is the x-stackpilot key holding the tasks.
const Section = "tasks"

// ErrUnknownTask means no task of that name is declared.
var ErrUnknownTask = errors.New("unknown task")

// Task is one declared task, interpolated and checked.
type Task struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Service is the service whose running container runs the task; empty
	// for a host task.
	Service string `json:"service,omitempty"`
	// Host is true for a task run on the host, in the project directory.
	Host    bool     `json:"host"`
	Command []string `json:"command"`
	// Confirm means the task changes things: it runs only once a person
	// agreed, or with --yes.
	Confirm bool `json:"confirm"`
	// EnvironmentKeys names the variables the task sets; their values stay
	// out of listings, since they may be secrets taken from .env.
	EnvironmentKeys []string `json:"environment,omitempty"`
	User            string   `json:"user,omitempty"`
	Workdir         string   `json:"workdir,omitempty"`

	env []string // KEY=VALUE, sorted by key
}

// Where says where the task runs, for listings: "service db" or "host".
func (t Task) Where() string {
	if t.Host {
		return "host"
	}
	return "service " + t.Service
}

// spec is a task as written in the compose file.
type spec struct {
	Description string      `json:"description"`
	Service     string      `json:"service"`
	Host        bool        `json:"host"`
	Command     commandArgs `json:"command"`
	Confirm     bool        `json:"confirm"`
	Environment environment `json:"environment"`
	User        string      `json:"user"`
	Workdir     string      `json:"workdir"`
}

var nameRe = lazyre.New(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// List returns the stack's tasks sorted by name, or the configuration
// error that names the task and key at fault.
func List(st *stackops.Stack) ([]Task, error) {
	var raw map[string]json.RawMessage
	if err := st.Config().Section(Section, &raw); err != nil {
		return nil, err
	}
	out := make([]Task, 0, len(raw))
	for name, b := range raw {
		t, err := decode(st, name, b)
		if err != nil {
			return nil, fmt.Errorf("%w: %s.%s.%s: %v", stackops.ErrInvalidConfig, stackops.ConfigExtension, Section, name, err)
		}
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// decode reads one task, strictly: an unknown key is an error.
func decode(st *stackops.Stack, name string, b []byte) (Task, error) {
	var sp spec
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sp); err != nil {
		return Task{}, errors.New(strings.TrimPrefix(err.Error(), "json: "))
	}
	t := Task{Name: name, Description: strings.TrimSpace(sp.Description), Service: sp.Service, Host: sp.Host,
		Command: sp.Command, Confirm: sp.Confirm, User: sp.User, Workdir: sp.Workdir}
	switch {
	case !nameRe().MatchString(name):
		return t, errors.New("a task name is letters, digits, '.', '_' and '-', starting with a letter or digit")
	case sp.Host && sp.Service != "":
		return t, errors.New("give either service (run in that service's container) or host: true (run on the host), not both")
	case !sp.Host && sp.Service == "":
		return t, errors.New("say where it runs: service: NAME (inside that service's running container) or host: true")
	case len(sp.Command) == 0 || sp.Command[0] == "":
		return t, errors.New("command is required: the program and its arguments, e.g. [\"/app\", \"stats\"]")
	case sp.Host && (sp.User != "" || sp.Workdir != ""):
		return t, errors.New("user and workdir are for container tasks (a host task runs as you, in the project directory)")
	}
	if sp.Service != "" && st.Project != nil && len(st.Project.Services)+len(st.Project.DisabledServices) > 0 {
		_, enabled := st.Project.Services[sp.Service]
		_, disabled := st.Project.DisabledServices[sp.Service]
		if !enabled && !disabled {
			return t, fmt.Errorf("service %q is not in the compose file (services: %s)", sp.Service, strings.Join(st.ServiceNames(), ", "))
		}
	}
	keys := make([]string, 0, len(sp.Environment))
	for k := range sp.Environment {
		if k == "" || strings.ContainsAny(k, "=\x00") {
			return t, fmt.Errorf("environment: invalid variable name %q", k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := sp.Environment[k]
		if v == nil {
			// KEY alone, as in Compose: the value comes from stackpilot's environment.
			val, ok := st.LookupEnv(k)
			if !ok {
				continue
			}
			v = &val
		}
		t.env = append(t.env, k+"="+*v)
		t.EnvironmentKeys = append(t.EnvironmentKeys, k)
	}
	return t, nil
}

// texts are the task's interpolated strings.
func (t Task) texts() []string {
	out := append([]string{t.Description, t.Service, t.User, t.Workdir}, t.Command...)
	return append(out, t.env...)
}

// Find returns the task called name, or an UnknownTaskError listing the
// declared ones.
func Find(st *stackops.Stack, name string) (Task, error) {
	list, err := List(st)
	if err != nil {
		return Task{}, err
	}
	for _, t := range list {
		if t.Name == name {
			return t, nil
		}
	}
	known := make([]string, 0, len(list))
	for _, t := range list {
		known = append(known, t.Name)
	}
	return Task{}, &UnknownTaskError{Name: name, Known: known}
}

// UnknownTaskError names the task asked for and the declared ones.
type UnknownTaskError struct {
	Name  string
	Known []string
}

func (e *UnknownTaskError) Error() string {
	if len(e.Known) == 0 {
		return fmt.Sprintf("no such task: %q (no tasks are declared: add them under %s.%s in the compose file)", e.Name, stackops.ConfigExtension, Section)
	}
	return fmt.Sprintf("no such task: %q (tasks: %s)", e.Name, strings.Join(e.Known, ", "))
}

// Is matches ErrUnknownTask.
func (e *UnknownTaskError) Is(target error) bool { return target == ErrUnknownTask }

// commandArgs is a command: a list of strings, or one string split into
// words as Compose splits `command:` (quotes group, no shell runs).
type commandArgs []string

func (c *commandArgs) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		words, err := shellwords.Parse(s)
		if err != nil {
			return fmt.Errorf("command %q: %v", s, err)
		}
		*c = words
		return nil
	}
	var list []any
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("command must be a list of strings (argv) or a string, got %s", string(b))
	}
	out := make([]string, 0, len(list))
	for _, v := range list {
		s, ok := scalar(v)
		if !ok {
			return fmt.Errorf("command: each argument must be a string, got %v", v)
		}
		out = append(out, s)
	}
	*c = out
	return nil
}

// environment is Compose's two spellings of variables: a mapping
// (KEY: value, or KEY: null) or a list (KEY=value, or KEY alone). A nil
// value means "from stackpilot's environment".
type environment map[string]*string

func (e *environment) UnmarshalJSON(b []byte) error {
	out := environment{}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err == nil {
		for k, v := range m {
			if v == nil {
				out[k] = nil
				continue
			}
			s, ok := scalar(v)
			if !ok {
				return fmt.Errorf("environment: %s must be a string, number or boolean", k)
			}
			out[k] = &s
		}
		*e = out
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("environment must be a mapping (KEY: value) or a list (KEY=value), got %s", string(b))
	}
	for _, kv := range list {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			out[k] = nil
			continue
		}
		out[k] = &v
	}
	*e = out
	return nil
}

// scalar renders a YAML scalar as Compose does: strings as they are,
// numbers and booleans in their plain form.
func scalar(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		if v {
			return "true", true
		}
		return "false", true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	}
	return "", false
}
