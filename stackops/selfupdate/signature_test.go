package selfupdate

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"aead.dev/minisign"
)

const testSums = "b116cc20b98a0bdf609b8f05601e52f79607758888c3de531edc2f4ede675e04  stackpilot_linux_amd64\n" +
	"45c45074a0402cbce3ab4b48f7ff3beb7c65bbdc8b03caac19c36880ab4f2735  RELEASE_NOTES.md\n"

func TestParseSums(t *testing.T) {
	s, err := ParseSums([]byte(testSums))
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(s.Names(), ","); got != "RELEASE_NOTES.md,stackpilot_linux_amd64" {
		t.Fatalf("names %s", got)
	}
	if sum := s["stackpilot_linux_amd64"]; sum[0] != 0xb1 || sum[31] != 0x04 {
		t.Fatalf("sum %x", sum)
	}
	// sha256sum's binary mode marker and CRLF line ends are read too.
	crlf := strings.ReplaceAll(strings.Replace(testSums, "  stackpilot", " *stackpilot", 1), "\n", "\r\n")
	if s2, err := ParseSums([]byte(crlf)); err != nil || len(s2) != 2 {
		t.Fatalf("binary mode / CRLF: %v %v", s2, err)
	}
}

func TestParseSumsRefusesWhatItDoesNotWrite(t *testing.T) {
	h := strings.Repeat("ab", 32)
	for name, in := range map[string]string{
		"empty":          "",
		"short line":     "abc  stackpilot_linux_amd64\n",
		"bad hex":        strings.Repeat("zz", 32) + "  stackpilot_linux_amd64\n",
		"one space":      h + " stackpilot_linux_amd64\n",
		"no name":        h + "  \n",
		"path":           h + "  ../stackpilot_linux_amd64\n",
		"subdirectory":   h + "  bin/stackpilot\n",
		"dot dot":        h + "  ..\n",
		"control char":   h + "  stackpilot\x1b[2J\n",
		"listed twice":   h + "  a\n" + h + "  a\n",
		"garbage after":  testSums + "not a checksum line\n",
		"uppercase junk": strings.ToUpper(h)[:63] + "  x\n",
	} {
		if _, err := ParseSums([]byte(in)); !errors.Is(err, ErrBadChecksums) {
			t.Errorf("%s: %v, want ErrBadChecksums", name, err)
		}
	}
}

func newTestKey(t *testing.T) (minisign.PublicKey, minisign.PrivateKey) {
	t.Helper()
	pub, priv, err := minisign.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

// signSums signs as internal/releasesign does: pre-hashed, version in the trusted comment.
func signSums(priv minisign.PrivateKey, sums []byte, comment string) []byte {
	r := minisign.NewReader(bytes.NewReader(sums))
	_, _ = io.Copy(io.Discard, r)
	return r.SignWithComments(priv, comment, "test")
}

func TestVerifySums(t *testing.T) {
	pub, priv := newTestKey(t)
	otherPub, otherPriv := newTestKey(t)
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	sums := []byte(testSums)
	sig := signSums(priv, sums, TrustedComment("1.2.0", at))

	got, err := VerifySums([]minisign.PublicKey{otherPub, pub}, sums, sig)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != "1.2.0" || !got.SignedAt.Equal(at) || got.KeyID != KeyID(pub.ID()) {
		t.Fatalf("%+v", got)
	}

	// minisign's legacy (not pre-hashed) signatures verify too.
	legacy := minisign.SignWithComments(priv, sums, TrustedComment("1.2.0", at), "legacy")
	if _, err := VerifySums([]minisign.PublicKey{pub}, sums, legacy); err != nil {
		t.Fatalf("legacy signature: %v", err)
	}

	tampered := bytes.Replace(sums, []byte("b116"), []byte("b117"), 1)
	badComment := bytes.Replace(sig, []byte("version:1.2.0"), []byte("version:9.9.9"), 1)
	for name, c := range map[string]struct {
		keys      []minisign.PublicKey
		sums, sig []byte
		want      string
	}{
		"altered SHA256SUMS":      {[]minisign.PublicKey{pub}, tampered, sig, "does not match its signature"},
		"untrusted key":           {[]minisign.PublicKey{pub}, sums, signSums(otherPriv, sums, TrustedComment("1.2.0", at)), "does not trust"},
		"altered trusted comment": {[]minisign.PublicKey{pub}, sums, badComment, "does not match its signature"},
		"not a signature":         {[]minisign.PublicKey{pub}, sums, []byte("hello\n"), "not a minisign signature"},
		"empty signature":         {[]minisign.PublicKey{pub}, sums, nil, "not a minisign signature"},
		"no version signed":       {[]minisign.PublicKey{pub}, sums, signSums(priv, sums, "timestamp:1\tfile:SHA256SUMS"), "names no release version"},
		"v-prefixed version":      {[]minisign.PublicKey{pub}, sums, signSums(priv, sums, "timestamp:1\tfile:SHA256SUMS\tversion:v1.2.0"), "names no release version"},
		"another file signed":     {[]minisign.PublicKey{pub}, sums, signSums(priv, sums, "timestamp:1\tfile:other.txt\tversion:1.2.0"), "not SHA256SUMS"},
		"no timestamp":            {[]minisign.PublicKey{pub}, sums, signSums(priv, sums, "file:SHA256SUMS\tversion:1.2.0"), "no timestamp"},
	} {
		_, err := VerifySums(c.keys, c.sums, c.sig)
		if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want ErrBadSignature saying %q", name, err, c.want)
		}
	}
}

func TestParseKeys(t *testing.T) {
	a, _ := newTestKey(t)
	b, _ := newTestKey(t)
	pubText, _ := b.MarshalText()
	keys, err := ParseKeys(a.String() + "," + string(pubText))
	if err != nil || len(keys) != 2 || keys[0].ID() != a.ID() || keys[1].ID() != b.ID() {
		t.Fatalf("%v %v", keys, err)
	}
	for _, bad := range []string{"", " , ", "RWnotakey", "untrusted comment: x\n"} {
		if _, err := ParseKeys(bad); err == nil {
			t.Errorf("ParseKeys(%q) accepted", bad)
		}
	}
}

func TestNotesHeadDropsEscapeSequences(t *testing.T) {
	notes := "stackpilot 1.2.0\n\n- \x1b[31mred\x1b[0m fix\r\n- \u009b2J second\x1b]0;title\x07!\n- bell\a \x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\ \x1bc\n- fourth\n"
	if got := NotesHead(notes, 4); got != "stackpilot 1.2.0\n- red fix\n- 2J second!\n- bell link" {
		t.Fatalf("%q", got)
	}
}
