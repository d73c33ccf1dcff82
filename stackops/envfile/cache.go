package envfile

import (
	"bytes"
	"io"
	"os"
	"sync"
	"unsafe"
)

// parseCache keeps the last parse of each file, keyed by its exact
// content, so one command that reads the same .env several times (project
// discovery, then the operation) scans it once. Cached documents are never
// edited: edits work on a clone.
var parseCache struct {
	sync.Mutex
	byPath map[string]cachedDoc
}

type cachedDoc struct {
	data []byte
	doc  *Document
}

// ParseCached parses data, read from path, or returns the document parsed
// earlier in this process from the same bytes. data must not be changed
// afterwards: the document reads it in place.
func ParseCached(path string, data []byte, isSecret func(string) bool) (*Document, error) {
	parseCache.Lock()
	c, ok := parseCache.byPath[path]
	parseCache.Unlock()
	if ok && c.doc != nil && bytes.Equal(c.data, data) {
		d := *c.doc
		d.isSecret = isSecret
		return &d, nil
	}
	// The document reads data in place, without a copy: callers pass a
	// buffer fresh from os.ReadFile that nothing writes to afterwards.
	var text string
	if len(data) > 0 {
		text = unsafe.String(&data[0], len(data))
	}
	d, err := parseText(text, isSecret)
	if err != nil {
		return nil, err
	}
	parseCache.Lock()
	if parseCache.byPath == nil {
		parseCache.byPath = map[string]cachedDoc{}
	}
	parseCache.byPath[path] = cachedDoc{data: data, doc: d}
	parseCache.Unlock()
	cp := *d
	return &cp, nil
}

// Cached reports whether this process holds a parse of the file at path.
func Cached(path string) bool {
	parseCache.Lock()
	defer parseCache.Unlock()
	_, ok := parseCache.byPath[path]
	return ok
}

// readBytes is os.ReadFile, except that when this process parsed the
// file's exact content before (project discovery reads .env, then the env
// command reads it again), it returns that same buffer — checked byte for
// byte as the file is read through a small one — instead of a fresh copy:
// on a large file, fresh memory is most of what a short command pays.
// The buffer returned must not be changed.
func readBytes(path string) ([]byte, error) {
	parseCache.Lock()
	c, ok := parseCache.byPath[path]
	parseCache.Unlock()
	if !ok {
		return os.ReadFile(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if same, err := readerHolds(f, c.data); err != nil {
		return nil, err
	} else if same {
		return c.data, nil
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(f)
}

// readerHolds reads r to its end through one 32 KiB buffer and reports
// whether it held exactly want.
func readerHolds(r io.Reader, want []byte) (bool, error) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if n > len(want) || !bytes.Equal(buf[:n], want[:n]) {
			return false, nil
		}
		want = want[n:]
		if err == io.EOF {
			return len(want) == 0, nil
		}
		if err != nil {
			return false, err
		}
	}
}
