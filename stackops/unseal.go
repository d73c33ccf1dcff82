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
	// keys are the keys of the encrypted values, sorted; empty says which
	// of them hold the empty text.
	keys  []string
	empty map[string]bool
	// env is KEY=plain for every encrypted value Compose would interpolate.
	env []string
	// values maps each key to its plain value.
	values map[string]string
	// tokens maps each key's token — the stand-in the model is built with —
	// to its plain value; nil when the model was built with plain values.
	tokens map[string]string
	// err is why a value could not be decrypted (nothing is then decrypted).
	err error
	// pending is set while the decryption waits until something needs a
	// value (LoadOptions.DeferUnseal): the model holds the tokens, and
	// values, env and tokens are empty.
	pending *pendingUnseal
}

// pendingUnseal is what a deferred decryption needs: the values as the
// env files give them, where they come from (for messages), and the
// environment the stack was asked to load with.
type pendingUnseal struct {
	in      *projectInputs
	sealed  []envcrypt.Sealed
	environ []string
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

// tokenEnviron is environ with KEY=token for each encrypted value (an
// empty one as it is).
func (u *unsealed) tokenEnviron(environ []string) []string {
	out := withoutKeys(environ, u.keys)
	for _, k := range u.keys {
		v := ""
		if !u.empty[k] {
			v = tokenOf(k)
		}
		out = append(out, k+"="+v)
	}
	return out
}

// plainEnviron is environ with KEY=plain for each decrypted value.
func (u *unsealed) plainEnviron(environ []string) []string {
	return append(withoutKeys(environ, u.keys), u.env...)
}

func withoutKeys(environ []string, keys []string) []string {
	set := make(map[string]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	out := make([]string, 0, len(environ)+len(keys))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if !set[k] {
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

// sealedValues are the encrypted values of the interpolation environment
// compose-go was given (the env files' values merged under the process
// environment), sorted by key.
func sealedValues(environment map[string]string) []envcrypt.Sealed {
	var out []envcrypt.Sealed
	for k, v := range environment {
		if envcrypt.IsEncrypted(v) {
			out = append(out, envcrypt.Sealed{Key: k, Value: v})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// unsealEnv decrypts the encrypted values of the interpolation environment.
// It returns nil when there is none.
func unsealEnv(in *projectInputs, environment map[string]string, environ map[string]string) *unsealed {
	sealed := sealedValues(environment)
	if len(sealed) == 0 {
		return nil
	}
	return openSealed(in, sealed, environ)
}

// openSealed decrypts sealed values with the identities environ points to.
func openSealed(in *projectInputs, sealed []envcrypt.Sealed, environ map[string]string) *unsealed {
	lookup := func(k string) (string, bool) { v, ok := environ[k]; return v, ok }
	op := &envcrypt.Opener{Where: envcrypt.WhereFrom(lookup)}
	plains, err := op.OpenAll(sealed, func(k string) string { return fileDefining(in, k) })
	if err != nil {
		return &unsealed{err: fmt.Errorf("%w: %w", ErrSealed, err)}
	}
	u := &unsealed{empty: map[string]bool{}, values: map[string]string{}, tokens: map[string]string{}}
	for i, s := range sealed {
		k, plain := s.Key, plains[i]
		u.keys = append(u.keys, k)
		u.values[k] = plain
		u.env = append(u.env, k+"="+plain)
		if plain != "" {
			u.tokens[tokenOf(k)] = plain
		} else {
			u.empty[k] = true
		}
	}
	return u
}

// deferredUnseal is the unsealed of a deferred load (LoadOptions.DeferUnseal):
// the keys of the encrypted values and, from their ciphertexts' length,
// which hold the empty text, so that the model can be built with the very
// tokens a decrypting load uses (and found in the compose-model cache). It
// returns nil when there is no encrypted value, or when one is not an age
// file (decrypting now says which and why).
func deferredUnseal(in *projectInputs, environment map[string]string, environ []string) *unsealed {
	sealed := sealedValues(environment)
	if len(sealed) == 0 {
		return nil
	}
	u := &unsealed{empty: map[string]bool{}, tokens: map[string]string{},
		pending: &pendingUnseal{in: in, sealed: sealed, environ: environ}}
	for _, s := range sealed {
		empty, ok := envcrypt.IsEmptyPlain(s.Value)
		if !ok {
			return nil
		}
		u.keys = append(u.keys, s.Key)
		if empty {
			u.empty[s.Key] = true
		}
	}
	return u
}

// holdsSealed reports whether a deferred load left a token where the
// project's name or its x-stackpilot block uses an encrypted value: those
// are read before anything could ask for the decryption, so such a load
// decrypts at once. The tasks are the exception: the one that runs is
// checked on its own (UsesSealed, in package tasks).
func (s *Stack) holdsSealed() bool {
	if strings.Contains(s.Name, tokenPrefix) {
		return true
	}
	for section, raw := range s.config.raw {
		if section != "tasks" && bytes.Contains(raw, []byte(tokenPrefix)) {
			return true
		}
	}
	return false
}

// UnsealPending reports whether the stack's encrypted .env values are
// still sealed (LoadOptions.DeferUnseal): the model holds a stand-in for
// each until Unsealed decrypts them.
func (s *Stack) UnsealPending() bool {
	s.unsealMu.Lock()
	defer s.unsealMu.Unlock()
	return s.unsealed != nil && s.unsealed.pending != nil
}

// UsesSealed reports whether any of texts — taken from the stack while its
// values are still sealed — holds the stand-in of an encrypted value, so
// that it must be taken again once Unsealed decrypted them.
func (s *Stack) UsesSealed(texts ...string) bool {
	if !s.UnsealPending() {
		return false
	}
	for _, t := range texts {
		if strings.Contains(t, tokenPrefix) {
			return true
		}
	}
	return false
}

// unsealNow decrypts what a deferred load left sealed and puts it in
// place as Load would have: the plain values in the model (the x-stackpilot
// block parsed again from it), in the environment, and for Compose
// (applyUnsealed). Called with unsealMu held.
func (s *Stack) unsealNow() error {
	p := s.unsealed.pending
	if p == nil {
		return nil
	}
	u := openSealed(p.in, p.sealed, environMap(p.environ))
	if u.err == nil {
		for _, k := range u.keys {
			if u.empty[k] != s.unsealed.empty[k] {
				// the model was built with the wrong stand-in; a ciphertext
				// that decrypts has the length of its text, so this is not
				// expected
				return fmt.Errorf("%w: %s: the encrypted value's length does not match its text", ErrSealed, k)
			}
		}
	}
	if u.err != nil {
		s.unsealed = u
		return nil
	}
	u.reveal(s.Project)
	cfg, err := parseConfig(s.Project.Extensions[ConfigExtension])
	if err != nil {
		return err
	}
	s.config = cfg
	s.environ = u.plainEnviron(p.environ)
	s.environOnce.Do(func() {})
	s.environMap = environMap(s.environ)
	return s.applyUnsealed(u)
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
// for. Commands that start or recreate containers call it before anything
// else. On a stack loaded with LoadOptions.DeferUnseal it decrypts them
// first (once), and puts them where Load would have.
func (s *Stack) Unsealed() error {
	s.unsealMu.Lock()
	defer s.unsealMu.Unlock()
	if s.unsealed == nil {
		return nil
	}
	if s.unsealed.pending != nil && s.unsealErr == nil {
		s.unsealErr = s.unsealNow()
		if s.unsealErr == nil {
			s.unsealed.pending = nil
		}
	}
	if s.unsealErr != nil {
		return s.unsealErr
	}
	return s.unsealed.err
}

// DecryptedKeys are the keys whose values Load decrypted, sorted.
func (s *Stack) DecryptedKeys() []string {
	if s.unsealed == nil || s.unsealed.pending != nil {
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
	if u == nil || u.err != nil || u.pending != nil {
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
