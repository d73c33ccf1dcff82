// Package env is the env commands' job on a stack's .env: list, get, set,
// unset, undo, check, and which services a key concerns. The document
// itself (parsing, editing, encoding) is package envfile; this package adds
// what an edit of a real file needs:
//
//   - reads mean what Compose reads (see package envfile);
//   - a write happens under an flock on .stackpilot/env.lock, re-reads the
//     file, verifies the edit through compose-go's parser, keeps the
//     previous version under .stackpilot/env-versions, writes a temporary
//     file in the same directory, fsyncs it, renames it over the target and
//     fsyncs the directory — so the file is always either the old or the new
//     version, never a mix;
//   - if the file changed under us (an editor) between the read and the
//     rename, the write is abandoned and the other writer's content kept.
package env

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/envcrypt"
	"github.com/stackpilot/stackpilot/stackops/envfile"
	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
)

// Config is the x-stackpilot.env section.
type Config struct {
	// Secrets are the case-insensitive substrings that make a key
	// secret-looking (its value masked). Setting it replaces the default
	// rules (envfile.LooksSecret); empty keeps them.
	Secrets []string `json:"secrets,omitempty"`
	// NotSecret lists keys shown in clear even though they match Secrets
	// or the default rules (e.g. PRIVATE_NETWORK matches PRIVATE).
	NotSecret []string `json:"not_secret,omitempty"`
	// Example is the file `env check` compares with, relative to the project
	// directory; .env.example by default.
	Example string `json:"example,omitempty"`
	// KeepVersions is how many previous versions of .env are kept for
	// `env undo`; 10 by default.
	KeepVersions int `json:"keep_versions,omitempty"`
}

const defaultKeepVersions = 10

// defaultEnvLockWait is how long a write waits for another stackpilot's
// edit of the same .env to finish. Edits take milliseconds, so waiting is
// always better than failing — two scripts setting keys at once must both win.
const defaultEnvLockWait = 30 * time.Second

var (
	// ErrKeyNotFound means the key is not defined in the .env file.
	ErrKeyNotFound = errors.New("key not set in .env")
	// ErrChanged means the .env changed between the read an edit was
	// based on and the write; nothing was written.
	ErrChanged = errors.New(".env changed while it was being edited")
	// ErrNothingToUndo means no earlier version of .env is kept.
	ErrNothingToUndo = errors.New("nothing to undo")
)

// ConfigOf decodes the stack's x-stackpilot.env with its defaults applied.
func ConfigOf(st *stackops.Stack) (Config, error) {
	var c Config
	if err := st.Config().Section("env", &c); err != nil {
		return c, err
	}
	if len(c.Secrets) == 0 {
		c.Secrets = nil // the default rules
	}
	if c.KeepVersions <= 0 {
		c.KeepVersions = defaultKeepVersions
	}
	if c.Example == "" {
		c.Example = ".env.example"
	}
	return c, nil
}

// IsSecret reports whether key's value is masked unless revealed.
func (c Config) IsSecret(key string) bool {
	return envfile.IsSecret(key, c.Secrets, c.NotSecret)
}

// refsSecret reports whether a value built from refs holds a secret: one of
// them looks secret, or was itself built from one (derived, by key).
func (c Config) refsSecret(refs []string, derived map[string]bool) bool {
	for _, r := range refs {
		if c.IsSecret(r) || derived[r] {
			return true
		}
	}
	return false
}

// SecretKeys are the keys of doc whose values are secret: those that look
// secret, and those whose value interpolates one (transitively).
func (c Config) SecretKeys(doc *envfile.Document, lookup func(string) (string, bool)) map[string]bool {
	derived := map[string]bool{}
	for _, v := range doc.Evaluate(lookup) {
		derived[v.Key] = c.IsSecret(v.Key) || envcrypt.IsEncrypted(v.Value) || c.refsSecret(v.Refs, derived)
	}
	return derived
}

// ---- the file ----

// envTarget is the .env being edited: the path the stack names and the
// file the bytes really live in (a symlinked .env is edited at its target).
type envTarget struct {
	path string // as the stack names it
	real string // symlinks resolved
	cfg  Config
}

func targetOf(st *stackops.Stack) (*envTarget, error) {
	cfg, err := ConfigOf(st)
	if err != nil {
		return nil, err
	}
	p := st.DotEnvPath()
	if p == "" {
		return nil, noEnvFileError()
	}
	real, err := resolveLink(p)
	if err != nil {
		return nil, err
	}
	return &envTarget{path: p, real: real, cfg: cfg}, nil
}

// resolveLink is where a (possibly symlinked) env file's bytes live.
func resolveLink(p string) (string, error) {
	if fi, err := os.Lstat(p); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		real, err := filepath.EvalSymlinks(p)
		if err != nil {
			return "", fmt.Errorf("%s is a symlink whose target cannot be used: %w", p, err)
		}
		return real, nil
	}
	return p, nil
}

// docFor returns a document that answers questions about key: the whole
// document when this process holds its parse already, or when key's value
// refers to other settings; otherwise the file read through a small window,
// every line checked, keeping only key's last definition
// (envfile.ScanFileForKey).
func (t *envTarget) docFor(key string) (*envfile.Document, error) {
	if !envfile.Cached(t.real) {
		d, whole, err := envfile.ScanFileForKey(t.real, key, t.cfg.IsSecret)
		if err != nil {
			var se *envfile.SyntaxError
			if errors.As(err, &se) {
				se.Path = t.path
			}
			return nil, err
		}
		if whole {
			return d, nil
		}
	}
	snap, err := envfile.ReadSnapshot(t.real)
	if err != nil {
		return nil, err
	}
	return t.parse(snap)
}

func (t *envTarget) parse(snap *envfile.Snapshot) (*envfile.Document, error) {
	d, err := envfile.ParseCached(t.real, snap.Data, t.cfg.IsSecret)
	if err != nil {
		var se *envfile.SyntaxError
		if errors.As(err, &se) {
			se.Path = t.path
		}
		return nil, err
	}
	return d, nil
}

// testSeams are the hooks tests reach into; all nil outside tests.
var testSeams struct {
	// writeStep is told each step of a .env write (temp-created,
	// temp-written, temp-synced, renamed, dir-synced, version-saved), so a
	// test can read the lock record there or kill the process exactly there.
	writeStep func(step string)
}

func atWriteStep(step string) {
	if testSeams.writeStep != nil {
		testSeams.writeStep(step)
	}
}

// replaceFile writes data to path atomically and durably (package
// atomicfile), keeping the old file's mode and owner (a new file is 0600).
// unchanged is called just before the rename; if it fails nothing is
// replaced. Leftovers of writers killed mid-write are removed first (we
// hold the env lock: none is live).
func replaceFile(path string, data []byte, unchanged func() error) error {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	atomicfile.RemoveTemps(dir, base)
	return atomicfile.Write(path, data, atomicfile.Options{Mode: 0o600, BeforeRename: unchanged, Step: atWriteStep})
}

// unchangedSince returns a check that the file still holds snap's content.
// It compares as it reads, through one small buffer: the file is as large
// as the one already in memory, and fresh memory is what a short command
// pays most for.
func (t *envTarget) unchangedSince(snap *envfile.Snapshot) func() error {
	return func() error {
		same, err := snap.Unchanged(t.real)
		if err != nil {
			return err
		}
		if !same {
			return fmt.Errorf("%w: %s was modified by another program while stackpilot was editing it — nothing was written and its new content was kept; run the command again", ErrChanged, t.path)
		}
		return nil
	}
}

// ---- the lock ----

// lockEnv takes the env lock (.stackpilot/env.lock), polling briefly so
// concurrent edits queue up quickly. The holder record names the operation
// but never the command line: `env set KEY=VALUE` carries a secret in argv.
func lock(ctx context.Context, st *stackops.Stack, op string, wait time.Duration) (*stackops.FileLock, error) {
	dir, err := st.StateDir()
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "env.lock")
	if wait == 0 {
		wait = defaultEnvLockWait
	}
	poll := func(n int) time.Duration {
		delay := time.Millisecond << min(n, 5) // 1, 2, 4 … 32 ms
		return delay + time.Duration(rand.Int64N(int64(delay)))
	}
	l, err := stackops.AcquireFileLockWith(ctx, path, op, stackops.FileLockOptions{Wait: max(wait, 0), Poll: poll, Command: "stackpilot " + op})
	var le *stackops.LockedError
	if errors.As(err, &le) {
		who := "another stackpilot"
		if le.Holder != nil {
			who = le.Holder.String()
		}
		return nil, &lockedError{msg: fmt.Sprintf(".env is being edited by %s, which still holds %s after %s — try again once it has finished", who, path, wait)}
	}
	return l, err
}

// lockedError is stackops.ErrLocked for the env lock, worded without the stack
// lock's --lock-wait advice (env edits wait on their own).
type lockedError struct{ msg string }

func (e *lockedError) Error() string { return e.msg }

// Is matches stackops.ErrLocked.
func (e *lockedError) Is(target error) bool { return target == stackops.ErrLocked }

// ---- versions ----

// Version is a previous content of .env kept for `env undo`.
type Version struct {
	// ID is the version's file name without extension.
	ID string `json:"id"`
	// Time is when it was replaced.
	Time time.Time `json:"time"`
	// Op is the edit that replaced it, e.g. "set DB_HOST".
	Op string `json:"op"`
	// Keys are the keys that edit changed (as far as the version's file
	// name holds them: it is cut at 100 characters).
	Keys []string `json:"keys,omitempty"`
	// Absent means the .env did not exist then (undo deletes it).
	Absent bool `json:"absent,omitempty"`
	// File is where the content is kept.
	File string `json:"file"`
}

// versionsDir is .stackpilot/env-versions/<name>-<hash of the path>, one
// history per env file.
func versionsDir(st *stackops.Stack, t *envTarget, sub string) (string, error) {
	state, err := st.StateDir()
	if err != nil {
		return "", err
	}
	abs, _ := filepath.Abs(t.path)
	h := sha256.Sum256([]byte(abs))
	name := strings.TrimPrefix(filepath.Base(abs), ".")
	dir := filepath.Join(state, "env-versions", name+"-"+hex.EncodeToString(h[:4]))
	if sub != "" {
		dir = filepath.Join(dir, sub)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("env versions directory: %w", err)
	}
	return dir, nil
}

func listVersions(dir string) ([]Version, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Version
	for _, e := range ents {
		name := e.Name()
		ext := filepath.Ext(name)
		if e.IsDir() || (ext != ".env" && ext != ".absent") || len(name) < 21 || name[19] != '-' {
			continue
		}
		ns, err := strconv.ParseInt(name[:19], 10, 64)
		if err != nil {
			continue
		}
		slug := strings.TrimSuffix(name[20:], ext)
		fields := strings.Split(slug, "-")
		var keys []string
		for i, k := range fields[1:] {
			if envfile.ValidKey(k) == nil && !(i == len(fields)-2 && len(slug) == maxVersionSlug) {
				keys = append(keys, k)
			}
		}
		op := strings.Replace(slug, "-", " ", 1)
		op = strings.ReplaceAll(op, "-", ", ")
		out = append(out, Version{ID: strings.TrimSuffix(name, ext), Time: time.Unix(0, ns), Op: op, Keys: keys, Absent: ext == ".absent", File: filepath.Join(dir, name)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// maxVersionSlug is how much of "op-KEY-KEY…" a version's file name keeps.
const maxVersionSlug = 100

// saveVersion keeps snap's content in dir (atomically: a killed writer
// leaves a temporary file, never a torn version) and prunes to keep.
func saveVersion(dir string, snap *envfile.Snapshot, op string, keys []string, keep int) (*Version, error) {
	existing, _ := listVersions(dir)
	ns := time.Now().UnixNano()
	if n := len(existing); n > 0 {
		if last := existing[n-1].Time.UnixNano(); ns <= last {
			ns = last + 1
		}
	}
	slug := op
	if len(keys) > 0 {
		slug += "-" + strings.Join(keys, "-")
	}
	if len(slug) > maxVersionSlug {
		slug = slug[:maxVersionSlug]
	}
	ext := ".env"
	if !snap.Exists {
		ext = ".absent"
	}
	name := fmt.Sprintf("%019d-%s%s", ns, slug, ext)
	// leftovers of writers killed mid-write (we hold the env lock: none is live)
	atomicfile.RemoveTemps(dir, "*")
	if err := atomicfile.Write(filepath.Join(dir, name), snap.Data, atomicfile.Options{Mode: 0o600}); err != nil {
		return nil, fmt.Errorf("keep the previous .env: %w", err)
	}
	atWriteStep("version-saved")
	all, _ := listVersions(dir)
	for len(all) > keep {
		os.Remove(all[0].File)
		all = all[1:]
	}
	v := all[len(all)-1]
	return &v, nil
}

// Versions lists the kept versions of .env, oldest first.
func Versions(ctx context.Context, st *stackops.Stack) ([]Version, error) {
	t, err := targetOf(st)
	if err != nil {
		return nil, err
	}
	dir, err := versionsDir(st, t, "")
	if err != nil {
		return nil, err
	}
	return listVersions(dir)
}

// ---- list / get ----

// ListOptions selects what List shows.
type ListOptions struct {
	// Reveal shows secret values instead of masking them.
	Reveal bool
}

// ListEntry is one key of .env with its value as Compose reads it.
type ListEntry struct {
	Key string `json:"key"`
	// Value is Compose's reading; empty when Masked.
	Value string `json:"value"`
	// Masked is true when Value was withheld because the key looks secret
	// or interpolates a secret (Value is then empty), or when the
	// credentials of a URL in it were replaced by ******** (Value shows the rest).
	Masked bool `json:"masked"`
	// Secret is true when the key looks secret or its value interpolates a
	// secret, or is encrypted.
	Secret bool `json:"secret"`
	// Encrypted is true when the value is stored encrypted (ENC[age:…]);
	// Value is then masked, or with Reveal decrypted.
	Encrypted bool `json:"encrypted,omitempty"`
	// Line is where the definition that counts (the last) starts.
	Line int `json:"line"`
	// Inherited is a bare KEY line (the value comes from the environment).
	Inherited bool `json:"inherited,omitempty"`
	// Unset is a bare KEY line whose variable is not in the environment.
	Unset bool `json:"unset,omitempty"`
	// OverriddenByEnvironment: the variable is also set in stackpilot's
	// environment, which Compose uses for ${KEY} instead of the file.
	OverriddenByEnvironment bool `json:"overridden_by_environment,omitempty"`
	// File is the env file the definition is in.
	File string `json:"file"`
	// OverriddenBy is the env file whose definition of the key Compose
	// uses instead of this one (several env files are read).
	OverriddenBy string `json:"overridden_by,omitempty"`
	// Error is why Compose would refuse this value.
	Error string `json:"error,omitempty"`
}

// ListResult is the keys of the env files in the order Compose reads them.
type ListResult struct {
	// Path is the env file the env commands edit (the one whose values
	// win); "" when COMPOSE_DISABLE_ENV_FILE keeps Compose from reading any.
	Path     string `json:"path"`
	Exists   bool   `json:"exists"`
	Revision string `json:"revision"`
	// Files are every env file Compose reads, in the order it reads them.
	Files    []string    `json:"files"`
	Entries  []ListEntry `json:"entries"`
	Warnings []string    `json:"warnings,omitempty"`
}

// List reads every key of the env files Compose reads, file by file in the
// order it reads them, each key in file order (first appearance) with the
// value that counts in that file (its last definition), masking
// secret-looking values unless opts.Reveal. An entry another file's
// definition beats says which (OverriddenBy).
func List(ctx context.Context, st *stackops.Stack, opts ListOptions) (*ListResult, error) {
	view, cfg, err := readView(st)
	if err != nil {
		return nil, err
	}
	res := &ListResult{Path: st.DotEnvPath(), Revision: "absent", Files: []string{}, Entries: []ListEntry{}}
	if target := view.file(res.Path); target != nil {
		res.Exists, res.Revision = target.snap.Exists, target.snap.Revision()
	}
	several := len(view.files) > 1
	// A value built from a secret (DATABASE_URL=…${DB_PASSWORD}@…) is one
	// too, whatever its key is called: derived, in the order Compose reads.
	derived := map[string]bool{}
	for _, f := range view.files {
		for _, v := range f.values {
			derived[v.Key] = derived[v.Key] || cfg.IsSecret(v.Key) || envcrypt.IsEncrypted(v.Value) || cfg.refsSecret(v.Refs, derived)
		}
	}
	for _, f := range view.files {
		res.Files = append(res.Files, f.path)
		order, last, lines := f.lastValues()
		for _, k := range order {
			v := last[k]
			secret := derived[k]
			e := ListEntry{Key: k, Value: v.Value, Secret: secret, Line: v.Line, Inherited: v.Inherited, Unset: !v.Set, File: f.path}
			if envcrypt.IsEncrypted(v.Value) {
				secret, e.Secret, e.Encrypted = true, true, true
				if opts.Reveal {
					plain, err := Reveal(st, f.path, k, v.Value)
					if err != nil {
						return nil, err
					}
					e.Value = plain
				}
			}
			if v.Err != nil {
				e.Error = v.Err.Error()
			}
			if ev, ok := st.LookupEnv(k); ok && !v.Inherited && ev != v.Value {
				e.OverriddenByEnvironment = true
			}
			if w := view.winner[k]; w != nil && w != f && v.Set {
				e.OverriddenBy = w.path
			}
			switch {
			case opts.Reveal:
			case secret && e.Value != "":
				e.Value, e.Masked = "", true
			default:
				// The credentials of a URL, whatever the key: postgres://********@db/app.
				if mv, ok := envfile.MaskURLCredentials(e.Value); ok {
					e.Value, e.Masked = mv, true
				}
			}
			res.Entries = append(res.Entries, e)
			where := ""
			if several {
				where = " in " + f.path
			}
			if l := lines[k]; len(l) > 1 {
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s is defined %d times%s (lines %s); line %d counts", k, len(l), where, joinInts(l), l[len(l)-1]))
			}
			if e.Error != "" {
				res.Warnings = append(res.Warnings, e.Error)
			}
		}
	}
	return res, nil
}

func joinInts(a []int) string {
	s := make([]string, len(a))
	for i, n := range a {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ", ")
}

// GetOptions names the key to read.
type GetOptions struct {
	Key string
	// Raw returns the literal text from the file (quotes included) instead
	// of Compose's reading.
	Raw bool
	// Reveal decrypts an encrypted value; without it an encrypted value is
	// returned as stored (Encrypted tells).
	Reveal bool
}

// GetResult is one key's value.
type GetResult struct {
	Key   string `json:"key"`
	Value string `json:"value"`
	Line  int    `json:"line"`
	// File is the env file the value is in.
	File string `json:"file"`
	// Secret is true when the key looks secret (callers decide whether to show it).
	Secret bool `json:"secret"`
	// Encrypted is true when the value is stored encrypted; Value is the
	// plain one only when Reveal was asked.
	Encrypted bool `json:"encrypted,omitempty"`
	// FromEncrypted is true when the value is built from encrypted ones;
	// Value holds them decrypted only when Reveal was asked.
	FromEncrypted bool `json:"from_encrypted,omitempty"`
	// OverriddenByEnvironment: the environment's value is what Compose interpolates.
	OverriddenByEnvironment bool `json:"overridden_by_environment,omitempty"`
	// Unresolved lists ${VARS} in the value that are set nowhere.
	Unresolved []string `json:"unresolved,omitempty"`
}

// Get returns one key's value as Compose reads it (or, with Raw, as
// written), from the env file whose definition counts.
func Get(ctx context.Context, st *stackops.Stack, opts GetOptions) (*GetResult, error) {
	if len(st.EnvFiles) > 1 {
		return getFromView(st, opts)
	}
	t, err := targetOf(st)
	if err != nil {
		return nil, err
	}
	doc, err := t.docFor(opts.Key)
	if err != nil {
		return nil, err
	}
	var found *envfile.Value
	if v, ok := doc.Get(opts.Key, st.LookupComposeEnv); ok {
		found = &v
	}
	secret := t.cfg.IsSecret(opts.Key)
	if !secret && found != nil && len(found.Refs) > 0 {
		secret = t.cfg.SecretKeys(doc, st.LookupComposeEnv)[opts.Key]
	}
	// A value built from encrypted ones (URL=…${DB_PASSWORD}…) reads as
	// holding their ciphertext; with Reveal it is read with them decrypted.
	fromEncrypted := found != nil && len(found.Refs) > 0 && strings.Contains(found.Value, envcrypt.Prefix)
	if fromEncrypted && opts.Reveal && !opts.Raw {
		v, err := revealBuilt(st, doc, t.path, opts.Key)
		if err != nil {
			return nil, err
		}
		found = &v
	}
	res, err := getResult(st, t.path, opts, found, secret || fromEncrypted)
	if res != nil {
		res.FromEncrypted = fromEncrypted
	}
	return res, err
}

// revealBuilt reads key's value with the encrypted values it refers to
// decrypted (the environment still wins, as in Compose).
func revealBuilt(st *stackops.Stack, doc *envfile.Document, path, key string) (envfile.Value, error) {
	op := &envcrypt.Opener{Where: Where(st)}
	var derr error
	lookup := func(k string) (string, bool) {
		if v, ok := st.LookupComposeEnv(k); ok {
			return v, true
		}
		if raw, ok := doc.Get(k, noLookup); ok && raw.Set && envcrypt.IsEncrypted(raw.Value) {
			p, err := op.Open(path, k, raw.Value)
			if err != nil {
				derr = err
				return "", false
			}
			return p, true
		}
		return "", false
	}
	v, _ := doc.Get(key, lookup)
	return v, derr
}

// getFromView is Get when Compose reads several env files.
func getFromView(st *stackops.Stack, opts GetOptions) (*GetResult, error) {
	view, cfg, err := readView(st)
	if err != nil {
		return nil, err
	}
	path := st.DotEnvPath()
	var found *envfile.Value
	if w := view.winner[opts.Key]; w != nil {
		_, last, _ := w.lastValues()
		v := last[opts.Key]
		found, path = &v, w.path
	} else if f := view.file(path); f != nil {
		// defined, but not set (a bare KEY line the environment lacks)
		if _, last, _ := f.lastValues(); last[opts.Key].Key != "" {
			v := last[opts.Key]
			found = &v
		}
	}
	secret := cfg.IsSecret(opts.Key)
	if !secret && found != nil && len(found.Refs) > 0 {
		derived := map[string]bool{}
		for _, f := range view.files {
			for _, v := range f.values {
				derived[v.Key] = derived[v.Key] || cfg.IsSecret(v.Key) || envcrypt.IsEncrypted(v.Value) || cfg.refsSecret(v.Refs, derived)
			}
		}
		secret = derived[opts.Key]
	}
	return getResult(st, path, opts, found, secret)
}

func getResult(st *stackops.Stack, path string, opts GetOptions, found *envfile.Value, secret bool) (*GetResult, error) {
	if found == nil || (!found.Set && !opts.Raw) {
		return nil, fmt.Errorf("%w: %s is not set in %s", ErrKeyNotFound, opts.Key, path)
	}
	res := &GetResult{Key: opts.Key, Value: found.Value, Line: found.Line, File: path, Secret: secret, Unresolved: found.Unresolved}
	if opts.Raw {
		res.Value = found.Raw
		return res, nil
	}
	if found.Err != nil {
		return nil, found.Err
	}
	if envcrypt.IsEncrypted(found.Value) {
		res.Encrypted, res.Secret = true, true
		if opts.Reveal {
			plain, err := Reveal(st, path, opts.Key, found.Value)
			if err != nil {
				return nil, err
			}
			res.Value = plain
		}
	}
	if ev, ok := st.LookupEnv(opts.Key); ok && !found.Inherited && ev != found.Value {
		res.OverriddenByEnvironment = true
	}
	return res, nil
}

// ---- edits ----

// ChangeResult is the outcome of an edit (set, unset, undo).
type ChangeResult struct {
	Path    string `json:"path"`
	Changed bool   `json:"changed"`
	DryRun  bool   `json:"dry_run,omitempty"`
	// Created is true when the edit creates the file.
	Created bool `json:"created,omitempty"`
	// Revision is the content the edit was based on (sha256, or "absent");
	// pass it back as IfMatch to write only if nothing changed since.
	Revision    string             `json:"revision"`
	NewRevision string             `json:"new_revision,omitempty"`
	Changes     []envfile.Change   `json:"changes"`
	Diff        []envfile.DiffLine `json:"diff"`
	// OtherLinesChanged is true when comments or blank lines differ too (undo).
	OtherLinesChanged bool `json:"other_lines_changed,omitempty"`
	// Saved is the previous version kept for undo.
	Saved    *Version `json:"saved_version,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// UpdateOptions control a read-modify-write of .env.
type UpdateOptions struct {
	// Op names the edit in the saved version ("set", "unset").
	Op string
	// IfMatch, when set, is the Revision the caller based the edit on: if
	// the file holds anything else, nothing is written (ErrChanged).
	IfMatch string
	// DryRun computes the change and its diff without writing.
	DryRun bool
	// Reveal shows secret values in the diff.
	Reveal bool
	// LockWait is how long to wait for another edit: 0 means 30s, <0 no wait.
	LockWait time.Duration
	// Sealed masks every edited value in the diff, whatever its key: an
	// encrypt or decrypt shows neither side (Reveal is ignored).
	Sealed bool
}

// Update is the locked read-modify-write every edit goes through: it
// takes the env lock, reads and parses .env, lets edit change the document,
// verifies through compose-go that the result says exactly what was asked,
// keeps the previous version, and replaces the file atomically.
func Update(ctx context.Context, st *stackops.Stack, opts UpdateOptions, edit func(*envfile.Document) error) (*ChangeResult, error) {
	t, err := targetOf(st)
	if err != nil {
		return nil, err
	}
	if !opts.DryRun {
		lock, err := lock(ctx, st, "env "+opts.Op, opts.LockWait)
		if err != nil {
			return nil, err
		}
		defer lock.Release()
	}
	snap, err := envfile.ReadSnapshot(t.real)
	if err != nil {
		return nil, err
	}
	res := &ChangeResult{Path: t.path, DryRun: opts.DryRun, Revision: snap.Revision(), Changes: []envfile.Change{}, Diff: []envfile.DiffLine{}}
	if opts.IfMatch != "" && opts.IfMatch != res.Revision {
		return nil, fmt.Errorf("%w: %s was modified since it was read — nothing was written and its new content was kept; look again and retry", ErrChanged, t.path)
	}
	before, err := t.parse(snap)
	if err != nil {
		return nil, err
	}
	after := before.Clone()
	if err := edit(after); err != nil {
		return nil, err
	}
	isSecret, reveal := t.cfg.IsSecret, opts.Reveal
	if opts.Sealed {
		isSecret, reveal = func(string) bool { return true }, false
	}
	res.Changes, res.Diff = envfile.EditDiff(before, after, isSecret, reveal)
	if before.Equal(after) {
		return res, nil
	}
	if err := envfile.VerifyEdit(before, after); err != nil {
		return nil, err
	}
	res.Changed = true
	res.Created = !snap.Exists
	content := after.View() // read-only: hashed and written
	res.NewRevision = envfile.Revision(content)
	if opts.DryRun {
		return res, nil
	}
	vdir, err := versionsDir(st, t, "")
	if err != nil {
		return nil, err
	}
	// The previous version is written and synced while the new content is:
	// the two fsyncs overlap, and the rename waits for both.
	type saved struct {
		v   *Version
		err error
	}
	done := make(chan saved, 1)
	go func() {
		v, err := saveVersion(vdir, snap, opts.Op, after.Edited(), t.cfg.KeepVersions)
		done <- saved{v, err}
	}()
	var prev *saved
	waitSaved := func() saved {
		if prev == nil {
			r := <-done
			prev = &r
		}
		return *prev
	}
	err = replaceFile(t.real, content, func() error {
		if r := waitSaved(); r.err != nil {
			return r.err
		}
		return t.unchangedSince(snap)()
	})
	r := waitSaved()
	if err != nil {
		if r.err == nil {
			// the saved version is the content still in place: drop it
			os.Remove(r.v.File)
		}
		return nil, err
	}
	res.Saved = r.v
	return res, nil
}

// Assignment is one KEY=VALUE to set.
type Assignment struct {
	Key   string
	Value string
}

// SetOptions are the assignments to make, in order.
type SetOptions struct {
	Values   []Assignment
	IfMatch  string
	DryRun   bool
	Reveal   bool
	LockWait time.Duration
}

// Set assigns values: each key's last definition is rewritten in place,
// new keys are appended. Invalid keys and values are refused before
// anything is read or locked.
func Set(ctx context.Context, st *stackops.Stack, opts SetOptions) (*ChangeResult, error) {
	if len(opts.Values) == 0 {
		return nil, errors.New("no KEY=VALUE to set")
	}
	for _, a := range opts.Values {
		if err := envfile.ValidKey(a.Key); err != nil {
			return nil, err
		}
		if strings.IndexByte(a.Value, 0) >= 0 {
			return nil, fmt.Errorf("%w for %s: it contains a NUL byte, which no environment variable can hold", envfile.ErrInvalidValue, a.Key)
		}
	}
	return Update(ctx, st, UpdateOptions{Op: "set", IfMatch: opts.IfMatch, DryRun: opts.DryRun, Reveal: opts.Reveal, LockWait: opts.LockWait}, func(d *envfile.Document) error {
		for _, a := range opts.Values {
			if err := d.Set(a.Key, a.Value); err != nil {
				return err
			}
		}
		return nil
	})
}

// UnsetOptions are the keys to remove.
type UnsetOptions struct {
	Keys     []string
	IfMatch  string
	DryRun   bool
	Reveal   bool
	LockWait time.Duration
}

// Unset removes every definition of each key. A key that is not there
// is reported as "absent", not an error, so scripts can run it twice.
func Unset(ctx context.Context, st *stackops.Stack, opts UnsetOptions) (*ChangeResult, error) {
	if len(opts.Keys) == 0 {
		return nil, errors.New("no KEY to unset")
	}
	for _, k := range opts.Keys {
		if err := envfile.ValidKey(k); err != nil {
			return nil, err
		}
	}
	res, err := Update(ctx, st, UpdateOptions{Op: "unset", IfMatch: opts.IfMatch, DryRun: opts.DryRun, Reveal: opts.Reveal, LockWait: opts.LockWait}, func(d *envfile.Document) error {
		for _, k := range opts.Keys {
			if _, err := d.Unset(k); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || len(st.EnvFiles) < 2 {
		return res, err
	}
	// Compose reads other env files too: a key they set keeps a value.
	if view, _, verr := readView(st); verr == nil {
		for _, k := range opts.Keys {
			if file, line, ok := view.definedElsewhere(k, res.Path); ok {
				res.Warnings = append(res.Warnings, fmt.Sprintf("%s is still set in %s (line %d): Compose uses that value now", k, file, line))
			}
		}
	}
	return res, nil
}

// UndoOptions control Undo.
type UndoOptions struct {
	IfMatch  string
	DryRun   bool
	Reveal   bool
	LockWait time.Duration
}

// UndoResult is what an undo restored.
type UndoResult struct {
	ChangeResult
	// Restored is the version put back.
	Restored Version `json:"restored"`
	// Kept is where the replaced content was kept (nothing is ever lost).
	Kept string `json:"kept,omitempty"`
	// Remaining is how many earlier versions are left to undo.
	Remaining int `json:"remaining"`
}

// Undo restores the last kept version of .env and drops it from the
// history, so repeated undos walk back one edit at a time. The content it
// replaces is kept under env-versions/…/undone.
func Undo(ctx context.Context, st *stackops.Stack, opts UndoOptions) (*UndoResult, error) {
	t, err := targetOf(st)
	if err != nil {
		return nil, err
	}
	if !opts.DryRun {
		lock, err := lock(ctx, st, "env undo", opts.LockWait)
		if err != nil {
			return nil, err
		}
		defer lock.Release()
	}
	vdir, err := versionsDir(st, t, "")
	if err != nil {
		return nil, err
	}
	versions, err := listVersions(vdir)
	if err != nil {
		return nil, err
	}
	if len(versions) == 0 {
		return nil, fmt.Errorf("%w: no earlier version of %s is kept (env set, env unset and the wizard keep the last %d)", ErrNothingToUndo, t.path, t.cfg.KeepVersions)
	}
	v := versions[len(versions)-1]
	snap, err := envfile.ReadSnapshot(t.real)
	if err != nil {
		return nil, err
	}
	res := &UndoResult{Restored: v, Remaining: len(versions) - 1}
	res.Path, res.DryRun, res.Revision = t.path, opts.DryRun, snap.Revision()
	res.Changes, res.Diff = []envfile.Change{}, []envfile.DiffLine{}
	if opts.IfMatch != "" && opts.IfMatch != res.Revision {
		return nil, fmt.Errorf("%w: %s was modified since it was read — nothing was undone; look again and retry", ErrChanged, t.path)
	}
	var content []byte
	if !v.Absent {
		if content, err = os.ReadFile(v.File); err != nil {
			return nil, fmt.Errorf("read kept version: %w", err)
		}
	}
	cur, cerr := envfile.Parse(snap.Data, t.cfg.IsSecret)
	old, oerr := envfile.Parse(content, t.cfg.IsSecret)
	if cerr == nil && oerr == nil {
		res.Changes, res.Diff, res.OtherLinesChanged = envfile.Diff(cur, old, t.cfg.IsSecret, opts.Reveal)
	} else {
		res.OtherLinesChanged = true
	}
	res.Changed = snap.Exists != !v.Absent || !bytes.Equal(snap.Data, content)
	if v.Absent {
		res.NewRevision = "absent"
	} else {
		res.NewRevision = envfile.Revision(content)
	}
	if opts.DryRun {
		return res, nil
	}
	if snap.Exists {
		udir, err := versionsDir(st, t, "undone")
		if err != nil {
			return nil, err
		}
		kept, err := saveVersion(udir, snap, "undo", nil, t.cfg.KeepVersions)
		if err != nil {
			return nil, err
		}
		res.Kept = kept.File
	}
	switch {
	case v.Absent && snap.Exists:
		if err := t.unchangedSince(snap)(); err != nil {
			return nil, err
		}
		if err := os.Remove(t.real); err != nil {
			return nil, fmt.Errorf("remove %s: %w", t.path, err)
		}
		if err := atomicfile.SyncDir(filepath.Dir(t.real)); err != nil {
			return nil, err
		}
	case !v.Absent:
		if err := replaceFile(t.real, content, t.unchangedSince(snap)); err != nil {
			return nil, err
		}
	}
	if err := os.Remove(v.File); err != nil {
		return nil, fmt.Errorf("%s was restored but the used version could not be dropped: %w", t.path, err)
	}
	return res, nil
}
