package selfupdate

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"
)

// Sums is a parsed SHA256SUMS: file name → SHA-256.
type Sums map[string][32]byte

// ParseSums reads sha256sum's output format: one "HEX  NAME" line per file
// ("HEX *NAME" in binary mode). It is strict, because the file names become
// download URLs: every line must be well formed, a name must be a plain file
// name (no directory, no control character) and appear once.
func ParseSums(data []byte) (Sums, error) {
	sums := Sums{}
	for i, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) == 0 {
			continue
		}
		if len(line) < 64+2 || (line[64] != ' ') || (line[65] != ' ' && line[65] != '*') {
			return nil, fmt.Errorf("%w: line %d is not \"SHA256  NAME\": %q", ErrBadChecksums, i+1, truncateForError(line))
		}
		var sum [32]byte
		if _, err := hex.Decode(sum[:], line[:64]); err != nil {
			return nil, fmt.Errorf("%w: line %d: %v", ErrBadChecksums, i+1, err)
		}
		name := string(line[66:])
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\") || strings.IndexFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) >= 0 {
			return nil, fmt.Errorf("%w: line %d: %q is not a plain file name", ErrBadChecksums, i+1, name)
		}
		if _, dup := sums[name]; dup {
			return nil, fmt.Errorf("%w: %q is listed twice", ErrBadChecksums, name)
		}
		sums[name] = sum
	}
	if len(sums) == 0 {
		return nil, fmt.Errorf("%w: no file listed", ErrBadChecksums)
	}
	return sums, nil
}

// Names lists the files, sorted.
func (s Sums) Names() []string {
	names := make([]string, 0, len(s))
	for n := range s {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func truncateForError(b []byte) string {
	if len(b) > 80 {
		return string(b[:80]) + "…"
	}
	return string(b)
}
