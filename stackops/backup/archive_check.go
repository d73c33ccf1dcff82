package backup

import (
	"archive/tar"
	"fmt"
	"hash/maphash"
	"path"
	"strings"

	"github.com/stackpilot/stackpilot/stackops"
)

// An archive is untrusted input: it may have been copied to another disk or
// machine and back, and its checksums prove only that it was not damaged by
// accident, not who wrote it. So every volume's entries are held to the shape
// the engine's archive API gives when stackpilot reads a real volume, in
// create (what does not fit is not written) and in verify and restore (what
// does not fit is refused before anything changes):
//
//   - the volume's root directory comes first, and every entry comes after
//     its own directory — which is a directory, never a symlink, so no entry
//     is ever written through a link;
//   - a name appears once, is clean and stays inside the volume;
//   - a hard link points to a regular file of the same volume restored
//     before it;
//   - the types are regular files, directories, symlinks, hard links and
//     fifos (a real volume can hold a fifo, and it grants nothing); device
//     nodes are never stored (create leaves them out, with a warning) and a
//     sparse entry, which makes the tar reader invent data without reading
//     the file, is never accepted.
//
// What a real volume may hold but a restore treats with care is collected as
// SpecialFiles: setuid/setgid files and extended attributes (removed unless
// --keep-special-bits), fifos, and symlinks whose target is absolute or leads
// out of the volume (refused unless --allow-outside-links).

// checkHeader refuses tar entries stackpilot never writes anywhere in an
// archive: sparse files and device nodes (and the types the tar reader has
// no use for).
func checkHeader(hdr *tar.Header) error {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return fmt.Errorf("entry %q is a sparse file: refused (stackpilot never writes one, and its holes are data the archive does not hold)", hdr.Name)
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return fmt.Errorf("entry %q is a sparse file: refused (stackpilot never writes one, and its holes are data the archive does not hold)", hdr.Name)
		}
	}
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeFifo:
		return nil
	case tar.TypeChar, tar.TypeBlock:
		return fmt.Errorf("entry %q is a device node: refused (stackpilot never stores one)", hdr.Name)
	}
	return fmt.Errorf("entry %q has type %q: refused (stackpilot never writes that type)", hdr.Name, string(hdr.Typeflag))
}

// SpecialList counts entries of one kind and names the first few.
type SpecialList struct {
	Count int      `json:"count"`
	Names []string `json:"names"`
}

const specialNames = 5

func (l *SpecialList) add(name string) {
	l.Count++
	if len(l.Names) < specialNames {
		l.Names = append(l.Names, stackops.SafeText(name))
	}
}

// String is "a, b, c" or "a, b, c, d, e and 12 more".
func (l SpecialList) String() string {
	s := strings.Join(l.Names, ", ")
	if more := l.Count - len(l.Names); more > 0 {
		s += fmt.Sprintf(" and %d more", more)
	}
	return s
}

// SpecialFiles are the entries of a volume a restore treats with care.
type SpecialFiles struct {
	// SetID are regular files with the setuid or setgid bit.
	SetID SpecialList `json:"setid"`
	// Xattrs are entries with extended attributes ("name (security.capability)").
	Xattrs SpecialList `json:"xattrs"`
	// Fifos are named pipes.
	Fifos SpecialList `json:"fifos"`
	// OutsideLinks are symlinks whose target is absolute (and not inside the
	// volume where it is mounted) or climbs out of the volume ("name -> target").
	OutsideLinks SpecialList `json:"outside_links"`
	// Devices are device nodes create left out (never in an archive).
	Devices SpecialList `json:"devices,omitempty"`
}

// Any reports whether there is anything to mention.
func (s *SpecialFiles) Any() bool {
	return s != nil && s.SetID.Count+s.Xattrs.Count+s.Fifos.Count+s.OutsideLinks.Count+s.Devices.Count > 0
}

// entry kinds remembered per path
const (
	kindDir      = 'd'
	kindFile     = 'f'
	kindSymlink  = 's'
	kindHardlink = 'h'
	kindFifo     = 'p'
)

var pathSeed = maphash.MakeSeed()

// volumeState checks one volume's entries as they stream past. It keeps a
// byte per entry, keyed by a hash of the path under a per-process random
// seed (a volume may hold millions of files; a hostile archive cannot aim a
// collision at a seed it does not know).
type volumeState struct {
	kinds    map[uint64]byte
	started  bool
	roots    []string // absolute paths inside the volume (where services mount it)
	pending  []pendingLink
	Specials SpecialFiles
}

func newVolumeState(roots []string) *volumeState {
	return &volumeState{kinds: map[uint64]byte{}, roots: roots}
}

func (vs *volumeState) kind(rel string) byte { return vs.kinds[maphash.String(pathSeed, rel)] }

// admit checks the next entry (rel relative to the volume's root, "" for
// the root; linkRel a hard link's target relative to the root) and records it.
func (vs *volumeState) admit(rel string, hdr *tar.Header, linkRel string) error {
	if !vs.started {
		if rel != "" || hdr.Typeflag != tar.TypeDir {
			return fmt.Errorf("the volume does not start with its root directory (first entry %q)", hdr.Name)
		}
		vs.started = true
		vs.kinds[maphash.String(pathSeed, "")] = kindDir
		vs.special(rel, hdr)
		return nil
	}
	if rel == "" {
		return fmt.Errorf("entry %q: the volume's root appears twice", hdr.Name)
	}
	if _, ok := relToRoot("r/"+rel, "r"); !ok {
		return fmt.Errorf("entry %q leaves the volume", hdr.Name)
	}
	key := maphash.String(pathSeed, rel)
	if vs.kinds[key] != 0 {
		return fmt.Errorf("entry %q appears twice", hdr.Name)
	}
	parent := path.Dir(rel)
	if parent == "." {
		parent = ""
	}
	switch vs.kind(parent) {
	case kindDir:
	case kindSymlink:
		return fmt.Errorf("entry %q is beneath the symlink %q: refused (extracting it would write wherever the link points)", hdr.Name, parent)
	case 0:
		return fmt.Errorf("entry %q comes before its directory %q", hdr.Name, parent)
	default:
		return fmt.Errorf("entry %q is beneath %q, which is not a directory", hdr.Name, parent)
	}
	var k byte
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeRegA:
		k = kindFile
	case tar.TypeDir:
		k = kindDir
	case tar.TypeSymlink:
		if hdr.Linkname == "" {
			return fmt.Errorf("symlink %q has no target", hdr.Name)
		}
		k = kindSymlink
		vs.symlink(rel, hdr.Linkname)
	case tar.TypeLink:
		if _, ok := relToRoot("r/"+linkRel, "r"); !ok || linkRel == "" {
			return fmt.Errorf("hard link %q has a target %q that is not a clean path inside the volume", hdr.Name, hdr.Linkname)
		}
		if vs.kind(linkRel) != kindFile {
			return fmt.Errorf("hard link %q points to %q, which is not a file of the volume restored before it", hdr.Name, hdr.Linkname)
		}
		k = kindHardlink
	case tar.TypeFifo:
		k = kindFifo
		vs.Specials.Fifos.add(rel)
	default:
		return checkHeader(hdr)
	}
	vs.kinds[key] = k
	vs.special(rel, hdr)
	return nil
}

func (vs *volumeState) special(rel string, hdr *tar.Header) {
	name := rel
	if name == "" {
		name = "."
	}
	if (hdr.Typeflag == tar.TypeReg || hdr.Typeflag == tar.TypeRegA) && hdr.Mode&0o6000 != 0 {
		vs.Specials.SetID.add(name)
	}
	for _, k := range xattrKeys(hdr) {
		vs.Specials.Xattrs.add(name + " (" + k + ")")
	}
}

// symlink classifies a link. An absolute target outside every root leads
// outside; one inside a root is judged like a relative target walked from
// the volume's root. A relative target that climbs above the volume as
// written leads outside at once; one with ".." that stays inside is walked
// again at the end, when every symlink of the volume is known: going up from
// a component that is itself a link cannot be judged by the names.
func (vs *volumeState) symlink(rel, target string) {
	l := pendingLink{rel: rel, dir: path.Dir(rel), target: target, shown: target}
	if path.IsAbs(target) {
		inside := false
		for _, r := range vs.roots {
			if rest, ok := strings.CutPrefix(target, r); ok && (rest == "" || strings.HasPrefix(rest, "/")) {
				l.dir, l.target, inside = ".", strings.TrimPrefix(rest, "/"), true
				break
			}
		}
		if !inside {
			vs.Specials.OutsideLinks.add(rel + " -> " + target)
			return
		}
	}
	if !strings.Contains(l.target, "..") {
		return
	}
	if vs.walk(l, false) {
		vs.Specials.OutsideLinks.add(rel + " -> " + target)
		return
	}
	vs.pending = append(vs.pending, l)
}

// pendingLink is a symlink whose target goes up (".."): dir is where its
// walk starts ("." for the volume's root), target what is walked.
type pendingLink struct {
	rel, dir, target string
	shown            string
}

// walk follows l's target from l.dir and reports whether it leaves the
// volume; with strict, going up from a component that is a symlink counts
// as leaving.
func (vs *volumeState) walk(l pendingLink, strict bool) bool {
	var parts []string
	if l.dir != "." && l.dir != "" {
		parts = strings.Split(l.dir, "/")
	}
	for _, c := range strings.Split(l.target, "/") {
		switch c {
		case "", ".":
		case "..":
			if len(parts) == 0 {
				return true
			}
			if strict && vs.kind(strings.Join(parts, "/")) == kindSymlink {
				return true
			}
			parts = parts[:len(parts)-1]
		default:
			parts = append(parts, c)
		}
	}
	return false
}

// finish judges the links that go up, now that every symlink is known.
func (vs *volumeState) finish() {
	for _, l := range vs.pending {
		if vs.walk(l, true) {
			vs.Specials.OutsideLinks.add(l.rel + " -> " + l.shown)
		}
	}
	vs.pending = nil
}

// xattrKeys lists an entry's extended attributes (PAX SCHILY.xattr.*).
func xattrKeys(hdr *tar.Header) []string {
	var out []string
	for k := range hdr.PAXRecords {
		if name, ok := strings.CutPrefix(k, "SCHILY.xattr."); ok {
			out = append(out, name)
		}
	}
	return out
}
