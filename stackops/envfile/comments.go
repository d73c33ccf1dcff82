package envfile

import (
	"fmt"
	"strings"
)

// Comment lines are the only part of a .env Compose ignores whole, which
// makes them the place for what stackpilot records about the file itself
// (the recipients of encrypted values: package envcrypt). A comment line
// is a line outside every statement whose first non-blank character is
// '#'; a '#' line inside a quoted multi-line value is part of that value,
// never a comment.

// CommentLine is one comment line.
type CommentLine struct {
	// Line is its 1-based line number.
	Line int
	// Text is the line without its terminator and surrounding blanks.
	Text string
}

// CommentLines returns the comment lines in file order.
func (d *Document) CommentLines() []CommentLine {
	var out []CommentLine
	d.eachFreeLine(func(n, start, end, _ int) {
		if t := strings.TrimSpace(d.src[start:end]); strings.HasPrefix(t, "#") {
			out = append(out, CommentLine{Line: n, Text: t})
		}
	})
	return out
}

// eachFreeLine calls fn with every line no statement covers: its number
// the byte range of its text (terminator excluded) and where the next line
// starts.
func (d *Document) eachFreeLine(fn func(n, start, end, next int)) {
	ls := d.lineStarts
	if ls == nil {
		ls = lineStartsOf(d.src)
	}
	r := 0
	for i, s := range ls {
		start := int(s)
		if start == len(d.src) && i > 0 {
			break // after a final newline: no line
		}
		for r < len(d.records) && int(d.records[r].end) <= start {
			r++
		}
		if r < len(d.records) && int(d.records[r].start) <= start {
			continue
		}
		end := len(d.src)
		if i+1 < len(ls) {
			end = int(ls[i+1])
		}
		text := strings.TrimSuffix(strings.TrimSuffix(d.src[start:end], "\n"), "\r")
		fn(i+1, start, start+len(text), end)
	}
}

// AddCommentLine inserts a comment line (text starting with '#', one line)
// after the last comment line keep accepts, or at the top of the file when
// none does, in the file's line ending.
func (d *Document) AddCommentLine(text string, after func(CommentLine) bool) error {
	if !strings.HasPrefix(text, "#") || strings.ContainsAny(text, "\r\n") {
		return fmt.Errorf("internal error: %q is not a one-line comment", text)
	}
	pos := 0
	d.eachFreeLine(func(n, start, end, next int) {
		if t := strings.TrimSpace(d.src[start:end]); strings.HasPrefix(t, "#") && after(CommentLine{Line: n, Text: t}) {
			pos = next
		}
	})
	eol := d.eol()
	ins := text + eol
	if pos == len(d.src) && pos > 0 && !strings.HasSuffix(d.src, "\n") {
		ins = eol + text // the file ended without a newline: keep it so
	}
	d.src = d.src[:pos] + ins + d.src[pos:]
	return d.rescan()
}

// RemoveCommentLines removes the comment lines drop accepts and reports how
// many it removed.
func (d *Document) RemoveCommentLines(drop func(CommentLine) bool) (int, error) {
	type span struct{ start, end int }
	var spans []span
	d.eachFreeLine(func(n, start, end, next int) {
		if t := strings.TrimSpace(d.src[start:end]); strings.HasPrefix(t, "#") && drop(CommentLine{Line: n, Text: t}) {
			if next > end && d.src[next-1] == '\n' {
				end = next // with its terminator
			} else if start > 0 {
				// the last line, without a newline: drop the one before it
				start--
				if start > 0 && d.src[start-1] == '\r' {
					start--
				}
			}
			spans = append(spans, span{start, end})
		}
	})
	if len(spans) == 0 {
		return 0, nil
	}
	var b strings.Builder
	pos := 0
	for _, s := range spans {
		s.start = max(s.start, pos) // two last lines removed together
		b.WriteString(d.src[pos:s.start])
		pos = s.end
	}
	b.WriteString(d.src[pos:])
	d.src = b.String()
	return len(spans), d.rescan()
}
