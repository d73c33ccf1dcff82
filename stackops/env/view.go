package env

import (
	"errors"
	"fmt"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/envfile"
)

// Compose may read several env files: the explicit ones (--env-file,
// COMPOSE_ENV_FILES), where the last wins, or the .env beside the working
// directory and then the project directory's, where the first wins
// (stackops.Stack.EnvFilePasses). The env commands read them all the way
// Compose does — every value evaluated with the lookups Compose gives it —
// so what they show is what Compose uses, and they edit one: the file
// whose values win (Stack.DotEnvPath).

// ErrNoEnvFile means Compose reads no env file, so there is none to edit.
var ErrNoEnvFile = errors.New("Compose reads no .env")

// viewFile is one env file as Compose reads it.
type viewFile struct {
	path   string
	snap   *envfile.Snapshot
	doc    *envfile.Document
	values []envfile.Value // every statement, evaluated as Compose does
}

// envView is every env file of the stack, evaluated.
type envView struct {
	files []*viewFile // in the order Compose reads them
	// final are the values Compose takes from the env files.
	final map[string]string
	// winner is the file whose definition of a key counts (the
	// environment, which beats every file, aside).
	winner map[string]*viewFile
}

// readView reads and evaluates the stack's env files, with the stack's
// x-stackpilot.env settings (which keys are secret) that it returns too.
func readView(st *stackops.Stack) (*envView, Config, error) {
	cfg, err := ConfigOf(st)
	if err != nil {
		return nil, cfg, err
	}
	v := &envView{final: map[string]string{}, winner: map[string]*viewFile{}}
	lookupEnv := st.LookupComposeEnv
	for _, pass := range st.EnvFilePasses() {
		// A pass sees the environment, then what earlier passes set.
		earlier := v.final
		lookup := func(k string) (string, bool) {
			if val, ok := lookupEnv(k); ok {
				return val, true
			}
			val, ok := earlier[k]
			return val, ok
		}
		acc := map[string]string{}
		winners := map[string]*viewFile{}
		for _, path := range pass {
			f, err := readViewFile(path, cfg)
			if err != nil {
				return nil, cfg, err
			}
			f.values = f.doc.EvaluateAfter(lookup, acc)
			for _, val := range f.values {
				if val.Set {
					acc[val.Key] = val.Value
					winners[val.Key] = f
				}
			}
			v.files = append(v.files, f)
		}
		merged := make(map[string]string, len(earlier)+len(acc))
		for k, val := range earlier {
			merged[k] = val
		}
		for k, val := range acc {
			if _, set := merged[k]; !set {
				merged[k] = val
				v.winner[k] = winners[k]
			}
		}
		v.final = merged
	}
	return v, cfg, nil
}

func readViewFile(path string, cfg Config) (*viewFile, error) {
	t := &envTarget{path: path, real: path, cfg: cfg}
	if real, err := resolveLink(path); err != nil {
		return nil, err
	} else {
		t.real = real
	}
	snap, err := envfile.ReadSnapshot(t.real)
	if err != nil {
		return nil, err
	}
	doc, err := t.parse(snap)
	if err != nil {
		return nil, err
	}
	return &viewFile{path: path, snap: snap, doc: doc}, nil
}

// file returns the view of path, if Compose reads it.
func (v *envView) file(path string) *viewFile {
	for _, f := range v.files {
		if f.path == path {
			return f
		}
	}
	return nil
}

// lastValues are a file's keys in file order (first appearance), each with
// its last definition, and the lines of every definition.
func (f *viewFile) lastValues() (order []string, last map[string]envfile.Value, lines map[string][]int) {
	last = map[string]envfile.Value{}
	lines = map[string][]int{}
	for _, val := range f.values {
		if _, ok := last[val.Key]; !ok {
			order = append(order, val.Key)
		}
		last[val.Key] = val
		lines[val.Key] = append(lines[val.Key], val.Line)
	}
	return order, last, lines
}

// definedElsewhere says where else than path a key is set, for an unset.
func (v *envView) definedElsewhere(key, path string) (string, int, bool) {
	for _, f := range v.files {
		if f.path == path {
			continue
		}
		if _, last, _ := f.lastValues(); last[key].Set {
			return f.path, last[key].Line, true
		}
	}
	return "", 0, false
}

func noEnvFileError() error {
	return fmt.Errorf("%w: COMPOSE_DISABLE_ENV_FILE is set, so Compose reads no .env — unset it, or name the file with --env-file", ErrNoEnvFile)
}

const disableEnvFileVar = "COMPOSE_DISABLE_ENV_FILE"
