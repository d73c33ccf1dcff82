// Package envcrypt is the encryption of .env values: the value format, the
// recipients a .env names, and the identities (private keys) that decrypt.
// It is pure: no Docker, no compose project — the env commands (package
// env) and the Compose runner (package stackops) build on it.
//
// # Format
//
// An encrypted value is `ENC[age:<base64>]`, the base64 (standard, padded)
// of an age file (filippo.io/age, binary, not armored) encrypted to every
// recipient of the .env. The text holds only `A-Za-z0-9+/=[]:` (no `$`, no
// quote, no `#`), so Compose reads it back verbatim: a Compose run without
// stackpilot sees the ciphertext, never a half-decoded value.
//
// # Recipients
//
// A .env lists its recipients (age X25519 public keys) as comment lines,
// which Compose ignores:
//
//	# stackpilot-recipient: age1…
//
// Anyone can encrypt a value to them; only the holders of a matching
// identity can decrypt it.
//
// # Identities
//
// Identities are age X25519 secret keys, as age-keygen writes them. They
// live outside any repository: the files named by STACKPILOT_IDENTITY
// (separated by the OS's list separator), else every *.key file in
// $XDG_CONFIG_HOME/stackpilot/identities (~/.config/stackpilot/identities
// when XDG_CONFIG_HOME is unset). A new identity is written 0600 and never
// over an existing file; a file its group or others may read is refused, as
// ssh refuses such a private key.
package envcrypt

import (
	"bytes"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"strings"

	"filippo.io/age"
	"golang.org/x/crypto/chacha20poly1305"
)

// Prefix and Suffix frame an encrypted value.
const (
	Prefix = "ENC[age:"
	Suffix = "]"
)

// Marker is what a file holding an encrypted value contains: a cheap test
// before any parsing.
var Marker = []byte(Prefix)

var (
	// ErrNoRecipients means the .env names no recipient to encrypt to.
	ErrNoRecipients = errors.New("no recipient to encrypt to")
	// ErrNoIdentity means no identity file was found.
	ErrNoIdentity = errors.New("no identity found")
	// ErrWrongIdentity means no identity found decrypts a value.
	ErrWrongIdentity = errors.New("no identity found decrypts it")
	// ErrTampered means the ciphertext is not an intact age file.
	ErrTampered = errors.New("the encrypted value is damaged or was altered")
	// ErrIdentityExposed means an identity file may be read by others.
	ErrIdentityExposed = errors.New("the identity file is not private")
	// ErrIdentityExists means keygen was asked to write over an identity.
	ErrIdentityExists = errors.New("an identity file already exists there")
)

// IsEncrypted reports whether a value, as Compose reads it, is an
// encrypted value.
func IsEncrypted(v string) bool {
	return strings.HasPrefix(v, Prefix) && strings.HasSuffix(v, Suffix) && len(v) > len(Prefix)+len(Suffix)
}

// Encrypt returns plain encrypted to every recipient, in the value format.
func Encrypt(plain string, recipients []age.Recipient) (string, error) {
	if len(recipients) == 0 {
		return "", ErrNoRecipients
	}
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, recipients...)
	if err != nil {
		return "", err
	}
	if _, err := io.WriteString(w, plain); err != nil {
		return "", err
	}
	if err := w.Close(); err != nil {
		return "", err
	}
	return Prefix + base64.StdEncoding.EncodeToString(buf.Bytes()) + Suffix, nil
}

// Decrypt returns the plain text of an encrypted value. Its errors never
// hold the value: ErrTampered when the text is not an intact age file,
// ErrWrongIdentity when none of identities is among its recipients.
func Decrypt(v string, identities []age.Identity) (string, error) {
	if !IsEncrypted(v) {
		return "", fmt.Errorf("%w: it does not have the form %s…%s", ErrTampered, Prefix, Suffix)
	}
	raw, err := base64.StdEncoding.DecodeString(v[len(Prefix) : len(v)-len(Suffix)])
	if err != nil {
		return "", fmt.Errorf("%w: it is not valid base64", ErrTampered)
	}
	if len(identities) == 0 {
		return "", ErrNoIdentity
	}
	if plain, ok, err := decryptShort(raw, identities); ok {
		return plain, err
	}
	r, err := age.Decrypt(bytes.NewReader(raw), identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return "", ErrWrongIdentity
		}
		return "", fmt.Errorf("%w (%v)", ErrTampered, err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		return "", fmt.Errorf("%w (%v)", ErrTampered, err)
	}
	return string(out), nil
}

// decryptShort decrypts an age file whose text fits in one chunk — every
// .env value short of 64 KiB — without age.Decrypt's stream reader, which
// allocates and clears a 64 KiB buffer per file: for 20 values that is
// most of what decrypting them costs. The header is age's own work
// (age.DecryptHeader: the identities' unwrapping and the header's MAC);
// the payload is age's STREAM with a single, and so final, chunk: the
// chunk key derived from the file key and the payload's nonce (HKDF-SHA-256,
// info "payload"), then ChaCha20-Poly1305 with a zero counter and the
// last-chunk flag. ok is false when the file is not of that kind, or its
// header does not parse: age.Decrypt then has the last word.
func decryptShort(raw []byte, identities []age.Identity) (plain string, ok bool, err error) {
	end := headerEnd(raw)
	if end < 0 {
		return "", false, nil
	}
	payload := raw[end:]
	const nonceSize, tagSize, chunkSize = 16, chacha20poly1305.Overhead, 64 * 1024
	if len(payload) < nonceSize+tagSize || len(payload)-nonceSize >= chunkSize+tagSize {
		return "", false, nil // damaged (age says how), or a full or second chunk
	}
	fileKey, err := age.DecryptHeader(raw[:end], identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return "", true, ErrWrongIdentity
		}
		return "", false, nil
	}
	key, err := hkdf.Key(sha256.New, fileKey, payload[:nonceSize], "payload", chacha20poly1305.KeySize)
	if err != nil {
		return "", false, nil
	}
	aead, err := chacha20poly1305.New(key)
	if err != nil {
		return "", false, nil
	}
	var nonce [chacha20poly1305.NonceSize]byte
	nonce[len(nonce)-1] = 1 // chunk 0, the last one
	out, err := aead.Open(nil, nonce[:], payload[nonceSize:], nil)
	if err != nil {
		return "", true, fmt.Errorf("%w (%v)", ErrTampered, errPayload)
	}
	return string(out), true, nil
}

// errPayload is age's own word for a chunk that does not authenticate.
var errPayload = errors.New("failed to decrypt and authenticate payload chunk, file may be corrupted or tampered with")

// headerEnd is the length of an age file's header: through the end of its
// MAC line, the first that starts with "---" (stanza lines start with "->",
// their bodies are base64); -1 when raw is not an age file.
func headerEnd(raw []byte) int {
	if !bytes.HasPrefix(raw, ageHeaderStart) {
		return -1
	}
	mac := bytes.Index(raw, []byte("\n--- "))
	if mac < 0 {
		return -1
	}
	end := bytes.IndexByte(raw[mac+1:], '\n')
	if end < 0 {
		return -1
	}
	return mac + 1 + end + 1
}

// ParseRecipient parses one age X25519 public key (age1…).
func ParseRecipient(s string) (*age.X25519Recipient, error) {
	r, err := age.ParseX25519Recipient(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("%q is not an age public key (age1…): %v", s, err)
	}
	return r, nil
}

// RecipientsOf parses recipient strings, in order, duplicates dropped.
func RecipientsOf(list []string) ([]age.Recipient, error) {
	seen := map[string]bool{}
	var out []age.Recipient
	for _, s := range list {
		r, err := ParseRecipient(s)
		if err != nil {
			return nil, err
		}
		if seen[r.String()] {
			continue
		}
		seen[r.String()] = true
		out = append(out, r)
	}
	return out, nil
}

// ageHeaderStart opens every age file (its version line).
var ageHeaderStart = []byte("age-encryption.org/v1\n")

// IsEmptyPlain reports, without decrypting, whether an encrypted value
// holds the empty text; ok is false when v does not have the form of an age
// file. An age file is a text header ending with its MAC line ("--- …"),
// then a 16-byte nonce and the payload in chunks, each 16 bytes (its tag)
// longer than the text it holds — the empty text is one empty chunk, so
// its file ends 32 bytes after the header. The answer is as good as the
// ciphertext: one that was altered fails its decryption anyway.
func IsEmptyPlain(v string) (empty, ok bool) {
	if !IsEncrypted(v) {
		return false, false
	}
	raw, err := base64.StdEncoding.DecodeString(v[len(Prefix) : len(v)-len(Suffix)])
	if err != nil {
		return false, false
	}
	end := headerEnd(raw)
	if end < 0 {
		return false, false
	}
	payload := len(raw) - end
	return payload == 32, payload >= 32
}
