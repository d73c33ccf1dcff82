package wizard

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Only /dev/null itself counts as no input: a pipe, a file or a reader
// that is not a file may hold some.
func TestIsDevNull(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	file := filepath.Join(t.TempDir(), "in")
	os.WriteFile(file, nil, 0o600)
	regular, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer regular.Close()
	if !isDevNull(null) || isDevNull(r) || isDevNull(regular) || isDevNull(strings.NewReader("")) {
		t.Fatalf("/dev/null %v, pipe %v, file %v, reader %v", isDevNull(null), isDevNull(r), isDevNull(regular), isDevNull(strings.NewReader("")))
	}
}
