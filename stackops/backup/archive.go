package backup

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"math/bits"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"filippo.io/age"
	"github.com/klauspost/compress/zstd"

	"github.com/stackpilot/stackpilot/stackops"
	"github.com/stackpilot/stackpilot/stackops/internal/atomicfile"
	"github.com/stackpilot/stackpilot/stackops/internal/lazyre"
)

// The archive format (version 1), one file per backup:
//
//	[zstd skippable frame 0x184D2A5B]  "STACKPILOT-BACKUP/1\n" + header JSON + "\n"
//	[body]                             zstd(tar)            — or age(zstd(tar)) when encrypted
//	[zstd skippable frame 0x184D2A5C]  "STACKPILOT-END/1 sha256=<hex> body=<20 digits>\n"
//
// An unencrypted archive is therefore a valid zstd file: `zstd -dc X.tar.zst |
// tar t` lists it, and `tar x` gives back the volumes' files. The header is
// in clear text so `backup list` can show an encrypted archive's project,
// time and services without the key; it is covered by the manifest (its
// SHA-256) and by the footer. The footer holds the SHA-256 of every byte
// before it, so any damaged byte — in the header, the body or the footer
// itself — is noticed, and a file without a valid footer is incomplete.
//
// Inside the tar, in this order:
//
//	compose/<path>                    the compose files (paths relative to the project directory)
//	env/<path>                        the env files (.env)
//	volumes/<volume>/…                each volume's files, re-emitted from the engine's archive
//	dumps/<service>/<name>/part-NNNNNN  each dump's output in parts of at most 4 MiB
//	manifest.json                     tool, project, time, services, and every entry's size and SHA-256
//
// A volume's SHA-256 is over a canonical form of its entries (name, type,
// mode, owner, size, link target, time, extended attributes and content), so
// it proves the metadata as well as the bytes. A dump's is over its output.

const (
	archiveFormat       = 1
	archiveHeaderMagic  = "STACKPILOT-BACKUP/1\n"
	archiveFooterPrefix = "STACKPILOT-END/1 sha256="
	headerFrameMagic    = 0x184D2A5B
	footerFrameMagic    = 0x184D2A5C
	footerDataLen       = len(archiveFooterPrefix) + 64 + len(" body=") + 20 + 1
	footerFrameLen      = 8 + footerDataLen
	maxHeaderLen        = 1 << 20
	maxManifestLen      = 64 << 20
	dumpPartSize        = 4 << 20
	manifestName        = "manifest.json"
)

// Archive file name suffixes.
const (
	archiveExt          = ".tar.zst"
	encryptedArchiveExt = ".tar.zst.age"
)

var footerRe = lazyre.New(`^STACKPILOT-END/1 sha256=([0-9a-f]{64}) body=([0-9]{20})\n$`)

// ErrDamaged means an archive failed verification: a byte changed, it
// was cut short, or an entry does not match its checksum.
var ErrDamaged = errors.New("backup archive is damaged")

// DamagedError names the damaged archive and, when known, the broken entry.
type DamagedError struct {
	File   string
	Entry  string // e.g. "volume db-data", "dump db/notes"; empty when the damage is outside any entry
	Reason string
}

func (e *DamagedError) Error() string {
	where := filepath.Base(e.File)
	if e.Entry != "" {
		return stackops.SafeText(fmt.Sprintf("%s is damaged: %s: %s", where, e.Entry, e.Reason))
	}
	return stackops.SafeText(fmt.Sprintf("%s is damaged: %s", where, e.Reason))
}

// Is matches ErrDamaged.
func (e *DamagedError) Is(target error) bool { return target == ErrDamaged }

// ArchiveHeader is the clear-text start of an archive: enough to list it
// (even when encrypted) and to plan a restore.
type ArchiveHeader struct {
	Format      int       `json:"format"`
	Tool        string    `json:"tool"`
	ToolVersion string    `json:"tool_version"`
	ID          string    `json:"id"`
	Project     string    `json:"project"`
	Created     time.Time `json:"created"`
	Tag         string    `json:"tag,omitempty"`
	Host        string    `json:"host,omitempty"`
	Services    []string  `json:"services"`
	Volumes     []string  `json:"volumes"`
	Dumps       []string  `json:"dumps"`
	Files       []string  `json:"files"`
	Compression string    `json:"compression"`
	Encrypted   bool      `json:"encrypted"`
	Recipients  []string  `json:"recipients,omitempty"`
}

// Manifest is the archive's last entry: what the backup holds, and the size
// and SHA-256 of every entry.
type Manifest struct {
	Format       int             `json:"format"`
	Tool         string          `json:"tool"`
	ToolVersion  string          `json:"tool_version"`
	ID           string          `json:"id"`
	Project      string          `json:"project"`
	Created      time.Time       `json:"created"`
	Tag          string          `json:"tag,omitempty"`
	Host         string          `json:"host,omitempty"`
	Services     []string        `json:"services"`
	HeaderSHA256 string          `json:"header_sha256"`
	Entries      []ManifestEntry `json:"entries"`
}

// Entry kinds of a manifest.
const (
	EntryCompose = "compose"
	EntryEnv     = "env"
	EntryVolume  = "volume"
	EntryDump    = "dump"
)

// ManifestEntry is one thing a backup holds.
type ManifestEntry struct {
	Kind string `json:"kind"`
	// Path is the entry's path in the archive (a prefix ending in / for volumes and dumps).
	Path   string `json:"path"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// Files counts a volume's entries (files, directories, links).
	Files int `json:"files,omitempty"`
	// Parts counts a dump's parts.
	Parts int `json:"parts,omitempty"`
	// Source is a compose or env file's path relative to the project directory.
	Source string `json:"source,omitempty"`
	// Volume is the compose volume key; EngineVolume the engine's volume name.
	Volume       string `json:"volume,omitempty"`
	EngineVolume string `json:"engine_volume,omitempty"`
	// Target is where the volume was mounted in the container it was read from.
	Target string `json:"target,omitempty"`
	// Services mount the volume (volumes), or run the dump (dumps: one).
	Services []string `json:"services,omitempty"`
	// Dump is the dump's name; DumpCommand and RestoreCommand its argv.
	Dump           string   `json:"dump,omitempty"`
	DumpCommand    []string `json:"dump_command,omitempty"`
	RestoreCommand []string `json:"restore_command,omitempty"`
	User           string   `json:"user,omitempty"`
}

// Label names the entry for people: "volume db-data", "dump db/notes", "compose compose.yaml".
func (e ManifestEntry) Label() string {
	switch e.Kind {
	case EntryVolume:
		return stackops.SafeText("volume " + e.Volume)
	case EntryDump:
		if len(e.Services) > 0 {
			return stackops.SafeText("dump " + e.Services[0] + "/" + e.Dump)
		}
		return stackops.SafeText("dump " + e.Dump)
	default:
		return stackops.SafeText(e.Kind + " " + e.Source)
	}
}

// safe is the entry with every string an archive supplies made safe for
// a terminal (stackops.SafeText): what leaves this package.
func (e ManifestEntry) safe() ManifestEntry {
	e.Kind, e.Path, e.SHA256 = stackops.SafeText(e.Kind), stackops.SafeText(e.Path), stackops.SafeText(e.SHA256)
	e.Source, e.Volume, e.EngineVolume, e.Target = stackops.SafeText(e.Source), stackops.SafeText(e.Volume), stackops.SafeText(e.EngineVolume), stackops.SafeText(e.Target)
	e.Services, e.Dump, e.User = stackops.SafeTexts(e.Services), stackops.SafeText(e.Dump), stackops.SafeText(e.User)
	e.DumpCommand, e.RestoreCommand = stackops.SafeTexts(e.DumpCommand), stackops.SafeTexts(e.RestoreCommand)
	return e
}

// safe is the manifest with every string made safe for a terminal.
func (m *Manifest) safe() *Manifest {
	out := *m
	out.Tool, out.ToolVersion, out.ID, out.Project = stackops.SafeText(m.Tool), stackops.SafeText(m.ToolVersion), stackops.SafeText(m.ID), stackops.SafeText(m.Project)
	out.Tag, out.Host, out.Services, out.HeaderSHA256 = stackops.SafeText(m.Tag), stackops.SafeText(m.Host), stackops.SafeTexts(m.Services), stackops.SafeText(m.HeaderSHA256)
	out.Entries = make([]ManifestEntry, len(m.Entries))
	for i, e := range m.Entries {
		out.Entries[i] = e.safe()
	}
	return &out
}

func labelForPath(p string) string {
	return stackops.SafeText(rawLabelForPath(p))
}

func rawLabelForPath(p string) string {
	switch {
	case strings.HasPrefix(p, "volumes/"):
		return "volume " + strings.TrimSuffix(strings.TrimPrefix(p, "volumes/"), "/")
	case strings.HasPrefix(p, "dumps/"):
		return "dump " + strings.TrimSuffix(strings.TrimPrefix(p, "dumps/"), "/")
	case strings.HasPrefix(p, "compose/"):
		return "compose " + strings.TrimPrefix(p, "compose/")
	case strings.HasPrefix(p, "env/"):
		return "env " + strings.TrimPrefix(p, "env/")
	case p == manifestName:
		return "manifest"
	}
	return p
}

// ---- writing ----

// archiveWriter streams one archive to a temporary file in the backup
// directory; commit renames it into place only once it is complete and on
// disk, so a half-written archive is never listed.
type archiveWriter struct {
	finalPath      string
	f              *atomicfile.File
	bw             *bufio.Writer
	out            *hashCountWriter
	ageW           io.WriteCloser
	zw             *zstd.Encoder
	tw             *tar.Writer
	headerFrameLen int64
	manifest       Manifest
	modTime        time.Time
	buf            []byte
	done           bool
}

type hashCountWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (h *hashCountWriter) Write(p []byte) (int, error) {
	n, err := h.w.Write(p)
	h.h.Write(p[:n])
	h.n += int64(n)
	return n, err
}

func newZstdWriter(w io.Writer) (*zstd.Encoder, error) {
	conc := runtime.GOMAXPROCS(0)
	if conc > 4 {
		conc = 4
	}
	return zstd.NewWriter(w,
		zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithEncoderConcurrency(conc),
		zstd.WithWindowSize(1<<20),
		zstd.WithEncoderCRC(true))
}

func newZstdReader(r io.Reader) (*zstd.Decoder, error) {
	return zstd.NewReader(r,
		zstd.WithDecoderConcurrency(2),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(64<<20))
}

// createArchive starts an archive at finalPath, streamed into a hidden
// temporary file beside it (atomicfile) that commit renames into place.
func createArchive(finalPath string, h ArchiveHeader, recipients []age.Recipient) (*archiveWriter, error) {
	f, err := atomicfile.Create(finalPath, atomicfile.Options{Mode: 0o600})
	if err != nil {
		return nil, fmt.Errorf("create backup file: %w", err)
	}
	w := &archiveWriter{finalPath: finalPath, f: f, modTime: h.Created, buf: make([]byte, 256<<10)}
	w.bw = bufio.NewWriterSize(f, 1<<20)
	w.out = &hashCountWriter{w: w.bw, h: sha256.New()}
	h.Format, h.Compression, h.Encrypted = archiveFormat, "zstd", len(recipients) > 0
	hb, err := json.Marshal(h)
	if err != nil {
		w.abort()
		return nil, err
	}
	data := append(append([]byte(archiveHeaderMagic), hb...), '\n')
	if err := writeSkippable(w.out, headerFrameMagic, data); err != nil {
		w.abort()
		return nil, fmt.Errorf("write backup file: %w", err)
	}
	w.headerFrameLen = w.out.n
	sum := sha256.Sum256(data)
	w.manifest = Manifest{Format: archiveFormat, Tool: h.Tool, ToolVersion: h.ToolVersion, ID: h.ID, Project: h.Project,
		Created: h.Created, Tag: h.Tag, Host: h.Host, Services: h.Services, HeaderSHA256: hex.EncodeToString(sum[:]), Entries: []ManifestEntry{}}
	var body io.Writer = w.out
	if len(recipients) > 0 {
		w.ageW, err = age.Encrypt(w.out, recipients...)
		if err != nil {
			w.abort()
			return nil, fmt.Errorf("encrypt: %w", err)
		}
		body = w.ageW
	}
	w.zw, err = newZstdWriter(body)
	if err != nil {
		w.abort()
		return nil, err
	}
	w.tw = tar.NewWriter(w.zw)
	return w, nil
}

func writeSkippable(w io.Writer, magic uint32, data []byte) error {
	var hdr [8]byte
	binary.LittleEndian.PutUint32(hdr[:4], magic)
	binary.LittleEndian.PutUint32(hdr[4:], uint32(len(data)))
	if _, err := w.Write(hdr[:]); err != nil {
		return err
	}
	_, err := w.Write(data)
	return err
}

// addFile stores a small file (a compose file, .env) read whole.
func (w *archiveWriter) addFile(e ManifestEntry, mode int64, data []byte) error {
	hdr := &tar.Header{Name: e.Path, Typeflag: tar.TypeReg, Mode: mode & 0o777, Size: int64(len(data)), ModTime: w.modTime, Format: tar.FormatPAX}
	if err := w.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := w.tw.Write(data); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	e.Size, e.SHA256 = int64(len(data)), hex.EncodeToString(sum[:])
	w.manifest.Entries = append(w.manifest.Entries, e)
	return nil
}

// addVolume re-emits a volume's tar stream (as the engine's archive API
// produced it, rooted at the mount point's name) under e.Path, computing the
// volume's canonical digest. progress is called with the bytes copied so far.
// Every entry is held to what a restore accepts (archive_check.go), so no
// archive is written that stackpilot would refuse to restore: device nodes
// are left out, anything else unexpected fails the backup. The special files
// it returns are what create warns about; roots are the absolute paths that
// are the volume itself (where it was mounted).
func (w *archiveWriter) addVolume(e ManifestEntry, stream io.Reader, roots []string, progress func(int64)) (*SpecialFiles, error) {
	dg := newVolumeDigest()
	vs := newVolumeState(roots)
	devices := map[string]bool{}
	var copied int64
	err := walkEngineTar(stream, func(rel, linkRel string, hdr *tar.Header, content io.Reader) error {
		if hdr.Typeflag == tar.TypeChar || hdr.Typeflag == tar.TypeBlock || (hdr.Typeflag == tar.TypeLink && devices[linkRel]) {
			devices[rel] = true
			vs.Specials.Devices.add(rel)
			return nil
		}
		if err := checkHeader(hdr); err != nil {
			return err
		}
		if err := vs.admit(rel, hdr, linkRel); err != nil {
			return fmt.Errorf("the engine's archive of the volume: %w", err)
		}
		if hdr.Typeflag == tar.TypeLink {
			hdr.Linkname = volumeEntryName(e.Path, linkRel, false)
		}
		hdr.Name = volumeEntryName(e.Path, rel, hdr.Typeflag == tar.TypeDir)
		dg.header(rel, hdr, linkRel)
		if err := w.tw.WriteHeader(hdr); err != nil {
			return err
		}
		if hdr.Typeflag == tar.TypeReg && hdr.Size > 0 {
			n, err := copyBuf(io.MultiWriter(w.tw, dg.h), content, w.buf, func(n int64) {
				if progress != nil {
					progress(copied + n)
				}
			})
			copied += n
			dg.size += n
			if err != nil {
				return fmt.Errorf("copy %s: %w", rel, err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	vs.finish()
	e.Size, e.SHA256, e.Files = dg.size, dg.sum(), dg.files
	w.manifest.Entries = append(w.manifest.Entries, e)
	if progress != nil {
		progress(copied)
	}
	return &vs.Specials, nil
}

// walkEngineTar reads a tar stream from the engine's archive API (entries
// rooted at the copied directory's name) and calls fn with each entry's path
// relative to that root ("" for the root), its hard-link target relative to
// the root, its normalised header, and its content.
func walkEngineTar(stream io.Reader, fn func(rel, linkRel string, hdr *tar.Header, content io.Reader) error) error {
	tr := tar.NewReader(stream)
	root := ""
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("read the engine's archive: %w", err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		if root == "" {
			root, _, _ = strings.Cut(name, "/")
		}
		rel, ok := relToRoot(name, root)
		if !ok {
			return fmt.Errorf("unexpected entry %q outside %s/ in the engine's archive", hdr.Name, root)
		}
		normalizeHeader(hdr)
		linkRel := hdr.Linkname
		if hdr.Typeflag == tar.TypeLink {
			lr, ok := relToRoot(strings.TrimSuffix(hdr.Linkname, "/"), root)
			if !ok {
				return fmt.Errorf("hard link %q points outside the volume", hdr.Name)
			}
			linkRel = lr
		}
		if err := fn(rel, linkRel, hdr, tr); err != nil {
			return err
		}
	}
	if root == "" {
		return errors.New("the engine's archive is empty")
	}
	return nil
}

// digestEngineTar computes the order-independent digest of a volume from
// the engine's archive of it: what a restore checks the replaced volume
// against (see contentDigest).
func digestEngineTar(stream io.Reader) (sum string, files int, size int64, err error) {
	dg := newContentDigest()
	buf := make([]byte, 256<<10)
	err = walkEngineTar(stream, func(rel, linkRel string, hdr *tar.Header, content io.Reader) error {
		dg.header(rel, hdr, linkRel)
		if hdr.Typeflag == tar.TypeReg {
			_, err := io.CopyBuffer(dg, content, buf)
			return err
		}
		return nil
	})
	return dg.sum(), dg.files, dg.size, err
}

// addDump stores a command's output, read to its end, as parts of at most
// dumpPartSize (a tar entry needs its size up front; parts keep memory
// constant whatever the dump's size).
func (w *archiveWriter) addDump(e ManifestEntry, r io.Reader, progress func(int64)) error {
	h := sha256.New()
	part := make([]byte, dumpPartSize)
	var total int64
	parts := 0
	for {
		n, err := io.ReadFull(r, part)
		if n > 0 || parts == 0 {
			hdr := &tar.Header{Name: fmt.Sprintf("%spart-%06d", e.Path, parts), Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(n), ModTime: w.modTime, Format: tar.FormatPAX}
			if werr := w.tw.WriteHeader(hdr); werr != nil {
				return werr
			}
			if _, werr := w.tw.Write(part[:n]); werr != nil {
				return werr
			}
			h.Write(part[:n])
			total += int64(n)
			parts++
			if progress != nil {
				progress(total)
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return err
		}
	}
	e.Size, e.SHA256, e.Parts = total, hex.EncodeToString(h.Sum(nil)), parts
	w.manifest.Entries = append(w.manifest.Entries, e)
	return nil
}

// commit writes the manifest and the footer, syncs the file, and renames it
// into place (then syncs the directory, so the rename itself survives a crash).
func (w *archiveWriter) commit() (int64, error) {
	mb, err := json.MarshalIndent(w.manifest, "", "  ")
	if err != nil {
		w.abort()
		return 0, err
	}
	fail := func(err error) (int64, error) {
		w.abort()
		return 0, fmt.Errorf("write backup file: %w", err)
	}
	if err := w.tw.WriteHeader(&tar.Header{Name: manifestName, Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(len(mb)), ModTime: w.modTime, Format: tar.FormatPAX}); err != nil {
		return fail(err)
	}
	if _, err := w.tw.Write(mb); err != nil {
		return fail(err)
	}
	if err := w.tw.Close(); err != nil {
		return fail(err)
	}
	if err := w.zw.Close(); err != nil {
		return fail(err)
	}
	if w.ageW != nil {
		if err := w.ageW.Close(); err != nil {
			return fail(err)
		}
	}
	bodyLen := w.out.n - w.headerFrameLen
	footer := fmt.Sprintf("%s%s body=%020d\n", archiveFooterPrefix, hex.EncodeToString(w.out.h.Sum(nil)), bodyLen)
	if err := writeSkippable(w.bw, footerFrameMagic, []byte(footer)); err != nil {
		return fail(err)
	}
	if err := w.bw.Flush(); err != nil {
		return fail(err)
	}
	size := w.out.n + int64(footerFrameLen)
	// A directory that cannot be synced does not fail a backup that is in
	// place (as before the helper): only an earlier error does.
	if err := w.f.Commit(); err != nil && !errors.Is(err, atomicfile.ErrDirSync) {
		w.f = nil // Commit removed the temporary file
		w.abort()
		return 0, err
	}
	w.f = nil
	w.done = true
	return size, nil
}

// abort discards the temporary file.
func (w *archiveWriter) abort() {
	if w.done {
		return
	}
	w.done = true
	if w.zw != nil {
		_ = w.zw.Close()
	}
	if w.f != nil {
		w.f.Abort()
	}
}

// copyBuf is io.CopyBuffer with a progress callback every 8 MiB.
func copyBuf(dst io.Writer, src io.Reader, buf []byte, progress func(int64)) (int64, error) {
	var n, last int64
	for {
		k, err := src.Read(buf)
		if k > 0 {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
			if n-last >= 8<<20 {
				last = n
				progress(n)
			}
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func relToRoot(name, root string) (string, bool) {
	switch {
	case name == root:
		return "", true
	case strings.HasPrefix(name, root+"/"):
		rel := name[len(root)+1:]
		if rel != path.Clean(rel) || rel == ".." || strings.HasPrefix(rel, "../") || strings.HasPrefix(rel, "/") {
			return "", false
		}
		return rel, true
	}
	return "", false
}

func volumeEntryName(prefix, rel string, dir bool) string {
	if rel == "" {
		return prefix
	}
	if dir {
		return prefix + rel + "/"
	}
	return prefix + rel
}

func normalizeHeader(hdr *tar.Header) {
	if hdr.Typeflag == tar.TypeRegA {
		hdr.Typeflag = tar.TypeReg
	}
	hdr.Mode &= 0o7777
	hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
	hdr.Format = tar.FormatPAX
	if hdr.Typeflag != tar.TypeReg {
		hdr.Size = 0
	}
}

// volumeDigest is the canonical SHA-256 of a volume's entries.
type volumeDigest struct {
	h     hash.Hash
	size  int64
	files int
}

func newVolumeDigest() *volumeDigest { return &volumeDigest{h: sha256.New()} }

func (d *volumeDigest) header(rel string, hdr *tar.Header, link string) {
	d.files++
	io.WriteString(d.h, canonicalLine(rel, hdr, link))
}

// canonicalLine is what a volume's digests say of an entry besides its content.
func canonicalLine(rel string, hdr *tar.Header, link string) string {
	var xattrs []string
	for k, v := range hdr.PAXRecords {
		if strings.HasPrefix(k, "SCHILY.xattr.") {
			xattrs = append(xattrs, k+"="+v)
		}
	}
	sort.Strings(xattrs)
	return fmt.Sprintf("%q %c %o %d %d %d %q %d %d %d %q\n", rel, hdr.Typeflag, hdr.Mode&0o7777, hdr.Uid, hdr.Gid, hdr.Size,
		link, hdr.ModTime.Unix(), hdr.Devmajor, hdr.Devminor, strings.Join(xattrs, "\x00"))
}

// contentDigest is an order-independent digest of a volume's entries: the
// sum, modulo 2^256, of every entry's SHA-256 (its canonical line, then its
// content). The engine reads a volume back in its own order (by name),
// which an archive from elsewhere need not follow, so a restore compares
// what it wrote with what it reads back through this one.
type contentDigest struct {
	acc   [4]uint64
	cur   hash.Hash
	files int
	size  int64
}

func newContentDigest() *contentDigest { return &contentDigest{} }

func (d *contentDigest) header(rel string, hdr *tar.Header, link string) {
	d.flush()
	d.files++
	d.cur = sha256.New()
	io.WriteString(d.cur, canonicalLine(rel, hdr, link))
}

// Write adds content to the current entry.
func (d *contentDigest) Write(p []byte) (int, error) {
	d.size += int64(len(p))
	return d.cur.Write(p)
}

func (d *contentDigest) flush() {
	if d.cur == nil {
		return
	}
	sum := d.cur.Sum(nil)
	d.cur = nil
	var carry uint64
	for i := 3; i >= 0; i-- {
		d.acc[i], carry = bits.Add64(d.acc[i], binary.BigEndian.Uint64(sum[i*8:]), carry)
	}
}

func (d *contentDigest) sum() string {
	d.flush()
	var b [32]byte
	for i, v := range d.acc {
		binary.BigEndian.PutUint64(b[i*8:], v)
	}
	return hex.EncodeToString(b[:])
}

func (d *volumeDigest) sum() string { return hex.EncodeToString(d.h.Sum(nil)) }

// ---- reading ----

// archiveFile is an opened archive whose header and footer parsed; its body
// has not been read yet.
type archiveFile struct {
	Path           string
	Size           int64
	Header         ArchiveHeader
	headerData     []byte
	headerFrameLen int64
	bodyLen        int64
	footerSum      string
	f              *os.File
}

// openArchive reads an archive's header and footer. It fails (with
// ErrDamaged) when either is missing or malformed, or their lengths do
// not add up to the file's size — a cut-short file fails here.
func openArchive(p string) (*archiveFile, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	a, err := readArchiveFrame(f, p)
	if err != nil {
		f.Close()
		return nil, err
	}
	a.f = f
	return a, nil
}

func readArchiveFrame(f *os.File, p string) (*archiveFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	damaged := func(format string, a ...any) error {
		return &DamagedError{File: p, Reason: fmt.Sprintf(format, a...)}
	}
	a := &archiveFile{Path: p, Size: fi.Size()}
	var hdr [8]byte
	if _, err := io.ReadFull(f, hdr[:]); err != nil {
		return nil, damaged("not a stackpilot backup (too short)")
	}
	if binary.LittleEndian.Uint32(hdr[:4]) != headerFrameMagic {
		return nil, damaged("not a stackpilot backup (no header)")
	}
	n := binary.LittleEndian.Uint32(hdr[4:])
	if n > maxHeaderLen || int64(n)+8+int64(footerFrameLen) > a.Size {
		return nil, damaged("header length %d does not fit the file", n)
	}
	data := make([]byte, n)
	if _, err := io.ReadFull(f, data); err != nil {
		return nil, damaged("header cut short")
	}
	if !bytes.HasPrefix(data, []byte(archiveHeaderMagic)) || !bytes.HasSuffix(data, []byte("\n")) {
		return nil, damaged("header is not a stackpilot backup header")
	}
	// Unknown fields are allowed (a newer stackpilot may add some); the
	// manifest's checksum of the header still covers every byte.
	if err := json.Unmarshal(data[len(archiveHeaderMagic):len(data)-1], &a.Header); err != nil {
		return nil, damaged("header: %v", err)
	}
	if a.Header.Format != archiveFormat {
		return nil, fmt.Errorf("%s: archive format %d is not supported by this stackpilot (it reads format %d)", filepath.Base(p), a.Header.Format, archiveFormat)
	}
	a.headerData = data
	a.headerFrameLen = int64(n) + 8
	foot := make([]byte, footerFrameLen)
	if _, err := f.ReadAt(foot, a.Size-int64(footerFrameLen)); err != nil {
		return nil, damaged("no end marker: the file is incomplete")
	}
	if binary.LittleEndian.Uint32(foot[:4]) != footerFrameMagic || binary.LittleEndian.Uint32(foot[4:8]) != uint32(footerDataLen) {
		return nil, damaged("no end marker: the file is incomplete or was cut short")
	}
	m := footerRe().FindSubmatch(foot[8:])
	if m == nil {
		return nil, damaged("end marker is malformed")
	}
	a.footerSum = string(m[1])
	a.bodyLen, _ = strconv.ParseInt(string(m[2]), 10, 64)
	if a.headerFrameLen+a.bodyLen+int64(footerFrameLen) != a.Size {
		return nil, damaged("file is %d bytes, its end marker says %d: cut short or extended", a.Size, a.headerFrameLen+a.bodyLen+int64(footerFrameLen))
	}
	return a, nil
}

// fileStamp identifies a file's content as the kernel last saw it change:
// a write in place moves the change time, which no one can set back.
type fileStamp struct {
	size         int64
	mtime, ctime int64
	dev, ino     uint64
}

// stamp is the open file's stamp now.
func (a *archiveFile) stamp() (fileStamp, error) {
	fi, err := a.f.Stat()
	if err != nil {
		return fileStamp{}, err
	}
	s := fileStamp{size: fi.Size(), mtime: fi.ModTime().UnixNano()}
	s.ctime, s.dev, s.ino = statIdentity(fi)
	return s, nil
}

// Close closes the file.
func (a *archiveFile) Close() error {
	if a.f == nil {
		return nil
	}
	err := a.f.Close()
	a.f = nil
	return err
}

// checkOuter re-reads the whole file and compares its SHA-256 with the
// footer: an integrity check that needs no key, used by prune to find the
// newest good backup of encrypted archives too.
func (a *archiveFile) checkOuter() error {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(a.f, 0, a.Size-int64(footerFrameLen))); err != nil {
		return err
	}
	if hex.EncodeToString(h.Sum(nil)) != a.footerSum {
		return &DamagedError{File: a.Path, Reason: "file checksum does not match its end marker"}
	}
	return nil
}

// archiveGroup is one entry of the manifest as it streams past during a
// scan: a file, a volume (many tar entries) or a dump (many parts).
type archiveGroup struct {
	Kind string // compose, env, volume, dump
	Path string // manifest path: the file's path, or the volume's or dump's prefix

	sc     *archiveScan
	first  *tar.Header // the header that opened the group, not yet handed out
	cur    io.Reader   // the current entry's content, hashed as read
	hash   hash.Hash
	vd     *volumeDigest
	vs     *volumeState
	expect *ManifestEntry // the verified manifest's entry, on a pass after verification
	size   int64
	parts  int
	ended  bool
	failed error
}

// Label names the group for people.
func (g *archiveGroup) Label() string { return labelForPath(g.Path) }

// Read reads a file's content, or a dump's parts joined together.
func (g *archiveGroup) Read(p []byte) (int, error) {
	if g.Kind == EntryVolume {
		return 0, errors.New("a volume is read entry by entry")
	}
	for {
		if g.failed != nil {
			return 0, g.failed
		}
		if g.ended {
			return 0, io.EOF
		}
		if g.cur == nil {
			if err := g.advance(); err != nil {
				return 0, err
			}
			continue
		}
		n, err := g.cur.Read(p)
		if n > 0 {
			g.hash.Write(p[:n])
			g.size += int64(n)
			if g.expect != nil && g.size > g.expect.Size {
				return 0, g.fail(fmt.Errorf("holds more than the %d bytes the verified manifest says: refused", g.expect.Size))
			}
		}
		if err == io.EOF {
			g.cur = nil
			if g.Kind != EntryDump {
				g.ended = true
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		if err != nil {
			return n, g.fail(err)
		}
		return n, nil
	}
}

func (g *archiveGroup) fail(err error) error {
	if g.failed == nil {
		var de *DamagedError
		switch {
		case g.sc.ctx.Err() != nil:
			g.failed = context.Cause(g.sc.ctx)
		case errors.As(err, &de):
			g.failed = err
		default:
			g.failed = &DamagedError{File: g.sc.a.Path, Entry: g.Label(), Reason: err.Error()}
		}
	}
	return g.failed
}

// advance moves a file or dump to its next tar entry.
func (g *archiveGroup) advance() error {
	var hdr *tar.Header
	if g.first != nil {
		hdr, g.first = g.first, nil
	} else {
		if g.Kind != EntryDump {
			g.ended = true
			return nil
		}
		h, err := g.sc.next()
		if err == io.EOF {
			g.ended = true
			return nil
		}
		if err != nil {
			return g.fail(err)
		}
		if !strings.HasPrefix(h.Name, g.Path) {
			g.sc.pending = h
			g.ended = true
			return nil
		}
		hdr = h
	}
	if g.Kind == EntryDump {
		want := fmt.Sprintf("%spart-%06d", g.Path, g.parts)
		if hdr.Name != want {
			return g.fail(fmt.Errorf("part %q out of order (expected %q)", hdr.Name, want))
		}
		g.parts++
		if g.expect != nil && g.parts > g.expect.Parts {
			return g.fail(fmt.Errorf("holds more than the %d parts the verified manifest says: refused", g.expect.Parts))
		}
	}
	if hdr.Typeflag != tar.TypeReg {
		return g.fail(fmt.Errorf("%q is not a regular file", hdr.Name))
	}
	g.cur = g.sc.tr
	return nil
}

// VolumeEntry is one file, directory or link of a volume during a scan.
type VolumeEntry struct {
	// Rel is the path relative to the volume's root ("" for the root itself).
	Rel    string
	Header *tar.Header
	// LinkRel is a hard link's target relative to the root.
	LinkRel string
	content io.Reader
}

// Read reads a regular file's content.
func (e *VolumeEntry) Read(p []byte) (int, error) { return e.content.Read(p) }

// NextEntry returns a volume's next entry, or io.EOF after its last. An
// entry that does not have the shape of a real volume's (archive_check.go)
// fails the scan as damaged.
func (g *archiveGroup) NextEntry() (*VolumeEntry, error) {
	if g.Kind != EntryVolume {
		return nil, errors.New("not a volume")
	}
	if g.failed != nil {
		return nil, g.failed
	}
	if g.ended {
		return nil, io.EOF
	}
	if g.cur != nil {
		if _, err := io.Copy(io.Discard, g.cur); err != nil {
			return nil, g.fail(err)
		}
		g.cur = nil
	}
	var hdr *tar.Header
	if g.first != nil {
		hdr, g.first = g.first, nil
	} else {
		h, err := g.sc.next()
		if err == io.EOF {
			return nil, g.end()
		}
		if err != nil {
			return nil, g.fail(err)
		}
		if !strings.HasPrefix(h.Name, g.Path) {
			g.sc.pending = h
			return nil, g.end()
		}
		hdr = h
	}
	rel := strings.TrimSuffix(strings.TrimPrefix(hdr.Name, g.Path), "/")
	if rel != "" {
		if _, ok := relToRoot("r/"+rel, "r"); !ok {
			return nil, g.fail(fmt.Errorf("entry %q escapes the volume", hdr.Name))
		}
	}
	e := &VolumeEntry{Rel: rel, Header: hdr}
	link := hdr.Linkname
	if hdr.Typeflag == tar.TypeLink {
		if !strings.HasPrefix(hdr.Linkname, g.Path) {
			return nil, g.fail(fmt.Errorf("hard link %q points outside the volume", hdr.Name))
		}
		link = strings.TrimSuffix(strings.TrimPrefix(hdr.Linkname, g.Path), "/")
		e.LinkRel = link
	}
	if err := g.vs.admit(rel, hdr, e.LinkRel); err != nil {
		return nil, g.fail(err)
	}
	g.vd.header(rel, hdr, link)
	if g.expect != nil && g.vd.files > g.expect.Files {
		return nil, g.fail(fmt.Errorf("holds more than the %d entries the verified manifest says: refused", g.expect.Files))
	}
	if hdr.Typeflag == tar.TypeReg {
		g.cur = &hashingReader{r: g.sc.tr, w: g.vd.h, n: &g.vd.size, g: g}
	} else {
		g.cur = bytes.NewReader(nil)
	}
	e.content = g.cur
	return e, nil
}

// end closes a volume's entries: the links that go up are judged now.
func (g *archiveGroup) end() error {
	if !g.ended {
		g.ended = true
		if !g.vs.started {
			return g.fail(errors.New("the volume has no entries"))
		}
		g.vs.finish()
	}
	return io.EOF
}

type hashingReader struct {
	r io.Reader
	w io.Writer
	n *int64
	g *archiveGroup
}

func (h *hashingReader) Read(p []byte) (int, error) {
	if h.g.failed != nil {
		return 0, h.g.failed
	}
	n, err := h.r.Read(p)
	if n > 0 {
		h.w.Write(p[:n])
		*h.n += int64(n)
		if h.g.expect != nil && *h.n > h.g.expect.Size {
			return 0, h.g.fail(fmt.Errorf("holds more than the %d bytes the verified manifest says: refused", h.g.expect.Size))
		}
	}
	if err != nil && err != io.EOF {
		return n, h.g.fail(err)
	}
	return n, err
}

// drain reads what the visitor left of the group, so its checksum covers all of it.
func (g *archiveGroup) drain() error {
	if g.failed != nil {
		return g.failed
	}
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
		if g.cur != nil {
			if _, err := io.Copy(io.Discard, g.cur); err != nil {
				return g.fail(err)
			}
			g.cur = nil
		}
		return nil
	}
	_, err := io.Copy(io.Discard, g)
	return err
}

// verified reads the rest of the group and compares it with the entry of
// the manifest verified before this pass: a restore calls it before it counts
// a volume or dump as restored, so a file changed between the passes (or
// during this one) is caught, not restored.
func (g *archiveGroup) verified() error {
	if err := g.drain(); err != nil {
		return err
	}
	if g.expect == nil {
		return nil
	}
	c, e := g.result(), g.expect
	if c.Size != e.Size || c.SHA256 != e.SHA256 || c.Files != e.Files || c.Parts != e.Parts {
		return g.fail(fmt.Errorf("differs from what was verified before the restore began (read %d bytes, sha256 %s…; verified: %d bytes, sha256 %s…): the file changed meanwhile",
			c.Size, short(c.SHA256, 12), e.Size, short(e.SHA256, 12)))
	}
	return nil
}

func (g *archiveGroup) result() ManifestEntry {
	if g.Kind == EntryVolume {
		return ManifestEntry{Kind: g.Kind, Path: g.Path, Size: g.vd.size, SHA256: g.vd.sum(), Files: g.vd.files}
	}
	return ManifestEntry{Kind: g.Kind, Path: g.Path, Size: g.size, SHA256: hex.EncodeToString(g.hash.Sum(nil)), Parts: g.parts}
}

// archiveScan is one pass over an archive's body.
type archiveScan struct {
	ctx     context.Context
	a       *archiveFile
	tr      *tar.Reader
	pending *tar.Header
}

// next is the next tar entry; a type stackpilot never writes is refused here,
// before any of its content is read.
func (s *archiveScan) next() (*tar.Header, error) {
	if s.pending != nil {
		h := s.pending
		s.pending = nil
		return h, nil
	}
	h, err := s.tr.Next()
	if err != nil {
		return nil, err
	}
	if err := checkHeader(h); err != nil {
		return nil, err
	}
	return h, nil
}

// ScanResult is what a full pass over an archive found.
type ScanResult struct {
	Manifest *Manifest
	// Entries are the computed sizes and checksums, in archive order.
	Entries []ManifestEntry
	// Specials are each volume's special files, by the volume's path.
	Specials map[string]*SpecialFiles
}

// scanOptions tighten a pass.
type scanOptions struct {
	// expect are the entries of a manifest verified by an earlier pass, by
	// path: no group may grow past its size, entry count or parts, and
	// archiveGroup.verified compares its checksum.
	expect map[string]ManifestEntry
	// linkRoots are, by volume path, the absolute paths that lie inside the
	// volume (where every service mounts it): a symlink to one stays inside.
	linkRoots map[string][]string
}

// scan reads the whole archive once: every byte is hashed for the footer's
// checksum, the body is decrypted (identities) and decompressed, and every
// entry's size and SHA-256 is computed and compared with the manifest. visit,
// when not nil, sees each group as it streams past (a restore feeds volumes
// and dumps to the engine from here); what it leaves unread is drained. Any
// damage is a *DamagedError naming the entry when it is inside one. ctx is
// checked on every read, of the file and of the decompressed stream alike:
// a small archive that decompresses to a great deal stops as soon as ctx ends.
func (a *archiveFile) scan(ctx context.Context, identities []age.Identity, opts scanOptions, visit func(*archiveGroup) error) (*ScanResult, error) {
	if _, err := a.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	res, err := a.scanFrom(ctx, &ctxReader{ctx: ctx, r: a.f}, identities, opts, visit)
	if err != nil && ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	return res, err
}

// ctxReader stops a long read when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, context.Cause(c.ctx)
	}
	return c.r.Read(p)
}

func (a *archiveFile) scanFrom(ctx context.Context, file io.Reader, identities []age.Identity, opts scanOptions, visit func(*archiveGroup) error) (*ScanResult, error) {
	damaged := func(entry, format string, args ...any) error {
		return &DamagedError{File: a.Path, Entry: entry, Reason: fmt.Sprintf(format, args...)}
	}
	fileHash := sha256.New()
	raw := io.TeeReader(bufio.NewReaderSize(io.LimitReader(file, a.Size-int64(footerFrameLen)), 1<<20), fileHash)
	if _, err := io.CopyN(io.Discard, raw, a.headerFrameLen); err != nil {
		return nil, damaged("", "header: %v", err)
	}
	var body io.Reader = raw
	if a.Header.Encrypted {
		if len(identities) == 0 {
			return nil, ErrIdentityRequired
		}
		r, err := age.Decrypt(raw, identities...)
		if err != nil {
			var nm *age.NoIdentityMatchError
			if errors.As(err, &nm) && !identityListed(identities, a.Header.Recipients) {
				return nil, fmt.Errorf("%w: %s was encrypted for %s", ErrWrongIdentity, filepath.Base(a.Path), stackops.SafeText(strings.Join(a.Header.Recipients, ", ")))
			}
			return nil, damaged("", "decrypt: %v", err)
		}
		body = r
	}
	zr, err := newZstdReader(body)
	if err != nil {
		return nil, damaged("", "decompress: %v", err)
	}
	defer zr.Close()
	// Decompressed data is read through ctx too: zstd makes gigabytes of a
	// few kilobytes, between two reads of the file.
	plain := &ctxReader{ctx: ctx, r: zr}
	sc := &archiveScan{ctx: ctx, a: a, tr: tar.NewReader(plain)}
	res := &ScanResult{Specials: map[string]*SpecialFiles{}}
	seen := map[string]bool{}
	lastWhere := ""
	for {
		hdr, err := sc.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			if lastWhere == "" {
				return nil, damaged("", "at the start of the archive: %v", err)
			}
			return nil, damaged("", "after %s: %v", lastWhere, err)
		}
		if res.Manifest != nil {
			return nil, damaged("", "entry %q after the manifest", hdr.Name)
		}
		if hdr.Name == manifestName {
			if hdr.Typeflag != tar.TypeReg || hdr.Size > maxManifestLen {
				return nil, damaged("manifest", "not a regular file of at most %d bytes", maxManifestLen)
			}
			b, err := io.ReadAll(sc.tr)
			if err != nil {
				if ctx.Err() != nil {
					return nil, context.Cause(ctx)
				}
				return nil, damaged("manifest", "%v", err)
			}
			var m Manifest
			if err := json.Unmarshal(b, &m); err != nil {
				return nil, damaged("manifest", "%v", err)
			}
			res.Manifest = &m
			lastWhere = "the manifest"
			continue
		}
		kind, gpath, ok := classifyEntry(hdr.Name)
		if !ok {
			return nil, damaged("", "unexpected entry %q", hdr.Name)
		}
		if seen[gpath] {
			return nil, damaged(labelForPath(gpath), "appears twice")
		}
		seen[gpath] = true
		g := &archiveGroup{Kind: kind, Path: gpath, sc: sc, first: hdr, hash: sha256.New()}
		if e, ok := opts.expect[gpath]; ok {
			g.expect = &e
		} else if opts.expect != nil {
			return nil, damaged(labelForPath(gpath), "was not in the archive when it was verified: the file changed meanwhile")
		}
		if kind == EntryVolume {
			g.vd = newVolumeDigest()
			g.vs = newVolumeState(opts.linkRoots[gpath])
		}
		if visit != nil {
			if err := visit(g); err != nil {
				if g.failed != nil {
					return nil, g.failed
				}
				return nil, err
			}
		}
		if err := g.drain(); err != nil {
			return nil, err
		}
		res.Entries = append(res.Entries, g.result())
		if kind == EntryVolume {
			res.Specials[gpath] = &g.vs.Specials
		}
		lastWhere = g.Label()
	}
	if res.Manifest == nil {
		return nil, damaged("", "no manifest: the archive ends early")
	}
	// Entry checksums first: a mismatch names the broken entry.
	if err := a.checkManifest(res); err != nil {
		return nil, err
	}
	// The rest of the decompressed stream, and of the body: the zstd
	// checksum and age's last chunk are checked when their streams end.
	if _, err := io.Copy(io.Discard, plain); err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, damaged("", "compressed data: %v", err)
	}
	if _, err := io.Copy(io.Discard, raw); err != nil {
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		return nil, damaged("", "%v", err)
	}
	if hex.EncodeToString(fileHash.Sum(nil)) != a.footerSum {
		return nil, damaged("", "file checksum does not match its end marker")
	}
	return res, nil
}

// identityListed reports whether one of identities belongs to a recipient
// the header lists. age cannot match a key to a damaged recipient stanza, so
// when the header names the key, "no identity matched" means damage.
func identityListed(identities []age.Identity, listed []string) bool {
	for _, id := range identities {
		var r fmt.Stringer
		switch id := id.(type) {
		case *age.X25519Identity:
			r = id.Recipient()
		case *age.HybridIdentity:
			r = id.Recipient()
		}
		if r != nil && slices.Contains(listed, r.String()) {
			return true
		}
	}
	return false
}

// checkManifest compares what a scan computed with what the manifest says.
func (a *archiveFile) checkManifest(res *ScanResult) error {
	m := res.Manifest
	damaged := func(entry, format string, args ...any) error {
		return &DamagedError{File: a.Path, Entry: entry, Reason: fmt.Sprintf(format, args...)}
	}
	sum := sha256.Sum256(a.headerData)
	if m.HeaderSHA256 != hex.EncodeToString(sum[:]) {
		return damaged("", "header does not match the manifest's checksum of it")
	}
	if m.ID != a.Header.ID || m.Project != a.Header.Project || m.Format != archiveFormat {
		return damaged("", "manifest (%s/%s) does not match the header (%s/%s)", m.Project, m.ID, a.Header.Project, a.Header.ID)
	}
	computed := map[string]ManifestEntry{}
	for _, e := range res.Entries {
		computed[e.Path] = e
	}
	listed := map[string]bool{}
	for _, e := range m.Entries {
		if listed[e.Path] {
			return damaged(e.Label(), "listed twice in the manifest")
		}
		if err := checkManifestEntry(e); err != nil {
			return damaged(e.Label(), "%v", err)
		}
		listed[e.Path] = true
		c, ok := computed[e.Path]
		if !ok {
			return damaged(e.Label(), "listed in the manifest but missing from the archive")
		}
		if c.Kind != e.Kind {
			return damaged(e.Label(), "is a %s in the archive, the manifest says %s", c.Kind, e.Kind)
		}
		if c.Size != e.Size || c.SHA256 != e.SHA256 || c.Files != e.Files || c.Parts != e.Parts {
			return damaged(e.Label(), "content does not match its checksum (read %d bytes, sha256 %s…; manifest: %d bytes, sha256 %s…)",
				c.Size, short(c.SHA256, 12), e.Size, short(e.SHA256, 12))
		}
	}
	for _, e := range res.Entries {
		if !listed[e.Path] {
			return damaged(labelForPath(e.Path), "in the archive but not in the manifest")
		}
	}
	return nil
}

// checkManifestEntry checks what a restore relies on: a volume's entry
// names the volume its path holds, a dump's names exactly one service and
// the dump its path holds.
func checkManifestEntry(e ManifestEntry) error {
	switch e.Kind {
	case EntryVolume:
		if e.Volume == "" || strings.Contains(e.Volume, "/") || e.Path != "volumes/"+e.Volume+"/" {
			return fmt.Errorf("the manifest names volume %q for %q", e.Volume, e.Path)
		}
	case EntryDump:
		if len(e.Services) != 1 || e.Services[0] == "" || e.Dump == "" {
			return fmt.Errorf("a dump must name exactly one service and its name (the manifest says services %q, name %q)", e.Services, e.Dump)
		}
		if e.Path != "dumps/"+e.Services[0]+"/"+e.Dump+"/" {
			return fmt.Errorf("the manifest names dump %s/%s for %q", e.Services[0], e.Dump, e.Path)
		}
	case EntryCompose, EntryEnv:
	default:
		return fmt.Errorf("unknown kind %q", e.Kind)
	}
	return nil
}

func short(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// classifyEntry maps a tar entry name to its manifest group.
func classifyEntry(name string) (kind, group string, ok bool) {
	switch {
	case strings.HasPrefix(name, "compose/") && len(name) > len("compose/"):
		return EntryCompose, name, true
	case strings.HasPrefix(name, "env/") && len(name) > len("env/"):
		return EntryEnv, name, true
	case strings.HasPrefix(name, "volumes/"):
		key, _, found := strings.Cut(strings.TrimPrefix(name, "volumes/"), "/")
		if !found || key == "" {
			return "", "", false
		}
		return EntryVolume, "volumes/" + key + "/", true
	case strings.HasPrefix(name, "dumps/"):
		rest := strings.TrimPrefix(name, "dumps/")
		parts := strings.Split(rest, "/")
		if len(parts) != 3 || parts[0] == "" || parts[1] == "" || !strings.HasPrefix(parts[2], "part-") {
			return "", "", false
		}
		return EntryDump, "dumps/" + parts[0] + "/" + parts[1] + "/", true
	}
	return "", "", false
}

// Sentinels for encrypted archives.
var (
	// ErrIdentityRequired means an encrypted archive was read without an age identity.
	ErrIdentityRequired = errors.New("the backup is encrypted: pass --identity FILE (the age identity matching its recipient), or keep it where env keygen puts identities (STACKPILOT_IDENTITY, or ~/.config/stackpilot/identities)")
	// ErrWrongIdentity means none of the given identities can decrypt the archive.
	ErrWrongIdentity = errors.New("the identity cannot decrypt this backup")
)
