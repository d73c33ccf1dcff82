package logs

import (
	"bytes"
	"fmt"
	"strings"
)

// Level is the severity a log line declares, as far as its format says.
// Levels are ordered: a filter for LevelWarn keeps warnings and errors.
type Level uint8

// The levels stackpilot tells apart. Finer levels fold into these: trace
// into debug, notice into info, critical/fatal/panic/alert/emergency into
// error.
const (
	// LevelNone is a line whose format names no level (a plain message).
	LevelNone Level = iota
	// LevelDebug is debug and trace output.
	LevelDebug
	// LevelInfo is informational output.
	LevelInfo
	// LevelWarn is a warning.
	LevelWarn
	// LevelError is an error, or worse (fatal, critical, panic).
	LevelError
)

// String is the level's name as printed and as --level takes it; "" for LevelNone.
func (l Level) String() string {
	switch l {
	case LevelDebug:
		return "debug"
	case LevelInfo:
		return "info"
	case LevelWarn:
		return "warn"
	case LevelError:
		return "error"
	}
	return ""
}

// MarshalText writes the level's name, so JSON output carries "error" rather than 4.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// ParseLevel reads a --level value: error, warn (warning), info or debug.
func ParseLevel(s string) (Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "error", "err":
		return LevelError, nil
	case "warn", "warning":
		return LevelWarn, nil
	case "info":
		return LevelInfo, nil
	case "debug":
		return LevelDebug, nil
	}
	return LevelNone, fmt.Errorf("unknown log level %q (use error, warn, info or debug)", s)
}

// DetectLevel says which level a log line declares. It recognises the
// formats services commonly write: JSON with a level/severity field (string,
// or pino/bunyan numbers), logfmt level=, klog/glog (E0102 15:04:05…),
// [ERROR] in any case, ERROR: (Python's default logger, PostgreSQL,
// uvicorn), a bare upper-case level word near the start (Go's slog default,
// log4j, zap, zerolog's ERR/WRN), and Go panics and Python tracebacks.
// A line it cannot place is LevelNone. It does not allocate.
func DetectLevel(line []byte) Level {
	lvl, _, _ := detectLevel(line)
	return lvl
}

// lineKind is the format detectLevel recognised, which says where the
// message is (for grouping repeated errors).
type lineKind uint8

const (
	kindText lineKind = iota
	kindJSON
	kindLogfmt
)

// headerScan is how far into a text line level words are looked for: the
// level of a log line sits in its header (time, logger, level), and a word
// like ERROR deep in a message says nothing about the line.
const headerScan = 100

// detectLevel returns the level, the format, and for text lines the offset
// just after the level token (where the message starts).
func detectLevel(line []byte) (Level, lineKind, int) {
	i := 0
	for i < len(line) && (line[i] == ' ' || line[i] == '\t') {
		i++
	}
	b := line[i:]
	if len(b) == 0 {
		return LevelNone, kindText, 0
	}
	if b[0] == '{' {
		if lvl, ok := jsonLevel(b); ok {
			return lvl, kindJSON, 0
		}
		return LevelNone, kindJSON, 0
	}
	if lvl, ok := logfmtLevel(b); ok {
		return lvl, kindLogfmt, 0
	}
	if lvl, ok := klogLevel(b); ok {
		end := bytes.IndexByte(b, ']')
		if end < 0 {
			end = 0
		}
		return lvl, kindText, i + end + 1
	}
	if lvl, end, ok := headerLevel(b); ok {
		return lvl, kindText, i + end
	}
	if bytes.HasPrefix(b, []byte("panic: ")) || bytes.HasPrefix(b, []byte("fatal error: ")) ||
		bytes.HasPrefix(b, []byte("Traceback (most recent call last)")) {
		return LevelError, kindText, i
	}
	return LevelNone, kindText, i
}

// levelWord maps a level name (any case) to a level.
func levelWord(w []byte) (Level, bool) {
	if len(w) < 3 || len(w) > 11 {
		return LevelNone, false
	}
	var buf [11]byte
	for i, c := range w {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(w)]) {
	case "error", "err", "fatal", "ftl", "critical", "crit", "panic", "alert", "emerg", "emergency", "severe", "eror":
		return LevelError, true
	case "warn", "warning", "wrn", "wrng":
		return LevelWarn, true
	case "info", "inf", "notice", "information":
		return LevelInfo, true
	case "debug", "dbg", "trace", "trc", "verbose":
		return LevelDebug, true
	}
	return LevelNone, false
}

// numericLevel maps pino/bunyan levels (10 trace … 60 fatal) and syslog
// severities (0 emergency … 7 debug).
func numericLevel(n int) Level {
	switch {
	case n >= 50:
		return LevelError
	case n >= 40:
		return LevelWarn
	case n >= 30:
		return LevelInfo
	case n >= 10:
		return LevelDebug
	case n <= 3:
		return LevelError
	case n == 4:
		return LevelWarn
	case n <= 6:
		return LevelInfo
	}
	return LevelDebug
}

// isLevelKey says whether a JSON or logfmt key names the level.
func isLevelKey(k []byte) bool {
	switch len(k) {
	case 3, 5, 8, 9:
	default:
		return false
	}
	var buf [9]byte
	for i, c := range k {
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		buf[i] = c
	}
	switch string(buf[:len(k)]) {
	case "level", "lvl", "severity", "levelname", "log.level":
		return true
	}
	return false
}

// jsonLevel finds the first level-named key of a JSON object (at any depth,
// so ECS's {"log":{"level":…}} works) without decoding the object.
func jsonLevel(b []byte) (Level, bool) {
	for i := 0; i < len(b); i++ {
		if b[i] != '"' {
			continue
		}
		start := i + 1
		j := start
		for j < len(b) && b[j] != '"' {
			if b[j] == '\\' {
				j++
			}
			j++
		}
		if j >= len(b) {
			return LevelNone, false
		}
		tok := b[start:j]
		k := j + 1
		for k < len(b) && (b[k] == ' ' || b[k] == '\t') {
			k++
		}
		if k < len(b) && b[k] == ':' && isLevelKey(tok) {
			k++
			for k < len(b) && (b[k] == ' ' || b[k] == '\t') {
				k++
			}
			if k < len(b) && b[k] == '"' {
				end := bytes.IndexByte(b[k+1:], '"')
				if end < 0 {
					return LevelNone, false
				}
				return levelWord(b[k+1 : k+1+end])
			}
			n, digits := 0, 0
			for k < len(b) && b[k] >= '0' && b[k] <= '9' && digits < 4 {
				n = n*10 + int(b[k]-'0')
				k++
				digits++
			}
			if digits > 0 {
				return numericLevel(n), true
			}
			return LevelNone, false
		}
		i = j
	}
	return LevelNone, false
}

// logfmtLevel finds level=, lvl= or severity= (value quoted or not) at the
// start of a key.
func logfmtLevel(b []byte) (Level, bool) {
	for off := 0; off < len(b); {
		j := bytes.IndexByte(b[off:], '=')
		if j < 0 {
			return LevelNone, false
		}
		eq := off + j
		ks := eq
		for ks > 0 && isKeyByte(b[ks-1]) {
			ks--
		}
		if ks < eq && (ks == 0 || b[ks-1] == ' ' || b[ks-1] == '\t') && isLevelKey(b[ks:eq]) {
			v := b[eq+1:]
			if len(v) > 0 && v[0] == '"' {
				v = v[1:]
			}
			e := 0
			for e < len(v) && isWordByte(v[e]) {
				e++
			}
			if lvl, ok := levelWord(v[:e]); ok {
				return lvl, true
			}
		}
		off = eq + 1
	}
	return LevelNone, false
}

func isKeyByte(c byte) bool {
	return isWordByte(c) || c == '.' || c == '_' || c == '-' || c == '@'
}

func isWordByte(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// klogLevel reads glog/klog's header: Lmmdd hh:mm:ss.uuuuuu (L one of IWEF).
func klogLevel(b []byte) (Level, bool) {
	if len(b) < 14 || b[5] != ' ' || b[8] != ':' || b[11] != ':' {
		return LevelNone, false
	}
	for _, p := range []int{1, 2, 3, 4, 6, 7, 9, 10, 12, 13} {
		if !isDigit(b[p]) {
			return LevelNone, false
		}
	}
	switch b[0] {
	case 'I':
		return LevelInfo, true
	case 'W':
		return LevelWarn, true
	case 'E', 'F':
		return LevelError, true
	}
	return LevelNone, false
}

// headerLevel scans the first words of a text line for a level: [level] or
// <level> in any case, LEVEL: or a bare upper-case LEVEL word, or level: at
// the very start in any case. Escape sequences (colored output) count as
// word breaks. It returns the offset after the token (and its closing
// bracket or colon).
func headerLevel(b []byte) (Level, int, bool) {
	n := len(b)
	if n > headerScan {
		n = headerScan
	}
	i := 0
	for i < n {
		c := b[i]
		if c == 0x1b { // skip a CSI sequence: ESC [ params letter
			i++
			if i < n && b[i] == '[' {
				i++
				for i < n && !((b[i] >= 'A' && b[i] <= 'Z') || (b[i] >= 'a' && b[i] <= 'z')) {
					i++
				}
			}
			i++
			continue
		}
		if !isLetter(c) {
			i++
			continue
		}
		start := i
		upper := true
		for i < n && isWordByte(b[i]) {
			if b[i] >= 'a' && b[i] <= 'z' {
				upper = false
			}
			i++
		}
		if i == n && n < len(b) && isWordByte(b[n]) {
			break // a word cut by the scan limit
		}
		w := b[start:i]
		lvl, ok := levelWord(w)
		if !ok {
			continue
		}
		var prev, next byte
		if start > 0 {
			prev = b[start-1]
		}
		if i < len(b) {
			next = b[i]
		}
		switch {
		case (prev == '[' && next == ']') || (prev == '<' && next == '>') || (prev == '(' && next == ')'):
			return lvl, i + 1, true
		case next == ':' && (upper || start == 0):
			return lvl, i + 1, true
		case upper && len(w) >= 4 && isBareBoundary(prev) && isBareBoundary(next):
			return lvl, i, true
		case upper && len(w) == 3 && (prev == ' ' || prev == '\t' || prev == 0 || prev == '|') && (next == ' ' || next == '\t' || next == '|' || next == '!'):
			// zerolog's console writer: "3:04PM ERR message"
			return lvl, i, true
		}
	}
	return LevelNone, 0, false
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// isBareBoundary is what may sit either side of a bare level word: the line's
// edge, blanks, punctuation used by log headers, or the end of a color code.
func isBareBoundary(c byte) bool {
	switch c {
	case 0, ' ', '\t', '|', '-', ':', ']', '[', '(', ')', ',', ';', 'm', 0x1b:
		return true
	}
	return false
}
