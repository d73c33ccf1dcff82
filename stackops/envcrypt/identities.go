package envcrypt

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"filippo.io/age"
)

// IdentityEnvVar names identity files to use instead of the identities
// directory (separated by the OS's list separator, ":" on Unix).
const IdentityEnvVar = "STACKPILOT_IDENTITY"

// Where is where identities are looked for, as an environment gives it.
type Where struct {
	// Files are the files STACKPILOT_IDENTITY names; when set, only they count.
	Files []string
	// Dir is the identities directory, whose *.key files count otherwise.
	Dir string
}

// WhereFrom works out Where from an environment lookup.
func WhereFrom(lookup func(string) (string, bool)) Where {
	if v, ok := lookup(IdentityEnvVar); ok && strings.TrimSpace(v) != "" {
		var files []string
		for _, f := range filepath.SplitList(v) {
			if f = strings.TrimSpace(f); f != "" {
				files = append(files, expandHome(f, lookup))
			}
		}
		return Where{Files: files}
	}
	base, _ := lookup("XDG_CONFIG_HOME")
	if base == "" || !filepath.IsAbs(base) {
		home, _ := lookup("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		base = filepath.Join(home, ".config")
	}
	return Where{Dir: filepath.Join(base, "stackpilot", "identities")}
}

func expandHome(p string, lookup func(string) (string, bool)) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, _ := lookup("HOME"); home != "" {
			return filepath.Join(home, rest)
		}
	}
	return p
}

// String says where identities are looked for, for error messages.
func (w Where) String() string {
	if len(w.Files) > 0 {
		return fmt.Sprintf("%s=%s", IdentityEnvVar, strings.Join(w.Files, string(os.PathListSeparator)))
	}
	return filepath.Join(w.Dir, "*.key") + " (or the files " + IdentityEnvVar + " names)"
}

// Identity is one identity file's keys.
type Identity struct {
	File string
	// Keys are the file's X25519 identities.
	Keys []*age.X25519Identity
}

// Recipients are the public keys of the file's identities.
func (id Identity) Recipients() []string {
	out := make([]string, len(id.Keys))
	for i, k := range id.Keys {
		out[i] = k.Recipient().String()
	}
	return out
}

// Load reads every identity file w names. A file its group or others may
// read is refused (ErrIdentityExposed), naming it; no file at all is
// ErrNoIdentity, saying where identities were looked for.
func (w Where) Load() ([]Identity, error) {
	files := w.Files
	if len(files) == 0 {
		ents, err := os.ReadDir(w.Dir)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("read the identities directory %s: %w", w.Dir, err)
		}
		for _, e := range ents {
			if !e.IsDir() && strings.HasSuffix(e.Name(), ".key") && !strings.HasPrefix(e.Name(), ".") {
				files = append(files, filepath.Join(w.Dir, e.Name()))
			}
		}
		sort.Strings(files)
	}
	var out []Identity
	for _, f := range files {
		id, err := ReadIdentityFile(f)
		if err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w in %s — create one with `stackpilot env keygen`, or point %s at yours", ErrNoIdentity, w, IdentityEnvVar)
	}
	return out, nil
}

// AgeIdentities flattens identities for age.Decrypt.
func AgeIdentities(ids []Identity) []age.Identity {
	var out []age.Identity
	for _, id := range ids {
		for _, k := range id.Keys {
			out = append(out, k)
		}
	}
	return out
}

// ReadIdentityFile reads an age identity file (AGE-SECRET-KEY-1… lines, #
// comments), refusing one that its group or others may read.
func ReadIdentityFile(path string) (Identity, error) {
	f, err := os.Open(path)
	if err != nil {
		return Identity{}, fmt.Errorf("identity file: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Identity{}, fmt.Errorf("identity file: %w", err)
	}
	if fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
		return Identity{}, fmt.Errorf("%w: %s is readable by its group or others (mode %04o) — make it private: chmod 600 %s", ErrIdentityExposed, path, fi.Mode().Perm(), path)
	}
	ids, err := age.ParseIdentities(f)
	if err != nil {
		// age's message never quotes a key
		return Identity{}, fmt.Errorf("identity file %s: %v", path, err)
	}
	id := Identity{File: path}
	for _, i := range ids {
		if x, ok := i.(*age.X25519Identity); ok {
			id.Keys = append(id.Keys, x)
		}
	}
	if len(id.Keys) == 0 {
		return Identity{}, fmt.Errorf("identity file %s holds no age X25519 identity (AGE-SECRET-KEY-1…)", path)
	}
	return id, nil
}

// Generate creates a new X25519 identity and writes it to path, 0600, as
// age-keygen would (created time and public key as comments). It never
// writes over a file: an existing path is ErrIdentityExists. The file is
// complete and synced before it appears under its name (written beside it,
// then hard-linked, which fails rather than replace), so whoever finds it
// finds the whole key.
func Generate(path string, now time.Time) (*age.X25519Identity, error) {
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%w: %s — stackpilot never replaces an identity (values encrypted to it would be lost); choose another path, or use the one there", ErrIdentityExists, path)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("identities directory: %w", err)
	}
	content := fmt.Sprintf("# created: %s\n# public key: %s\n%s\n", now.UTC().Format(time.RFC3339), id.Recipient(), id)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return nil, fmt.Errorf("write the identity: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return nil, err
	}
	if _, err := tmp.WriteString(content); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write the identity: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("write the identity: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("%w: %s", ErrIdentityExists, path)
		}
		return nil, fmt.Errorf("write the identity: %w", err)
	}
	if d, err := os.Open(dir); err == nil {
		if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
			d.Close()
			return nil, fmt.Errorf("sync the identities directory: %w", err)
		}
		d.Close()
	}
	return id, nil
}

// NewIdentityPath is where a new identity goes in w: the one
// STACKPILOT_IDENTITY names first when that file does not exist yet, else a
// fresh name in the identities directory (identity-<time>.key).
func (w Where) NewIdentityPath(now time.Time) string {
	if len(w.Files) > 0 {
		if _, err := os.Lstat(w.Files[0]); err != nil {
			return w.Files[0]
		}
		return filepath.Join(filepath.Dir(w.Files[0]), "identity-"+now.UTC().Format("20060102T150405.000000000Z")+".key")
	}
	return filepath.Join(w.Dir, "identity-"+now.UTC().Format("20060102T150405.000000000Z")+".key")
}
