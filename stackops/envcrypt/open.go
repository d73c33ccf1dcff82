package envcrypt

import (
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

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

func (o *Opener) load() {
	if !o.loaded {
		o.loaded = true
		ids, err := o.Where.Load()
		o.ids, o.err = AgeIdentities(ids), err
	}
}

// Open decrypts key's value from file.
func (o *Opener) Open(file, key, value string) (string, error) {
	o.load()
	if o.err != nil {
		return "", &KeyError{Key: key, File: file, Where: o.Where, Err: o.err}
	}
	plain, err := Decrypt(value, o.ids)
	if err != nil {
		return "", &KeyError{Key: key, File: file, Where: o.Where, Err: err}
	}
	return plain, nil
}

// Sealed is one encrypted value to open: its key and its text as the
// file holds it.
type Sealed struct{ Key, Value string }

// OpenAll decrypts every value and returns the plain texts in order.
// Each value is an age file of its own, with its own X25519 stanza to
// unwrap (there is no work to share between them), so they are opened on
// GOMAXPROCS goroutines. A stackpilot command runs on one processor
// (internal/startup), where that is one worker: widening it to two for the
// decryption was measured slower on a busy 2-core machine (5.5 ms per
// Load of 20 values instead of 4.6). The error is
// the one Open would have returned first, going through them in order;
// fileOf names the file of a key that could not be opened (called only
// then: finding it means reading the env files again).
func (o *Opener) OpenAll(values []Sealed, fileOf func(key string) string) ([]string, error) {
	o.load()
	if o.err != nil {
		if len(values) == 0 {
			return nil, nil
		}
		return nil, &KeyError{Key: values[0].Key, File: fileOf(values[0].Key), Where: o.Where, Err: o.err}
	}
	plain := make([]string, len(values))
	errs := make([]error, len(values))
	workers := min(runtime.GOMAXPROCS(0), len(values))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= len(values) {
					return
				}
				plain[i], errs[i] = Decrypt(values[i].Value, o.ids)
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, &KeyError{Key: values[i].Key, File: fileOf(values[i].Key), Where: o.Where, Err: err}
		}
	}
	return plain, nil
}
