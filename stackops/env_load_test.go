package stackops

import (
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
)

func TestNormalizeProjectNameAgreesWithComposeGo(t *testing.T) {
	for _, s := range []string{"", "demo", "My App", "__x--y__", "-_a", "Shop.2024", "über-Stack", "\u212Aelvin", "İstanbul", "a b\tc\nd", "UPPER_lower-09", "..", "日本"} {
		if got, want := normalizeProjectName(s), loader.NormalizeProjectName(s); got != want {
			t.Errorf("normalizeProjectName(%q) = %q, compose-go says %q", s, got, want)
		}
	}
}
