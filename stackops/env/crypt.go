package env

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"filippo.io/age"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/envcrypt"
	"github.com/stackpilot/stackpilot/stackops/envfile"
)

// The encrypted-value edits (package envcrypt has the format). Each is an
// Update: locked, verified, byte-preserving, atomic and undoable like set
// and unset. Plain values exist only in this process's memory.

// ErrNotEncrypted means a key asked to be decrypted holds a plain value.
var ErrNotEncrypted = errors.New("the value is not encrypted")

// Where is where the stack's identities are looked for.
func Where(st *stackops.Stack) envcrypt.Where {
	return envcrypt.WhereFrom(st.LookupEnv)
}

// recipientsOf are the age recipients .env records, or an error saying how
// to add one.
func recipientsOf(d *envfile.Document, path string) ([]age.Recipient, error) {
	rs, err := envcrypt.AgeRecipients(d)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("%w: %s records no recipient — create your key with `stackpilot env keygen` (it records its recipient), or add a teammate's with `stackpilot env recipients add age1…`", envcrypt.ErrNoRecipients, path)
	}
	return rs, nil
}

// ---- keygen ----

// KeygenOptions control Keygen.
type KeygenOptions struct {
	// Output is where to write the identity; by default STACKPILOT_IDENTITY
	// (its first file), else identity.key in the identities directory.
	Output string
	// NoRecord only writes the identity, leaving .env as it is.
	NoRecord bool
	LockWait time.Duration
}

// KeygenResult is a new identity.
type KeygenResult struct {
	// Identity is the file written (0600).
	Identity string `json:"identity"`
	// Recipient is its public key, recorded in .env unless NoRecord.
	Recipient string        `json:"recipient"`
	Change    *ChangeResult `json:"change,omitempty"`
}

// DefaultIdentityPath is where keygen writes without --output.
func DefaultIdentityPath(w envcrypt.Where) string {
	if len(w.Files) > 0 {
		return w.Files[0]
	}
	return w.Dir + "/identity.key"
}

// Keygen creates an age identity outside the repository (never over an
// existing file) and records its recipient in .env.
func Keygen(ctx context.Context, st *stackops.Stack, opts KeygenOptions) (*KeygenResult, error) {
	path := opts.Output
	if path == "" {
		path = DefaultIdentityPath(Where(st))
	}
	if !opts.NoRecord {
		// Fail before writing a key when .env cannot take its recipient.
		if _, err := targetOf(st); err != nil {
			return nil, err
		}
	}
	id, err := envcrypt.Generate(path, time.Now())
	if err != nil {
		if errors.Is(err, envcrypt.ErrIdentityExists) {
			if have, rerr := envcrypt.ReadIdentityFile(path); rerr == nil {
				err = fmt.Errorf("%w; its recipient is %s — record it in this .env with `stackpilot env recipients add %s`", err, strings.Join(have.Recipients(), ", "), have.Recipients()[0])
			}
		}
		return nil, err
	}
	res := &KeygenResult{Identity: path, Recipient: id.Recipient().String()}
	if opts.NoRecord {
		return res, nil
	}
	ch, err := RecipientsAdd(ctx, st, RecipientsOptions{Keys: []string{res.Recipient}, LockWait: opts.LockWait})
	if err != nil {
		return res, fmt.Errorf("the identity was written to %s, but its recipient could not be recorded: %w — run `stackpilot env recipients add %s`", path, err, res.Recipient)
	}
	res.Change = ch
	return res, nil
}

// ---- recipients ----

// RecipientsResult lists .env's recipients.
type RecipientsResult struct {
	Path       string               `json:"path"`
	Recipients []envcrypt.Recipient `json:"recipients"`
	// Mine are the recipients whose identity is found here.
	Mine []string `json:"mine"`
	// Encrypted are the keys holding encrypted values.
	Encrypted []string `json:"encrypted"`
}

// Recipients lists the recipients .env records, which of them this
// user's identities match, and the encrypted keys.
func Recipients(ctx context.Context, st *stackops.Stack) (*RecipientsResult, error) {
	t, err := targetOf(st)
	if err != nil {
		return nil, err
	}
	snap, err := envfile.ReadSnapshot(t.real)
	if err != nil {
		return nil, err
	}
	d, err := t.parse(snap)
	if err != nil {
		return nil, err
	}
	rs, err := envcrypt.Recipients(d)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", t.path, err)
	}
	res := &RecipientsResult{Path: t.path, Recipients: rs, Mine: []string{}, Encrypted: encryptedKeys(d)}
	if res.Recipients == nil {
		res.Recipients = []envcrypt.Recipient{}
	}
	if ids, err := Where(st).Load(); err == nil {
		mine := map[string]bool{}
		for _, id := range ids {
			for _, r := range id.Recipients() {
				mine[r] = true
			}
		}
		for _, r := range rs {
			if mine[r.Key] {
				res.Mine = append(res.Mine, r.Key)
			}
		}
	}
	return res, nil
}

// encryptedKeys are the keys whose last definition holds an encrypted value.
func encryptedKeys(d *envfile.Document) []string {
	out := []string{}
	d.LastValues(func(string) bool { return true }, noLookup, func(v envfile.Value) {
		if envcrypt.IsEncrypted(v.Value) {
			out = append(out, v.Key)
		}
	})
	return out
}

func noLookup(string) (string, bool) { return "", false }

// RecipientsOptions are the recipients to add or remove.
type RecipientsOptions struct {
	Keys     []string
	DryRun   bool
	IfMatch  string
	LockWait time.Duration
}

// RecipientsAdd records recipients in .env. Values already encrypted stay
// readable only by the recipients they were encrypted to: the result warns
// and `env rotate` (or encrypt again) re-encrypts them.
func RecipientsAdd(ctx context.Context, st *stackops.Stack, opts RecipientsOptions) (*ChangeResult, error) {
	for _, k := range opts.Keys {
		if _, err := envcrypt.ParseRecipient(k); err != nil {
			return nil, err
		}
	}
	var enc []string
	res, err := Update(ctx, st, UpdateOptions{Op: "recipients-add", DryRun: opts.DryRun, IfMatch: opts.IfMatch, LockWait: opts.LockWait}, func(d *envfile.Document) error {
		for _, k := range opts.Keys {
			if _, err := envcrypt.AddRecipient(d, k); err != nil {
				return err
			}
		}
		enc = encryptedKeys(d)
		return nil
	})
	if err == nil && res.Changed && len(enc) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("%s %s encrypted to the earlier recipients only — `stackpilot env rotate` (or `env encrypt KEY…` by a key holder) re-encrypts them for the new one too", strings.Join(enc, ", "), isAre(len(enc))))
	}
	return res, err
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

// RecipientsRemove drops recipients from .env. A removed recipient's key
// still decrypts the values encrypted before: `env rotate` re-encrypts them
// without it (the result says so).
func RecipientsRemove(ctx context.Context, st *stackops.Stack, opts RecipientsOptions) (*ChangeResult, error) {
	var enc []string
	res, err := Update(ctx, st, UpdateOptions{Op: "recipients-remove", DryRun: opts.DryRun, IfMatch: opts.IfMatch, LockWait: opts.LockWait}, func(d *envfile.Document) error {
		for _, k := range opts.Keys {
			ok, err := envcrypt.RemoveRecipient(d, k)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("%s is not a recipient of this .env (env recipients list shows them)", k)
			}
		}
		enc = encryptedKeys(d)
		return nil
	})
	if err == nil && res.Changed && len(enc) > 0 {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the removed recipient's key still decrypts %s — run `stackpilot env rotate` to re-encrypt them without it", strings.Join(enc, ", ")))
	}
	return res, err
}

// ---- set --encrypt, encrypt, decrypt ----

// SetEncrypted stores values encrypted to every recipient of .env.
func SetEncrypted(ctx context.Context, st *stackops.Stack, opts SetOptions) (*ChangeResult, error) {
	if len(opts.Values) == 0 {
		return nil, errors.New("no KEY to set")
	}
	for _, a := range opts.Values {
		if err := envfile.ValidKey(a.Key); err != nil {
			return nil, err
		}
		if strings.IndexByte(a.Value, 0) >= 0 {
			return nil, fmt.Errorf("%w for %s: it contains a NUL byte, which no environment variable can hold", envfile.ErrInvalidValue, a.Key)
		}
	}
	return Update(ctx, st, UpdateOptions{Op: "set", Sealed: true, IfMatch: opts.IfMatch, DryRun: opts.DryRun, LockWait: opts.LockWait}, func(d *envfile.Document) error {
		rs, err := recipientsOf(d, st.DotEnvPath())
		if err != nil {
			return err
		}
		for _, a := range opts.Values {
			v, err := envcrypt.Encrypt(a.Value, rs)
			if err != nil {
				return err
			}
			if err := d.Set(a.Key, v); err != nil {
				return err
			}
		}
		return nil
	})
}

// CryptOptions name the keys to encrypt or decrypt.
type CryptOptions struct {
	Keys     []string
	DryRun   bool
	IfMatch  string
	LockWait time.Duration
}

// Encrypt replaces each key's value, as Compose reads it, by the value
// encrypted to every recipient. A key already encrypted is re-encrypted
// (for the recipients recorded now), which needs an identity that opens it.
func Encrypt(ctx context.Context, st *stackops.Stack, opts CryptOptions) (*ChangeResult, error) {
	if err := checkKeys(opts.Keys); err != nil {
		return nil, err
	}
	op := &envcrypt.Opener{Where: Where(st)}
	var warnings []string
	res, err := Update(ctx, st, UpdateOptions{Op: "encrypt", Sealed: true, IfMatch: opts.IfMatch, DryRun: opts.DryRun, LockWait: opts.LockWait}, func(d *envfile.Document) error {
		rs, err := recipientsOf(d, st.DotEnvPath())
		if err != nil {
			return err
		}
		for _, k := range opts.Keys {
			v, ok := d.Get(k, st.LookupComposeEnv)
			if !ok || !v.Set {
				return fmt.Errorf("%w: %s is not set in %s", ErrKeyNotFound, k, st.DotEnvPath())
			}
			if v.Err != nil {
				return v.Err
			}
			plain := v.Value
			if len(v.Refs) > 0 {
				warnings = append(warnings, fmt.Sprintf("%s referred to %s: its value is encrypted as it reads now, and a later change of %s no longer reaches it", k, strings.Join(v.Refs, ", "), strings.Join(v.Refs, ", ")))
			}
			if envcrypt.IsEncrypted(plain) {
				if plain, err = op.Open(st.DotEnvPath(), k, plain); err != nil {
					return err
				}
			}
			enc, err := envcrypt.Encrypt(plain, rs)
			if err != nil {
				return err
			}
			if err := d.Set(k, enc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Warnings = append(res.Warnings, warnings...)
	return res, nil
}

// Decrypt stores each key's plain value in place of its encrypted one.
func Decrypt(ctx context.Context, st *stackops.Stack, opts CryptOptions) (*ChangeResult, error) {
	if err := checkKeys(opts.Keys); err != nil {
		return nil, err
	}
	op := &envcrypt.Opener{Where: Where(st)}
	return Update(ctx, st, UpdateOptions{Op: "decrypt", Sealed: true, IfMatch: opts.IfMatch, DryRun: opts.DryRun, LockWait: opts.LockWait}, func(d *envfile.Document) error {
		for _, k := range opts.Keys {
			v, ok := d.Get(k, noLookup)
			if !ok || !v.Set {
				return fmt.Errorf("%w: %s is not set in %s", ErrKeyNotFound, k, st.DotEnvPath())
			}
			if !envcrypt.IsEncrypted(v.Value) {
				return fmt.Errorf("%w: %s holds a plain value in %s", ErrNotEncrypted, k, st.DotEnvPath())
			}
			plain, err := op.Open(st.DotEnvPath(), k, v.Value)
			if err != nil {
				return err
			}
			if err := d.Set(k, plain); err != nil {
				return err
			}
		}
		return nil
	})
}

func checkKeys(keys []string) error {
	if len(keys) == 0 {
		return errors.New("no KEY given")
	}
	for _, k := range keys {
		if err := envfile.ValidKey(k); err != nil {
			return err
		}
	}
	return nil
}

// Reveal decrypts one value already read (env get --reveal, env list --reveal).
func Reveal(st *stackops.Stack, file, key, value string) (string, error) {
	op := &envcrypt.Opener{Where: Where(st)}
	return op.Open(file, key, value)
}

// ---- rotate ----

// RotateOptions control Rotate.
type RotateOptions struct {
	// Output is where the new identity goes; a fresh name in the
	// identities directory (or beside STACKPILOT_IDENTITY) by default.
	Output   string
	LockWait time.Duration
}

// RotateResult is a rotation's outcome.
type RotateResult struct {
	// Identity is the new identity file; Recipient its public key.
	Identity  string `json:"identity"`
	Recipient string `json:"recipient"`
	// Retired are the recipients (this user's old keys) taken off .env;
	// their identity files are kept (OldIdentities), to be deleted once
	// nothing else needs them.
	Retired       []string `json:"retired"`
	OldIdentities []string `json:"old_identities"`
	// Recipients are the recipients every value is encrypted to now.
	Recipients []string `json:"recipients"`
	// Keys are the values re-encrypted.
	Keys   []string      `json:"keys"`
	Change *ChangeResult `json:"change"`
}

// Rotate re-encrypts every encrypted value to a new identity: the
// recipients of .env minus this user's current keys, plus the new one.
// Every value is decrypted first (an error names the key, and nothing is
// written); the new identity is then written and synced, and only then is
// .env replaced, atomically — so at any moment each value is decryptable
// by the old key (the old .env) or the new one (the new .env, whose key is
// on disk before it). The old identity files are never deleted.
func Rotate(ctx context.Context, st *stackops.Stack, opts RotateOptions) (*RotateResult, error) {
	w := Where(st)
	ids, err := w.Load()
	if err != nil {
		return nil, err
	}
	mine := map[string]bool{}
	res := &RotateResult{Retired: []string{}, OldIdentities: []string{}, Keys: []string{}}
	for _, id := range ids {
		res.OldIdentities = append(res.OldIdentities, id.File)
		for _, r := range id.Recipients() {
			mine[r] = true
		}
	}
	op := &envcrypt.Opener{Where: w}
	path := opts.Output
	ch, err := Update(ctx, st, UpdateOptions{Op: "rotate", Sealed: true, LockWait: opts.LockWait}, func(d *envfile.Document) error {
		rs, err := envcrypt.Recipients(d)
		if err != nil {
			return fmt.Errorf("%s: %w", st.DotEnvPath(), err)
		}
		// Every value decrypted before anything is written.
		plain := map[string]string{}
		for _, k := range encryptedKeys(d) {
			v, _ := d.Get(k, noLookup)
			p, err := op.Open(st.DotEnvPath(), k, v.Value)
			if err != nil {
				return err
			}
			plain[k] = p
			res.Keys = append(res.Keys, k)
		}
		if path == "" {
			path = w.NewIdentityPath(time.Now())
		}
		id, err := envcrypt.Generate(path, time.Now())
		if err != nil {
			return err
		}
		res.Identity, res.Recipient = path, id.Recipient().String()
		atWriteStep("identity-written")
		for _, r := range rs {
			if mine[r.Key] {
				if _, err := envcrypt.RemoveRecipient(d, r.Key); err != nil {
					return err
				}
				res.Retired = append(res.Retired, r.Key)
			}
		}
		if _, err := envcrypt.AddRecipient(d, res.Recipient); err != nil {
			return err
		}
		now, err := envcrypt.Recipients(d)
		if err != nil {
			return err
		}
		for _, r := range now {
			res.Recipients = append(res.Recipients, r.Key)
		}
		recips, err := envcrypt.AgeRecipients(d)
		if err != nil {
			return err
		}
		for _, k := range res.Keys {
			enc, err := envcrypt.Encrypt(plain[k], recips)
			if err != nil {
				return err
			}
			if err := d.Set(k, enc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		if res.Identity != "" {
			return nil, fmt.Errorf("%w (the new identity %s was written but not used: .env is unchanged)", err, res.Identity)
		}
		return nil, err
	}
	res.Change = ch
	return res, nil
}
