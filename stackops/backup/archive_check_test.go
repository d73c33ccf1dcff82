package backup

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
)

// dumpText is v as %+v prints it: strings raw, as a terminal would get them.
func dumpText(v any) (string, error) { return fmt.Sprintf("%+v", v), nil }

// Every hostile archive of the corpus is refused by verify with the reason
// that names its trick, or — when it is something a real volume may hold —
// verifies and reports its special files.
func TestHostileArchivesVerify(t *testing.T) {
	refused := map[string]string{
		"sparse":           "is a sparse file: refused",
		"sparse-pib":       "is a sparse file: refused",
		"symlink-escape":   `is beneath the symlink "esc": refused`,
		"hardlink-escape":  "not a clean path inside the volume",
		"hardlink-forward": "which is not a file of the volume restored before it",
		"device-char":      "is a device node: refused",
		"device-block":     "is a device node: refused",
		"dump-no-services": "must name exactly one service",
		"oversize":         "content does not match its checksum",
		"absolute-name":    "escapes the volume",
		"dotdot-name":      "escapes the volume",
		"duplicate":        `"volumes/data/d" appears twice`,
	}
	for _, c := range hostileCases() {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			m, err := VerifyArchiveFile(context.Background(), hostileFile(c.name), "")
			took := time.Since(start)
			want, bad := refused[c.name]
			switch {
			case bad && (!errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), want)):
				t.Fatalf("verify: %v, want a refusal saying %q", err, want)
			case bad && strings.ContainsAny(err.Error(), "\x1b\r"):
				t.Fatalf("the refusal carries control characters: %q", err)
			case !bad && err != nil:
				t.Fatalf("verify: %v (a real volume may hold this: it must verify)", err)
			}
			if strings.HasPrefix(c.name, "sparse") && took > time.Second {
				t.Errorf("the sparse entry took %s to refuse, want well under a second", took)
			}
			t.Logf("%s: %s, %v", c.why, took.Round(time.Microsecond), err)
			if m != nil {
				if b, _ := dumpText(m); strings.ContainsAny(b, "\x1b\r\u202e\u009b") {
					t.Errorf("the manifest leaves the package with raw control characters: %s", b)
				}
			}
		})
	}
	// The header's strings leave the package escaped (list, find, --json).
	info, err := readBackupInfo(hostileFile("control-chars"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := dumpText(info)
	if strings.ContainsAny(b, "\x1b\r\u202e\u009b\x07") || !strings.Contains(info.Tag, `\x1b[2K`) || !strings.Contains(info.Host, `\u202e`) {
		t.Errorf("header strings not made safe: %+v", info)
	}
	m, err := VerifyArchiveFile(context.Background(), hostileFile("manifest-command"), "")
	if err != nil {
		t.Fatal(err)
	}
	if cmd := strings.Join(m.Entries[0].RestoreCommand, " "); !strings.Contains(cmd, `\r\x1b[2K`) || strings.ContainsAny(cmd, "\x1b\r") {
		t.Errorf("restore command as it leaves the package: %q", cmd)
	}
}

// The special files a restore lists, with the mount point making an
// absolute link into the volume an inside one, and a walk up from a link
// counted as leaving.
func TestHostileSpecialFiles(t *testing.T) {
	scan := func(name string, roots []string) map[string]*SpecialFiles {
		a, err := openArchive(hostileFile(name))
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		res, err := a.scan(context.Background(), nil, scanOptions{linkRoots: map[string][]string{"volumes/data/": roots}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.Specials
	}
	sp := scan("outside-symlink", []string{"/srv"})["volumes/data/"]
	if sp.OutsideLinks.Count != 3 || sp.OutsideLinks.String() != "shadow -> /etc/shadow, d/up -> ../../etc/passwd, chain -> d/self/../etc" {
		t.Errorf("outside links (mounted at /srv): %+v", sp.OutsideLinks)
	}
	if sp := scan("outside-symlink", nil)["volumes/data/"]; sp.OutsideLinks.Count != 4 || !strings.Contains(sp.OutsideLinks.String(), "abs-inside -> /srv/d") {
		t.Errorf("outside links (mount point unknown): %+v", sp.OutsideLinks)
	}
	sp = scan("setuid-cap", nil)["volumes/data/"]
	if sp.SetID.Count != 2 || sp.SetID.Names[0] != `suid\r\x1b[2K` || sp.Xattrs.Count != 1 || sp.Xattrs.Names[0] != "capped (security.capability)" {
		t.Errorf("setuid and xattrs: %+v", sp)
	}
	if sp := scan("fifo", nil)["volumes/data/"]; sp.Fifos.Count != 1 || sp.Fifos.Names[0] != "pipe" {
		t.Errorf("fifos: %+v", sp.Fifos)
	}
}

// checkHeader refuses the old GNU sparse type and unknown types too.
func TestCheckHeaderTypes(t *testing.T) {
	for typ, ok := range map[byte]bool{tar.TypeReg: true, tar.TypeDir: true, tar.TypeSymlink: true, tar.TypeLink: true, tar.TypeFifo: true,
		tar.TypeGNUSparse: false, tar.TypeChar: false, tar.TypeBlock: false, tar.TypeCont: false, 'Z': false} {
		err := checkHeader(&tar.Header{Name: "x", Typeflag: typ})
		if (err == nil) != ok {
			t.Errorf("type %q: %v", typ, err)
		}
	}
}

// A pass after verification holds each entry to the verified manifest:
// more bytes than it says stop the read at once, and a different content
// fails verified() before a restore counts the entry as done.
func TestScanHeldToTheVerifiedManifest(t *testing.T) {
	p := writeTestArchive(t, t.TempDir(), nil, bytes.Repeat([]byte("dump line\n"), 1000))
	a, err := openArchive(p)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := a.scan(context.Background(), nil, scanOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	expect := map[string]ManifestEntry{}
	for _, e := range res.Manifest.Entries {
		expect[e.Path] = e
	}
	// As verified: every group checks out.
	_, err = a.scan(context.Background(), nil, scanOptions{expect: expect}, func(g *archiveGroup) error { return g.verified() })
	if err != nil {
		t.Fatalf("the same file: %v", err)
	}
	for _, tc := range []struct {
		name   string
		change func(*ManifestEntry)
		want   string
	}{
		{"volume smaller", func(e *ManifestEntry) { e.Size = 10 }, "holds more than the 10 bytes"},
		{"fewer entries", func(e *ManifestEntry) { e.Files = 2 }, "holds more than the 2 entries"},
		{"other content", func(e *ManifestEntry) { e.SHA256 = strings.Repeat("0", 64) }, "differs from what was verified"},
		{"dump smaller", func(e *ManifestEntry) {
			if e.Kind == EntryDump {
				e.Size = 100
			}
		}, "holds more than the 100 bytes"},
	} {
		ex := map[string]ManifestEntry{}
		for k, e := range expect {
			if e.Kind == EntryVolume || (e.Kind == EntryDump && strings.HasPrefix(tc.name, "dump")) {
				tc.change(&e)
			}
			ex[k] = e
		}
		counted := 0
		_, err := a.scan(context.Background(), nil, scanOptions{expect: ex}, func(g *archiveGroup) error {
			if g.Kind == EntryVolume {
				for {
					_, err := g.NextEntry()
					if err == io.EOF {
						break
					}
					if err != nil {
						return err
					}
				}
			}
			if err := g.verified(); err != nil {
				return err
			}
			counted++
			return nil
		})
		if !errors.Is(err, ErrDamaged) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.name, err, tc.want)
		}
	}
}

// A small archive that decompresses to gigabytes without reading the file
// stops when its context ends: a deadline, or a cancellation (what Ctrl-C
// does), within 100 ms.
func TestVerifyStopsPromptlyOnADecompressionBomb(t *testing.T) {
	for _, how := range []string{"deadline", "cancel"} {
		t.Run(how, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			const after = 300 * time.Millisecond
			var stopAt time.Time
			if how == "deadline" {
				ctx, cancel = context.WithTimeout(context.Background(), after)
				defer cancel()
				stopAt = time.Now().Add(after)
			} else {
				stopAt = time.Now().Add(after)
				time.AfterFunc(after, cancel)
			}
			_, err := VerifyArchiveFile(ctx, hostileFile("bomb"), "")
			late := time.Since(stopAt)
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				t.Fatalf("verify returned %v, want the context's error", err)
			}
			t.Logf("%s: stopped %s after the context ended", how, late.Round(time.Microsecond))
			if late > 100*time.Millisecond {
				t.Errorf("verify took %s to stop after the context ended, want ≤ 100 ms", late)
			}
		})
	}
}

func TestIdentityFileMustBePrivate(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "key.txt")
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	key := id.String() + "\n"
	if err := os.WriteFile(p, []byte(key), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = LoadIdentities(p)
	if !errors.Is(err, ErrIdentityExposed) || !strings.Contains(err.Error(), "chmod 600 "+p) || !strings.Contains(err.Error(), "0644") {
		t.Fatalf("world-readable identity: %v", err)
	}
	_ = os.Chmod(p, 0o640)
	if _, err := LoadIdentities(p); !errors.Is(err, ErrIdentityExposed) {
		t.Fatalf("group-readable identity: %v", err)
	}
	_ = os.Chmod(p, 0o600)
	if ids, err := LoadIdentities(p); err != nil || len(ids) != 1 {
		t.Fatalf("private identity: %v", err)
	}
}
