package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"strings"
	"sync"
	"unsafe"
)

// Reading a large .env through a small window. A short command such as
// `env get` pays more for fresh memory than for reading: each new 4 KiB
// page costs ~17 µs on the small VMs stackpilot was measured on, so holding
// a 240 KB file (60 pages) costs more than scanning it. These read the file
// through one reused 64 KiB buffer instead.

// envWindow is the size a window starts at; it doubles for a statement
// longer than it (a quoted value spanning many lines).
const envWindow = 64 << 10

var envWindowPool = sync.Pool{New: func() any { b := make([]byte, envWindow); return &b }}

// FileContains reports whether the file at path holds needle, read through
// the window.
func FileContains(path string, needle []byte) (bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	bp := envWindowPool.Get().(*[]byte)
	defer envWindowPool.Put(bp)
	buf := *bp
	keep := 0 // bytes carried over from the previous read: a match may straddle two
	for {
		n, err := f.Read(buf[keep:])
		if bytes.Contains(buf[:keep+n], needle) {
			return true, nil
		}
		if err == io.EOF || (n == 0 && err == nil && keep+n == len(buf)) {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		end := keep + n
		keep = min(len(needle)-1, end)
		copy(buf, buf[end-keep:end])
	}
}

// ScanFileForKey reads the file as Parse does, through the
// window: every statement is scanned, so a line Compose cannot read fails
// the same way and with the same line number, but only key's last
// definition is kept (copied out of the window), in a one-statement
// document. An absent file defines nothing. whole is
// false when the value refers to other settings: the caller parses the
// whole file then.
func ScanFileForKey(path, key string, isSecret func(string) bool) (d *Document, whole bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return &Document{isSecret: isSecret, lineStarts: []int32{0}}, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, false, fmt.Errorf("%s is a directory, not a .env file", path)
	}
	bp := envWindowPool.Get().(*[]byte)
	defer envWindowPool.Put(bp)
	return scanEnvStreamForKey(f, *bp, path, key, isSecret)
}

// scanEnvStreamForKey does the work of ScanFileForKey on r (read from
// path), with buf as the window, grown when a statement does not fit in it.
func scanEnvStreamForKey(r io.Reader, buf []byte, path, key string, isSecret func(string) bool) (d *Document, whole bool, err error) {
	n, eof, total := 0, false, 0
	fill := func() error { // read until buf is full or the file ends
		for n < len(buf) && !eof {
			m, err := r.Read(buf[n:])
			n += m
			total += m
			if err == io.EOF {
				eof = true
			} else if err != nil {
				return fmt.Errorf("read %s: %w", path, err)
			}
		}
		if total >= math.MaxInt32 {
			return fmt.Errorf("the .env file is over 2 GiB: stackpilot edits .env files under 2 GiB")
		}
		return nil
	}
	if err := fill(); err != nil {
		return nil, false, err
	}
	for n < len(utf8BOM) && n == len(buf) && !eof { // a window too small to see a BOM
		buf = append(buf, make([]byte, len(buf))...)
		if err := fill(); err != nil {
			return nil, false, err
		}
	}
	bomSkip := 0
	if bytes.HasPrefix(buf[:n], []byte(utf8BOM)) {
		bomSkip = len(utf8BOM)
	}

	lineBase := 0 // lines before the window
	var found string
	foundOK, foundLines := false, 0
	pos := bomSkip
	for {
		w := &Document{src: unsafe.String(unsafe.SliceData(buf), n), lineBase: lineBase, isSecret: isSecret}
		start, ok := statementStart(w.src, pos)
		var st envStmt
		next := 0
		var serr error
		complete := false
		if ok {
			st, next, serr = w.scanStatement(start)
			complete = eof || (serr == nil && (st.quote != 0 || (int(st.stmtEnd) < n && w.src[st.stmtEnd] == '\n')))
		} else {
			complete = eof
		}
		if !complete {
			// the window ends inside what is being read: move it to start
			// there (or at pos), growing it when it is full already
			from := pos
			if ok {
				from = start
			}
			lineBase += strings.Count(w.src[:from], "\n")
			copy(buf, buf[from:n])
			n -= from
			pos = 0
			if n == len(buf) {
				grown := make([]byte, 2*len(buf))
				copy(grown, buf[:n])
				buf = grown
			}
			if err := fill(); err != nil {
				return nil, false, err
			}
			continue
		}
		if !ok {
			break
		}
		if serr != nil {
			var se *SyntaxError
			if errors.As(serr, &se) {
				se.Key, se.Snippet = strings.Clone(se.Key), strings.Clone(se.Snippet)
			}
			return nil, false, serr
		}
		if int(st.keyEnd-st.keyStart) == len(key) && w.src[st.keyStart:st.keyEnd] == key {
			found, foundOK = strings.Clone(w.src[start:next]), true
			foundLines = lineBase + strings.Count(w.src[:start], "\n")
		}
		pos = next
	}

	d = &Document{src: found, lineBase: foundLines, isSecret: isSecret}
	if !foundOK {
		d.lineStarts = []int32{0}
		return d, true, nil
	}
	st, _, err := d.scanStatement(0)
	if err != nil {
		return nil, false, err // cannot be: it read the same text in the window
	}
	if !st.inherited && st.quote != '\'' && strings.IndexByte(st.content, '$') >= 0 {
		return nil, false, nil
	}
	d.stmts = []envStmt{st}
	d.records = []envRecord{{start: st.start, end: st.stmtEnd, first: 0, count: 1}}
	return d, true, nil
}
