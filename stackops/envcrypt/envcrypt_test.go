package envcrypt

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"

	"github.com/stackpilot/stackpilot/stackops/envfile"
)

func newKey(t *testing.T, dir, name string) (*age.X25519Identity, string) {
	t.Helper()
	p := filepath.Join(dir, name)
	id, err := Generate(p, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return id, p
}

func TestRoundTripToEveryRecipient(t *testing.T) {
	dir := t.TempDir()
	a, _ := newKey(t, dir, "a.key")
	b, _ := newKey(t, dir, "b.key")
	other, _ := age.GenerateX25519Identity()
	plain := "p@ss $word \"quoted\" # not a comment\nsecond line"
	v, err := Encrypt(plain, []age.Recipient{a.Recipient(), b.Recipient()})
	if err != nil {
		t.Fatal(err)
	}
	if !IsEncrypted(v) || strings.Contains(v, "p@ss") {
		t.Fatalf("not an encrypted value: %q", v)
	}
	enc, err := envfile.EncodeValue(v)
	if err != nil {
		t.Fatal(err)
	}
	if d, err := envfile.Parse([]byte("K="+enc+"\n"), nil); err != nil {
		t.Fatal(err)
	} else if got, _, _ := d.Value("K", nil); got != v {
		t.Fatalf("Compose reads the encrypted value back as %q", got)
	}
	for _, id := range []*age.X25519Identity{a, b} {
		got, err := Decrypt(v, []age.Identity{id})
		if err != nil || got != plain {
			t.Fatalf("decrypt with %s: %q %v", id.Recipient(), got, err)
		}
	}
	if _, err := Decrypt(v, []age.Identity{other}); !errors.Is(err, ErrWrongIdentity) {
		t.Fatalf("a stranger's key: %v, want ErrWrongIdentity", err)
	}
	// One byte of the ciphertext's payload changed.
	raw := []byte(v)
	raw[len(raw)-5] ^= 1
	if raw[len(raw)-5] == '=' || raw[len(raw)-5] == ']' {
		raw[len(raw)-5] = 'A'
	}
	if _, err := Decrypt(string(raw), []age.Identity{a}); !errors.Is(err, ErrTampered) {
		t.Fatalf("tampered: %v, want ErrTampered", err)
	}
	if _, err := Decrypt(Prefix+"!!!"+Suffix, []age.Identity{a}); !errors.Is(err, ErrTampered) {
		t.Fatalf("not base64: %v", err)
	}
}

func TestGenerateIsPrivateAndNeverOverwrites(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ids")
	id, p := newKey(t, dir, "me.key")
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v, want 0600", fi.Mode(), err)
	}
	before, _ := os.ReadFile(p)
	if _, err := Generate(p, time.Now()); !errors.Is(err, ErrIdentityExists) {
		t.Fatalf("second keygen: %v, want ErrIdentityExists", err)
	}
	after, _ := os.ReadFile(p)
	if string(before) != string(after) {
		t.Fatal("the identity was overwritten")
	}
	ids, err := Where{Dir: dir}.Load()
	if err != nil || len(ids) != 1 || ids[0].Recipients()[0] != id.Recipient().String() {
		t.Fatalf("load: %v %v", ids, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("leftover files: %v", ents)
	}
	os.Chmod(p, 0o640)
	if _, err := (Where{Dir: dir}).Load(); !errors.Is(err, ErrIdentityExposed) || !strings.Contains(err.Error(), p) {
		t.Fatalf("group-readable identity: %v", err)
	}
}

func TestWhere(t *testing.T) {
	env := map[string]string{"HOME": "/home/u"}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if w := WhereFrom(lookup); w.Dir != "/home/u/.config/stackpilot/identities" {
		t.Fatalf("default: %+v", w)
	}
	env["XDG_CONFIG_HOME"] = "/cfg"
	if w := WhereFrom(lookup); w.Dir != "/cfg/stackpilot/identities" {
		t.Fatalf("XDG: %+v", w)
	}
	env[IdentityEnvVar] = "~/a.key:/b.key"
	if w := WhereFrom(lookup); len(w.Files) != 2 || w.Files[0] != "/home/u/a.key" {
		t.Fatalf("STACKPILOT_IDENTITY: %+v", w)
	}
	_, err := Where{Dir: t.TempDir()}.Load()
	if !errors.Is(err, ErrNoIdentity) || !strings.Contains(err.Error(), "env keygen") {
		t.Fatalf("no identity: %v", err)
	}
}

func TestRecipientLinesAreCommentsAndByteExact(t *testing.T) {
	a, _ := age.GenerateX25519Identity()
	b, _ := age.GenerateX25519Identity()
	src := "# app settings\r\nDB_HOST=db\r\nNOTE=\"line one\r\n# stackpilot-recipient: not-a-comment\r\n\"\r\nexport X=1 # trailing\r\n"
	d, err := envfile.Parse([]byte(src), nil)
	if err != nil {
		t.Fatal(err)
	}
	if rs, err := Recipients(d); err != nil || len(rs) != 0 {
		t.Fatalf("a line inside a quoted value is no recipient: %v %v", rs, err)
	}
	for _, r := range []*age.X25519Identity{a, b} {
		if added, err := AddRecipient(d, r.Recipient().String()); err != nil || !added {
			t.Fatal(added, err)
		}
	}
	if added, _ := AddRecipient(d, a.Recipient().String()); added {
		t.Fatal("added twice")
	}
	want := RecipientTag + " " + a.Recipient().String() + "\r\n" + RecipientTag + " " + b.Recipient().String() + "\r\n" + src
	if got := string(d.Bytes()); got != want {
		t.Fatalf("got\n%q\nwant\n%q", got, want)
	}
	rs, err := Recipients(d)
	if err != nil || len(rs) != 2 || rs[1].Line != 2 {
		t.Fatalf("recipients %v %v", rs, err)
	}
	if v, _, _ := d.Value("NOTE", nil); !strings.Contains(v, "not-a-comment") {
		t.Fatalf("NOTE changed: %q", v)
	}
	for _, r := range []*age.X25519Identity{a, b} {
		if ok, err := RemoveRecipient(d, r.Recipient().String()); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	if got := string(d.Bytes()); got != src {
		t.Fatalf("removing both did not restore the file:\n%q", got)
	}
	// A file without a final newline keeps missing it.
	d2, _ := envfile.Parse([]byte("A=1"), nil)
	if _, err := AddRecipient(d2, a.Recipient().String()); err != nil {
		t.Fatal(err)
	}
	if _, err := RemoveRecipient(d2, a.Recipient().String()); err != nil || string(d2.Bytes()) != "A=1" {
		t.Fatalf("%q %v", d2.Bytes(), err)
	}
	bad, _ := envfile.Parse([]byte(RecipientTag+" age1nope\nA=1\n"), nil)
	if _, err := Recipients(bad); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Fatalf("bad recipient line: %v", err)
	}
}

// IsEmptyPlain must agree with decryption for every length around the
// empty text and a chunk's end (age's chunks are 64 KiB), and for several
// recipients (a longer header).
func TestIsEmptyPlainAgreesWithDecrypt(t *testing.T) {
	a, _ := age.GenerateX25519Identity()
	b, _ := age.GenerateX25519Identity()
	for _, recipients := range [][]age.Recipient{{a.Recipient()}, {a.Recipient(), b.Recipient()}} {
		for _, n := range []int{0, 1, 2, 15, 16, 17, 31, 32, 33, 1000, 64*1024 - 1, 64 * 1024, 64*1024 + 1} {
			v, err := Encrypt(strings.Repeat("x", n), recipients)
			if err != nil {
				t.Fatal(err)
			}
			empty, ok := IsEmptyPlain(v)
			plain, err := Decrypt(v, []age.Identity{a})
			if err != nil {
				t.Fatal(err)
			}
			if !ok || empty != (plain == "") {
				t.Fatalf("%d bytes to %d recipients: IsEmptyPlain = %v, %v; decrypted %d bytes", n, len(recipients), empty, ok, len(plain))
			}
		}
	}
	for _, v := range []string{"plain", Prefix + "bm90IGFnZQ==" + Suffix, Prefix + "!!" + Suffix} {
		if _, ok := IsEmptyPlain(v); ok {
			t.Fatalf("IsEmptyPlain(%q) accepted it", v)
		}
	}
}

// Decrypt's one-chunk path (decryptShort) agrees with age.Decrypt: the
// same text for every length up to and past a chunk, the same verdict —
// wrong identity or damage — for a value with any byte of its payload or
// MAC changed, cut short or lengthened, and it leaves what it does not
// handle to age.
func TestDecryptShortAgreesWithAge(t *testing.T) {
	a, _ := age.GenerateX25519Identity()
	b, _ := age.GenerateX25519Identity()
	other, _ := age.GenerateX25519Identity()
	ageDecrypt := func(raw []byte, ids ...age.Identity) (string, error) {
		r, err := age.Decrypt(bytes.NewReader(raw), ids...)
		if err != nil {
			return "", err
		}
		out, err := io.ReadAll(r)
		return string(out), err
	}
	rawOf := func(v string) []byte {
		raw, err := base64.StdEncoding.DecodeString(v[len(Prefix) : len(v)-len(Suffix)])
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}
	for _, n := range []int{0, 1, 16, 100, 64*1024 - 1, 64 * 1024, 64*1024 + 1, 2*64*1024 + 5} {
		plain := strings.Repeat("s", n)
		v, err := Encrypt(plain, []age.Recipient{a.Recipient(), b.Recipient()})
		if err != nil {
			t.Fatal(err)
		}
		raw := rawOf(v)
		got, ok, err := decryptShort(raw, []age.Identity{b})
		if wantOK := n < 64*1024; ok != wantOK || (ok && (err != nil || got != plain)) {
			t.Fatalf("%d bytes: ok %v, err %v, %d bytes out", n, ok, err, len(got))
		}
		if _, ok, err := decryptShort(raw, []age.Identity{other}); n < 64*1024 && (!ok || !errors.Is(err, ErrWrongIdentity)) {
			t.Fatalf("%d bytes, another identity: ok %v, %v", n, ok, err)
		}
		if got, err := Decrypt(v, []age.Identity{a}); err != nil || got != plain {
			t.Fatalf("%d bytes: Decrypt: %v", n, err)
		}
	}
	v, _ := Encrypt("a secret value", []age.Recipient{a.Recipient()})
	raw := rawOf(v)
	end := headerEnd(raw)
	variants := map[string][]byte{"cut": raw[:len(raw)-1], "longer": append(append([]byte{}, raw...), 0)}
	for i := end - 10; i < len(raw); i++ { // the MAC, the nonce and the chunk
		bad := append([]byte{}, raw...)
		bad[i] ^= 0x01
		variants[fmt.Sprintf("byte %d", i)] = bad
	}
	for name, bad := range variants {
		_, ageErr := ageDecrypt(bad, a)
		got, ok, err := decryptShort(bad, []age.Identity{a})
		if ageErr == nil {
			t.Fatalf("%s: age decrypted it", name)
		}
		if ok && (err == nil || got != "" || errors.Is(err, ErrWrongIdentity)) {
			t.Fatalf("%s: decryptShort: %q, %v", name, got, err)
		}
		if _, err := Decrypt(Prefix+base64.StdEncoding.EncodeToString(bad)+Suffix, []age.Identity{a}); !errors.Is(err, ErrTampered) {
			t.Fatalf("%s: Decrypt: %v", name, err)
		}
	}
}
