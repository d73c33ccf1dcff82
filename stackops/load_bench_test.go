package stackops

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bigCompose is a project of n services, each with the keys a real service
// has (image, command, environment with a default, labels, healthcheck,
// restart).
func bigCompose(n int) string {
	var b strings.Builder
	b.WriteString("services:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "  svc%03d:\n    image: stackpilot-busybox:latest\n    command: [\"sleep\", \"3600\"]\n    environment:\n      NAME: svc%03d\n      LEVEL: ${LEVEL:-info}\n    labels:\n      app: demo%d\n    healthcheck:\n      test: [\"CMD\", \"true\"]\n      interval: 5s\n    restart: unless-stopped\n", i, i, i)
	}
	return b.String()
}

// BenchmarkLoad200 is Load on 200 services with warm caches.
func BenchmarkLoad200(b *testing.B) {
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(bigCompose(200)), 0o644); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".env"), []byte("LEVEL=debug\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	b.Setenv("STACKPILOT_CACHE_DIR", b.TempDir())
	ctx := context.Background()
	for _, mode := range []string{"on", "off"} {
		b.Run("model-cache-"+mode, func(b *testing.B) {
			environ := []string{"PATH=/bin", ModelCacheEnvVar + "=" + mode}
			if _, err := Load(ctx, LoadOptions{WorkDir: dir, Environ: environ}); err != nil { // warm the caches
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				st, err := Load(ctx, LoadOptions{WorkDir: dir, Environ: environ})
				if err != nil {
					b.Fatal(err)
				}
				if st.modelCached != (mode == "on") {
					b.Fatalf("model from the cache: %v", st.modelCached)
				}
			}
		})
	}
}
