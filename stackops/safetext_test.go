package stackops

import (
	"strings"
	"testing"
)

func TestSafeText(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"db-data", "db-data"},
		{"notes 2026/01", "notes 2026/01"},
		{"café ü 日本", "café ü 日本"},
		{"ok\r\x1b[2Kharmless", `ok\r\x1b[2Kharmless`},
		{"a\nb\tc", `a\nb\tc`},
		{"bell\x07del\x7f", `bell\x07del\x7f`},
		{"c1 \u009b31m csi", `c1 \u009b31m csi`},
		{"rlo \u202etxt.exe", `rlo \u202etxt.exe`},
		{"iso \u2066x\u2069 lrm\u200e zw\u200b ls\u2028 bom\ufeff alm\u061c", `iso \u2066x\u2069 lrm\u200e zw\u200b ls\u2028 bom\ufeff alm\u061c`},
		{"bad \xff\xfe utf8", `bad \xff\xfe utf8`},
		{"", ""},
	} {
		got := SafeText(tc.in)
		if got != tc.want {
			t.Errorf("SafeText(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.ContainsAny(got, "\x1b\r\n\x07\u009b\u202e") {
			t.Errorf("SafeText(%q) still holds a control character: %q", tc.in, got)
		}
	}
	if got := SafeTexts([]string{"a\x1b", "b"}); len(got) != 2 || got[0] != `a\x1b` || got[1] != "b" {
		t.Errorf("SafeTexts: %q", got)
	}
	if SafeTexts(nil) != nil {
		t.Error("SafeTexts(nil) is not nil")
	}
}
