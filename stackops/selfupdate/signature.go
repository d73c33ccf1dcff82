package selfupdate

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"aead.dev/minisign"
)

// ParseKeys reads trusted minisign public keys: each either the base64 line
// of a minisign public key ("RW…") or a whole .pub file's text, separated by
// commas, semicolons or newlines (the form a -ldflags -X string can carry).
// Comment lines ("untrusted comment: …") are skipped.
func ParseKeys(list string) ([]minisign.PublicKey, error) {
	var keys []minisign.PublicKey
	for _, field := range strings.FieldsFunc(list, func(r rune) bool { return r == ',' || r == ';' || r == '\n' || r == '\r' }) {
		field = strings.TrimSpace(field)
		if field == "" || strings.HasPrefix(field, "untrusted comment:") {
			continue
		}
		var k minisign.PublicKey
		if err := k.UnmarshalText([]byte(field)); err != nil {
			return nil, fmt.Errorf("trusted key %q: %w", field, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("no trusted release key")
	}
	return keys, nil
}

// KeyID renders a key id as minisign prints it (upper-case hex).
func KeyID(id uint64) string { return strings.ToUpper(strconv.FormatUint(id, 16)) }

// TrustedComment is the signed comment of a release's SHA256SUMS signature:
// minisign's own fields (timestamp, file) plus the version released, so a
// server cannot pass one release's signed files off as another's (an old,
// vulnerable release served as "latest" is refused as a downgrade, and
// --version 1.2.0 gets 1.2.0's files or nothing).
func TrustedComment(version string, signedAt time.Time) string {
	return fmt.Sprintf("timestamp:%d\tfile:%s\tversion:%s", signedAt.Unix(), SumsFile, version)
}

// Signed is what a verified signature vouches for.
type Signed struct {
	Version  string    // the release's version, from the trusted comment
	SignedAt time.Time // from the trusted comment
	KeyID    string    // the trusted key that signed it
}

// VerifySums checks sig (the text of SHA256SUMS.minisig) over sums with the
// trusted keys and returns what the signed comment says. Only a signature by
// one of keys whose trusted comment is well formed passes.
func VerifySums(keys []minisign.PublicKey, sums, sig []byte) (*Signed, error) {
	var s minisign.Signature
	if err := s.UnmarshalText(sig); err != nil {
		return nil, fmt.Errorf("%w: %s is not a minisign signature: %v", ErrBadSignature, SignatureFile, err)
	}
	var key *minisign.PublicKey
	for i := range keys {
		if keys[i].ID() == s.KeyID {
			key = &keys[i]
			break
		}
	}
	if key == nil {
		trusted := make([]string, len(keys))
		for i, k := range keys {
			trusted[i] = KeyID(k.ID())
		}
		return nil, fmt.Errorf("%w: signed by key %s, which this stackpilot does not trust (trusted: %s)", ErrBadSignature, KeyID(s.KeyID), strings.Join(trusted, ", "))
	}
	if !minisign.Verify(*key, sums, sig) {
		return nil, fmt.Errorf("%w: %s does not match its signature by key %s (the file or the signature was altered)", ErrBadSignature, SumsFile, KeyID(s.KeyID))
	}
	signed, err := parseTrustedComment(s.TrustedComment)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadSignature, err)
	}
	signed.KeyID = KeyID(s.KeyID)
	return signed, nil
}

// parseTrustedComment reads the fields TrustedComment writes. It accepts
// fields in any order and ignores unknown ones, so later releases may add some.
func parseTrustedComment(c string) (*Signed, error) {
	fields := map[string]string{}
	for _, f := range strings.Split(c, "\t") {
		k, v, ok := strings.Cut(f, ":")
		if !ok {
			continue
		}
		fields[k] = v
	}
	if fields["file"] != SumsFile {
		return nil, fmt.Errorf("the signature is for %q, not %s (trusted comment %q)", fields["file"], SumsFile, c)
	}
	v, ok := ParseVersion(fields["version"])
	if !ok || v.String() != fields["version"] {
		return nil, fmt.Errorf("the signature names no release version (trusted comment %q)", c)
	}
	ts, err := strconv.ParseInt(fields["timestamp"], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("the signature has no timestamp (trusted comment %q)", c)
	}
	return &Signed{Version: v.String(), SignedAt: time.Unix(ts, 0).UTC()}, nil
}
