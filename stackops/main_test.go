package stackops

import (
	"os"
	"testing"
)

// TestMain gives this package's tests a cache directory of their own. The
// compose-model cache keeps its newest entries only (modelCacheKeep), and
// scripts/test.sh shares one STACKPILOT_CACHE_DIR between every package:
// with the wizard's integration tests writing entries alongside, a test that
// loads a project twice to see the second load come from the cache found its
// entry already pruned.
func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "stackops-cache-")
	if err != nil {
		panic(err)
	}
	os.Setenv("STACKPILOT_CACHE_DIR", dir)
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
