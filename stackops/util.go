package stackops

import (
	"bytes"
	"errors"
	"io"
	"os"
	"sort"
	"syscall"
)

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }

// syncDir fsyncs a directory so a rename inside it survives a crash
// (restic does the same after its atomic writes). Filesystems that cannot
// sync directories (EINVAL) are not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// sortedKeys returns a set's members in order, never nil (JSON shows []).
func sortedKeys(m map[string]bool) []string {
	out := []string{}
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
