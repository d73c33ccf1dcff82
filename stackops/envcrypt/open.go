package envcrypt

import (
	"errors"
	"fmt"

	"filippo.io/age"
)

// KeyError is a value that could not be decrypted: it names the key, the
// file and where identities were looked for, never the value.
type KeyError struct {
	Key, File string
	Where     Where
	Err       error
}

func (e *KeyError) Error() string {
	msg := fmt.Sprintf("cannot decrypt %s in %s: %v", e.Key, e.File, e.Err)
	switch {
	case errors.Is(e.Err, ErrWrongIdentity):
		msg += fmt.Sprintf(" — identities are looked for in %s; ask a holder of a recipient's key to re-encrypt it for yours (env recipients add, then env rotate or env encrypt)", e.Where)
	case errors.Is(e.Err, ErrTampered):
		msg += fmt.Sprintf(" — set it again: stackpilot env set --encrypt %s", e.Key)
	case errors.Is(e.Err, ErrNoIdentity), errors.Is(e.Err, ErrIdentityExposed):
	default:
		msg += fmt.Sprintf(" (identities are looked for in %s)", e.Where)
	}
	return msg
}

func (e *KeyError) Unwrap() error { return e.Err }

// Opener decrypts values with the identities of a Where, loaded on first
// need (a file without encrypted values never reads a key).
type Opener struct {
	Where  Where
	loaded bool
	ids    []age.Identity
	err    error
}

// Open decrypts key's value from file.
func (o *Opener) Open(file, key, value string) (string, error) {
	if !o.loaded {
		o.loaded = true
		ids, err := o.Where.Load()
		o.ids, o.err = AgeIdentities(ids), err
	}
	if o.err != nil {
		return "", &KeyError{Key: key, File: file, Where: o.Where, Err: o.err}
	}
	plain, err := Decrypt(value, o.ids)
	if err != nil {
		return "", &KeyError{Key: key, File: file, Where: o.Where, Err: err}
	}
	return plain, nil
}
