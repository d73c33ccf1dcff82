package backup

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

// FuzzArchive feeds the archive reader what an attacker controls: with raw,
// header+body is the whole file; without, header is the header's JSON and
// body the tar stream, framed into an archive with a correct end marker (so
// the fuzzer reaches the tar, volume and manifest checks instead of dying on
// the file checksum). Each input is verified, then scanned again the way a
// restore reads it (every entry, every byte). Nothing may panic or run on
// after its context ends; an accepted archive leaves the package with no raw
// control character in its strings; a refusal is ErrDamaged (or one of the
// few other reasons a file is not read).
//
// The seed corpus is testdata/fuzz/FuzzArchive (made from the hostile corpus
// by TestFuzzSeeds with -update-hostile); scripts/test.sh fuzzes for a fixed
// time on every run.
func FuzzArchive(f *testing.F) {
	f.Fuzz(func(t *testing.T, header, body []byte, raw bool) {
		p := filepath.Join(t.TempDir(), "fuzz.tar.zst")
		var file []byte
		if raw {
			file = append(append([]byte{}, header...), body...)
		} else {
			file = frameArchive(header, body)
		}
		if err := os.WriteFile(p, file, 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		start := time.Now()
		m, err := VerifyArchiveFile(ctx, p, "")
		checkFuzzOutcome(t, "verify", m, err, start)
		if err != nil {
			return
		}
		// A restore's pass: the archive verified, so every entry must read
		// back the same and verified() must agree.
		a, err := openArchive(p)
		if err != nil {
			t.Fatalf("verified, then does not open: %v", err)
		}
		defer a.Close()
		first, err := a.scan(ctx, nil, scanOptions{}, nil)
		if err != nil {
			t.Fatalf("verified, then a second pass fails: %v", err)
		}
		expect := map[string]ManifestEntry{}
		for _, e := range first.Manifest.Entries {
			expect[e.Path] = e
		}
		_, err = a.scan(ctx, nil, scanOptions{expect: expect}, func(g *archiveGroup) error {
			if g.Kind == EntryVolume {
				for {
					e, err := g.NextEntry()
					if err == io.EOF {
						break
					}
					if err != nil {
						return err
					}
					if _, err := io.Copy(io.Discard, e); err != nil {
						return err
					}
				}
			}
			return g.verified()
		})
		if err != nil {
			t.Fatalf("verified, then a restore's pass over the same bytes fails: %v", err)
		}
	})
}

func checkFuzzOutcome(t *testing.T, what string, m *Manifest, err error, start time.Time) {
	t.Helper()
	if took := time.Since(start); took > 3500*time.Millisecond {
		t.Fatalf("%s ran %s, past its 3 s context", what, took)
	}
	if err != nil {
		msg := err.Error()
		if strings.ContainsAny(msg, "\x1b\r\u009b\u202e") {
			t.Fatalf("%s: the error carries control characters: %q", what, msg)
		}
		if !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrIdentityRequired) && !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(msg, "archive format") {
			t.Fatalf("%s: refused with %v, want ErrDamaged", what, err)
		}
		return
	}
	if s := fmt.Sprintf("%+v", m); strings.ContainsAny(s, "\x1b\r\u009b\u202e") {
		t.Fatalf("%s: the manifest leaves the package with control characters: %q", what, s)
	}
	for _, e := range m.Entries {
		if err := checkManifestEntry(e); err != nil {
			t.Fatalf("%s: accepted a manifest entry it should refuse: %v", what, err)
		}
	}
}

// frameEncoder compresses framed fuzz inputs (one encoder for every input:
// a new one per input would cost the fuzzer more than the reader does).
var frameEncoder, _ = zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest))

// frameArchive wraps a header JSON and a tar stream into the archive format
// with a correct end marker.
func frameArchive(headerJSON, tarStream []byte) []byte {
	var out bytes.Buffer
	_ = writeSkippable(&out, headerFrameMagic, append(append([]byte(archiveHeaderMagic), headerJSON...), '\n'))
	headerLen := out.Len()
	out.Write(frameEncoder.EncodeAll(tarStream, nil))
	sum := sha256.Sum256(out.Bytes())
	footer := fmt.Sprintf("%s%s body=%020d\n", archiveFooterPrefix, hex.EncodeToString(sum[:]), out.Len()-headerLen)
	_ = writeSkippable(&out, footerFrameMagic, []byte(footer))
	return out.Bytes()
}

// unframeArchive splits a (small) archive into its header JSON and its
// decompressed tar stream: the seeds of the framed mode.
func unframeArchive(t testing.TB, p string) (headerJSON, tarStream []byte) {
	t.Helper()
	a, err := openArchive(p)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	headerJSON = a.headerData[len(archiveHeaderMagic) : len(a.headerData)-1]
	zr, err := newZstdReader(io.NewSectionReader(a.f, a.headerFrameLen, a.bodyLen))
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	tarStream, err = io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return headerJSON, tarStream
}

// TestFuzzSeeds proves the committed seed corpus is what the hostile
// generator gives (every hostile archive but the bomb whole, and framed when its tar stream is small), and with
// -update-hostile writes it.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzArchive")
	tmp := t.TempDir()
	for _, c := range hostileCases() {
		p := filepath.Join(tmp, c.name+archiveExt)
		buildHostile(t, c, p)
		file, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		h, body := unframeArchive(t, p)
		seeds := map[string]string{"raw-" + c.name: fuzzSeed(file[:len(file)/2], file[len(file)/2:], true)}
		if len(body) <= 64<<10 { // small inputs keep the fuzzer fast
			seeds["framed-"+c.name] = fuzzSeed(h, body, false)
		}
		for name, content := range seeds {
			p := filepath.Join(dir, name)
			if *updateHostile {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
					t.Fatal(err)
				}
				continue
			}
			got, err := os.ReadFile(p)
			if err != nil || string(got) != content {
				t.Errorf("seed %s is missing or stale (%v) — rewrite with: go test -run TestFuzzSeeds -update-hostile ./stackops/backup", p, err)
			}
		}
	}
}

// fuzzSeed is a corpus file in the format `go test -fuzz` reads.
func fuzzSeed(header, body []byte, raw bool) string {
	return "go test fuzz v1\n[]byte(" + strconv.Quote(string(header)) + ")\n[]byte(" + strconv.Quote(string(body)) + ")\nbool(" + strconv.FormatBool(raw) + ")\n"
}
