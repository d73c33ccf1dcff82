package stackops

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// SafeText makes a string that came from data (a backup archive, a file
// from another machine) safe to show on a terminal: every character a
// terminal or a text layout would act on instead of showing is written as an
// escape — C0 controls (\r, \n, \t, ESC as \x1b …), DEL, C1 controls
// (\u0080–\u009f, which some terminals take as CSI and OSC), the bidi
// overrides, embeddings, isolates and marks that can reorder what is shown
// (U+202A–U+202E, U+2066–U+2069, U+200E, U+200F, U+061C), zero-width and
// line/paragraph separators, and bytes that are not UTF-8 (\xNN). Anything
// else is kept as it is, so ordinary names read the same.
//
// It is the one function for this: the archive reader applies it to every
// string an archive supplies before the string leaves package backup (list,
// verify, the restore confirmation, errors and --json alike), so JSON output
// carries the escaped text too, never a raw ESC.
func SafeText(s string) string {
	if isPlainASCII(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case unsafeRune(r):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// SafeTexts applies SafeText to every element (a new slice; nil stays nil).
func SafeTexts(list []string) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, s := range list {
		out[i] = SafeText(s)
	}
	return out
}

func isPlainASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c >= 0x7f {
			return false
		}
	}
	return true
}

// unsafeRune reports the non-ASCII characters SafeText escapes.
func unsafeRune(r rune) bool {
	switch {
	case r >= 0x80 && r <= 0x9f: // C1 controls
		return true
	case r == 0x061c: // arabic letter mark
		return true
	case r >= 0x200b && r <= 0x200f: // zero-width space/joiners, LRM, RLM
		return true
	case r == 0x2028 || r == 0x2029: // line and paragraph separators
		return true
	case r >= 0x202a && r <= 0x202e: // bidi embeddings and overrides
		return true
	case r >= 0x2060 && r <= 0x2069: // word joiner, invisible operators, bidi isolates
		return true
	case r == 0xfeff: // zero-width no-break space
		return true
	}
	return false
}
