// Package envfile is the .env document: its exact bytes and the statements
// Compose reads in them, parsed, evaluated, edited and compared without
// losing a byte, plus the reads that get it from disk (a snapshot, a
// per-process parse cache, a windowed scan for one key).
//
// It is pure text and file reading: no Docker, no compose project, no
// stackops.Stack. The env commands (package stackops/env) lock, keep
// versions and write on top of it; stackops itself uses it to read the
// COMPOSE_* settings of a .env and to explain a .env Compose cannot read.
package envfile

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
	"unsafe"

	"github.com/compose-spec/compose-go/v2/dotenv"
	"github.com/compose-spec/compose-go/v2/template"

	"github.com/stackpilot/stackpilot/stackops/internal/lazyre"
)

// The .env document model: the exact bytes of a file plus the
// statements Compose finds in them, so that an edit rewrites only the lines
// of the key it touches and every other byte (comments, blank lines, order,
// quoting, `export `, CRLF, a missing final newline, a BOM) stays as it was.
//
// The scanner mirrors compose-go's dotenv parser (compose-go/v2/dotenv,
// parser.go) statement by statement, quirks included, because Compose is the
// reader that counts. The fuzz tests hold it to that: on any input, the keys
// and values it finds are the ones compose-go finds, and it fails exactly when
// compose-go fails. Values are expanded with compose-go's own template
// package.

// Mask replaces a secret value wherever stackpilot would show it.
const Mask = "********"

var (
	// ErrSyntax means a .env line cannot be read the way Compose reads it.
	ErrSyntax = errors.New("invalid .env syntax")
	// ErrInvalidKey means a key does not match ^[A-Za-z_][A-Za-z0-9_]*$.
	ErrInvalidKey = errors.New("invalid .env key")
	// ErrInvalidValue means a value cannot be stored in a .env file (it holds a NUL byte).
	ErrInvalidValue = errors.New("invalid .env value")
	// ErrUneditable means a key's line cannot be rewritten without touching another key.
	ErrUneditable = errors.New("cannot edit this .env line safely")
)

var envKeyRe = lazyre.New(`^[A-Za-z_][A-Za-z0-9_]*$`)

// ValidKey checks a key stackpilot is asked to write. Compose reads more
// (dots, dashes, brackets), but such names cannot be used in ${…}
// interpolation or by most shells, so stackpilot does not create them.
func ValidKey(key string) error {
	if !envKeyRe().MatchString(key) {
		shown := key
		if len(shown) > 40 {
			shown = shown[:40] + "…"
		}
		return fmt.Errorf("%w %q: a key starts with a letter or _ and holds only letters, digits and _", ErrInvalidKey, shown)
	}
	return nil
}

// SyntaxError is a .env line Compose cannot read. It never carries a
// secret value: Snippet is the line with a secret-looking value masked.
type SyntaxError struct {
	Path    string // the file, when known
	Line    int    // 1-based
	Key     string // the key of the statement, when one was read
	Msg     string
	Snippet string // the line as written, value masked when secret; may be empty
}

// Error names the file, line and key and says what to do; it never quotes
// a secret-looking value.
func (e *SyntaxError) Error() string {
	var b strings.Builder
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(":")
	} else {
		b.WriteString("line ")
	}
	fmt.Fprintf(&b, "%d: ", e.Line)
	if e.Key != "" {
		fmt.Fprintf(&b, "%s: ", e.Key)
	}
	b.WriteString(e.Msg)
	if e.Snippet != "" {
		fmt.Fprintf(&b, " (the line reads: %s)", e.Snippet)
	}
	b.WriteString(" — Compose cannot read this file either; fix that line by hand")
	return b.String()
}

// Is matches ErrSyntax.
func (e *SyntaxError) Is(target error) bool { return target == ErrSyntax }

// Entry is one assignment in a .env file, as written.
type Entry struct {
	// Key is the variable name.
	Key string `json:"key"`
	// Line and EndLine are the 1-based lines the statement spans.
	Line    int `json:"line"`
	EndLine int `json:"end_line"`
	// Raw is the value's literal text, quotes included ("" for a bare KEY line).
	Raw string `json:"-"`
	// Quote is the quoting style: "", "'" or "\"".
	Quote string `json:"quote,omitempty"`
	// Inherited is a bare `KEY` line: Compose takes the value from the environment.
	Inherited bool `json:"inherited,omitempty"`
	// Export is true when the line starts with `export `.
	Export bool `json:"export,omitempty"`
}

// envStmt is a statement with its byte offsets in the document's text.
type envStmt struct {
	// Byte offsets into the text, as int32 to keep the table small: it has
	// one row per setting, and fresh memory is most of what a short command
	// pays on a large file. Files of 2 GiB or more are refused.
	lineStart int32 // start of the statement's first line
	start     int32 // first byte of the statement (`export` or the key)
	keyStart  int32
	keyEnd    int32 // the name is src[keyStart:keyEnd] (see keyOf)
	valStart  int32 // the value's literal text, quotes included; valStart==valEnd for an empty value
	valEnd    int32
	stmtEnd   int32 // for unquoted and bare statements: the '\n' (or EOF) ending it; for quoted: valEnd
	lineEnd   int32 // just past the '\n' ending the statement's last line, or EOF
	record    int32 // index into doc.records
	quote     byte
	inherited bool
	export    bool
	content   string // quoted: the characters between the quotes after \-processing; unquoted: the trimmed text
}

// envRecord is a run of whole lines holding one or more statements
// (consecutive: stmts[first : first+count]).
type envRecord struct {
	start, end   int32 // byte range: whole lines, terminator included
	first, count int32
}

// Document is a .env file held as its exact bytes plus the statements in
// them. Edits rewrite only the lines of the statement concerned.
type Document struct {
	bom        bool
	src        string // the text after a UTF-8 BOM
	stmts      []envStmt
	records    []envRecord
	lineStarts []int32
	// intent records, per key, the value each Set asked for (nil: unset), so
	// a write can verify that Compose reads exactly that back.
	intent map[string]*string
	order  []string // keys of intent, in edit order
	// isSecret masks values in syntax errors.
	isSecret func(string) bool
	// lineBase is the number of lines before src, for a document that holds
	// a window of a file (ScanFileForKey); its line numbers are then
	// counted, not looked up in lineStarts.
	lineBase int
}

var utf8BOM = "\uFEFF"

// Parse reads .env bytes the way Compose does. isSecret (may be
// nil) says which keys' values must be masked in error messages.
func Parse(data []byte, isSecret func(key string) bool) (*Document, error) {
	return parseText(string(data), isSecret)
}

// parseText is Parse on text already held as a string.
func parseText(src string, isSecret func(key string) bool) (*Document, error) {
	if len(src) >= math.MaxInt32 {
		return nil, fmt.Errorf("the .env file is %d bytes: stackpilot edits .env files under 2 GiB", len(src))
	}
	d := &Document{src: src, isSecret: isSecret}
	if strings.HasPrefix(d.src, utf8BOM) {
		d.bom = true
		d.src = d.src[len(utf8BOM):]
	}
	if err := d.scan(); err != nil {
		return nil, err
	}
	return d, nil
}

// Bytes returns the document's content, as it would be written.
func (d *Document) Bytes() []byte {
	if d.bom {
		return []byte(utf8BOM + d.src)
	}
	return []byte(d.src)
}

// View is Bytes without the copy: the document's own text, which the caller
// must only read (hash it, write it to a file).
func (d *Document) View() []byte {
	if d.bom || d.src == "" {
		return d.Bytes()
	}
	return unsafe.Slice(unsafe.StringData(d.src), len(d.src))
}

// Entries returns the statements in file order, duplicates included.
func (d *Document) Entries() []Entry {
	out := make([]Entry, 0, len(d.stmts))
	for i := range d.stmts {
		out = append(out, d.entry(i))
	}
	return out
}

func (d *Document) entry(i int) Entry {
	st := &d.stmts[i]
	e := Entry{
		Key:       d.keyOf(st),
		Line:      d.lineOf(int(st.start)),
		EndLine:   d.lineOf(int(max(st.stmtEnd-1, st.start))),
		Inherited: st.inherited,
		Export:    st.export,
	}
	if !st.inherited {
		e.Raw = d.src[st.valStart:st.valEnd]
		if st.quote != 0 {
			e.Quote = string(st.quote)
		}
	}
	return e
}

// Has reports whether key is defined (a bare KEY line counts).
func (d *Document) Has(key string) bool { return d.last(key) >= 0 }

func (d *Document) last(key string) int {
	for i := len(d.stmts) - 1; i >= 0; i-- {
		if d.keyOf(&d.stmts[i]) == key {
			return i
		}
	}
	return -1
}

// lineOf is the 1-based line number of a byte offset.
func (d *Document) lineOf(off int) int {
	if d.lineStarts == nil {
		return d.lineBase + strings.Count(d.src[:off], "\n") + 1
	}
	lo, hi := 0, len(d.lineStarts)-1
	for lo < hi {
		mid := (lo + hi + 1) / 2
		if int(d.lineStarts[mid]) <= off {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo + 1
}

// ---- scanning (mirrors compose-go/v2/dotenv/parser.go) ----

// nameByte marks the ASCII characters compose-go accepts in a name.
var nameByte = func() (t [256]bool) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for _, c := range "_.-[]" {
		t[c] = true
	}
	return t
}()

// hasExportPrefix is compose-go's ^export\s+ (RE2's \s: tab, LF, FF, CR, space).
func hasExportPrefix(s string) bool {
	if len(s) < 7 || s[:6] != "export" {
		return false
	}
	switch s[6] {
	case ' ', '\t', '\n', '\f', '\r':
		return true
	}
	return false
}

// isSpace is compose-go's: a space character but not a line break.
func isSpace(r rune) bool {
	switch r {
	case '\t', '\v', '\f', '\r', ' ', 0x85, 0xA0:
		return true
	}
	return false
}

func notUnicodeSpace(r rune) bool { return !unicode.IsSpace(r) }

func (d *Document) scan() error {
	src := d.src
	d.lineStarts = lineStartsOf(src)
	lines := len(d.lineStarts)
	d.stmts = make([]envStmt, 0, lines)
	d.records = make([]envRecord, 0, lines)
	pos := 0
	for {
		start, ok := statementStart(src, pos)
		if !ok {
			break
		}
		st, next, err := d.scanStatement(start)
		if err != nil {
			return err
		}
		d.stmts = append(d.stmts, st)
		pos = next
	}
	// Line bounds, in one forward pass (statements come in file order).
	ls := d.lineStarts
	cur, endCur := 0, 0
	for i := range d.stmts {
		st := &d.stmts[i]
		for cur+1 < len(ls) && ls[cur+1] <= st.start {
			cur++
		}
		st.lineStart = ls[cur]
		if st.quote != 0 {
			// just past the '\n' of the line the closing quote is on
			endCur = max(endCur, cur)
			for endCur < len(ls) && ls[endCur] <= st.valEnd-1 {
				endCur++
			}
			st.lineEnd = int32(len(src))
			if endCur < len(ls) {
				st.lineEnd = ls[endCur]
			}
		}
	}
	// Group statements into records: whole lines; statements sharing a line share a record.
	for i := range d.stmts {
		st := &d.stmts[i]
		if n := len(d.records); n > 0 && st.lineStart < d.records[n-1].end {
			r := &d.records[n-1]
			r.count++
			if st.lineEnd > r.end {
				r.end = st.lineEnd
			}
			st.record = int32(n - 1)
			continue
		}
		d.records = append(d.records, envRecord{start: st.lineStart, end: st.lineEnd, first: int32(i), count: 1})
		st.record = int32(len(d.records) - 1)
	}
	return nil
}

// statementStart skips whitespace and comment lines (getStatementStart).
func statementStart(src string, pos int) (int, bool) {
	for {
		i := strings.IndexFunc(src[pos:], notUnicodeSpace)
		if i < 0 {
			return 0, false
		}
		pos += i
		if src[pos] != '#' {
			return pos, true
		}
		j := strings.IndexByte(src[pos:], '\n')
		if j < 0 {
			return 0, false
		}
		pos += j
	}
}

// lineStartsOf is the offset of each line's first byte.
func lineStartsOf(src string) []int32 {
	ls := make([]int32, 1, strings.Count(src, "\n")+1)
	for i := 0; ; {
		j := strings.IndexByte(src[i:], '\n')
		if j < 0 {
			return ls
		}
		i += j + 1
		ls = append(ls, int32(i))
	}
}

// lineStartOf and lineEndFrom use the line index, not a scan of the line:
// a file with thousands of statements on one line stays linear.
func (d *Document) lineStartOf(off int) int {
	if d.lineStarts == nil {
		return strings.LastIndexByte(d.src[:off], '\n') + 1
	}
	return int(d.lineStarts[d.lineOf(off)-1])
}

func (d *Document) lineEndFrom(off int) int {
	if d.lineStarts == nil {
		if i := strings.IndexByte(d.src[off:], '\n'); i >= 0 {
			return off + i + 1
		}
		return len(d.src)
	}
	if n := d.lineOf(off); n < len(d.lineStarts) {
		return int(d.lineStarts[n])
	}
	return len(d.src)
}

// scanStatement reads one statement at start (locateKeyName + extractVarValue).
func (d *Document) scanStatement(start int) (envStmt, int, error) {
	src := d.src
	st := envStmt{start: int32(start)} // lineStart (and a quoted value's lineEnd) are set by scan
	s := src[start:]
	off := start
	if hasExportPrefix(s) {
		t := strings.TrimLeftFunc(strings.TrimPrefix(s, "export"), isSpace)
		off += len(s) - len(t)
		s = t
		st.export = true
	}
	st.keyStart = int32(off)
	key, offset := "", 0
	// fast path over ASCII name characters; anything else goes through the
	// rune loop below, which is compose-go's
	i0 := 0
	for i0 < len(s) && nameByte[s[i0]] {
		i0++
	}
loop:
	for i, r := range s[i0:] {
		i += i0
		if isSpace(r) {
			continue
		}
		switch r {
		case '=', ':', '\n':
			key = s[:i]
			offset = i + 1
			st.inherited = r == '\n'
			break loop
		case '_', '.', '-', '[', ']':
		default:
			if unicode.IsLetter(r) || unicode.IsNumber(r) {
				continue
			}
			line := d.lineOf(off + i)
			shown := strings.TrimSpace(s[:i])
			return st, 0, &SyntaxError{Line: line, Msg: fmt.Sprintf("unexpected character %q in the variable name %q (names hold letters, digits and _ . - [ ])", string(r), shown+string(r))}
		}
	}
	if s == "" {
		return st, 0, &SyntaxError{Line: d.lineOf(start), Msg: "`export` without a variable name"}
	}
	key = strings.TrimRightFunc(key, unicode.IsSpace)
	st.keyEnd = st.keyStart + int32(len(key))
	if strings.Contains(key, " ") {
		return st, 0, &SyntaxError{Line: d.lineOf(start), Msg: fmt.Sprintf("the variable name %q contains a space", key)}
	}
	restFull := s[offset:]
	rest := strings.TrimLeftFunc(restFull, isSpace)
	restOff := off + offset + (len(restFull) - len(rest))

	if st.inherited {
		// the '\n' that ended the key
		st.stmtEnd = int32(off + offset - 1)
		st.valStart, st.valEnd = st.stmtEnd, st.stmtEnd
		st.lineEnd = int32(off + offset)
		return st, restOff, nil
	}

	if rest == "" || (rest[0] != '"' && rest[0] != '\'') {
		value, _, hasNL := strings.Cut(rest, "\n")
		line := value
		value, _, _ = strings.Cut(value, " #")
		value = strings.TrimRightFunc(value, unicode.IsSpace)
		st.valStart, st.valEnd = int32(restOff), int32(restOff+len(value))
		st.stmtEnd = int32(restOff + len(line))
		st.content = value
		next := st.stmtEnd
		if hasNL {
			next++
			st.lineEnd = next
		} else {
			st.lineEnd = int32(len(src))
		}
		return st, int(next), nil
	}

	quote := rest[0]
	st.quote = quote
	// fast path: no backslash before the closing quote
	if j := strings.IndexByte(rest[1:], quote); j >= 0 && strings.IndexByte(rest[1:1+j], '\\') < 0 {
		st.content = rest[1 : 1+j]
		st.valStart, st.valEnd = int32(restOff), int32(restOff+j+2)
		st.stmtEnd = st.valEnd
		return st, int(st.valEnd), nil
	}
	prevEscape := false
	var chars []byte
	for i := 1; i < len(rest); i++ {
		c := rest[i]
		if c != quote {
			if !prevEscape && c == '\\' {
				prevEscape = true
				continue
			}
			if prevEscape {
				prevEscape = false
				chars = append(chars, '\\')
			}
			chars = append(chars, c)
			continue
		}
		if prevEscape {
			prevEscape = false
			chars = append(chars, c)
			continue
		}
		st.content = string(chars)
		st.valStart, st.valEnd = int32(restOff), int32(restOff+i+1)
		st.stmtEnd = st.valEnd
		return st, int(st.valEnd), nil
	}
	return st, 0, &SyntaxError{Line: d.lineOf(start), Key: key,
		Msg:     fmt.Sprintf("the value opens with %s but never closes it", string(quote)),
		Snippet: d.snippet(key, start)}
}

// snippet is the statement's first line for an error message, the value
// masked when the key looks secret.
func (d *Document) snippet(key string, start int) string {
	line := d.src[d.lineStartOf(start):]
	if i := strings.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = strings.TrimRight(line, "\r")
	if d.isSecret == nil || d.isSecret(key) {
		if i := strings.IndexAny(line, "=:"); i >= 0 {
			return strings.TrimSpace(line[:i+1]) + Mask
		}
		return Mask
	}
	line, _ = MaskURLCredentials(line)
	if utf8.RuneCountInString(line) > 60 {
		r := []rune(line)
		line = string(r[:60]) + "…"
	}
	return strconv.Quote(line)
}

// ---- values ----

// Value returns key's value as Compose reads it (the last definition), with
// lookup as the environment (nil: empty). ok is false when key is not set.
// Only the statements the value depends on are evaluated.
func (d *Document) Value(key string, lookup func(string) (string, bool)) (value string, ok bool, err error) {
	i := d.last(key)
	if i < 0 {
		return "", false, nil
	}
	v := newLazyEval(d, lookup).value(i)
	return v.Value, v.Set, v.Err
}

// Get returns key's last definition with its value as Compose reads it,
// lookup being the environment (nil: empty); ok is false when key is not
// defined. Only the statements the value depends on are evaluated.
func (d *Document) Get(key string, lookup func(string) (string, bool)) (v Value, ok bool) {
	i := d.last(key)
	if i < 0 {
		return Value{}, false
	}
	return newLazyEval(d, lookup).value(i), true
}

// LastValues calls fn, in file order, with the last definition of every key
// for which want is true, evaluated as Compose reads it (lookup is the
// environment, asked again for each value). Only the statements those
// values depend on are evaluated.
func (d *Document) LastValues(want func(key string) bool, lookup func(string) (string, bool), fn func(Value)) {
	lazy := newLazyEval(d, lookup)
	for i := range d.stmts {
		k := d.keyOf(&d.stmts[i])
		if !want(k) || d.last(k) != i {
			continue
		}
		fn(lazy.value(i))
	}
}

// Interpolated returns the text of every value Compose interpolates
// (unquoted and double-quoted ones; single quotes are literal), as written
// between its quotes: where to look for the ${VAR}s a .env refers to.
func (d *Document) Interpolated() []string {
	var out []string
	for i := range d.stmts {
		if st := &d.stmts[i]; !st.inherited && st.quote != '\'' {
			out = append(out, st.content)
		}
	}
	return out
}

// lazyEval computes statement values on demand: a ${VAR} in statement i
// needs only the last definition of VAR before i (when the environment
// does not have it), so reading one key of a 10,000-line file evaluates a
// handful of statements. It gives exactly Evaluate's results (fuzzed).
type lazyEval struct {
	d      *Document
	lookup func(string) (string, bool)
	memo   map[int]*Value
	byKey  map[string][]int
}

func newLazyEval(d *Document, lookup func(string) (string, bool)) *lazyEval {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	return &lazyEval{d: d, lookup: lookup, memo: map[int]*Value{}}
}

// definedBefore is the last statement before i that gives key a value in
// the file (a bare KEY line does so only from the environment, which the
// lookup answers first anyway).
func (e *lazyEval) definedBefore(key string, i int) int {
	if e.byKey == nil {
		e.byKey = map[string][]int{}
		for j := range e.d.stmts {
			if !e.d.stmts[j].inherited {
				k := e.d.keyOf(&e.d.stmts[j])
				e.byKey[k] = append(e.byKey[k], j)
			}
		}
	}
	idx := e.byKey[key]
	for n := len(idx) - 1; n >= 0; n-- {
		if idx[n] < i {
			return idx[n]
		}
	}
	return -1
}

func (e *lazyEval) value(i int) Value {
	if v, ok := e.memo[i]; ok {
		return *v
	}
	d := e.d
	st := &d.stmts[i]
	ev := Value{Entry: d.entry(i)}
	switch {
	case st.inherited:
		if v, ok := e.lookup(d.keyOf(st)); ok {
			ev.Value, ev.Set = v, true
		} else if j := e.definedBefore(d.keyOf(st), i); j >= 0 {
			// not in the environment: the key keeps the value it has
			ev.Value, ev.Set = e.value(j).Value, true
		}
	case st.quote == '\'':
		ev.Value, ev.Set = st.content, true
	default:
		text := st.content
		if st.quote == '"' {
			text = expandEscapes(text)
		}
		var unresolved, refs []string
		mapping := func(k string) (string, bool) {
			refs = append(refs, k)
			if v, ok := e.lookup(k); ok {
				return v, true
			}
			if j := e.definedBefore(k, i); j >= 0 {
				return e.value(j).Value, true
			}
			unresolved = append(unresolved, k)
			return "", false
		}
		v, err := substitute(text, mapping)
		ev.Value, ev.Set, ev.Unresolved, ev.Refs = v, true, unresolved, refs
		if err != nil {
			ev.Err = &SyntaxError{Line: ev.Line, Key: d.keyOf(st), Msg: describeTemplateError(err)}
		}
	}
	e.memo[i] = &ev
	return ev
}

func substitute(text string, mapping func(string) (string, bool)) (string, error) {
	if strings.IndexByte(text, '$') < 0 {
		return text, nil
	}
	return template.SubstituteWithOptions(text, mapping, template.WithoutLogging)
}

// Value is an entry with its value as Compose reads it.
type Value struct {
	Entry
	// Value is the value after Compose's unquoting, escapes and ${…} expansion.
	Value string
	// Set is false for a bare KEY line whose variable is not in the environment:
	// Compose then leaves the key out.
	Set bool
	// Err is why Compose fails on this value (a ${VAR:?} whose VAR is unset,
	// a malformed ${…}); Compose refuses the whole file then.
	Err error
	// Unresolved lists variables the value refers to that are not set
	// (Compose substitutes an empty string and warns).
	Unresolved []string
	// Refs lists the variables whose values went into this one (${VAR}),
	// set or not: a value built from a secret is a secret too.
	Refs []string
}

// Evaluate computes every statement's value in file order, the way Compose
// does: a ${VAR} (or a bare KEY line) refers to the environment (lookup)
// first, then to keys defined earlier in the file. lookup may be nil (an
// empty environment).
func (d *Document) Evaluate(lookup func(string) (string, bool)) []Value {
	return d.EvaluateAfter(lookup, nil)
}

// EvaluateAfter is Evaluate for a file Compose reads after others in the
// same pass: prior holds their values, which a ${VAR} or a bare KEY line
// sees after the environment, like the file's own earlier keys (and
// overridden by them) — compose-go's dotenv.GetEnvFromFile.
func (d *Document) EvaluateAfter(lookup func(string) (string, bool), prior map[string]string) []Value {
	if lookup == nil {
		lookup = func(string) (string, bool) { return "", false }
	}
	out := make([]Value, len(d.stmts))
	vars := make(map[string]string, len(d.stmts)+len(prior))
	for k, v := range prior {
		vars[k] = v
	}
	for i := range d.stmts {
		st := &d.stmts[i]
		ev := Value{Entry: d.entry(i)}
		switch {
		case st.inherited:
			if v, ok := lookup(d.keyOf(st)); ok {
				ev.Value, ev.Set = v, true
				vars[d.keyOf(st)] = v
			} else if v, ok := vars[d.keyOf(st)]; ok {
				// not in the environment: the key keeps the value it has
				ev.Value, ev.Set = v, true
			}
		case st.quote == '\'':
			ev.Value, ev.Set = st.content, true
			vars[d.keyOf(st)] = ev.Value
		default:
			text := st.content
			if st.quote == '"' {
				text = expandEscapes(text)
			}
			v, unresolved, refs, err := expandEnvTemplate(text, vars, lookup)
			ev.Value, ev.Set, ev.Unresolved, ev.Refs = v, true, unresolved, refs
			if err != nil {
				ev.Err = &SyntaxError{Line: ev.Line, Key: d.keyOf(st), Msg: describeTemplateError(err)}
			}
			vars[d.keyOf(st)] = v
		}
		out[i] = ev
	}
	return out
}

// describeTemplateError words a template error without quoting the value
// (compose-go's InvalidTemplateError prints the whole value).
func describeTemplateError(err error) string {
	var missing *template.MissingRequiredError
	if errors.As(err, &missing) {
		return missing.Error()
	}
	var invalid *template.InvalidTemplateError
	if errors.As(err, &invalid) {
		return "the value holds a malformed ${…} (write $$ for a literal $)"
	}
	return "the value cannot be interpolated"
}

func expandEnvTemplate(value string, vars map[string]string, lookup func(string) (string, bool)) (string, []string, []string, error) {
	if strings.IndexByte(value, '$') < 0 {
		return value, nil, nil, nil
	}
	var unresolved, refs []string
	mapping := func(k string) (string, bool) {
		refs = append(refs, k)
		if v, ok := lookup(k); ok {
			return v, true
		}
		v, ok := vars[k]
		if !ok {
			unresolved = append(unresolved, k)
		}
		return v, ok
	}
	v, err := template.SubstituteWithOptions(value, mapping, template.WithoutLogging)
	return v, unresolved, refs, err
}

var escapeSeqRe = lazyre.New(`(\\(?:[abcfnrtv$"\\]|0\d{0,3}))`)

// expandEscapes is compose-go's handling of backslash escapes in a
// double-quoted value.
func expandEscapes(str string) string {
	if strings.IndexByte(str, '\\') < 0 {
		return str
	}
	return escapeSeqRe().ReplaceAllStringFunc(str, func(match string) string {
		if match == `\$` {
			return "$$"
		}
		if strings.HasPrefix(match, `\0`) {
			match = strings.Replace(match, `\0`, `\`, 1)
		}
		v, _, _, err := strconv.UnquoteChar(match, '"')
		if err != nil {
			return match
		}
		return string(v)
	})
}

// ---- editing ----

// Set gives key the value, read back by Compose exactly as given (no
// interpolation, escapes or trimming). The key's last definition is
// rewritten in place, keeping its indentation, `export `, separator,
// quoting style where it can hold the value, trailing comment and line
// ending; a new key is appended at the end.
func (d *Document) Set(key, value string) error {
	if err := ValidKey(key); err != nil {
		return err
	}
	if strings.IndexByte(value, 0) >= 0 {
		return fmt.Errorf("%w for %s: it contains a NUL byte, which no environment variable can hold", ErrInvalidValue, key)
	}
	i := d.last(key)
	var text string
	var start, end int
	if i >= 0 {
		st := &d.stmts[i]
		rec := &d.records[st.record]
		if rec.count > 1 {
			return d.compoundErr(key, st)
		}
		var prefix, suffix string
		if st.inherited {
			prefix = d.src[st.lineStart:st.keyStart] + key + "="
			// a bare line holds nothing after the key but spaces; keep its CR (CRLF files)
			if int(st.stmtEnd) > int(st.keyStart)+len(key) && d.src[st.stmtEnd-1] == '\r' {
				suffix = "\r"
			}
		} else {
			prefix = d.src[st.lineStart:st.valStart]
			suffix = d.src[st.valEnd:st.stmtEnd]
		}
		tail := d.src[st.stmtEnd:rec.end]
		if st.quote != 0 {
			// after a closing quote: the rest of the line, terminator included
			suffix, tail = splitTerminator(d.src[st.valEnd:rec.end])
		}
		enc := encodeValue(value, st.quote, st.inherited || st.quote == 0, suffix)
		text = prefix + enc + suffix + tail
		start, end = int(rec.start), int(rec.end)
	} else {
		eol := d.eol()
		enc := encodeValue(value, 0, true, "")
		line := key + "=" + enc
		start, end = len(d.src), len(d.src)
		switch {
		case d.src == "":
			text = line + eol
		case strings.HasSuffix(d.src, "\n"):
			text = line + eol
		default:
			// keep the missing final newline missing
			text = eol + line
		}
	}
	d.src = d.src[:start] + text + d.src[end:]
	d.note(key, &value)
	return d.rescan()
}

// splitTerminator splits "…\r\n" into ("…\r", "\n"); a text without '\n' is all suffix.
func splitTerminator(s string) (string, string) {
	if strings.HasSuffix(s, "\n") {
		return s[:len(s)-1], "\n"
	}
	return s, ""
}

// Unset removes every definition of key. It reports whether there was one;
// either way the edit records that key is to be absent.
func (d *Document) Unset(key string) (bool, error) {
	if err := ValidKey(key); err != nil {
		return false, err
	}
	var recs []int
	for i := range d.stmts {
		st := &d.stmts[i]
		if d.keyOf(st) != key {
			continue
		}
		if d.records[st.record].count > 1 {
			return false, d.compoundErr(key, st)
		}
		recs = append(recs, int(st.record))
	}
	if len(recs) == 0 {
		// nothing to remove, but the edit asked for key to be absent:
		// verification checks it, and a change list reports it
		d.note(key, nil)
		return false, nil
	}
	var b strings.Builder
	b.Grow(len(d.src))
	pos := 0
	for _, ri := range recs {
		r := d.records[ri]
		start, end := int(r.start), int(r.end)
		if end == len(d.src) && !strings.HasSuffix(d.src, "\n") && start > pos {
			// the last line had no terminator: drop the one before it, so
			// the file still ends without a newline
			start--
			if start > pos && d.src[start-1] == '\r' {
				start--
			}
		}
		b.WriteString(d.src[pos:start])
		pos = end
	}
	b.WriteString(d.src[pos:])
	d.src = b.String()
	d.note(key, nil)
	if err := d.rescan(); err != nil {
		return false, err
	}
	return true, nil
}

func (d *Document) compoundErr(key string, st *envStmt) error {
	rec := d.records[st.record]
	var others []string
	for j := rec.first; j < rec.first+rec.count; j++ {
		if d.keyOf(&d.stmts[j]) != key {
			others = append(others, d.keyOf(&d.stmts[j]))
		}
	}
	return fmt.Errorf("%w: line %d: %s shares its line with %s — put each on its own line, then run this again",
		ErrUneditable, d.lineOf(int(st.start)), key, strings.Join(others, ", "))
}

func (d *Document) note(key string, v *string) {
	if d.intent == nil {
		d.intent = map[string]*string{}
	}
	if _, ok := d.intent[key]; !ok {
		d.order = append(d.order, key)
	}
	d.intent[key] = v
}

func (d *Document) rescan() error {
	if err := d.scan(); err != nil {
		// an edit produced text Compose cannot read: a bug, never written
		return fmt.Errorf("internal error: the edited .env does not parse (%v); nothing was written", err)
	}
	return nil
}

// eol is the file's line ending: CRLF when its first line ends so.
func (d *Document) eol() string {
	if i := strings.IndexByte(d.src, '\n'); i > 0 && d.src[i-1] == '\r' {
		return "\r\n"
	}
	return "\n"
}

// Clone returns a document to edit, leaving d as it is. The statement,
// record and line tables are shared, not copied: nothing changes them in
// place — every edit rewrites the text and scan builds new tables.
func (d *Document) Clone() *Document {
	return &Document{bom: d.bom, src: d.src, isSecret: d.isSecret,
		stmts: d.stmts, records: d.records, lineStarts: d.lineStarts}
}

// keyOf is the name a statement defines.
func (d *Document) keyOf(st *envStmt) string { return d.src[st.keyStart:st.keyEnd] }

// Equal reports whether d and o hold the same bytes.
func (d *Document) Equal(o *Document) bool { return d.bom == o.bom && d.src == o.src }

// Edited lists the keys Set or Unset on this document (since it was
// parsed or cloned), in the order first edited.
func (d *Document) Edited() []string { return d.order }

// ---- encoding ----

// encodeValue returns the text to write after `KEY=` so that Compose
// reads back exactly value. prefer is the line's current quoting (0, ' or
// "), kept when it can hold the value; unquotedOK says whether the old
// spot allows an unquoted value; suffix is what follows the value on its
// line.
func encodeValue(value string, prefer byte, unquotedOK bool, suffix string) string {
	canBare := unquotedOK && bareSafe(value) && bareSuffixOK(value, suffix)
	canSingle := singleSafe(value)
	switch {
	case prefer == 0 && canBare:
		return value
	case prefer == '\'' && canSingle:
		return "'" + value + "'"
	case prefer == '"':
		return doubleQuote(value)
	case canBare:
		return value
	case canSingle:
		return "'" + value + "'"
	default:
		return doubleQuote(value)
	}
}

// EncodeValue is the text stackpilot writes after `KEY=` for value on a
// new line. It fails only for a value no environment can hold (NUL).
func EncodeValue(value string) (string, error) {
	if strings.IndexByte(value, 0) >= 0 {
		return "", fmt.Errorf("%w: it contains a NUL byte", ErrInvalidValue)
	}
	return encodeValue(value, 0, true, ""), nil
}

// bareSafe: characters that mean the same to Compose and to a shell
// sourcing the file, with nothing to trim, interpolate or cut as a comment.
func bareSafe(v string) bool {
	for _, r := range v {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("_-.,:/@%+=", r):
		case r >= 0x80 && r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r)):
		default:
			return false
		}
	}
	return true
}

// bareSuffixOK: an unquoted value ends at the first " #" or the line end,
// trailing spaces trimmed. What follows it on the line must not join it.
func bareSuffixOK(v, suffix string) bool {
	if suffix == "" {
		return true
	}
	r, _ := utf8.DecodeRuneInString(suffix)
	if !unicode.IsSpace(r) {
		return false
	}
	if v == "" {
		// `KEY=   # c` reads "# c": an empty value needs quotes before a comment
		return strings.TrimFunc(suffix, unicode.IsSpace) == ""
	}
	return true
}

// singleSafe: single quotes keep everything literally except a quote or a
// backslash next to one; newlines would make the value span lines.
func singleSafe(v string) bool {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == '\'' || c == '\\' || c == '\n' || c == '\r':
			return false
		case c < 0x20 && c != '\t', c == 0x7f:
			return false
		}
	}
	return utf8.ValidString(v)
}

// doubleQuote writes a double-quoted value: backslash escapes for \ " and
// line breaks, $$ for $ (which Compose would otherwise interpolate).
func doubleQuote(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 8)
	b.WriteByte('"')
	for i := 0; i < len(v); i++ {
		switch c := v[i]; c {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '$':
			b.WriteString(`$$`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ---- verification ----

// symbolicLookup answers every variable with a token naming it, so a
// value's expansion depends only on its own text, never on other keys.
func symbolicLookup(k string) (string, bool) { return "\x00$" + k + "\x00", true }

// templateErrors returns the first value Compose would refuse whatever the
// environment (a malformed ${…}): a file with one is never written.
func (d *Document) templateErrors() error {
	for i := range d.stmts {
		st := &d.stmts[i]
		if st.inherited || st.quote == '\'' || strings.IndexByte(st.content, '$') < 0 {
			continue
		}
		text := st.content
		if st.quote == '"' {
			text = expandEscapes(text)
		}
		if simpleTemplates(text) {
			continue
		}
		if _, err := substitute(text, symbolicLookup); err != nil {
			return &SyntaxError{Line: d.lineOf(int(st.start)), Key: d.keyOf(st), Msg: describeTemplateError(err)}
		}
	}
	return nil
}

// simpleTemplates reports whether every ${ in text opens a plain
// ${NAME} or ${NAME<op>literal} (op one of :- - :+ + :? ?, the literal
// free of $ { }), which compose-go's template accepts whatever the
// environment — so the costly check can be skipped (fuzzed against it).
func simpleTemplates(text string) bool {
	for {
		i := strings.Index(text, "${")
		if i < 0 {
			return true
		}
		if i > 0 && text[i-1] == '$' {
			// "$${" may be an escaped $ followed by "{": let the template decide
			return false
		}
		text = text[i+2:]
		n := 0
		for n < len(text) && (text[n] == '_' || text[n] >= 'a' && text[n] <= 'z' || text[n] >= 'A' && text[n] <= 'Z' || n > 0 && text[n] >= '0' && text[n] <= '9') {
			n++
		}
		if n == 0 {
			return false
		}
		text = text[n:]
		switch {
		case strings.HasPrefix(text, "}"):
			text = text[1:]
			continue
		case strings.HasPrefix(text, ":-"), strings.HasPrefix(text, ":+"), strings.HasPrefix(text, ":?"):
			text = text[2:]
		case strings.HasPrefix(text, "-"), strings.HasPrefix(text, "+"), strings.HasPrefix(text, "?"):
			text = text[1:]
		default:
			return false
		}
		end := strings.IndexAny(text, "${}")
		if end < 0 || text[end] != '}' {
			return false
		}
		text = text[end+1:]
	}
}

// VerifyEdit proves that after, an edit of before, says what its Set and
// Unset calls asked and nothing else, reading the new lines back with
// compose-go's own parser (see verifyEdit). A file that fails is never
// written.
func VerifyEdit(before, after *Document) error {
	return verifyEdit(before, after, composeReference)
}

// composeReference parses with compose-go the way Compose reads a file.
func composeReference(b []byte, lookup func(string) (string, bool)) (map[string]string, error) {
	return dotenv.ParseWithLookup(bytes.NewReader(b), lookup)
}

// stmtSig is what a statement means, independent of the environment and of
// the other keys: comparing signatures compares meanings.
type stmtSig struct {
	key       string
	quote     byte
	inherited bool
	content   string
}

// verifyEdit proves an edited document says what was asked and nothing
// else, before it is written:
//
//   - the statements of every key not edited are the same, in the same
//     order (so each keeps its meaning: a value depends only on its own
//     text and on the statements before it);
//   - every key Set has, as its last definition, a line that compose-go's
//     own parser (the reference) reads back as exactly the value given;
//   - every key Unset has no definition left.
//
// The scanner's statement boundaries are compose-go's (fuzzed), so this
// holds for Compose reading the whole file.
func verifyEdit(before, after *Document, composeParse func([]byte, func(string) (string, bool)) (map[string]string, error)) error {
	if err := before.templateErrors(); err != nil {
		return err
	}
	// Every statement the edit did not ask for must be the same, in the
	// same order, before and after. Walked in step, without copying: on a
	// large file each copy is memory a short-lived process pays to fault in.
	untouched := func(d *Document, i int) int {
		for i < len(d.stmts) {
			if _, touched := after.intent[d.keyOf(&d.stmts[i])]; !touched {
				return i
			}
			i++
		}
		return i
	}
	i, j := untouched(before, 0), untouched(after, 0)
	for i < len(before.stmts) && j < len(after.stmts) {
		a, b := &before.stmts[i], &after.stmts[j]
		if (stmtSig{before.keyOf(a), a.quote, a.inherited, a.content}) != (stmtSig{after.keyOf(b), b.quote, b.inherited, b.content}) {
			return fmt.Errorf("internal error: the edit would change %s too; nothing was written", before.keyOf(a))
		}
		i, j = untouched(before, i+1), untouched(after, j+1)
	}
	if i < len(before.stmts) || j < len(after.stmts) {
		return fmt.Errorf("internal error: the edit would add or remove other settings; nothing was written")
	}
	for _, k := range after.order {
		want := after.intent[k]
		i := after.last(k)
		if want == nil {
			if i >= 0 {
				return fmt.Errorf("internal error: %s is still defined after unset; nothing was written", k)
			}
			continue
		}
		if i < 0 {
			return fmt.Errorf("internal error: %s is not defined after set; nothing was written", k)
		}
		st := &after.stmts[i]
		rec := after.records[st.record]
		ref, err := composeParse([]byte(after.src[rec.start:rec.end]), symbolicLookup)
		if err != nil || len(ref) != 1 {
			return fmt.Errorf("internal error: Compose would not read the new line of %s as one setting; nothing was written", k)
		}
		if got, ok := ref[k]; !ok || got != *want {
			return fmt.Errorf("internal error: Compose would read %s back differently from the value given; nothing was written", k)
		}
		if v, ok, _ := after.Value(k, symbolicLookup); !ok || v != *want {
			return fmt.Errorf("internal error: %s would not read back as the value given; nothing was written", k)
		}
	}
	return nil
}
