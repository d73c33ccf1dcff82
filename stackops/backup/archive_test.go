package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

// volumeTar builds a tar like the engine's archive API returns for /data.
func volumeTar(t *testing.T, big int) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mt := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(tw.WriteHeader(&tar.Header{Name: "data/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: mt}))
	must(tw.WriteHeader(&tar.Header{Name: "data/a.txt", Typeflag: tar.TypeReg, Mode: 0o640, Size: 5, Uid: 7, Gid: 8, ModTime: mt}))
	_, _ = tw.Write([]byte("hello"))
	must(tw.WriteHeader(&tar.Header{Name: "data/link", Typeflag: tar.TypeSymlink, Linkname: "a.txt", Mode: 0o777, ModTime: mt}))
	must(tw.WriteHeader(&tar.Header{Name: "data/hard", Typeflag: tar.TypeLink, Linkname: "data/a.txt", ModTime: mt}))
	must(tw.WriteHeader(&tar.Header{Name: "data/empty/", Typeflag: tar.TypeDir, Mode: 0o700, ModTime: mt}))
	content := make([]byte, big)
	r := rand.New(rand.NewSource(1))
	for i := range content {
		if i%3 == 0 {
			content[i] = byte(r.Intn(256))
		} else {
			content[i] = 'x'
		}
	}
	must(tw.WriteHeader(&tar.Header{Name: "data/big.bin", Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(big), ModTime: mt,
		PAXRecords: map[string]string{"SCHILY.xattr.user.note": "kept"}}))
	_, _ = tw.Write(content)
	must(tw.Close())
	return buf.Bytes()
}

func writeTestArchive(t *testing.T, dir string, recipients []age.Recipient, dump []byte) string {
	t.Helper()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	h := ArchiveHeader{Tool: "stackpilot", ToolVersion: "test", ID: "20260304-050607", Project: "proj", Created: now,
		Services: []string{"db"}, Volumes: []string{"data"}, Dumps: []string{"db/notes"}, Files: []string{"compose.yaml"}}
	for _, r := range recipients { // recorded as backup create records them
		h.Recipients = append(h.Recipients, r.(fmt.Stringer).String())
	}
	p := filepath.Join(dir, backupFileName("proj", h.ID, "", len(recipients) > 0))
	w, err := createArchive(p, h, recipients)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.addFile(ManifestEntry{Kind: EntryCompose, Path: "compose/compose.yaml", Source: "compose.yaml"}, 0o644, []byte("services: {}\n")); err != nil {
		t.Fatal(err)
	}
	if _, err := w.addVolume(ManifestEntry{Kind: EntryVolume, Path: "volumes/data/", Volume: "data", Target: "/data"}, bytes.NewReader(volumeTar(t, 300<<10)), []string{"/data"}, nil); err != nil {
		t.Fatal(err)
	}
	if err := w.addDump(ManifestEntry{Kind: EntryDump, Path: "dumps/db/notes/", Services: []string{"db"}, Dump: "notes"}, bytes.NewReader(dump), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("the archive exists under its final name before commit: %v", err)
	}
	if _, err := w.commit(); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestArchiveRoundTrip(t *testing.T) {
	dir := t.TempDir()
	dump := bytes.Repeat([]byte(`{"id":1,"text":"note"}`+"\n"), 400000) // ~9 MiB: three parts
	p := writeTestArchive(t, dir, nil, dump)
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("archive mode %v, want 0600 (it holds .env)", fi.Mode().Perm())
	}
	if tmps, _ := filepath.Glob(filepath.Join(dir, ".*")); len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}
	m, err := VerifyArchiveFile(context.Background(), p, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Entries) != 3 || m.Entries[1].Files != 6 || m.Entries[2].Parts != 3 || m.Entries[2].Size != int64(len(dump)) {
		t.Fatalf("manifest entries: %+v", m.Entries)
	}

	// A second pass hands out what was stored.
	a, err := openArchive(p)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	var gotDump []byte
	entries := map[string]*tar.Header{}
	var aTxt []byte
	_, err = a.scan(context.Background(), nil, scanOptions{}, func(g *archiveGroup) error {
		switch g.Kind {
		case EntryDump:
			gotDump, err = io.ReadAll(g)
			return err
		case EntryVolume:
			for {
				e, err := g.NextEntry()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return err
				}
				entries[e.Rel] = e.Header
				if e.Rel == "a.txt" {
					aTxt, _ = io.ReadAll(e)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gotDump, dump) {
		t.Errorf("dump differs: %d bytes, want %d", len(gotDump), len(dump))
	}
	if string(aTxt) != "hello" || entries["a.txt"].Uid != 7 || entries["a.txt"].Mode != 0o640 {
		t.Errorf("a.txt: %q %+v", aTxt, entries["a.txt"])
	}
	if h := entries["hard"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "volumes/data/a.txt" {
		t.Errorf("hard link: %+v", h)
	}
	if h := entries["big.bin"]; h == nil || h.PAXRecords["SCHILY.xattr.user.note"] != "kept" {
		t.Errorf("xattr lost: %+v", h)
	}
	for _, rel := range []string{"", "link", "empty"} {
		if entries[rel] == nil {
			t.Errorf("entry %q missing", rel)
		}
	}

	// An unencrypted archive is a plain zstd file holding a tar.
	if _, err := exec.LookPath("zstd"); err == nil {
		out, err := exec.Command("sh", "-c", "zstd -dc '"+p+"' | tar tf -").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "volumes/data/a.txt") || !strings.Contains(string(out), "manifest.json") {
			t.Errorf("zstd -dc | tar t: %v\n%s", err, out)
		}
	}
}

func TestArchiveEncrypted(t *testing.T) {
	dir := t.TempDir()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	p := writeTestArchive(t, dir, []age.Recipient{id.Recipient()}, []byte("secret dump"))
	if b, _ := os.ReadFile(p); bytes.Contains(b, []byte("secret dump")) || bytes.Contains(b, []byte("hello")) {
		t.Fatal("the encrypted archive holds clear text")
	}
	idFile := filepath.Join(dir, "key.txt")
	if err := os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyArchiveFile(context.Background(), p, idFile); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyArchiveFile(context.Background(), p, ""); !errors.Is(err, ErrIdentityRequired) {
		t.Errorf("no identity: %v, want ErrIdentityRequired", err)
	}
	other, _ := age.GenerateX25519Identity()
	otherFile := filepath.Join(dir, "other.txt")
	_ = os.WriteFile(otherFile, []byte(other.String()+"\n"), 0o600)
	if _, err := VerifyArchiveFile(context.Background(), p, otherFile); !errors.Is(err, ErrWrongIdentity) {
		t.Errorf("wrong identity: %v, want ErrWrongIdentity", err)
	}
	// The clear header still lists it.
	info, err := readBackupInfo(p)
	if err != nil || !info.Encrypted || info.Project != "proj" {
		t.Errorf("header of encrypted archive: %+v %v", info, err)
	}
}

// Every single-byte change anywhere in the file, and every truncation, is
// caught — for plain and encrypted archives.
func TestArchiveDetectsEveryFlip(t *testing.T) {
	dir := t.TempDir()
	id, _ := age.GenerateX25519Identity()
	idFile := filepath.Join(dir, "key.txt")
	_ = os.WriteFile(idFile, []byte(id.String()+"\n"), 0o600)
	for _, tc := range []struct {
		name string
		rec  []age.Recipient
		key  string
	}{{"plain", nil, ""}, {"encrypted", []age.Recipient{id.Recipient()}, idFile}} {
		t.Run(tc.name, func(t *testing.T) {
			d := t.TempDir()
			p := writeTestArchive(t, d, tc.rec, bytes.Repeat([]byte("dump line\n"), 1000))
			orig, _ := os.ReadFile(p)
			r := rand.New(rand.NewSource(42))
			bad := filepath.Join(d, "bad.tar.zst")
			offsets := []int{0, 3, 8, 20, len(orig) - 1, len(orig) - footerFrameLen, len(orig) - footerFrameLen + 30}
			if tc.rec != nil { // age's header: stanza type, ephemeral key, wrapped file key, MAC
				a, err := openArchive(p)
				if err != nil {
					t.Fatal(err)
				}
				a.Close()
				for _, n := range []int{25, 40, 90, 140, 180} {
					offsets = append(offsets, int(a.headerFrameLen)+n)
				}
			}
			for len(offsets) < 150 {
				offsets = append(offsets, r.Intn(len(orig)))
			}
			for _, off := range offsets {
				b := append([]byte(nil), orig...)
				b[off] ^= byte(1 + r.Intn(255))
				_ = os.WriteFile(bad, b, 0o600)
				if _, err := VerifyArchiveFile(context.Background(), bad, tc.key); !errors.Is(err, ErrDamaged) {
					t.Fatalf("flip at %d of %d: verify said %v, want ErrDamaged", off, len(orig), err)
				}
			}
			for _, n := range []int{0, 1, 10, len(orig) / 2, len(orig) - footerFrameLen, len(orig) - 1} {
				_ = os.WriteFile(bad, orig[:n], 0o600)
				if _, err := VerifyArchiveFile(context.Background(), bad, tc.key); !errors.Is(err, ErrDamaged) {
					t.Fatalf("truncated to %d: verify said %v, want ErrDamaged", n, err)
				}
			}
		})
	}
}
