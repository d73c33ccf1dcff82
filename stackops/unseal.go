package stackops

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/stackpilot/stackpilot/stackops/envcrypt"
	"github.com/stackpilot/stackpilot/stackops/envfile"
	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
	"github.com/stackpilot/stackpilot/stackops/internal/lazyre"
)

// Encrypted .env values (package envcrypt) reach Compose in plain text
// without a plain-text file on disk and without argv:
//
//   - ${VAR} interpolation: Load decrypts every encrypted value the env
//     files give, in memory, and loads the project again with KEY=plain
//     added to its environment — the process environment beats the env
//     files in Compose's interpolation, so stackpilot's model is the plain
//     one. Every Compose command the Stack's Runner runs then gets the same
//     KEY=plain in its process environment (unsealedRunner): Compose reads
//     the ciphertext in .env and ignores it for the value the environment
//     gives.
//
//   - env_file: Compose reads a service's env_file itself, and would hand
//     the container the ciphertext. For each service whose env_file holds
//     an encrypted key, an override compose file adds `environment:
//     KEY: ${KEY}` (environment beats env_file), given to Compose after the
//     project's own files; ${KEY} is interpolated from the process
//     environment above. The override holds names and references, never a
//     value, so it may live on disk (.stackpilot/unsealed-<hash>.yml, 0600)
//     like any compose file: Compose v1 cannot read a compose file from a
//     pipe it does not own, and stdin belongs to the command (an
//     interactive task). No value is written anywhere: the compose-model
//     cache holds the model built with tokens (below), never the values.
//
// A value that cannot be decrypted (no identity, a wrong one, a damaged
// ciphertext, a loose identity file) does not stop Load — status and logs
// need no secret — but every command that starts containers checks
// Unsealed first and stops before touching anything.

// unsealed is what Load decrypted.
type unsealed struct {
	// env is KEY=plain for every encrypted value Compose would interpolate.
	env []string
	// values maps each key to its plain value.
	values map[string]string
	// tokens maps each key's token — the stand-in the model is built with —
	// to its plain value; nil when the model was built with plain values.
	tokens map[string]string
	// err is why a value could not be decrypted (nothing is then decrypted).
	err error
}

// The model of a project with encrypted values is built with a token in
// place of each value (a fixed text per key, so the compose-model cache
// finds it again), then every token in it is replaced by the plain value.
// The cache thus holds tokens, never a value, and a stack with encrypted
// values loads as fast as one without. An empty value needs no hiding and
// is used as it is (a token would change ${KEY:-default}). A model that
// cannot be built with tokens (a secret used as a port number) is built
// with the plain values instead, and not cached.
const tokenPrefix = "__stackpilot_sealed_"

func tokenOf(key string) string {
	h := sha256.Sum256([]byte(key))
	return tokenPrefix + hex.EncodeToString(h[:8]) + "__"
}

// tokenEnviron is environ with KEY=token for each decrypted value.
func (u *unsealed) tokenEnviron(environ []string) []string {
	out := withoutKeys(environ, u.values)
	keys := make([]string, 0, len(u.values))
	for k := range u.values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := u.values[k]
		if v != "" {
			v = tokenOf(k)
		}
		out = append(out, k+"="+v)
	}
	return out
}

// plainEnviron is environ with KEY=plain for each decrypted value.
func (u *unsealed) plainEnviron(environ []string) []string {
	return append(withoutKeys(environ, u.values), u.env...)
}

func withoutKeys(environ []string, keys map[string]string) []string {
	out := make([]string, 0, len(environ)+len(keys))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if _, ok := keys[k]; !ok {
			out = append(out, kv)
		}
	}
	return out
}

// reveal replaces every token in the model by its plain value.
func (u *unsealed) reveal(p *types.Project) {
	if u == nil || len(u.tokens) == 0 {
		return
	}
	pairs := make([]string, 0, 2*len(u.tokens))
	for t, v := range u.tokens {
		pairs = append(pairs, t, v)
	}
	r := strings.NewReplacer(pairs...)
	replaceStrings(reflect.ValueOf(p), func(s string) (string, bool) {
		if !strings.Contains(s, tokenPrefix) {
			return s, false
		}
		return r.Replace(s), true
	})
}

// replaceStrings rewrites every string reachable from v (through pointers,
// interfaces, structs' exported fields, slices, arrays and map values).
func replaceStrings(v reflect.Value, fn func(string) (string, bool)) {
	switch v.Kind() {
	case reflect.Pointer:
		if !v.IsNil() {
			replaceStrings(v.Elem(), fn)
		}
	case reflect.Interface:
		if v.IsNil() || !v.CanSet() {
			return
		}
		cp := reflect.New(v.Elem().Type()).Elem()
		cp.Set(v.Elem())
		replaceStrings(cp, fn)
		v.Set(cp)
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if f := v.Field(i); f.CanSet() {
				replaceStrings(f, fn)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			replaceStrings(v.Index(i), fn)
		}
	case reflect.Map:
		if v.IsNil() {
			return
		}
		for _, k := range v.MapKeys() {
			cp := reflect.New(v.Type().Elem()).Elem()
			cp.Set(v.MapIndex(k))
			replaceStrings(cp, fn)
			v.SetMapIndex(k, cp)
		}
	case reflect.String:
		if s, ok := fn(v.String()); ok && v.CanSet() {
			v.SetString(s)
		}
	}
}

// unsealEnv decrypts the encrypted values of the interpolation environment
// compose-go was given (the env files' values merged under the process
// environment). It returns nil when there is none.
func unsealEnv(in *projectInputs, environment map[string]string, environ map[string]string) *unsealed {
	var keys []string
	for k, v := range environment {
		if envcrypt.IsEncrypted(v) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return nil
	}
	sort.Strings(keys)
	lookup := func(k string) (string, bool) { v, ok := environ[k]; return v, ok }
	op := &envcrypt.Opener{Where: envcrypt.WhereFrom(lookup)}
	sealed := make([]envcrypt.Sealed, len(keys))
	for i, k := range keys {
		sealed[i] = envcrypt.Sealed{Key: k, Value: environment[k]}
	}
	plains, err := op.OpenAll(sealed, func(k string) string { return fileDefining(in, k) })
	if err != nil {
		return &unsealed{err: fmt.Errorf("%w: %w", ErrSealed, err)}
	}
	u := &unsealed{values: map[string]string{}, tokens: map[string]string{}}
	for i, k := range keys {
		plain := plains[i]
		u.values[k] = plain
		u.env = append(u.env, k+"="+plain)
		if plain != "" {
			u.tokens[tokenOf(k)] = plain
		}
	}
	return u
}

// ErrSealed means an encrypted .env value could not be decrypted, so no
// command that starts containers may run.
var ErrSealed = errors.New("an encrypted .env value cannot be decrypted — nothing was started or changed")

// ErrUnsealLimit means the decrypted values cannot be handed to Compose
// the way the project is found (nothing was run).
var ErrUnsealLimit = errors.New("encrypted .env values cannot reach Compose from here")

// fileDefining is the env file whose definition of key Compose uses (for
// messages): the first of a pass's files that defines it, the last one of
// explicit env files.
func fileDefining(in *projectInputs, key string) string {
	files := in.envFilesRead()
	if len(in.envFiles) > 0 {
		for i := len(files) - 1; i >= 0; i-- {
			if fileDefines(files[i], key) {
				return files[i]
			}
		}
	}
	for _, f := range files {
		if fileDefines(f, key) {
			return f
		}
	}
	if len(files) > 0 {
		return files[0]
	}
	return ".env"
}

func fileDefines(path, key string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	d, err := envfile.Parse(b, nil)
	return err == nil && d.Has(key)
}

// Unsealed reports whether every encrypted .env value could be decrypted:
// nil, or an error naming the key, its file and where identities are looked
// for. Commands that start or recreate containers call it before anything else.
func (s *Stack) Unsealed() error {
	if s.unsealed == nil {
		return nil
	}
	return s.unsealed.err
}

// DecryptedKeys are the keys whose values Load decrypted, sorted.
func (s *Stack) DecryptedKeys() []string {
	if s.unsealed == nil {
		return nil
	}
	var out []string
	for k := range s.unsealed.values {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// unsealCheck is doctor's check of the encrypted .env values: shown only
// for a project that has some.
func unsealCheck(s *Stack) DoctorCheck {
	c := DoctorCheck{Name: "encrypted values"}
	if err := s.Unsealed(); err != nil {
		c.Detail = err.Error()
		c.Fix = "put your identity where it is looked for (env keygen creates one), or ask a teammate who can decrypt to add your recipient (env recipients add) and re-encrypt (env rotate)"
		return c
	}
	c.OK = true
	c.Detail = fmt.Sprintf("%d decrypted with your identities: %s", len(s.unsealed.values), strings.Join(s.DecryptedKeys(), ", "))
	return c
}

// unsealedRunner gives every Compose command the decrypted values through
// its process environment (never its argv: -v traces show argv only).
type unsealedRunner struct {
	Runner
	env []string
}

// Run implements Runner.
func (r *unsealedRunner) Run(ctx context.Context, c Cmd) error {
	if len(c.Args) > 0 {
		switch filepath.Base(c.Args[0]) {
		case "docker", "docker-compose":
			c.Env = append(append([]string{}, c.Env...), r.env...)
		}
	}
	return r.Runner.Run(ctx, c)
}

// applyUnsealed installs what Load decrypted on the loaded stack: the
// runner that hands it to Compose, the plain values in the model's
// services where an env_file gave the ciphertext, and the override that
// makes Compose do the same.
func (s *Stack) applyUnsealed(u *unsealed) error {
	s.unsealed = u
	if u == nil || u.err != nil {
		return nil
	}
	s.Runner = &unsealedRunner{Runner: s.Runner, env: u.env}
	byService := map[string][]string{}
	for _, name := range s.ServiceNames() {
		svc := s.Project.Services[name]
		var keys []string
		for k, v := range svc.Environment {
			if v == nil || !envcrypt.IsEncrypted(*v) {
				continue
			}
			if plain, ok := u.values[k]; ok {
				p := plain
				svc.Environment[k] = &p
				keys = append(keys, k)
			}
		}
		if len(keys) > 0 {
			sort.Strings(keys)
			byService[name] = keys
		}
	}
	if len(byService) == 0 {
		return nil
	}
	path, err := s.writeUnsealOverride(byService)
	if err != nil {
		return err
	}
	s.unsealOverride = path
	return nil
}

// writeUnsealOverride writes the override compose file (references only)
// under .stackpilot, named by its content, unless it is there already.
func (s *Stack) writeUnsealOverride(byService map[string][]string) (string, error) {
	var b bytes.Buffer
	b.WriteString("# Written by stackpilot: the services whose env_file holds encrypted values get\n# them from its process environment (names only; no value is ever written here).\n")
	if v := composeFileVersion(s.ComposeFiles); v != "" {
		// Compose v1 refuses to merge files of different versions.
		fmt.Fprintf(&b, "version: %s\n", v)
	}
	b.WriteString("services:\n")
	var names []string
	for n := range byService {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(&b, "  %q:\n    environment:\n", n)
		for _, k := range byService[n] {
			fmt.Fprintf(&b, "      %q: \"${%s}\"\n", k, k)
		}
	}
	sum := sha256.Sum256(b.Bytes())
	dir, err := s.StateDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "unsealed-"+hex.EncodeToString(sum[:6])+".yml")
	if have, err := os.ReadFile(path); err == nil && bytes.Equal(have, b.Bytes()) {
		return path, nil
	}
	if err := atomicfile.Write(path, b.Bytes(), atomicfile.Options{Mode: 0o600}); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return path, nil
}

var versionLineRe = lazyre.New(`(?m)^version:[ \t]*(\S[^#\r\n]*?)[ \t]*(?:#.*)?\r?$`)

// composeFileVersion is the top-level version: of the first compose file
// ("" when it has none), written as it is.
func composeFileVersion(files []string) string {
	if len(files) == 0 {
		return ""
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		return ""
	}
	if m := versionLineRe().FindSubmatch(b); m != nil {
		return string(m[1])
	}
	return ""
}

// composeFilesWithOverride is the compose files to name when the unseal
// override must follow them.
func (s *Stack) composeFilesWithOverride() []string {
	return append(append([]string{}, s.ComposeFiles...), s.unsealOverride)
}
