package envcrypt

import (
	"errors"
	"fmt"
	"testing"

	"filippo.io/age"
)

// OpenAll decrypts on several goroutines: the plain texts come back in
// the order asked, and a failure is reported as Open would report it going
// through the values in order — the first failing key, with its file.
func TestOpenAllKeepsOrderAndTheFirstError(t *testing.T) {
	dir := t.TempDir()
	id, _ := newKey(t, dir, "me.key")
	stranger, _ := age.GenerateX25519Identity()
	var values []Sealed
	for i := 0; i < 25; i++ {
		v, err := Encrypt(fmt.Sprintf("plain-%02d", i), []age.Recipient{id.Recipient()})
		if err != nil {
			t.Fatal(err)
		}
		values = append(values, Sealed{Key: fmt.Sprintf("K%02d", i), Value: v})
	}
	asked := 0
	fileOf := func(k string) string { asked++; return "file-of-" + k }
	op := &Opener{Where: Where{Dir: dir}}
	plain, err := op.OpenAll(values, fileOf)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range plain {
		if want := fmt.Sprintf("plain-%02d", i); p != want {
			t.Fatalf("value %d: %q, want %q", i, p, want)
		}
	}
	if asked != 0 {
		t.Fatalf("the file of a key was looked for %d times without a failure", asked)
	}

	// K07 is for a stranger, K15 is damaged: K07 is the error.
	wrong, _ := Encrypt("x", []age.Recipient{stranger.Recipient()})
	values[7].Value = wrong
	values[15].Value = Prefix + "!!!" + Suffix
	_, err = (&Opener{Where: Where{Dir: dir}}).OpenAll(values, fileOf)
	var ke *KeyError
	if !errors.As(err, &ke) || ke.Key != "K07" || ke.File != "file-of-K07" || !errors.Is(err, ErrWrongIdentity) {
		t.Fatalf("got %v, want K07's wrong identity", err)
	}
	values[7].Value = values[6].Value
	if _, err = (&Opener{Where: Where{Dir: dir}}).OpenAll(values, fileOf); !errors.As(err, &ke) || ke.Key != "K15" || !errors.Is(err, ErrTampered) {
		t.Fatalf("got %v, want K15 tampered", err)
	}

	// No identity at all: the first key is named.
	if _, err = (&Opener{Where: Where{Dir: t.TempDir()}}).OpenAll(values, fileOf); !errors.As(err, &ke) || ke.Key != "K00" || !errors.Is(err, ErrNoIdentity) {
		t.Fatalf("got %v, want K00 without identity", err)
	}
}
